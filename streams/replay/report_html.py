"""Rendering of the after-action report (:class:`streams.replay.report.ReviewReport`) as
one HTML document: inline CSS and SVG, no scripts, nothing fetched when it is opened."""

from __future__ import annotations

from collections.abc import Sequence

from streams.replay.diff import decision_latency, format_shift
from streams.replay.report import (
    ChangeRow,
    CoverSeries,
    DiffSection,
    IncidentSection,
    LogisticsAlert,
    ReviewReport,
    TaskRow,
    TransferRow,
)
from streams.replay.report_charts import Step, cover_curve_svg, tier_timeline_svg, time_range
from streams.replay.report_style import CSS, Html, esc, table
from streams.replay.report_summary import Summary


def _evidence(change: ChangeRow) -> str:
    return ", ".join(f"{esc(k)} = {v:g}" for k, v in sorted(change.evidence.items())) or "-"


def _ack(task: TaskRow, h: Html) -> str:
    if task.acked_at is None:
        if task.state == "overdue":
            return f'<span class="late">not acked, overdue since {h.at(task.due_at)}</span>'
        return '<span class="muted">not acked, not yet due</span>'
    late = task.late_by
    if late is None:
        return f'<span class="ok">acked {h.at(task.acked_at)}, in time</span>'
    return f'<span class="late">acked {h.at(task.acked_at)}, {format_shift(late)} late</span>'


def _incident_html(section: IncidentSection, report: ReviewReport, h: Html) -> str:
    instants = [c.effective_at for c in (*section.changes, *(section.reference_changes or []))]
    instants += [t.due_at for t in section.tasks] + [
        t.acked_at for t in section.tasks if t.acked_at
    ]
    title = section.name
    headline = f"{esc(section.headline)} · " if section.headline else ""
    out = [
        f'<h2 id="{esc(section.incident_id)}">{esc(title)}</h2>',
        f'<p class="muted">{headline}incident {esc(section.incident_id)} · jurisdiction '
        f"{esc(section.jurisdiction)} · {esc(section.category)}</p>",
    ]
    if instants:
        start, end = time_range(instants)
        steps = [Step(c.effective_at, c.tier) for c in section.changes]
        ref = section.reference_changes
        reference_steps = [Step(c.effective_at, c.tier) for c in ref] if ref else None
        out.append(
            tier_timeline_svg(
                steps,
                report.lanes,
                start,
                end,
                tz=report.tz,
                reference=reference_steps,
                title=f"tier timeline of {title}",
            )
        )
        if reference_steps is not None and report.diff:
            out.append(
                f'<p class="muted">bars: review {esc(report.name)}; dashed line: '
                f"{esc(report.diff.against)}</p>"
            )
    out.append("<h3>Tier changes and their evidence</h3>")
    out.append(
        table(
            ("effective at", "from", "to", "rules", "evidence"),
            (
                (
                    h.at(c.effective_at),
                    h.tier(c.previous_tier),
                    h.tier(c.tier),
                    esc(", ".join(c.rule_ids) or "-"),
                    _evidence(c),
                )
                for c in section.changes
            ),
        )
        if section.changes
        else '<p class="muted">no tier change in this review</p>'
    )
    out.append(_declarations_html(section, h))
    if section.tasks:
        out.append("<h3>Tasks</h3>")
        out.append(
            table(
                ("tier", "agency", "action", "issued", "due", "acknowledgement"),
                (
                    (
                        h.tier(t.tier),
                        esc(t.agency_type),
                        esc(t.action),
                        h.at(t.issued_at),
                        h.at(t.due_at),
                        _ack(t, h),
                    )
                    for t in section.tasks
                ),
            )
        )
    out.append(_logistics_html(section.transfers, section.alerts, h))
    return "".join(out)


def _declarations_html(section: IncidentSection, h: Html) -> str:
    """Who declared which tier when, and how long after the rules recommended it."""
    if not section.declarations:
        return '<h3>Declarations</h3><p class="muted">no tier declared in this review</p>'
    return "<h3>Declarations and decision lags</h3>" + table(
        ("declared at", "from", "to", "by", "reason", "decision lag"),
        (
            (
                h.at(d.declared_at),
                h.tier(d.previous_tier),
                h.tier(d.tier),
                esc(d.declared_by or "-"),
                esc(d.reason or "-"),
                esc(format_shift(d.lag)) if d.lag is not None else "not recommended before",
            )
            for d in section.declarations
        ),
    )


