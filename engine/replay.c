/* riskwarn replay: JSON-lines events through the evaluation code of `run`,
 * without Kafka. With --compare, two rulesets on the same events side by side. */
#include "alert.h"
#include "commands.h"
#include "config.h"
#include "eval.h"
#include "expr.h"
#include "heap.h"
#include "plugin.h"
#include "pseudonym.h"
#include "store.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lines a batch: few enough that the plan and the evaluation read an event's parsed values
 * while the parse has left them in the core's nearer caches. 64 ran 0.65 s for the bench's
 * 200,000 events where 256 ran 0.72 (docs/performance.md, "Replay's batch: what the cache
 * holds"); a batch's alerts of cases (deadline, sequence) come after its events' alerts, so
 * their order in the output follows the batch. */
#define REPLAY_BATCH 64

/* One ruleset's run over the stream. */
typedef struct run {
    const char *path;
    rw_ruleset_t *rs;
    rw_store_t *store;
    rw_batch_t *batch;
    long long events, dead, alerts[RW_LEVELS];
    long long (*rule)[RW_LEVELS];        /* per rule of rs */
    long long (*skips)[RW_SKIP_REASONS]; /* per rule of rs: events matched, not scored */
    signed char *level;                  /* per line: the event's level; -1 dead letter */
    size_t n_level, cap_level;
} run_t;

static void level_set(run_t *r, size_t line, int level) {
    while (line >= r->cap_level) {
        size_t cap = r->cap_level ? r->cap_level * 2 : 4096;
        r->level = rw_realloc(r->level, cap);
        memset(r->level + r->cap_level, 0, cap - r->cap_level);
        r->cap_level = cap;
    }
    r->level[line] = (signed char)level;
    if (line + 1 > r->n_level)
        r->n_level = line + 1;
}

/* Evaluates the batch; prints alerts when out is not NULL. */
static void run_batch(run_t *r, FILE *out, bool report_dead) {
    rw_batch_t *b = r->batch;
    rw_batch_plan(b);
    rw_error_t err;
    rw_error_clear(&err);
    if (r->store->load(r->store, b, &err))
        fprintf(stderr, "riskwarn replay: %s\n", err.text);
    rw_batch_evaluate(b);
    r->store->apply(r->store, b, NULL);
    for (size_t k = 0; k < r->rs->n_rules * RW_SKIP_REASONS && k < b->n_skips; k++)
        r->skips[k / RW_SKIP_REASONS][k % RW_SKIP_REASONS] += (long long)b->skips[k];
    for (size_t i = 0; i < b->n_items; i++) {
        const rw_item_t *it = &b->items[i];
        if (it->error[0]) {
            r->dead++;
            level_set(r, (size_t)it->msg.offset, -1);
            if (report_dead)
                fprintf(stderr, "line %lld: dead letter: %s\n", (long long)it->msg.offset + 1,
                        it->error);
            continue;
        }
        r->events++;
        level_set(r, (size_t)it->msg.offset, it->level);
        if (it->level == RW_LEVEL_NONE)
            continue;
        r->alerts[it->level]++;
        for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++)
            r->rule[b->hits[h].rule][b->hits[h].level]++;
        if (out) {
            /* emitted_at is the event's own time: replays are reproducible. */
            char *a = rw_alert_build(b, it, it->ts_ms);
            fputs(a, out);
            fputc('\n', out);
            free(a);
        }
    }
    for (size_t i = 0; i < b->n_case_alerts; i++) {
        const rw_case_alert_t *ca = &b->case_alerts[i];
        r->alerts[ca->level]++;
        r->rule[ca->kase->rule][ca->level]++;
        if (out) {
            char *a = rw_alert_case_build(b, ca, ca->at_ms);
            fputs(a, out);
            fputc('\n', out);
            free(a);
        }
    }
}

