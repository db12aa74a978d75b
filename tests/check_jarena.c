/* Unit tests for engine/jarena.c: jansson values parsed in a per-batch arena, freed all at once
 * by a reset; values made outside arena mode (before, after, on another thread) untouched. */
#include "jarena.h"

#include "harness.h"

#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_EVENTS 1000

/* ---- helpers ------------------------------------------------------------------------------ */

/* A typical event (about 250 bytes) numbered i; returns its length. */
static size_t event_text(char *buf, size_t len, unsigned i) {
    int n = snprintf(buf, len,
                     "{\"event_id\":\"tx-%09u\",\"type\":\"transaction\","
                     "\"ts\":\"2026-11-01T00:00:00.123Z\",\"account\":\"62220200000%08u\","
                     "\"amount\":%u.56,\"currency\":\"CNY\",\"direction\":\"out\","
                     "\"channel\":\"mobile\",\"counterparty\":\"6217001000003000\","
                     "\"device_id\":\"d-%05u-1\",\"ip\":\"10.1.2.3\",\"geo\":{\"country\":\"CN\"}}",
                     i, i, i, i % 100000);
    ck_assert(n > 0 && (size_t)n < len);
    return (size_t)n;
}

static json_t *parse_event(unsigned i) {
    char buf[512];
    size_t n = event_text(buf, sizeof(buf), i);
    json_error_t je;
    json_t *v = json_loadb(buf, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    ck_assert_msg(v != NULL, "event %u: %s", i, je.text);
    return v;
}

/* Checks that v is event i, field by field. */
static void assert_event(const json_t *v, unsigned i) {
    char want[64];
    ck_assert(json_is_object(v));
    ck_assert_uint_ge(json_object_size(v), 12);
    snprintf(want, sizeof(want), "tx-%09u", i);
    ck_assert_str_eq(json_string_value(json_object_get(v, "event_id")), want);
    snprintf(want, sizeof(want), "62220200000%08u", i);
    ck_assert_str_eq(json_string_value(json_object_get(v, "account")), want);
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "amount")), i + 0.56, 1e-9);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "geo"), "country")),
                     "CN");
}

/* Parses events first..first+n-1 into out[] in arena mode on a. */
static void parse_batch(rw_jarena_t *a, json_t **out, unsigned first, unsigned n) {
    rw_jarena_begin(a);
    for (unsigned i = 0; i < n; i++)
        out[i] = parse_event(first + i);
    rw_jarena_end();
}

static void decref_all(json_t **v, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        json_decref(v[i]);
        v[i] = NULL;
    }
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(test_jarena_install_idempotent) {
    json_malloc_t m1, m2;
    json_free_t f1, f2;
    json_get_alloc_funcs(&m1, &f1);
    rw_jarena_install();
    json_get_alloc_funcs(&m2, &f2);
    ck_assert(m1 == m2 && f1 == f2);
    ck_assert(m1 != malloc && f1 != free);
}
END_TEST

START_TEST(test_jarena_parse_reset_reuse) {
    static json_t *ev[N_EVENTS];
    rw_jarena_t *a = rw_jarena_new(64 * 1024);
    ck_assert_uint_eq(rw_jarena_used(a), 0);

    parse_batch(a, ev, 0, N_EVENTS);
    size_t used = rw_jarena_used(a);
    ck_assert_uint_gt(used, (size_t)N_EVENTS * 250);
    ck_assert_uint_eq(used % 16, 0);
    for (unsigned i = 0; i < N_EVENTS; i++)
        assert_event(ev[i], i);
    uintptr_t first = (uintptr_t)ev[0];
    decref_all(ev, N_EVENTS); /* with arena mode off: the frees are no-ops */
    ck_assert_uint_eq(rw_jarena_used(a), used);
    rw_jarena_reset(a);
    ck_assert_uint_eq(rw_jarena_used(a), 0);

    /* The same batch again lands in the same memory. */
    parse_batch(a, ev, 0, N_EVENTS);
    ck_assert_uint_eq(rw_jarena_used(a), used);
    ck_assert(json_is_object(ev[0]));
    for (unsigned i = 0; i < N_EVENTS; i++)
        assert_event(ev[i], i);
    ck_assert_msg((uintptr_t)ev[0] - first < 64 * 1024, "the first chunk is reused");

    /* Decref'd in arena mode this time. */
    rw_jarena_begin(a);
    decref_all(ev, N_EVENTS);
    rw_jarena_end();
    rw_jarena_reset(a);
    ck_assert_uint_eq(rw_jarena_used(a), 0);

    /* Many batches, each reset: the arena does not grow. */
    for (unsigned b = 0; b < 20; b++) {
        parse_batch(a, ev, b * 7, 200);
        ck_assert_uint_lt(rw_jarena_used(a), used);
        assert_event(ev[199], b * 7 + 199);
        decref_all(ev, 200);
        rw_jarena_reset(a);
    }
    rw_jarena_destroy(a);
}
END_TEST