def _logistics_html(
    transfers: Sequence[TransferRow], alerts: Sequence[LogisticsAlert], h: Html
) -> str:
    out = []
    if transfers:
        out.append("<h3>Transfers</h3>")
        out.append(
            table(
                ("transfer", "triage", "from", "to", "bed", "last state", "at", "eta"),
                (
                    (
                        esc(t.transfer_id),
                        esc(t.triage),
                        esc(t.from_facility),
                        esc(t.to_facility),
                        esc(t.required_bed),
                        esc(t.status),
                        h.at(t.occurred_at),
                        h.at(t.eta),
                    )
                    for t in transfers
                ),
            )
        )
    if alerts:
        out.append("<h3>Redirects and delays</h3>")
        out.append(
            table(
                ("at", "kind", "level", "subject", "message"),
                (
                    (h.at(a.at), esc(a.kind), esc(a.level), esc(a.subject_id), esc(a.message))
                    for a in alerts
                ),
            )
        )
    return "".join(out)


def _stock_html(report: ReviewReport) -> str:
    if not report.stock:
        return '<p class="muted">no stock with a days-of-cover figure</p>'
    charts = [
        f"<div><h3>{esc(s.site_id)} · {esc(s.item)}</h3>{_full_load_line(s)}"
        + cover_curve_svg(
            s.points, report.target_days, report.tz, f"days of cover, {s.site_id} {s.item}"
        )
        + "</div>"
        for s in report.stock
    ]
    return f'<div class="grid">{"".join(charts)}</div>'


def _full_load_line(series: CoverSeries) -> str:
    if series.full_load is None:
        return ""
    return f'<p class="muted">at full load (every bed occupied): {series.full_load:.1f} days</p>'


def _forecasts_html(report: ReviewReport, h: Html) -> str:
    """Each capacity_forecast beside when the jurisdiction's ICU beds did run out."""
    if not report.forecasts:
        return '<p class="muted">no capacity_forecast in this review</p>'
    names = {section.incident_id: section.name for section in report.incidents}
    head = ["made at", "incident", "inputs", "ICU full, forecast", "ICU full, actual", "check"]
    rows = (
        (
            h.at(f.made_at),
            esc(names.get(f.incident_id, f.incident_id)),
            esc(f"{f.critical:g} critical, doubling {f.doubling_days:g} d, {f.icu_free:g} free"),
            h.at(f.projected_at),
            h.at(f.full_at),
            esc(f.verdict),
        )
        for f in report.forecasts
    )
    return table(head, rows)


def _diff_html(diff: DiffSection, report: ReviewReport, h: Html) -> str:
    """Only the tier changes that differ; the same ones are counted."""
    names = {section.incident_id: section.name for section in report.incidents}
    differ = [d for d in diff.rows if d.verdict != "same"]
    head = [
        "incident",
        "tier",
        "verdict",
        "shift",
        f"review {report.name}",
        diff.against,
        f"rules (review / {diff.against})",
    ]
    if diff.latency_shown:
        head.append("live decision latency")
    rows = []
    for d in differ:
        row = [
            esc(names.get(d.incident_id, d.incident_id)),
            h.tier(d.tier),
            esc(d.verdict),
            esc(format_shift(d.shift)),
            h.at(d.review.effective_at if d.review else None),
            h.at(d.reference.effective_at if d.reference else None),
            esc(
                f"{','.join(d.review.rule_ids) if d.review else '-'} / "
                f"{','.join(d.reference.rule_ids) if d.reference else '-'}"
            ),
        ]
        if diff.latency_shown:
            latency = decision_latency(d.reference) if d.reference else None
            row.append(esc(format_shift(latency)))
        rows.append(row)
    same = len(diff.rows) - len(differ)
    summary = (
        f"<p>{len(diff.rows)} tier changes: {len(differ)} differ, {same} the same "
        f"(the same ones are not listed)</p>"
    )
    if not differ:
        return summary
    latency_note = (
        ""
        if diff.latency_shown
        else f'<p class="muted">live decision latency: {esc(report.summary.latency.why_not)}</p>'
    )
    return summary + table(head, rows) + latency_note


