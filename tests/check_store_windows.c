/* The Redis store's windows as lists (engine/store.c): a key's window written
 * batch after batch is trimmed from its head by the trim script, also when
 * Redis has lost the script (SCRIPT FLUSH before every write: each trim is
 * sent again with its text); an entry appended out of time order goes once it
 * reaches the head; and a new engine reading the list measures what the
 * engine that wrote it did. Also with times before 2001 (fewer digits), and
 * with messages keyed apart from the window (a window read every batch is
 * trimmed as well). Two engines that feed one such window each see the
 * other's entries, also when its list changes behind one of them (copies
 * appended, trimmed, deleted) while it reads only what the list gained. With the
 * journal on (fold_ms), a window's entries reach its list through its partition's
 * journal: folded as the writes go, or by the next engine before it reads, or before a
 * read that replaces the window, or before an eviction drops it. Each tcase starts its
 * own redis-server. */
#include "harness.h"
#include "proc.h"
#include "ruleset.h"
#include "store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One window of 10 minutes over every transaction of an account: each event
 * is a hit (low at 1) whose measure is the window's count. */
static const char rules_text[] =
    "{\"ruleset\": \"t-windows\", \"version\": \"1\",\n"
    " \"rules\": [{\"id\": \"c10m\", \"module\": \"window_count\",\n"
    "   \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
    "   \"params\": {\"window\": \"10m\"},\n"
    "   \"thresholds\": {\"low\": 1, \"medium\": 100000, \"high\": 200000}}]}\n";

#define ACCOUNT "6222020200112233445"
#define N_EVENTS 400
#define PER_BATCH 8
#define LATE_AT 200 /* the message carrying an event 190 minutes late */

/* The events' day: one after 2001, and one in 1970 (times of fewer than 13
 * digits, written zero-padded). */
static const char *day = "2026-11-27";

static int late_at = LATE_AT; /* -1: none */

static char *event_text(int i) {
    int minute = i == late_at ? 10 : i;
    static char ev[320];
    snprintf(ev, sizeof(ev),
             "{\"event_id\": \"w%d\", \"type\": \"transaction\", \"ts\": "
             "\"%sT%02d:%02d:00Z\", \"account\": \"" ACCOUNT "\", \"amount\": 10}",
             i, day, minute / 60, minute % 60);
    return ev;
}

/* The count the window's only rule measured on the batch's last event. */
static double last_measure(const rw_batch_t *b) {
    const rw_item_t *it = &b->items[b->n_items - 1];
    ck_assert_uint_eq(it->n_hits, 1);
    return b->hits[it->hit_off].measure;
}

/* The window's list, and the times of its elements in list order (of
 * entries: a trim's mark, "#" and a time, is none; list_marks counts them). */
static size_t list_marks;
static size_t list_times(redisContext *rc, int64_t *ts, size_t cap) {
    redisReply *keys = redisCommand(rc, "KEYS rw:wl:window_count~*");
    ck_assert_uint_eq(keys->elements, 1);
    redisReply *v = redisCommand(rc, "LRANGE %s 0 -1", keys->element[0]->str);
    ck_assert_int_eq(v->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_le(v->elements, cap);
    size_t n = 0;
    list_marks = 0;
    for (size_t e = 0; e < v->elements; e++) {
        if (v->element[e]->str[0] == '#') {
            list_marks++;
            continue;
        }
        ck_assert_msg(strchr(v->element[e]->str, '|'), "%s", v->element[e]->str);
        ts[n++] = strtoll(v->element[e]->str, NULL, 10);
    }
    freeReplyObject(v);
    freeReplyObject(keys);
    return n;
}

/* One engine's store and batch over a redis-server of its own, with the rules. */
typedef struct one {
    rw_redis_server_t srv;
    rw_redis_opts_t o;
    rw_ruleset_t *rs;
    rw_store_t *st;
    rw_batch_t *b;
    redisContext *rc; /* a plain connection, to look at the list */
} one_t;

/* The journal's fold (rw_redis_opts_t.fold_ms) of the next one_start(); 0: none. */
static int64_t one_fold_ms;
/* one_stop() also checks that the new engine folded the journal: it is empty after. */
static bool one_journal_checked;

static long long one_llen(redisContext *rc, const char *key) {
    redisReply *r = redisCommand(rc, "LLEN %s", key);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static void one_start(one_t *t) {
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&t->srv, NULL, 10000, &err) == 0, "%s", err.text);
    rw_errors_t errs;
    rw_errors_init(&errs);
    t->rs = rw_ruleset_load(rules_text, strlen(rules_text), "t", &errs);
    ck_assert_msg(t->rs, "%s", errs.n ? errs.items[0].text : "?");
    rw_errors_fini(&errs);
    t->o =
        (rw_redis_opts_t){"127.0.0.1", t->srv.port, NULL, NULL, 0, "rw:", "t", 5000, one_fold_ms};
    t->st = rw_redisstore_new(&t->o);
    t->b = rw_batch_new(1048576, RW_STATE_CACHED);
    t->rc = h_redis(t->srv.port);
}

