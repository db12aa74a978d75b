/* Test harness: real peers for integration tests. A redis-server on a free
 * port, librdkafka's mock cluster in the test process, the engine as a child
 * process, and helpers that poll until a deadline instead of sleeping. */
#ifndef RW_TEST_HARNESS_H
#define RW_TEST_HARNESS_H

#include "eval.h"
#include "mock.h"
#include "proc.h"
#include "store.h"

#include <hiredis.h>
#include <stdbool.h>
#include <sys/types.h>

/* The engine binary: $RW_BIN, or bin/riskwarn. */
const char *h_bin(void);

/* Every test binary's main: `int main(void) { return h_main(x_suite); }`.
 * Before the suite is built it makes the run's directory (h_dir) and sets
 * Check's CK_TIMEOUT_MULTIPLIER to h_scale(); it runs the suite, removes the
 * directory when every test passed and names it when one failed. Returns the
 * process exit code. */
#include <check.h>
int h_main(Suite *(*suite)(void));
/* h_main with a set-up that runs once in the test process before the suite is
 * built (nonzero: the run fails at once) and a tear-down after it; either may
 * be NULL. */
int h_main_around(Suite *(*suite)(void), int (*setup)(void), void (*teardown)(void));
/* A suite of one test case holding one test, with a timeout in seconds (before
 * CK_TIMEOUT_MULTIPLIER). */
Suite *h_suite_of(const char *name, const TTest *test, int timeout_s);
/* Adds a case of one test, named name, to s: run alone with CK_RUN_CASE=name. */
void h_suite_add(Suite *s, const char *name, const TTest *test, int timeout_s);
/* The run's own temporary directory, inherited by forked tests and the engines
 * they start ($RW_TEST_DIR when set by the caller, kept then). Logs, configs and
 * redis-server directories go under it, so parallel runs never share a file. */
const char *h_dir(void);
/* dir/name under h_dir(). Static storage per call slot: copy it if you keep more
 * than 8. */
const char *h_path(const char *name);
/* How much slower than a plain build this run is: $RW_TEST_TIMEOUT_SCALE when
 * set, else 4 under sanitizers ($RW_SANITIZED), else 1. */
double h_scale(void);
/* A deadline in milliseconds, stretched by h_scale(). Every wait in the harness
 * (h_wait, h_consume_all, h_engine_wait, h_engine_stop) already applies it to the
 * timeout it is given; tests use it for deadlines of their own loops. */
int h_ms(int ms);

/* Writes text to a new file under h_dir(). Returns its path (static storage per
 * call slot: copy it if you keep more than 8). */
const char *h_tmpfile(const char *suffix, const char *text);
/* The 1-based line and byte column of the nth (0-based) occurrence of needle in text, plus
 * skip bytes. Aborts the test when the needle is not there. */
void h_pos_of(const char *text, const char *needle, int nth, size_t skip, int *line, int *col);
/* Takes the batch through the store as the engine does: plan, load, evaluate, apply (each
 * must succeed). */
void h_batch_through(rw_store_t *st, rw_batch_t *b);
/* Whether the file at path holds text (false when it cannot be read). */
bool h_file_has(const char *path, const char *text);
/* Splits a JSON-lines file into parts new files under h_dir() of about equal line counts, in
 * order (the last takes the remainder); their paths in out. */
void h_split_lines(const char *path, int parts, char out[][256]);

/* A connection to the test's redis-server (aborts the test on failure). */
redisContext *h_redis(int port);
/* HGET as a number; 0 when missing. */
long long h_hget(redisContext *c, const char *key, const char *field);
/* Sum of every field of every hash whose key matches pattern. */
long long h_hsum(redisContext *c, const char *pattern);
/* Sum of the values of an HVALS reply, which it frees (NULL or not an array: 0). */
long long h_hvals_sum(redisReply *h);

/* Produces one message; returns 0 or -1. */
int h_produce(rd_kafka_t *p, const char *topic, int32_t partition, const char *key,
              const char *value, size_t len);
rd_kafka_t *h_producer(const char *brokers);
/* A consumer of group that never joins it (no subscription): it only asks for the group's
 * committed offsets. */
rd_kafka_t *h_group_client(const char *brokers, const char *group);
/* Produces every line of a JSON-lines file the way the demo routes events:
 * transactions to events.transactions keyed by account, the rest to
 * events.service keyed by entity. Returns the number of lines, or -1. */
long h_produce_events(rd_kafka_t *p, const char *path);
/* Produces every line to one topic (its partition 0), in file order. */
long h_produce_lines(rd_kafka_t *p, const char *path, const char *topic);

/* A consumed message, copied. */
#define H_HDRS 7
typedef struct h_msg {
    char *value;
    size_t len;
    char *key;
    int32_t partition;
    int64_t offset;
    /* rw.error, rw.topic, rw.partition, rw.offset, rw.size, rw.sha256, rw.prefix (or NULL) */
    char *hdr[H_HDRS];
} h_msg_t;
typedef struct h_msgs {
    h_msg_t *m;
    size_t n, cap;
} h_msgs_t;
/* Reads a topic (every partition) from the beginning until at least min
 * messages arrived and the topic is idle for idle_ms, or timeout_ms passed.
 * Returns the number read. */
size_t h_consume_all(const char *brokers, const char *topic, size_t min, int idle_ms,
                     int timeout_ms, h_msgs_t *out);
void h_msgs_free(h_msgs_t *m);

/* Starts `riskwarn run -c cfg_path` with extra args; stderr goes to log_path
 * (may be NULL). Returns the child's pid. */
