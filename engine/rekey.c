/* Re-keying input by entity through an internal topic: rekey.h. */
#include "rekey.h"

#include "jpos.h"
#include "log.h"
#include "pseudonym.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the configuration ---------------------------------------------------------------- */

typedef struct {
    const char *source, *text;
    size_t len;
    rw_error_t *err;
} pctx_t;

#define perr(x, pointer, key, ...)                                                                 \
    rw_jpos_error((x)->err, (x)->source, (x)->text, (x)->len, (pointer), (key), __VA_ARGS__)

static void route_free(rw_rekey_route_t *r) {
    free(r->input);
    free(r->topic);
    for (size_t i = 0; i < r->n_fields; i++)
        free(r->fields[i]);
    free(r->fields);
}

void rw_rekey_conf_destroy(rw_rekey_conf_t *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n_routes; i++)
        route_free(&c->routes[i]);
    free(c->routes);
    free(c);
}

static bool in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; list && (n ? i < n : list[i] != NULL); i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* A non-empty string member, or NULL with the error placed. */
static const char *route_str(pctx_t *x, const json_t *o, const char *at, const char *name,
                             const char *what) {
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", at, name);
    const json_t *v = json_object_get(o, name);
    if (!v) {
        perr(x, at, false, "%s: \"%s\" is required (%s)", at + 1, name, what);
        return NULL;
    }
    if (!json_is_string(v) || !json_string_length(v)) {
        perr(x, p, false, "%s: must be a non-empty string (%s)", p + 1, what);
        return NULL;
    }
    return json_string_value(v);
}

/* "field": a name, or a non-empty list of names. */
static int route_fields(pctx_t *x, const json_t *o, const char *at, rw_rekey_route_t *r) {
    char p[300];
    snprintf(p, sizeof(p), "%s/field", at);
    const json_t *v = json_object_get(o, "field"), *f;
    if (json_is_string(v)) {
        if (!route_str(x, o, at, "field", "the field whose value keys the copies"))
            return -1;
        r->fields = rw_calloc(1, sizeof(char *));
        r->fields[r->n_fields++] = rw_strdup(json_string_value(v));
        return 0;
    }
    if (!v)
        return perr(x, at, false,
                    "%s: \"field\" is required (the field whose value keys the "
                    "copies)",
                    at + 1);
    if (!json_is_array(v) || !json_array_size(v))
        return perr(x, p, false, "%s: must be a field name or a non-empty list of them", p + 1);
    r->fields = rw_calloc(json_array_size(v), sizeof(char *));
    size_t i;
    json_array_foreach(v, i, f) {
        if (!json_is_string(f) || !json_string_length(f)) {
            snprintf(p, sizeof(p), "%s/field/%zu", at, i);
            return perr(x, p, false, "%s: must be a field name", p + 1);
        }
        r->fields[r->n_fields++] = rw_strdup(json_string_value(f));
    }
    return 0;
}

static int route_parse(pctx_t *x, const json_t *o, const char *at, bool listed,
                       rw_rekey_route_t *r) {
    static const char *const keys[] = {"input", "field", "topic", "max_idle_ms", NULL};
    if (!json_is_object(o))
        return perr(x, at, false,
                    "%s: must be an object: {%s\"field\": \"account\", \"topic\": "
                    "\"risk.rekeyed.transactions\"}",
                    at + 1, listed ? "\"input\": \"events.transactions\", " : "");
    const char *k;
    const json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, o), k, v) {
        if (!in_list(k, keys, 0) || (!listed && strcmp(k, "input") == 0)) {
            char p[300];
            snprintf(p, sizeof(p), "%s/%s", at, k);
            return perr(x, p, true, "%s: unknown key (known: %sfield, topic, max_idle_ms)", p + 1,
                        listed ? "input, " : "");
        }
    }
    const char *topic = route_str(x, o, at, "topic", "the internal topic the copies go to");
    const char *input =
        listed ? route_str(x, o, at, "input", "the input topic this route re-keys") : NULL;
    if (!topic || (listed && !input) || route_fields(x, o, at, r))
        return -1;
    r->max_idle_ms = RW_REKEY_IDLE_MS;
    const json_t *idle = json_object_get(o, "max_idle_ms");
    if (idle && (!json_is_integer(idle) || json_integer_value(idle) < 0 ||
                 json_integer_value(idle) > 600000)) {
        char p[300];
        snprintf(p, sizeof(p), "%s/max_idle_ms", at);
        return perr(x, p, false, "%s: must be an integer of milliseconds from 0 to 600000", p + 1);
    }
    if (idle)
        r->max_idle_ms = json_integer_value(idle);
    r->topic = rw_strdup(topic);
    r->input = input ? rw_strdup(input) : NULL;
    return 0;
}

