/* A local Kafka cluster in this process: librdkafka's mock cluster. */
#ifndef RW_MOCK_H
#define RW_MOCK_H

#include "error.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>

typedef struct rw_mock {
    rd_kafka_t *rk; /* the handle the cluster lives in */
    rd_kafka_mock_cluster_t *cluster;
    char bootstraps[256];
} rw_mock_t;

/* Starts a cluster of n brokers. Returns 0, or RW_ERR_KAFKA with err filled. */
int rw_mock_start(rw_mock_t *m, int brokers, rw_error_t *err);
/* Creates a topic ("name" or "name:partitions"; 1 partition by default).
 * Returns 0, or with err filled RW_ERR_INPUT (a bad spec) or RW_ERR_KAFKA. */
int rw_mock_topic(rw_mock_t *m, const char *spec, rw_error_t *err);
void rw_mock_stop(rw_mock_t *m);

/* Produces every line of a JSON-lines file, the way a bank would feed the
 * engine: transactions to events.transactions, everything else (and lines that
 * are not events) to events.service, keyed by the entity (account, customer,
 * staff member, service, complaint) so that one entity's events share a
 * partition. topic, when not NULL, takes every line instead, in file order, on
 * partition 0. Waits for delivery. Returns the number of lines, or -1. */
long rw_mock_produce_file(rd_kafka_t *p, const char *path, const char *topic);
/* The same; with event_time, each message's Kafka timestamp is its event's
 * "ts" (where it has one), as when events are produced as they happen. */
long rw_mock_produce_file_at(rd_kafka_t *p, const char *path, const char *topic, bool event_time);

#endif