static int run_init(run_t *r, const char *path, const char *redis, const rw_config_t *cfg) {
    memset(r, 0, sizeof(*r));
    r->path = path;
    rw_errors_t errs;
    rw_errors_init(&errs);
    r->rs = rw_ruleset_load_file(path, &errs);
    if (!r->rs) {
        rw_errors_print(&errs, stderr);
        rw_errors_fini(&errs);
        return -1;
    }
    rw_errors_fini(&errs);
    r->store = rw_memstore_new();
    bool lookups = false;
    for (size_t i = 0; i < r->rs->n_rules; i++)
        lookups = lookups || r->rs->rules[i].lookup_set;
    if (redis) {
        /* Redis answers watchlist lookups; windows and counters stay in memory. */
        rw_config_t rc;
        rw_config_init(&rc);
        rw_error_t err;
        rw_error_clear(&err);
        int bad = rw_config_set_redis(&rc, redis);
        rw_redis_opts_t ro = {
            rc.redis_host, rc.redis_port, NULL, getenv("RW_REDIS_PASSWORD"), 0, rc.redis_key_prefix,
            "replay",      5000,          0};
        if (bad ||
            rw_memstore_use_cluster(r->store, &ro, (const char *const *)rc.redis_cluster_nodes,
                                    rc.n_redis_cluster_nodes, &err)) {
            fprintf(stderr, "riskwarn replay: --redis %s: %s\n", redis,
                    bad ? "use HOST:PORT, or HOST:PORT,HOST:PORT,... for a Redis Cluster"
                        : err.text);
            rw_config_fini(&rc);
            return -1;
        }
        rw_config_fini(&rc);
    } else if (lookups) {
        fprintf(stderr,
                "riskwarn replay: note: %s: rules on Redis sets (watchlist redis_set) "
                "score nothing without --redis\n",
                path);
    }
    r->batch = rw_batch_new(cfg->max_event_bytes, RW_STATE_MEMORY);
    r->batch->cools_lazy = true;              /* nothing but the evaluation reads them */
    r->batch->counters_off = true;            /* nor the store's counters: none are kept */
    r->batch->origins_off = true;             /* nor windows written: lines are read in order */
    r->batch->schema = rw_config_schema(cfg); /* as `run` checks events */
    r->batch->max_future_ms = cfg->max_future_ms;
    r->rule = rw_calloc(r->rs->n_rules ? r->rs->n_rules : 1, sizeof(*r->rule));
    r->skips = rw_calloc(r->rs->n_rules ? r->rs->n_rules : 1, sizeof(*r->skips));
    rw_batch_reset(r->batch, r->rs);
    return 0;
}

/* A build with AddressSanitizer frees everything at the end, so that its leak check sees
 * what was not; another leaves the batch's state (every window and cool-down, tens of
 * megabytes in small allocations: about 2% of a long replay's time) to the process's exit. */
#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_FREE_STATE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_FREE_STATE 1
#endif
#endif

#ifndef REPLAY_FREE_STATE
/* The state left to the process's exit stays reachable from here, so that a leak checker
 * (valgrind) counts it as held, not lost. */
static rw_batch_t *volatile replay_state_at_exit;
#endif

static void run_fini(run_t *r) {
#ifdef REPLAY_FREE_STATE
    rw_batch_destroy(r->batch);
#else
    replay_state_at_exit = r->batch;
#endif
    if (r->store)
        r->store->destroy(r->store);
    rw_ruleset_destroy(r->rs);
    free(r->rule);
    free(r->skips);
    free(r->level);
}

static void summary_print(const run_t *r) {
    fprintf(stderr,
            "ruleset %s version %s: %lld events, %lld dead letters, alerts: low %lld, medium "
            "%lld, high %lld\n",
            r->rs->name, r->rs->version, r->events, r->dead, r->alerts[1], r->alerts[2],
            r->alerts[3]);
    fprintf(stderr, "%-32s %8s %8s %8s  %s\n", "rule", "low", "medium", "high",
            "skipped (matched, not scored: why)");
    for (size_t i = 0; i < r->rs->n_rules; i++) {
        char why[256] = "";
        size_t o = 0;
        for (int k = RW_SKIP_NONE + 1; k < RW_SKIP_REASONS; k++)
            if (r->skips[i][k] && o < sizeof(why))
                o += (size_t)snprintf(why + o, sizeof(why) - o, "%s%s %lld", o ? ", " : "",
                                      rw_expr_skip_name(k), r->skips[i][k]);
        fprintf(stderr, "%-32s %8lld %8lld %8lld  %s\n", r->rs->rules[i].id, r->rule[i][1],
                r->rule[i][2], r->rule[i][3], o ? why : "0");
    }
}

