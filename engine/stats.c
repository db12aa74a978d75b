/* riskwarn stats: the day's counters from Redis, as tables. */
#include "commands.h"
#include "config.h"
#include "rcluster.h"
#include "ruleset.h"
#include "store.h"

#include <hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    char *name;
    long long v[RW_LEVELS]; /* by level; v[0] the total */
} row_t;

static int row_cmp(const void *a, const void *b) {
    const row_t *x = a, *y = b;
    if (x->v[0] != y->v[0])
        return x->v[0] < y->v[0] ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* HGETALL as name=value pairs; calls fn for each. */
static void hash_each(rw_rcluster_t *c, const char *key,
                      void (*fn)(const char *field, long long v, void *arg), void *arg) {
    redisReply *r = rw_rcluster_command(c, key, "HGETALL %s", key);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        fn(r->element[i]->str, strtoll(r->element[i + 1]->str, NULL, 10), arg);
    if (r)
        freeReplyObject(r);
}

typedef struct rows {
    row_t *r;
    size_t n;
} rows_t;

static row_t *rows_get(rows_t *rs, const char *name) {
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->r[i].name, name) == 0)
            return &rs->r[i];
    rs->r = rw_realloc(rs->r, (rs->n + 1) * sizeof(*rs->r));
    row_t *r = &rs->r[rs->n++];
    memset(r, 0, sizeof(*r));
    r->name = rw_strdup(name);
    return r;
}

static void rows_free(rows_t *rs) {
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].name);
    free(rs->r);
}

static void add_level(const char *field, long long v, void *arg) {
    row_t *r = arg;
    int l = rw_level_parse(field);
    if (l > 0) {
        r->v[l] += v;
        r->v[0] += v;
    }
}

static void add_plain(const char *field, long long v, void *arg) {
    row_t *r = rows_get(arg, field);
    r->v[0] += v;
}

/* Calls fn(key, arg) for every key that matches pattern (SCAN, a thousand at a time). The
 * counters share one hash slot (the pattern's tag): on a cluster, the node that serves it
 * holds them all. */
static void scan_keys(rw_rcluster_t *c, const char *pattern, void (*fn)(const char *, void *),
                      void *arg) {
    unsigned long long cursor = 0;
    do {
        redisReply *r =
            rw_rcluster_command(c, pattern, "SCAN %llu MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            break;
        }
        cursor = strtoull(r->element[0]->str, NULL, 10);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            fn(r->element[1]->element[i]->str, arg);
        freeReplyObject(r);
    } while (cursor != 0);
}

typedef struct {
    rw_rcluster_t *c;
    size_t id_from, id_tail;
    rows_t *rows;
    row_t *by_level;
} sum_t;

static void sum_one(const char *k, void *arg) {
    sum_t *s = arg;
    size_t kl = strlen(k);
    if (s->id_tail) {
        if (kl <= s->id_from + s->id_tail)
            return;
        char id[256];
        snprintf(id, sizeof(id), "%.*s", (int)(kl - s->id_from - s->id_tail), k + s->id_from);
        hash_each(s->c, k, add_level, rows_get(s->rows, id));
    } else if (s->by_level) {
        hash_each(s->c, k, add_level, s->by_level);
    } else {
        hash_each(s->c, k, add_plain, s->rows);
    }
}

/* Sums every hash whose key matches pattern into rows (by field), or into one
 * row by level (by_level). For rule keys, the row is named by the rule id. */
static void scan_sum(rw_rcluster_t *c, const char *pattern, size_t id_from, size_t id_tail,
                     rows_t *rows, row_t *by_level) {
    sum_t s = {c, id_from, id_tail, rows, by_level};
    scan_keys(c, pattern, sum_one, &s);
}

