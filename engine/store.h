/*
 * State stores: where fences, windows and counters live.
 *
 * The Redis store serves `run`: per batch, one pipelined read (fences and
 * windows) and one atomic write (a Lua script that checks the fences it read
 * are unchanged, then applies every counter and window update and moves the
 * fences). The memory store serves `replay` without Redis.
 */
#ifndef RW_STORE_H
#define RW_STORE_H

#include "eval.h"

#define RW_STORE_CONFLICT 1 /* apply(): a fence moved since load(); reload and redo */

typedef struct rw_store rw_store_t;
struct rw_store {
    /* Reads what the planned batch needs and this engine does not hold:
     * fences, windows, cool-downs, cases, lookups. 0, or -1 on failure. Call
     * only with no write in flight (apply_wait first). */
    int (*load)(rw_store_t *s, rw_batch_t *b);
    /* Writes the evaluated batch. 0, RW_STORE_CONFLICT, or -1 on failure. */
    int (*apply)(rw_store_t *s, rw_batch_t *b);
    /* The same in two steps: sends the write without waiting for it, and marks
     * the batch stored at once (rw_batch_stored), so that the next batch can
     * be read and evaluated meanwhile; 0, or -1 when it could not be sent.
     * apply_wait() then waits for it: 0 (also when nothing is in flight),
     * RW_STORE_CONFLICT, or -1. After anything but 0 the batch is not stored:
     * forget the kept state (rw_batch_forget_state) and do it again. */
    int (*apply_send)(rw_store_t *s, rw_batch_t *b);
    int (*apply_wait)(rw_store_t *s);
    void (*destroy)(rw_store_t *s);
    char last_error[256];
};

/* In memory: no fences; counters summed for the replay summary. */
typedef struct rw_memstore_counter {
    char *key, *field;
    int64_t value;
} rw_memstore_counter_t;
rw_store_t *rw_memstore_new(void);
/* Resolves watchlist lookups against Redis (read only; state stays in memory).
 * Returns 0, or -1 with err filled. */
struct rw_redis_opts;
int rw_memstore_use_redis(rw_store_t *s, const struct rw_redis_opts *o, char *err, size_t errlen);
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
} rw_redis_opts_t;

/* Returns a new Redis store; the connection is made on first use and again
 * after any error (AUTH and SELECT are sent on every connect). Strings are copied. */
rw_store_t *rw_redisstore_new(const rw_redis_opts_t *o);

/* A plain Redis connection for commands such as `stats` and tests: connects,
 * AUTHs and SELECTs. Returns a redisContext* (free with redisFree), or NULL
 * with err filled. */
void *rw_redis_connect(const rw_redis_opts_t *o, char *err, size_t errlen);

#endif