/* Batch i/PER_BATCH's messages (keyed apart from the window: read every
 * batch), planned, read and evaluated. */
static void one_read(one_t *t, int i, bool apart) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_batch_reset(t->b, t->rs);
    for (int k = i; k < i + PER_BATCH; k++) {
        const char *ev = event_text(k);
        rw_msg_t m = {"events", 0, k, ev, strlen(ev), rw_now_ms(), 0, ACCOUNT, 19};
        if (apart) {
            m.key = "merchant-7";
            m.key_len = 10;
        }
        rw_batch_add(t->b, &m);
    }
    rw_batch_plan(t->b);
    ck_assert_msg(t->st->load(t->st, t->b, &err) == 0, "%s", err.text);
    rw_batch_evaluate(t->b);
}

static void one_apply(one_t *t) {
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(t->st->apply(t->st, t->b, &err) == 0, "%s", err.text);
}

static void list_key(redisContext *rc, char *key, size_t len);

/* Applies the batch, whose trim of ws by count must look (the list changed
 * behind the engine): the head it leaves is not the mark the engine expects
 * for a trim by count, so that a picture of the list as if the trim had not
 * looked (a reply lost: the engine keeps what it sent) is never taken for
 * right. */
static void one_apply_looked(one_t *t, const rw_wstate_t *ws) {
    if (ws->shared) { /* read every batch: read whole after its own trim, no picture kept */
        one_apply(t);
        return;
    }
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(t->st->apply_send(t->st, t->b, &err) == 0, "%s", err.text);
    ck_assert_ptr_nonnull(ws->lm_head);
    char expected[128];
    snprintf(expected, sizeof(expected), "%s", ws->lm_head);
    ck_assert_msg(t->st->apply_wait(t->st, &err) == 0, "%s", err.text);
    char key[256];
    list_key(t->rc, key, sizeof(key));
    redisReply *h = redisCommand(t->rc, "LINDEX %s 0", key);
    ck_assert_int_eq(h->type, REDIS_REPLY_STRING);
    ck_assert_str_ne(h->str, expected);
    freeReplyObject(h);
}

/* Everything one_start() started, stopped. */
static void one_free(one_t *t) {
    redisFree(t->rc);
    rw_batch_destroy(t->b);
    t->st->destroy(t->st);
    rw_ruleset_destroy(t->rs);
    rw_proc_redis_stop(&t->srv);
}

/* A new engine reads the list: it measures on the last batch what the engine
 * that wrote it held. Then everything stops. */
static void one_stop(one_t *t) {
    rw_error_t err;
    rw_error_clear(&err);
    double held = last_measure(t->b);
    rw_store_t *st2 = rw_redisstore_new(&t->o);
    rw_batch_forget_state(t->b);
    ck_assert_msg(st2->load(st2, t->b, &err) == 0, "%s", err.text);
    rw_batch_evaluate(t->b);
    ck_assert_msg(last_measure(t->b) == held, "a new engine measures %g, not %g",
                  last_measure(t->b), held);
    if (one_journal_checked)
        ck_assert_int_eq(one_llen(t->rc, "{rw}:wj:t:0"), 0);
    st2->destroy(st2);
    one_free(t);
}

/* Counts a write of another engine's to what is keyed apart (as its INCR does). */
static void apart_write_counted(redisContext *rc) {
    freeReplyObject(redisCommand(rc, "INCR {rw}:apart-writes"));
}

