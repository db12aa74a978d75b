/* riskwarn rebuild: the state of a group (windows, cool-downs, deadline cases,
 * fences and the day counters) built again from its input topics after Redis
 * lost it, through the evaluation code of `run` and `replay`, publishing
 * nothing. README, "Lost Redis state is rebuilt from the input topics", says
 * when to run it.
 *
 * It joins the engines' consumer group as its only member (it refuses when
 * another member holds a partition, and stops, writing nothing, when one joins
 * meanwhile), reads each input partition from the first message at or after
 * the start of TIME's calendar day less the ruleset's horizon up to the
 * group's committed offset, evaluates the messages in memory (RW_STATE_MEMORY,
 * as `replay` does), then writes the state to Redis with a fence a partition
 * at the last message read, and the counters of TIME's day and the days after
 * it, so that the engines, started again, go on from their committed offsets
 * exactly as if Redis had lost nothing. It commits no offset and produces no
 * message. */
#include "commands.h"
#include "config.h"
#include "engine.h"
#include "eval.h"
#include "kafka.h"
#include "plugin.h"
#include "pseudonym.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REBUILD_BATCH 512
#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)
#define CASE_SPAN_MAX (400 * DAY_MS) /* the longest a case's deadlines are looked for */

/* How far before TIME the messages matter: two windows (what a window keeps
 * for late events), a cool-down, and the time after which a case opened has
 * crossed its highest threshold. */
static int64_t horizon_ms(const rw_ruleset_t *rs, int64_t since) {
    int64_t h = 0;
    for (size_t i = 0; i < rs->n_rules; i++) {
        const rw_rule_t *r = &rs->rules[i];
        if (2 * r->window_ms > h)
            h = 2 * r->window_ms;
        if (r->cooldown_ms > h)
            h = r->cooldown_ms;
        if (!r->case_open || !r->module || !r->module->case_due)
            continue;
        double top = 0;
        for (int l = 1; l < RW_LEVELS; l++)
            if (r->has[l] && r->threshold[l] > top)
                top = r->threshold[l];
        int64_t x = HOUR_MS;
        while (x < CASE_SPAN_MAX && r->module->case_due(r->state, since - x, top) > since)
            x *= 2;
        if (x > h)
            h = x;
    }
    return h;
}

/* ---- the group ------------------------------------------------------------------------ */

typedef struct member {
    rd_kafka_topic_partition_list_t *assigned; /* NULL: not yet */
    bool revoked;                              /* another member joined */
} member_t;

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    member_t *m = opaque;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    bool coop = rw_kafka_cooperative(rk);
    if (assign && !m->assigned && !m->revoked)
        m->assigned = rd_kafka_topic_partition_list_copy(parts);
    else if (parts->cnt > 0 || m->assigned)
        m->revoked = true;
    /* Nothing is read before the offsets are chosen: paused until then. */
    rd_kafka_error_t *kerr = NULL;
    if (coop)
        kerr = assign ? rd_kafka_incremental_assign(rk, parts)
                      : rd_kafka_incremental_unassign(rk, parts);
    else
        rd_kafka_assign(rk, assign ? parts : NULL);
    if (kerr)
        rd_kafka_error_destroy(kerr);
    if (assign)
        rd_kafka_pause_partitions(rk, parts);
}

