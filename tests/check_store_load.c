/* The Redis store's load cut short (engine/store.c): Redis answers the load's
 * first exchange (this engine's marker is there), then fails it, and may come
 * back without its state. A failed load leaves what the engine held before it
 * held (kept_intact), so that it is written back when Redis turns out to have
 * lost the state; a window whose read failed is not held, and the next load
 * reads it again. Against a real redis-server: a reply larger than the
 * output-buffer limit makes Redis drop the connection at that exchange, and an
 * ACL without LRANGE answers a window read with an error. */
#include "harness.h"
#include "proc.h"
#include "ruleset.h"
#include "store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One window of 10 minutes over every transaction of an account: each event's
 * measure is the window's count. */
static const char rules_text[] =
    "{\"ruleset\": \"t-load\", \"version\": \"1\",\n"
    " \"rules\": [{\"id\": \"c10m\", \"module\": \"window_count\",\n"
    "   \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
    "   \"params\": {\"window\": \"10m\"},\n"
    "   \"thresholds\": {\"low\": 1, \"medium\": 100000, \"high\": 200000}}]}\n";

#define HELD "6222020200112233445"  /* the account whose window the engine holds */
#define OTHER "6222020200199887766" /* one whose window another engine wrote */
#define N_HELD 5
#define N_OTHER 3000 /* its list's reply is far larger than the output-buffer limit */

typedef struct fixture {
    rw_redis_server_t srv;
    rw_ruleset_t *rs;
    rw_redis_opts_t o;
    redisContext *rc; /* the test's own connection: small replies only */
} fixture_t;

static void fixture_start(fixture_t *f) {
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&f->srv, NULL, 10000, &err) == 0, "%s", err.text);
    rw_errors_t errs;
    rw_errors_init(&errs);
    f->rs = rw_ruleset_load(rules_text, strlen(rules_text), "t", &errs);
    ck_assert_msg(f->rs, "%s", errs.n ? errs.items[0].text : "?");
    rw_errors_fini(&errs);
    f->o = (rw_redis_opts_t){"127.0.0.1", f->srv.port, NULL, NULL, 0, "rw:", "t", 5000, 0};
    f->rc = h_redis(f->srv.port);
}

static void fixture_stop(fixture_t *f) {
    redisFree(f->rc);
    rw_ruleset_destroy(f->rs);
    rw_proc_redis_stop(&f->srv);
}

/* A command (fmt: its words and "%s", where arg goes whole); its reply must be OK. */
static void redis_ok(redisContext *rc, const char *fmt, const char *arg) {
    redisReply *r = redisCommand(rc, fmt, arg);
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "%s %s: %s", fmt, arg,
                  r ? r->str : rc->errstr);
    freeReplyObject(r);
}

/* Adds a transaction of account at ts, offset off of partition part. */
static void add_event_at(rw_batch_t *b, const char *account, int32_t part, int64_t off,
                         const char *ts) {
    char ev[320];
    snprintf(ev, sizeof(ev),
             "{\"event_id\": \"%s-%d-%lld\", \"type\": \"transaction\", \"ts\": \"%s\", "
             "\"account\": \"%s\", \"amount\": 10}",
             account, (int)part, (long long)off, ts, account);
    rw_msg_t m = {"events", part, off, ev, strlen(ev), rw_now_ms(), 0, account, 19};
    rw_batch_add(b, &m);
}

/* Adds n transactions of account to the batch, at offsets from..from+n-1 of
 * partition part, at 10:00 and as many seconds as the offset (within nine minutes). */
static void add_events(rw_batch_t *b, const char *account, int32_t part, int64_t from, int n) {
    for (int64_t off = from; off < from + n; off++) {
        char ts[32];
        snprintf(ts, sizeof(ts), "2026-11-27T10:%02d:%02dZ", (int)(off % 540 / 60),
                 (int)(off % 60));
        add_event_at(b, account, part, off, ts);
    }
}

/* The count the window's only rule measured on the batch's item i. */
static double measure_of(const rw_batch_t *b, size_t i) {
    const rw_item_t *it = &b->items[i];
    ck_assert_uint_eq(it->n_hits, 1);
    return b->hits[it->hit_off].measure;
}

/* The engine holds a window; Redis drops the connection in the middle of the
 * next load, and comes back without its state. Written back from memory, the
 * window still counts what it held. _i = 1: the load was also reading the held
 * window further back (a late event), and that read was cut short too. */
