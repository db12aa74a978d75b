/*
 * State stores: where fences, windows and counters live.
 *
 * The Redis store serves `run`: per batch, one pipelined read (fences and
 * windows) and one write: each window's new entries (RPUSH, with its trim and
 * expiry when due), then one atomic script that checks the fences it read are
 * unchanged, then applies every counter, case and cool-down and moves the
 * fences. A window is an append-only list "PREFIXwl:RULE~DIGEST:KEY" of
 * "TIME|topic/partition/offset|value" (TIME in ms, 13 digits, so that the
 * trim script compares times as text): a read (LRANGE) keeps each message's
 * entry once and orders them by time, so an entry is a fact that appending
 * twice leaves as it was; a trim (a script on the window's key) drops the
 * leading elements at or before a time, and puts a mark ("#" and the
 * engine's id and a count, no entry) at the list's head and end when it
 * dropped any. It drops a count the engine gives from its picture of the list
 * (each element's time, from its reads and its own appends) without looking
 * at them while the list's head is the mark the engine expects and, for a
 * window it holds, the list's length the one it expects; otherwise it looks
 * at each. A list read empty starts with such a mark. A window read every
 * batch reads only what its
 * list gained since its last read (from the last element read on, whole when
 * a mark or another element there shows that the list shifted). What the
 * apply script writes is not
 * such a fact, so it all shares one hash slot (the tag of
 * rw_store_tag_prefix) and stays atomic on a Redis Cluster too, while windows
 * spread over the cluster by rule and key. The memory store serves `replay`
 * without Redis.
 */
#ifndef RW_STORE_H
#define RW_STORE_H

#include "eval.h"

/* The store's codes besides RW_OK (error.h):
 * RW_ERR_CONFLICT, from apply(): a fence moved since load(); reload and redo.
 * RW_ERR_STATE_LOST, from load() or apply(): Redis lost the state (FLUSHALL, a
 * restart without persistence: the group's marker, or a fence the engine knows,
 * is gone). The store wrote back what the batch and the store hold (windows,
 * cool-downs, the open cases of its partitions, fences), which
 * stays kept (restored true), or could not (restored false: keep
 * the state, wait, and try again: the next load restores); the error says
 * what. Never forget the kept state after it yourself. Read again and redo.
 * RW_ERR_REDIS: Redis failed, refused or could not be reached.
 * Each function fills the caller's err (error.h) with what went wrong, the
 * text of the log lines and of /healthz (RW_ERR_CONFLICT fills nothing: it
 * is no failure); err may be NULL. */

typedef struct rw_store rw_store_t;
struct rw_store {
    /* Reads what the planned batch needs and this engine does not hold:
     * fences, windows, cool-downs, cases, lookups. 0, RW_ERR_STATE_LOST, or
     * RW_ERR_REDIS. Call only with no write in flight (apply_wait first).
     * A load that fails leaves kept_intact set: what it was reading is not
     * held (the next load reads it again), the rest of the kept state stays. */
    int (*load)(rw_store_t *s, rw_batch_t *b, rw_error_t *err);
    /* Writes the evaluated batch. 0, RW_ERR_CONFLICT, RW_ERR_STATE_LOST, or
     * RW_ERR_REDIS. */
    int (*apply)(rw_store_t *s, rw_batch_t *b, rw_error_t *err);
    /* The same in two steps: sends the write without waiting for it, and marks
     * the batch stored at once (rw_batch_stored), so that the next batch can
     * be read and evaluated meanwhile; 0, or RW_ERR_REDIS when it could not be
     * sent. apply_wait() then waits for it: 0 (also when nothing is in
     * flight), RW_ERR_CONFLICT, RW_ERR_STATE_LOST or RW_ERR_REDIS. After
     * anything but 0 the batch is not stored: forget the kept state
     * (rw_batch_forget_state) and do it again (but not after
     * RW_ERR_STATE_LOST, nor after RW_ERR_REDIS with kept_intact set). */
    int (*apply_send)(rw_store_t *s, rw_batch_t *b, rw_error_t *err);
    int (*apply_wait)(rw_store_t *s, rw_error_t *err);
    /* Optional (NULL: none). With a write in flight, sends what load() would
     * read for the planned batch b right behind it, without waiting; the
     * store runs them in order, so the read sees the write. apply_wait() takes
     * both answers, and the next load() of b (and of no later batch) uses the
     * read's when the write was stored as sent; otherwise load() reads again,
     * as without it. It changes nothing b holds but what load() would. */
    void (*load_send)(rw_store_t *s, rw_batch_t *b);
    void (*destroy)(rw_store_t *s);
    bool restored;    /* after RW_ERR_STATE_LOST: what the engine held is back in the store */
    bool kept_intact; /* after RW_ERR_REDIS: the kept state is to be kept (the store checks it) */
    size_t max_cases; /* Redis store: open cases held to write back after a loss (0: no limit) */
};

