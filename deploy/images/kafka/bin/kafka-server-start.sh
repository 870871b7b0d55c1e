#!/bin/sh
# The distribution's kafka-server-start.sh; KAFKA_SERVER_OPTS: JVM options for the broker
# alone (the JMX exporter agent, which must not start again in every admin tool).
export KAFKA_OPTS="${KAFKA_OPTS:-} ${KAFKA_SERVER_OPTS:-}"
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