/* ---- comparison ------------------------------------------------------------------------ */

static long rule_index(const rw_ruleset_t *rs, const char *id) {
    for (size_t i = 0; i < rs->n_rules; i++)
        if (strcmp(rs->rules[i].id, id) == 0)
            return (long)i;
    return -1;
}

static const long long *rule_counts(const run_t *r, long i) {
    static const long long zero[RW_LEVELS] = {0};
    return i < 0 ? zero : r->rule[i];
}

/* Every rule of a, then those only in b. Calls fn(id, in_a, in_b, counts a, counts b). */
static void rules_each(const run_t *a, const run_t *b,
                       void (*fn)(const char *id, long ia, long ib, const run_t *a, const run_t *b,
                                  void *arg),
                       void *arg) {
    for (size_t i = 0; i < a->rs->n_rules; i++)
        fn(a->rs->rules[i].id, (long)i, rule_index(b->rs, a->rs->rules[i].id), a, b, arg);
    for (size_t i = 0; i < b->rs->n_rules; i++)
        if (rule_index(a->rs, b->rs->rules[i].id) < 0)
            fn(b->rs->rules[i].id, -1, (long)i, a, b, arg);
}

typedef struct changes {
    long long same, raised, lowered, only_a, only_b; /* events by how their level changed */
} changes_t;

static changes_t changes_of(const run_t *a, const run_t *b) {
    changes_t c = {0, 0, 0, 0, 0};
    size_t n = a->n_level > b->n_level ? a->n_level : b->n_level;
    for (size_t i = 0; i < n; i++) {
        int la = i < a->n_level ? a->level[i] : 0, lb = i < b->n_level ? b->level[i] : 0;
        if (la <= 0 && lb <= 0)
            continue;
        if (la == lb)
            c.same++;
        else if (la <= 0)
            c.only_b++;
        else if (lb <= 0)
            c.only_a++;
        else if (lb > la)
            c.raised++;
        else
            c.lowered++;
    }
    return c;
}

static void table_row(const char *id, long ia, long ib, const run_t *a, const run_t *b, void *arg) {
    (void)arg;
    const long long *x = rule_counts(a, ia), *y = rule_counts(b, ib);
    printf("%-30s", id);
    for (int l = 1; l < RW_LEVELS; l++) {
        char cell[48];
        snprintf(cell, sizeof(cell), "%lld -> %lld (%+lld)", x[l], y[l], y[l] - x[l]);
        printf(" %-22s", cell);
    }
    printf("%s\n", ia < 0 ? "  new in B" : ib < 0 ? "  removed in B" : "");
}

static void json_row(const char *id, long ia, long ib, const run_t *a, const run_t *b, void *arg) {
    json_t *rules = arg;
    const long long *x = rule_counts(a, ia), *y = rule_counts(b, ib);
    json_t *r = json_object();
    json_object_set_new(r, "id", json_string(id));
    json_object_set_new(r, "status", json_string(ia < 0 ? "added" : ib < 0 ? "removed" : "both"));
    for (int l = 1; l < RW_LEVELS; l++)
        json_object_set_new(r, rw_level_name(l),
                            json_pack("{s:I, s:I, s:I}", "a", (json_int_t)x[l], "b",
                                      (json_int_t)y[l], "delta", (json_int_t)(y[l] - x[l])));
    json_array_append_new(rules, r);
}