void rw_stats_print(void *redis, const char *p, const char *date, int top, FILE *out) {
    rw_rcluster_t *c = redis;
    bool all = strcmp(date, "*") == 0;
    rows_t rules = {0}, events = {0}, supp = {0};
    row_t alerts = {0};
    char pattern[512], tp[256];
    rw_store_tag_prefix(p, tp, sizeof(tp));
    snprintf(pattern, sizeof(pattern), "%salerts:%s", tp, date);
    scan_sum(c, pattern, 0, 0, NULL, &alerts);
    snprintf(pattern, sizeof(pattern), "%sevents:%s", tp, date);
    scan_sum(c, pattern, 0, 0, &events, NULL);
    snprintf(pattern, sizeof(pattern), "%ssuppressed:%s", tp, date);
    scan_sum(c, pattern, 0, 0, &supp, NULL);
    snprintf(pattern, sizeof(pattern), "%srule:*:%s", tp, date);
    scan_sum(c, pattern, strlen(tp) + 5, 11, &rules, NULL); /* ":YYYY-MM-DD" */
    rows_t *lists[] = {&rules, &events, &supp};
    for (size_t i = 0; i < 3; i++)
        if (lists[i]->n > 1)
            qsort(lists[i]->r, lists[i]->n, sizeof(row_t), row_cmp);

    fprintf(out, "riskwarn counters for %s (prefix %s)\n\n", all ? "every day" : date, p);
    fprintf(out, "alerts          %8s %8s %8s %8s\n", "low", "medium", "high", "total");
    fprintf(out, "                %8lld %8lld %8lld %8lld\n\n", alerts.v[1], alerts.v[2],
            alerts.v[3], alerts.v[0]);
    fprintf(out, "top rules                        %8s %8s %8s %8s\n", "low", "medium", "high",
            "total");
    for (size_t i = 0; i < rules.n && (int)i < top; i++)
        fprintf(out, "  %-30s %8lld %8lld %8lld %8lld\n", rules.r[i].name, rules.r[i].v[1],
                rules.r[i].v[2], rules.r[i].v[3], rules.r[i].v[0]);
    if (rules.n == 0)
        fprintf(out, "  (none)\n");
    long long dead = 0, total = 0;
    fprintf(out, "\nevents by type\n");
    for (size_t i = 0; i < events.n; i++) {
        if (strcmp(events.r[i].name, "deadletter") == 0) {
            dead = events.r[i].v[0];
            continue;
        }
        total += events.r[i].v[0];
        fprintf(out, "  %-30s %8lld\n", events.r[i].name, events.r[i].v[0]);
    }
    fprintf(out, "  %-30s %8lld\n", "(all events)", total);
    fprintf(out, "\ndead letters                     %8lld\n", dead);
    fprintf(out, "\nsuppressed hits (cool-down)\n");
    for (size_t i = 0; i < supp.n; i++)
        fprintf(out, "  %-30s %8lld\n", supp.r[i].name, supp.r[i].v[0]);
    if (supp.n == 0)
        fprintf(out, "  (none)\n");
    rows_free(&rules);
    rows_free(&events);
    rows_free(&supp);
}

