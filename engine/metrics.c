#include "metrics.h"

#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char *name, *labels;
    double value;
    bool gauge;
} series_t;

#define N_BUCKETS 12
static const double bucket_le[N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1,    2.5,   10};

typedef struct histogram {
    char *name;
    uint64_t counts[N_BUCKETS + 1]; /* the last: +Inf */
    double sum;
    uint64_t count;
} histogram_t;

struct rw_metrics {
    pthread_mutex_t lock;
    series_t *s;
    size_t n, cap;
    histogram_t *h;
    size_t nh;
    bool ok[RW_HEALTH_CHECKS]; /* each check's last word */
    char why[RW_HEALTH_CHECKS][256];
    struct MHD_Daemon *daemon;
    int port;
};

static const char *const help[][3] = {
    {"riskwarn_events_total", "counter", "Events processed, by type."},
    {"riskwarn_alerts_total", "counter", "Alerts published, by level."},
    {"riskwarn_rule_hits_total", "counter", "Times a rule reached a level."},
    {"riskwarn_deadletters_total", "counter",
     "Messages sent to the dead-letter topic, by reason (oversize, invalid_json, not_object, "
     "missing_field, invalid_field, future_timestamp, schema, other)."},
    {"riskwarn_suppressed_total", "counter", "Rule hits held back by a cool-down."},
    {"riskwarn_rule_skipped_total", "counter",
     "Events a rule matched but could not score, by rule and reason (missing, wrong_type, "
     "div_by_zero, not_finite)."},
    {"riskwarn_redis_errors_total", "counter", "Failed Redis reads or writes (retried)."},
    {"riskwarn_kafka_errors_total", "counter", "Failed or unacknowledged Kafka deliveries."},
    {"riskwarn_outputs_dropped_total", "counter",
     "Alerts and dead letters Kafka refused even at their smallest, by kind."},
    {"riskwarn_state_evictions_total", "counter",
     "Windows dropped from memory past state_max_entries (read back from Redis when touched)."},
    {"riskwarn_state_lost_total", "counter",
     "Times Redis was found to have lost the state (FLUSHALL, a restart without persistence) "
     "and the engine wrote back what it held."},
    {"riskwarn_rekeyed_total", "counter",
     "Input messages produced again to an internal topic keyed by entity (rekey)."},
    {"riskwarn_webhook_total", "counter", "Webhook deliveries, by result."},
    {"riskwarn_consumer_lag", "gauge",
     "Messages behind the end of each input partition this engine holds (refreshed every second)."},
    {"riskwarn_ruleset_info", "gauge", "The loaded rulesets (1), live and shadow."},
    {"riskwarn_ruleset_group_disagreeing", "gauge",
     "Other engines of the group heard running another live ruleset (heartbeats on the audit "
     "topic)."},
    {"riskwarn_build_info", "gauge", "The engine's version and its libraries' (1)."},
    {"riskwarn_config_last_reload_successful", "gauge",
     "1 when the last ruleset load (start-up, SIGHUP or control topic) succeeded, 0 when refused."},
    {"riskwarn_config_last_reload_success_timestamp_seconds", "gauge",
     "When a ruleset was last loaded, in seconds since the epoch."},
    {"riskwarn_up", "gauge", "1 while the engine runs; whether it is healthy is riskwarn_healthy."},
    {"riskwarn_healthy", "gauge", "1 when /healthz answers 200, 0 when it answers 503."},
    {"riskwarn_health_check", "gauge",
     "Each check of /healthz: 1 passing, 0 failing (kafka, partitions, redis, ruleset, state)."},
    {"riskwarn_batch_seconds", "histogram", "Time to take one batch through the engine."},
    {"riskwarn_event_to_alert_seconds", "histogram",
     "From an event's Kafka timestamp to its alert being acknowledged."},
    {NULL, NULL, NULL}};

static const char *const check_names[RW_HEALTH_CHECKS] = {"redis", "kafka", "partitions", "ruleset",
                                                          "state"};

static histogram_t *histogram_get(rw_metrics_t *m, const char *name);

rw_metrics_t *rw_metrics_new(void) {
    rw_metrics_t *m = rw_calloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    for (int i = 0; i < RW_HEALTH_CHECKS; i++)
        m->ok[i] = true;
    /* Every histogram exists from the start, with empty buckets. */
    for (size_t i = 0; help[i][0]; i++)
        if (strcmp(help[i][1], "histogram") == 0)
            histogram_get(m, help[i][0]);
    return m;
}