/* The number of partitions of the input topics; RW_ERR_KAFKA with err filled. */
static int partitions_count(rd_kafka_t *rk, const rw_config_t *cfg, int timeout_ms,
                            rw_error_t *err) {
    int n = 0;
    for (size_t i = 0; i < cfg->n_input_topics; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, cfg->input_topics[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
        rd_kafka_topic_destroy(t);
        if (!e && (md->topic_cnt != 1 || md->topics[0].err))
            e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        if (e) {
            rw_error_fail(err, RW_ERR_KAFKA, "topic %s: %s", cfg->input_topics[i],
                          rd_kafka_err2str(e));
            if (md)
                rd_kafka_metadata_destroy(md);
            return RW_ERR_KAFKA;
        }
        n += md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    return n;
}

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct part {
    int64_t end;   /* the group's committed offset: read up to it */
    bool filter;   /* the broker could not say where TIME starts: skip older messages */
    bool reached;  /* a message at or after the start was read (filter) */
    bool done;     /* the message before end was read */
    int64_t after; /* the start time (filter) */
} part_t;

typedef struct rebuild {
    const rw_config_t *cfg;
    rw_redis_opts_t ro; /* the engines' Redis, from cfg */
    rw_ruleset_t *rs;
    rw_store_t *mem; /* counters, and watchlist lookups */
    rw_batch_t *batch;
    rd_kafka_message_t *msgs[REBUILD_BATCH];
    size_t n_msgs;
    long long read, dead;
    int by_time, from_start; /* partitions placed by offsetsForTimes, or read from their start */
} rebuild_t;

/* The batch through the steps of `run` and `replay`, in memory: then it is
 * stored (fences move to its last offsets, its entries are no longer new). */
static void batch_step(rebuild_t *r) {
    rw_batch_t *b = r->batch;
    rw_batch_reset(b, r->rs);
    for (size_t i = 0; i < r->n_msgs; i++) {
        rd_kafka_message_t *m = r->msgs[i];
        rd_kafka_timestamp_type_t tstype;
        int64_t kts = rd_kafka_message_timestamp(m, &tstype);
        /* Its Kafka timestamp stands for when the engine read it. */
        rw_msg_t msg = {
            rd_kafka_topic_name(m->rkt), m->partition,      m->offset, m->payload, m->len,
            kts > 0 ? kts : rw_now_ms(), kts > 0 ? kts : 0, m->key,    m->key_len};
        rw_batch_add(b, &msg);
    }
    rw_batch_plan(b);
    rw_error_t err;
    rw_error_clear(&err);
    if (r->mem->load(r->mem, b, &err))
        fprintf(stderr, "riskwarn rebuild: %s\n", err.text);
    rw_batch_evaluate(b);
    r->mem->apply(r->mem, b, NULL);
    rw_batch_stored(b);
    for (size_t i = 0; i < b->n_items; i++)
        r->dead += b->items[i].error[0] != 0;
    for (size_t i = 0; i < r->n_msgs; i++)
        rd_kafka_message_destroy(r->msgs[i]);
    r->n_msgs = 0;
}

static part_t *part_of(rd_kafka_topic_partition_list_t *l, const rd_kafka_message_t *m) {
    rd_kafka_topic_partition_t *p =
        rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition);
    return p ? p->opaque : NULL;
}

/* Reads the assigned ranges into the batch. Returns 0, or a negative code with err
 * filled. */
static int read_all(rebuild_t *r, rd_kafka_t *rk, member_t *mb,
                    rd_kafka_topic_partition_list_t *reading, int timeout_ms, rw_error_t *err) {
    atomic_int *stop = rw_stop_flag();
    int left = 0;
    for (int i = 0; i < reading->cnt; i++)
        left += !((part_t *)reading->elems[i].opaque)->done;
    int64_t idle_since = rw_monotonic_ms();
    while (left > 0) {
        if (atomic_load(stop)) {
            return rw_error_fail(err, RW_ERR_FAIL, "stopped by a signal");
        }
        if (mb->revoked) {
            return rw_error_fail(
                err, RW_ERR_KAFKA,
                "another member joined the group: stop every engine of the group first");
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            if (rw_monotonic_ms() - idle_since > timeout_ms) {
                return rw_error_fail(err, RW_ERR_TIMEOUT,
                                     "Kafka gave nothing for %d s; %d partitions unread",
                                     timeout_ms / 1000, left);
            }
            continue;
        }
        idle_since = rw_monotonic_ms();
        part_t *p = m->err ? NULL : part_of(reading, m);
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            fprintf(stderr, "riskwarn rebuild: kafka: %s\n", rd_kafka_message_errstr(m));
        if (!p || p->done || m->offset >= p->end) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->offset == p->end - 1) {
            p->done = true;
            left--;
        }
        rd_kafka_timestamp_type_t tstype;
        if (p->filter && !p->reached && rd_kafka_message_timestamp(m, &tstype) < p->after) {
            rd_kafka_message_destroy(m);
            continue;
        }
        p->reached = true;
        r->read++;
        r->msgs[r->n_msgs++] = m;
        if (r->n_msgs == REBUILD_BATCH)
            batch_step(r);
    }
    if (r->n_msgs)
        batch_step(r);
    return 0;
}

