"""`tierflow simulate` (placeholder, being built)."""


def simulate() -> None:
    """Generate a scenario."""
