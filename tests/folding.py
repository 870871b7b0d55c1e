"""Folding a test's events through the core one at a time."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from streams.core import initial_state, step_many
from streams.core.rulebook import Rulebook


def fold_each(events: Sequence[Any], rules: Rulebook, jurisdiction: str = "5101") -> list[Any]:
    """The outputs of folding ``events`` one a batch: every intermediate state is visited."""
    state = initial_state(jurisdiction)
    got: list[Any] = []
    for event in events:
        state, out = step_many(state, [event], rules)
        got += out
    return got


def fold_shuffled(events: Sequence[Any], rules: Rulebook, seed: int) -> list[Any]:
    """:func:`fold_each` of ``events`` in an order ``seed`` shuffles them into."""
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    return fold_each(shuffled, rules)
