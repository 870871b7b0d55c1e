"""How a process runs: its settings from the environment (``TIERFLOW_*``: addresses,
ports, logins, worker knobs) and the Kafka clients' security options built from them.
Every process reads them, the sinks included; ``topics`` (what flows) and the core
(what is decided) never do."""
