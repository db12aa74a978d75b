/* For the operations team: log records as JSON lines with librdkafka's own lines
 * routed through them, the engine's logger on hostile text, and the webhook's
 * authentication, signature and digests against a local HTTP receiver. */
#include "harness.h"
#include "log.h"
#include "webhook.h"

#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- log records ------------------------------------------------------------------------- */

typedef struct log_watch {
    const char *path;
    const char *needles[3]; /* all must be in the log */
} log_watch_t;

/* A file's whole text (new, free with free()), or NULL. */
static char *slurp(const char *path) {
    rw_error_t err;
    rw_error_clear(&err);
    size_t len;
    return rw_file_read(path, &len, &err);
}

static bool log_has(void *arg) {
    log_watch_t *w = arg;
    char *text = slurp(w->path);
    bool ok = text != NULL;
    for (size_t i = 0; ok && i < 3 && w->needles[i]; i++)
        ok = strstr(text, w->needles[i]) != NULL;
    free(text);
    return ok;
}

/* A config for an engine whose broker and Redis do not answer (ports nothing listens on). */
static const char *unreachable_config(const char *extra) {
    char text[512];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"127.0.0.1:1\"}, \"redis\": {\"port\": 1},\n"
             " \"metrics_listen\": null%s}",
             extra);
    return h_tmpfile(".json", text);
}

/* Every line of the log is one JSON object with ts, level and msg; librdkafka's
 * lines are among them, with their facility, and none is printed raw. */
START_TEST(test_ops_json_log_routes_librdkafka) {
    char cfg[256], log[256];
    snprintf(cfg, sizeof(cfg), "%s", unreachable_config(", \"log\": {\"format\": \"json\"}"));
    snprintf(log, sizeof(log), "%s", h_tmpfile(".log", ""));
    pid_t pid = h_engine_start(cfg, log);
    log_watch_t w = {log, {"\"facility\":\"FAIL\"", "Connection refused", "running: group"}};
    ck_assert_msg(h_wait(log_has, &w, 30000), "no librdkafka FAIL record and running line");
    /* Without a broker a stop waits out librdkafka's timeouts: the log is what counts. */
    ck_assert_int_eq(h_engine_stop(pid, SIGKILL, 30000), 128 + SIGKILL);
    char *text = slurp(log);
    ck_assert_ptr_nonnull(text);
    int records = 0, kafka = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), records++) {
        json_error_t je;
        json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        ck_assert_msg(json_is_object(o), "not a JSON object: %s", line);
        int64_t ms;
        const char *ts = json_string_value(json_object_get(o, "ts"));
        ck_assert_msg(ts && rw_time_parse(ts, strlen(ts), &ms) == 0, "ts: %s", line);
        const char *level = json_string_value(json_object_get(o, "level"));
        ck_assert_msg(level && strstr(" error warn info debug ", level), "level: %s", line);
        ck_assert_msg(json_is_string(json_object_get(o, "msg")), "msg: %s", line);
        const char *fac = json_string_value(json_object_get(o, "facility"));
        if (fac) {
            kafka++;
            ck_assert_msg(json_is_string(json_object_get(o, "client")), "client: %s", line);
            if (strcmp(fac, "FAIL") == 0) /* librdkafka's LOG_ERR */
                ck_assert_str_eq(level, "error");
        }
        json_decref(o);
    }
    ck_assert_int_gt(kafka, 0);
    ck_assert_int_gt(records, kafka);
    free(text);
}
END_TEST

/* The text format carries librdkafka's lines at the engine's level names, with
 * fields after the message, and nothing in librdkafka's own %3|...| form. */
START_TEST(test_ops_text_log_routes_librdkafka) {
    char cfg[256], log[256];
    snprintf(cfg, sizeof(cfg), "%s", unreachable_config(""));
    snprintf(log, sizeof(log), "%s", h_tmpfile(".log", ""));
    pid_t pid = h_engine_start(cfg, log);
    log_watch_t w = {log, {"riskwarn error: kafka: ", "facility=FAIL client=rdkafka#", NULL}};
    ck_assert_msg(h_wait(log_has, &w, 30000), "no librdkafka line through the logger");
    ck_assert_int_eq(h_engine_stop(pid, SIGKILL, 30000), 128 + SIGKILL);
    char *text = slurp(log);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "|FAIL|") == NULL, "a raw librdkafka line:\n%s", text);
    free(text);
}
END_TEST

