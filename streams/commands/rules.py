"""`tierflow rules` commands (placeholder, being built)."""

import typer

rules_app = typer.Typer(help="rules", no_args_is_help=True)
