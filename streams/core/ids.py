"""Deterministic identifiers: uuid5 of content, so a replay names things as the live run did."""

from __future__ import annotations

import uuid

TIERFLOW_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://tierflow.invalid/ids/v1")


def content_id(*parts: object) -> str:
    """uuid5 (as text) of the parts joined with ``|``."""
    return str(uuid.uuid5(TIERFLOW_NS, "|".join(str(part) for part in parts)))
