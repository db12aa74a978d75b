/* Unit tests for engine/jpos.c (JSON Pointer -> line:col). */
#include "jpos.h"

#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The helpers copy the text into a heap buffer of exactly its length, with no terminating NUL,
 * so that AddressSanitizer catches any read past len. */
static char *dup_exact(const char *s, size_t len) {
    char *b = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, s, len);
    return b;
}

static int find(const char *s, const char *ptr, int *line, int *col) {
    size_t len = strlen(s);
    char *b = dup_exact(s, len);
    int r = rw_jpos_find(b, len, ptr, line, col);
    free(b);
    return r;
}

static int find_key(const char *s, const char *ptr, int *line, int *col) {
    size_t len = strlen(s);
    char *b = dup_exact(s, len);
    int r = rw_jpos_find_key(b, len, ptr, line, col);
    free(b);
    return r;
}

/* Asserts rw_jpos_find(s, ptr) returns want_r at want_line:want_col. */
#define ASSERT_AT(s, ptr, want_r, want_line, want_col)                                             \
    do {                                                                                           \
        int l_ = -7, c_ = -7;                                                                      \
        ck_assert_int_eq(find((s), (ptr), &l_, &c_), (want_r));                                    \
        ck_assert_int_eq(l_, (want_line));                                                         \
        ck_assert_int_eq(c_, (want_col));                                                          \
    } while (0)

/* Asserts rw_jpos_find(s, ptr) fails and leaves line/col alone. */
#define ASSERT_FAILS(s, ptr)                                                                       \
    do {                                                                                           \
        int l_ = -7, c_ = -7;                                                                      \
        ck_assert_int_eq(find((s), (ptr), &l_, &c_), RW_ERR_INPUT);                                \
        ck_assert_int_eq(l_, -7);                                                                  \
        ck_assert_int_eq(c_, -7);                                                                  \
    } while (0)

#define ASSERT_KEY_AT(s, ptr, want_line, want_col)                                                 \
    do {                                                                                           \
        int l_ = -7, c_ = -7;                                                                      \
        ck_assert_int_eq(find_key((s), (ptr), &l_, &c_), 0);                                       \
        ck_assert_int_eq(l_, (want_line));                                                         \
        ck_assert_int_eq(c_, (want_col));                                                          \
    } while (0)

#define ASSERT_KEY_FAILS(s, ptr, want_r)                                                           \
    do {                                                                                           \
        int l_ = -7, c_ = -7;                                                                      \
        ck_assert_int_eq(find_key((s), (ptr), &l_, &c_), (want_r));                                \
        ck_assert_int_eq(l_, -7);                                                                  \
        ck_assert_int_eq(c_, -7);                                                                  \
    } while (0)

/* A config-shaped document, LF line ends. Columns noted for the values used below. */
static const char *const CONFIG = "{\n"                                        /* 1 */
                                  "  \"version\": 1,\n"                        /* 2 */
                                  "  \"rules\": [\n"                           /* 3 */
                                  "    {\"id\": \"velocity\", \"params\": {\n" /* 4 */
                                  "      \"window\": \"5m\",\n"                /* 5 */
                                  "      \"limit\": [10, 20.5e1, -3]\n"        /* 6 */
                                  "    }},\n"                                  /* 7 */
                                  "    {\"id\": \"amount\",\n"                 /* 8 */
                                  "     \"params\": {}, \"on\": true}\n"       /* 9 */
                                  "  ]\n"                                      /* 10 */
                                  "}\n";                                       /* 11 */

START_TEST(test_jpos_root) {
    ASSERT_AT(CONFIG, "", 0, 1, 1);
    ASSERT_AT("  \n\t [1, 2]  ", "", 0, 2, 3);
    ASSERT_AT("\n\n  42", "", 0, 3, 3);
    ASSERT_AT("\"s\"", "", 0, 1, 1);
    ASSERT_AT("null", "", 0, 1, 1);
    /* Text after the root value is not looked at. */
    ASSERT_AT("{} trailing", "", 0, 1, 1);
    ASSERT_FAILS("", "");
    ASSERT_FAILS("   \n ", "");
}
END_TEST

