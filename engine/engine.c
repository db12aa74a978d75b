#include "engine.h"
#include "probe.h"

#include "alert.h"
#include "btrace.h"
#include "control.h"
#include "eval.h"
#include "expr.h"
#include "group.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"
#include "pseudonym.h"
#include "rcluster.h"
#include "rekey.h"
#include "ruleset.h"
#include "store.h"
#include "webhook.h"

#include <errno.h>
#include <hiredis.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Sets a property the engine chose. Returns 0, or RW_ERR_INPUT with err filled. */
static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, rw_error_t *err) {
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) == RD_KAFKA_CONF_OK)
        return 0;
    return rw_error_fail(err, RW_ERR_INPUT, "%s", e);
}

/* rd_kafka_new, with librdkafka's refusal (a configuration it does not take) in err. */
static rd_kafka_t *kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, rw_error_t *err) {
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, e, sizeof(e));
    if (!rk)
        rw_error_fail(err, RW_ERR_INPUT, "%s", e);
    return rk;
}

/* ---- outputs ------------------------------------------------------------------------ */

/* An output's state. FAILED: Kafka may take it later (produced again after a
 * backoff); REFUSED: Kafka will never take it as it is (too large, invalid):
 * it is made smaller, step by step, and produced again at once. */
enum { OUT_PENDING = 0, OUT_DONE = 1, OUT_FAILED = -1, OUT_REFUSED = -2 };

/* Room kept for a message's key, headers and framing under message.max.bytes. */
#define OUT_SLACK 4096
/* What a dead letter carries of a message too large to carry whole; after a
 * refusal, the smaller prefix, then none (the headers still say what it was). */
#define DEAD_PREFIX 65536
#define DEAD_PREFIX_MIN 4096

typedef struct out {
    const char *topic; /* borrowed from the config */
    char *key;         /* owned */
    char *value;       /* owned, or borrowed payload when dead-lettered */
    size_t len;
    bool own_value;
    /* Dead letters: what their headers say (the message itself stays until
     * its batch is done; the batch's items may be gone). */
    char *dead_error; /* owned; NULL: not a dead letter */
    const char *dead_topic;
    int32_t dead_partition;
    int64_t dead_offset;
    size_t dead_size;  /* the message's size when the value is a prefix of it; 0: whole */
    char *dead_sha256; /* owned: its digest then (hex) */
    int level;         /* alerts: their level */
    int status;
    int reduced;     /* times made smaller after a refusal */
    char *old_value; /* owned: the value before it was made smaller (a copy may point to it) */
} out_t;

/* A batch's outputs. */
typedef struct outs {
    out_t *v;
    size_t n, cap;
} outs_t;

/* A ruleset with its state and its topics. The live pipeline writes the alert,
 * high-alert and dead-letter topics; a shadow pipeline (a candidate ruleset
 * on the same messages) writes only its shadow topic, and keeps its state and
 * counters under its own key prefix. */
typedef struct pipeline {
    const char *name; /* "live" or "shadow" */
    rw_ruleset_t *rs; /* owned; NULL: the pipeline is off */
    rw_store_t *store;
    rw_batch_t *batch;
    const char *alert_topic, *high_topic, *dead_topic; /* NULL: not written */
    const char *source;                                /* where rs came from: "file" or "topic" */
    char signer[80];                                   /* the key id that signed it, or "" */
    bool forget;       /* partitions moved: the kept state may be stale */
    rw_rekey_t *rekey; /* borrowed: names the sources of re-keyed copies; NULL: none */
    long long n_alerts, n_dead;
} pipeline_t;

/* Batches stored in Redis whose alerts Kafka has not all acknowledged: they
 * are committed in order as their acknowledgements come. At most this many
 * wait; the next one waits for the oldest. */
#define ACKS_MAX 8

/* A live batch whose Redis write or Kafka acknowledgements are in flight
 * while the next batch is read. */
typedef struct inflight {
    rd_kafka_message_t **msgs; /* NULL: none; owned, with the messages */
    ssize_t n;
    rd_kafka_topic_partition_list_t *offs; /* owned: committed once done */
    int batch;                             /* its number, counted from 1 */
    int64_t min_ts_ms;                     /* its earliest event time; 0: none */
    outs_t outs;                           /* its alerts and dead letters */
    rw_backoff_t backoff;                  /* before producing refused ones again */
    int64_t retry_at;                      /* then (monotonic ms); 0: not waiting */
} inflight_t;

typedef struct engine {
    const rw_config_t *cfg;
    rw_engine_ctl_t *ctl;
    atomic_int *stop;
    pipeline_t live, shadow;
    char *shadow_topic;
    rd_kafka_t *consumer, *producer, *control;
    rd_kafka_queue_t *queue;
    /* Handles of the topics the producer writes, held from the start so that their
     * metadata is known before the first alert (topic_warm). */
    rd_kafka_topic_t *out_rkts[8];
    size_t n_out_rkts;
    outs_t cur;                /* the outputs of the batch in hand */
    inflight_t fly;            /* the batch whose Redis write is in flight */
    inflight_t acks[ACKS_MAX]; /* stored batches waiting for Kafka, oldest first */
    size_t n_acks;
    /* The earliest event times of the batches of the last commits: commits go
     * out without waiting, so a crash may still read those batches again. */
    int64_t committed_min_ts[ACKS_MAX];
    size_t committed_next;
    /* Offsets stored since the last commit (kafka.commit_interval_ms): the earliest event
     * time of their batches, and when the last commit went out (commit_pending: any). */
    int64_t pending_min_ts;
    int64_t commit_at;
    long long n_msgs;
    rw_metrics_t *metrics;
    rw_webhook_t *webhook;
    rw_rekey_t *rekey; /* NULL: no input is re-keyed */
    int64_t lag_at;    /* when consumer lag was last measured */
    /* Health (monotonic ms): when a broker was last up, when the engine last
     * held partitions or was a settled member of its group, when Redis last
     * took a write or answered PING, and when it was last asked. */
    int64_t kafka_up_at, group_ok_at, redis_ok_at, redis_ping_at;
    int64_t state_lost_at; /* when Redis was last found to have lost the state; 0: never */
    int session_timeout_ms;
    void *health_redis;  /* rw_rcluster_t for PING while idle (one server or a cluster) */
    size_t out_max;      /* the largest output the producer sends (message.max.bytes, less slack) */
    bool quiet;          /* catching up with the control topic at start-up: no audit records */
    bool fatal;          /* a Kafka client failed for good: stop, exit 1 */
    bool commit_pending; /* offsets stored since the last commit */
    /* The ruleset control path (control.h): the keys of signed control messages, the
     * key SIGHUP signs with, the limits, the last live version taken from the control
     * topic (versions only grow along it), and what the group's other engines run. */
    rw_keys_t *keys;     /* NULL: every control message is refused */
    rw_signer_t *signer; /* NULL: SIGHUP is refused */
    rw_ruleset_limits_t limits;
    char *topic_version;  /* NULL: nothing taken from the topic yet */
    const char *key_id;   /* the signer of the control message being applied */
    char engine_id[300];  /* host/pid, in audit records and heartbeats */
    char file_sha[65];    /* the rules file as last read (start-up, or published on SIGHUP) */
    rw_group_t *group;    /* the other engines' heartbeats */
    rd_kafka_t *peers;    /* reads them on the audit topic */
    bool peers_assigned;  /* its partitions are assigned */
    int64_t peers_at;     /* when to try assigning them next (monotonic ms) */
    int peers_backoff;    /* ms between tries: 1 s doubling to 30 s */
    int64_t heartbeat_at; /* when the next heartbeat is due (monotonic ms) */
    size_t disagreeing;   /* engines found running another live ruleset */
    /* Fault injection for tests (RW_TEST_DIE="after-publish:N", "after-write:N" or
     * "before-commit:N"): the process dies at that point of its Nth batch, as if killed. */
    int die_where, die_batch, batches;
} engine_t;

enum { DIE_NONE, DIE_AFTER_PUBLISH, DIE_BEFORE_COMMIT, DIE_AFTER_WRITE };

/* batch: the number of the batch at that point (the one in flight may be one
 * behind the one being read). */
static void die_maybe(engine_t *e, int where, int batch) {
    if (e->die_where == where && batch == e->die_batch) {
        rw_log(RW_LOG_WARN, "RW_TEST_DIE: dying %s batch %d",
               where == DIE_AFTER_PUBLISH ? "after publishing"
               : where == DIE_AFTER_WRITE ? "after storing, before publishing"
                                          : "before committing",
               batch);
        _exit(137);
    }
}

/* Errors after which Kafka will never take the message as it is. Anything
 * else (brokers away, leaders moving, timeouts, authorisation not yet
 * granted) may pass later. */
static bool out_refused(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
        return true;
    default:
        return false;
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    int *status = m->_private;
    if (status)
        *status = !m->err ? OUT_DONE : out_refused(m->err) ? OUT_REFUSED : OUT_FAILED;
    static rw_ratelimit_t rl;
    if (m->err)
        rw_log_limited(&rl, RW_LOG_WARN, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                       rd_kafka_err2str(m->err));
}

static size_t outs_wait(engine_t *e, outs_t *os);

static void outs_release(outs_t *os) {
    for (size_t i = 0; i < os->n; i++) {
        free(os->v[i].key);
        free(os->v[i].dead_error);
        free(os->v[i].dead_sha256);
        free(os->v[i].old_value);
        if (os->v[i].own_value)
            free(os->v[i].value);
    }
    os->n = 0;
}

/* Forgets the outputs, after waiting for any still in flight: their delivery
 * reports write into them. */
static void outs_clear(engine_t *e, outs_t *os) {
    outs_wait(e, os);
    outs_release(os);
}

/* Frees the outputs once no delivery report can come for them: after they
 * were acknowledged (e non-NULL: waits for that), or after the producer is
 * gone (e NULL). */
static void outs_free(engine_t *e, outs_t *os) {
    if (e)
        outs_wait(e, os);
    outs_release(os);
    free(os->v);
    memset(os, 0, sizeof(*os));
}

static out_t *out_add(outs_t *os, const char *topic) {
    if (os->n == os->cap) {
        os->cap = os->cap ? os->cap * 2 : 256;
        os->v = rw_realloc(os->v, os->cap * sizeof(*os->v));
    }
    out_t *o = &os->v[os->n++];
    memset(o, 0, sizeof(*o));
    o->topic = topic;
    return o;
}

/* The same alert again, to another topic (the value stays owned by o). */
static void out_copy(outs_t *os, const out_t *o, const char *topic) {
    size_t at = (size_t)(o - os->v);
    out_t *h = out_add(os, topic); /* may move os->v */
    o = &os->v[at];
    h->value = o->value;
    h->len = o->len;
    h->key = rw_strdup(o->key);
}

/* A dead letter carries at most keep bytes of its message, with the message's
 * size and SHA-256 in its headers. */
static void dead_truncate(out_t *o, size_t keep) {
    if (!o->dead_size) {
        uint8_t d[32];
        o->dead_size = o->len;
        rw_sha256(o->value, o->len, d);
        o->dead_sha256 = rw_malloc(65);
        rw_hex(d, 32, o->dead_sha256);
    }
    if (o->len > keep)
        o->len = keep;
}

/* An alert without its event: the builders write the event last, after the
 * rules array. Returns a new string, or NULL when there is none to leave out. */
static char *alert_without_event(const char *v, size_t len, size_t *out_len) {
    static const char mark[] = "],\"event\":";
    const char *at = memmem(v, len, mark, sizeof(mark) - 1);
    if (!at)
        return NULL;
    size_t head = (size_t)(at - v) + sizeof(mark) - 1;
    rw_buf_t b;
    rw_buf_init(&b);
    rw_buf_append(&b, v, head);
    rw_buf_printf(&b, "{\"omitted\":\"larger than Kafka takes\",\"bytes\":%zu}}", len - head - 1);
    *out_len = b.len;
    return rw_buf_take(&b);
}

/* Makes an output Kafka refused smaller: a dead letter carries a prefix of its
 * message, then none; an alert leaves its event out. Returns false when there
 * is nothing smaller left to try. */
static bool out_reduce(out_t *o) {
    o->reduced++;
    if (o->dead_error) {
        if (o->reduced > 2)
            return false;
        dead_truncate(o, o->reduced == 1 ? DEAD_PREFIX_MIN : 0);
        return true;
    }
    size_t n;
    char *v = o->reduced == 1 ? alert_without_event(o->value, o->len, &n) : NULL;
    if (!v)
        return false;
    if (o->own_value) {
        free(o->old_value);
        o->old_value = o->value;
    }
    o->value = v;
    o->len = n;
    o->own_value = true;
    return true;
}

