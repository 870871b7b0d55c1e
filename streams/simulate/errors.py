"""Errors of the scenario generator."""

from topics.errors import TierflowError


class SimulateError(TierflowError):
    """A scenario cannot be generated as asked (unknown name, bad parameter)."""