/* _i & 1: SCRIPT FLUSH before every write; _i & 2: events of 1970-01-02;
 * _i & 4: messages keyed by another value than the window's key, and the
 * writes counter moved before every batch as another engine's write moves it,
 * so that the window is read from Redis every batch; _i & 8: the same messages,
 * the counter left alone: the window is held. */
START_TEST(test_windows_trimmed_from_the_head) {
    day = _i & 2 ? "1970-01-02" : "2026-11-27";
    late_at = LATE_AT;
    one_t t;
    one_start(&t);
    rw_batch_t *b = t.b;
    redisContext *rc = t.rc;
    int64_t late_ts = 0;
    for (int i = 0; i < N_EVENTS; i += PER_BATCH) {
        if (_i & 4)
            apart_write_counted(rc);
        one_read(&t, i, _i & 12);
        ck_assert(!i || !(_i & 12) || b->touched[0]->shared == !!(_i & 4)); /* 0: none seen yet */
        if (_i & 1)
            freeReplyObject(redisCommand(rc, "SCRIPT FLUSH"));
        one_apply(&t);
        if (i <= LATE_AT && LATE_AT < i + PER_BATCH) {
            int64_t ts[N_EVENTS * 2];
            size_t n = list_times(rc, ts, N_EVENTS * 2);
            late_ts = ts[n - (size_t)(PER_BATCH - (LATE_AT - i))];
            ck_assert_int_lt(late_ts, ts[0]); /* behind newer elements */
        }
    }
    ck_assert(last_measure(b) == 10);
    /* Trimmed: far fewer elements than written, in order but for none. */
    int64_t ts[N_EVENTS * 2];
    size_t n = list_times(rc, ts, N_EVENTS * 2);
    ck_assert_uint_lt(n, N_EVENTS / 2);
    for (size_t e = 0; e < n; e++)
        ck_assert_int_ne(ts[e], late_ts); /* the late entry went on reaching the head */
    ck_assert_uint_le(list_marks, 2);     /* trims' marks go too once they lead */
    one_stop(&t);
}
END_TEST

/* The journal (engine/store.c, "The journal"). With a fold far slower than the test, a held
 * window's entries go only to its partition's journal, one element a write, and its own list
 * gets none; a new engine (its state forgotten) folds the journal before it reads, measures
 * what the writer held, and leaves the journal empty. With a fold of 1 ms, the list gets them
 * as the writes go (a write folds each window's entries within the fold's time, paced), and
 * the journal is trimmed behind the fold. _i & 1: the fold of 1 ms; _i & 2: an event late by
 * more than the window held, so that the window is read whole again: what only the journal
 * holds goes to its list first. Either way, the window in memory holds only what an event
 * needs. */
START_TEST(test_journal_folded) {
    day = "2026-11-27";
    late_at = _i & 2 ? LATE_AT : -1;
    one_fold_ms = _i & 1 ? 1 : 600000;
    one_t t;
    one_start(&t);
    one_fold_ms = 0;
    for (int i = 0; i < N_EVENTS; i += PER_BATCH) {
        one_read(&t, i, false);
        one_apply(&t);
        if (_i & 1)
            usleep(2000); /* the fold's time passes between writes */
    }
    /* What no event needs leaves memory, folded or not: the window holds about its ten
     * minutes, not every entry its journal holds. */
    ck_assert_msg(t.b->n_entries < 40, "%zu entries held", t.b->n_entries);
    long long jl = one_llen(t.rc, "{rw}:wj:t:0");
    redisReply *keys = redisCommand(t.rc, "KEYS rw:wl:*");
    ck_assert_uint_eq(keys->elements, _i ? 1 : 0);
    if (_i & 1)
        ck_assert_int_le(jl, 32); /* trimmed once in 16 writes */
    else if (_i & 2)
        ck_assert_int_lt(jl, N_EVENTS / PER_BATCH); /* what the read folded was trimmed */
    else
        ck_assert_int_eq(jl, N_EVENTS / PER_BATCH);
    freeReplyObject(keys);
    one_journal_checked = true;
    one_stop(&t);
    one_journal_checked = false;
}
END_TEST

/* A batch that touches more windows than the store sends together (its appends go out in
 * parts while the write is written): every window gets its entry, and an engine that reads
 * them afresh measures each. */