START_TEST(test_jpos_nested_members) {
    ASSERT_AT(CONFIG, "/version", 0, 2, 14);
    ASSERT_AT(CONFIG, "/rules", 0, 3, 12);
    ASSERT_AT(CONFIG, "/rules/0/id", 0, 4, 12);
    ASSERT_AT(CONFIG, "/rules/0/params", 0, 4, 34);
    ASSERT_AT(CONFIG, "/rules/0/params/window", 0, 5, 17);
    ASSERT_AT(CONFIG, "/rules/1/on", 0, 9, 26);
    ASSERT_AT(CONFIG, "/rules/1/params", 0, 9, 16);
    /* The empty name is a valid token ("/"). */
    ASSERT_AT("{\"x\": 1, \"\": 2}", "/", 0, 1, 14);
    /* Descending into a scalar cannot be followed. */
    ASSERT_FAILS(CONFIG, "/version/x");
    ASSERT_FAILS(CONFIG, "/rules/0/id/0");
}
END_TEST

START_TEST(test_jpos_array_indices) {
    ASSERT_AT(CONFIG, "/rules/0", 0, 4, 5);
    ASSERT_AT(CONFIG, "/rules/1", 0, 8, 5);
    ASSERT_AT(CONFIG, "/rules/0/params/limit/0", 0, 6, 17);
    ASSERT_AT(CONFIG, "/rules/0/params/limit/1", 0, 6, 21);
    ASSERT_AT(CONFIG, "/rules/0/params/limit/2", 0, 6, 29);
    ASSERT_AT("[[], {}, [[\"a\", [true]]], false]", "/2/0/1/0", 0, 1, 18);
    ASSERT_AT("[[], {}, [[\"a\", [true]]], false]", "/3", 0, 1, 27);
    /* Indices must be plain decimals. */
    ASSERT_FAILS("[1, 2]", "/01");
    ASSERT_FAILS("[1, 2]", "/-");
    ASSERT_FAILS("[1, 2]", "/x");
    ASSERT_FAILS("[1, 2]", "/");
    ASSERT_FAILS("[1, 2]", "/+1");
    ASSERT_FAILS("[1, 2]", "/99999999999999999999999999");
}
END_TEST

START_TEST(test_jpos_escaped_pointer_tokens) {
    const char *t = "{\"a/b\": 1, \"m~n\": 2, \"~1\": 3, \"/\": {\"~\": 4}}";
    ASSERT_AT(t, "/a~1b", 0, 1, 9);
    ASSERT_AT(t, "/m~0n", 0, 1, 19);
    ASSERT_AT(t, "/~01", 0, 1, 28);
    ASSERT_AT(t, "/~1/~0", 0, 1, 42);
    /* Unescaped spelling does not match: "/a/b" looks for member "a". */
    ASSERT_AT(t, "/a/b", RW_ERR_NOT_FOUND, 1, 1);
    /* Malformed pointers. */
    ASSERT_FAILS(t, "/m~2n");
    ASSERT_FAILS(t, "/m~");
    ASSERT_FAILS(t, "a~1b");
    ASSERT_FAILS(t, NULL);
}
END_TEST

START_TEST(test_jpos_escaped_member_names) {
    const char *t = "{\"q\\\"x\": 1, \"b\\\\s\": 2, \"s\\/l\": 3, \"\\u0041B\": 4,\n"
                    " \"caf\\u00e9\": 5, \"\\ud83d\\ude00\": 6, \"t\\tab\\n\": 7, \"x\": 8}";
    ASSERT_AT(t, "/q\"x", 0, 1, 10);
    ASSERT_AT(t, "/b\\s", 0, 1, 21);
    ASSERT_AT(t, "/s~1l", 0, 1, 32);
    ASSERT_AT(t, "/AB", 0, 1, 46);
    ASSERT_AT(t, "/caf\xc3\xa9", 0, 2, 15);
    ASSERT_AT(t, "/\xf0\x9f\x98\x80", 0, 2, 34);
    ASSERT_AT(t, "/t\tab\n", 0, 2, 48);
    ASSERT_AT(t, "/x", 0, 2, 56);
    /* The raw (escaped) spelling does not match. */
    ASSERT_AT(t, "/\\u0041B", RW_ERR_NOT_FOUND, 1, 1);
    /* A lone surrogate never matches, but does not stop the scan. */
    ASSERT_AT("{\"\\ud800\": 1, \"k\": 2}", "/k", 0, 1, 20);
    /* Bad escapes are not JSON. */
    ASSERT_FAILS("{\"\\x\": 1, \"k\": 2}", "/k");
    ASSERT_FAILS("{\"\\u12g4\": 1, \"k\": 2}", "/k");
}
END_TEST