/* Chooses each partition's range: from the first message at or after `from`
 * (offsetsForTimes; where the broker cannot say, from the start, skipping
 * older messages) up to the group's committed offset. Partitions the group
 * never committed are not read: the engines start them from their beginning.
 * Returns the list to read (owned; each elem's opaque a part_t), or NULL with
 * err filled. */
static rd_kafka_topic_partition_list_t *ranges(rebuild_t *r, rd_kafka_t *rk,
                                               const rd_kafka_topic_partition_list_t *assigned,
                                               int64_t from, int timeout_ms, rw_error_t *err) {
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(assigned);
    rd_kafka_topic_partition_list_t *starts = rd_kafka_topic_partition_list_copy(assigned);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, committed, timeout_ms);
    if (e) {
        rw_error_fail(err, RW_ERR_KAFKA, "the group's committed offsets: %s", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(committed);
        rd_kafka_topic_partition_list_destroy(starts);
        return NULL;
    }
    for (int i = 0; i < starts->cnt; i++)
        starts->elems[i].offset = from;
    bool by_time = rd_kafka_offsets_for_times(rk, starts, timeout_ms) == 0;
    rd_kafka_topic_partition_list_t *reading = rd_kafka_topic_partition_list_new(assigned->cnt);
    for (int i = 0; i < committed->cnt; i++) {
        const rd_kafka_topic_partition_t *c = &committed->elems[i];
        const rd_kafka_topic_partition_t *s =
            rd_kafka_topic_partition_list_find(starts, c->topic, c->partition);
        if (c->err || c->offset <= 0)
            continue;
        part_t *p = rw_calloc(1, sizeof(*p));
        p->end = c->offset;
        p->after = from;
        int64_t start = RD_KAFKA_OFFSET_BEGINNING;
        if (by_time && s && !s->err && s->offset >= 0)
            start = s->offset;
        else
            p->filter = true;
        r->by_time += !p->filter;
        r->from_start += p->filter;
        p->done = start >= p->end; /* nothing after the start: only its fence */
        rd_kafka_topic_partition_t *t =
            rd_kafka_topic_partition_list_add(reading, c->topic, c->partition);
        t->offset = p->done ? p->end : start;
        t->opaque = p;
    }
    rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_topic_partition_list_destroy(starts);
    return reading;
}