#define MANY 300
static void many_batch(one_t *t, rw_store_t *st, int round) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_batch_reset(t->b, t->rs);
    static char evs[MANY][320], accounts[MANY][32]; /* the batch's messages point into them */
    for (int k = 0; k < MANY; k++) {
        char *ev = evs[k], *account = accounts[k];
        int al = snprintf(account, sizeof(accounts[k]), "62220202%011d", k);
        int len = snprintf(ev, sizeof(evs[k]),
                           "{\"event_id\": \"m%d-%d\", \"type\": \"transaction\", \"ts\": "
                           "\"2026-11-27T10:%02d:00Z\", \"account\": \"%s\", \"amount\": 10}",
                           round, k, round, account);
        rw_msg_t m = {"events",    0, round * MANY + k, ev,        (size_t)len,
                      rw_now_ms(), 0, account,          (size_t)al};
        rw_batch_add(t->b, &m);
    }
    rw_batch_plan(t->b);
    ck_assert_msg(st->load(st, t->b, &err) == 0, "%s", err.text);
    rw_batch_evaluate(t->b);
    ck_assert_msg(st->apply(st, t->b, &err) == 0, "%s", err.text);
}

/* A new engine (its state forgotten) takes round's batch: each window measures its entry of
 * round 0 and this one. Then everything stops. */
static void many_afresh(one_t *t, int round) {
    rw_store_t *st2 = rw_redisstore_new(&t->o);
    rw_batch_forget_state(t->b);
    many_batch(t, st2, round);
    for (size_t i = 0; i < t->b->n_items; i++)
        ck_assert_msg(t->b->hits[t->b->items[i].hit_off].measure == 2, "item %zu: %g", i,
                      t->b->hits[t->b->items[i].hit_off].measure);
    st2->destroy(st2);
    one_free(t);
}

START_TEST(test_many_windows_one_batch) {
    one_t t;
    one_start(&t);
    many_batch(&t, t.st, 0);
    redisReply *keys = redisCommand(t.rc, "KEYS rw:wl:window_count~*");
    ck_assert_uint_eq(keys->elements, MANY);
    for (size_t k = 0; k < keys->elements; k++) {
        redisReply *v = redisCommand(t.rc, "LRANGE %s 0 -1", keys->element[k]->str);
        size_t entries = 0;
        for (size_t e = 0; e < v->elements; e++)
            entries += v->element[e]->str[0] != '#';
        ck_assert_msg(entries == 1, "%s holds %zu entries", keys->element[k]->str, entries);
        freeReplyObject(v);
    }
    freeReplyObject(keys);
    many_afresh(&t, 1);
}
END_TEST

/* Eviction and the journal: windows whose entries are only in a journal are not dropped, and
 * the eviction has the next write fold them all; the eviction after that drops them, and an
 * engine that reads them afresh measures each. */
START_TEST(test_journal_evicted) {
    one_fold_ms = 600000;
    one_t t;
    one_start(&t);
    one_fold_ms = 0;
    day = "2026-11-27";
    late_at = -1;
    many_batch(&t, t.st, 0);
    rw_batch_reset(t.b, t.rs); /* a batch later: the windows are the oldest */
    ck_assert_uint_eq(rw_batch_evict(t.b, 10), 0);
    ck_assert(t.b->fold_all);
    redisReply *keys = redisCommand(t.rc, "KEYS rw:wl:*");
    ck_assert_uint_eq(keys->elements, 0);
    freeReplyObject(keys);
    one_read(&t, N_EVENTS, false); /* offsets past the first batch's */
    one_apply(&t);
    keys = redisCommand(t.rc, "KEYS rw:wl:*");
    ck_assert_uint_eq(keys->elements, MANY + 1);
    freeReplyObject(keys);
    rw_batch_reset(t.b, t.rs);
    ck_assert_uint_ge(rw_batch_evict(t.b, 10), MANY);
    many_afresh(&t, 2); /* offsets past the second batch's */
}
END_TEST

/* A window's entries as the store writes them, "TIME|topic/partition/offset|value", from
 * messages of two topics (one with a name of Kafka's longest, 249 bytes) and partitions
 * of one and several digits, in one batch: one RPUSH, element by element. */
