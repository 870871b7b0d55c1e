"""``pack`` / ``unpack`` (the form cases and transfers take at rest) give back the record
packed, for any record a state can hold: nested tuples of ints of any size, strings of
any characters, floats, booleans (kept apart from 0 and 1) and None."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.core.state import pack, unpack

ATOMS = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
RECORDS = st.recursive(ATOMS, lambda inner: st.lists(inner, max_size=6).map(tuple), max_leaves=40)


def _typed(rec: Any) -> Any:
    """The record with each atom's type beside it, so ``True`` and ``1`` differ."""
    if isinstance(rec, tuple):
        return tuple(_typed(x) for x in rec)
    return (type(rec), rec)


@given(st.lists(RECORDS, max_size=14).map(tuple))
def test_unpack_gives_back_the_record_packed(rec: tuple[Any, ...]) -> None:
    assert _typed(unpack(pack(rec))) == _typed(rec)