/* Whether text is a real date "YYYY-MM-DD". */
static bool date_valid(const char *t) {
    int y, m, d, n = 0;
    /* Fields of at most 4 and 2 digits cannot overflow; the count and %n are checked. */
    if (strlen(t) != 10 ||
        sscanf(t, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || // NOLINT(cert-err34-c): see above
        n != 10 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    int64_t y2;
    unsigned m2, d2;
    rw_civil_from_days(rw_days_from_civil(y, (unsigned)m, (unsigned)d), &y2, &m2, &d2);
    return y2 == y && (int)m2 == m && (int)d2 == d;
}

typedef struct {
    size_t skip;
    char *out;
} latest_t;

static void latest_one(const char *key, void *arg) {
    latest_t *l = arg;
    if (strlen(key) == l->skip + 10 && date_valid(key + l->skip) &&
        strcmp(key + l->skip, l->out) > 0)
        memcpy(l->out, key + l->skip, 11);
}

/* The latest date of the day counters (PREFIXalerts:DATE, PREFIXevents:DATE)
 * into out (11 bytes); "" when there are none. */
static void latest_day(rw_rcluster_t *c, const char *p, char *out) {
    static const char *const kinds[] = {"alerts:", "events:"};
    char prefix[256], pattern[300];
    rw_store_tag_prefix(p, prefix, sizeof(prefix));
    out[0] = 0;
    for (size_t k = 0; k < 2; k++) {
        latest_t l = {strlen(prefix) + strlen(kinds[k]), out};
        snprintf(pattern, sizeof(pattern), "%s%s*", prefix, kinds[k]);
        scan_keys(c, pattern, latest_one, &l);
    }
}

enum { STATS_REDIS = RW_CLI_ID, STATS_DATE, STATS_TOP };

const rw_cli_opt_t rw_stats_opts[] = {
    {STATS_REDIS, "redis", "HOST:PORT", "the Redis server, instead of the config's"},
    {'c', "config", "ENGINE.json", "Redis settings and key prefix from an engine config"},
    {STATS_DATE, "date", "YYYY-MM-DD|all",
     "the day (event time), or every day; default: the latest day that has counters"},
    {STATS_TOP, "top", "N", "rules in the top-rules table, 1 to 100000 (10)"},
    {0, NULL, NULL, NULL}};

int rw_cmd_stats(int argc, char **argv) {
    const char *redis = NULL, *date = NULL, *cfg_path = NULL;
    long top = 10;
    rw_cli_t cli;
    rw_cli_init(&cli, "stats", rw_stats_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("stats");
        if (o == STATS_REDIS) {
            redis = cli.arg;
        } else if (o == STATS_DATE) {
            date = cli.arg;
            if (strcmp(date, "all") != 0 && !date_valid(date)) {
                rw_cli_refuse(&cli, "a date YYYY-MM-DD (such as 2026-11-27), or all");
                return RW_EXIT_USAGE;
            }
        } else if (o == 'c') {
            cfg_path = cli.arg;
        } else if (o == STATS_TOP) {
            if (rw_cli_long(&cli, 1, 100000, &top))
                return RW_EXIT_USAGE;
        } else {
            return rw_usage("stats");
        }
    }
    if (optind < argc)
        return rw_usage("stats");
    rw_config_t cfg;
    rw_config_init(&cfg);
    int rc = RW_EXIT_USAGE;
    char err[512], latest[16];
    rw_error_t cerr;
    rw_error_clear(&cerr);
    rw_rcluster_t *c = NULL;
    if (cfg_path && rw_config_load(&cfg, cfg_path, &cerr)) {
        rw_error_format(&cerr, err, sizeof(err));
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (redis && rw_config_set_redis(&cfg, redis)) {
        fprintf(stderr, "riskwarn stats: --redis: use HOST:PORT, or HOST:PORT,HOST:PORT,... "
                        "for a Redis Cluster\n");
        goto out;
    }
    rw_redis_opts_t ro = {cfg.redis_host,     cfg.redis_port, cfg.redis_unix_socket,
                          cfg.redis_password, cfg.redis_db,   cfg.redis_key_prefix,
                          cfg.group_id,       5000,           0};
    c = rw_store_redis_open(&ro, (const char *const *)cfg.redis_cluster_nodes,
                            cfg.n_redis_cluster_nodes);
    redisReply *pong = rw_rcluster_command(c, NULL, "PING");
    if (!pong) {
        fprintf(stderr, "riskwarn stats: %s\n", rw_rcluster_error(c));
        rc = RW_EXIT_RUNTIME;
        goto out;
    }
    freeReplyObject(pong);
    if (date && strcmp(date, "all") == 0)
        date = "*";
    if (!date) {
        /* Counters are dated by event time: today on this machine's clock may
         * have none yet. The latest day that has some is what a new user wants. */
        latest_day(c, cfg.redis_key_prefix, latest);
        if (!latest[0]) {
            printf("no counters in Redis under %s yet (they are written as the engine "
                   "processes events)\n",
                   cfg.redis_key_prefix);
            rc = RW_EXIT_OK;
            goto out;
        }
        printf("no --date given: showing %s, the latest day that has counters (event time; "
               "--date all for every day)\n\n",
               latest);
        date = latest;
    }
    rw_stats_print(c, cfg.redis_key_prefix, date, (int)top, stdout);
    rc = RW_EXIT_OK;
out:
    rw_rcluster_destroy(c);
    rw_config_fini(&cfg);
    return rc;
}