START_TEST(test_load_cut_short_then_state_lost) {
    fixture_t f;
    fixture_start(&f);
    rw_store_t *st = rw_redisstore_new(&f.o), *other = rw_redisstore_new(&f.o);
    rw_batch_t *b = rw_batch_new(1048576, RW_STATE_CACHED);
    rw_batch_t *ob = rw_batch_new(1048576, RW_STATE_CACHED);
    rw_batch_reset(b, f.rs);
    add_events(b, HELD, 0, 0, N_HELD);
    h_batch_through(st, b);
    rw_batch_reset(ob, f.rs);
    add_events(ob, OTHER, 1, 0, N_OTHER);
    h_batch_through(other, ob);

    /* The next batch needs the other account's window: its reply is what
     * Redis drops the connection at, after the marker has answered. */
    rw_batch_reset(b, f.rs);
    add_events(b, HELD, 0, N_HELD, 1);
    add_events(b, OTHER, 0, N_HELD + 1, 1);
    if (_i)
        add_event_at(b, HELD, 0, N_HELD + 2, "2026-11-27T09:40:00Z");
    rw_batch_plan(b);
    redis_ok(f.rc, "CONFIG SET client-output-buffer-limit %s", "normal 4096 0 0");
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_int_eq(st->load(st, b, &err), RW_ERR_REDIS);
    /* What the engine does then (engine.c, pipeline_publish). */
    if (!st->kept_intact)
        rw_batch_forget_state(b);

    redis_ok(f.rc, "CONFIG SET client-output-buffer-limit %s", "normal 0 0 0");
    redis_ok(f.rc, "FLUSHALL %s", "SYNC");
    rw_error_clear(&err);
    ck_assert_int_eq(st->load(st, b, &err), RW_ERR_STATE_LOST);
    ck_assert(st->restored);
    ck_assert_msg(strstr(err.text, "1 windows (5 entries)"), "%s", err.text);
    rw_error_clear(&err);
    ck_assert_msg(st->load(st, b, &err) == 0, "%s", err.text);
    rw_batch_evaluate(b);
    ck_assert(measure_of(b, 0) == N_HELD + 1);
    ck_assert(measure_of(b, 1) == 1); /* the other engine's window went with Redis */
    if (_i)
        ck_assert(measure_of(b, 2) == 1); /* nothing held before 09:40 */
    ck_assert_msg(st->apply(st, b, &err) == 0, "%s", err.text);

    rw_batch_destroy(ob);
    rw_batch_destroy(b);
    other->destroy(other);
    st->destroy(st);
    fixture_stop(&f);
}
END_TEST

/* A window read answered with an error is not held: once Redis answers it,
 * the next load reads the window again. */
START_TEST(test_window_read_refused_then_read_again) {
    fixture_t f;
    fixture_start(&f);
    rw_store_t *st = rw_redisstore_new(&f.o), *next = rw_redisstore_new(&f.o);
    rw_batch_t *b = rw_batch_new(1048576, RW_STATE_CACHED);
    rw_batch_reset(b, f.rs);
    add_events(b, HELD, 0, 0, N_HELD);
    h_batch_through(st, b);

    /* Another engine takes the partition over: it holds nothing yet. */
    rw_batch_t *nb = rw_batch_new(1048576, RW_STATE_CACHED);
    rw_batch_reset(nb, f.rs);
    add_events(nb, HELD, 0, N_HELD, 1);
    rw_batch_plan(nb);
    redis_ok(f.rc, "ACL SETUSER default %s", "-lrange");
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_int_eq(next->load(next, nb, &err), RW_ERR_REDIS);
    ck_assert_msg(strstr(err.text, "window read"), "%s", err.text);
    if (!next->kept_intact)
        rw_batch_forget_state(nb);
    redis_ok(f.rc, "ACL SETUSER default %s", "+lrange");
    rw_error_clear(&err);
    ck_assert_msg(next->load(next, nb, &err) == 0, "%s", err.text);
    rw_batch_evaluate(nb);
    ck_assert(measure_of(nb, 0) == N_HELD + 1);

    rw_batch_destroy(nb);
    rw_batch_destroy(b);
    next->destroy(next);
    st->destroy(st);
    fixture_stop(&f);
}
END_TEST

static Suite *store_load_suite(void) {
    Suite *s = suite_create("store_load");
    TCase *tc = tcase_create("cut_short");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_load_cut_short_then_state_lost, 0, 2);
    tcase_add_test(tc, test_window_read_refused_then_read_again);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(store_load_suite); }
