"""The root of every error tierflow raises on purpose.

Each package defines its own errors below :class:`TierflowError`, so a caller can catch
one module's failures (``RulebookError``, ``StackError``, ``SinkError`` …) or all of ours.
"""


class TierflowError(Exception):
    """Root of tierflow's own exceptions."""


class CodecError(TierflowError):
    """A record could not be encoded to the wire format."""