/* Quotes, control characters and bytes that are not UTF-8 still give one valid
 * JSON object a line; fields follow the message. */
START_TEST(test_ops_json_record_escaping) {
    const char *path = h_path("record-escaping.log");
    ck_assert_ptr_nonnull(freopen(path, "w", stderr));
    rw_log_format = RW_LOG_JSON;
    const char *fields[] = {"account", "ab\"c\\", "bad", "\xff\xfe", NULL};
    rw_log_emit(RW_LOG_WARN, fields, "line\nbreak \x01 tab\t \xc3\xa9t\xc3\xa9 \xe2\x82 cut");
    rw_log(RW_LOG_DEBUG, "not written at the default level");
    rw_log_format = RW_LOG_TEXT;
    rw_log_emit(RW_LOG_ERROR, fields + 2, "plain");
    fflush(stderr);
    char *text = slurp(path);
    ck_assert_ptr_nonnull(text);
    char *nl = strchr(text, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = 0;
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    ck_assert_msg(o != NULL, "%s: %s", je.text, text);
    ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(o, "msg")),
                     "line\nbreak \x01 tab\t \xc3\xa9t\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd cut");
    ck_assert_str_eq(json_string_value(json_object_get(o, "account")), "ab\"c\\");
    ck_assert_str_eq(json_string_value(json_object_get(o, "bad")), "\xef\xbf\xbd\xef\xbf\xbd");
    const char *k;
    json_t *v;
    const char *order[] = {"ts", "level", "msg", "account", "bad"};
    size_t i = 0;
    json_object_foreach(o, k, v) ck_assert_str_eq(k, order[i++]);
    json_decref(o);
    ck_assert_ptr_nonnull(strstr(nl + 1, " riskwarn error: plain bad=\xff\xfe\n"));
    ck_assert_ptr_null(strchr(strchr(nl + 1, '\n') + 1, '\n')); /* two records, no debug */
    free(text);
}
END_TEST

/* ---- the webhook ------------------------------------------------------------------------ */

/* A local HTTP receiver: keeps each POST it answered 200 with its headers; answers
 * `status` (500 while the target is "down"). While `hold` is set it answers nothing:
 * a POST waits (at most a minute) until hook_release. */
typedef struct hook_rx {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    pthread_cond_t released;
    bool hold;
    unsigned status;
    char *bodies[256], *auth[256], *sig[256], *ts[256];
    int n, refused;
} hook_rx_t;

static char *header(struct MHD_Connection *c, const char *name) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? strdup(v) : NULL;
}

static enum MHD_Result hook_request(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *data,
                                    size_t *size, void **state) {
    (void)url, (void)method, (void)version;
    hook_rx_t *r = cls;
    rw_buf_t *body = *state;
    if (!body) { /* headers only */
        *state = body = calloc(1, sizeof(*body));
        rw_buf_init(body);
        return MHD_YES;
    }
    if (*size) {
        rw_buf_append(body, data, *size);
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    while (r->hold && pthread_cond_timedwait(&r->released, &r->lock, &until) == 0)
        ;
    unsigned status = r->status;
    if (status == 200 && r->n < 256) {
        r->bodies[r->n] = strdup(rw_buf_cstr(body));
        r->auth[r->n] = header(c, "Authorization");
        r->sig[r->n] = header(c, "X-Riskwarn-Signature");
        r->ts[r->n] = header(c, "X-Riskwarn-Timestamp");
        r->n++;
    } else {
        r->refused++;
    }
    pthread_mutex_unlock(&r->lock);
    rw_buf_fini(body);
    free(body);
    *state = NULL;
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void hook_start(hook_rx_t *r, unsigned status) {
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->released, NULL);
    r->status = status;
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, hook_request, r,
                            MHD_OPTION_END);
    ck_assert_ptr_nonnull(r->d);
    r->port = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void hook_stop(hook_rx_t *r) {
    MHD_stop_daemon(r->d);
    for (int i = 0; i < r->n; i++) {
        free(r->bodies[i]);
        free(r->auth[i]);
        free(r->sig[i]);
        free(r->ts[i]);
    }
    pthread_cond_destroy(&r->released);
    pthread_mutex_destroy(&r->lock);
}

static void hook_release(hook_rx_t *r) {
    pthread_mutex_lock(&r->lock);
    r->hold = false;
    pthread_cond_broadcast(&r->released);
    pthread_mutex_unlock(&r->lock);
}

/* How many alerts the POSTs received stand for: 1 each, or a digest's count plus
 * the alerts it reports lost. */
static long accounted(hook_rx_t *r) {
    long total = 0;
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n; i++) {
        json_t *b = json_loads(r->bodies[i], 0, NULL);
        ck_assert_msg(json_is_object(b), "not JSON: %s", r->bodies[i]);
        if (json_is_true(json_object_get(b, "digest")))
            total += (long)(json_integer_value(json_object_get(b, "count")) +
                            json_integer_value(json_object_get(b, "dropped")));
        else
            total++;
        json_decref(b);
    }
    pthread_mutex_unlock(&r->lock);
    return total;
}

