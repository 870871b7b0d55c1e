"""`tierflow topics` and `tierflow publish` (placeholder, being built)."""

import typer

topics_app = typer.Typer(help="topics", no_args_is_help=True)


def publish() -> None:
    """Publish a JSONL file."""