/* Topics: an internal topic is neither read as input nor written as an output; a listed
 * route names an input topic, once. */
static int routes_check(pctx_t *x, const rw_rekey_conf_t *c, bool listed, const char *const *inputs,
                        size_t n_inputs, const char *const *outputs) {
    for (size_t i = 0; i < c->n_routes; i++) {
        const rw_rekey_route_t *r = &c->routes[i];
        char at[64], p[96];
        snprintf(at, sizeof(at), listed ? "/rekey/%zu" : "/rekey", i);
        snprintf(p, sizeof(p), "%s/topic", at);
        if (in_list(r->topic, inputs, n_inputs))
            return perr(x, p, false,
                        "%s: \"%s\" is an input topic; the internal topic must be a topic of its "
                        "own",
                        p + 1, r->topic);
        if (in_list(r->topic, outputs, 0))
            return perr(x, p, false, "%s: \"%s\" is a topic the engine writes to", p + 1, r->topic);
        if (!r->input)
            continue;
        snprintf(p, sizeof(p), "%s/input", at);
        if (!in_list(r->input, inputs, n_inputs))
            return perr(x, p, false, "%s: \"%s\" is not one of kafka.input_topics", p + 1,
                        r->input);
        for (size_t j = 0; j < i; j++)
            if (c->routes[j].input && strcmp(c->routes[j].input, r->input) == 0)
                return perr(x, p, false, "%s: \"%s\" has a route already", p + 1, r->input);
    }
    return 0;
}

rw_rekey_conf_t *rw_rekey_conf_parse(const json_t *v, const char *source, const char *text,
                                     size_t len, const char *const *inputs, size_t n_inputs,
                                     const char *const *outputs, rw_error_t *err) {
    pctx_t x = {source, text, len, err};
    bool listed = json_is_array(v);
    if (!listed && !json_is_object(v)) {
        perr(&x, "/rekey", false,
             "rekey: must be an object {\"field\": ..., \"topic\": ...} or a list of them "
             "with \"input\"");
        return NULL;
    }
    if (listed && !json_array_size(v)) {
        perr(&x, "/rekey", false, "rekey: the list of routes is empty");
        return NULL;
    }
    rw_rekey_conf_t *c = rw_calloc(1, sizeof(*c));
    size_t n = listed ? json_array_size(v) : 1;
    c->routes = rw_calloc(n, sizeof(*c->routes));
    for (size_t i = 0; i < n; i++) {
        char at[64];
        snprintf(at, sizeof(at), listed ? "/rekey/%zu" : "/rekey", i);
        int rc =
            route_parse(&x, listed ? json_array_get(v, i) : v, at, listed, &c->routes[c->n_routes]);
        c->n_routes++; /* freed with the rest, also when half filled */
        if (rc) {
            rw_rekey_conf_destroy(c);
            return NULL;
        }
    }
    if (routes_check(&x, c, listed, inputs, n_inputs, outputs)) {
        rw_rekey_conf_destroy(c);
        return NULL;
    }
    return c;
}