typedef struct hook_wait {
    hook_rx_t *r;
    long want;
} hook_wait_t;

static bool hook_accounted(void *arg) {
    hook_wait_t *w = arg;
    return accounted(w->r) >= w->want;
}

static bool hook_refused_twice(void *arg) {
    hook_rx_t *r = arg;
    pthread_mutex_lock(&r->lock);
    bool yes = r->refused >= 2;
    pthread_mutex_unlock(&r->lock);
    return yes;
}

/* The signature, as the openssl command computes it over "TS.BODY". */
static void openssl_hmac(const char *key, const char *ts, const char *body, char *out, size_t len) {
    const char *msg = h_tmpfile(".msg", "");
    FILE *f = fopen(msg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s.%s", ts, body);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -hmac '%s' -r < %s", key, msg);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[100] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
    pclose(p);
    line[strcspn(line, " \n")] = 0;
    snprintf(out, len, "sha256=%s", line);
}

static const char *alert_json(int i) {
    static char buf[128];
    snprintf(buf, sizeof(buf), "{\"alert_id\":\"a%03d\",\"level\":\"high\",\"score\":%d}", i, i);
    return buf;
}

/* A bearer token and an HMAC-SHA256 signature over the timestamp and the body,
 * which the openssl command agrees with; alerts below min_level are not sent. */
START_TEST(test_ops_webhook_token_and_signature) {
    hook_rx_t rx;
    hook_start(&rx, 200);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/page", rx.port);
    rw_webhook_opts_t o = {url, 3, 2000, 2, 100, "t0ken-1", "k3y s\"ecret", 0};
    rw_error_t err;
    rw_error_clear(&err);
    rw_webhook_t *w = rw_webhook_new(&o, NULL, &err);
    ck_assert_msg(w != NULL, "%s", err.text);
    rw_webhook_post(w, 2, "{\"level\":\"medium\"}", 18);
    for (int i = 0; i < 3; i++)
        rw_webhook_post(w, 3, alert_json(i), strlen(alert_json(i)));
    hook_wait_t hw = {&rx, 3};
    ck_assert_msg(h_wait(hook_accounted, &hw, 20000), "the webhook did not deliver");
    rw_webhook_destroy(w, 5000);
    ck_assert_int_eq(rx.n, 3);
    for (int i = 0; i < rx.n; i++) {
        ck_assert_str_eq(rx.bodies[i], alert_json(i));
        ck_assert_pstr_eq(rx.auth[i], "Bearer t0ken-1");
        ck_assert_ptr_nonnull(rx.ts[i]);
        long long ts = atoll(rx.ts[i]);
        ck_assert_int_lt(llabs(ts - rw_now_ms() / 1000), 120);
        char want[160];
        openssl_hmac("k3y s\"ecret", rx.ts[i], rx.bodies[i], want, sizeof(want));
        ck_assert_pstr_eq(rx.sig[i], want);
    }
    /* Without a token or secret, neither header. */
    rw_webhook_opts_t plain = {url, 3, 2000, 0, 100, NULL, NULL, 0};
    w = rw_webhook_new(&plain, NULL, &err);
    rw_webhook_post(w, 3, alert_json(9), strlen(alert_json(9)));
    hw.want = 4;
    ck_assert(h_wait(hook_accounted, &hw, 20000));
    rw_webhook_destroy(w, 5000);
    ck_assert_ptr_null(rx.auth[3]);
    ck_assert_ptr_null(rx.sig[3]);
    ck_assert_ptr_null(rx.ts[3]);
    hook_stop(&rx);
}
END_TEST

