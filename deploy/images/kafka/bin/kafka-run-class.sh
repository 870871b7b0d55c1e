#!/bin/sh
# Runs a class of the Kafka jars, as the distribution's script of the same name does
# (KAFKA_HEAP_OPTS, KAFKA_OPTS as there).
exec java ${KAFKA_HEAP_OPTS:--Xmx1G} ${KAFKA_OPTS:-} -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp '/opt/kafka/libs/*' "$@"
