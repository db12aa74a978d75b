#include "engine.h"

#include "eval.h"
#include "plugin.h"
#include "ruleset.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

rd_kafka_conf_t *rw_kafka_conf_new(const rw_config_t *cfg, char *err, size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, err, errlen) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    const char *name;
    json_t *v;
    json_object_foreach(cfg->properties, name, v) {
        char val[512];
        if (rw_kafka_property_allowed(name, err, errlen))
            goto fail;
        if (json_is_string(v))
            snprintf(val, sizeof(val), "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            snprintf(val, sizeof(val), "%g", json_real_value(v));
        else
            snprintf(val, sizeof(val), "%s", json_is_true(v) ? "true" : "false");
        char e[256];
        if (rd_kafka_conf_set(conf, name, val, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "kafka.properties.%s: %s", name, e);
            goto fail;
        }
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err,
                    size_t errlen) {
    return rd_kafka_conf_set(conf, k, v, err, errlen) == RD_KAFKA_CONF_OK ? 0 : -1;
}

/* ---- outputs ------------------------------------------------------------------------ */

enum { OUT_PENDING = 0, OUT_DONE = 1, OUT_FAILED = -1 };

typedef struct out {
    const char *topic; /* borrowed from the config */
    char *key;         /* owned */
    char *value;       /* owned, or borrowed payload when dead-lettered */
    size_t len;
    bool own_value;
    const rw_item_t *dead; /* dead letter: the item, for its headers */
    int status;
} out_t;

typedef struct engine {
    const rw_config_t *cfg;
    atomic_int *stop;
    rw_ruleset_t *rs;
    rw_store_t *store;
    rw_batch_t *batch;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *queue;
    out_t *outs;
    size_t n_outs, cap_outs;
    long long n_msgs, n_alerts, n_dead;
} engine_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    int *status = m->_private;
    if (status)
        *status = m->err ? OUT_FAILED : OUT_DONE;
    if (m->err)
        rw_log(RW_LOG_WARN, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
               rd_kafka_err2str(m->err));
}

static size_t outs_wait(engine_t *e);

/* Forgets the outputs, after waiting for any still in flight: their delivery
 * reports write into them. */
static void outs_clear(engine_t *e) {
    outs_wait(e);
    for (size_t i = 0; i < e->n_outs; i++) {
        free(e->outs[i].key);
        if (e->outs[i].own_value)
            free(e->outs[i].value);
    }
    e->n_outs = 0;
}

static out_t *out_add(engine_t *e, const char *topic) {
    if (e->n_outs == e->cap_outs) {
        e->cap_outs = e->cap_outs ? e->cap_outs * 2 : 256;
        e->outs = rw_realloc(e->outs, e->cap_outs * sizeof(*e->outs));
    }
    out_t *o = &e->outs[e->n_outs++];
    memset(o, 0, sizeof(*o));
    o->topic = topic;
    return o;
}

/* The same alert again, to another topic (the value stays owned by o). */
static void out_copy(engine_t *e, const out_t *o, const char *topic) {
    size_t at = (size_t)(o - e->outs);
    out_t *h = out_add(e, topic); /* may move e->outs */
    o = &e->outs[at];
    h->value = o->value;
    h->len = o->len;
    h->key = rw_strdup(o->key);
}

static void outs_build(engine_t *e) {
    rw_batch_t *b = e->batch;
    int64_t now = rw_now_ms();
    for (size_t i = 0; i < b->n_items; i++) {
        const rw_item_t *it = &b->items[i];
        if (it->error[0]) {
            out_t *o = out_add(e, e->cfg->deadletter_topic);
            o->value = (char *)it->msg.payload;
            o->len = it->msg.len;
            o->dead = it;
            e->n_dead++;
            continue;
        }
        if (it->level == RW_LEVEL_NONE)
            continue;
        char *alert = rw_alert_build(b, it, now);
        char *key = rw_alert_key(b, it);
        out_t *o = out_add(e, e->cfg->alert_topic);
        o->value = alert;
        o->len = strlen(alert);
        o->own_value = true;
        o->key = key;
        e->n_alerts++;
        if (it->level == RW_LEVEL_HIGH)
            out_copy(e, o, e->cfg->high_alert_topic);
    }
    for (size_t i = 0; i < b->n_case_alerts; i++) {
        const rw_case_alert_t *ca = &b->case_alerts[i];
        out_t *o = out_add(e, e->cfg->alert_topic);
        o->value = rw_case_alert_build(b, ca, now);
        o->len = strlen(o->value);
        o->own_value = true;
        o->key = rw_case_alert_key(b, ca);
        e->n_alerts++;
        if (ca->level == RW_LEVEL_HIGH)
            out_copy(e, o, e->cfg->high_alert_topic);
    }
}