/* A reset keeps what a batch of the engine's largest (4,096 events) filled, so that the
 * next one allocates nothing. */
START_TEST(test_jarena_keeps_a_full_batch) {
    enum { BATCH = 4096 };
    static json_t *ev[BATCH];
    rw_jarena_t *a = rw_jarena_new(0);
    parse_batch(a, ev, 0, BATCH);
    size_t used = rw_jarena_used(a);
    ck_assert_uint_gt(used, (size_t)16 * RW_JARENA_DEFAULT_CHUNK); /* more than 16 chunks */
    /* With arena mode off: no-ops. */
    decref_all(ev, BATCH);
    rw_jarena_reset(a);
    size_t kept = rw_jarena_kept(a);
    ck_assert_uint_ge(kept, used);
    parse_batch(a, ev, 7, BATCH);
    assert_event(ev[BATCH - 1], 7 + BATCH - 1);
    ck_assert_uint_eq(rw_jarena_kept(a), kept); /* no chunk added */
    decref_all(ev, BATCH);
    rw_jarena_destroy(a);
}
END_TEST

START_TEST(test_jarena_outside_values_survive) {
    rw_jarena_t *a = rw_jarena_new(0);
    json_t *before = parse_event(7);
    json_t *list = json_array();
    json_t *dropped = json_pack("{s:s, s:[i,i,i]}", "name", "dropped in arena mode", "n", 1, 2, 3);

    json_t *ev[100];
    rw_jarena_begin(a);
    for (unsigned i = 0; i < 100; i++)
        ev[i] = parse_event(1000 + i);
    /* A malloc'd value freed in arena mode goes to free() (ASan/LSan would tell otherwise). */
    json_decref(dropped);
    rw_jarena_end();

    /* Values made after arena mode are malloc'd too. */
    for (unsigned i = 0; i < 50; i++)
        json_array_append_new(list, json_sprintf("after-%u", i));
    json_t *after = parse_event(8);

    decref_all(ev, 100);
    rw_jarena_reset(a);
    /* Overwrite the arena's memory with another batch. */
    parse_batch(a, ev, 5000, 100);

    assert_event(before, 7);
    assert_event(after, 8);
    ck_assert_uint_eq(json_array_size(list), 50);
    ck_assert_str_eq(json_string_value(json_array_get(list, 49)), "after-49");

    decref_all(ev, 100);
    rw_jarena_reset(a);
    rw_jarena_destroy(a);
    json_decref(before);
    json_decref(after);
    json_decref(list);
}
END_TEST

START_TEST(test_jarena_deep_copy_survives) {
    rw_jarena_t *a = rw_jarena_new(8 * 1024);
    json_t *ev[64];
    parse_batch(a, ev, 40, 64);
    /* Arena mode is off: the copy, and the text, are malloc'd. */
    json_t *keep = json_deep_copy(ev[3]);
    char *text = json_dumps(ev[3], JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_ptr_nonnull(keep);
    ck_assert_ptr_nonnull(text);
    /* A member of an arena value set into a kept value must be a deep copy as well. */
    json_t *kept_geo = json_object();
    json_object_set_new(kept_geo, "geo", json_deep_copy(json_object_get(ev[5], "geo")));

    decref_all(ev, 64);
    rw_jarena_reset(a);
    parse_batch(a, ev, 900, 64);

    assert_event(keep, 43);
    char *again = json_dumps(keep, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(again, text);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(kept_geo, "geo"), "country")), "CN");
    free(again);
    free(text);
    json_decref(keep);
    json_decref(kept_geo);
    decref_all(ev, 64);
    rw_jarena_destroy(a);
}
END_TEST