START_TEST(test_window_entries_as_text) {
    one_t t;
    one_start(&t);
    rw_error_t err;
    rw_error_clear(&err);
    char long_topic[250];
    memset(long_topic, 'e', 249);
    long_topic[249] = 0;
    const char *topics[] = {"events", long_topic, long_topic, "events"};
    const int32_t parts[] = {0, 7, 12345, 0};
    const int64_t offsets[] = {0, 99, 1234567890123, 10};
    rw_batch_reset(t.b, t.rs);
    for (int k = 0; k < 4; k++) {
        const char *ev = event_text(k);
        rw_msg_t m = {topics[k], parts[k], offsets[k], ev, strlen(ev), rw_now_ms(), 0, ACCOUNT, 19};
        rw_batch_add(t.b, &m);
    }
    rw_batch_plan(t.b);
    ck_assert_msg(t.st->load(t.st, t.b, &err) == 0, "%s", err.text);
    rw_batch_evaluate(t.b);
    one_apply(&t);
    char key[256];
    list_key(t.rc, key, sizeof(key));
    redisReply *v = redisCommand(t.rc, "LRANGE %s 0 -1", key);
    ck_assert_int_eq(v->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(v->elements, 5); /* the engine's mark first */
    ck_assert_int_eq(v->element[0]->str[0], '#');
    for (int k = 0; k < 4; k++) {
        int64_t ts = 0;
        ck_assert_int_eq(rw_time_parse(strstr(event_text(k), "\"ts\": \"") + 7, 20, &ts), 0);
        char want[400];
        snprintf(want, sizeof(want), "%013lld|%s/%d/%lld|", (long long)ts, topics[k], (int)parts[k],
                 (long long)offsets[k]);
        ck_assert_str_eq(v->element[k + 1]->str, want);
    }
    freeReplyObject(v);
    one_stop(&t);
}
END_TEST

/* Two engines, each with its partition, feed one window keyed apart from
 * their messages (each reads it every batch, and trims it): after each batch,
 * the count the batch's last event measured is every event of the window so
 * far, whichever engine took it. */
typedef struct engine_side {
    rw_store_t *st;
    rw_batch_t *b;
    int32_t partition;
    int64_t offset;
} engine_side_t;

/* One batch of n events (minutes from, from + 1, ...) on side e; returns the
 * count its last event measured. */
static double side_batch(engine_side_t *e, const rw_ruleset_t *rs, int from, int n) {
    rw_batch_reset(e->b, rs);
    for (int k = from; k < from + n; k++) {
        const char *ev = event_text(k);
        rw_msg_t m = {"events", e->partition, e->offset++, ev, strlen(ev), rw_now_ms(),
                      0,        "merchant-7", 10};
        rw_batch_add(e->b, &m);
    }
    h_batch_through(e->st, e->b);
    return last_measure(e->b);
}

/* A redis-server and two engines (partitions 0 and 1) with the rules, their journal's fold
 * sides_fold_ms (0: none); returns the rules. */
static rw_ruleset_t *shared_rules;
static int64_t sides_fold_ms;
static const rw_ruleset_t *sides_start(rw_redis_server_t *srv, engine_side_t side[2]) {
    day = "2026-11-27";
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(srv, NULL, 10000, &err) == 0, "%s", err.text);
    rw_errors_t errs;
    rw_errors_init(&errs);
    shared_rules = rw_ruleset_load(rules_text, strlen(rules_text), "t", &errs);
    ck_assert_msg(shared_rules, "%s", errs.n ? errs.items[0].text : "?");
    rw_errors_fini(&errs);
    rw_redis_opts_t o = {"127.0.0.1", srv->port, NULL, NULL, 0, "rw:", "t", 5000, sides_fold_ms};
    for (int k = 0; k < 2; k++)
        side[k] =
            (engine_side_t){rw_redisstore_new(&o), rw_batch_new(1048576, RW_STATE_CACHED), k, 0};
    return shared_rules;
}

static void sides_stop(rw_redis_server_t *srv, engine_side_t side[2]) {
    for (int k = 0; k < 2; k++) {
        rw_batch_destroy(side[k].b);
        side[k].st->destroy(side[k].st);
    }
    rw_ruleset_destroy(shared_rules);
    rw_proc_redis_stop(srv);
}