void rw_metrics_destroy(rw_metrics_t *m) {
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].name);
        free(m->s[i].labels);
    }
    free(m->s);
    for (size_t i = 0; i < m->nh; i++)
        free(m->h[i].name);
    free(m->h);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Called with the lock held. */
static series_t *find(rw_metrics_t *m, const char *name, const char *labels, bool gauge) {
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0 && strcmp(m->s[i].labels, labels) == 0)
            return &m->s[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->s = rw_realloc(m->s, m->cap * sizeof(*m->s));
    }
    series_t *s = &m->s[m->n++];
    s->name = rw_strdup(name);
    s->labels = rw_strdup(labels);
    s->value = 0;
    s->gauge = gauge;
    return s;
}

void rw_metrics_add(rw_metrics_t *m, const char *name, const char *labels, double by) {
    pthread_mutex_lock(&m->lock);
    find(m, name, labels, false)->value += by;
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_set(rw_metrics_t *m, const char *name, const char *labels, double value) {
    pthread_mutex_lock(&m->lock);
    find(m, name, labels, true)->value = value;
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_clear(rw_metrics_t *m, const char *name) {
    pthread_mutex_lock(&m->lock);
    size_t o = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->s[i].name, name) == 0) {
            free(m->s[i].name);
            free(m->s[i].labels);
            continue;
        }
        m->s[o++] = m->s[i];
    }
    m->n = o;
    pthread_mutex_unlock(&m->lock);
}

/* Called with the lock held (or before other threads see m). */
static histogram_t *histogram_get(rw_metrics_t *m, const char *name) {
    for (size_t i = 0; i < m->nh; i++)
        if (strcmp(m->h[i].name, name) == 0)
            return &m->h[i];
    m->h = rw_realloc(m->h, (m->nh + 1) * sizeof(*m->h));
    histogram_t *h = &m->h[m->nh++];
    memset(h, 0, sizeof(*h));
    h->name = rw_strdup(name);
    return h;
}

void rw_metrics_observe(rw_metrics_t *m, const char *name, double seconds) {
    pthread_mutex_lock(&m->lock);
    histogram_t *h = histogram_get(m, name);
    size_t b = 0;
    while (b < N_BUCKETS && seconds > bucket_le[b])
        b++;
    h->counts[b]++;
    h->sum += seconds;
    h->count++;
    pthread_mutex_unlock(&m->lock);
}

void rw_metrics_health(rw_metrics_t *m, bool healthy, const char *why) {
    rw_metrics_health_set(m, RW_HEALTH_REDIS, healthy, why);
}

void rw_metrics_health_set(rw_metrics_t *m, int check, bool ok, const char *why) {
    pthread_mutex_lock(&m->lock);
    m->ok[check] = ok;
    snprintf(m->why[check], sizeof(m->why[check]), "%s", ok || !why ? "" : why);
    pthread_mutex_unlock(&m->lock);
}

/* Called with the lock held. */
static bool healthy(const rw_metrics_t *m) {
    for (int i = 0; i < RW_HEALTH_CHECKS; i++)
        if (!m->ok[i])
            return false;
    return true;
}

void rw_metrics_label(char *out, size_t len, const char *v) {
    size_t o = 0;
    for (; *v && o + 3 < len; v++) {
        if (*v == '\\' || *v == '"') {
            out[o++] = '\\';
            out[o++] = *v;
        } else if (*v == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *v;
        }
    }
    out[o] = 0;
}

static const char *const *help_of(const char *name) {
    for (size_t i = 0; help[i][0]; i++)
        if (strcmp(help[i][0], name) == 0)
            return help[i];
    return NULL;
}

static int series_cmp(const void *a, const void *b) {
    const series_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

static void histogram_text(rw_buf_t *b, const histogram_t *h) {
    uint64_t cum = 0;
    for (size_t k = 0; k < N_BUCKETS; k++) {
        cum += h->counts[k];
        rw_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", h->name, bucket_le[k],
                      (unsigned long long)cum);
    }
    cum += h->counts[N_BUCKETS];
    rw_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", h->name,
                  (unsigned long long)cum, h->name, h->sum, h->name, (unsigned long long)h->count);
}

