"""What the stages report as they go, for a shell to count: the live worker passes its
Prometheus metrics (:mod:`streams.live.metrics`), a replay :data:`QUIET`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from topics.outputs import Rejection


class StageObserver(Protocol):
    """The callbacks of the decide, roll-up and landing stages."""

    def count_consumed(self, tally: Counter[tuple[str, str, str, str]]) -> None:
        """Input records decoded, per (topic, kind, agency type, agency id)."""

    def count_outputs(self, topics: Iterable[str]) -> None:
        """One topic per record emitted."""

    def count_rejected(self, tally: Counter[tuple[str, str]]) -> None:
        """Records rejected, per (topic, :func:`reason_class`)."""

    def count_escalation(self, tier: str, status: str) -> None:
        """One escalation decided (tier ``none``: stood down)."""

    def set_event_time_lag(self, topic: str, seconds: float) -> None:
        """How far the newest Actual event time of a batch's ``topic`` lags the wall clock."""


class _Quiet:
    """Counts nothing."""

    def count_consumed(self, tally: Counter[tuple[str, str, str, str]]) -> None:
        pass

    def count_outputs(self, topics: Iterable[str]) -> None:
        pass

    def count_rejected(self, tally: Counter[tuple[str, str]]) -> None:
        pass

    def count_escalation(self, tier: str, status: str) -> None:
        pass

    def set_event_time_lag(self, topic: str, seconds: float) -> None:
        pass


QUIET: StageObserver = _Quiet()


def reason_class(rejection: Rejection) -> str:
    """A bounded label for a rejection: its reason up to the first value it quotes
    (``missing required field``, ``bad region code``, ``not JSON`` …)."""
    text = rejection.reason
    for stop in (":", "(", "'", '"'):
        cut = text.find(stop)
        if cut > 0:
            text = text[:cut]
    return text.strip()
