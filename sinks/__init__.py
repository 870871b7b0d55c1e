"""Where it lands: ClickHouse (clickhouse-connect over HTTP).

- ``sinks.client``: clients from settings, ``fetch_rows`` for readers;
- ``sinks.migrate`` + ``sinks/migrations/*.sql``: versioned schema (``tierflow db migrate``);
- ``sinks.tables`` / ``sinks.columns``: which model lands in which table, rows derived
  generically from the models;
- ``sinks.writer``: the batched, idempotent, bounded writer (``Sink``) over a store:
  ``sinks.clickhouse.ClickHouseSink`` or its twin ``sinks.memory.InMemorySink``.
"""