/* The series of one family (sorted: they are contiguous), after its HELP and TYPE. */
static void family_text(rw_buf_t *b, const rw_metrics_t *m, const char *name, const char *type,
                        const char *text) {
    rw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
    for (size_t i = 0; i < m->nh; i++)
        if (strcmp(m->h[i].name, name) == 0)
            histogram_text(b, &m->h[i]);
    for (size_t i = 0; i < m->n; i++) {
        const series_t *s = &m->s[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (s->labels[0])
            rw_buf_printf(b, "%s{%s} %.17g\n", s->name, s->labels, s->value);
        else
            rw_buf_printf(b, "%s %.17g\n", s->name, s->value);
    }
}

char *rw_metrics_text(rw_metrics_t *m) {
    rw_buf_t b;
    rw_buf_init(&b);
    pthread_mutex_lock(&m->lock);
    /* The health of this moment, as series like any other. */
    find(m, "riskwarn_up", "", true)->value = 1;
    find(m, "riskwarn_healthy", "", true)->value = healthy(m) ? 1 : 0;
    for (int i = 0; i < RW_HEALTH_CHECKS; i++) {
        char lab[64];
        snprintf(lab, sizeof(lab), "check=\"%s\"", check_names[i]);
        find(m, "riskwarn_health_check", lab, true)->value = m->ok[i] ? 1 : 0;
    }
    if (m->n > 1)
        qsort(m->s, m->n, sizeof(*m->s), series_cmp);
    /* Every family of the table, with HELP and TYPE even before its first series. */
    for (size_t i = 0; help[i][0]; i++)
        family_text(&b, m, help[i][0], help[i][1], help[i][2]);
    /* Any other series (none is expected: each should have its line in the table). */
    const char *last = "";
    for (size_t i = 0; i < m->n; i++)
        if (!help_of(m->s[i].name) && strcmp(m->s[i].name, last) != 0) {
            last = m->s[i].name;
            family_text(&b, m, last, m->s[i].gauge ? "gauge" : "counter", "riskwarn metric.");
        }
    pthread_mutex_unlock(&m->lock);
    rw_buf_cstr(&b);
    return b.data;
}

/* The /healthz body: "ok", or "unhealthy: " and each failing check. */
static char *health_text(rw_metrics_t *m, bool *ok) {
    rw_buf_t b;
    rw_buf_init(&b);
    pthread_mutex_lock(&m->lock);
    *ok = healthy(m);
    rw_buf_puts(&b, *ok ? "ok" : "unhealthy");
    for (int i = 0, n = 0; i < RW_HEALTH_CHECKS; i++)
        if (!m->ok[i])
            rw_buf_printf(&b, "%s%s: %s", n++ ? "; " : ": ", check_names[i], m->why[i]);
    pthread_mutex_unlock(&m->lock);
    rw_buf_puts(&b, "\n");
    rw_buf_cstr(&b);
    return b.data;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type,
                               char *body) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **state) {
    (void)version;
    (void)data;
    (void)data_size;
    (void)state;
    rw_metrics_t *m = cls;
    if (strcmp(method, "GET") != 0)
        return respond(c, 405, "text/plain", rw_strdup("GET only\n"));
    if (strcmp(url, "/metrics") == 0)
        return respond(c, 200, "text/plain; version=0.0.4", rw_metrics_text(m));
    if (strcmp(url, "/healthz") == 0) {
        bool ok;
        char *body = health_text(m, &ok);
        return respond(c, ok ? 200 : 503, "text/plain", body);
    }
    return respond(c, 404, "text/plain", rw_strdup("not found: try /metrics or /healthz\n"));
}

/* libmicrohttpd's own messages (a refused connection, a timeout) through the
 * engine's log, rate-limited: a flood of connections must not flood it. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    static rw_ratelimit_t rl;
    char text[512];
    (void)cls;
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = 0;
    rw_log_limited(&rl, RW_LOG_WARN, "metrics http: %s", text);
}

int rw_metrics_serve(rw_metrics_t *m, const char *listen, rw_error_t *err) {
    const char *colon = strrchr(listen, ':');
    char host[128];
    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return rw_error_fail(err, RW_ERR_INPUT, "metrics_listen: use HOST:PORT, not \"%s\"",
                             listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        return rw_error_fail(err, RW_ERR_INPUT,
                             "metrics_listen: use an IPv4 address and a port, not \"%s\"", listen);
    }
    /* Bounded: epoll (no select() limit of 1,024 descriptors), at most
     * RW_HTTP_CONNECTIONS open and RW_HTTP_PER_IP from one address (more are
     * closed as they come), and a connection idle for RW_HTTP_TIMEOUT_S is
     * closed; so idle or half-open connections cannot starve /healthz. */
    m->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handle, m,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)RW_HTTP_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)RW_HTTP_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)RW_HTTP_TIMEOUT_S, MHD_OPTION_END);
    if (!m->daemon)
        return rw_error_fail(err, RW_ERR_IO, "metrics_listen %s: cannot listen (port in use?)",
                             listen);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info ? info->port : (int)port;
    return 0;
}

int rw_metrics_port(const rw_metrics_t *m) { return m->port; }