static double metric_of(rw_metrics_t *m, const char *series) {
    char *text = rw_metrics_text(m);
    const char *at = strstr(text, series);
    double v = at ? strtod(at + strlen(series), NULL) : 0;
    free(text);
    return v;
}

/* With the target down, the queue overflows: every drop is counted, logged once
 * (rate-limited, with a count), and once the target is back a digest reports
 * the dropped and failed alerts, with the newest in full: every alert posted is
 * accounted for by what the target received. */
START_TEST(test_ops_webhook_never_drops_in_silence) {
    const char *logpath = h_path("webhook-drops.log");
    ck_assert_ptr_nonnull(freopen(logpath, "w", stderr));
    hook_rx_t rx;
    hook_start(&rx, 500);
    /* The target holds the first POST until every alert is posted: the sender has
     * then taken one POST's alerts off the queue (a digest takes all that wait, at
     * most the queue's 20), and the queue filled again; however the threads ran,
     * at least N - 2 * 20 alerts were dropped. */
    rx.hold = true;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/page", rx.port);
    rw_metrics_t *m = rw_metrics_new();
    rw_webhook_opts_t o = {url, 3, 60000, 1, 20, NULL, NULL, 5};
    rw_error_t err;
    rw_error_clear(&err);
    rw_webhook_t *w = rw_webhook_new(&o, m, &err);
    ck_assert_msg(w != NULL, "%s", err.text);
    enum { N = 200 };
    for (int i = 0; i < N; i++)
        rw_webhook_post(w, 3, alert_json(i), strlen(alert_json(i)));
    double dropped = metric_of(m, "riskwarn_webhook_total{result=\"dropped\"} ");
    hook_release(&rx);
    ck_assert_msg(dropped >= N - 2 * 20, "dropped %g", dropped);
    /* Down for a first POST and its retry at least. */
    ck_assert_msg(h_wait(hook_refused_twice, &rx, 20000), "no POST reached the target");
    pthread_mutex_lock(&rx.lock);
    rx.status = 200; /* the target is back */
    pthread_mutex_unlock(&rx.lock);
    hook_wait_t hw = {&rx, N};
    ck_assert_msg(h_wait(hook_accounted, &hw, 30000), "accounted for %ld of %d alerts",
                  accounted(&rx), N);
    rw_webhook_destroy(w, 5000);
    ck_assert_int_eq(accounted(&rx), N);
    /* The last digest shows the newest alert in full. */
    json_t *last = json_loads(rx.bodies[rx.n - 1], 0, NULL);
    ck_assert(json_is_true(json_object_get(last, "digest")));
    json_t *shown = json_object_get(last, "alerts");
    ck_assert_uint_ge(json_array_size(shown), 1);
    ck_assert_uint_le(json_array_size(shown), 10);
    char *newest = json_dumps(json_array_get(shown, json_array_size(shown) - 1), JSON_COMPACT);
    ck_assert_str_eq(newest, alert_json(N - 1));
    free(newest);
    json_decref(last);
    /* Every alert is counted: dropped from the queue, failed, or delivered. */
    ck_assert(metric_of(m, "riskwarn_webhook_total{result=\"failed\"} ") >= 1);
    ck_assert(metric_of(m, "riskwarn_webhook_total{result=\"dropped\"} ") +
                  metric_of(m, "riskwarn_webhook_total{result=\"failed\"} ") +
                  metric_of(m, "riskwarn_webhook_total{result=\"digested\"} ") +
                  metric_of(m, "riskwarn_webhook_total{result=\"sent\"} ") ==
              N);
    fflush(stderr);
    char *log = slurp(logpath);
    ck_assert_ptr_nonnull(log);
    int lines = 0;
    for (const char *l = log; (l = strstr(l, "dropped the oldest")); l++)
        lines++;
    ck_assert_msg(lines == 1, "%d drop lines, not one (rate-limited):\n%s", lines, log);
    ck_assert_ptr_nonnull(strstr(log, "the next digest reports the alerts dropped"));
    ck_assert_ptr_nonnull(strstr(log, "lost before it"));
    free(log);
    hook_stop(&rx);
    rw_metrics_destroy(m);
}
END_TEST