static void ranges_free(rd_kafka_topic_partition_list_t *l) {
    if (!l)
        return;
    for (int i = 0; i < l->cnt; i++)
        free(l->elems[i].opaque);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Joins the group and waits for its assignment; fails when another member
 * holds a partition. Returns the consumer, or NULL with err filled. */
static rd_kafka_t *group_join(const rw_config_t *cfg, member_t *mb, int timeout_ms,
                              rw_error_t *err) {
    static const char *const defaults[] = {"session.timeout.ms", "6000", "heartbeat.interval.ms",
                                           "1000", NULL};
    rd_kafka_conf_t *conf = rw_kafka_conf_for(cfg, RW_KAFKA_CONSUMER, defaults, err);
    if (!conf)
        return NULL;
    static const char *const own[] = {"enable.auto.commit",
                                      "false",
                                      "enable.auto.offset.store",
                                      "false",
                                      "enable.partition.eof",
                                      "false",
                                      NULL};
    char kerr[512];
    bool ok =
        rd_kafka_conf_set(conf, "group.id", cfg->group_id, kerr, sizeof(kerr)) == RD_KAFKA_CONF_OK;
    for (int i = 0; ok && own[i]; i += 2)
        ok = rd_kafka_conf_set(conf, own[i], own[i + 1], kerr, sizeof(kerr)) == RD_KAFKA_CONF_OK;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, mb);
    rd_kafka_t *rk = ok ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof(kerr)) : NULL;
    if (!rk) {
        rw_error_fail(err, RW_ERR_KAFKA, "%s", kerr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)cfg->n_input_topics);
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->input_topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    int64_t deadline = rw_monotonic_ms() + timeout_ms;
    while (!e && !mb->assigned && !mb->revoked && rw_monotonic_ms() < deadline &&
           !atomic_load(rw_stop_flag())) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m)
            rd_kafka_message_destroy(m);
    }
    int total = e ? -1 : partitions_count(rk, cfg, timeout_ms, err);
    if (e)
        rw_error_fail(err, RW_ERR_KAFKA, "subscribe: %s", rd_kafka_err2str(e));
    else if (total >= 0 && !mb->assigned)
        rw_error_fail(err, RW_ERR_TIMEOUT, "no partitions of group %s assigned within %d s",
                      cfg->group_id, timeout_ms / 1000);
    else if (total >= 0 && (mb->revoked || mb->assigned->cnt < total))
        rw_error_fail(err, RW_ERR_KAFKA,
                      "group %s has other members (they hold %d of its %d partitions): stop every "
                      "engine of the group first",
                      cfg->group_id, total - (mb->assigned ? mb->assigned->cnt : 0), total);
    else if (total >= 0)
        return rk;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* The start of the calendar day (the ruleset's utc_offset) that holds t. */
static int64_t day_start(const rw_ruleset_t *rs, int64_t t) {
    int64_t off = (int64_t)rs->calendar.utc_offset_min * 60000, local = t + off;
    return (local >= 0 ? local / DAY_MS : (local - DAY_MS + 1) / DAY_MS) * DAY_MS - off;
}

/* The counters of `first_day` ("YYYY-MM-DD") and later days: those whose
 * every event was read with the state before it. Returns their number,
 * moved to the front of c. */
static size_t counters_whole(rw_memstore_counter_t *c, size_t n, const char *first_day) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *date = strrchr(c[i].key, ':');
        if (date && strlen(date + 1) == 10 && strcmp(date + 1, first_day) >= 0) {
            rw_memstore_counter_t t = c[k];
            c[k++] = c[i];
            c[i] = t;
        }
    }
    return k;
}

/* Writes the state built to Redis, with the counters of the calendar day that starts at
 * `day` and of the days after it. Returns 0, or RW_ERR_REDIS with err filled. */