static void compare_print(const run_t *a, const run_t *b, bool as_json) {
    changes_t c = changes_of(a, b);
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "a",
                            json_pack("{s:s, s:s, s:s}", "file", a->path, "ruleset", a->rs->name,
                                      "version", a->rs->version));
        json_object_set_new(o, "b",
                            json_pack("{s:s, s:s, s:s}", "file", b->path, "ruleset", b->rs->name,
                                      "version", b->rs->version));
        json_object_set_new(o, "events", json_integer(a->events));
        json_t *alerts = json_object();
        for (int l = 1; l < RW_LEVELS; l++)
            json_object_set_new(alerts, rw_level_name(l),
                                json_pack("{s:I, s:I, s:I}", "a", (json_int_t)a->alerts[l], "b",
                                          (json_int_t)b->alerts[l], "delta",
                                          (json_int_t)(b->alerts[l] - a->alerts[l])));
        json_object_set_new(o, "alerts", alerts);
        json_object_set_new(o, "event_levels",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "same", (json_int_t)c.same,
                                      "raised", (json_int_t)c.raised, "lowered",
                                      (json_int_t)c.lowered, "only_a", (json_int_t)c.only_a,
                                      "only_b", (json_int_t)c.only_b));
        json_t *rules = json_array();
        rules_each(a, b, json_row, rules);
        json_object_set_new(o, "rules", rules);
        char *s = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(o);
        return;
    }
    printf("A: %s (%s version %s)\nB: %s (%s version %s)\n%lld events\n\n", a->path, a->rs->name,
           a->rs->version, b->path, b->rs->name, b->rs->version, a->events);
    printf("%-30s %-22s %-22s %-22s\n", "alerts", "low A -> B", "medium A -> B", "high A -> B");
    printf("%-30s", "all rules (alerts)");
    for (int l = 1; l < RW_LEVELS; l++) {
        char cell[48];
        snprintf(cell, sizeof(cell), "%lld -> %lld (%+lld)", a->alerts[l], b->alerts[l],
                 b->alerts[l] - a->alerts[l]);
        printf(" %-22s", cell);
    }
    printf("\n\n%-30s %-22s %-22s %-22s\n", "rule (times it reached)", "low", "medium", "high");
    rules_each(a, b, table_row, NULL);
    printf("\nevents with an alert: %lld at the same level, %lld raised in B, %lld lowered in "
           "B, %lld only in A, %lld only in B\n",
           c.same, c.raised, c.lowered, c.only_a, c.only_b);
}

/* ---- the command ------------------------------------------------------------------------ */

enum {
    REPLAY_RULES = RW_CLI_ID,
    REPLAY_COMPARE,
    REPLAY_JSON,
    REPLAY_MODULES_DIR,
    REPLAY_REDIS,
    REPLAY_CONFIG
};

const rw_cli_opt_t rw_replay_opts[] = {
    {REPLAY_RULES, "rules", "FILE", "the ruleset to run (required)"},
    {REPLAY_COMPARE, "compare", "FILE",
     "a second ruleset: print how the two differ rule by rule and level by level"},
    {REPLAY_JSON, "json", NULL, "with --compare: the difference as JSON"},
    {REPLAY_MODULES_DIR, "modules-dir", "DIR", "load external rule modules from DIR"},
    {REPLAY_REDIS, "redis", "HOST:PORT",
     "read watchlist sets from this Redis (read only; state stays in memory)"},
    {REPLAY_CONFIG, "config", "ENGINE.json",
     "check events as `run -c ENGINE.json` does: its event schema and max_event_bytes "
     "(without it, the built-in schema and 1 MiB)"},
    {0, NULL, NULL, NULL}};

/* The heap grows 8 MiB at a time, is not given back, and is faulted in ahead by a thread of
 * its own (heap.h); arrays up to 32 MiB stay in it. */
#define HEAP_STEP ((size_t)8 << 20)
#define HEAP_MMAP_MIN ((size_t)32 << 20)

/* Feeds every non-empty line of in to each of the n_runs runs, REPLAY_BATCH lines
 * at a time; without comparing, the first run prints its alerts to stdout. */