static void outs_build(outs_t *os, pipeline_t *p, size_t max) {
    rw_batch_t *b = p->batch;
    int64_t now = rw_now_ms();
    for (size_t i = 0; i < b->n_items; i++) {
        const rw_item_t *it = &b->items[i];
        if (it->error[0]) {
            if (!p->dead_topic)
                continue;
            out_t *o = out_add(os, p->dead_topic);
            o->value = RW_UNCONST(char *, it->msg.payload); /* not own_value: never freed */
            o->len = it->msg.len;
            o->dead_error = rw_strdup(it->error);
            o->dead_topic = it->msg.topic;
            o->dead_partition = it->msg.partition;
            o->dead_offset = it->msg.offset;
            if (o->len > max)
                dead_truncate(o, max < DEAD_PREFIX ? max : DEAD_PREFIX);
            continue;
        }
        if (it->level == RW_LEVEL_NONE)
            continue;
        char *alert = rw_alert_build(b, it, now);
        char *key = rw_alert_key(b, it);
        out_t *o = out_add(os, p->alert_topic);
        o->value = alert;
        o->len = strlen(alert);
        o->own_value = true;
        o->key = key;
        o->level = it->level;
        if (o->len > max)
            out_reduce(o);
        if (it->level == RW_LEVEL_HIGH && p->high_topic)
            out_copy(os, o, p->high_topic);
    }
    for (size_t i = 0; i < b->n_case_alerts; i++) {
        const rw_case_alert_t *ca = &b->case_alerts[i];
        out_t *o = out_add(os, p->alert_topic);
        o->value = rw_alert_case_build(b, ca, now);
        o->len = strlen(o->value);
        o->own_value = true;
        o->key = rw_alert_case_key(b, ca);
        o->level = ca->level;
        if (o->len > max)
            out_reduce(o);
        if (ca->level == RW_LEVEL_HIGH && p->high_topic)
            out_copy(os, o, p->high_topic);
    }
}

/* Counts what a finished batch sent, for the log. */
static void outs_count(const outs_t *os, pipeline_t *p) {
    for (size_t i = 0; i < os->n; i++) {
        if (os->v[i].dead_error)
            p->n_dead++;
        else if (os->v[i].topic == p->alert_topic)
            p->n_alerts++;
    }
}

static rd_kafka_headers_t *dead_headers(const out_t *o) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(7);
    char num[32];
    rd_kafka_header_add(h, "rw.error", -1, o->dead_error, -1);
    rd_kafka_header_add(h, "rw.topic", -1, o->dead_topic, -1);
    snprintf(num, sizeof(num), "%d", (int)o->dead_partition);
    rd_kafka_header_add(h, "rw.partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)o->dead_offset);
    rd_kafka_header_add(h, "rw.offset", -1, num, -1);
    if (o->dead_size) { /* the value is a prefix of the message */
        snprintf(num, sizeof(num), "%zu", o->dead_size);
        rd_kafka_header_add(h, "rw.size", -1, num, -1);
        rd_kafka_header_add(h, "rw.sha256", -1, o->dead_sha256, -1);
        snprintf(num, sizeof(num), "%zu", o->len);
        rd_kafka_header_add(h, "rw.prefix", -1, num, -1);
    }
    return h;
}

/* Retries back off from 100 ms to 5 s, with jitter. */
#define BACKOFF_INIT                                                                               \
    { 100, 5000, 0, 0 }

/* Waits ms, serving the producer. Also when asked to stop: the stop grace
 * bounds the retries, and a retry loop must not spin meanwhile. */
static void backoff_wait(engine_t *e, int ms) {
    int64_t until = rw_monotonic_ms() + ms;
    while (rw_monotonic_ms() < until)
        rd_kafka_poll(e->producer, 50);
}

/* An output Kafka refuses even at its smallest: counted, logged, and let go,
 * so that it cannot hold its partitions up. */
static void out_drop(engine_t *e, out_t *o) {
    static rw_ratelimit_t rl;
    o->status = OUT_DONE;
    rw_metrics_add(e->metrics, "riskwarn_outputs_dropped_total",
                   o->dead_error ? "kind=\"deadletter\"" : "kind=\"alert\"", 1);
    if (o->dead_error)
        rw_log_limited(&rl, RW_LOG_ERROR,
                       "dead letter of %s/%d/%lld dropped: Kafka refuses it even without the "
                       "message's bytes",
                       o->dead_topic, (int)o->dead_partition, (long long)o->dead_offset);
    else
        rw_log_limited(&rl, RW_LOG_ERROR,
                       "alert to %s dropped: Kafka refuses it even without its "
                       "event",
                       o->topic);
}

/* Hands every output not yet delivered to the producer (waiting for room when
 * its queue is full: backpressure, not drops). */
/* Hands o (with the headers h, which librdkafka owns once it is queued) to the
 * producer, its status as the opaque. Returns librdkafka's error. */
static rd_kafka_resp_err_t out_produce(engine_t *e, out_t *o, rd_kafka_headers_t *h) {
    return rd_kafka_producev(
        e->producer, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(o->value, o->len), RD_KAFKA_V_KEY(o->key, o->key ? strlen(o->key) : 0),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&o->status), RD_KAFKA_V_END);
}

/* Produces o, waiting for room in the queue and making a refused output
 * smaller until it fits or is dropped. Returns how many times it waited. */
static long out_enqueue(engine_t *e, out_t *o, rw_ratelimit_t *rl) {
    long waits = 0;
    for (;;) {
        if (o->status == OUT_REFUSED && !out_reduce(o)) {
            out_drop(e, o);
            return waits;
        }
        o->status = OUT_PENDING;
        rd_kafka_headers_t *h = o->dead_error ? dead_headers(o) : NULL;
        rd_kafka_resp_err_t err = out_produce(e, o, h);
        if (!err)
            return waits;
        if (h)
            rd_kafka_headers_destroy(h);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(e->producer, 100); /* backpressure: wait for room */
            waits++;
            continue;
        }
        rw_log_limited(rl, RW_LOG_WARN, "produce to %s: %s", o->topic, rd_kafka_err2str(err));
        o->status = out_refused(err) ? OUT_REFUSED : OUT_FAILED;
        if (o->status == OUT_FAILED)
            return waits;
    }
}

static void outs_enqueue(engine_t *e, outs_t *os) {
    static rw_ratelimit_t rl;
    long waits = 0;
    for (size_t i = 0; i < os->n; i++) {
        out_t *o = &os->v[i];
        if (o->status == OUT_DONE)
            continue;
        waits += out_enqueue(e, o, &rl);
    }
    if (waits)
        rw_log(RW_LOG_INFO, "producer queue full: waited %ld times for room (backpressure)", waits);
}

/* How many outputs are still waiting for their acknowledgement; *failed: how
 * many failed or were refused. */
static size_t outs_pending(const outs_t *os, size_t *failed) {
    size_t pending = 0;
    *failed = 0;
    for (size_t i = 0; i < os->n; i++) {
        pending += os->v[i].status == OUT_PENDING;
        *failed += os->v[i].status == OUT_FAILED || os->v[i].status == OUT_REFUSED;
    }
    return pending;
}

/* Whether some output failed in a way that may pass later (it waits for a
 * backoff; refused ones are made smaller and produced again at once). */
static bool outs_retriable(const outs_t *os) {
    for (size_t i = 0; i < os->n; i++)
        if (os->v[i].status == OUT_FAILED)
            return true;
    return false;
}

/* Waits for every acknowledgement. Returns the number that failed. */
static size_t outs_wait(engine_t *e, outs_t *os) {
    size_t failed;
    while (outs_pending(os, &failed))
        rd_kafka_poll(e->producer, 100);
    return failed;
}

/* ---- the batch ------------------------------------------------------------------------ */

/* Gives up on a batch only when asked to stop and the outage lasts past this. */
#define STOP_GRACE_MS 10000

/* A fatal Kafka error (a fenced group.instance.id, an idempotent producer
 * that cannot go on): the client is unusable, so the engine stops (its
 * supervisor restarts it) rather than retry. Logged once. */
static bool kafka_fatal(engine_t *e) {
    rd_kafka_t *clients[2] = {e->consumer, e->producer};
    for (int i = 0; i < 2; i++) {
        char why[512];
        if (clients[i] && rd_kafka_fatal_error(clients[i], why, sizeof(why))) {
            if (!atomic_exchange(e->stop, 1))
                rw_log(RW_LOG_ERROR, "kafka %s: fatal error: %s; stopping",
                       i ? "producer" : "consumer", why);
            e->fatal = true;
            return true;
        }
    }
    return false;
}

static bool gave_up(engine_t *e, int64_t *stop_seen) {
    if (kafka_fatal(e))
        return true;
    if (!atomic_load(e->stop))
        return false;
    if (!*stop_seen)
        *stop_seen = rw_monotonic_ms();
    return rw_monotonic_ms() - *stop_seen > STOP_GRACE_MS;
}

/* Waits until every output is acknowledged, producing failed ones again with
 * backoff. Returns 0, or -1 when asked to stop and Kafka stays away. */
static int outs_deliver(engine_t *e, outs_t *os, int64_t *stop_seen) {
    rw_backoff_t backoff = BACKOFF_INIT;
    static rw_ratelimit_t rl;
    size_t failed;
    while ((failed = outs_wait(e, os)) > 0) {
        if (!outs_retriable(os)) {
            outs_enqueue(e, os);
            continue;
        }
        int ms = rw_backoff_next(&backoff);
        rw_log_limited(&rl, RW_LOG_WARN, "alerts not acknowledged; producing again in %d ms", ms);
        rw_metrics_add(e->metrics, "riskwarn_kafka_errors_total", "", (double)failed);
        if (gave_up(e, stop_seen))
            return -1;
        backoff_wait(e, ms);
        outs_enqueue(e, os);
    }
    return 0;
}

/* The reasons a message is dead-lettered, as a bounded label: the first words
 * of its rw.error header. */
static const char *const dead_reasons[][2] = {
    {"oversize", "oversize"},       {"invalid JSON", "invalid_json"},
    {"not a JSON", "not_object"},   {"missing required", "missing_field"},
    {"event_id:", "invalid_field"}, {"type:", "invalid_field"},
    {"ts:", "invalid_field"},       {"future_timestamp", "future_timestamp"},
    {"schema:", "schema"},          {NULL, "other"}};

static const char *dead_reason(const char *error) {
    size_t i = 0;
    for (; dead_reasons[i][0]; i++)
        if (strncmp(error, dead_reasons[i][0], strlen(dead_reasons[i][0])) == 0)
            break;
    return dead_reasons[i][1];
}

/* Counts a finished live batch into the metrics: once per message, as the
 * Redis counters do. */
static void metrics_batch(engine_t *e, const rw_batch_t *b) {
    rw_metrics_t *m = e->metrics;
    char lab[600], v[256];
    /* The batch's counter increments count what the metrics count, once per
     * message applied: summed over their dates here. */
    for (const rw_incr_t *c = b->incrs; c; c = c->next) {
        const char *k = c->key, *date = strrchr(k, ':');
        rw_metrics_label(v, sizeof(v), c->field);
        if (strncmp(k, "events:", 7) == 0 && strcmp(c->field, "deadletter") == 0) {
            continue; /* by reason, from the items below */
        } else if (strncmp(k, "events:", 7) == 0) {
            snprintf(lab, sizeof(lab), "type=\"%s\"", v);
            rw_metrics_add(m, "riskwarn_events_total", lab, (double)c->by);
        } else if (strncmp(k, "alerts:", 7) == 0) {
            snprintf(lab, sizeof(lab), "level=\"%s\"", v);
            rw_metrics_add(m, "riskwarn_alerts_total", lab, (double)c->by);
        } else if (strncmp(k, "suppressed:", 11) == 0) {
            snprintf(lab, sizeof(lab), "rule=\"%s\"", v);
            rw_metrics_add(m, "riskwarn_suppressed_total", lab, (double)c->by);
        } else if (strncmp(k, "rule:", 5) == 0 && date && date > k + 5) {
            char rule[256], rl[256];
            snprintf(rule, sizeof(rule), "%.*s", (int)(date - k - 5), k + 5);
            rw_metrics_label(rl, sizeof(rl), rule);
            snprintf(lab, sizeof(lab), "rule=\"%s\",level=\"%s\"", rl, v);
            rw_metrics_add(m, "riskwarn_rule_hits_total", lab, (double)c->by);
        }
    }
    /* Events rules matched but could not score, by rule and reason. */
    for (size_t k = 0; k < b->n_skips && k / RW_SKIP_REASONS < b->rs->n_rules; k++) {
        if (!b->skips[k])
            continue;
        char rl[256];
        rw_metrics_label(rl, sizeof(rl), b->rs->rules[k / RW_SKIP_REASONS].id);
        snprintf(lab, sizeof(lab), "rule=\"%s\",reason=\"%s\"", rl,
                 rw_expr_skip_name((int)(k % RW_SKIP_REASONS)));
        rw_metrics_add(m, "riskwarn_rule_skipped_total", lab, (double)b->skips[k]);
    }
    int64_t now = rw_now_ms();
    for (size_t i = 0; i < b->n_items; i++) {
        const rw_item_t *it = &b->items[i];
        if (!it->applied && it->error[0]) {
            snprintf(lab, sizeof(lab), "reason=\"%s\"", dead_reason(it->error));
            rw_metrics_add(m, "riskwarn_deadletters_total", lab, 1);
        }
        if (!it->applied && it->level != RW_LEVEL_NONE && it->msg.kafka_ts_ms > 0 &&
            now >= it->msg.kafka_ts_ms)
            rw_metrics_observe(m, "riskwarn_event_to_alert_seconds",
                               (double)(now - it->msg.kafka_ts_ms) / 1000.0);
    }
}

