"""Tier-timeline diff against hand-written timelines."""

from datetime import UTC, datetime, timedelta

from streams.replay.diff import TierChange, decision_latency, diff_timelines

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def change(
    incident: str, hours: float, tier: str | None, decided: float | None = None
) -> TierChange:
    decided_at = T0 + timedelta(hours=decided) if decided is not None else None
    return TierChange(incident, T0 + timedelta(hours=hours), tier, ("r",), decided_at)


def test_earlier_later_missing_extra_same() -> None:
    reference = [
        change("a", 0, "IV"),
        change("a", 10, "III"),
        change("a", 50, "II"),
        change("b", 5, "IV"),
    ]
    review = [
        change("a", 0, "IV"),
        change("a", 8, "III"),
        change("a", 60, "II"),
        change("c", 1, "IV"),
    ]
    got = {(d.incident_id, d.tier): (d.verdict, d.shift) for d in diff_timelines(review, reference)}
    assert got == {
        ("a", "IV"): ("same", timedelta(0)),
        ("a", "III"): ("earlier", timedelta(hours=-2)),
        ("a", "II"): ("later", timedelta(hours=10)),
        ("b", "IV"): ("missing", None),
        ("c", "IV"): ("extra", None),
    }


def test_repeated_tiers_match_by_occurrence() -> None:
    reference = [change("a", 0, "III"), change("a", 5, None), change("a", 20, "III")]
    review = [change("a", 0, "III"), change("a", 7, None), change("a", 30, "III")]
    verdicts = [(d.tier, d.occurrence, d.verdict) for d in diff_timelines(review, reference)]
    assert verdicts == [("III", 1, "same"), (None, 1, "later"), ("III", 2, "later")]


def test_decision_latency() -> None:
    assert decision_latency(change("a", 1, "II", decided=1.5)) == timedelta(minutes=30)
    assert decision_latency(change("a", 1, "II")) is None