START_TEST(test_jarena_many_keys_long_strings) {
    enum { N_KEYS = 3000, LONG = 100 * 1024 };
    rw_jarena_t *a = rw_jarena_new(4096);
    char *text = malloc((size_t)N_KEYS * 40 + LONG + 64);
    ck_assert_ptr_nonnull(text);
    size_t n = 0;
    text[n++] = '{';
    for (unsigned k = 0; k < N_KEYS; k++)
        n += (size_t)sprintf(text + n, "\"key-%05u\":%u,", k, k * 3);
    n += (size_t)sprintf(text + n, "\"long\":\"");
    for (unsigned k = 0; k < LONG; k++)
        text[n++] = (char)('a' + k % 26);
    n += (size_t)sprintf(text + n, "\"}");

    for (unsigned round = 0; round < 3; round++) {
        rw_jarena_begin(a);
        json_error_t je;
        json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        ck_assert_msg(v != NULL, "%s", je.text);
        /* Hashtable growth and a long string made in arena mode, too. */
        json_t *extra = json_object();
        for (unsigned k = 0; k < 500; k++) {
            char key[32];
            snprintf(key, sizeof(key), "extra-%u", k);
            json_object_set_new(extra, key, json_integer(k));
        }
        char *big = malloc(LONG + 1);
        memset(big, 'z', LONG);
        big[LONG] = '\0';
        json_object_set_new(extra, "big", json_string(big));
        free(big);
        json_object_set_new(v, "extra", extra);
        rw_jarena_end();
        ck_assert_uint_ge(rw_jarena_used(a), 2 * (size_t)LONG);

        /* Members added with arena mode off are malloc'd; the decref frees them. */
        for (unsigned k = 0; k < 200; k++) {
            char key[32];
            snprintf(key, sizeof(key), "late-%u", k);
            json_object_set_new(v, key, json_sprintf("late value %u", k));
        }

        ck_assert_uint_eq(json_object_size(v), N_KEYS + 2 + 200);
        for (unsigned k = 0; k < N_KEYS; k += 97) {
            char key[32];
            snprintf(key, sizeof(key), "key-%05u", k);
            ck_assert_int_eq(json_integer_value(json_object_get(v, key)), k * 3);
        }
        const json_t *s = json_object_get(v, "long");
        ck_assert_uint_eq(json_string_length(s), LONG);
        ck_assert_int_eq(json_string_value(s)[LONG - 1], 'a' + (LONG - 1) % 26);
        ck_assert_uint_eq(json_object_size(json_object_get(v, "extra")), 501);
        ck_assert_uint_eq(json_string_length(json_object_get(json_object_get(v, "extra"), "big")),
                          LONG);
        ck_assert_str_eq(json_string_value(json_object_get(v, "late-199")), "late value 199");

        json_decref(v);
        rw_jarena_reset(a);
        ck_assert_uint_eq(rw_jarena_used(a), 0);
    }
    free(text);
    rw_jarena_destroy(a);
}
END_TEST

/* ---- another thread ------------------------------------------------------------------------ */

#define T_EVENTS 300

typedef struct thread_ctx {
    pthread_barrier_t bar;
    json_t *mine[T_EVENTS];   /* the thread's own values */
    json_t *handed[T_EVENTS]; /* arena values of the main thread, released by the thread */
} thread_ctx_t;

static void *other_thread(void *arg) {
    thread_ctx_t *t = arg;
    pthread_barrier_wait(&t->bar); /* the main thread is in arena mode */
    for (unsigned i = 0; i < T_EVENTS; i++) {
        t->mine[i] = parse_event(20000 + i);
        json_object_set_new(t->mine[i], "seen_by", json_string("other thread"));
    }
    /* Arena values decref'd here, before the reset: their frees must not reach free(). */
    decref_all(t->handed, T_EVENTS);
    pthread_barrier_wait(&t->bar); /* the main thread resets and parses again */
    pthread_barrier_wait(&t->bar);
    for (unsigned i = 0; i < T_EVENTS; i++) {
        assert_event(t->mine[i], 20000 + i);
        ck_assert_str_eq(json_string_value(json_object_get(t->mine[i], "seen_by")), "other thread");
    }
    decref_all(t->mine, T_EVENTS);
    return NULL;
}