pid_t h_engine_start(const char *cfg_path, const char *log_path);
/* The same, with one more environment variable ("NAME=value", may be NULL). */
pid_t h_engine_start_env(const char *cfg_path, const char *log_path, const char *env);
/* Starts `WRAPPER... riskwarn run -c cfg_path` (wrapper: a NULL-terminated
 * argv such as valgrind and its flags). */
pid_t h_engine_start_wrapped(const char *cfg_path, const char *log_path,
                             const char *const *wrapper);
/* Waits at most timeout_ms for the child to exit by itself. Returns its exit code
 * (128+signal when killed), or -1 on timeout (the child is then killed). */
int h_engine_wait(pid_t pid, int timeout_ms);
/* Sends sig and waits at most timeout_ms for the exit. Returns the exit code,
 * 128+signal when killed, or -1 on timeout (then the child is killed). */
int h_engine_stop(pid_t pid, int sig, int timeout_ms);
/* Starts the engine binary with args (at most 30), its stdout (with_stderr: and stderr) into
 * a pipe; *fd is the pipe's end to read (the caller closes it). Returns its pid. */
pid_t h_spawn(const char *const *args, bool with_stderr, int *fd);
/* Runs the engine binary with args to completion; returns its exit code and
 * leaves stdout+stderr in out (up to len bytes). */
int h_run(char *out, size_t len, const char *const *args);

/* Writes an ENGINE.json for the given peers and rules. Returns its path. */
const char *h_engine_config(const char *brokers, int redis_port, const char *rules,
                            const char *group);
/* The same with the input topics as a JSON list, e.g. "[\"events.all\"]". */
const char *h_engine_config_topics(const char *brokers, int redis_port, const char *rules,
                                   const char *group, const char *topics_json);

/* Polls cond(arg) every 20 ms until true or timeout_ms. Returns cond's last value. */
bool h_wait(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* The expected outcome of a JSON-lines file under a ruleset, computed by the
 * replay path in memory. alert_ids: a sorted array of "level:alert_id". */
typedef struct h_expect {
    long long events, dead, alerts[4];
    char **alert_ids;
    size_t n_alert_ids;
    char **event_levels; /* "event_id:level" of each event's alert, sorted by strcmp */
    size_t n_event_levels;
    rw_memstore_counter_t *counters; /* copied */
    size_t n_counters;
} h_expect_t;
int h_expect_replay(const char *rules, const char *events_path, h_expect_t *out);
/* The same, resolving watchlist lookups against the Redis at redis_port. */
int h_expect_replay_redis(const char *rules, const char *events_path, int redis_port,
                          h_expect_t *out);
void h_expect_free(h_expect_t *e);

/* The peers of an integration test: a mock cluster of 3 brokers with the
 * engine's topics (events.transactions:4, events.service:1, risk.alerts:2,
 * risk.alerts.high:1, risk.deadletter:1) and a redis-server. */
typedef struct h_peers {
    rw_mock_t mock;
    rw_redis_server_t redis;
    redisContext *rc;
} h_peers_t;
void h_peers_start(h_peers_t *p);
void h_peers_stop(h_peers_t *p);

/* For h_wait: true once {rw}:events:* holds want messages. */
typedef struct h_progress {
    redisContext *rc;
    long long want;
} h_progress_t;
bool h_all_counted(void *arg);

/* "level:alert_id" of each alert message, sorted, duplicates removed.
 * Returns the count; free with h_ids_free. */
size_t h_alert_ids(const h_msgs_t *m, char ***out);
void h_ids_free(char **ids, size_t n);
/* The alerts hold exactly the replay's alert ids (each at least once). */
void h_assert_alert_ids(const h_msgs_t *alerts, const h_expect_t *e);
/* The Redis counters (under {rw}:) equal the in-memory replay's, field by field. */
void h_assert_counters(redisContext *rc, const h_expect_t *e);
/* Every key but the watchlists (rw:list:*) has a TTL. */
void h_assert_ttls(redisContext *rc);

/* Makes an Ed25519 key pair, as signed control messages use: writes the
 * private key as a PEM file under h_dir() and returns its path (static storage
 * per call slot), and writes the public half to pub_b64 (at least 100 bytes)
 * as the base64 line of its PEM, as a keys file holds it. */
const char *h_keypair(char *pub_b64);

/* Resident memory of a process, in KiB; -1 when gone. */
long h_rss_kib(pid_t pid);

/* Redis outages. h_redis_persist replaces the peers' redis-server by one on the
 * same port, in a new directory of its own, that appends every write to its
 * append-only file and fsyncs it before answering (appendonly yes, appendfsync
 * always): a killed server restarts with its data. Call it before the engine
 * starts; finish with h_redis_persist_fini, then h_peers_stop. */
void h_redis_persist(h_peers_t *p);
/* Kills the peers' redis-server with SIGKILL and reaps it (its directory stays). */
void h_redis_kill(h_peers_t *p);
/* Stops the peers' redis-server if it runs (SIGTERM), and starts a new one on the
 * same port, in the same directory, with the same flags as before (so without
 * h_redis_persist the data is gone). Waits until it answers PING and gives
 * p->rc a new connection. */
void h_redis_restart(h_peers_t *p);
/* Stops a redis-server started by h_redis_persist and removes its directory. */
void h_redis_persist_fini(h_peers_t *p);

/* Whether something accepts connections on 127.0.0.1:port within timeout_ms. */
bool h_listening(int port, int timeout_ms);
/* Starts a redis-server that listens with TLS only, on a free port (*port), in
 * dir (made here), with a self-signed certificate for localhost that openssl
 * makes: dir/c.pem (also the CA to trust) and dir/k.pem. Returns its pid once it
 * listens; stop it with SIGTERM and waitpid. */
pid_t h_redis_tls_start(const char *dir, int *port);

#endif