START_TEST(test_shared_window_two_engines) {
    rw_redis_server_t srv;
    engine_side_t side[2];
    sides_fold_ms = _i ? 600000 : 0; /* 1: the journal on, never folded as the writes go */
    const rw_ruleset_t *rs = sides_start(&srv, side);
    /* Events a minute apart: the window holds the last 10. */
    int done = 0;
    for (int round = 0; round < 100; round++) {
        engine_side_t *e = &side[round % 2];
        int n = 1 + round % 3;
        double seen = side_batch(e, rs, done, n);
        done += n;
        ck_assert_msg(seen == (done < 10 ? done : 10), "round %d: %g after %d", round, seen, done);
    }
    /* Each trimmed it meanwhile, under the other's reads. */
    redisContext *rc = h_redis(srv.port);
    int64_t ts[N_EVENTS * 2];
    ck_assert_uint_lt(list_times(rc, ts, N_EVENTS * 2), (size_t)done / 2);
    redisFree(rc);
    sides_stop(&srv, side);
}
END_TEST

static long long command_calls(redisContext *rc, const char *cmd);

/* One engine alone on a window keyed apart from its messages holds it: no read
 * after the first. Another engine's batch (its own writes counter moves) makes
 * the first read it again at once, and see its entries, then every batch,
 * until enough batches showed no other engine's write (256 readings: a read
 * and a write each); then it is held again. Counts are every event so far. _i 1: the
 * journal on and never folded as the writes go: the held window's entries are only in
 * the first engine's journal, which the second folds before its first read. */
START_TEST(test_apart_window_held_alone) {
    rw_redis_server_t srv;
    engine_side_t side[2];
    sides_fold_ms = _i ? 600000 : 0;
    const rw_ruleset_t *rs = sides_start(&srv, side);
    redisContext *rc = h_redis(srv.port);
    int done = 0; /* events a minute apart: the window holds the last 10 */
    for (; done < 40; done += 2) {
        double seen = side_batch(&side[0], rs, done, 2);
        ck_assert_msg(seen == (done + 2 < 10 ? done + 2 : 10), "at %d: %g", done, seen);
    }
    ck_assert(side[0].b->apart_held && !side[0].b->touched[0]->shared);
    ck_assert_int_eq(command_calls(rc, "lrange"), 1); /* its first read only */
    if (_i) {
        redisReply *keys = redisCommand(rc, "KEYS rw:wl:*");
        ck_assert_uint_eq(keys->elements, 0); /* its entries are only in the journal */
        freeReplyObject(keys);
    }
    ck_assert(side_batch(&side[1], rs, done, 3) == 10);
    done += 3;
    long long reads = command_calls(rc, "lrange");
    ck_assert(side_batch(&side[0], rs, done++, 1) == 10); /* 3 of them B's */
    ck_assert(!side[0].b->apart_held && side[0].b->touched[0]->shared);
    ck_assert_int_gt(command_calls(rc, "lrange"), reads);
    int batches = 0;
    while (!side[0].b->apart_held) {
        ck_assert_int_lt(++batches, 200);
        reads = command_calls(rc, "lrange");
        ck_assert(side_batch(&side[0], rs, done, 1) == 10);
        done++;
        ck_assert_int_gt(command_calls(rc, "lrange"), reads); /* read every batch meanwhile */
    }
    ck_assert_int_ge(batches, 128);
    reads = command_calls(rc, "lrange");
    for (int k = 0; k < 10; k++, done++)
        ck_assert(side_batch(&side[0], rs, done, 1) == 10);
    ck_assert_int_le(command_calls(rc, "lrange"), reads + 1); /* read whole once, then held */
    redisFree(rc);
    sides_stop(&srv, side);
}
END_TEST

/* The window's list's key (there is one). */
static void list_key(redisContext *rc, char *key, size_t len) {
    redisReply *keys = redisCommand(rc, "KEYS rw:wl:window_count~*");
    ck_assert_uint_eq(keys->elements, 1);
    snprintf(key, len, "%s", keys->element[0]->str);
    freeReplyObject(keys);
}