/* In memory: no fences; counters summed for the replay summary. */
typedef struct rw_memstore_counter {
    char *key, *field;
    int64_t value;
} rw_memstore_counter_t;
rw_store_t *rw_memstore_new(void);
/* Resolves watchlist lookups against Redis (read only; state stays in memory).
 * Returns 0, or RW_ERR_REDIS with err filled. */
struct rw_redis_opts;
int rw_memstore_use_redis(rw_store_t *s, const struct rw_redis_opts *o, rw_error_t *err);
int rw_memstore_use_cluster(rw_store_t *s, const struct rw_redis_opts *o, const char *const *seeds,
                            size_t n_seeds, rw_error_t *err);
/* Borrowed array of every counter, valid until the next apply or destroy. */
const rw_memstore_counter_t *rw_memstore_counters(rw_store_t *s, size_t *n);

typedef struct rw_redis_opts {
    const char *host;
    int port;
    const char *unix_socket; /* wins over host/port when set */
    const char *password;    /* NULL: no AUTH */
    int db;
    const char *prefix; /* "rw:" */
    const char *group;  /* consumer group: fences are per group */
    int timeout_ms;     /* per command */
    /* Windows the engine holds (not read every batch) go, each write, to one journal list a
     * partition, and into their own lists over this many ms (the fold; docs/performance.md,
     * "A journal a partition"); 0: every window's own list each write. */
    int64_t fold_ms;
} rw_redis_opts_t;

/* Where the functions below take seeds: "host:port" of Redis Cluster nodes
 * (copied); n_seeds 0: the one server the options name. A cluster has no
 * databases (db 0) and no unix sockets. */

/* The prefix of the keys the apply script writes (fences, counters, cases,
 * cool-downs): the key prefix made a hash tag, "rw:" -> "{rw}:", so that they
 * share one hash slot. Writes it into out (len bytes); returns its length. */
size_t rw_store_tag_prefix(const char *prefix, char *out, size_t len);

/* A client of the Redis (or Redis Cluster) the options name: returns a new
 * one (free with rw_rcluster_destroy); nothing is connected yet. */
struct rw_rcluster;
struct rw_rcluster *rw_store_redis_open(const rw_redis_opts_t *o, const char *const *seeds,
                                        size_t n_seeds);

/* Returns a new Redis store; connections are made on first use and again
 * after any error (AUTH and SELECT are sent on every connect). Strings are
 * copied, the cluster seeds too. */
rw_store_t *rw_redisstore_new(const rw_redis_opts_t *o);
rw_store_t *rw_redisstore_new_cluster(const rw_redis_opts_t *o, const char *const *seeds,
                                      size_t n_seeds);

/* For `riskwarn rebuild`: writes to the Redis store s the state a batch built
 * in memory (RW_STATE_MEMORY) holds: every window entry the batch stored
 * (rw_batch_stored), every cool-down marked loaded, its cases (open ones
 * written, closed ones deleted), the fences it knows, and the counters given
 * (each key's hash replaced by their fields). Writes no marker and publishes
 * nothing. Returns 0 with summary filled (what was written), or RW_ERR_REDIS
 * with err filled. */
int rw_redisstore_rebuild(rw_store_t *s, rw_batch_t *b, const rw_memstore_counter_t *counters,
                          size_t n_counters, char *summary, size_t len, rw_error_t *err);

/* A plain Redis connection for commands such as `stats` and tests: connects,
 * AUTHs and SELECTs. Returns a redisContext* (free with redisFree), or NULL
 * with err filled (RW_ERR_REDIS). */
void *rw_store_redis_connect(const rw_redis_opts_t *o, rw_error_t *err);

#endif
