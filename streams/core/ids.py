"""Deterministic identifiers: uuid5 of content, so a replay names things as the live run did."""

from __future__ import annotations

import uuid
from hashlib import sha1

TIERFLOW_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://tierflow.invalid/ids/v1")
_NS_BYTES = TIERFLOW_NS.bytes
# RFC 4122 version 5: the version nibble and the variant bits, set on the sha1 prefix
_CLEAR = ~((0xF << 76) | (0x3 << 62))
_SET = (0x5 << 76) | (0x2 << 62)


def content_id(*parts: object) -> str:
    """uuid5 (as text) of the parts joined with ``|``: ``str(uuid.uuid5(TIERFLOW_NS, name))``,
    computed without building UUID objects (it is on the hot path)."""
    name = "|".join([str(part) for part in parts]).encode()
    digest = sha1(_NS_BYTES + name).digest()
    h = f"{(int.from_bytes(digest[:16]) & _CLEAR) | _SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