/* Runs one command given as text on the window's list (%s: its key). */
static void list_do(redisContext *rc, const char *fmt) {
    char key[256], cmd[512];
    list_key(rc, key, sizeof(key));
    snprintf(cmd, sizeof(cmd), fmt, key);
    redisReply *r = redisCommand(rc, cmd);
    ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "%s: %s", cmd, r ? r->str : "no reply");
    freeReplyObject(r);
}

/* Appends again the list's last n elements, as a batch written again does. */
static void list_copy_tail(redisContext *rc, int n) {
    char key[256];
    list_key(rc, key, sizeof(key));
    redisReply *v = redisCommand(rc, "LRANGE %s %d -1", key, -n);
    ck_assert_uint_eq(v->elements, (size_t)n);
    for (size_t e = 0; e < v->elements; e++)
        freeReplyObject(
            redisCommand(rc, "RPUSH %s %b", key, v->element[e]->str, (size_t)v->element[e]->len));
    freeReplyObject(v);
}

/* Appends again the list's element at index at; returns the list's length. */
static long list_copy_at(redisContext *rc, long at) {
    char key[256];
    list_key(rc, key, sizeof(key));
    redisReply *v = redisCommand(rc, "LINDEX %s %ld", key, at);
    ck_assert_int_eq(v->type, REDIS_REPLY_STRING);
    redisReply *n = redisCommand(rc, "RPUSH %s %b", key, v->str, (size_t)v->len);
    ck_assert_int_eq(n->type, REDIS_REPLY_INTEGER);
    long len = (long)n->integer;
    freeReplyObject(n);
    freeReplyObject(v);
    return len;
}

/* Engine A reads the window every batch, only what its list gained once it
 * has read it; between two of its batches the list changes behind it (_i):
 * 0 its last elements appended again (a batch written again: counted once);
 * 1 its 6 oldest elements trimmed (another engine's trim shifts the list);
 * 2 the list deleted (expiry, a loss: A reads what is left, as a whole);
 * 3 its 4 oldest trimmed, then 4 elements appended (the same length);
 * 4 B's 2 entries, then a copy of the last element A read, then as many of
 * the oldest trimmed as put that copy where the element was (and the trim's
 * mark appended, as the trim script does).
 * Engine B writes meanwhile. What A measures is what a whole read shows. */
START_TEST(test_shared_window_changed_behind) {
    rw_redis_server_t srv;
    engine_side_t side[2];
    const rw_ruleset_t *rs = sides_start(&srv, side);
    redisContext *rc = h_redis(srv.port);
    int done = 0; /* events a minute apart: the window holds the last 10 */
    for (int round = 0; round < 10; round++, done += 2) {
        double seen = side_batch(&side[round % 2], rs, done, 2);
        ck_assert_msg(seen == (done + 2 < 10 ? done + 2 : 10), "round %d: %g", round, seen);
    }
    /* A reads only what follows what it read. */
    ck_assert_uint_gt(side[0].b->touched[0]->list_read, 0);
    int added = 2, expect = 10;
    if (_i == 0) {
        list_copy_tail(rc, 4);
    } else if (_i == 1) {
        list_do(rc, "LTRIM %s 6 -1");
    } else if (_i == 2) {
        list_do(rc, "DEL %s");
        expect = 2 + 1; /* B's new entries and A's own */
    } else if (_i == 3) {
        list_do(rc, "LTRIM %s 4 -1");
        added = 4;
    }
    size_t read = side[0].b->touched[0]->list_read;
    ck_assert(side_batch(&side[1], rs, done, added) == (_i == 2 ? 2 : 10));
    done += added;
    if (_i == 4) { /* as trim_script does it: the trim, then its mark */
        char trim[64];
        snprintf(trim, sizeof(trim), "LTRIM %%s %ld -1",
                 list_copy_at(rc, (long)read - 1) - (long)read);
        list_do(rc, trim);
        list_do(rc, "RPUSH %s #1764201600.123456");
    }
    double seen = side_batch(&side[0], rs, done, 1);
    ck_assert_msg(seen == expect, "after the change: %g, not %d", seen, expect);
    redisFree(rc);
    sides_stop(&srv, side);
}
END_TEST

