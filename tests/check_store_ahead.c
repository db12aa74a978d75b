/* The Redis store's read sent behind the write in flight (engine/store.c,
 * load_send): the next batch's read goes on the same connection right behind
 * the previous batch's write, before its answer, and apply_wait() takes both.
 * Against a real redis-server: the read sees the write; and when the write's
 * script is gone from Redis (SCRIPT FLUSH: a restart, a failover), the write is
 * sent again with the script's text and its own arguments, not the read's, and
 * the next load reads again. */
#include "harness.h"
#include "proc.h"
#include "ruleset.h"
#include "store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One window of an hour over every transaction of an account: each event's
 * measure is the window's count. */
static const char rules_text[] =
    "{\"ruleset\": \"t-ahead\", \"version\": \"1\",\n"
    " \"rules\": [{\"id\": \"c1h\", \"module\": \"window_count\",\n"
    "   \"match\": {\"type\": \"transaction\"}, \"key\": \"account\",\n"
    "   \"params\": {\"window\": \"1h\"},\n"
    "   \"thresholds\": {\"low\": 1, \"medium\": 100000, \"high\": 200000}}]}\n";

#define ACCOUNT "6222020200155667788"

/* A batch of n transactions of ACCOUNT, at offsets from on (partition 0),
 * a second apart from 09:00 on. */
static void batch_of(rw_batch_t *b, const rw_ruleset_t *rs, int64_t from, int n) {
    rw_batch_reset(b, rs);
    for (int64_t off = from; off < from + n; off++) {
        char ev[256];
        int len = snprintf(ev, sizeof(ev),
                           "{\"event_id\": \"a-%lld\", \"type\": \"transaction\", \"ts\": "
                           "\"2026-11-27T09:%02lld:%02lldZ\", \"account\": \"" ACCOUNT
                           "\", \"amount\": 5}",
                           (long long)off, (long long)(off / 60), (long long)(off % 60));
        rw_msg_t m = {"events", 0, off, ev, (size_t)len, rw_now_ms(), 0, ACCOUNT, 19};
        rw_batch_add(b, &m);
    }
    rw_batch_plan(b);
}

/* The count the rule measured on the batch's last item. */
static double last_count(const rw_batch_t *b) {
    const rw_item_t *it = &b->items[b->n_items - 1];
    ck_assert_uint_eq(it->n_hits, 1);
    return b->hits[it->hit_off].measure;
}

/* Takes three batches through a store on a new redis-server, the third's
 * read sent behind the second's write; flush: Redis lost its scripts before
 * that write (NOSCRIPT). Returns the third batch's last count. */
static double three_batches(bool flush) {
    rw_redis_server_t srv;
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&srv, NULL, 10000, &err) == 0, "%s", err.text);
    int port = srv.port;
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, NULL, 0, "rw:", "t", 5000, 0};
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load(rules_text, strlen(rules_text), "t", &errs);
    ck_assert_msg(rs, "%s", errs.n ? errs.items[0].text : "?");
    rw_errors_fini(&errs);
    rw_store_t *st = rw_redisstore_new(&o);
    ck_assert_ptr_nonnull(st->load_send);
    rw_batch_t *b = rw_batch_new(1048576, RW_STATE_CACHED);
    batch_of(b, rs, 0, 4);
    ck_assert_msg(st->load(st, b, &err) == 0, "load: %s", err.text);
    rw_batch_evaluate(b);
    ck_assert_msg(st->apply(st, b, &err) == 0, "apply: %s", err.text);

    /* The second batch's write in flight, as the engine leaves it. */
    batch_of(b, rs, 4, 3);
    ck_assert_msg(st->load(st, b, &err) == 0, "load: %s", err.text);
    rw_batch_evaluate(b);
    if (flush) {
        redisContext *rc = h_redis(port);
        redisReply *r = redisCommand(rc, "SCRIPT FLUSH");
        ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "SCRIPT FLUSH: %s",
                      r ? r->str : rc->errstr);
        freeReplyObject(r);
        redisFree(rc);
    }
    ck_assert_msg(st->apply_send(st, b, &err) == 0, "apply_send: %s", err.text);
    /* The third batch is planned, and its read sent behind that write. */
    batch_of(b, rs, 7, 2);
    st->load_send(st, b);
    ck_assert_msg(st->apply_wait(st, &err) == 0, "apply_wait: %s", err.text);
    ck_assert_msg(st->load(st, b, &err) == 0, "load: %s", err.text);
    rw_batch_evaluate(b);
    double count = last_count(b);
    ck_assert_msg(st->apply(st, b, &err) == 0, "apply: %s", err.text);

    rw_batch_destroy(b);
    st->destroy(st);
    rw_ruleset_destroy(rs);
    rw_proc_redis_stop(&srv);
    return count;
}

/* The read behind the write sees it: the third batch counts all nine events. */
START_TEST(test_read_behind_write) { ck_assert(three_batches(false) == 9); }
END_TEST

/* The write's script is gone: the write goes again with its own arguments
 * (the read's were built after it), and the third batch counts all nine. */
START_TEST(test_read_behind_write_noscript) { ck_assert(three_batches(true) == 9); }
END_TEST

static Suite *store_ahead_suite(void) {
    Suite *s = suite_create("store_ahead");
    TCase *tc = tcase_create("ahead");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_behind_write);
    tcase_add_test(tc, test_read_behind_write_noscript);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(store_ahead_suite); }
