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


class SinkRejected(SinkError):
    """The store refused these rows for what they hold (a value out of its column's range
    or type, personal data, columns that do not match the table): sending them again fails
    again, while other rows still land. The caller isolates the refused rows (e.g. dead-
    letters them); the rest of the stream moves on."""


class MigrationError(SinkError):
    """A schema migration could not be applied, or an applied one was changed."""


class PrivacyViolation(SinkRejected):
    """A row would have put personal data (a name, a raw national id) into a table."""