/* A burst against a target that is up: past digest_after waiting, alerts go as
 * digests (nothing lost), and each alert is delivered once. */
START_TEST(test_ops_webhook_digest_when_behind) {
    hook_rx_t rx;
    hook_start(&rx, 200);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/page", rx.port);
    rw_metrics_t *m = rw_metrics_new();
    rw_webhook_opts_t o = {url, 3, 2000, 1, 1000, NULL, NULL, 3};
    rw_error_t err;
    rw_error_clear(&err);
    rw_webhook_t *w = rw_webhook_new(&o, m, &err);
    enum { N = 300 };
    for (int i = 0; i < N; i++)
        rw_webhook_post(w, 3, alert_json(i), strlen(alert_json(i)));
    hook_wait_t hw = {&rx, N};
    ck_assert_msg(h_wait(hook_accounted, &hw, 30000), "accounted for %ld", accounted(&rx));
    rw_webhook_destroy(w, 5000);
    ck_assert_int_eq(accounted(&rx), N);
    ck_assert_int_lt(rx.n, N); /* some went as digests */
    ck_assert(metric_of(m, "riskwarn_webhook_total{result=\"dropped\"} ") == 0);
    ck_assert(metric_of(m, "riskwarn_webhook_total{result=\"sent\"} ") +
                  metric_of(m, "riskwarn_webhook_total{result=\"digested\"} ") ==
              N);
    for (int i = 0; i < rx.n; i++) {
        json_t *b = json_loads(rx.bodies[i], 0, NULL);
        if (json_is_true(json_object_get(b, "digest")))
            ck_assert_int_eq(json_integer_value(json_object_get(b, "dropped")), 0);
        json_decref(b);
    }
    hook_stop(&rx);
    rw_metrics_destroy(m);
}
END_TEST

/* The engine wires it from its config: a token from token_file, the secret from
 * RISKWARN_WEBHOOK_SECRET; the high alerts of a real run arrive signed. */
START_TEST(test_ops_engine_webhook_signed) {
    h_peers_t p;
    h_peers_start(&p);
    hook_rx_t rx;
    hook_start(&rx, 200);
    char token[256], cfg[4096];
    snprintf(token, sizeof(token), "%s", h_tmpfile(".token", "engine-t0ken\n"));
    snprintf(cfg, sizeof(cfg),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"ops-hook\"},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": null, \"rules\": \"tests/packs/windows.json\",\n"
             " \"webhook\": {\"url\": \"http://127.0.0.1:%d/page\", \"min_level\": \"high\",\n"
             "             \"token_file\": \"%s\", \"digest_after\": 1000}}\n",
             p.mock.bootstraps, p.redis.port, rx.port, token);
    const char *path = h_tmpfile(".json", cfg);
    pid_t eng = h_engine_start_env(path, h_path("engine-webhook.log"),
                                   "RISKWARN_WEBHOOK_SECRET=from the environment");
    rd_kafka_t *prod = h_producer(p.mock.bootstraps);
    ck_assert_int_gt(h_produce_events(prod, "data/demo/events.jsonl"), 0);
    rd_kafka_destroy(prod);
    hook_wait_t hw = {&rx, 3};
    ck_assert_msg(h_wait(hook_accounted, &hw, 60000), "no high alert reached the webhook");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);
    pthread_mutex_lock(&rx.lock);
    for (int i = 0; i < 3; i++) {
        ck_assert_pstr_eq(rx.auth[i], "Bearer engine-t0ken");
        char want[160];
        openssl_hmac("from the environment", rx.ts[i], rx.bodies[i], want, sizeof(want));
        ck_assert_pstr_eq(rx.sig[i], want);
        json_t *a = json_loads(rx.bodies[i], 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(a, "level")), "high");
        json_decref(a);
    }
    pthread_mutex_unlock(&rx.lock);
    hook_stop(&rx);
    h_peers_stop(&p);
}
END_TEST