START_TEST(test_jpos_duplicate_keys_first_wins) {
    ASSERT_AT("{\"a\": 1, \"a\": 2}", "/a", 0, 1, 7);
    ASSERT_KEY_AT("{\"a\": 1, \"a\": 2}", "/a", 1, 2);
}
END_TEST

START_TEST(test_jpos_missing_member_gives_enclosing_object) {
    /* The last token is missing: the object holding it. */
    ASSERT_AT(CONFIG, "/rules/0/params/windw", RW_ERR_NOT_FOUND, 4, 34);
    ASSERT_AT(CONFIG, "/rules/1/params/window", RW_ERR_NOT_FOUND, 9, 16);
    ASSERT_AT(CONFIG, "/nope", RW_ERR_NOT_FOUND, 1, 1);
    /* A member missing mid-way: the deepest object reached. */
    ASSERT_AT(CONFIG, "/rules/1/nope/window", RW_ERR_NOT_FOUND, 8, 5);
    /* Names longer than RW_JPOS_MAX_NAME never match; up to it they do. */
    char name[RW_JPOS_MAX_NAME + 2];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    char text[2 * RW_JPOS_MAX_NAME + 64], ptr[RW_JPOS_MAX_NAME + 8];
    snprintf(text, sizeof(text), "{\"%s\": 1}", name); /* RW_JPOS_MAX_NAME + 1 bytes */
    snprintf(ptr, sizeof(ptr), "/%s", name);
    ASSERT_AT(text, ptr, RW_ERR_NOT_FOUND, 1, 1);
    name[RW_JPOS_MAX_NAME] = '\0';
    snprintf(text, sizeof(text), "{\"%s\": 1}", name); /* exactly RW_JPOS_MAX_NAME */
    snprintf(ptr, sizeof(ptr), "/%s", name);
    ASSERT_AT(text, ptr, 0, 1, RW_JPOS_MAX_NAME + 6);
}
END_TEST

START_TEST(test_jpos_index_out_of_range) {
    ASSERT_FAILS(CONFIG, "/rules/2");
    ASSERT_FAILS(CONFIG, "/rules/2/params");
    ASSERT_FAILS(CONFIG, "/rules/0/params/limit/3");
    ASSERT_FAILS("[]", "/0");
    ASSERT_FAILS("[ ]", "/0");
    ASSERT_FAILS("[1,]", "/1");
    /* Indexing an object uses the token as a name instead. */
    ASSERT_AT("{\"0\": 5}", "/0", 0, 1, 7);
}
END_TEST

START_TEST(test_jpos_find_key) {
    ASSERT_KEY_AT(CONFIG, "/version", 2, 3);
    ASSERT_KEY_AT(CONFIG, "/rules/0/params", 4, 24);
    ASSERT_KEY_AT(CONFIG, "/rules/0/params/window", 5, 7);
    ASSERT_KEY_AT(CONFIG, "/rules/1/params", 9, 6);
    ASSERT_KEY_AT("{\"a/b\": {\"\\\"\": 0}}", "/a~1b/\"", 1, 10);
    /* Missing member, root, array elements: no key to point at. */
    ASSERT_KEY_FAILS(CONFIG, "/rules/0/params/windw", RW_ERR_NOT_FOUND);
    ASSERT_KEY_FAILS(CONFIG, "/rules/0/parms/window", RW_ERR_NOT_FOUND);
    ASSERT_KEY_FAILS(CONFIG, "/rules/9/params", RW_ERR_INPUT);
    ASSERT_KEY_FAILS(CONFIG, "", RW_ERR_INPUT);
    ASSERT_KEY_FAILS(CONFIG, "/rules/0", RW_ERR_INPUT);
    ASSERT_KEY_FAILS(CONFIG, "/version/x", RW_ERR_INPUT);
    /* The member's value must be well-formed too. */
    ASSERT_KEY_FAILS("{\"a\": tru}", "/a", RW_ERR_INPUT);
}
END_TEST