static rd_kafka_headers_t *dead_headers(const rw_item_t *it) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    char num[32];
    rd_kafka_header_add(h, "rw.error", -1, it->error, -1);
    rd_kafka_header_add(h, "rw.topic", -1, it->msg.topic, -1);
    snprintf(num, sizeof(num), "%d", (int)it->msg.partition);
    rd_kafka_header_add(h, "rw.partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)it->msg.offset);
    rd_kafka_header_add(h, "rw.offset", -1, num, -1);
    return h;
}

static void backoff_wait(engine_t *e, int ms) {
    int64_t until = rw_monotonic_ms() + ms;
    while (!atomic_load(e->stop) && rw_monotonic_ms() < until) {
        rd_kafka_poll(e->producer, 50);
    }
}

/* Hands every output not yet delivered to the producer (waiting for room when
 * its queue is full: backpressure, not drops). */
static void outs_enqueue(engine_t *e) {
    for (size_t i = 0; i < e->n_outs; i++) {
        out_t *o = &e->outs[i];
        if (o->status == OUT_DONE)
            continue;
        o->status = OUT_PENDING;
        for (;;) {
            rd_kafka_headers_t *h = o->dead ? dead_headers(o->dead) : NULL;
            rd_kafka_resp_err_t err = rd_kafka_producev(
                e->producer, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE(o->value, o->len),
                RD_KAFKA_V_KEY(o->key, o->key ? strlen(o->key) : 0),
                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&o->status), RD_KAFKA_V_END);
            if (!err)
                break;
            if (h)
                rd_kafka_headers_destroy(h);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(e->producer, 100); /* backpressure: wait for room */
                continue;
            }
            rw_log(RW_LOG_WARN, "produce to %s: %s", o->topic, rd_kafka_err2str(err));
            o->status = OUT_FAILED;
            break;
        }
    }
}

/* Waits for every acknowledgement. Returns the number that failed. */
static size_t outs_wait(engine_t *e) {
    for (;;) {
        size_t pending = 0;
        for (size_t i = 0; i < e->n_outs; i++)
            pending += e->outs[i].status == OUT_PENDING;
        if (!pending)
            break;
        rd_kafka_flush(e->producer, 1000);
    }
    size_t failed = 0;
    for (size_t i = 0; i < e->n_outs; i++)
        failed += e->outs[i].status == OUT_FAILED;
    return failed;
}

/* ---- the batch ------------------------------------------------------------------------ */

/* Gives up on a batch only when asked to stop and the outage lasts past this. */
#define STOP_GRACE_MS 30000

static bool gave_up(engine_t *e, int64_t *stop_seen) {
    if (!atomic_load(e->stop))
        return false;
    if (!*stop_seen)
        *stop_seen = rw_monotonic_ms();
    return rw_monotonic_ms() - *stop_seen > STOP_GRACE_MS;
}

/* Waits until every output is acknowledged, producing failed ones again with
 * backoff. Returns 0, or -1 when asked to stop and Kafka stays away. */