/* ---- Redis over TLS --------------------------------------------------------------------- */

/* Replaces the first from in b's text (which must hold it) by to. */
static void replace(rw_buf_t *b, const char *from, const char *to) {
    const char *text = rw_buf_cstr(b);
    const char *at_from = strstr(text, from);
    ck_assert_msg(at_from != NULL, "the example no longer holds \"%s\"", from);
    rw_buf_t out;
    rw_buf_init(&out);
    rw_buf_append(&out, text, (size_t)(at_from - text));
    rw_buf_puts(&out, to);
    rw_buf_puts(&out, at_from + strlen(from));
    rw_buf_reset(b);
    rw_buf_append(b, out.data, out.len);
    rw_buf_fini(&out);
}

/* deploy/stunnel/redis-tls.conf, with this machine's ports and CA, lets the
 * engine's Redis connection (hiredis without TLS) reach a TLS-only
 * redis-server, verifying its certificate. */
START_TEST(test_ops_redis_tls_through_stunnel) {
    char dir[256], ca[300], accept[64], connect[64];
    snprintf(dir, sizeof(dir), "%s", h_path("tls-redis"));
    int tls_port, local = rw_proc_free_port();
    pid_t redis = h_redis_tls_start(dir, &tls_port);
    snprintf(ca, sizeof(ca), "CAfile = %s/c.pem", dir);
    snprintf(accept, sizeof(accept), "accept = 127.0.0.1:%d", local);
    snprintf(connect, sizeof(connect), "connect = 127.0.0.1:%d", tls_port);
    char *example = slurp("deploy/stunnel/redis-tls.conf");
    rw_buf_t conf;
    rw_buf_init(&conf);
    rw_buf_puts(&conf, example);
    free(example);
    replace(&conf, "accept = 127.0.0.1:6380", accept);
    replace(&conf, "connect = redis.example.internal:6379", connect);
    replace(&conf, "CAfile = /etc/riskwarn/tls/redis-ca.pem", ca);
    replace(&conf, "checkHost = redis.example.internal", "checkHost = localhost");
    const char *conf_path = h_tmpfile(".conf", rw_buf_cstr(&conf));
    rw_buf_fini(&conf);
    const char *log = h_path("stunnel.log");
    pid_t tunnel = fork();
    ck_assert_int_ge(tunnel, 0);
    if (tunnel == 0) {
        if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
            _exit(127);
        execlp("stunnel", "stunnel", conf_path, (char *)NULL);
        _exit(127);
    }
    ck_assert_msg(h_listening(local, 10000), "stunnel did not listen (%s)", log);
    rw_redis_opts_t ro = {"127.0.0.1", local, NULL, NULL, 0, "rw:", "ops", h_ms(5000), 0};
    rw_error_t err;
    rw_error_clear(&err);
    redisContext *rc = rw_store_redis_connect(&ro, &err);
    ck_assert_msg(rc != NULL, "%s", err.text);
    redisReply *r = redisCommand(rc, "SET rw:tls-check %s", "through stunnel");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "SET: %s", r ? r->str : rc->errstr);
    freeReplyObject(r);
    r = redisCommand(rc, "GET rw:tls-check");
    ck_assert(r && r->type == REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "through stunnel");
    freeReplyObject(r);
    redisFree(rc);
    kill(tunnel, SIGTERM);
    waitpid(tunnel, NULL, 0);
    kill(redis, SIGTERM);
    waitpid(redis, NULL, 0);
}
END_TEST

static Suite *ops_suite(void) {
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ops_json_log_routes_librdkafka);
    tcase_add_test(tc, test_ops_text_log_routes_librdkafka);
    tcase_add_test(tc, test_ops_json_record_escaping);
    tcase_add_test(tc, test_ops_webhook_token_and_signature);
    tcase_add_test(tc, test_ops_webhook_never_drops_in_silence);
    tcase_add_test(tc, test_ops_webhook_digest_when_behind);
    tcase_add_test(tc, test_ops_engine_webhook_signed);
    tcase_add_test(tc, test_ops_redis_tls_through_stunnel);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(ops_suite); }
