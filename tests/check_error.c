/* Unit tests for engine/error.c: codes and their texts, one error, a list of errors. */
#include "error.h"

#include "harness.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_error_set_and_format) {
    rw_error_t e;
    char buf[700];
    rw_error_clear(&e);
    ck_assert_int_eq(rw_error_set(&e, "r.json", 3, 7, "bad %s", "thing"), RW_ERR_INPUT);
    ck_assert_int_eq(e.code, RW_ERR_INPUT);
    /* The first error wins. */
    rw_error_set(&e, "other.json", 1, 1, "second");
    rw_error_format(&e, buf, sizeof(buf));
    ck_assert_str_eq(buf, "r.json:3:7: bad thing");
    rw_error_clear(&e);
    rw_error_set(&e, "r.json", 0, 0, "no place");
    rw_error_format(&e, buf, sizeof(buf));
    ck_assert_str_eq(buf, "r.json: no place");
    rw_error_clear(&e);
    rw_error_set(&e, NULL, 0, 0, "bare");
    rw_error_format(&e, buf, sizeof(buf));
    ck_assert_str_eq(buf, "bare");
    ck_assert_int_eq(rw_error_set(NULL, "r.json", 1, 1, "nowhere"), RW_ERR_INPUT);
}
END_TEST

/* An error without a place keeps its code, and the first error still wins. */
START_TEST(test_error_fail_keeps_code) {
    rw_error_t e;
    char buf[700];
    rw_error_clear(&e);
    ck_assert_int_eq(rw_error_fail(&e, RW_ERR_REDIS, "redis %s: %s", "GET", "down"), RW_ERR_REDIS);
    ck_assert_int_eq(e.code, RW_ERR_REDIS);
    ck_assert_int_eq(rw_error_fail(&e, RW_ERR_IO, "later"), RW_ERR_IO);
    ck_assert_int_eq(e.code, RW_ERR_REDIS);
    rw_error_set(&e, "r.json", 1, 1, "input");
    rw_error_format(&e, buf, sizeof(buf));
    ck_assert_str_eq(buf, "redis GET: down");
    ck_assert_int_eq(rw_error_fail(NULL, RW_ERR_KAFKA, "nowhere"), RW_ERR_KAFKA);
}
END_TEST

/* Every code has its own text, the module ABI's codes are the same numbers, and anything
 * else is an unknown error. */
START_TEST(test_error_strerror_table) {
    ck_assert_int_eq(RW_ERR_FAIL, RW_ERROR);
    ck_assert_str_eq(rw_strerror(RW_OK), "no error");
    ck_assert_str_eq(rw_strerror(RW_ERR_INPUT), "bad input");
    ck_assert_str_eq(rw_strerror(RW_ERR_CONFLICT), "the state changed since it was read");
    for (int c = RW_OK; c > RW_ERR_END; c--) {
        ck_assert_ptr_nonnull(rw_strerror(c));
        ck_assert_str_ne(rw_strerror(c), "unknown error");
        for (int d = c - 1; d > RW_ERR_END; d--)
            ck_assert_str_ne(rw_strerror(c), rw_strerror(d));
    }
    ck_assert_str_eq(rw_strerror(RW_ERR_END), "unknown error");
    ck_assert_str_eq(rw_strerror(1), "unknown error");
    ck_assert_str_eq(rw_strerror(-1000), "unknown error");
}
END_TEST

static void add_at(rw_errors_t *e, const char *text, const char *pointer, bool key, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
static void add_at(rw_errors_t *e, const char *text, const char *pointer, bool key, const char *fmt,
                   ...) {
    va_list ap;
    va_start(ap, fmt);
    rw_errors_vadd_at(e, "rules.json", text, strlen(text), pointer, key, fmt, ap);
    va_end(ap);
}

/* A list keeps every error in order, each placed at its JSON pointer, and prints one a line. */
START_TEST(test_errors_collect_place_print) {
    static const char text[] = "{\n  \"a\": 1,\n  \"b\": [true, \"x\"]\n}\n";
    rw_errors_t e;
    rw_errors_init(&e);
    add_at(&e, text, "/a", false, "a: %d is too small", 1);
    add_at(&e, text, "/b/1", false, "b: not a boolean");
    add_at(&e, text, "/b", true, "b: unknown");
    for (int i = 0; i < 20; i++)
        add_at(&e, text, "", false, "whole %d", i);
    ck_assert_uint_eq(e.n, 23);
    ck_assert_int_eq(e.items[0].code, RW_ERR_INPUT);
    ck_assert_int_eq(e.items[0].line, 2);
    ck_assert_int_eq(e.items[0].column, 8);
    ck_assert_int_eq(e.items[1].line, 3);
    ck_assert_int_eq(e.items[1].column, 15);
    ck_assert_int_eq(e.items[2].line, 3);
    ck_assert_int_eq(e.items[2].column, 3);
    ck_assert_str_eq(e.items[22].text, "whole 19");

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ck_assert_ptr_nonnull(f);
    rw_errors_print(&e, f);
    fclose(f);
    ck_assert_msg(strncmp(out,
                          "rules.json:2:8: a: 1 is too small\n"
                          "rules.json:3:15: b: not a boolean\n"
                          "rules.json:3:3: b: unknown\n",
                          strlen("rules.json:2:8: a: 1 is too small\n"
                                 "rules.json:3:15: b: not a boolean\n"
                                 "rules.json:3:3: b: unknown\n")) == 0,
                  "printed: %s", out);
    free(out);
    rw_errors_fini(&e);
    ck_assert_ptr_null(e.items);
    ck_assert_uint_eq(e.n, 0);
}
END_TEST

static Suite *error_suite(void) {
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_error_set_and_format);
    tcase_add_test(tc, test_error_fail_keeps_code);
    tcase_add_test(tc, test_error_strerror_table);
    tcase_add_test(tc, test_errors_collect_place_print);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(error_suite); }
