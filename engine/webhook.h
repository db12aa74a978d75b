/* An optional webhook for responders' paging tools: high alerts are POSTed as
 * JSON from a thread of its own, with a timeout and retries, optionally with a
 * bearer token and an HMAC-SHA256 signature. A slow or failing webhook never
 * blocks the stream, and never loses an alert in silence: when alerts wait
 * (digest_after or more), or some were lost, the next POST is a digest
 * {"digest": true, "count": N, "dropped": D, "alerts": [the newest, in full]}
 * that stands for every alert waiting; when the queue is full the oldest alert
 * waiting is dropped, logged (at most once every 10 s, with a count), counted
 * (riskwarn_webhook_total{result="dropped"}) and reported by the next digest. */
#ifndef RW_WEBHOOK_H
#define RW_WEBHOOK_H

#include "metrics.h"

#include <stddef.h>

typedef struct rw_webhook rw_webhook_t;

typedef struct rw_webhook_opts {
    const char *url;    /* http:// or https:// */
    int min_level;      /* RW_LEVEL_*: alerts at or above are sent */
    int timeout_ms;     /* per attempt */
    int retries;        /* attempts after the first */
    size_t queue_max;   /* alerts waiting at most */
    const char *token;  /* NULL, or sent as "Authorization: Bearer TOKEN" */
    const char *secret; /* NULL, or the key of the X-Riskwarn-Signature header */
    int digest_after;   /* alerts waiting at which the next POST is a digest (0: 10) */
} rw_webhook_opts_t;

/* The signature header's value for a body sent at unix time ts: "sha256=" and the
 * hex HMAC-SHA256, keyed by secret, of "TS.BODY" (out: at least 72 bytes). */
void rw_webhook_sign(const char *secret, long long ts, const char *body, size_t len, char *out);

/* Starts the sender. opts' strings are copied; metrics is borrowed (may be NULL).
 * Returns a new webhook (stop with rw_webhook_destroy), or NULL with err filled. */
rw_webhook_t *rw_webhook_new(const rw_webhook_opts_t *o, rw_metrics_t *metrics, rw_error_t *err);
/* Queues an alert (JSON text, copied) when its level is high enough. Never blocks. */
void rw_webhook_post(rw_webhook_t *w, int level, const char *json, size_t len);
/* Sends what is queued for at most wait_ms more, then stops the thread; what is
 * still waiting then is logged and counted as dropped. */
void rw_webhook_destroy(rw_webhook_t *w, int wait_ms);

#endif