START_TEST(test_jpos_crlf) {
    const char *t = "{\r\n"
                    "  \"a\": {\r\n"
                    "    \"b\": 1,\r\n"
                    "\r\n"
                    "    \"c\": [\r\n"
                    "      null]\r\n"
                    "  }\r\n"
                    "}\r\n";
    ASSERT_AT(t, "/a", 0, 2, 8);
    ASSERT_AT(t, "/a/b", 0, 3, 10);
    ASSERT_AT(t, "/a/c", 0, 5, 10);
    ASSERT_AT(t, "/a/c/0", 0, 6, 7);
    ASSERT_AT(t, "/a/zz", RW_ERR_NOT_FOUND, 2, 8);
    ASSERT_KEY_AT(t, "/a/c", 5, 5);
}
END_TEST

START_TEST(test_jpos_not_nul_terminated) {
    /* No terminator anywhere: the array is exactly the text. */
    static const char raw[] = {'{', '"', 'k', '"', ':', '[', '7', ',', '8', ']', '}'};
    int l = 0, c = 0;
    ck_assert_int_eq(rw_jpos_find(raw, sizeof(raw), "/k/1", &l, &c), 0);
    ck_assert_int_eq(l, 1);
    ck_assert_int_eq(c, 9);
    ck_assert_int_eq(rw_jpos_find_key(raw, sizeof(raw), "/k", &l, &c), 0);
    ck_assert_int_eq(c, 2);
    ck_assert_int_eq(rw_jpos_find(raw, sizeof(raw), "/x", &l, &c), RW_ERR_NOT_FOUND);
    ck_assert_int_eq(c, 1);
    /* len shorter than the buffer: what lies past len is not seen. */
    static const char more[] = {'[', '1', ',', '2', ']', '[', '3', ']', '"', 'x'};
    ck_assert_int_eq(rw_jpos_find(more, 5, "/1", &l, &c), 0);
    ck_assert_int_eq(c, 4);
    ck_assert_int_eq(rw_jpos_find(more, 3, "/1", &l, &c), RW_ERR_INPUT); /* "[1," */
    /* A number running up to len ends there. */
    static const char num[] = {'[', '1', '2', '3', '4', '5'};
    ck_assert_int_eq(rw_jpos_find(num, 4, "/0", &l, &c), 0);
    ck_assert_int_eq(c, 2);
    ck_assert_int_eq(rw_jpos_find(num, 4, "", &l, &c), RW_ERR_INPUT);
    /* Heap copies of exact size, with every prefix length: ASan checks no read past len. */
    size_t n = strlen(CONFIG);
    char *b = dup_exact(CONFIG, n);
    for (size_t k = 0; k <= n; k++) {
        char *p = dup_exact(b, k);
        (void)rw_jpos_find(p, k, "/rules/1/on", &l, &c);
        (void)rw_jpos_find(p, k, "", &l, &c);
        (void)rw_jpos_find_key(p, k, "/rules/1/params/x", &l, &c);
        free(p);
    }
    free(b);
}
END_TEST

static char *nested(int depth) {
    char *t = malloc((size_t)depth * 2 + 2);
    ck_assert_ptr_nonnull(t);
    memset(t, '[', (size_t)depth);
    t[depth] = '1';
    memset(t + depth + 1, ']', (size_t)depth);
    t[2 * depth + 1] = '\0';
    return t;
}

static char *index_path(int n) {
    char *p = malloc((size_t)n * 2 + 1);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < n; i++)
        memcpy(p + 2 * i, "/0", 2);
    p[2 * n] = '\0';
    return p;
}

