/* The fault tests' shared fixture: the engine binary against librdkafka's mock
 * cluster and a real redis-server while a broker goes down, partition leaders
 * move, produce requests fail, Redis is killed or hangs, one engine of a group is
 * killed, or SIGTERM arrives with alerts in flight. One case a file
 * (tests/check_faults_*.c); each holds the engine to the README's guarantees
 * against the undisturbed run of the same input (the in-memory replay):
 *   - every alert of the undisturbed run is published, and no other: the set of
 *     "level:alert_id" is the replay's (an alert read again is published again
 *     with the same alert_id: duplicates are allowed, other levels are not);
 *   - the Redis counters are the replay's, field by field;
 *   - {rw}:events:* counts every message exactly once.
 * Faults are timed by what the test observes (progress in Redis, the engine's
 * log and metrics, the mock's error stacks), never by fixed sleeps; only the
 * producer of the input is paced, so that faults land mid-stream. */
#ifndef RW_TEST_FAULTS_H
#define RW_TEST_FAULTS_H

#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define EVENTS "data/demo/events.jsonl"
/* Windows only: exact on several partitions when each entity keeps to one. */
#define RULES "tests/packs/windows.json"
/* Produce (ApiKey 0) in the Kafka protocol. */
#define API_PRODUCE 0

/* ---- input ------------------------------------------------------------------------------ */
long count_lines(const char *path);

void unlink_parts(char parts[][256], int n);

/* Produces files of events from a thread, chunk after chunk, with a pause
 * between chunks: the stream goes on while the test injects its faults. */
#define MAX_CHUNKS 64
typedef struct stream {
    rd_kafka_t *prod; /* borrowed */
    char chunks[MAX_CHUNKS][256];
    int n_chunks, pause_ms;
    atomic_int gate; /* when > 0: the chunk to wait at until it is set to 0 */
    atomic_long produced;
    pthread_t thread;
} stream_t;

/* Starts producing path in n_chunks chunks, pause_ms apart; with gate > 0, it
 * waits before chunk `gate` until s->gate is set to 0. */
void stream_start(stream_t *s, rd_kafka_t *prod, const char *path, int n_chunks, int pause_ms,
                  int gate);

/* Waits for the stream's end and every delivery. Returns the number produced. */
long stream_join(stream_t *s);

/* ---- the peers -------------------------------------------------------------------------- */
void set_leader(h_peers_t *p, const char *topic, int32_t partition, int32_t broker);

/* Input partitions on broker `in`, output partitions on brokers out1 and out2
 * (alternately), the group's coordinator on broker `in`. */
void place(h_peers_t *p, const char *group, int32_t in, int32_t out1, int32_t out2);

/* An ENGINE.json like h_engine_config's; with metrics, on a free port (the
 * engine logs it); Redis at redis_port, or the peers' when 0. Brokers are tried again at most a
 * second apart, so that a broker that is back is used soon. */
const char *config(const h_peers_t *p, const char *group, bool metrics, int redis_port);
/* The same with another rules file. */
const char *config_rules(const h_peers_t *p, const char *group, bool metrics, int redis_port,
                         const char *rules);
/* The same with more Kafka properties: props is JSON members ("\"name\": value, ..."), or "". */
const char *config_props(const h_peers_t *p, const char *group, bool metrics, int redis_port,
                         const char *rules, const char *props);

/* ---- observing the engine --------------------------------------------------------------- */
long long counted(redisContext *rc);

typedef struct progress {
    redisContext *rc;
    long long at_least;
} progress_t;

bool progressed(void *arg);

/* Waits until {rw}:events:* counts at least n messages. */
void wait_counted(h_peers_t *p, long long n, int timeout_ms, const char *what);

/* Waits until the count stays the same for quiet_ms. Returns it. */
long long wait_stalled(redisContext *rc, int quiet_ms, int timeout_ms);

size_t file_size(const char *path);

/* True when a line of the log after byte `from` holds needle (and also2, when
 * not NULL). */
bool log_has_from(const char *path, size_t from, const char *needle, const char *also2);

bool log_has(const char *path, const char *needle);

typedef struct log_wait {
    const char *path;
    size_t from;
    const char *needle, *also2;
} log_wait_t;

bool log_shows(void *arg);

/* The metrics port the engine logged ("metrics: http://127.0.0.1:PORT/metrics"). */
int metrics_port(const char *log);

/* GET http://127.0.0.1:port/path. Returns the status (the body in out), or -1. */
int http_get(int port, const char *path, char *out, size_t len);

/* The sum of a metric's samples (every label set), or -1 when unreachable. */
double metric_sum(int port, const char *name);

typedef struct health {
    int port, want;
} health_t;

bool health_is(void *arg);

typedef struct busy {
    int ports[2];
} busy_t;

/* Both engines counted events. */
bool both_busy(void *arg);

/* ---- a Redis proxy that loses replies ---------------------------------------------------- */
/* Forwards TCP connections to a redis-server. When armed, the connection that
 * runs the engine's apply script (the one Lua script that moves fences and
 * adds counts, called by EVALSHA) gets no reply to it, nor anything after, as
 * if the network between them broke once the request was through: Redis
 * applies the batch, the engine sees a timeout. */
#define PROXY_CONNS 64
#define APPLY_NEEDLE "EVALSHA"
typedef struct proxy_conn {
    int cfd, sfd; /* -1: free */
    bool blackhole;
    char tail[sizeof(APPLY_NEEDLE)]; /* the end of the last request bytes */
    size_t tail_len;
} proxy_conn_t;

typedef struct proxy {
    int lfd, port, upstream;
    atomic_int armed; /* replies still to lose */
    atomic_int lost;  /* replies lost */
    atomic_int stop;
    proxy_conn_t conns[PROXY_CONNS];
    pthread_t thread;
} proxy_t;

void proxy_start(proxy_t *px, int upstream);

void proxy_stop(proxy_t *px);

typedef struct lost_wait {
    proxy_t *px;
    int want;
} lost_wait_t;

bool replies_lost(void *arg);

/* ---- the outcome ------------------------------------------------------------------------ */
/* Every message counted once; the alerts, as a set, and the counters equal
 * the undisturbed run's. */
void assert_outcome(h_peers_t *p, const h_expect_t *e, long long n, const char *what);

/* The alerts alone, as a set, equal the undisturbed run's. */
void assert_alerts(h_peers_t *p, const h_expect_t *e, const char *what);

#endif
