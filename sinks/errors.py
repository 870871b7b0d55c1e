"""The sink's errors, all below :class:`topics.errors.TierflowError`."""

from __future__ import annotations

from topics.errors import TierflowError


class SinkError(TierflowError):
    """Landing rows failed in a way that retrying will not fix (schema, bad row, config)."""


class SinkUnavailable(SinkError):
    """The store did not take a batch this time (unreachable, overloaded); worth retrying."""


class SinkBackpressure(SinkError):
    """The sink cannot take more rows now: its buffer is full, or the store stayed
    unavailable past the retry budget. Nothing was dropped: rows already accepted stay
    buffered; rows passed to the ``write`` that raised this were *not* accepted and are
    still the caller's. Pause consumption and try again later."""


class MigrationError(SinkError):
    """A schema migration could not be applied, or an applied one was changed."""


class PrivacyViolation(SinkError):
    """A row would have put personal data (a name, a raw national id) into a table."""
