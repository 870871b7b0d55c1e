#!/usr/bin/env bash
# `make deploy-images`: the images deploy/docker-compose.yml runs, built here where no image
# registry is reachable (deploy/README.md): a Debian base made with debootstrap from the
# machine's apt mirror, then, on it, Python 3.11 and the tierflow image, Kafka from the Maven
# jars, the chdb ClickHouse server, Prometheus from Debian's package. The names are
# deploy/images/local.env's. Builds use the host's network (apt, pip, Maven).
# Settings: DEBIAN_MIRROR (default: the first Debian URI of /etc/apt/sources.list*),
# REBUILD_BASE=1 to make the base again.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; . deploy/images/local.env; set +a
BASE_IMAGE=${BASE_IMAGE:-tierflow-debian:bookworm}
PYTHON_IMAGE=tierflow-python:3.11-bookworm
WORK=var/images
mkdir -p "$WORK"

step() { echo "==> $1 ($(date -u +%T))"; }

mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    # deb822 (URIs: ...) or one-line (deb URI suite ...) sources; not the security archive.
    cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
        | grep -oE '(URIs:|^deb) +[a-z]+://[^ ]+/debian/?( |$)' | awk '{print $2}' | head -n1
}

base() {
    if [ "${REBUILD_BASE:-0}" != 1 ] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        echo "$BASE_IMAGE exists (REBUILD_BASE=1 makes it again)"
        return
    fi
    command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
    local url root="$WORK/rootfs"
    url=$(mirror)
    [ -n "$url" ] || { echo "no Debian mirror in /etc/apt/sources.list*: set DEBIAN_MIRROR" >&2; exit 1; }
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" "$url" >"$WORK/debootstrap.log"
    # debootstrap may leave /proc mounted in the root; --one-file-system keeps it out anyway.
    ! mountpoint -q "$root/proc" || umount "$root/proc"
    tar --one-file-system -C "$root" -c . | docker import - "$BASE_IMAGE"
    rm -rf "$root"
}

kafka_context() {
    # The jars of deploy/images/kafka/pom.xml (the local stack's plus kafka-tools).
    local ctx="$WORK/kafka"
    rm -rf "$ctx" && mkdir -p "$ctx"
    mvn -q -B -f deploy/images/kafka/pom.xml dependency:copy-dependencies \
        -DoutputDirectory="$PWD/$ctx/libs" -DincludeScope=runtime
    mkdir "$ctx/agent" && mv "$ctx"/libs/jmx_prometheus_javaagent-*.jar "$ctx/agent/jmx_prometheus_javaagent.jar"
    cp -r deploy/images/kafka/Dockerfile deploy/images/kafka/bin deploy/local/log4j2.properties "$ctx/"
}

python_context() {
    # The Dockerfile, and the host's local CA certificates (see python.Dockerfile).
    local ctx="$WORK/python"
    rm -rf "$ctx" && mkdir -p "$ctx/ca"
    cp deploy/images/python.Dockerfile "$ctx/Dockerfile"
    find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$ctx/ca/" \; 2>/dev/null || true
}

build() { docker build --network host --quiet "$@"; }

step "base: $BASE_IMAGE"
base
step "python: $PYTHON_IMAGE"
python_context
build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$PYTHON_IMAGE" "$WORK/python"
step "tierflow: $TIERFLOW_IMAGE"
build --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" -t "$TIERFLOW_IMAGE" -f deploy/Dockerfile .
step "kafka: $KAFKA_IMAGE"
kafka_context
build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$KAFKA_IMAGE" "$WORK/kafka"
step "clickhouse: $CLICKHOUSE_IMAGE"
build --build-arg TIERFLOW_IMAGE="$TIERFLOW_IMAGE" -t "$CLICKHOUSE_IMAGE" -f deploy/images/clickhouse/Dockerfile .
step "prometheus: $PROMETHEUS_IMAGE"
build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$PROMETHEUS_IMAGE" -f deploy/images/prometheus.Dockerfile deploy/images
step "done"
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "tierflow" || true
