/* Per-batch timings of `run`'s loop (btrace.h); empty unless built with -DRW_BATCH_TRACE. */
#include "btrace.h"

#ifdef RW_BATCH_TRACE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Batches kept: about 40 minutes of 500 batches a second. */
#define BT_MAX 1200000

typedef struct bt_rec {
    long n, outputs;
    int64_t first, last, cpu0, cpu1;
    int64_t t[RW_BT_N], c[RW_BT_N];
} bt_rec_t;

static bt_rec_t *recs, turn, *cur;
static size_t n_recs;

static int64_t clock_us(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void rw_btrace_mark(rw_btrace_point_t p) {
    if (!cur)
        return;
    cur->t[p] = clock_us(CLOCK_MONOTONIC);
    cur->c[p] = clock_us(CLOCK_THREAD_CPUTIME_ID);
}

void rw_btrace_turn(void) {
    memset(&turn, 0, sizeof(turn));
    cur = &turn;
    rw_btrace_mark(RW_BT_CONSUME);
}

void rw_btrace_batch(long n, int64_t first_offset, int64_t last_offset) {
    rw_btrace_mark(RW_BT_CONSUMED);
    if (!recs)
        recs = calloc(BT_MAX, sizeof(*recs));
    if (n <= 0 || !recs || n_recs == BT_MAX) {
        cur = NULL;
        return;
    }
    cur = &recs[n_recs++];
    *cur = turn;
    cur->n = n;
    cur->first = first_offset;
    cur->last = last_offset;
    cur->cpu0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
}

void rw_btrace_outputs(long n) {
    if (cur)
        cur->outputs = n;
}

void rw_btrace_turn_end(void) {
    rw_btrace_mark(RW_BT_TURN_END);
    if (cur)
        cur->cpu1 = clock_us(CLOCK_THREAD_CPUTIME_ID);
    cur = NULL;
}

void rw_btrace_dump(void) {
    const char *path = getenv("RW_BATCH_TRACE");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    for (size_t i = 0; f && i < n_recs; i++) {
        const bt_rec_t *r = &recs[i];
        fprintf(f, "%ld %lld %lld %ld %lld", r->n, (long long)r->first, (long long)r->last,
                r->outputs, (long long)(r->cpu1 - r->cpu0));
        for (int k = 0; k < RW_BT_N; k++)
            fprintf(f, " %lld", (long long)r->t[k]);
        for (int k = 0; k < RW_BT_N; k++)
            fprintf(f, " %lld", (long long)r->c[k]);
        fputc('\n', f);
    }
    if (f)
        fclose(f);
    free(recs);
    recs = NULL;
    n_recs = 0;
}
#endif