static int rebuilt_write(rebuild_t *r, const rd_kafka_topic_partition_list_t *reading, int64_t day,
                         char *summary, size_t len, rw_error_t *err) {
    const rw_config_t *cfg = r->cfg;
    rw_batch_t *b = r->batch;
    /* Each partition's fence: the message before the committed offset. */
    for (size_t i = 0; i < b->n_srcs; i++)
        b->srcs[i].fence_known = false;
    for (int i = 0; i < reading->cnt; i++) {
        const rd_kafka_topic_partition_t *t = &reading->elems[i];
        /* The index first: a partition none of whose messages was evaluated (each before
         * the horizon) gets its source here, which may move b->srcs. */
        uint32_t k = rw_batch_src(b, t->topic, t->partition);
        rw_src_t *src = &b->srcs[k];
        src->fence = ((const part_t *)t->opaque)->end - 1;
        src->fence_known = true;
    }
    /* What the batch built is known whole: written as such. */
    for (size_t i = 0; i < b->cooltab_size; i++)
        for (rw_cool_t *c = b->cooltab[i]; c; c = c->next) {
            c->loaded = true;
            c->shared = false;
        }
    size_t n;
    const rw_memstore_counter_t *all = rw_memstore_counters(r->mem, &n);
    rw_memstore_counter_t *c = rw_malloc((n ? n : 1) * sizeof(*c));
    memcpy(c, all, n * sizeof(*c));
    char first_day[16];
    rw_date_format(day, r->rs->calendar.utc_offset_min, first_day, sizeof(first_day));
    size_t whole = counters_whole(c, n, first_day);
    rw_store_t *s = rw_redisstore_new_cluster(&r->ro, (const char *const *)cfg->redis_cluster_nodes,
                                              cfg->n_redis_cluster_nodes);
    char what[256];
    int rc = rw_redisstore_rebuild(s, b, c, whole, what, sizeof(what), err);
    if (rc == 0)
        snprintf(summary, len, "%s (of the days from %s)", what, first_day);
    s->destroy(s);
    free(c);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------ */

enum { REBUILD_SINCE = RW_CLI_ID, REBUILD_RULES, REBUILD_TIMEOUT };

const rw_cli_opt_t rw_rebuild_opts[] = {
    {'c', "config", "ENGINE.json",
     "the engines' config (required): brokers, group, input topics, Redis, rules"},
    {REBUILD_SINCE, "since", "TIME",
     "required: the earliest event time the engines read next, RFC 3339 "
     "(2026-11-20T00:00:00+08:00); reading starts the ruleset's horizon before its calendar day, "
     "whose counters and the later days' are recounted"},
    {REBUILD_RULES, "rules", "FILE",
     "the ruleset the engines ran, instead of the config's \"rules\" (the file pushed, when "
     "the live ruleset came from the control topic)"},
    {REBUILD_TIMEOUT, "timeout", "SECONDS",
     "give up when the group or Kafka gives nothing for this long (60)"},
    {0, NULL, NULL, NULL}};

/* Replaces the group's assignment by the ranges to read, resumed. Returns
 * NULL, or what failed. */
static const char *reassign(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *assigned,
                            rd_kafka_topic_partition_list_t *reading) {
    static char why[256];
    if (rw_kafka_cooperative(rk)) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, assigned);
        if (!e)
            e = rd_kafka_incremental_assign(rk, reading);
        if (e) {
            snprintf(why, sizeof(why), "%s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            return why;
        }
    } else {
        rd_kafka_resp_err_t e = rd_kafka_assign(rk, reading);
        if (e)
            return rd_kafka_err2str(e);
    }
    rd_kafka_resume_partitions(rk, reading);
    return NULL;
}

static int rebuild_run(rebuild_t *r, int64_t since, int timeout_ms) {
    const rw_config_t *cfg = r->cfg;
    /* From the horizon before TIME's day: the state is exact at TIME, and so
     * are the counters of TIME's day and the days after it. */
    int64_t day = day_start(r->rs, since), from = day - horizon_ms(r->rs, day);
    char t_since[40], t_from[40];
    rw_error_t err;
    rw_error_clear(&err);
    rw_time_format(since, t_since, sizeof(t_since));
    rw_time_format(from, t_from, sizeof(t_from));
    member_t mb = {NULL, false};
    rd_kafka_t *rk = group_join(cfg, &mb, timeout_ms, &err);
    rd_kafka_topic_partition_list_t *reading =
        rk ? ranges(r, rk, mb.assigned, from, timeout_ms, &err) : NULL;
    int rc = RW_EXIT_RUNTIME;
    if (reading) {
        const char *e = reassign(rk, mb.assigned, reading);
        if (e)
            rw_error_fail(&err, RW_ERR_KAFKA, "assign: %s", e);
        else if (read_all(r, rk, &mb, reading, timeout_ms, &err) == 0)
            rc = RW_EXIT_OK;
    }
    char summary[512] = "";
    if (rc == RW_EXIT_OK && rebuilt_write(r, reading, day, summary, sizeof(summary), &err))
        rc = RW_EXIT_RUNTIME;
    if (rc == RW_EXIT_OK)
        fprintf(stderr,
                "riskwarn rebuild: group %s, ruleset %s version %s, since %s: read %lld messages "
                "(%lld dead letters) of %d partitions from %s (%d placed by time, %d read from "
                "their start) up to the group's committed offsets; wrote %s; published nothing\n",
                cfg->group_id, r->rs->name, r->rs->version, t_since, r->read, r->dead, reading->cnt,
                t_from, r->by_time, r->from_start, summary);
    else
        fprintf(stderr, "riskwarn rebuild: %s; nothing written\n", err.text);
    ranges_free(reading);
    if (mb.assigned)
        rd_kafka_topic_partition_list_destroy(mb.assigned);
    if (rk) {
        rd_kafka_consumer_close(rk); /* leaves the group at once, commits nothing */
        rd_kafka_destroy(rk);
    }
    return rc;
}