static int outs_deliver(engine_t *e, int64_t *stop_seen) {
    int backoff = 100;
    while (outs_wait(e) > 0) {
        rw_log(RW_LOG_WARN, "alerts not acknowledged; producing again in %d ms", backoff);
        if (gave_up(e, stop_seen))
            return -1;
        backoff_wait(e, backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        outs_enqueue(e);
    }
    return 0;
}

static int batch_process(engine_t *e, rd_kafka_message_t **msgs, ssize_t n) {
    rw_batch_t *b = e->batch;
    rw_batch_reset(b, e->rs);
    int64_t arrival = rw_now_ms();
    for (ssize_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rw_log(RW_LOG_WARN, "consume: %s", rd_kafka_message_errstr(m));
            continue;
        }
        rw_msg_t msg = {rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->payload,
                        m->len, arrival};
        rw_batch_add(b, &msg);
    }
    if (b->n_items == 0)
        return 0;
    rw_batch_plan(b);

    /* Alerts go out before the state that produced them is stored: a crash in
     * between re-reads the messages and publishes the same alerts again. Case
     * alerts are not derived again once their case is stored as alerted, so a
     * batch with case alerts waits for Kafka before Redis; other batches let
     * Kafka's acknowledgements overlap the Redis write. */
    int backoff = 100;
    int64_t stop_seen = 0;
    for (;;) {
        int rc = e->store->load(e->store, b);
        if (rc == 0) {
            rw_batch_evaluate(b);
            outs_clear(e);
            outs_build(e);
            outs_enqueue(e);
            if (b->n_case_alerts && outs_deliver(e, &stop_seen) != 0)
                return -1;
            rc = e->store->apply(e->store, b);
        }
        if (rc == 0)
            break;
        if (rc == RW_STORE_CONFLICT) {
            rw_log(RW_LOG_INFO, "partition fence moved (rebalance): re-evaluating the batch");
            continue;
        }
        rw_log(RW_LOG_WARN, "%s; retrying in %d ms", e->store->last_error, backoff);
        if (gave_up(e, &stop_seen))
            return -1;
        backoff_wait(e, backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    if (outs_deliver(e, &stop_seen) != 0)
        return -1;
    size_t reread = 0;
    for (size_t i = 0; i < b->n_items; i++)
        reread += b->items[i].applied;
    if (reread)
        rw_log(RW_LOG_INFO,
               "%zu messages read again after a restart or rebalance: their alerts are "
               "published again with the same alert_id; counters and windows already hold them",
               reread);

    /* Everything is stored and acknowledged: the offsets may move on. */
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)b->n_srcs);
    for (size_t i = 0; i < b->n_srcs; i++)
        if (b->srcs[i].max_offset >= 0)
            rd_kafka_topic_partition_list_add(offs, b->srcs[i].topic, b->srcs[i].partition)
                ->offset = b->srcs[i].max_offset + 1;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(e->consumer, offs);
    if (err)
        rw_log(RW_LOG_INFO, "offsets not stored (partition moved away?): %s",
               rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(offs);
    e->n_msgs += (long long)b->n_items;
    return 0;
}

/* ---- set-up and the loop -------------------------------------------------------------- */

static int engine_open(engine_t *e, char *err, size_t errlen) {
    const rw_config_t *cfg = e->cfg;
    rd_kafka_conf_t *conf = rw_kafka_conf_new(cfg, err, errlen);
    if (!conf)
        return RW_EXIT_USAGE;
    if (conf_set(conf, "group.id", cfg->group_id, err, errlen) ||
        conf_set(conf, "enable.auto.commit", "true", err, errlen) ||
        conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
        conf_set(conf, "auto.offset.reset", "earliest", err, errlen) ||
        conf_set(conf, "enable.partition.eof", "false", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return RW_EXIT_USAGE;
    }
    e->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!e->consumer) {
        rd_kafka_conf_destroy(conf);
        return RW_EXIT_USAGE;
    }
    rd_kafka_poll_set_consumer(e->consumer);
    e->queue = rd_kafka_queue_get_consumer(e->consumer);
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)cfg->n_input_topics);
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->input_topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(e->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr) {
        snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(kerr));
        return RW_EXIT_RUNTIME;
    }

    conf = rw_kafka_conf_new(cfg, err, errlen);
    if (!conf)
        return RW_EXIT_USAGE;
    if (conf_set(conf, "linger.ms", "5", err, errlen) ||
        conf_set(conf, "enable.idempotence", "true", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return RW_EXIT_USAGE;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    e->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!e->producer) {
        rd_kafka_conf_destroy(conf);
        return RW_EXIT_USAGE;
    }
    return RW_EXIT_OK;
}

