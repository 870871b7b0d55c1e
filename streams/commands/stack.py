"""`tierflow stack` commands (placeholder, being built)."""

import typer

stack_app = typer.Typer(help="stack", no_args_is_help=True)
