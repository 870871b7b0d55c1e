"""`tierflow db` commands (placeholder, being built)."""

import typer

db_app = typer.Typer(help="db", no_args_is_help=True)
