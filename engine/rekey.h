/*
 * Re-keying input by entity through an internal topic (README, "Input not keyed by
 * entity"), as Kafka Streams repartitions.
 *
 * A window is exact when every event of its entity is read from one partition, in
 * order. Input produced without a key, or keyed by something else, spreads one entity
 * over several partitions. With `"rekey"` in ENGINE.json the engine's group reads such
 * an input topic only to produce each message again to an internal topic, keyed by the
 * named field's value (a masked field: its pseudonym), and evaluates only the internal
 * topic, where every event of one entity is in one partition.
 *
 * Order: within each batch it re-keys, the forwarder merges the input partitions by
 * event time (as Kafka Streams picks records: the partition whose next event is the
 * earliest goes next; each partition keeps its own order), so events of one entity that
 * were spread over the partitions in time order reach the internal topic in time order,
 * whichever partition the consumer happened to read first.
 *
 * Exactly once: the input offsets are committed once Kafka has acknowledged every copy
 * of the batch, so a forwarder that dies in between, or whose commit fails in a
 * rebalance, has the copies produced again. Each copy carries its input message's
 * topic, partition and offset (headers rw.topic, rw.partition, rw.offset), and the
 * engine fences the state of a copy by those, per internal partition and input
 * partition (rw_rekey_source): in an internal partition, the copies of one input
 * partition come in input order, so a copy at or below the fence is one taken before,
 * and adds nothing again.
 */
#ifndef RW_REKEY_H
#define RW_REKEY_H

#include "ruleset.h"
#include "util.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

/* One route: messages of an input topic (every input topic when input is NULL) go to
 * topic, keyed by the first of fields the event holds. */
typedef struct rw_rekey_route {
    char *input; /* NULL: every input topic without a route of its own */
    char *topic;
    char **fields; /* dotted paths */
    size_t n_fields;
    int64_t max_idle_ms; /* "max_idle_ms": how long a batch waits for the other partitions */
} rw_rekey_route_t;

/* The "rekey" section of ENGINE.json. */
typedef struct rw_rekey_conf {
    rw_rekey_route_t *routes;
    size_t n_routes;
} rw_rekey_conf_t;

/* Parses "rekey": one route for every input topic, {"field": F, "topic": T}, or a
 * list of routes {"input": I, "field": F, "topic": T}; F is a field name or a list
 * of them (the first the event holds). inputs are the engine's input topics; an
 * internal topic may not be one of them, nor one of the engine's output topics
 * (outputs, NULL-ended). Returns a new conf (free with rw_rekey_conf_destroy), or
 * NULL with err filled at the bad key or value (file:line:col). */
rw_rekey_conf_t *rw_rekey_conf_parse(const json_t *v, const char *source, const char *text,
                                     size_t len, const char *const *inputs, size_t n_inputs,
                                     const char *const *outputs, rw_error_t *err);
void rw_rekey_conf_destroy(rw_rekey_conf_t *c);
/* The route of messages of input topic, or NULL when they are evaluated as they are
 * (no route, or topic is itself an internal topic). */
const rw_rekey_route_t *rw_rekey_route(const rw_rekey_conf_t *c, const char *topic);
/* Adds to topics every internal topic not in it yet (the group reads them too). */
void rw_rekey_subscribe(const rw_rekey_conf_t *c, rd_kafka_topic_partition_list_t *topics);

/* What a key of a copy is made from when its event lacks every field of its route,
 * or is not an event at all: the input message's own key, else "TOPIC/PARTITION" of
 * the input message (its copies keep that partition's order, and the engine
 * dead-letters what is not an event as it reads the internal topic). */

/* The forwarder of one engine. */
typedef struct rw_rekey rw_rekey_t;

/* Says whether to give up waiting for Kafka (asked to stop, and Kafka stays away). */
typedef bool (*rw_rekey_give_up_fn)(void *arg);

/* Makes a forwarder with a producer of its own from pconf (taken, also on failure; the
 * engine's producer settings), made idempotent and gapless. Borrows conf, consumer (it
 * commits the input offsets) and dead_topic (copies Kafka refuses for good go there).
 * Returns NULL with err filled (RW_ERR_INPUT) when the producer cannot be made. */
rw_rekey_t *rw_rekey_new(const rw_rekey_conf_t *conf, rd_kafka_conf_t *pconf, rd_kafka_t *consumer,
                         const char *dead_topic, rw_error_t *err);
/* Flushes and destroys its producer (10 s at most), then frees it. */
void rw_rekey_destroy(rw_rekey_t *k);
/* How long a batch holding messages of a re-keyed input waits, by default, for the other
 * partitions of its inputs that have messages waiting (as Kafka Streams waits, by its
 * max.task.idle.ms, before it picks the next record by time); a route's "max_idle_ms"
 * sets it. */
#define RW_REKEY_IDLE_MS 500

/* Before rw_rekey_forward: when msgs[0..n) holds messages of re-keyed inputs, but not of
 * every partition of them this engine holds that has messages not yet read (or not yet
 * fetched), reads more from queue into msgs[n..cap), until each is there, cap is
 * reached or the longest "max_idle_ms" of the routes passed. The merge by time then sees every
 * partition. Returns the new count. */
size_t rw_rekey_fill(rw_rekey_t *k, rd_kafka_queue_t *queue, rd_kafka_message_t **msgs, size_t n,
                     size_t cap);
/* Takes the messages of re-keyed input topics out of msgs[0..*n): produces each again
 * (rs says which fields are masked), waits for Kafka to acknowledge every copy, then
 * commits their input offsets, and destroys them. Leaves the other messages, in
 * their order, in msgs[0..*n). Returns the number of messages re-keyed, or -1 when
 * give_up said so or the producer failed for good (nothing of the taken messages is
 * committed: they are read again). */
long rw_rekey_forward(rw_rekey_t *k, const rw_ruleset_t *rs, rd_kafka_message_t **msgs, size_t *n,
                      rw_rekey_give_up_fn give_up, void *arg);

/* For a message of an internal topic: the source the batch gives it, so that its state
 * is fenced by the input message's offset and a copy produced twice is taken once. topic
 * is "INPUT@INTERNAL/PARTITION" (the input topic, and the internal partition that holds
 * the copy; valid as long as k), partition and offset the input message's. Returns false
 * for any other message, which keeps its own (k may be NULL). */
bool rw_rekey_source(rw_rekey_t *k, const rd_kafka_message_t *m, const char **topic,
                     int32_t *partition, int64_t *offset);

#endif