/* Measures consumer lag per assigned partition, from librdkafka's cached
 * watermarks: cheap, and done at most once a second. */
static void metrics_lag(engine_t *e) {
    int64_t now = rw_monotonic_ms();
    if (now - e->lag_at < 1000)
        return;
    e->lag_at = now;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(e->consumer, &parts) || !parts)
        return;
    rd_kafka_position(e->consumer, parts);
    rw_metrics_clear(e->metrics, "riskwarn_consumer_lag");
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (rd_kafka_get_watermark_offsets(e->consumer, p->topic, p->partition, &lo, &hi))
            continue;
        int64_t pos = p->offset >= 0 ? p->offset : lo;
        char lab[400], v[256];
        rw_metrics_label(v, sizeof(v), p->topic);
        snprintf(lab, sizeof(lab), "topic=\"%s\",partition=\"%d\"", v, (int)p->partition);
        rw_metrics_set(e->metrics, "riskwarn_consumer_lag", lab, (double)(hi > pos ? hi - pos : 0));
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

static void metrics_rulesets(engine_t *e) {
    rw_metrics_clear(e->metrics, "riskwarn_ruleset_info");
    const pipeline_t *ps[2] = {&e->live, &e->shadow};
    for (int i = 0; i < 2; i++) {
        if (!ps[i]->rs)
            continue;
        char lab[800], n[256], v[256];
        rw_metrics_label(n, sizeof(n), ps[i]->rs->name);
        rw_metrics_label(v, sizeof(v), ps[i]->rs->version);
        snprintf(lab, sizeof(lab), "target=\"%s\",ruleset=\"%s\",version=\"%s\",sha256=\"%s\"",
                 ps[i]->name, n, v, ps[i]->rs->sha256);
        rw_metrics_set(e->metrics, "riskwarn_ruleset_info", lab, 1);
    }
    /* Each live rule's hits exist at 0 from its load, at every level. */
    for (size_t r = 0; e->live.rs && r < e->live.rs->n_rules; r++) {
        char lab[600], rl[256];
        rw_metrics_label(rl, sizeof(rl), e->live.rs->rules[r].id);
        for (int l = 1; l < RW_LEVELS; l++) {
            snprintf(lab, sizeof(lab), "rule=\"%s\",level=\"%s\"", rl, rw_level_name(l));
            rw_metrics_add(e->metrics, "riskwarn_rule_hits_total", lab, 0);
        }
    }
}

/* Every series whose labels are known in advance exists from start-up, at 0. */
static void metrics_start(engine_t *e) {
    rw_metrics_t *m = e->metrics;
    char lab[400];
    snprintf(lab, sizeof(lab),
             "version=\"%s\",librdkafka=\"%s\",jansson=\"%s\",hiredis=\"%d.%d.%d\"", RW_VERSION,
             rd_kafka_version_str(), JANSSON_VERSION, HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    rw_metrics_set(m, "riskwarn_build_info", lab, 1);
    for (int l = 1; l < RW_LEVELS; l++) {
        snprintf(lab, sizeof(lab), "level=\"%s\"", rw_level_name(l));
        rw_metrics_add(m, "riskwarn_alerts_total", lab, 0);
    }
    for (size_t i = 0; i == 0 || dead_reasons[i - 1][0]; i++) {
        snprintf(lab, sizeof(lab), "reason=\"%s\"", dead_reasons[i][1]);
        rw_metrics_add(m, "riskwarn_deadletters_total", lab, 0);
    }
    static const char *const plain[] = {
        "riskwarn_redis_errors_total", "riskwarn_kafka_errors_total",
        "riskwarn_state_evictions_total", "riskwarn_state_lost_total", NULL};
    for (size_t i = 0; plain[i]; i++)
        rw_metrics_add(m, plain[i], "", 0);
}

/* librdkafka's statistics, every second on the engine's thread: whether any
 * broker is up, and whether the engine holds partitions or is a settled
 * member of its group. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    engine_t *e = opaque;
    json_t *st = json_loadb(json, len, 0, NULL);
    if (!st)
        return 0;
    int64_t now = rw_monotonic_ms();
    const char *name;
    json_t *br;
    json_object_foreach(json_object_get(st, "brokers"), name, br) {
        if (strcmp(json_string_value(json_object_get(br, "state")) ?: "", "UP") == 0)
            e->kafka_up_at = now;
    }
    char why[300];
    bool kafka_ok = now - e->kafka_up_at <= 3000;
    snprintf(why, sizeof(why), "no broker reachable for %lld s (%s)",
             (long long)(now - e->kafka_up_at) / 1000, e->cfg->brokers);
    rw_metrics_health_set(e->metrics, RW_HEALTH_KAFKA, kafka_ok, why);
    if (strcmp(json_string_value(json_object_get(st, "type")) ?: "", "consumer") != 0) {
        json_decref(st); /* the producer's: brokers only */
        return 0;
    }

    json_t *cg = json_object_get(st, "cgrp");
    const char *state = json_string_value(json_object_get(cg, "state")) ?: "?";
    const char *join = json_string_value(json_object_get(cg, "join_state")) ?: "?";
    json_int_t parts = json_integer_value(json_object_get(cg, "assignment_size"));
    if (parts > 0 || (strcmp(state, "up") == 0 && strcmp(join, "steady") == 0))
        e->group_ok_at = now;
    snprintf(why, sizeof(why),
             "no partitions for %lld s, longer than session.timeout.ms (%d ms), and not a "
             "settled member of group %s (state %s, join state %s)",
             (long long)(now - e->group_ok_at) / 1000, e->session_timeout_ms, e->cfg->group_id,
             state, join);
    rw_metrics_health_set(e->metrics, RW_HEALTH_PARTITIONS,
                          now - e->group_ok_at <= e->session_timeout_ms, why);
    json_decref(st);
    return 0;
}

/* While no batch writes to Redis, asks it with PING at most once a second:
 * an engine that could not write its state is not healthy even when idle. */
static void health_redis(engine_t *e) {
    int64_t now = rw_monotonic_ms();
    /* A loss of the state stays on /healthz for a while after the restore:
     * what Redis held alone (counters) needs `riskwarn rebuild`. */
    if (e->state_lost_at && now - e->state_lost_at >= (int64_t)2 * 60000) {
        e->state_lost_at = 0;
        rw_metrics_health_set(e->metrics, RW_HEALTH_STATE, true, NULL);
    }
    if (now - e->redis_ok_at < 2000 || now - e->redis_ping_at < 1000)
        return;
    e->redis_ping_at = now;
    const rw_config_t *c = e->cfg;
    char err[512] = "";
    if (!e->health_redis) {
        rw_redis_opts_t ro = {.host = c->redis_host,
                              .port = c->redis_port,
                              .unix_socket = c->redis_unix_socket,
                              .password = c->redis_password,
                              .db = c->redis_db,
                              .prefix = c->redis_key_prefix,
                              .group = c->group_id,
                              .timeout_ms = 1000};
        e->health_redis = rw_store_redis_open(&ro, (const char *const *)c->redis_cluster_nodes,
                                              c->n_redis_cluster_nodes);
    }
    redisReply *r = rw_rcluster_command(e->health_redis, NULL, "PING");
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok) /* the client connects again by itself */
        snprintf(err, sizeof(err), "PING: %s",
                 r && r->str ? r->str : rw_rcluster_error(e->health_redis));
    if (r)
        freeReplyObject(r);
    if (ok)
        e->redis_ok_at = now;
    rw_metrics_health(e->metrics, ok, err);
}

/* Messages parsed between two steps of a batch's plan: each is planned while what its
 * parse wrote is still in the cache (a large batch's events are not, once all are parsed). */
#define PLAN_EVERY 64

/* Reads a batch of messages into the pipeline's batch: parse and plan. The
 * kept state is forgotten first when partitions moved. */
static void pipeline_prepare(pipeline_t *p, rd_kafka_message_t **msgs, ssize_t n) {
    rw_batch_t *b = p->batch;
    rw_batch_reset(b, p->rs);
    if (p->forget) {
        rw_batch_forget_state(b);
        p->forget = false;
    }
    int64_t arrival = rw_now_ms();
    for (ssize_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        if (m->err)
            continue;
        rd_kafka_timestamp_type_t tstype;
        int64_t kts = rd_kafka_message_timestamp(m, &tstype);
        rw_msg_t msg = {
            rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->payload, m->len, arrival,
            kts > 0 ? kts : 0,           m->key,       m->key_len};
        rw_rekey_source(p->rekey, m, &msg.topic, &msg.partition, &msg.offset);
        rw_batch_add(b, &msg);
        if (b->n_items % PLAN_EVERY == 0)
            rw_batch_plan_some(b);
    }
    if (b->n_items)
        rw_batch_plan(b);
}

/* The earliest event time of a batch's messages (0: none). */
static int64_t batch_min_ts(const rw_batch_t *b) {
    int64_t min = 0;
    for (size_t i = 0; i < b->n_items; i++) {
        int64_t ts = b->items[i].ts_ms;
        if (b->items[i].event && ts > 0 && (!min || ts < min))
            min = ts;
    }
    return min;
}

/* The earliest event time of the messages a crash may read again: the
 * batch in hand's, those stored and waiting, those whose offsets are not
 * committed yet, and those committed last. */
static int64_t hold_from(const engine_t *e, const rw_batch_t *b) {
    int64_t min = batch_min_ts(b);
    const int64_t *more[3 + 2 * ACKS_MAX];
    size_t n = 0;
    more[n++] = &e->pending_min_ts;
    if (e->fly.msgs)
        more[n++] = &e->fly.min_ts_ms;
    for (size_t i = 0; i < e->n_acks; i++)
        more[n++] = &e->acks[i].min_ts_ms;
    for (size_t i = 0; i < ACKS_MAX; i++)
        more[n++] = &e->committed_min_ts[i];
    for (size_t i = 0; i < n; i++)
        if (*more[i] > 0 && (!min || *more[i] < min))
            min = *more[i];
    return min;
}

/* Logs a failed read or write of the state (rc, and err as the store filled
 * it) and waits before the next try. Returns -1 when asked to stop and the
 * outage lasts. */
static int store_failed(engine_t *e, pipeline_t *p, int rc, const rw_error_t *err,
                        rw_backoff_t *backoff, int64_t *stop_seen) {
    if (rc == RW_ERR_CONFLICT) {
        rw_log(RW_LOG_INFO, "%s: partition fence moved (rebalance): re-evaluating the batch",
               p->name);
        return 0;
    }
    if (rc ==
        RW_ERR_STATE_LOST) { /* the metric and /healthz first: the log line is the last word */
        e->state_lost_at = rw_monotonic_ms();
        rw_metrics_health_set(e->metrics, RW_HEALTH_STATE, false, err->text);
        if (p->store->restored)
            rw_metrics_add(e->metrics, "riskwarn_state_lost_total", "", 1);
        rw_log(RW_LOG_ERROR, "%s: %s", p->name, err->text);
        if (p->store->restored)
            return 0;
    }
    static rw_ratelimit_t rl;
    int ms = rw_backoff_next(backoff);
    rw_log_limited(&rl, RW_LOG_WARN, "%s: %s; retrying in %d ms", p->name, err->text, ms);
    rw_metrics_add(e->metrics, "riskwarn_redis_errors_total", "", 1);
    rw_metrics_health(e->metrics, false, err->text);
    if (gave_up(e, stop_seen))
        return -1;
    backoff_wait(e, ms);
    return 0;
}

