#!/bin/sh
# Creates riskwarn's topics with the settings deploy/README.md explains. Safe to
# run again (--if-not-exists). Run it where Kafka's own scripts are (the
# apache/kafka image has them in /opt/kafka/bin):
#   BOOTSTRAP=kafka-1:9092 REPLICATION=3 sh deploy/kafka/create-topics.sh
set -eu
BOOTSTRAP="${BOOTSTRAP:-localhost:9092}"
REPLICATION="${REPLICATION:-3}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
# min.insync.replicas: 2 of 3 replicas acknowledge every write (1 on a one-broker test cluster).
MIN_ISR=$((REPLICATION > 2 ? 2 : 1))
DAY=86400000

topic() { # name partitions config...
    name=$1 parts=$2
    shift 2
    "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$name" --partitions "$parts" --replication-factor "$REPLICATION" \
        --config "min.insync.replicas=$MIN_ISR" "$@"
}

# Input: keyed by entity (account, customer), so that an entity's events share a partition.
topic events.transactions 12 --config "retention.ms=$((7 * DAY))"
topic events.service 6 --config "retention.ms=$((7 * DAY))"
# Alerts: the record responders and dashboards read.
topic risk.alerts 6 --config "retention.ms=$((30 * DAY))"
topic risk.alerts.high 3 --config "retention.ms=$((30 * DAY))"
topic risk.alerts.shadow 6 --config "retention.ms=$((7 * DAY))"
# Dead letters carry the original bytes: as restricted as the input topics.
topic risk.deadletter 3 --config "retention.ms=$((30 * DAY))"
# Control: one partition, kept for ever, never compacted (deploy/README.md says why).
topic risk.rules 1 --config cleanup.policy=delete --config retention.ms=-1 \
    --config retention.bytes=-1
topic risk.audit 1 --config "retention.ms=$((400 * DAY))"
# Only with "rekey" in the engine config: the internal topic input not keyed by entity is
# re-keyed to, with as many partitions as that input (deploy/README.md).
if [ -n "${REKEY_TOPIC:-}" ]; then
    topic "$REKEY_TOPIC" "${REKEY_PARTITIONS:-12}" --config "retention.ms=$((7 * DAY))"
fi