START_TEST(test_jarena_other_thread_uses_malloc) {
    static thread_ctx_t t;
    static json_t *ev[T_EVENTS];
    memset(&t, 0, sizeof(t));
    rw_jarena_t *a = rw_jarena_new(16 * 1024);
    pthread_barrier_init(&t.bar, NULL, 2);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &t), 0);

    rw_jarena_begin(a);
    for (unsigned i = 0; i < T_EVENTS; i++)
        t.handed[i] = parse_event(30000 + i);
    pthread_barrier_wait(&t.bar);
    /* Both threads parse at once; only this one's values are the arena's. */
    for (unsigned i = 0; i < T_EVENTS; i++)
        ev[i] = parse_event(i);
    size_t used = rw_jarena_used(a);
    rw_jarena_end();
    pthread_barrier_wait(&t.bar);

    decref_all(ev, T_EVENTS);
    rw_jarena_reset(a);
    /* Overwrite the arena; under ASan its unused part is poisoned meanwhile. */
    parse_batch(a, ev, 40000, T_EVENTS);
    ck_assert_uint_le(rw_jarena_used(a), used);
    pthread_barrier_wait(&t.bar);
    ck_assert_int_eq(pthread_join(th, NULL), 0);

    assert_event(ev[T_EVENTS - 1], 40000 + T_EVENTS - 1);
    decref_all(ev, T_EVENTS);
    rw_jarena_reset(a);
    rw_jarena_destroy(a);
    pthread_barrier_destroy(&t.bar);
}
END_TEST

/* ---- edges --------------------------------------------------------------------------------- */

START_TEST(test_jarena_destroy_ends_arena_mode) {
    rw_jarena_t *a = rw_jarena_new(0);
    rw_jarena_begin(a);
    json_t *v = parse_event(1);
    json_decref(v);
    rw_jarena_destroy(a); /* a was current: arena mode is over */
    json_t *w = parse_event(2);
    assert_event(w, 2);
    json_decref(w); /* malloc'd: free() */
    rw_jarena_destroy(NULL);
    rw_jarena_reset(NULL);
    ck_assert_uint_eq(rw_jarena_used(NULL), 0);
}
END_TEST

/* More chunks than the registry holds: the rest are plain malloc(), freed by the decref. */
START_TEST(test_jarena_registry_full_falls_back) {
    enum { N = 120000 };
    rw_jarena_t *a = rw_jarena_new(4096);
    rw_jarena_begin(a);
    json_t *arr = json_array();
    for (unsigned i = 0; i < N; i++)
        json_array_append_new(arr, json_sprintf("value %u", i));
    rw_jarena_end();
    ck_assert_uint_eq(json_array_size(arr), N);
    ck_assert_str_eq(json_string_value(json_array_get(arr, N - 1)), "value 119999");
    json_decref(arr);
    rw_jarena_reset(a);
    rw_jarena_destroy(a);
}
END_TEST

static Suite *jarena_suite(void) {
    Suite *s = suite_create("jarena");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_jarena_install_idempotent);
    tcase_add_test(tc, test_jarena_parse_reset_reuse);
    tcase_add_test(tc, test_jarena_keeps_a_full_batch);
    tcase_add_test(tc, test_jarena_outside_values_survive);
    tcase_add_test(tc, test_jarena_deep_copy_survives);
    tcase_add_test(tc, test_jarena_many_keys_long_strings);
    tcase_add_test(tc, test_jarena_other_thread_uses_malloc);
    tcase_add_test(tc, test_jarena_destroy_ends_arena_mode);
    tcase_add_test(tc, test_jarena_registry_full_falls_back);
    suite_add_tcase(s, tc);
    return s;
}

/* Before any JSON value exists, as in the engine. */
static int jarena_setup(void) {
    rw_jarena_install();
    return 0;
}

int main(void) { return h_main_around(jarena_suite, jarena_setup, NULL); }
