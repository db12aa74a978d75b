/* riskwarn replay: JSON-lines events through the evaluation code of `run`. */
#include "commands.h"
#include "config.h"
#include "eval.h"
#include "plugin.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_BATCH 256

typedef struct summary {
    long long events, dead, alerts[RW_LEVELS];
    long long (*rule)[RW_LEVELS]; /* per rule */
} summary_t;

static void replay_batch(rw_batch_t *b, rw_store_t *store, summary_t *sum) {
    rw_batch_plan(b);
    store->load(store, b);
    rw_batch_evaluate(b);
    store->apply(store, b);
    for (size_t i = 0; i < b->n_items; i++) {
        const rw_item_t *it = &b->items[i];
        if (it->error[0]) {
            sum->dead++;
            fprintf(stderr, "line %lld: dead letter: %s\n", (long long)it->msg.offset + 1,
                    it->error);
            continue;
        }
        sum->events++;
        if (it->level == RW_LEVEL_NONE)
            continue;
        sum->alerts[it->level]++;
        for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++)
            sum->rule[b->hits[h].rule][b->hits[h].level]++;
        /* emitted_at is the event's own time: replays are reproducible. */
        char *a = rw_alert_build(b, it, it->ts_ms);
        fputs(a, stdout);
        fputc('\n', stdout);
        free(a);
    }
    for (size_t i = 0; i < b->n_case_alerts; i++) {
        const rw_case_alert_t *ca = &b->case_alerts[i];
        sum->alerts[ca->level]++;
        sum->rule[ca->kase->rule][ca->level]++;
        char *a = rw_case_alert_build(b, ca, ca->at_ms);
        fputs(a, stdout);
        fputc('\n', stdout);
        free(a);
    }
}

int rw_cmd_replay(int argc, char **argv) {
    const char *rules = NULL, *input = NULL, *mdir = NULL, *redis = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
            rules = argv[++i];
        else if (strcmp(argv[i], "--modules-dir") == 0 && i + 1 < argc)
            mdir = argv[++i];
        else if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
            redis = argv[++i];
        else if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)
            input = argv[i];
        else
            return rw_usage("replay");
    }
    if (!rules)
        return rw_usage("replay");
    if (rw_modules_dir_load(mdir))
        return RW_EXIT_USAGE;
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(rules, &errs);
    if (!rs) {
        rw_errors_print(&errs, stderr);
        rw_errors_fini(&errs);
        return RW_EXIT_USAGE;
    }
    rw_errors_fini(&errs);
    FILE *in = !input || strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
    if (!in) {
        fprintf(stderr, "riskwarn replay: %s: %s\n", input, strerror(errno));
        rw_ruleset_destroy(rs);
        return RW_EXIT_USAGE;
    }
    rw_store_t *store = rw_memstore_new();
    bool lookups = false;
    for (size_t r = 0; r < rs->n_rules; r++)
        lookups = lookups || rs->rules[r].lookup_set;
    if (redis) {
        /* Redis answers watchlist lookups; windows and counters stay in memory. */
        rw_config_t cfg;
        rw_config_init(&cfg);
        char err[512];
        int bad = rw_config_set_redis(&cfg, redis);
        rw_redis_opts_t ro = {cfg.redis_host, cfg.redis_port, NULL, getenv("RW_REDIS_PASSWORD"),
                              0, cfg.redis_key_prefix, "replay", 5000};
        if (bad || rw_memstore_use_redis(store, &ro, err, sizeof(err))) {
            fprintf(stderr, "riskwarn replay: --redis %s: %s\n", redis,
                    bad ? "use HOST:PORT" : err);
            rw_config_fini(&cfg);
            store->destroy(store);
            rw_ruleset_destroy(rs);
            if (in != stdin)
                fclose(in);
            return RW_EXIT_USAGE;
        }
        rw_config_fini(&cfg);
    } else if (lookups) {
        fprintf(stderr, "riskwarn replay: note: rules on Redis sets (watchlist redis_set) score "
                        "nothing without --redis\n");
    }
    rw_batch_t *b = rw_batch_new(1048576, true);
    summary_t sum;
    memset(&sum, 0, sizeof(sum));
    sum.rule = rw_calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*sum.rule));
    char *lines[REPLAY_BATCH];
    size_t n = 0;
    long long lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    rw_batch_reset(b, rs);
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        lines[n] = rw_strndup(line, (size_t)len);
        rw_msg_t m = {"replay", 0, lineno - 1, lines[n], (size_t)len, 0};
        rw_batch_add(b, &m);
        if (++n == REPLAY_BATCH) {
            replay_batch(b, store, &sum);
            rw_batch_reset(b, rs);
            for (size_t i = 0; i < n; i++)
                free(lines[i]);
            n = 0;
        }
    }
    if (n) {
        replay_batch(b, store, &sum);
        for (size_t i = 0; i < n; i++)
            free(lines[i]);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    fflush(stdout);

    fprintf(stderr, "ruleset %s version %s: %lld events, %lld dead letters, alerts: "
                    "low %lld, medium %lld, high %lld\n",
            rs->name, rs->version, sum.events, sum.dead, sum.alerts[1], sum.alerts[2],
            sum.alerts[3]);
    fprintf(stderr, "%-32s %8s %8s %8s\n", "rule", "low", "medium", "high");
    for (size_t r = 0; r < rs->n_rules; r++)
        fprintf(stderr, "%-32s %8lld %8lld %8lld\n", rs->rules[r].id, sum.rule[r][1],
                sum.rule[r][2], sum.rule[r][3]);
    free(sum.rule);
    rw_batch_destroy(b);
    store->destroy(store);
    rw_ruleset_destroy(rs);
    rw_plugins_unload_all();
    return RW_EXIT_OK;
}