/* Hands the evaluated batch's alerts and dead letters to the producer. With the batch's
 * cases or cool-downs behind an alert (their state is not derived again once stored), waits
 * for Kafka to take them. Returns 0, or -1 when asked to stop while Kafka stays away. */
static int pipeline_outputs(engine_t *e, pipeline_t *p, int64_t *stop_seen) {
    rw_batch_t *b = p->batch;
    outs_clear(e, &e->cur);
    outs_build(&e->cur, p, e->out_max);
    outs_enqueue(e, &e->cur);
    rw_btrace_outputs((long)e->cur.n);
    rw_btrace_mark(RW_BT_PRODUCED);
    if ((b->n_case_alerts || b->state_alerts) && outs_deliver(e, &e->cur, stop_seen) != 0)
        return -1;
    return 0;
}

/* The crash test's death after a batch's write is stored and before its alerts go out. */
static void die_after_write(engine_t *e, pipeline_t *p) {
    if (e->die_where != DIE_AFTER_WRITE || e->batches != e->die_batch)
        return;
    rw_error_t err;
    rw_error_clear(&err);
    if (p->store->apply_wait(p->store, &err) == 0)
        die_maybe(e, DIE_AFTER_WRITE, e->batches);
}

/* Reads the state the planned batch needs, evaluates it, publishes its
 * alerts and writes its state: at once (async false), or sent for
 * apply_wait() to collect (async true). Returns 0, or -1 when asked to stop
 * while Redis or Kafka stays away.
 *
 * A batch whose alerts its messages give again (no case, no cool-down) is
 * written first when the write is collected later: Redis runs it while the
 * alerts are written and handed to the producer. A crash in between reads the
 * messages again (their offsets wait for the write and for Kafka) and
 * publishes the same alerts, with the same ids, from the same windows. Case
 * alerts and cool-down decisions are not derived again once their state is
 * stored, so such a batch's alerts go out first, and it waits for Kafka to
 * take them before Redis; other batches let Kafka's acknowledgements overlap
 * the Redis write. */
static int pipeline_publish(engine_t *e, pipeline_t *p, bool async, int64_t *stop_seen) {
    rw_batch_t *b = p->batch;
    rw_backoff_t backoff = BACKOFF_INIT;
    b->hold_from_ms = hold_from(e, b);
    for (;;) {
        rw_error_t err;
        rw_error_clear(&err);
        int rc = p->store->load(p->store, b, &err);
        rw_btrace_mark(RW_BT_LOADED);
        if (rc == 0) {
            rw_batch_evaluate(b);
            rw_btrace_mark(RW_BT_EVALUATED);
            if (async && !b->n_case_alerts && !b->state_alerts &&
                e->die_where != DIE_AFTER_PUBLISH) {
                rc = p->store->apply_send(p->store, b, &err);
                rw_btrace_mark(RW_BT_WRITE_SENT);
                if (rc == 0) {
                    die_after_write(e, p);
                    return pipeline_outputs(e, p, stop_seen);
                }
            } else {
                if (pipeline_outputs(e, p, stop_seen) != 0)
                    return -1;
                if (e->die_where == DIE_AFTER_PUBLISH && outs_deliver(e, &e->cur, stop_seen) == 0)
                    die_maybe(e, DIE_AFTER_PUBLISH, e->batches);
                rc = async ? p->store->apply_send(p->store, b, &err)
                           : p->store->apply(p->store, b, &err);
                rw_btrace_mark(RW_BT_WRITE_SENT);
            }
        }
        if (rc == 0)
            return 0;
        /* What this attempt added to the kept state is not stored: read it
         * all again from the store. */
        if (rc != RW_ERR_STATE_LOST && !p->store->kept_intact)
            rw_batch_forget_state(b);
        if (store_failed(e, p, rc, &err, &backoff, stop_seen))
            return -1;
    }
}

/* What a batch leaves once its state is sent: metrics, the log of messages
 * read again, and room in memory. */
static void pipeline_sent(engine_t *e, pipeline_t *p) {
    rw_batch_t *b = p->batch;
    if (p == &e->live)
        metrics_batch(e, b);
    size_t reread = 0;
    for (size_t i = 0; i < b->n_items; i++)
        reread += b->items[i].applied;
    if (reread)
        rw_log(RW_LOG_INFO,
               "%s: %zu messages read again after a restart or rebalance: their alerts are "
               "published again with the same alert_id; counters and windows already hold them",
               p->name, reread);
    size_t dropped = rw_batch_evict(b, e->cfg->state_max_entries);
    if (dropped)
        rw_metrics_add(e->metrics, "riskwarn_state_evictions_total", "", (double)dropped);
}

/* What a batch leaves once its state is stored and its alerts acknowledged. */
static void pipeline_done(engine_t *e, pipeline_t *p, const outs_t *os) {
    rw_metrics_health(e->metrics, true, NULL);
    e->redis_ok_at = rw_monotonic_ms();
    outs_count(os, p);
    if (p == &e->live && e->webhook)
        for (size_t i = 0; i < os->n; i++)
            if (os->v[i].topic == p->alert_topic)
                rw_webhook_post(e->webhook, os->v[i].level, os->v[i].value, os->v[i].len);
}

/* Takes one batch through one pipeline from start to end. Returns 0, or -1
 * when asked to stop while Redis or Kafka stays away. */
static int pipeline_run(engine_t *e, pipeline_t *p, rd_kafka_message_t **msgs, ssize_t n) {
    pipeline_prepare(p, msgs, n);
    if (p->batch->n_items == 0)
        return 0;
    int64_t stop_seen = 0;
    if (pipeline_publish(e, p, false, &stop_seen) || outs_deliver(e, &e->cur, &stop_seen))
        return -1;
    pipeline_sent(e, p);
    pipeline_done(e, p, &e->cur);
    return 0;
}

/* The offsets after a batch's messages, to commit once it is done (from the messages: a
 * re-keyed copy's source in the batch is its input message, rekey.h). */
