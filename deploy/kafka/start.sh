#!/bin/sh
# A tierflow Kafka node (broker + KRaft controller), secured as the local stack is
# (streams/ops/stack_kafka.py): SASL/SCRAM-SHA-512 on the BROKER and EXTERNAL listeners
# (SASL_PLAINTEXT, or SASL_SSL with KAFKA_SECURITY_PROTOCOL=SASL_SSL and the PEM files
# mounted at /etc/kafka/tls), SASL/PLAIN with the admin alone on the CONTROLLER listener,
# the StandardAuthorizer with allow.everyone.if.no.acl.found=false and the admin a super
# user. The admin's and the worker's SCRAM credentials are created when the storage is
# formatted (first start). Every secret comes from the environment; none has a default.
set -eu
: "${KAFKA_NODE_ID:?}" "${CLUSTER_ID:?}" "${KAFKA_VOTERS:?}" "${KAFKA_ADVERTISED_LISTENERS:?}"
: "${KAFKA_ADMIN_USERNAME:?}" "${KAFKA_ADMIN_PASSWORD:?export TIERFLOW_KAFKA_ADMIN_PASSWORD}"
: "${KAFKA_WORKER_USERNAME:?}" "${KAFKA_WORKER_PASSWORD:?export TIERFLOW_KAFKA_PASSWORD}"
PROTOCOL="${KAFKA_SECURITY_PROTOCOL:-SASL_PLAINTEXT}"
case "$PROTOCOL" in SASL_PLAINTEXT|SASL_SSL) ;; *) echo "KAFKA_SECURITY_PROTOCOL: SASL_PLAINTEXT or SASL_SSL" >&2; exit 2;; esac
RF="${KAFKA_REPLICATION_FACTOR:-1}"
MIN_ISR="${KAFKA_MIN_INSYNC_REPLICAS:-1}"
KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"  # the image's; a test points it at stubs
DATA="${KAFKA_DATA_DIR:-/var/lib/kafka/data}"
CONF="${KAFKA_CONF_DIR:-/tmp/tierflow-kafka}"
umask 077
mkdir -p "$CONF"

SCRAM="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$KAFKA_ADMIN_USERNAME\" password=\"$KAFKA_ADMIN_PASSWORD\";"
PLAIN="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$KAFKA_ADMIN_USERNAME\" password=\"$KAFKA_ADMIN_PASSWORD\" user_$KAFKA_ADMIN_USERNAME=\"$KAFKA_ADMIN_PASSWORD\";"
cat > "$CONF/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_VOTERS
listeners=BROKER://:9092,CONTROLLER://:9093,EXTERNAL://:29092
advertised.listeners=$KAFKA_ADVERTISED_LISTENERS
controller.listener.names=CONTROLLER
inter.broker.listener.name=BROKER
listener.security.protocol.map=BROKER:$PROTOCOL,EXTERNAL:$PROTOCOL,CONTROLLER:$PROTOCOL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.broker.scram-sha-512.sasl.jaas.config=$SCRAM
listener.name.external.scram-sha-512.sasl.jaas.config=$SCRAM
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$PLAIN
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$KAFKA_ADMIN_USERNAME
log.dirs=$DATA
auto.create.topics.enable=false
offsets.topic.replication.factor=$RF
transaction.state.log.replication.factor=$RF
transaction.state.log.min.isr=$MIN_ISR
share.coordinator.state.topic.replication.factor=$RF
share.coordinator.state.topic.min.isr=$MIN_ISR
min.insync.replicas=$MIN_ISR
group.initial.rebalance.delay.ms=3000
PROPERTIES

# What the healthcheck's client speaks (as the admin).
cat > "$CONF/admin.properties" <<PROPERTIES
security.protocol=$PROTOCOL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$SCRAM
PROPERTIES

if [ "$PROTOCOL" = SASL_SSL ]; then
  # /etc/kafka/tls/node.pem: this node's key (unencrypted) and certificate chain;
  # /etc/kafka/tls/ca.pem: the CA that signed every node's certificate.
  for file in "$CONF/server.properties" "$CONF/admin.properties"; do
    cat >> "$file" <<PROPERTIES
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/tls/ca.pem
PROPERTIES
  done
  cat >> "$CONF/server.properties" <<PROPERTIES
ssl.keystore.type=PEM
ssl.keystore.location=/etc/kafka/tls/node.pem
PROPERTIES
fi

if [ ! -f "$DATA/meta.properties" ]; then
  # SCRAM credentials live in the metadata log: they are created with it.
  "$KAFKA_HOME/bin/kafka-storage.sh" format -t "$CLUSTER_ID" -c "$CONF/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_ADMIN_USERNAME,password=$KAFKA_ADMIN_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_WORKER_USERNAME,password=$KAFKA_WORKER_PASSWORD]"
fi
exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONF/server.properties"