const rw_rekey_route_t *rw_rekey_route(const rw_rekey_conf_t *c, const char *topic) {
    const rw_rekey_route_t *all = NULL;
    for (size_t i = 0; c && i < c->n_routes; i++) {
        if (strcmp(c->routes[i].topic, topic) == 0)
            return NULL; /* an internal topic is evaluated */
        if (!c->routes[i].input)
            all = &c->routes[i];
        else if (strcmp(c->routes[i].input, topic) == 0)
            return &c->routes[i];
    }
    return all;
}

void rw_rekey_subscribe(const rw_rekey_conf_t *c, rd_kafka_topic_partition_list_t *topics) {
    for (size_t i = 0; c && i < c->n_routes; i++) {
        bool have = false;
        for (int j = 0; j < topics->cnt && !have; j++)
            have = strcmp(topics->elems[j].topic, c->routes[i].topic) == 0;
        if (!have)
            rd_kafka_topic_partition_list_add(topics, c->routes[i].topic, RD_KAFKA_PARTITION_UA);
    }
}

/* ---- the forwarder -------------------------------------------------------------------- */

enum { COPY_PENDING = 0, COPY_DONE = 1, COPY_FAILED = -1, COPY_REFUSED = -2 };

/* One message taken from a batch, and its copy. */
typedef struct copy {
    rd_kafka_message_t *m;
    const rw_rekey_route_t *route;
    char *key; /* owned */
    size_t key_len;
    int64_t ts_ms; /* the event's time; INT64_MIN when it has none */
    size_t run;    /* its input partition's run in the batch */
    int status;    /* COPY_* */
    bool dead;     /* refused for good as a copy: sent to the dead-letter topic */
} copy_t;

/* How the batch names the source of a copy: "INPUT@INTERNAL/PARTITION" (rekey.h). */
typedef struct source {
    char *name;
    struct source *next;
} source_t;

#define SOURCES 256 /* hash chains */

struct rw_rekey {
    const rw_rekey_conf_t *conf;
    rd_kafka_t *producer, *consumer;
    const char *dead_topic;
    rd_kafka_topic_t **topics; /* per route: the internal topic, murmur2 partitioner */
    copy_t *copies, *merged;
    size_t cap;
    source_t *sources[SOURCES];
    rd_kafka_topic_partition_list_t *starts; /* inputs_starts; NULL: none yet */
    /* Fault injection for tests (RW_TEST_DIE="after-rekey:N"): the process dies once the
     * Nth batch's copies are acknowledged, before their input offsets are committed. */
    int die_batch, batches;
};

