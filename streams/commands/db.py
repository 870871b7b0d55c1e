"""`tierflow db migrate`: create a database and bring its tables up to date."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.config.settings import load_settings

db_app = typer.Typer(help="The ClickHouse schema of the command view.", no_args_is_help=True)


@db_app.command("migrate")
def migrate_command(
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database to migrate (default: the settings' one)."),
    ] = None,
    on_cluster: Annotated[
        str | None,
        typer.Option(
            "--on-cluster",
            help="Run the DDL ON CLUSTER NAME with Replicated engines (a ClickHouse cluster).",
        ),
    ] = None,
    print_sql: Annotated[
        bool, typer.Option("--print-sql", help="Print the DDL that would run; change nothing.")
    ] = False,
) -> None:
    """Create the database and its exercise database (drills) if needed and apply the
    migrations they have not seen, as the migrator user; running it again changes nothing.
    A review gets its own database: `--database review_0301`."""
    # Imported here so `tierflow --help` does not load clickhouse-connect.
    from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

    from sinks.client import connect
    from sinks.errors import SinkError
    from sinks.migrate import ddl, load_migrations, migrate
    from sinks.namespaces import namespace_databases

    settings = load_settings()
    names = list(namespace_databases(database or settings.clickhouse_database).values())
    if print_sql:
        for name in names:
            for migration in load_migrations():
                typer.echo(f"-- {migration.version:04d}_{migration.name} (database {name})")
                for statement in migration.statements():
                    typer.echo(ddl(statement, on_cluster) + ";\n")
        return
    try:
        admin = connect(settings, "", login="migrator")
        try:
            applied = {name: migrate(admin, name, on_cluster) for name in names}
        finally:
            admin.close()
    except OperationalError:
        typer.echo(
            f"tierflow db migrate: cannot reach ClickHouse at {settings.clickhouse_url}"
            " (is the stack up? `tierflow stack up`)",
            err=True,
        )
        raise typer.Exit(1) from None
    except (SinkError, ClickHouseError) as exc:
        typer.echo(f"tierflow db migrate: {exc}", err=True)
        raise typer.Exit(1) from None
    for name, done in applied.items():
        if not done:
            typer.echo(f"{name}: up to date")
        for migration in done:
            typer.echo(f"{name}: applied {migration.version:04d}_{migration.name}")