def _summary_html(report: ReviewReport, h: Html) -> str:
    """The figures a chief reads first, then one line per incident."""
    summary = report.summary
    peak = (
        f"{h.tier(summary.peak)} — {esc(', '.join(summary.peak_incidents))}"
        if summary.peak
        else "no incident reached a tier"
    )
    latency = summary.latency
    lag = (
        f"median {format_shift(latency.median)}, worst {format_shift(latency.worst)} over "
        f"{latency.decisions} decisions"
        if latency.median is not None
        else esc(latency.why_not)
    )
    facts = [
        ("event time range", f"{h.at(summary.start)} – {h.at(summary.end)}"),
        ("incidents", f"{len(summary.incidents)}, {summary.tiered} reached a tier"),
        ("peak tier", peak),
        (
            "tasks",
            f"{summary.tasks} issued · {summary.late} acked late · "
            f'<span class="{"late" if summary.unacked else "ok"}">{summary.unacked} '
            "overdue, never acked</span>",
        ),
        ("live decision latency", lag),
        ("decision lag (recommended → declared)", _decision_lag(summary)),
    ]
    if summary.differ is not None and report.diff is not None:
        facts.append(
            (
                f"against {esc(report.diff.against)}",
                f"{summary.differ} of {summary.differ + (summary.same or 0)} tier changes "
                f"differ, {summary.same} the same",
            )
        )
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    lines = table(
        ("incident", "peak tier", "first tier at", "last change", "tasks", "acked late",
         "overdue, never acked"),
        (
            (
                f'<a href="#{esc(line.incident_id)}">{esc(line.name)}</a>',
                h.tier(line.peak) if line.peak else '<span class="muted">none</span>',
                h.at(line.first_at),
                f"{h.tier(line.latest[1])} {h.at(line.latest[0])}" if line.latest else "-",
                str(line.tasks),
                str(line.late),
                f'<span class="late">{line.unacked}</span>' if line.unacked else "0",
            )
            for line in summary.incidents
        ),
    )  # fmt: skip
    return f'<h2>Summary</h2><table class="summary">{rows}</table>{lines}'


def _decision_lag(summary: Summary) -> str:
    lags = summary.decision
    if not lags.declarations:
        return '<span class="muted">no tier was declared</span>'
    if lags.median is None:
        return f"{lags.declarations} declarations, none of a tier the rules had recommended"
    ahead = (
        f", {lags.without_recommendation} ahead of the rules" if lags.without_recommendation else ""
    )
    return (
        f"median {esc(format_shift(lags.median))}, worst {esc(format_shift(lags.worst))} "
        f"over {lags.declarations} declarations{ahead}"
    )


def render_report(report: ReviewReport) -> str:
    """The report as one HTML document: inline CSS and SVG only (opens offline)."""
    h = Html(report)
    legend = "".join(f"<span>{h.tier(lane.tier)}</span>" for lane in report.lanes)
    versions = ", ".join(report.rulebook_versions) or "-"
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>After-action review {esc(report.name)}</title><style>{CSS}</style>",
        "</head><body>",
        f"<h1>After-action review {esc(report.name)}</h1>",
        f'<p class="muted">database {esc(report.database)} · rulebook {esc(versions)} · '
        f"times in {esc(h.zone_label(report.summary.start))}</p>",
        f'<p class="legend">{legend}</p>',
        _summary_html(report, h),
    ]
    if not report.incidents:
        parts.append('<p class="muted">no incident in this review</p>')
    parts.extend(_incident_html(s, report, h) for s in report.incidents)
    if report.unlinked_transfers or report.unlinked_alerts:
        parts.append("<h2>Transfers and redirects outside any incident</h2>")
        parts.append(_logistics_html(report.unlinked_transfers, report.unlinked_alerts, h))
    parts.append(f"<h2>Stock: days of cover against the {report.target_days:g}-day target</h2>")
    parts.append(_stock_html(report))
    parts.append("<h2>Forecasts against what happened</h2>")
    parts.append(_forecasts_html(report, h))
    if report.diff is not None:
        parts.append(f"<h2>Diff against {esc(report.diff.against)}</h2>")
        parts.append(_diff_html(report.diff, report, h))
    parts.append("</body></html>")
    return "".join(parts)