static void copy_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    int *status = m->_private;
    bool refused = m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                   m->err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
                   m->err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
                   m->err == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
                   m->err == RD_KAFKA_RESP_ERR_POLICY_VIOLATION;
    if (status)
        *status = !m->err ? COPY_DONE : refused ? COPY_REFUSED : COPY_FAILED;
    static rw_ratelimit_t rl;
    if (m->err)
        rw_log_limited(&rl, RW_LOG_WARN, "rekey: delivery to %s failed: %s",
                       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

rw_rekey_t *rw_rekey_new(const rw_rekey_conf_t *conf, rd_kafka_conf_t *pconf, rd_kafka_t *consumer,
                         const char *dead_topic, rw_error_t *err) {
    /* Idempotent and gapless: the copies of one input partition reach each internal
     * partition in their order, or the producer fails for good (the engine stops, and
     * its successor produces them again from the committed offsets). */
    char e[512];
    if (rd_kafka_conf_set(pconf, "enable.idempotence", "true", e, sizeof(e)) ||
        rd_kafka_conf_set(pconf, "enable.gapless.guarantee", "true", e, sizeof(e))) {
        rd_kafka_conf_destroy(pconf);
        rw_error_fail(err, RW_ERR_INPUT, "%s", e);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(pconf, copy_dr);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, e, sizeof(e));
    if (!producer) {
        rd_kafka_conf_destroy(pconf);
        rw_error_fail(err, RW_ERR_INPUT, "%s", e);
        return NULL;
    }
    rw_rekey_t *k = rw_calloc(1, sizeof(*k));
    k->conf = conf;
    k->producer = producer;
    k->consumer = consumer;
    k->dead_topic = dead_topic;
    const char *die = getenv("RW_TEST_DIE");
    if (die && strncmp(die, "after-rekey:", 12) == 0)
        k->die_batch = (int)strtol(die + 12, NULL, 10);
    k->topics = rw_calloc(conf->n_routes, sizeof(rd_kafka_topic_t *));
    for (size_t i = 0; i < conf->n_routes; i++) {
        /* Keys map to partitions as Kafka's Java clients map them (murmur2), whatever
         * partitioner kafka.properties gives the engine's other outputs. */
        rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
        char why[256];
        if (rd_kafka_topic_conf_set(tc, "partitioner", "murmur2_random", why, sizeof(why)) !=
            RD_KAFKA_CONF_OK)
            rw_log(RW_LOG_WARN, "rekey: partitioner: %s", why);
        k->topics[i] = rd_kafka_topic_new(producer, conf->routes[i].topic, tc);
        if (!k->topics[i])
            rd_kafka_topic_conf_destroy(tc);
    }
    return k;
}

void rw_rekey_destroy(rw_rekey_t *k) {
    if (!k)
        return;
    for (size_t i = 0; i < k->conf->n_routes; i++)
        if (k->topics[i])
            rd_kafka_topic_destroy(k->topics[i]);
    free(k->topics);
    /* Every copy was acknowledged, or the engine stops: 10 s for what is left. */
    rd_kafka_flush(k->producer, 10000);
    rd_kafka_destroy(k->producer);
    for (size_t i = 0; i < SOURCES; i++)
        for (source_t *s = k->sources[i], *next; s; s = next) {
            next = s->next;
            free(s->name);
            free(s);
        }
    if (k->starts)
        rd_kafka_topic_partition_list_destroy(k->starts);
    free(k->copies);
    free(k->merged);
    free(k);
}

static rd_kafka_topic_t *route_topic(const rw_rekey_t *k, const rw_rekey_route_t *r) {
    return k->topics[r - k->conf->routes];
}

/* The text of a scalar at a dotted path of the event; NULL when absent or not a string
 * or an integer. */
static const char *field_text(const json_t *event, const char *path, char *buf, size_t len) {
    const json_t *v = event;
    const char *p = path;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        v = json_is_object(v) ? json_object_getn(v, p, n) : NULL;
        p += n + (dot != NULL);
    }
    if (json_is_string(v) && json_string_length(v) &&
        strlen(json_string_value(v)) == json_string_length(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* Whether the ruleset keeps the field as a pseudonym (as rw_field_text does: by the
 * last part of its path). */
static bool field_masked(const rw_ruleset_t *rs, const char *path) {
    const char *last = strrchr(path, '.');
    return rs && rw_ruleset_mask_for(rs, last ? last + 1 : path) != NULL;
}

static char *text_dup(const void *text, size_t len) {
    char *s = rw_malloc(len + 1);
    memcpy(s, text, len);
    s[len] = 0;
    return s;
}

/* The key of a message's copy, and its event's time: the first field of its route the
 * event holds (a masked field's pseudonym), else the fallback of rekey.h. */
static void copy_key(copy_t *c, const rw_ruleset_t *rs) {
    const rd_kafka_message_t *m = c->m;
    json_t *ev = m->payload ? json_loadb(m->payload, m->len, 0, NULL) : NULL;
    char buf[64];
    const char *text = NULL;
    size_t f = 0;
    for (; ev && f < c->route->n_fields && !text; f++)
        text = field_text(ev, c->route->fields[f], buf, sizeof(buf));
    const json_t *ts = json_object_get(ev, "ts");
    if (!json_is_string(ts) ||
        rw_time_parse(json_string_value(ts), json_string_length(ts), &c->ts_ms) != 0)
        c->ts_ms = INT64_MIN;
    if (text && field_masked(rs, c->route->fields[f - 1])) {
        c->key = rw_malloc(RW_PSEUDONYM_LEN + 1);
        rw_pseudonym(text, strlen(text), c->key);
    } else if (text) {
        c->key = rw_strdup(text);
    } else if (m->key && m->key_len) {
        c->key = text_dup(m->key, m->key_len);
    } else {
        char part[300];
        snprintf(part, sizeof(part), "%s/%d", rd_kafka_topic_name(m->rkt), (int)m->partition);
        c->key = rw_strdup(part);
    }
    c->key_len = strlen(c->key);
    json_decref(ev);
}

/* Puts the batch's copies in the order of their events' times, as far as each input
 * partition's own order allows: a merge of the partitions' runs, taking next the run
 * whose next event is the earliest (the first run on a tie; an event without a time
 * goes as soon as its run's turn comes). Every input partition keeps its order, which
 * the fences of its copies need; events that were spread over the partitions in time
 * order come back in time order. */
static void copies_merge(rw_rekey_t *k, size_t n, size_t runs) {
    size_t *next = rw_calloc(runs, sizeof(*next)); /* per run: its next copy's index */
    for (size_t r = 0; r < runs; r++)
        for (next[r] = 0; next[r] < n && k->copies[next[r]].run != r; next[r]++)
            ;
    for (size_t o = 0; o < n; o++) {
        size_t best = SIZE_MAX;
        for (size_t r = 0; r < runs; r++) {
            if (next[r] >= n)
                continue;
            const copy_t *c = &k->copies[next[r]];
            if (best == SIZE_MAX || c->ts_ms < k->copies[next[best]].ts_ms ||
                (c->ts_ms == k->copies[next[best]].ts_ms && next[r] < next[best]))
                best = r;
        }
        k->merged[o] = k->copies[next[best]];
        size_t i = next[best] + 1;
        while (i < n && k->copies[i].run != best)
            i++;
        next[best] = i;
    }
    free(next);
    copy_t *t = k->copies;
    k->copies = k->merged;
    k->merged = t;
}

/* The headers of a copy: the input message's own, and where it came from. */
static rd_kafka_headers_t *copy_headers(const copy_t *c, const char *error) {
    rd_kafka_headers_t *h = NULL, *own = NULL;
    if (!rd_kafka_message_headers(c->m, &own) && own)
        h = rd_kafka_headers_copy(own);
    else
        h = rd_kafka_headers_new(4);
    char num[32];
    if (error)
        rd_kafka_header_add(h, "rw.error", -1, error, -1);
    rd_kafka_header_add(h, "rw.topic", -1, rd_kafka_topic_name(c->m->rkt), -1);
    snprintf(num, sizeof(num), "%d", (int)c->m->partition);
    rd_kafka_header_add(h, "rw.partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)c->m->offset);
    rd_kafka_header_add(h, "rw.offset", -1, num, -1);
    return h;
}

/* Hands a copy to the producer once (pending until its delivery report): to its route's
 * topic with its key or, once refused there (c->dead), to the dead-letter topic with the
 * reason. Returns librdkafka's error; on success the producer owns the copy's headers. */
static rd_kafka_resp_err_t copy_send(rw_rekey_t *k, copy_t *c) {
    c->status = COPY_PENDING;
    rd_kafka_headers_t *h =
        copy_headers(c, c->dead ? "rekey: Kafka refused the re-keyed copy" : NULL);
    rd_kafka_resp_err_t err =
        c->dead
            ? rd_kafka_producev(k->producer, RD_KAFKA_V_TOPIC(k->dead_topic),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(c->m->payload, c->m->len), RD_KAFKA_V_HEADERS(h),
                                RD_KAFKA_V_OPAQUE(&c->status), RD_KAFKA_V_END)
            : rd_kafka_producev(k->producer, RD_KAFKA_V_RKT(route_topic(k, c->route)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(c->key, c->key_len),
                                RD_KAFKA_V_VALUE(c->m->payload, c->m->len), RD_KAFKA_V_HEADERS(h),
                                RD_KAFKA_V_OPAQUE(&c->status), RD_KAFKA_V_END);
    if (err)
        rd_kafka_headers_destroy(h);
    return err;
}

/* Hands a copy to the producer, waiting for room in its queue. A copy Kafka refused for
 * good goes to the dead-letter topic, with the reason. */
static void copy_produce(rw_rekey_t *k, copy_t *c) {
    static rw_ratelimit_t rl;
    rd_kafka_resp_err_t err;
    while ((err = copy_send(k, c)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(k->producer, 100);
    if (!err)
        return;
    rw_log_limited(&rl, RW_LOG_WARN, "rekey: produce to %s: %s",
                   c->dead ? k->dead_topic : c->route->topic, rd_kafka_err2str(err));
    c->status = err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR__INVALID_ARG
                    ? COPY_REFUSED
                    : COPY_FAILED;
}

/* A copy Kafka refuses for good goes to the dead-letter topic; refused there too, it is
 * logged and let go. Returns whether it was produced again. */
static bool copy_refused(rw_rekey_t *k, copy_t *c) {
    const rd_kafka_message_t *m = c->m;
    if (c->dead) { /* as a dead letter too: nothing smaller to try */
        rw_log(RW_LOG_ERROR, "rekey: %s/%d/%lld dropped: Kafka refuses it on %s and on %s",
               rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
               c->route->topic, k->dead_topic);
        c->status = COPY_DONE;
        return false;
    }
    rw_log(RW_LOG_WARN, "rekey: Kafka refused the copy of %s/%d/%lld for good: dead-lettered",
           rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
    c->dead = true;
    copy_produce(k, c);
    return true;
}

/* Waits until every copy is acknowledged. When one failed, every copy of the batch is
 * produced again, in order, after a backoff: the copies of one input partition then
 * reach each internal partition in their order, the ones already there once more, and
 * the fences by input offset (rw_rekey_source) take each once. Returns 0, or -1 when
 * give_up says so. */
static int copies_deliver(rw_rekey_t *k, size_t n, rw_rekey_give_up_fn give_up, void *arg) {
    rw_backoff_t backoff = {100, 5000, 0, 0};
    static rw_ratelimit_t rl;
    for (;;) {
        size_t pending = 0, failed = 0;
        for (size_t i = 0; i < n; i++) {
            copy_t *c = &k->copies[i];
            if (c->status == COPY_REFUSED && copy_refused(k, c))
                pending++;
            pending += c->status == COPY_PENDING;
            failed += c->status == COPY_FAILED;
        }
        if (!pending && !failed)
            return 0;
        char why[512];
        if (rd_kafka_fatal_error(k->producer, why, sizeof(why))) {
            rw_log(RW_LOG_ERROR, "rekey: producer: fatal error: %s; stopping", why);
            return -1;
        }
        if (pending) {
            rd_kafka_poll(k->producer, 100);
            continue;
        }
        int ms = rw_backoff_next(&backoff);
        rw_log_limited(&rl, RW_LOG_WARN,
                       "rekey: %zu copies not acknowledged; producing the batch's %zu again "
                       "in %d ms",
                       failed, n, ms);
        if (give_up(arg))
            return -1;
        for (int64_t until = rw_monotonic_ms() + ms; rw_monotonic_ms() < until;)
            rd_kafka_poll(k->producer, 50);
        for (size_t i = 0; i < n; i++)
            if (!k->copies[i].dead)
                copy_produce(k, &k->copies[i]);
    }
}

/* Commits the offsets after the copies' input messages, and waits for the answer. */
static void copies_commit(rw_rekey_t *k, size_t n) {
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_message_t *m = k->copies[i].m;
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(k->consumer, offs, 0);
    if (err)
        rw_log(RW_LOG_INFO,
               "rekey: input offsets not committed (partition moved away?): %s; their copies "
               "will be produced again and taken once",
               rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(offs);
}

/* The run of the batch's copies an input message belongs to: one per input partition,
 * numbered in order of appearance. */
static size_t copy_run(const rw_rekey_t *k, size_t taken, const rd_kafka_message_t *m,
                       size_t *runs) {
    for (size_t i = 0; i < taken; i++)
        if (k->copies[i].m->rkt == m->rkt && k->copies[i].m->partition == m->partition)
            return k->copies[i].run;
    return (*runs)++;
}

long rw_rekey_forward(rw_rekey_t *k, const rw_ruleset_t *rs, rd_kafka_message_t **msgs, size_t *n,
                      rw_rekey_give_up_fn give_up, void *arg) {
    size_t kept = 0, taken = 0, runs = 0;
    for (size_t i = 0; i < *n; i++) {
        rd_kafka_message_t *m = msgs[i];
        const rw_rekey_route_t *r =
            m->err ? NULL : rw_rekey_route(k->conf, rd_kafka_topic_name(m->rkt));
        if (!r) {
            msgs[kept++] = m;
            continue;
        }
        if (taken == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 512;
            k->copies = rw_realloc(k->copies, k->cap * sizeof(*k->copies));
            k->merged = rw_realloc(k->merged, k->cap * sizeof(*k->merged));
        }
        size_t run = copy_run(k, taken, m, &runs);
        copy_t *c = &k->copies[taken++];
        *c = (copy_t){.m = m, .route = r, .run = run};
        copy_key(c, rs);
    }
    *n = kept;
    if (!taken)
        return 0;
    if (runs > 1)
        copies_merge(k, taken, runs);
    for (size_t i = 0; i < taken; i++)
        copy_produce(k, &k->copies[i]);
    int rc = copies_deliver(k, taken, give_up, arg);
    if (rc == 0 && ++k->batches == k->die_batch) {
        rw_log(RW_LOG_WARN, "RW_TEST_DIE: dying after re-keying batch %d", k->batches);
        _exit(137);
    }
    if (rc == 0)
        copies_commit(k, taken);

    for (size_t i = 0; i < taken; i++) {
        free(k->copies[i].key);
        rd_kafka_message_destroy(k->copies[i].m);
    }
    return rc ? -1 : (long)taken;
}

/* Whether a partition of a re-keyed input has messages not yet read: its end is past where
 * the engine reads it (the last message read, or before any, its committed offset), or not
 * known yet (nothing fetched from it since it came). */
static bool input_waiting(rd_kafka_t *consumer, const rd_kafka_topic_partition_t *p,
                          const rd_kafka_topic_partition_list_t *starts) {
    int64_t lo, hi;
    if (rd_kafka_get_watermark_offsets(consumer, p->topic, p->partition, &lo, &hi) || hi < 0)
        return true;
    if (p->offset >= 0)
        return hi > p->offset;
    const rd_kafka_topic_partition_t *s =
        rd_kafka_topic_partition_list_find(starts, p->topic, p->partition);
    return hi > (s && s->offset >= 0 ? s->offset : lo);
}

/* The committed offsets of the re-keyed input partitions this engine holds and has read
 * nothing from yet (where it starts), asked once per partition while it holds it. */
static void inputs_starts(rw_rekey_t *k, const rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_topic_partition_list_t *starts = rd_kafka_topic_partition_list_new(8),
                                    *ask = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (p->offset >= 0 || !rw_rekey_route(k->conf, p->topic))
            continue;
        const rd_kafka_topic_partition_t *old =
            k->starts ? rd_kafka_topic_partition_list_find(k->starts, p->topic, p->partition)
                      : NULL;
        rd_kafka_topic_partition_list_add(old ? starts : ask, p->topic, p->partition)->offset =
            old ? old->offset : RD_KAFKA_OFFSET_INVALID;
    }
    if (ask->cnt &&
        rd_kafka_committed(k->consumer, ask, RW_REKEY_IDLE_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < ask->cnt; i++)
            rd_kafka_topic_partition_list_add(starts, ask->elems[i].topic, ask->elems[i].partition)
                ->offset = ask->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(ask);
    if (k->starts)
        rd_kafka_topic_partition_list_destroy(k->starts);
    k->starts = starts;
}

/* Partitions of re-keyed inputs this engine holds that have no message in msgs[0..n) but
 * messages waiting. */
static size_t inputs_missing(rw_rekey_t *k, rd_kafka_message_t **msgs, size_t n) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(k->consumer, &parts) || !parts)
        return 0;
    rd_kafka_position(k->consumer, parts);
    inputs_starts(k, parts);
    size_t missing = 0;
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (!rw_rekey_route(k->conf, p->topic))
            continue;
        bool have = false;
        for (size_t j = 0; j < n && !have; j++)
            have = !msgs[j]->err && msgs[j]->partition == p->partition &&
                   strcmp(rd_kafka_topic_name(msgs[j]->rkt), p->topic) == 0;
        missing += !have && input_waiting(k->consumer, p, k->starts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return missing;
}

size_t rw_rekey_fill(rw_rekey_t *k, rd_kafka_queue_t *queue, rd_kafka_message_t **msgs, size_t n,
                     size_t cap) {
    bool any = false;
    for (size_t i = 0; i < n && !any; i++)
        any = !msgs[i]->err && rw_rekey_route(k->conf, rd_kafka_topic_name(msgs[i]->rkt));
    int64_t idle = 0;
    for (size_t i = 0; i < k->conf->n_routes; i++)
        if (k->conf->routes[i].max_idle_ms > idle)
            idle = k->conf->routes[i].max_idle_ms;
    int64_t until = rw_monotonic_ms() + idle;
    while (any && n < cap && inputs_missing(k, msgs, n) && rw_monotonic_ms() < until) {
        ssize_t got = rd_kafka_consume_batch_queue(queue, 20, msgs + n, cap - n);
        n += got > 0 ? (size_t)got : 0;
    }
    return n;
}

/* ---- the internal topics, read -------------------------------------------------------- */

static bool internal_topic(const rw_rekey_conf_t *c, const char *topic) {
    for (size_t i = 0; i < c->n_routes; i++)
        if (strcmp(c->routes[i].topic, topic) == 0)
            return true;
    return false;
}

static bool header_num(rd_kafka_headers_t *h, const char *name, long long *out) {
    const void *v;
    size_t len;
    char buf[32], *end;
    if (rd_kafka_header_get_last(h, name, &v, &len) || !v || !len || len >= sizeof(buf))
        return false;
    memcpy(buf, v, len);
    buf[len] = 0;
    *out = strtoll(buf, &end, 10);
    return *end == 0 && *out >= 0;
}

bool rw_rekey_source(rw_rekey_t *k, const rd_kafka_message_t *m, const char **topic,
                     int32_t *partition, int64_t *offset) {
    rd_kafka_headers_t *h = NULL;
    const void *tv;
    size_t tl;
    long long part, off;
    if (!k || m->err || !internal_topic(k->conf, rd_kafka_topic_name(m->rkt)) ||
        rd_kafka_message_headers(m, &h) || !h ||
        rd_kafka_header_get_last(h, "rw.topic", &tv, &tl) || !tv || !tl || tl > 249 ||
        !header_num(h, "rw.partition", &part) || part > INT32_MAX ||
        !header_num(h, "rw.offset", &off))
        return false;
    char name[300];
    snprintf(name, sizeof(name), "%.*s@%s/%d", (int)tl, (const char *)tv,
             rd_kafka_topic_name(m->rkt), (int)m->partition);
    size_t slot = (size_t)(rw_hash64(name, strlen(name)) % SOURCES);
    source_t *s = k->sources[slot];
    while (s && strcmp(s->name, name) != 0)
        s = s->next;
    if (!s) {
        s = rw_malloc(sizeof(*s));
        s->name = rw_strdup(name);
        s->next = k->sources[slot];
        k->sources[slot] = s;
    }
    *topic = s->name;
    *partition = (int32_t)part;
    *offset = off;
    return true;
}