int rw_cmd_rebuild(int argc, char **argv) {
    const char *cfg_path = NULL, *rules = NULL, *since_text = NULL;
    long timeout_s = 60;
    rw_cli_t cli;
    rw_cli_init(&cli, "rebuild", rw_rebuild_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("rebuild");
        else if (o == 'c')
            cfg_path = cli.arg;
        else if (o == REBUILD_SINCE)
            since_text = cli.arg;
        else if (o == REBUILD_RULES)
            rules = cli.arg;
        else if (o == REBUILD_TIMEOUT) {
            if (rw_cli_long(&cli, 1, 86400, &timeout_s))
                return RW_EXIT_USAGE;
        } else
            return rw_usage("rebuild");
    }
    int64_t since;
    if (optind < argc || !cfg_path || !since_text) {
        if (optind >= argc)
            fprintf(stderr, "riskwarn rebuild: -c ENGINE.json and --since TIME are required\n");
        return rw_usage("rebuild");
    }
    if (rw_time_parse(since_text, strlen(since_text), &since)) {
        fprintf(stderr,
                "riskwarn rebuild: --since: an RFC 3339 time such as "
                "2026-11-20T00:00:00+08:00, not \"%s\"\n",
                since_text);
        return RW_EXIT_USAGE;
    }
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t cerr;
    rw_error_clear(&cerr);
    rebuild_t r;
    memset(&r, 0, sizeof(r));
    r.cfg = &cfg;
    int rc = RW_EXIT_USAGE;
    rw_errors_t errs;
    rw_errors_init(&errs);
    if (rw_config_load(&cfg, cfg_path, &cerr)) {
        char line[1024];
        rw_error_format(&cerr, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
        goto out;
    }
    if (cfg.rekey) { /* its state is fenced by the internal topics' copies (rekey.h) */
        fprintf(stderr,
                "riskwarn rebuild: %s has \"rekey\": rebuilding the state of re-keyed "
                "input is not supported yet\n",
                cfg_path);
        goto out;
    }
    if (rules)
        rw_config_set(&cfg.rules, rules);
    rw_pseudonym_set_key(cfg.pseudonym_key, cfg.pseudonym_key ? strlen(cfg.pseudonym_key) : 0);
    if (rw_cmd_modules_load(cfg.modules_dir) || !(r.rs = rw_ruleset_load_file(cfg.rules, &errs))) {
        rw_errors_print(&errs, stderr);
        goto out;
    }
    r.mem = rw_memstore_new();
    bool lookups = false;
    for (size_t i = 0; i < r.rs->n_rules; i++)
        lookups = lookups || r.rs->rules[i].lookup_set;
    rw_error_t err;
    rw_error_clear(&err);
    r.ro = (rw_redis_opts_t){cfg.redis_host,     cfg.redis_port,       cfg.redis_unix_socket,
                             cfg.redis_password, cfg.redis_db,         cfg.redis_key_prefix,
                             cfg.group_id,       cfg.redis_timeout_ms, 0};
    if (lookups &&
        rw_memstore_use_cluster(r.mem, &r.ro, (const char *const *)cfg.redis_cluster_nodes,
                                cfg.n_redis_cluster_nodes, &err)) {
        fprintf(stderr, "riskwarn rebuild: redis: %s\n", err.text);
        rc = RW_EXIT_RUNTIME;
        goto out;
    }
    r.batch = rw_batch_new(cfg.max_event_bytes, RW_STATE_MEMORY);
    r.batch->schema = rw_config_schema(&cfg); /* as `run` checks events */
    r.batch->max_future_ms = cfg.max_future_ms;
    rw_batch_reset(r.batch, r.rs);
    rw_signals_install();
    rc = rebuild_run(&r, since, (int)timeout_s * 1000);
out:
    rw_errors_fini(&errs);
    if (r.batch)
        rw_batch_destroy(r.batch);
    if (r.mem)
        r.mem->destroy(r.mem);
    rw_ruleset_destroy(r.rs);
    rw_config_fini(&cfg);
    rw_plugins_unload_all();
    return rc;
}
