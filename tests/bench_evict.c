/*
 * bench_evict: what keeping the state under state_max_entries costs on a stream of many
 * keys. Events of distinct accounts (each account seen three times, far apart) go through
 * the batch in memory, 512 a batch, under two window rules of one entry an event each, so
 * that the state passes the limit again and again; rw_batch_evict() runs after each batch,
 * as the engine runs it after each write. Prints its calls, their total and their longest
 * time, the windows dropped, the most entries held, and the whole run's time.
 *
 * No Kafka, no Redis (the memory store): only the evaluation's state. `make bench-evict`
 * runs it; RW_BENCH_EVICT_LIMIT=N sets the limit (default 1,000,000), and the run is three
 * times as many events.
 */
#include "eval.h"
#include "ruleset.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 512

static const char rules[] =
    "{\"ruleset\": \"bench-evict\", \"version\": \"1\", \"rules\": [\n"
    " {\"id\": \"count-1h\", \"module\": \"window_count\", \"match\": {\"type\": \"t\"},\n"
    "  \"key\": \"account\", \"params\": {\"window\": \"1h\"}, \"thresholds\": {\"low\": 1e9}},\n"
    " {\"id\": \"sum-1d\", \"module\": \"window_sum\", \"match\": {\"type\": \"t\"},\n"
    "  \"key\": \"account\", \"params\": {\"field\": \"amount\", \"window\": \"1d\"},\n"
    "  \"thresholds\": {\"low\": 1e12}}]}\n";

int main(void) {
    const char *env = getenv("RW_BENCH_EVICT_LIMIT");
    size_t limit = env && *env ? strtoul(env, NULL, 10) : 1000000;
    if (limit < 1000) {
        fprintf(stderr, "bench_evict: RW_BENCH_EVICT_LIMIT: at least 1000\n");
        return 2;
    }
    size_t total = 3 * limit, accounts = limit;
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load(rules, sizeof(rules) - 1, "bench_evict", &errs);
    if (!rs) {
        rw_errors_print(&errs, stderr);
        rw_errors_fini(&errs);
        return 1;
    }
    rw_errors_fini(&errs);
    rw_batch_t *b = rw_batch_new(1 << 20, RW_STATE_MEMORY);
    rw_store_t *st = rw_memstore_new();
    rw_batch_reset(b, rs);
    static char payload[BATCH][200];
    double worst = 0, spent = 0, t0 = rw_monotonic_s();
    size_t calls = 0, dropped = 0, held_max = 0;
    for (size_t done = 0; done < total; done += BATCH) {
        for (size_t i = 0; i < BATCH; i++) {
            size_t k = done + i;
            int n = snprintf(payload[i], sizeof(payload[i]),
                             "{\"event_id\": \"e%zu\", \"type\": \"t\", \"ts\": "
                             "\"2026-11-27T10:%02zu:%02zu.%03zuZ\", \"account\": \"A%zu\", "
                             "\"amount\": 5}",
                             k, k / 60000 % 60, k / 1000 % 60, k % 1000, k % accounts);
            rw_msg_t m = {"events", 0, (int64_t)k, payload[i], (size_t)n, 0, 0, NULL, 0};
            rw_batch_add(b, &m);
        }
        rw_batch_plan(b);
        rw_error_t err;
        rw_error_clear(&err);
        if (st->load(st, b, &err) != 0) {
            fprintf(stderr, "bench_evict: %s\n", err.text);
            return 1;
        }
        rw_batch_evaluate(b);
        st->apply(st, b, NULL);
        double e0 = rw_monotonic_s();
        dropped += rw_batch_evict(b, limit);
        double took = rw_monotonic_s() - e0;
        spent += took;
        calls++;
        if (took > worst)
            worst = took;
        if (b->n_entries > held_max)
            held_max = b->n_entries;
        rw_batch_reset(b, rs);
    }
    printf("evict      limit %zu entries, %zu events of %zu accounts: %zu calls, %.0f ms in "
           "all, the longest %.1f ms; %zu windows dropped, at most %zu entries held; the "
           "run %.1f s\n",
           limit, total, accounts, calls, spent * 1e3, worst * 1e3, dropped, held_max,
           rw_monotonic_s() - t0);
    st->destroy(st);
    rw_batch_destroy(b);
    rw_ruleset_destroy(rs);
    return 0;
}