static rd_kafka_topic_partition_list_t *batch_offsets(rd_kafka_message_t **msgs, ssize_t n) {
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(8);
    for (ssize_t i = 0; i < n; i++) {
        const rd_kafka_message_t *m = msgs[i];
        if (m->err)
            continue;
        const char *t = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(offs, t, m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(offs, t, m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    return offs;
}

/* Commits the offsets stored since the last commit, when kafka.commit_interval_ms has
 * passed since it (or with force), without waiting: fences make a batch read again after a
 * lost commit harmless, and the final commit at shutdown waits. A commit a batch would send
 * the group coordinator hundreds of requests a second at small batches. */
static void offsets_commit(engine_t *e, bool force) {
    if (!e->commit_pending)
        return;
    int64_t now = rw_monotonic_ms();
    if (!force && now - e->commit_at < e->cfg->commit_interval_ms)
        return;
    e->committed_min_ts[e->committed_next++ % ACKS_MAX] = e->pending_min_ts;
    e->commit_pending = false;
    e->pending_min_ts = 0;
    e->commit_at = now;
    rd_kafka_resp_err_t err = rd_kafka_commit(e->consumer, NULL, 1);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        rw_log(RW_LOG_INFO, "offsets not committed (partition moved away?): %s",
               rd_kafka_err2str(err));
}

/* Everything is stored and acknowledged: the offsets may move on. After a
 * crash before their commit, the batch is read again, and the state it needs
 * is kept (store.c trims no entry a batch's events still need). Takes offs. */
static void batch_commit(engine_t *e, rd_kafka_topic_partition_list_t *offs, int batch,
                         int64_t min_ts_ms) {
    die_maybe(e, DIE_BEFORE_COMMIT, batch);
    rd_kafka_resp_err_t err = offs->cnt ? rd_kafka_offsets_store(e->consumer, offs) : 0;
    if (err)
        rw_log(RW_LOG_INFO, "offsets not stored (partition moved away?): %s",
               rd_kafka_err2str(err));
    else if (offs->cnt) {
        e->commit_pending = true;
        if (min_ts_ms > 0 && (!e->pending_min_ts || min_ts_ms < e->pending_min_ts))
            e->pending_min_ts = min_ts_ms;
    }
    rd_kafka_topic_partition_list_destroy(offs);
    offsets_commit(e, false);
}

/* Lets a finished batch's messages, outputs and offsets go. */
static void inflight_drop(inflight_t *f);
static void inflight_free(engine_t *e, inflight_t *f) {
    inflight_drop(f);
    outs_free(e, &f->outs);
    memset(f, 0, sizeof(*f));
}

/* Commits the batches, oldest first, whose alerts are all acknowledged,
 * producing refused ones again after a backoff. With block, waits until at
 * most keep batches are left. Returns 0, or -1 when asked to stop while
 * Kafka stays away. */
static int acks_progress(engine_t *e, size_t keep, bool block) {
    int64_t stop_seen = 0;
    rd_kafka_poll(e->producer, 0);
    while (e->n_acks) {
        inflight_t *f = &e->acks[0];
        size_t failed, pending = outs_pending(&f->outs, &failed);
        if (!pending && failed && !outs_retriable(&f->outs)) {
            outs_enqueue(e, &f->outs);
            continue;
        }
        if (!pending && failed) {
            int64_t now = rw_monotonic_ms();
            if (!f->retry_at) {
                static rw_ratelimit_t rl;
                if (!f->backoff.cap_ms)
                    f->backoff = (rw_backoff_t)BACKOFF_INIT;
                int ms = rw_backoff_next(&f->backoff);
                f->retry_at = now + ms;
                rw_log_limited(&rl, RW_LOG_WARN,
                               "alerts not acknowledged; producing again in %d ms", ms);
                rw_metrics_add(e->metrics, "riskwarn_kafka_errors_total", "", (double)failed);
            } else if (now >= f->retry_at) {
                f->retry_at = 0;
                outs_enqueue(e, &f->outs);
                continue;
            }
        }
        if (pending || failed) {
            if (!block || e->n_acks <= keep)
                return 0;
            if (gave_up(e, &stop_seen))
                return -1;
            rd_kafka_poll(e->producer, 10);
            continue;
        }
        pipeline_done(e, &e->live, &f->outs);
        batch_commit(e, f->offs, f->batch, f->min_ts_ms);
        f->offs = NULL;
        inflight_free(e, f);
        memmove(e->acks, e->acks + 1, --e->n_acks * sizeof(*e->acks));
    }
    return 0;
}

/* Finishes the Redis write of the live batch in flight; its alerts join the
 * batches waiting for acknowledgements. A write that failed is done again
 * from the messages, through the live batch (*redone tells the caller its
 * batch was reset), once every earlier batch is committed. Returns 0, or -1
 * when asked to stop while Redis or Kafka stays away. */
static int fly_finish(engine_t *e, bool *redone) {
    if (!e->fly.msgs)
        return 0;
    pipeline_t *p = &e->live;
    rw_error_t err;
    rw_error_clear(&err);
    int rc = p->store->apply_wait(p->store, &err);
    rw_btrace_mark(RW_BT_WRITE_ACK);
    if (rc != 0) {
        *redone = true;
        if (rc != RW_ERR_STATE_LOST && !p->store->kept_intact)
            rw_batch_forget_state(p->batch);
        int64_t stop_seen = 0;
        rw_backoff_t backoff = BACKOFF_INIT;
        if (acks_progress(e, 0, true) || store_failed(e, p, rc, &err, &backoff, &stop_seen))
            return -1;
        outs_clear(e, &e->fly.outs); /* its alerts go out again, with the same ids */
        if (pipeline_run(e, p, e->fly.msgs, e->fly.n))
            return -1;
        batch_commit(e, e->fly.offs, e->fly.batch, e->fly.min_ts_ms);
        e->fly.offs = NULL;
        inflight_free(e, &e->fly);
        return 0;
    }
    if (e->n_acks == ACKS_MAX && acks_progress(e, ACKS_MAX - 1, true))
        return -1;
    e->acks[e->n_acks++] = e->fly;
    memset(&e->fly, 0, sizeof(e->fly));
    return acks_progress(e, ACKS_MAX, false);
}

/* Takes one batch of messages. The live pipeline keeps one batch's Redis
 * write in flight while the next batch is read, parsed and planned, and lets
 * Kafka acknowledge its alerts meanwhile; offsets are committed in order as
 * batches are stored and acknowledged. With a shadow pipeline, each batch is
 * done from start to end. Sets *kept when the batch in flight keeps the
 * messages (the caller must not destroy them, but may reuse the array);
 * otherwise the caller destroys them. Returns 0, or -1 when asked to stop
 * while Redis or Kafka stays away. */
static int batch_process(engine_t *e, rd_kafka_message_t **msgs, ssize_t n, bool *kept) {
    *kept = false;
    e->batches++;
    static rw_ratelimit_t rl;
    for (ssize_t i = 0; i < n; i++)
        if (msgs[i]->err && msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            rw_log_limited(&rl, RW_LOG_WARN, "consume: %s", rd_kafka_message_errstr(msgs[i]));
    pipeline_t *p = &e->live;
    rw_batch_t *b = p->batch;
    if (e->shadow.rs) {
        bool redone = false;
        if (fly_finish(e, &redone) || acks_progress(e, 0, true) || pipeline_run(e, p, msgs, n) ||
            pipeline_run(e, &e->shadow, msgs, n))
            return -1;
        batch_commit(e, batch_offsets(msgs, n), e->batches, batch_min_ts(b));
        e->n_msgs += (long long)b->n_items;
        return 0;
    }
    pipeline_prepare(p, msgs, n);
    rw_btrace_mark(RW_BT_PREPARED);
    /* The batch's read goes right behind the write in flight: one round trip
     * for both (a write that fails makes the read be done again). */
    if (b->n_items && e->fly.msgs && p->store->load_send) {
        p->store->load_send(p->store, b);
        rw_btrace_mark(RW_BT_READ_SENT);
    }
    bool redone = false;
    if (fly_finish(e, &redone))
        return -1;
    rw_btrace_mark(RW_BT_FLY_DONE);
    if (redone)
        pipeline_prepare(p, msgs, n);
    if (b->n_items == 0)
        return 0;
    int64_t stop_seen = 0;
    if (pipeline_publish(e, p, true, &stop_seen))
        return -1;
    pipeline_sent(e, p);
    rw_btrace_mark(RW_BT_SENT);
    e->n_msgs += (long long)b->n_items;
    /* The batch in flight takes the messages and the outputs. */
    e->fly = (inflight_t){.msgs = rw_malloc((size_t)n * sizeof(rd_kafka_message_t *)),
                          .n = n,
                          .offs = batch_offsets(msgs, n),
                          .batch = e->batches,
                          .min_ts_ms = batch_min_ts(b),
                          .outs = e->cur};
    memcpy(e->fly.msgs, msgs, (size_t)n * sizeof(rd_kafka_message_t *));
    memset(&e->cur, 0, sizeof(e->cur));
    *kept = true;
    return 0;
}

/* Reads up to want messages: what has arrived, without waiting, or when
 * nothing has, the first message within poll_ms and whatever came with it. A
 * batch never waits to fill: while one batch's Redis write is in flight the
 * next one gathers what arrives meanwhile, so batches grow with the rate by
 * themselves, and an event waits for no timer. */
static ssize_t consume_batch(engine_t *e, rd_kafka_message_t **msgs, size_t want, int poll_ms) {
    ssize_t n = rd_kafka_consume_batch_queue(e->queue, 0, msgs, want);
    if (n != 0)
        return n;
    rd_kafka_message_t *m = rd_kafka_consume_queue(e->queue, poll_ms);
    if (!m)
        return 0;
    msgs[0] = m;
    ssize_t more = want > 1 ? rd_kafka_consume_batch_queue(e->queue, 0, msgs + 1, want - 1) : 0;
    return 1 + (more > 0 ? more : 0);
}

typedef struct rekey_wait {
    engine_t *e;
    int64_t stop_seen;
} rekey_wait_t;

static bool rekey_give_up(void *arg) {
    rekey_wait_t *w = arg;
    return gave_up(w->e, &w->stop_seen);
}

/* Produces the messages of re-keyed input topics again to their internal topics
 * (rekey.h); the others stay in msgs[0..*n) for the batch. Returns 0, or -1 when asked to
 * stop while Kafka stays away. */
static int rekey_step(engine_t *e, rd_kafka_message_t **msgs, ssize_t *n, size_t cap) {
    size_t left = rw_rekey_fill(e->rekey, e->queue, msgs, (size_t)*n, cap);
    rekey_wait_t w = {e, 0};
    long taken = rw_rekey_forward(e->rekey, e->live.rs, msgs, &left, rekey_give_up, &w);
    *n = (ssize_t)left;
    if (taken > 0)
        rw_metrics_add(e->metrics, "riskwarn_rekeyed_total", "", (double)taken);
    return taken < 0 ? -1 : 0;
}

/* Finishes everything in flight: the Redis write, the acknowledgements, the
 * commits. Returns 0, or -1 when asked to stop while Redis or Kafka stays away. */
static int fly_drain(engine_t *e) {
    bool redone;
    return fly_finish(e, &redone) || acks_progress(e, 0, true) ? -1 : 0;
}

/* ---- rulesets: load, audit, swap -------------------------------------------------------- */

static void audit_produce(engine_t *e, const char *text);

/* Writes an audit record (docs/reference.md §5) to the audit topic and to the log. */
static void audit(engine_t *e, bool loaded, const char *target, const char *source,
                  const char *name, const char *version, const char *sha, const rw_errors_t *errs) {
    rw_metrics_set(e->metrics, "riskwarn_config_last_reload_successful", "", loaded ? 1 : 0);
    if (loaded) {
        int64_t now_s = rw_now_ms() / 1000; /* whole seconds */
        rw_metrics_set(e->metrics, "riskwarn_config_last_reload_success_timestamp_seconds", "",
                       (double)now_s);
    }
    if (e->quiet) { /* read again at start-up: audited when it first came; logged */
        char line[1024] = "";
        if (!loaded && errs && errs->n)
            rw_error_format(&errs->items[0], line, sizeof(line));
        if (!loaded)
            rw_log(RW_LOG_WARN, "control topic, at start-up: refused %s version %s: %s",
                   name ? name : "?", version ? version : "?", line);
        return;
    }
    char ts[40];
    rw_time_format(rw_now_ms(), ts, sizeof(ts));
    json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ts", ts, "action",
                          loaded ? "loaded" : "refused", "ruleset", name ? name : "", "version",
                          version ? version : "", "sha256", sha, "source", source, "target", target,
                          "group", e->cfg->group_id, "engine", e->engine_id, "key_id",
                          e->key_id ? e->key_id : "");
    json_t *list = json_array();
    for (size_t i = 0; errs && i < errs->n; i++) {
        char line[1024];
        rw_error_format(&errs->items[i], line, sizeof(line));
        json_array_append_new(list, json_string(line));
    }
    json_object_set_new(a, "errors", list);
    char *text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(a);
    rw_log(loaded ? RW_LOG_INFO : RW_LOG_WARN, "audit: %s", text);
    audit_produce(e, text);
    free(text);
}

/* Produces one record to the audit topic. */
static void audit_produce(engine_t *e, const char *text) {
    rd_kafka_resp_err_t err;
    /* Keyed by group: one group's audit trail stays in one partition, in order. */
    while ((err = rd_kafka_producev(e->producer, RD_KAFKA_V_TOPIC(e->cfg->audit_topic),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_KEY(e->cfg->group_id, strlen(e->cfg->group_id)),
                                    RD_KAFKA_V_VALUE(RW_UNCONST(void *, text), strlen(text)),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(e->producer, 100);
    if (err)
        rw_log(RW_LOG_WARN, "audit record not produced: %s", rd_kafka_err2str(err));
}

/* Loads a ruleset from text; audits a refusal. Returns the ruleset or NULL. */
static rw_ruleset_t *ruleset_from(engine_t *e, const char *text, size_t len, const char *where,
                                  const char *source, const char *target) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_control_ruleset_load(text, len, where, &e->limits, &errs);
    if (!rs) {
        /* Name what was refused as well as the text allows. */
        json_t *j = json_loadb(text, len, 0, NULL);
        uint8_t dig[32];
        char sha[65];
        rw_sha256(text, len, dig);
        rw_hex(dig, 32, sha);
        audit(e, false, target, source, json_string_value(json_object_get(j, "ruleset")),
              json_string_value(json_object_get(j, "version")), sha, &errs);
        json_decref(j);
    }
    rw_errors_fini(&errs);
    return rs;
}

/* Makes the producer know a topic it will write before its first message: librdkafka asks
 * for the metadata of a topic new to it only at its next once-a-second scan, so the first
 * alerts of a run, or of a new shadow topic, would otherwise wait up to a second for it. */
static void topic_warm(engine_t *e, const char *topic) {
    if (!topic || !*topic || !e->producer)
        return;
    for (size_t i = 0; i < e->n_out_rkts; i++)
        if (strcmp(rd_kafka_topic_name(e->out_rkts[i]), topic) == 0)
            return;
    if (e->n_out_rkts == sizeof(e->out_rkts) / sizeof(e->out_rkts[0]))
        return;
    rd_kafka_topic_t *t = rd_kafka_topic_new(e->producer, topic, NULL);
    if (t)
        e->out_rkts[e->n_out_rkts++] = t;
}

/* Makes rs the pipeline's ruleset (taking ownership) and audits it. The swap
 * happens between batches: one batch always sees one ruleset. */
static void pipeline_set(engine_t *e, pipeline_t *p, rw_ruleset_t *rs, const char *source) {
    /* The batch in flight finishes under the ruleset it was evaluated with. */
    bool redone;
    if (fly_finish(e, &redone))
        rw_log(RW_LOG_WARN, "the batch in flight is not done: it will be read again");
    if (p->rs != rs) {
        rw_ruleset_destroy(p->rs);
        snprintf(p->signer, sizeof(p->signer), "%s", e->key_id ? e->key_id : "");
    }
    p->rs = rs;
    p->source = source;
    if (rs)
        topic_warm(e, p->alert_topic);
    if (p == &e->live)
        e->heartbeat_at = 0; /* tell the group at once */
    metrics_rulesets(e);
    if (rs) {
        const char *key_id = e->key_id;
        e->key_id = p->signer;
        audit(e, true, p->name, source, rs->name, rs->version, rs->sha256, NULL);
        e->key_id = key_id;
        rw_log(RW_LOG_INFO, "%s ruleset: %s version %s (%zu rules) from %s", p->name, rs->name,
               rs->version, rs->n_rules, source);
    }
}

/* Audits the refusal of a ruleset or a control message for one reason. */
static void refuse(engine_t *e, const char *target, const char *source, const char *where,
                   const char *name, const char *version, const char *sha, const char *why) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_error_set(&err, where, 0, 0, "%s", why);
    rw_errors_t errs = {&err, 1, 1};
    audit(e, false, target, source, name, version, sha ? sha : "", &errs);
}

/* Whether rs may follow the live version the group last took from the control
 * topic: versions only grow along it (rw_control_version_cmp). Audits a refusal. */
static bool version_newer(engine_t *e, const rw_ruleset_t *rs, const char *target,
                          const char *source, const char *where) {
    if (!e->topic_version || rw_control_version_cmp(rs->version, e->topic_version) > 0)
        return true;
    char why[700];
    snprintf(why, sizeof(why),
             "version \"%.200s\" is not newer than \"%.200s\", the group's live version (versions "
             "only grow: README, \"Version order\")",
             rs->version, e->topic_version);
    refuse(e, target, source, where, rs->name, rs->version, rs->sha256, why);
    return false;
}

static void topic_version_set(engine_t *e, const char *version) {
    free(e->topic_version);
    e->topic_version = rw_strdup(version);
}

/* SIGHUP: the keys file is read again, and the rules file is checked. Every
 * engine of the group runs the control topic's ruleset, so a changed file is
 * published there, signed with rulesets.signing_key_file, and every engine
 * applies it as it reads it (this one too). Without a signing key it is
 * refused, with how to publish it. */
static void reload_file(engine_t *e) {
    const rw_config_t *cfg = e->cfg;
    char line[1024];
    rw_error_t err;
    rw_error_clear(&err);
    rw_keys_t *keys =
        cfg->rules_keys_file ? rw_control_keys_load(cfg->rules_keys_file, &err) : NULL;
    if (keys) {
        rw_control_keys_destroy(e->keys);
        e->keys = keys;
        rw_log(RW_LOG_INFO, "SIGHUP: %zu keys from %s", rw_control_keys_count(keys),
               cfg->rules_keys_file);
    } else if (cfg->rules_keys_file) {
        rw_error_format(&err, line, sizeof(line));
        rw_log(RW_LOG_ERROR, "SIGHUP: the keys stay as they were: %s", line);
    }
    size_t len;
    rw_error_clear(&err);
    char *text = rw_file_read(cfg->rules, &len, &err);
    if (!text) {
        rw_errors_t errs = {&err, 1, 1};
        audit(e, false, "live", "file", NULL, NULL, "", &errs);
        return;
    }
    rw_ruleset_t *rs = ruleset_from(e, text, len, cfg->rules, "file", "live");
    if (!rs) {
        free(text);
        return;
    }
    rd_kafka_resp_err_t kerr;
    if (strcmp(rs->sha256, e->file_sha) == 0 || strcmp(rs->sha256, e->live.rs->sha256) == 0) {
        rw_log(RW_LOG_INFO, "SIGHUP: %s (version %s) is unchanged, or the live ruleset already",
               cfg->rules, rs->version);
        rw_metrics_set(e->metrics, "riskwarn_config_last_reload_successful", "", 1);
    } else if (!e->signer) {
        snprintf(line, sizeof(line),
                 "not applied: every engine of group %s runs the ruleset of the control topic "
                 "%s, and one engine does not change alone; publish the file with `riskwarn "
                 "rules push %s`, or give the engines rulesets.signing_key_file so that SIGHUP "
                 "publishes it",
                 cfg->group_id, cfg->control_topic, cfg->rules);
        refuse(e, "live", "file", cfg->rules, rs->name, rs->version, rs->sha256, line);
    } else if (!version_newer(e, rs, "live", "file", cfg->rules)) {
        /* refused and audited */
    } else if ((kerr = rw_control_produce(e->producer, cfg->control_topic, "load", text, len,
                                          e->signer))) {
        snprintf(line, sizeof(line), "not published on %s: %s", cfg->control_topic,
                 rd_kafka_err2str(kerr));
        refuse(e, "live", "file", cfg->rules, rs->name, rs->version, rs->sha256, line);
    } else {
        snprintf(e->file_sha, sizeof(e->file_sha), "%s", rs->sha256);
        rw_log(RW_LOG_INFO,
               "SIGHUP: published %s (version %s, key %s) on %s: every engine of group %s "
               "applies it",
               cfg->rules, rs->version, rw_control_signer_key_id(e->signer), cfg->control_topic,
               cfg->group_id);
    }
    rw_ruleset_destroy(rs);
    free(text);
}

/* ---- the control topic ------------------------------------------------------------------ */

/* Copies the last value of header name into buf. Returns false when it is
 * missing or does not fit. */
static bool header_get(rd_kafka_headers_t *h, const char *name, char *buf, size_t len) {
    const void *v = NULL;
    size_t vlen = 0;
    if (!h || rd_kafka_header_get_last(h, name, &v, &vlen) || !v || vlen >= len)
        return false;
    memcpy(buf, v, vlen);
    buf[vlen] = 0;
    return true;
}

/* promote and drop-shadow name the shadow ruleset they act on by its sha256
 * (the value), so that an old message sent again acts on nothing. */
static void control_shadow(engine_t *e, const char *action, const char *where, const char *value,
                           size_t len) {
    bool promote = strcmp(action, "promote") == 0;
    const char *target = promote ? "live" : "shadow";
    rw_ruleset_t *rs = e->shadow.rs;
    char why[512];
    if (!rs) {
        snprintf(why, sizeof(why), "%s: there is no shadow ruleset", action);
        refuse(e, target, "topic", where, NULL, NULL, "", why);
        return;
    }
    if (len != 64 || memcmp(value, rs->sha256, 64) != 0) {
        snprintf(why, sizeof(why), "%s: names the shadow ruleset %.*s, but the shadow is %s",
                 action, (int)(len < 64 ? len : 64), value, rs->sha256);
        refuse(e, target, "topic", where, rs->name, rs->version, rs->sha256, why);
        return;
    }
    if (!promote) {
        pipeline_set(e, &e->shadow, NULL, "topic");
        rw_log(RW_LOG_INFO, "shadow ruleset dropped");
        return;
    }
    if (!version_newer(e, rs, "live", "topic", where))
        return;
    e->shadow.rs = NULL;
    topic_version_set(e, rs->version);
    pipeline_set(e, &e->live, rs, "topic");
}

/* Applies one control message once its signature holds: "load" (the value is a
 * ruleset for the live pipeline), "shadow" (a candidate for the shadow
 * pipeline), "promote" (the shadow ruleset goes live) and "drop-shadow" (both
 * with the shadow's sha256 as the value). */
static void control_apply(engine_t *e, const rd_kafka_message_t *m) {
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h))
        h = NULL;
    char action[32] = "load", key_id[80], sig[RW_SIG_B64_MAX + 8], why[512], where[300];
    const void *av;
    size_t al;
    if (!header_get(h, RW_HDR_ACTION, action, sizeof(action)) && h &&
        rd_kafka_header_get_last(h, RW_HDR_ACTION, &av, &al) == 0)
        snprintf(action, sizeof(action), "?"); /* too long to be one */
    bool has_key = header_get(h, RW_HDR_KEY_ID, key_id, sizeof(key_id));
    bool has_sig = header_get(h, RW_HDR_SIGNATURE, sig, sizeof(sig));
    const char *value = m->payload ? m->payload : "";
    snprintf(where, sizeof(where), "%s@%lld", rd_kafka_topic_name(m->rkt), (long long)m->offset);
    bool shadow = strcmp(action, "shadow") == 0, load = shadow || strcmp(action, "load") == 0;
    const char *target = shadow || strcmp(action, "drop-shadow") == 0 ? "shadow" : "live";
    e->key_id = has_key ? key_id : NULL;
    if (rw_control_keys_verify(e->keys, has_key ? key_id : NULL, has_sig ? sig : NULL, action,
                               value, m->len, why, sizeof(why))) {
        /* Name what was refused as well as the text allows. */
        json_t *j = load ? json_loadb(value, m->len, 0, NULL) : NULL;
        uint8_t dig[32];
        char sha[65];
        rw_sha256(value, m->len, dig);
        rw_hex(dig, 32, sha);
        refuse(e, target, "topic", where, json_string_value(json_object_get(j, "ruleset")),
               json_string_value(json_object_get(j, "version")), sha, why);
        json_decref(j);
    } else if (load) {
        rw_ruleset_t *rs = ruleset_from(e, value, m->len, where, "topic", target);
        if (rs && !version_newer(e, rs, target, "topic", where)) {
            rw_ruleset_destroy(rs);
            rs = NULL;
        }
        if (rs && !shadow)
            topic_version_set(e, rs->version);
        if (rs)
            pipeline_set(e, shadow ? &e->shadow : &e->live, rs, "topic");
    } else if (strcmp(action, "promote") == 0 || strcmp(action, "drop-shadow") == 0) {
        control_shadow(e, action, where, value, m->len);
    } else {
        snprintf(why, sizeof(why), "unknown control action \"%s\"", action);
        refuse(e, "live", "topic", where, NULL, NULL, "", why);
    }
    e->key_id = NULL;
}

static rd_kafka_t *control_open(const rw_config_t *cfg, rw_error_t *err) {
    rd_kafka_conf_t *conf = rw_kafka_conf_for(cfg, RW_KAFKA_CONSUMER, NULL, err);
    if (!conf)
        return NULL;
    char group[300];
    /* Every engine reads every control message: partitions are assigned, not
     * shared through the group, and nothing is committed. */
    snprintf(group, sizeof(group), "%s.control", cfg->group_id);
    if (conf_set(conf, "group.id", group, err) ||
        conf_set(conf, "enable.auto.commit", "false", err) ||
        conf_set(conf, "enable.partition.eof", "true", err)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *c = kafka_new(RD_KAFKA_CONSUMER, conf, err);
    if (!c) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, cfg->control_topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    return c;
}

/* Applies what is on the control topic. With catch_up, reads up to its end
 * first (at start-up: the engines of a group agree on the last pushed
 * ruleset). Returns the number of messages applied. */
static int control_poll(engine_t *e, bool catch_up) {
    int applied = 0;
    int64_t deadline = rw_monotonic_ms() + 10000;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(e->control, catch_up ? 200 : 0);
        if (!m) {
            if (!catch_up || rw_monotonic_ms() > deadline)
                break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            if (catch_up)
                break;
            continue;
        }
        if (m->err) {
            static rw_ratelimit_t rl;
            if (m->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
                m->err != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
                rw_log_limited(&rl, RW_LOG_WARN, "control topic: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (catch_up)
                break; /* no control topic (yet) */
            continue;
        }
        control_apply(e, m);
        applied++;
        rd_kafka_message_destroy(m);
    }
    return applied;
}

/* ---- the group: one live ruleset, heartbeats on the audit topic --------------------------- */

/* Opens a consumer of the audit topic for the heartbeats of the group's other
 * engines, and assigns it every partition from its end once the topic exists. */
static void peers_assign(engine_t *e) {
    if (!e->peers) {
        rw_error_t err;
        rw_error_clear(&err);
        char group[300];
        snprintf(group, sizeof(group), "%s.peers", e->cfg->group_id);
        rd_kafka_conf_t *conf = rw_kafka_conf_new(e->cfg, &err);
        if (!conf)
            return;
        if (conf_set(conf, "group.id", group, &err) ||
            conf_set(conf, "enable.auto.commit", "false", &err) ||
            !(e->peers = kafka_new(RD_KAFKA_CONSUMER, conf, &err))) {
            rd_kafka_conf_destroy(conf);
            rw_log(RW_LOG_WARN, "heartbeats of the group not read: %s", err.text);
            return;
        }
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(e->peers, e->cfg->audit_topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(e->peers, 0, t, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, e->cfg->audit_topic,
                                              md->topics[0].partitions[i].id)
                ->offset = RD_KAFKA_OFFSET_END;
        e->peers_assigned = rd_kafka_assign(e->peers, l) == RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_topic_partition_list_destroy(l);
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
}

/* Says on the audit topic which live ruleset this engine runs ("heartbeat"),
 * or that it stops ("stopped"). */
static void heartbeat_send(engine_t *e, const char *action) {
    const rw_ruleset_t *rs = e->live.rs;
    char ts[40];
    rw_time_format(rw_now_ms(), ts, sizeof(ts));
    json_t *a =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "ts", ts, "action",
                  action, "ruleset", rs->name, "version", rs->version, "sha256", rs->sha256,
                  "source", e->live.source, "target", "live", "group", e->cfg->group_id, "engine",
                  e->engine_id, "key_id", e->live.signer, "errors");
    char *text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(a);
    audit_produce(e, text);
    free(text);
}

static void peers_poll(engine_t *e) {
    rd_kafka_message_t *m;
    while (e->peers && (m = rd_kafka_consumer_poll(e->peers, 0))) {
        json_t *a = m->err ? NULL : json_loadb(m->payload, m->len, 0, NULL);
        const char *action = json_string_value(json_object_get(a, "action"));
        const char *group = json_string_value(json_object_get(a, "group"));
        const char *engine = json_string_value(json_object_get(a, "engine"));
        const char *sha = json_string_value(json_object_get(a, "sha256"));
        bool beat = action && strcmp(action, "heartbeat") == 0;
        if ((beat || (action && strcmp(action, "stopped") == 0)) && group && engine && sha &&
            strcmp(group, e->cfg->group_id) == 0)
            rw_group_note(e->group, engine, beat ? sha : NULL,
                          json_string_value(json_object_get(a, "version")), rw_monotonic_ms());
        json_decref(a);
        rd_kafka_message_destroy(m);
    }
}

/* Once a turn of the loop: the heartbeat when due (at once after the live
 * ruleset changed), the other engines' heartbeats, and whether they run this
 * engine's live ruleset: a disagreement that outlasts a push reaching every
 * engine is logged, counted and reported by /healthz. */
static void group_tick(engine_t *e) {
    int64_t now = rw_monotonic_ms(), every = e->cfg->rules_heartbeat_ms;
    if (now >= e->heartbeat_at) {
        heartbeat_send(e, "heartbeat");
        e->heartbeat_at = now + every;
    }
    if (!e->peers_assigned && now >= e->peers_at) { /* the audit topic may not exist yet */
        peers_assign(e);
        e->peers_backoff = e->peers_backoff ? e->peers_backoff * 2 : 1000;
        if (e->peers_backoff > 30000)
            e->peers_backoff = 30000;
        e->peers_at = now + e->peers_backoff;
    }
    peers_poll(e);
    char why[600] = "";
    size_t n = rw_group_disagreeing(e->group, e->live.rs->sha256, now, 3 * every,
                                    every * 2 > 3000 ? every * 2 : 3000, why, sizeof(why));
    if (n == e->disagreeing)
        return;
    const rw_ruleset_t *rs = e->live.rs;
    char health[900];
    snprintf(health, sizeof(health),
             "group %s disagrees on the live ruleset: %zu other engine(s) run another; %s "
             "(this one: version %s from the %s)",
             e->cfg->group_id, n, why, rs->version,
             strcmp(e->live.source, "file") == 0 ? "rules file" : "control topic");
    if (n)
        rw_log(RW_LOG_WARN, "%s", health);
    else
        rw_log(RW_LOG_INFO, "group %s agrees on the live ruleset again: version %s, sha256 %s",
               e->cfg->group_id, rs->version, rs->sha256);
    e->disagreeing = n;
    rw_metrics_set(e->metrics, "riskwarn_ruleset_group_disagreeing", "", (double)n);
    rw_metrics_health_set(e->metrics, RW_HEALTH_RULESET, n == 0, health);
}

/* At start-up: the keys, the signing key and the limits of the control path,
 * then the rules file within those limits. Returns the file's ruleset, or
 * NULL with errs filled. */
static rw_ruleset_t *control_setup(engine_t *e, rw_errors_t *errs) {
    const rw_config_t *cfg = e->cfg;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(e->engine_id, sizeof(e->engine_id), "%s/%d", host, (int)getpid());
    e->limits = rw_control_limits_of(cfg);
    rw_error_t err;
    rw_error_clear(&err);
    size_t len;
    char *text = NULL;
    if ((cfg->rules_keys_file && !(e->keys = rw_control_keys_load(cfg->rules_keys_file, &err))) ||
        (cfg->rules_signing_key_file && !(e->signer = rw_control_signer_from_config(cfg, &err))) ||
        !(text = rw_file_read(cfg->rules, &len, &err))) {
        rw_errors_add(errs, &err);
        return NULL;
    }
    rw_ruleset_t *rs = rw_control_ruleset_load(text, len, cfg->rules, &e->limits, errs);
    free(text);
    if (rs)
        snprintf(e->file_sha, sizeof(e->file_sha), "%s", rs->sha256);
    e->group = rs ? rw_group_new(e->engine_id) : NULL;
    return rs;
}

static void control_fini(engine_t *e) {
    rw_control_keys_destroy(e->keys);
    rw_control_signer_destroy(e->signer);
    rw_group_destroy(e->group);
    free(e->topic_version);
    e->keys = NULL;
    e->signer = NULL;
    e->group = NULL;
    e->topic_version = NULL;
}

/* After catching up with the control topic: says when the rules file is not
 * what the group runs. */
static void control_started(engine_t *e) {
    rw_metrics_set(e->metrics, "riskwarn_ruleset_group_disagreeing", "", 0);
    if (!e->topic_version)
        return;
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *file = rw_ruleset_load_file(e->cfg->rules, &errs);
    if (file && strcmp(file->sha256, e->live.rs->sha256) != 0)
        rw_log(RW_LOG_INFO,
               "the rules file %s (version %s) is not in force: group %s runs version %s from "
               "the control topic %s; push the file to change it",
               e->cfg->rules, file->version, e->cfg->group_id, e->live.rs->version,
               e->cfg->control_topic);
    rw_ruleset_destroy(file);
    rw_errors_fini(&errs);
}

/* ---- set-up and the loop -------------------------------------------------------------- */

/* Partitions come and go with the group: logged, then applied (eager or
 * cooperative, whichever the group uses). */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    engine_t *e = opaque;
    /* Another engine may have written the state of these partitions. */
    e->live.forget = e->shadow.forget = true;
    e->lag_at = 0; /* the lag series follow the assignment at the next turn of the loop */
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    char list[512] = "";
    size_t o = 0;
    for (int i = 0; i < parts->cnt && o + 64 < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s/%d", i ? " " : "",
                              parts->elems[i].topic, (int)parts->elems[i].partition);
    rw_log(RW_LOG_INFO, "partitions %s: %d (%s)", assign ? "assigned" : "revoked", parts->cnt,
           list);
    if (!assign) /* the next owner starts where this engine's stored batches end */
        offsets_commit(e, true);
    bool coop = rw_kafka_cooperative(rk);
    if (coop) {
        rd_kafka_error_t *kerr = assign ? rd_kafka_incremental_assign(rk, parts)
                                        : rd_kafka_incremental_unassign(rk, parts);
        if (kerr) {
            rw_log(RW_LOG_WARN, "rebalance: %s", rd_kafka_error_string(kerr));
            rd_kafka_error_destroy(kerr);
        }
    } else {
        rd_kafka_assign(rk, assign ? parts : NULL);
    }
}

/* Makes the engine's Kafka clients. Returns 0; RW_ERR_INPUT with err filled when the
 * configuration is refused; RW_ERR_KAFKA when the subscription fails. */
static int engine_open(engine_t *e, rw_error_t *err) {
    const rw_config_t *cfg = e->cfg;
    rd_kafka_conf_t *conf = rw_kafka_conf_for(cfg, RW_KAFKA_MEMBER, rw_kafka_member_defaults, err);
    if (!conf)
        return RW_ERR_INPUT;
    if (conf_set(conf, "group.id", cfg->group_id, err) ||
        conf_set(conf, "enable.auto.commit", "false", err) ||
        conf_set(conf, "enable.auto.offset.store", "false", err) ||
        conf_set(conf, "enable.partition.eof", "false", err)) {
        rd_kafka_conf_destroy(conf);
        return RW_ERR_INPUT;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    if (conf_set(conf, "statistics.interval.ms", "1000", err)) {
        rd_kafka_conf_destroy(conf);
        return RW_ERR_INPUT;
    }
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    char st[32];
    size_t stl = sizeof(st);
    if (rd_kafka_conf_get(conf, "session.timeout.ms", st, &stl) == RD_KAFKA_CONF_OK)
        e->session_timeout_ms = (int)strtol(st, NULL, 10);
    rd_kafka_conf_set_opaque(conf, e);
    e->consumer = kafka_new(RD_KAFKA_CONSUMER, conf, err);
    if (!e->consumer) {
        rd_kafka_conf_destroy(conf);
        return RW_ERR_INPUT;
    }
    rd_kafka_poll_set_consumer(e->consumer);
    e->queue = rd_kafka_queue_get_consumer(e->consumer);
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)cfg->n_input_topics);
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->input_topics[i], RD_KAFKA_PARTITION_UA);
    rw_rekey_subscribe(cfg->rekey, topics);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(e->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr)
        return rw_error_fail(err, RW_ERR_KAFKA, "subscribe: %s", rd_kafka_err2str(kerr));

    static const char *const producer_defaults[] = {"linger.ms", "0", "enable.idempotence", "true",
                                                    NULL};
    conf = rw_kafka_conf_for(cfg, RW_KAFKA_PRODUCER, producer_defaults, err);
    if (!conf)
        return RW_ERR_INPUT;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char mmb[32];
    size_t mlen = sizeof(mmb);
    long max = rd_kafka_conf_get(conf, "message.max.bytes", mmb, &mlen) == RD_KAFKA_CONF_OK
                   ? strtol(mmb, NULL, 10)
                   : 1000000;
    e->out_max = max > 2L * OUT_SLACK ? (size_t)(max - OUT_SLACK) : OUT_SLACK;
    /* Its statistics say whether brokers are up while the engine waits for
     * acknowledgements (and reads nothing). */
    if (conf_set(conf, "statistics.interval.ms", "1000", err)) {
        rd_kafka_conf_destroy(conf);
        return RW_ERR_INPUT;
    }
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_opaque(conf, e);
    e->producer = kafka_new(RD_KAFKA_PRODUCER, conf, err);
    if (!e->producer) {
        rd_kafka_conf_destroy(conf);
        return RW_ERR_INPUT;
    }
    if (cfg->rekey) {
        conf = rw_kafka_conf_for(cfg, RW_KAFKA_PRODUCER, producer_defaults, err);
        if (!conf ||
            !(e->rekey = rw_rekey_new(cfg->rekey, conf, e->consumer, cfg->deadletter_topic, err)))
            return RW_ERR_INPUT;
    }

    e->control = control_open(cfg, err);
    return e->control ? RW_OK : RW_ERR_INPUT;
}

static void pipeline_fini(pipeline_t *p) {
    rw_batch_destroy(p->batch);
    if (p->store)
        p->store->destroy(p->store);
    rw_ruleset_destroy(p->rs);
    memset(p, 0, sizeof(*p));
}

/* Lets go of what batches not done hold of the consumer: their messages and
 * offsets (they are read again by whoever gets their partitions). */
static void inflight_drop(inflight_t *f) {
    for (ssize_t i = 0; i < f->n; i++)
        rd_kafka_message_destroy(f->msgs[i]);
    free(f->msgs);
    f->msgs = NULL;
    f->n = 0;
    if (f->offs)
        rd_kafka_topic_partition_list_destroy(f->offs);
    f->offs = NULL;
}

static void engine_close(engine_t *e) {
    inflight_drop(&e->fly);
    for (size_t i = 0; i < e->n_acks; i++)
        inflight_drop(&e->acks[i]);
    if (e->consumer) {
        rd_kafka_resp_err_t err = rd_kafka_commit(e->consumer, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            rw_log(RW_LOG_WARN, "final commit: %s", rd_kafka_err2str(err));
        if (e->queue)
            rd_kafka_queue_destroy(e->queue);
        rd_kafka_consumer_close(e->consumer);
        rd_kafka_destroy(e->consumer);
    }
    if (e->control) {
        rd_kafka_consumer_close(e->control);
        rd_kafka_destroy(e->control);
    }
    if (e->peers) {
        rd_kafka_consumer_close(e->peers);
        rd_kafka_destroy(e->peers);
    }
    if (e->producer && e->group && e->live.rs)
        heartbeat_send(e, "stopped");
    for (size_t i = 0; i < e->n_out_rkts; i++)
        rd_kafka_topic_destroy(e->out_rkts[i]);
    if (e->producer) {
        rd_kafka_flush(e->producer, 10000);
        rd_kafka_destroy(e->producer);
    }
    rw_rekey_destroy(e->rekey);
    /* Delivery reports write into outputs until the producer is gone. */
    outs_free(NULL, &e->cur);
    outs_free(NULL, &e->fly.outs);
    for (size_t i = 0; i < e->n_acks; i++)
        outs_free(NULL, &e->acks[i].outs);
    pipeline_fini(&e->live);
    pipeline_fini(&e->shadow);
    rw_webhook_destroy(e->webhook, 5000);
    rw_rcluster_destroy(e->health_redis);
    rw_metrics_destroy(e->metrics);
    free(e->shadow_topic);
    control_fini(e);
}

static void pipeline_init(engine_t *e, pipeline_t *p, const char *name, const char *prefix) {
    const rw_config_t *cfg = e->cfg;
    rw_redis_opts_t ro = {cfg->redis_host,     cfg->redis_port,       cfg->redis_unix_socket,
                          cfg->redis_password, cfg->redis_db,         prefix,
                          cfg->group_id,       cfg->redis_timeout_ms, cfg->state_fold_ms};
    p->name = name;
    p->store = rw_redisstore_new_cluster(&ro, (const char *const *)cfg->redis_cluster_nodes,
                                         cfg->n_redis_cluster_nodes);
    p->store->max_cases = cfg->state_max_entries;
    p->batch = rw_batch_new(cfg->max_event_bytes, RW_STATE_CACHED);
    p->batch->max_future_ms = cfg->max_future_ms;
    p->batch->schema = rw_config_schema(cfg);
    p->rekey = e->rekey;
}

/* Reads RW_TEST_DIE ("after-publish:N", "after-write:N" or "before-commit:N", for the crash
 * tests): where, and after which batch, the engine kills itself. */
static void engine_test_die(engine_t *e) {
    const char *die = getenv("RW_TEST_DIE");
    if (!die)
        return;
    const char *colon = strchr(die, ':');
    e->die_where = strncmp(die, "after-publish:", 14) == 0   ? DIE_AFTER_PUBLISH
                   : strncmp(die, "before-commit:", 14) == 0 ? DIE_BEFORE_COMMIT
                   : strncmp(die, "after-write:", 12) == 0   ? DIE_AFTER_WRITE
                                                             : DIE_NONE;
    e->die_batch = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
}

/* Refuses a Redis peer the engine cannot talk to: hiredis here has no TLS, so a TLS-only or
 * non-Redis peer would fail every retry. Returns RW_OK, or RW_ERR_INPUT (logged). */
static int engine_redis_probe(const rw_config_t *cfg) {
    char why[256];
    rw_probe_verdict_t probed =
        cfg->redis_unix_socket || cfg->n_redis_cluster_nodes /* host/port unused */
            ? RW_PROBE_REDIS
            : rw_probe_redis(cfg->redis_host, cfg->redis_port, cfg->redis_timeout_ms, why,
                             sizeof(why));
    if (!probed)
        return RW_OK;
    rw_log(RW_LOG_ERROR, "redis %s:%d %s%s", cfg->redis_host, cfg->redis_port, why,
           probed == RW_PROBE_TLS ? "; this build of hiredis has no TLS: reach it through a local "
                                    "TLS proxy such as stunnel (deploy/README.md)"
                                  : "");
    return RW_ERR_INPUT;
}

/* Loads the rule modules of modules_dir, when set. Returns RW_OK, or RW_ERR_INPUT (said on
 * stderr). */
static int engine_modules(const rw_config_t *cfg) {
    if (!cfg->modules_dir)
        return RW_OK;
    rw_error_t perr;
    rw_error_clear(&perr);
    if (rw_plugins_load_dir(cfg->modules_dir, &perr) == RW_OK)
        return RW_OK;
    char line[1024];
    rw_error_format(&perr, line, sizeof(line));
    fprintf(stderr, "%s\n", line);
    return RW_ERR_INPUT;
}

/* The live ruleset at start-up (control_setup: the rules file, or the one in force). Returns
 * RW_OK, or RW_ERR_INPUT with the errors on stderr. */
static int engine_rules(engine_t *e) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    e->live.rs = control_setup(e, &errs);
    e->live.source = "file";
    if (!e->live.rs)
        rw_errors_print(&errs, stderr);
    rw_errors_fini(&errs);
    return e->live.rs ? RW_OK : RW_ERR_INPUT;
}

/* Starts the metrics (served on metrics_listen, when set) and the webhook (when set). Returns
 * RW_OK, or RW_ERR_INPUT with serr filled. */
static int engine_services(engine_t *e, rw_error_t *serr) {
    const rw_config_t *cfg = e->cfg;
    e->metrics = rw_metrics_new();
    metrics_start(e);
    e->kafka_up_at = e->group_ok_at = e->redis_ok_at = rw_monotonic_ms();
    if (cfg->metrics_listen) {
        if (rw_metrics_serve(e->metrics, cfg->metrics_listen, serr))
            return RW_ERR_INPUT;
        rw_log(RW_LOG_INFO, "metrics: http://%.*s:%d/metrics and /healthz",
               (int)(strrchr(cfg->metrics_listen, ':') - cfg->metrics_listen), cfg->metrics_listen,
               rw_metrics_port(e->metrics));
    }
    if (cfg->webhook_url) {
        rw_webhook_opts_t wo = {cfg->webhook_url,
                                cfg->webhook_min_level,
                                cfg->webhook_timeout_ms,
                                cfg->webhook_retries,
                                1000,
                                cfg->webhook_token,
                                cfg->webhook_secret,
                                cfg->webhook_digest_after};
        if (!(e->webhook = rw_webhook_new(&wo, e->metrics, serr)))
            return RW_ERR_INPUT;
    }
    return RW_OK;
}

/* Sets up the live and the shadow pipeline, catches up with the control topic (the engines
 * of a group follow it) and records what is in force. */
static void engine_pipelines(engine_t *e) {
    const rw_config_t *cfg = e->cfg;
    char shadow_prefix[300];
    snprintf(shadow_prefix, sizeof(shadow_prefix), "%sshadow:", cfg->redis_key_prefix);
    size_t tl = strlen(cfg->alert_topic) + 8;
    e->shadow_topic = rw_malloc(tl);
    snprintf(e->shadow_topic, tl, "%s.shadow", cfg->alert_topic);
    pipeline_init(e, &e->live, "live", cfg->redis_key_prefix);
    e->live.alert_topic = cfg->alert_topic;
    e->live.high_topic = cfg->high_alert_topic;
    e->live.dead_topic = cfg->deadletter_topic;
    topic_warm(e, cfg->alert_topic);
    topic_warm(e, cfg->high_alert_topic);
    topic_warm(e, cfg->deadletter_topic);
    topic_warm(e, cfg->audit_topic);
    pipeline_init(e, &e->shadow, "shadow", shadow_prefix);
    e->shadow.alert_topic = e->shadow_topic;

    e->quiet = true;
    control_poll(e, true);
    e->quiet = false;
    control_started(e);
    pipeline_set(e, &e->live, e->live.rs, e->live.source);
    if (e->shadow.rs)
        pipeline_set(e, &e->shadow, e->shadow.rs, e->shadow.source);
    rw_log(RW_LOG_INFO, "running: group %s, brokers %s", cfg->group_id, cfg->brokers);
}

/* What a turn of the engine loop leaves to do: another turn, stop, or stop failed. */
enum { TURN_GO_ON, TURN_STOP, TURN_FAIL };

/* Lets n consumed messages go (none when n < 0). */
static void msgs_destroy(rd_kafka_message_t **msgs, ssize_t n) {
    for (ssize_t i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
}

/* A turn with no message: finishes what is in flight, and updates the lag and the Redis
 * health. */
static int turn_idle(engine_t *e) {
    bool redone;
    if (fly_finish(e, &redone) || acks_progress(e, ACKS_MAX, false))
        return TURN_FAIL;
    offsets_commit(e, false);
    metrics_lag(e);
    health_redis(e);
    return TURN_GO_ON;
}

/* A turn with n messages: processes them as a batch (timed in riskwarn_batch_seconds), then
 * lets them go unless the batch in flight keeps them. */
static int turn_batch(engine_t *e, rd_kafka_message_t **msgs, ssize_t n) {
    int64_t t0 = rw_monotonic_ms();
    bool kept;
    int brc = batch_process(e, msgs, n, &kept);
    rw_metrics_observe(e->metrics, "riskwarn_batch_seconds",
                       (double)(rw_monotonic_ms() - t0) / 1000.0);
    metrics_lag(e);
    if (!kept)
        msgs_destroy(msgs, n);
    if (brc < 0) {
        rw_log(RW_LOG_ERROR, "stopping with a batch not done: its offsets are not "
                             "committed and it will be read again");
        return TURN_FAIL;
    }
    if (e->cfg->stop_after > 0 && e->n_msgs >= e->cfg->stop_after)
        return TURN_STOP;
    return TURN_GO_ON;
}

/* One turn of the engine loop: a reload asked for (SIGHUP), the control topic, the group's
 * agreement, then up to batch_max messages consumed (re-keyed first when the config says
 * so) and processed, or an idle turn when there are none. Returns a TURN_*. */
static int engine_turn(engine_t *e, rd_kafka_message_t **msgs, int batch_max) {
    const rw_config_t *cfg = e->cfg;
    if (atomic_exchange(&e->ctl->reload, 0))
        reload_file(e);
    control_poll(e, false);
    group_tick(e);
    size_t want = (size_t)batch_max;
    if (cfg->stop_after > 0 && cfg->stop_after - e->n_msgs < (long long)want)
        want = (size_t)(cfg->stop_after - e->n_msgs);
    rw_btrace_turn();
    ssize_t n = consume_batch(e, msgs, want, cfg->poll_ms);
    rw_btrace_batch((long)n, n > 0 ? msgs[0]->offset : -1, n > 0 ? msgs[n - 1]->offset : -1);
    if (kafka_fatal(e)) {
        msgs_destroy(msgs, n);
        return TURN_STOP;
    }
    if (n > 0 && e->rekey && rekey_step(e, msgs, &n, want)) {
        msgs_destroy(msgs, n);
        return TURN_FAIL;
    }
    if (n < 0) {
        static rw_ratelimit_t rl;
        rw_log_limited(&rl, RW_LOG_ERROR, "consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        return TURN_GO_ON;
    }
    int turn = n == 0 ? turn_idle(e) : turn_batch(e, msgs, n);
    rw_btrace_turn_end();
    return turn;
}

/* Runs the engine loop until told to stop (or stop_after messages, or a failure), then
 * finishes the batches in flight. Returns RW_OK, or RW_ERR_FAIL. */
static int engine_loop(engine_t *e) {
    int batch_max = e->cfg->batch_max > 0 ? e->cfg->batch_max : 512;
    rd_kafka_message_t **msgs = rw_calloc((size_t)batch_max, sizeof(rd_kafka_message_t *));
    int turn = TURN_GO_ON;
    while (turn == TURN_GO_ON && !atomic_load(&e->ctl->stop))
        turn = engine_turn(e, msgs, batch_max);
    int rc = turn == TURN_FAIL ? RW_ERR_FAIL : RW_OK;
    if (e->fly.msgs || e->n_acks)
        rw_log(RW_LOG_INFO,
               "stopping: finishing %zu batches in flight (Redis write, Kafka "
               "acknowledgements)",
               e->n_acks + (e->fly.msgs != NULL));
    if (rc == RW_OK && fly_drain(e)) {
        rw_log(RW_LOG_ERROR, "stopping with a batch not done: its offsets are not committed and "
                             "it will be read again");
        rc = RW_ERR_FAIL;
    }
    if (e->fatal)
        rc = RW_ERR_FAIL;
    free(msgs);
    return rc;
}

/* The state's memory, touched before the first batch. A new engine builds its state as the
 * first events come (a window, a key index entry and a pseudonym for each new key, about seven
 * windows an event), and each first touch of a page is a page fault: on a virtual machine where
 * the hypervisor takes part in each one, about 9 us, a third of a cold engine's time, which
 * left a backlog that took half a second to drain (docs/performance.md, "The latency phase's
 * first second"). So the engine thread takes mb MiB from malloc in pieces, touches each page
 * and gives them back, and malloc keeps them for the state: it does not give memory back to
 * the system below mb + 64 MiB of free space (M_TRIM_THRESHOLD), and, that setting having
 * fixed glibc's otherwise moving mmap threshold, blocks up to 32 MiB (the most that threshold
 * reaches by itself) come from the same memory instead of a new mapping each time. */
#define PRETOUCH_PIECE ((size_t)64 << 10)
#define PRETOUCH_MMAP_MAX ((size_t)32 << 20)

static void state_pretouch(size_t mb) {
    if (mb == 0)
        return;
    int64_t t0 = rw_monotonic_ms();
    mallopt(M_MMAP_THRESHOLD, (int)PRETOUCH_MMAP_MAX);
    mallopt(M_TRIM_THRESHOLD, (int)((mb + 64) << 20));
    size_t n = (mb << 20) / PRETOUCH_PIECE;
    void **pieces = rw_malloc(n * sizeof(void *));
    long page = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
    for (size_t i = 0; i < n; i++) {
        pieces[i] = rw_malloc(PRETOUCH_PIECE - 64); /* with malloc's header: 64 KiB */
        volatile char *p = pieces[i];               /* writes a dead-store pass cannot drop */
        for (size_t o = 0; o < PRETOUCH_PIECE - 64; o += (size_t)page)
            p[o] = 0;
    }
    for (size_t i = n; i-- > 0;) /* last first: they join the free space at the top */
        free(pieces[i]);
    free(pieces);
    rw_log(RW_LOG_INFO, "state memory: %zu MiB touched in advance in %lld ms", mb,
           (long long)(rw_monotonic_ms() - t0));
}

int rw_engine_run(const rw_config_t *cfg, rw_engine_ctl_t *ctl) {
    engine_t e;
    memset(&e, 0, sizeof(e));
    e.cfg = cfg;
    e.ctl = ctl;
    e.stop = &ctl->stop;
    rw_log_format = cfg->log_format;
    rw_pseudonym_set_key(cfg->pseudonym_key, cfg->pseudonym_key ? strlen(cfg->pseudonym_key) : 0);
    if (rw_pseudonym_key_is_builtin())
        rw_log(RW_LOG_WARN, "pseudonyms of masked fields use the built-in key, which anyone can "
                            "read: set \"pseudonym\": {\"key_file\": ...} (README, Masking)");
    engine_test_die(&e);
    if (engine_redis_probe(cfg) != RW_OK || engine_modules(cfg) != RW_OK)
        return RW_ERR_INPUT;
    if (engine_rules(&e) != RW_OK) {
        control_fini(&e);
        rw_plugins_unload_all();
        return RW_ERR_INPUT;
    }
    rw_error_t serr;
    rw_error_clear(&serr);
    if (engine_services(&e, &serr) != RW_OK) {
        fprintf(stderr, "riskwarn: %s\n", serr.text);
        rw_metrics_destroy(e.metrics);
        rw_ruleset_destroy(e.live.rs);
        control_fini(&e);
        rw_plugins_unload_all();
        return RW_ERR_INPUT;
    }
    int rc = engine_open(&e, &serr);
    if (rc != RW_OK) {
        fprintf(stderr, "riskwarn: %s\n", serr.text);
        engine_close(&e);
        rw_plugins_unload_all();
        return rc;
    }
    engine_pipelines(&e);
    state_pretouch(cfg->state_pretouch_mb);
    rc = engine_loop(&e);
    rw_btrace_dump();
    rw_log(RW_LOG_INFO, "stopping: %lld messages, %lld alerts, %lld dead letters", e.n_msgs,
           e.live.n_alerts, e.live.n_dead);
    engine_close(&e);
    rw_plugins_unload_all();
    return rc;
}
