/* Child processes the demo and the tests start: a local redis-server. */
#ifndef RW_PROC_H
#define RW_PROC_H

#include "error.h"

#include <sys/types.h>

typedef struct rw_redis_server {
    pid_t pid;
    int port;
    char dir[256]; /* its working directory, removed on stop */
} rw_redis_server_t;

/* Finds a free loopback TCP port. Returns it, or -1. */
int rw_proc_free_port(void);
/* Starts redis-server on a free loopback port with no persistence, and waits
 * until it answers PING (at most timeout_ms). password may be NULL.
 * Returns 0, or a negative code with err filled (RW_ERR_TIMEOUT: it did not answer). */
int rw_proc_redis_start(rw_redis_server_t *s, const char *password, int timeout_ms,
                        rw_error_t *err);
/* The same with more redis-server arguments (a NULL-terminated list, may be
 * NULL), e.g. {"--cluster-enabled", "yes", NULL}; they run in its directory. */
int rw_proc_redis_start_args(rw_redis_server_t *s, const char *password, const char *const *extra,
                             int timeout_ms, rw_error_t *err);
/* Stops it (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
void rw_proc_redis_stop(rw_redis_server_t *s);

#endif
