"""The transport-free stages both shells run: the decide stage (:mod:`.decide`), the
roll-up stages (:mod:`.rollup_stage`), the landing's table routing (:mod:`.landing_plan`),
the clock written into the log (:mod:`.ticks`) and where records go (:mod:`.topology`).

No Faust, no Kafka client, no ClickHouse client: the live shell (:mod:`streams.live`) feeds
them consumed records and produces what they return, the replay shell
(:mod:`streams.replay`) feeds them recorded input and lands what they return. What a shell
counts (Prometheus in the live worker) it learns through a :class:`.observer.StageObserver`.
"""
