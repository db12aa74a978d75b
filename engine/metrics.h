/* Metrics (docs/reference.md §9): counters, gauges and histograms the engine updates, served in
 * Prometheus text format on GET /metrics, with GET /healthz, by libmicrohttpd. */
#ifndef RW_METRICS_H
#define RW_METRICS_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rw_metrics rw_metrics_t;

/* Returns new metrics (free with rw_metrics_destroy). */
rw_metrics_t *rw_metrics_new(void);
void rw_metrics_destroy(rw_metrics_t *m);

/* The HTTP endpoint's bounds: connections open at once, from one address,
 * and seconds a connection may stay idle. */
#define RW_HTTP_CONNECTIONS 256
#define RW_HTTP_PER_IP 32
#define RW_HTTP_TIMEOUT_S 10

/* Serves them on "host:port" (port 0: any free port), within the bounds
 * above. Returns 0, or with err filled RW_ERR_INPUT (a bad address) or RW_ERR_IO. */
int rw_metrics_serve(rw_metrics_t *m, const char *listen, rw_error_t *err);
/* The port served on, 0 when not serving. */
int rw_metrics_port(const rw_metrics_t *m);

/* Adds to a counter. name is a metric name, labels its label text without the
 * braces ("type=\"login\"", or "" for none); both copied. Thread-safe. */
void rw_metrics_add(rw_metrics_t *m, const char *name, const char *labels, double by);
/* Sets a gauge. */
void rw_metrics_set(rw_metrics_t *m, const char *name, const char *labels, double value);
/* Removes every series of a gauge (before setting a new set, e.g. lag). */
void rw_metrics_clear(rw_metrics_t *m, const char *name);
/* Records one observation in a histogram with fixed buckets in seconds. */
void rw_metrics_observe(rw_metrics_t *m, const char *name, double seconds);
/* Health: /healthz answers 200 "ok" while every check passes, else 503
 * "unhealthy: CHECK: WHY; ...". Each check is set by the engine. */
enum {
    RW_HEALTH_REDIS,      /* the state cannot be read or written */
    RW_HEALTH_KAFKA,      /* no broker is reachable */
    RW_HEALTH_PARTITIONS, /* no partitions, out of the group, for over a session timeout */
    RW_HEALTH_RULESET,    /* other engines of the group run another live ruleset */
    RW_HEALTH_STATE,      /* Redis lost the state (in the last 2 minutes, or not restored) */
    RW_HEALTH_CHECKS
};
/* Sets one check; why (copied) says what is wrong when ok is false. */
void rw_metrics_health_set(rw_metrics_t *m, int check, bool ok, const char *why);
/* The Redis check (batches that cannot store their state). */
void rw_metrics_health(rw_metrics_t *m, bool healthy, const char *why);

/* The Prometheus text of every series; returns a new string (free with free()). */
char *rw_metrics_text(rw_metrics_t *m);
/* Escapes a label value for Prometheus into out. */
void rw_metrics_label(char *out, size_t len, const char *value);

#endif