static void replay_stream(run_t *runs, size_t n_runs, FILE *in, bool comparing) {
    /* A batch's lines: each the buffer getline filled, handed over in exchange for the
     * one the slot held, so that lines are neither copied nor allocated once the
     * buffers are as long as the input's lines. */
    char *lines[REPLAY_BATCH] = {NULL};
    size_t caps[REPLAY_BATCH] = {0};
    size_t n = 0;
    long long lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t now = 0;
    rw_heap_t *heap = rw_heap_start(HEAP_STEP, HEAP_MMAP_MIN, true);
    for (bool more = true; more;) {
        len = getline(&line, &cap, in);
        more = len >= 0;
        if (more) {
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (len == 0)
                continue;
            line[len] = 0;
            char *spare = lines[n];
            size_t spare_cap = caps[n];
            lines[n] = line;
            caps[n] = cap;
            line = spare;
            cap = spare_cap;
            /* The wall clock bounds how far ahead an event may be: read as a batch's first
             * line is (its lines are read within a millisecond or so). */
            if (n == 0)
                now = rw_now_ms();
            rw_msg_t m = {"replay", 0, lineno - 1, lines[n], (size_t)len, now, 0, NULL, 0};
            for (size_t r = 0; r < n_runs; r++)
                rw_batch_add(runs[r].batch, &m);
            n++;
        }
        if (n == REPLAY_BATCH || (!more && n)) {
            for (size_t r = 0; r < n_runs; r++) {
                run_batch(&runs[r], comparing ? NULL : stdout, r == 0);
                rw_batch_reset(runs[r].batch, runs[r].rs);
            }
            n = 0;
            rw_heap_grown(heap);
        }
    }
    rw_heap_stop(heap);
    free(line);
    for (size_t i = 0; i < REPLAY_BATCH; i++)
        free(lines[i]);
}

int rw_cmd_replay(int argc, char **argv) {
    const char *rules = NULL, *compare = NULL, *input = NULL, *mdir = NULL, *redis = NULL,
               *config = NULL;
    bool as_json = false;
    rw_cli_t cli;
    rw_cli_init(&cli, "replay", rw_replay_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("replay");
        else if (o == REPLAY_RULES)
            rules = cli.arg;
        else if (o == REPLAY_COMPARE)
            compare = cli.arg;
        else if (o == REPLAY_JSON)
            as_json = true;
        else if (o == REPLAY_MODULES_DIR)
            mdir = cli.arg;
        else if (o == REPLAY_REDIS)
            redis = cli.arg;
        else if (o == REPLAY_CONFIG)
            config = cli.arg;
        else
            return rw_usage("replay");
    }
    if (optind < argc)
        input = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "riskwarn replay: one input file at most, not also \"%s\"\n", argv[optind]);
        return rw_usage("replay");
    }
    if (!rules || (as_json && !compare))
        return rw_usage("replay");
    if (rw_cmd_modules_load(mdir))
        return RW_EXIT_USAGE;
    run_t runs[2];
    size_t n_runs = compare ? 2 : 1;
    memset(runs, 0, sizeof(runs));
    int rc = RW_EXIT_USAGE;
    FILE *in = NULL;
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t cerr;
    rw_error_clear(&cerr);
    if (config && rw_config_load(&cfg, config, &cerr)) {
        char msg[1024];
        rw_error_format(&cerr, msg, sizeof(msg));
        fprintf(stderr, "riskwarn replay: %s\n", msg);
        goto out;
    }
    rw_pseudonym_set_key(cfg.pseudonym_key, cfg.pseudonym_key ? strlen(cfg.pseudonym_key) : 0);
    if (run_init(&runs[0], rules, redis, &cfg) ||
        (compare && run_init(&runs[1], compare, redis, &cfg)))
        goto out;
    in = !input || strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
    if (!in) {
        fprintf(stderr, "riskwarn replay: %s: %s\n", input, strerror(errno));
        goto out;
    }
    /* Read 64 KiB at a time, not stdio's 4 KiB: one system call for some 220 events, and a
     * buffer that stays in the CPU's cache (a buffer of stdio's own would be its default size
     * whatever the size asked for). */
    static char in_buf[(size_t)64 << 10];
    setvbuf(in, in_buf, _IOFBF, sizeof(in_buf));
    replay_stream(runs, n_runs, in, compare != NULL);
    fflush(stdout);
    if (compare)
        compare_print(&runs[0], &runs[1], as_json);
    for (size_t r = 0; r < n_runs; r++)
        summary_print(&runs[r]);
    rc = RW_EXIT_OK;
out:
    if (in && in != stdin)
        fclose(in);
    for (size_t r = 0; r < n_runs; r++)
        run_fini(&runs[r]);
    rw_config_fini(&cfg);
    rw_plugins_unload_all();
    return rc;
}