/* The calls of one command Redis ran (INFO commandstats), scripts' too. */
static long long command_calls(redisContext *rc, const char *cmd) {
    redisReply *r = redisCommand(rc, "INFO commandstats");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    char find[64];
    snprintf(find, sizeof(find), "cmdstat_%s:calls=", cmd);
    const char *at = strstr(r->str, find);
    long long n = at ? strtoll(at + strlen(find), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

/* Whether the window's list holds an element. */
static bool list_has(redisContext *rc, const char *elem) {
    char key[256];
    list_key(rc, key, sizeof(key));
    redisReply *r = redisCommand(rc, "LPOS %s %s", key, elem);
    bool has = r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    return has;
}

#define FOREIGN "0000000000000|events/1/7|" /* its time set at run time */

/* A window trimmed by count (its engine's picture of the list: no script
 * looks at the elements) while its list changes behind the engine (_i):
 * 0 nothing: every trim went by count (no LRANGE but the engine's first read);
 * 1 just before a trim by count, the list's 30 oldest elements trimmed (as
 *   another engine's trim) and as many marks appended as keep its length:
 *   only its head shows it, and the trim must look (and leave a head other
 *   than the mark the engine sent it);
 * 2 the same with messages keyed apart from the window (read every batch);
 * 3 right after a trim, another writer's entry appended, newer than any
 *   event (the same key from another partition, as after partitions were
 *   added): only the length shows it, and the next trim must keep it.
 * A new engine reading the list then measures what the engine held (the
 * other writer's entry is later than its events). */
START_TEST(test_windows_trimmed_by_count) {
    day = "2026-11-27";
    late_at = -1; /* no late event, which makes the engine read the list whole */
    one_t t;
    one_start(&t);
    rw_batch_t *b = t.b;
    redisContext *rc = t.rc;
    char foreign[64] = "";
    int changed = 0, trims_after = 0;
    /* Until the trim that follows the change: what it dropped shows at once. */
    for (int i = 0; i < N_EVENTS && !trims_after; i += PER_BATCH) {
        one_read(&t, i, _i == 2);
        rw_wstate_t *ws = b->touched[0];
        bool by_count = ws->stale >= 64 && ws->stale >= ws->n && ws->lm_ok && ws->lm_head;
        if (by_count && changed)
            trims_after++;
        if (by_count && !changed && (_i == 1 || _i == 2)) {
            list_do(rc, "LTRIM %s 30 -1");
            for (int k = 0; k < 30; k++) /* its mark, then what keeps the length */
                list_do(rc, "RPUSH %s #another-engine");
            changed = i;
            trims_after++;
            one_apply_looked(&t, ws);
            continue;
        }
        one_apply(&t);
        if (_i == 3 && by_count && !changed) {
            /* The time of the last event: newer than every cut. */
            snprintf(foreign, sizeof(foreign), "%s", FOREIGN);
            char ts[24];
            snprintf(ts, sizeof(ts), "%013lld",
                     (long long)(ws->max_ts_ms + (int64_t)(N_EVENTS - i) * 60000));
            memcpy(foreign, ts, 13);
            char cmd[128];
            snprintf(cmd, sizeof(cmd), "RPUSH %%s %s", foreign);
            list_do(rc, cmd);
            changed = i;
        }
    }
    ck_assert_msg(_i == 0 || trims_after, "no trim after the change");
    if (_i == 0)
        ck_assert_int_eq(command_calls(rc, "lrange"), 1); /* the first read only */
    if (_i == 3)
        ck_assert(list_has(rc, foreign));
    ck_assert(last_measure(b) == 10);
    one_stop(&t);
}
END_TEST

static Suite *store_windows_suite(void) {
    Suite *s = suite_create("store_windows");
    TCase *tc = tcase_create("trim");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_windows_trimmed_from_the_head, 0, 12);
    tcase_add_loop_test(tc, test_windows_trimmed_by_count, 0, 4);
    tcase_add_test(tc, test_many_windows_one_batch);
    tcase_add_loop_test(tc, test_journal_folded, 0, 4);
    tcase_add_test(tc, test_journal_evicted);
    tcase_add_test(tc, test_window_entries_as_text);
    suite_add_tcase(s, tc);
    tc = tcase_create("shared");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_shared_window_two_engines, 0, 2);
    tcase_add_loop_test(tc, test_apart_window_held_alone, 0, 2);
    tcase_add_loop_test(tc, test_shared_window_changed_behind, 0, 5);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(store_windows_suite); }