START_TEST(test_jpos_deep_nesting_limit) {
    /* Up to the limit works... */
    char *t = nested(RW_JPOS_MAX_DEPTH);
    char *p = index_path(RW_JPOS_MAX_DEPTH);
    ASSERT_AT(t, "", 0, 1, 1);
    ASSERT_AT(t, p, 0, 1, RW_JPOS_MAX_DEPTH + 1);
    free(t);
    free(p);
    /* ...one more fails, both when skipped and when followed. */
    t = nested(RW_JPOS_MAX_DEPTH + 1);
    p = index_path(RW_JPOS_MAX_DEPTH + 1);
    ASSERT_FAILS(t, "");
    ASSERT_FAILS(t, p);
    free(t);
    free(p);
    /* Far beyond (no stack overflow), also inside a member that has to be skipped. */
    int deep = 100000;
    t = nested(deep);
    ASSERT_FAILS(t, "");
    ASSERT_FAILS(t, "/0/0/0");
    size_t tl = strlen(t);
    char *obj = malloc(tl + 32);
    ck_assert_ptr_nonnull(obj);
    snprintf(obj, tl + 32, "{\"a\": %s, \"b\": 2}", t);
    ASSERT_FAILS(obj, "/b");
    free(obj);
    free(t);
}
END_TEST

START_TEST(test_jpos_truncated_text) {
    const char *t = "{\"a\": [1, 2, ";
    ASSERT_FAILS(t, "/a/2");
    ASSERT_FAILS(t, "/b"); /* cannot tell it is missing: the object never ends */
    ASSERT_FAILS(t, "");
    ASSERT_FAILS(t, "/a");
    ASSERT_AT(t, "/a/1", 0, 1, 11); /* what lies before the cut is still found */
    ASSERT_FAILS("{\"ab", "/ab");
    ASSERT_FAILS("{\"a\\", "/a");
    ASSERT_FAILS("{\"\\u00", "/x");
    ASSERT_FAILS("{\"\\ud83d\\ude", "/x");
    ASSERT_FAILS("{\"a\": tru", "/a");
    ASSERT_FAILS("{\"a\": -", "/a");
    ASSERT_FAILS("{\"a\": 1.", "/a");
    ASSERT_FAILS("{\"a\": 1e+", "/a");
    ASSERT_FAILS("{\"a\":", "/a");
    ASSERT_FAILS("{\"a\"", "/a");
    ASSERT_FAILS("{", "/a");
    ASSERT_FAILS("[", "/0");
}
END_TEST

START_TEST(test_jpos_malformed_text) {
    ASSERT_FAILS("{\"a\" 1, \"b\": 2}", "/b");
    ASSERT_FAILS("{\"a\": 1 \"b\": 2}", "/b");
    ASSERT_FAILS("{\"a\": 1,}", "/b");
    ASSERT_FAILS("{a: 1}", "/a");
    ASSERT_FAILS("[1 2]", "/1");
    ASSERT_FAILS("[01, 2]", "/1");
    ASSERT_FAILS("[nul, 2]", "/1");
    ASSERT_FAILS("[\"a\tb\", 2]", "/1"); /* raw control character in a string */
    ASSERT_FAILS("[.5, 2]", "/1");
    ASSERT_FAILS("x", "");
}
END_TEST

START_TEST(test_jpos_null_outputs) {
    ck_assert_int_eq(rw_jpos_find("[1]", 3, "/0", NULL, NULL), 0);
    ck_assert_int_eq(rw_jpos_find_key("{\"a\":1}", 7, "/a", NULL, NULL), 0);
    ck_assert_int_eq(rw_jpos_find(NULL, 0, "", NULL, NULL), RW_ERR_INPUT);
}
END_TEST

static Suite *jpos_suite(void) {
    Suite *s = suite_create("jpos");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_jpos_root);
    tcase_add_test(tc, test_jpos_nested_members);
    tcase_add_test(tc, test_jpos_array_indices);
    tcase_add_test(tc, test_jpos_escaped_pointer_tokens);
    tcase_add_test(tc, test_jpos_escaped_member_names);
    tcase_add_test(tc, test_jpos_duplicate_keys_first_wins);
    tcase_add_test(tc, test_jpos_missing_member_gives_enclosing_object);
    tcase_add_test(tc, test_jpos_index_out_of_range);
    tcase_add_test(tc, test_jpos_find_key);
    tcase_add_test(tc, test_jpos_crlf);
    tcase_add_test(tc, test_jpos_not_nul_terminated);
    tcase_add_test(tc, test_jpos_deep_nesting_limit);
    tcase_add_test(tc, test_jpos_truncated_text);
    tcase_add_test(tc, test_jpos_malformed_text);
    tcase_add_test(tc, test_jpos_null_outputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(jpos_suite); }
