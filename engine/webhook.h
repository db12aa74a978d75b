/* An optional webhook for responders' paging tools: high alerts are POSTed as
 * JSON from a thread of its own, with a timeout and retries. A slow or failing
 * webhook never blocks the stream: when its queue is full the oldest alert
 * waiting is dropped (and counted). */
#ifndef RW_WEBHOOK_H
#define RW_WEBHOOK_H

#include "metrics.h"

#include <stddef.h>

typedef struct rw_webhook rw_webhook_t;

typedef struct rw_webhook_opts {
    const char *url;  /* http:// or https:// */
    int min_level;    /* RW_LEVEL_*: alerts at or above are sent */
    int timeout_ms;   /* per attempt */
    int retries;      /* attempts after the first */
    size_t queue_max; /* alerts waiting at most */
} rw_webhook_opts_t;

/* Starts the sender. metrics is borrowed (may be NULL). Returns a new webhook
 * (stop with rw_webhook_destroy), or NULL with err filled. */
rw_webhook_t *rw_webhook_new(const rw_webhook_opts_t *o, rw_metrics_t *metrics, char *err,
                             size_t errlen);
/* Queues an alert (JSON text, copied) when its level is high enough. Never blocks. */
void rw_webhook_post(rw_webhook_t *w, int level, const char *json, size_t len);
/* Sends what is queued for at most wait_ms more, then stops the thread. */
void rw_webhook_destroy(rw_webhook_t *w, int wait_ms);

#endif