static void engine_close(engine_t *e) {
    if (e->consumer) {
        rd_kafka_resp_err_t err = rd_kafka_commit(e->consumer, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            rw_log(RW_LOG_WARN, "final commit: %s", rd_kafka_err2str(err));
        if (e->queue)
            rd_kafka_queue_destroy(e->queue);
        rd_kafka_consumer_close(e->consumer);
        rd_kafka_destroy(e->consumer);
    }
    if (e->producer) {
        rd_kafka_flush(e->producer, 10000);
        rd_kafka_destroy(e->producer);
    }
    outs_clear(e);
    free(e->outs);
    rw_batch_destroy(e->batch);
    if (e->store)
        e->store->destroy(e->store);
    rw_ruleset_destroy(e->rs);
}

int rw_engine_run(const rw_config_t *cfg, atomic_int *stop) {
    engine_t e;
    memset(&e, 0, sizeof(e));
    e.cfg = cfg;
    e.stop = stop;

    if (cfg->modules_dir) {
        rw_error_t perr;
        rw_error_clear(&perr);
        if (rw_plugins_load_dir(cfg->modules_dir, &perr)) {
            char line[1024];
            rw_error_format(&perr, line, sizeof(line));
            fprintf(stderr, "%s\n", line);
            return RW_EXIT_USAGE;
        }
    }
    rw_errors_t errs;
    rw_errors_init(&errs);
    e.rs = rw_ruleset_load_file(cfg->rules, &errs);
    if (!e.rs) {
        rw_errors_print(&errs, stderr);
        rw_errors_fini(&errs);
        rw_plugins_unload_all();
        return RW_EXIT_USAGE;
    }
    rw_errors_fini(&errs);

    char err[512] = "";
    int rc = engine_open(&e, err, sizeof(err));
    if (rc != RW_EXIT_OK) {
        fprintf(stderr, "riskwarn: %s\n", err);
        engine_close(&e);
        rw_plugins_unload_all();
        return rc;
    }
    rw_redis_opts_t ro = {cfg->redis_host,     cfg->redis_port, cfg->redis_unix_socket,
                          cfg->redis_password, cfg->redis_db,   cfg->redis_key_prefix,
                          cfg->group_id,       cfg->redis_timeout_ms};
    e.store = rw_redisstore_new(&ro);
    e.batch = rw_batch_new(cfg->max_event_bytes, false);
    rw_log(RW_LOG_INFO, "running: ruleset %s version %s (%zu rules), group %s, brokers %s",
           e.rs->name, e.rs->version, e.rs->n_rules, cfg->group_id, cfg->brokers);

    int batch_max = cfg->batch_max > 0 ? cfg->batch_max : 512;
    rd_kafka_message_t **msgs = rw_calloc((size_t)batch_max, sizeof(*msgs));
    rc = RW_EXIT_OK;
    while (!atomic_load(stop)) {
        ssize_t n = rd_kafka_consume_batch_queue(e.queue, cfg->poll_ms, msgs, (size_t)batch_max);
        if (n < 0) {
            rw_log(RW_LOG_ERROR, "consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
            continue;
        }
        if (n == 0) {
            rd_kafka_poll(e.producer, 0);
            continue;
        }
        int brc = batch_process(&e, msgs, n);
        for (ssize_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
        if (brc) {
            rw_log(RW_LOG_ERROR, "stopping with a batch not done: its offsets are not "
                                 "committed and it will be read again");
            rc = RW_EXIT_RUNTIME;
            break;
        }
        if (cfg->stop_after > 0 && e.n_msgs >= cfg->stop_after)
            break;
    }
    free(msgs);
    rw_log(RW_LOG_INFO, "stopping: %lld messages, %lld alerts, %lld dead letters", e.n_msgs,
           e.n_alerts, e.n_dead);
    engine_close(&e);
    rw_plugins_unload_all();
    return rc;
}
