"""The registry of agencies and their signing keys: data the worker and replays load.

One JSON file (``settings.agency_registry()``: ``<stack home>/agencies.json`` unless set;
mode 0600, never in git), written by ``tierflow agency`` (streams/ops/agencies.py).
Revoked keys stay in it: replays verify the records signed before the revocation.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from topics.errors import TierflowError
from topics.signing import KeyRing, SigningKey
from topics.vocabulary import AgencyType, AreaCode

AGENCY_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
# Principals tierflow keeps for itself: an agency may not take their names.
RESERVED = frozenset({"admin", "worker", "ANONYMOUS"})


class AgencyError(TierflowError):
    """A registry or key file that cannot be used, or an agency command that cannot be
    carried out (one line, with the next step)."""


class Agency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_id: str = Field(pattern=AGENCY_ID)
    agency_type: AgencyType
    name: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None
    jurisdiction: AreaCode | None = None  # where it may declare a tier (None: anywhere)


class Registry(BaseModel):
    """Agencies by id and every key ever issued (revoked ones stay: replays verify the
    records signed before the revocation)."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    agencies: dict[str, Agency] = Field(default_factory=dict)
    keys: list[SigningKey] = Field(default_factory=list)

    def keyring(self) -> KeyRing:
        return KeyRing(self.keys)

    def keys_of(self, agency_id: str) -> list[SigningKey]:
        return [key for key in self.keys if key.agency_id == agency_id]


def load_registry(path: Path) -> Registry:
    """The registry at ``path`` (empty when there is none yet)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Registry()
    try:
        return Registry.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise AgencyError(f"{path}: {where}: {first['msg']}") from exc


def save_registry(path: Path, registry: Registry) -> None:
    """Write the registry atomically, readable by its owner only."""
    data = registry.model_dump(mode="json")
    for key, model in zip(data["keys"], registry.keys, strict=True):
        key["secret"] = model.secret.get_secret_value()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".agencies.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_key_file(out: Path, key: SigningKey) -> Path:
    """``OUT/<agency>.key``: one line, ``<key id> <64 hex>`` (mode 0600)."""
    path = out / f"{key.agency_id}.key"
    write_private(path, f"{key.kid} {key.secret.get_secret_value()}\n")
    return path


def read_key_file(path: Path) -> tuple[str, bytes]:
    """``(key id, key bytes)`` from a key file."""
    try:
        kid, hex_key = path.read_text().split()
        return kid, bytes.fromhex(hex_key)
    except (OSError, ValueError) as exc:
        raise AgencyError(
            f"{path}: not a key file (one line: <key id> <64 hex>): {exc}; "
            "`tierflow agency add` or `rotate` writes one"
        ) from exc


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


class KeyRingFile:
    """The registry file's key ring, read again whenever the file changes (a worker keeps
    running while agencies are added, rotated and revoked)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._ring = KeyRing(())

    def current(self) -> KeyRing:
        """The ring as the file now is; AgencyError (the previous ring is kept) when the
        file cannot be read."""
        try:
            stat = self.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = (0, 0)
        if seen != self._seen:
            self._ring = load_registry(self.path).keyring()
            self._seen = seen
        return self._ring
