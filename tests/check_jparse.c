/* Unit tests for engine/jparse.c and engine/jwrite.c: on every input, rw_json_parse gives
 * what jansson's json_loadb (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL) gives: the same values,
 * in the same order and of the same types, or the same error at the same place; and
 * rw_json_write writes every value parsed as json_dumps (JSON_COMPACT | JSON_ENSURE_ASCII |
 * JSON_REAL_PRECISION(15)) does. Inputs: the fuzz corpus, the demo events, crafted edge
 * cases, and many mutations of valid events. */
#include "jparse.h"
#include "jwrite.h"

#include "harness.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef json_t *parse_fn(const char *buf, size_t len, json_error_t *err, rw_jtop_t *top);

/* The table of top-level members parse (rw_json_parse_top or rw_json_parse_lazy) fills tells
 * what the object j (jansson's reading of buf) holds: every member it answers for is j's, a
 * name j lacks is answered as absent or left to the object, and a whole table holds every
 * member. A lazy table's object is empty until filled, then it is j, in j's order; a lazy
 * table left unfilled is released with its object (a leak check sees one that is not). */
static void top_agrees(parse_fn *parse, const char *buf, size_t len, const json_t *j,
                       const char *what) {
    rw_jtop_t top;
    json_error_t e;
    json_t *t = parse(buf, len, &e, &top);
    ck_assert_ptr_nonnull(t);
    if (!json_is_object(j)) {
        ck_assert_msg(top.n == 0 && !top.whole && !top.lazy, "%s: a table for a non-object", what);
        json_decref(t);
        return;
    }
    if (top.whole)
        ck_assert_msg(top.n == json_object_size(j), "%s: a whole table of %u members, not %zu",
                      what, top.n, json_object_size(j));
    if (top.lazy)
        ck_assert_msg(top.whole && json_object_size(t) == 0,
                      "%s: a lazy table that is not whole, or an object filled already", what);
    const char *k;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach(RW_UNCONST(json_t *, j), k, kl, v) {
        json_t *got;
        if (rw_jtop_get(&top, k, kl, rw_jtop_head(k, kl), &got))
            ck_assert_msg(got && json_equal(got, v), "%s: member \"%s\" differs", what, k);
        else
            ck_assert_msg(!top.whole, "%s: a whole table without \"%s\"", what, k);
    }
    static const char absent[] = "no such member here";
    json_t *got;
    if (rw_jtop_get(&top, absent, sizeof(absent) - 1, rw_jtop_head(absent, sizeof(absent) - 1),
                    &got))
        ck_assert_msg(got == NULL && top.whole, "%s: an absent member found", what);
    if (top.lazy && json_object_size(j) % 2) {
        rw_jtop_decref(&top, t);
        return;
    }
    ck_assert_int_eq(rw_jtop_fill(&top, t), 0);
    ck_assert(!top.lazy);
    ck_assert_int_eq(rw_jtop_fill(&top, t), 0); /* once only */
    char *dj = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    char *dt = json_dumps(t, JSON_COMPACT | JSON_REAL_PRECISION(17));
    ck_assert_msg(dj && dt && strcmp(dj, dt) == 0, "%s: filled\n  %s\njansson\n  %s", what, dt, dj);
    free(dj);
    free(dt);
    rw_jtop_decref(&top, t);
}

/* Parses buf both ways and checks that they agree. Returns 1 when it parsed. */
static int same_as_jansson(const char *buf, size_t len, const char *what) {
    json_error_t ej, ef;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &ej);
    json_t *f = rw_json_parse(buf, len, &ef);
    if (!j) {
        ck_assert_msg(!f, "%s: jansson refuses (%s) but the fast parser takes it", what, ej.text);
        ck_assert_msg(strcmp(ej.text, ef.text) == 0 && ej.position == ef.position &&
                          ej.line == ef.line && ej.column == ef.column,
                      "%s: errors differ: \"%s\" at %d, \"%s\" at %d", what, ej.text, ej.position,
                      ef.text, ef.position);
        rw_jtop_t top;
        json_t *l = rw_json_parse_lazy(buf, len, &ef, &top);
        ck_assert_msg(!l && strcmp(ej.text, ef.text) == 0 && ej.position == ef.position,
                      "%s: the lazy parse takes it, or errs otherwise: \"%s\" at %d", what, ef.text,
                      ef.position);
        return 0;
    }
    ck_assert_msg(f != NULL, "%s: jansson takes it but the fast parser refuses: %s", what, ef.text);
    char *dj = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    char *df = json_dumps(f, JSON_COMPACT | JSON_REAL_PRECISION(17));
    ck_assert_msg(dj && df && strcmp(dj, df) == 0, "%s: values differ:\n  %s\n  %s", what, dj, df);
    ck_assert(json_equal(j, f));
    top_agrees(rw_json_parse_top, buf, len, j, what);
    top_agrees(rw_json_parse_lazy, buf, len, j, what);
    char *dumped = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
    rw_buf_t w;
    rw_buf_init(&w);
    rw_json_write(&w, j);
    ck_assert_msg(dumped && strcmp(dumped, rw_buf_cstr(&w)) == 0,
                  "%s: written\n  %s\njansson\n  %s", what, rw_buf_cstr(&w), dumped);
    rw_buf_fini(&w);
    free(dumped);
    free(dj);
    free(df);
    json_decref(j);
    json_decref(f);
    return 1;
}

static char *file_read(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

START_TEST(test_jparse_fuzz_corpus) {
    DIR *d = opendir("tests/fuzz/corpus");
    ck_assert_msg(d != NULL, "tests/fuzz/corpus not found (run from the repo root)");
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof(path), "tests/fuzz/corpus/%s", e->d_name);
        size_t len;
        char *buf = file_read(path, &len);
        same_as_jansson(buf, len, path);
        free(buf);
        files++;
    }
    closedir(d);
    ck_assert_int_gt(files, 10);
}
END_TEST

/* Every line of the demo's events, and each with its last bytes cut off. */
START_TEST(test_jparse_demo_events) {
    static const char *const files[] = {"data/demo/events.jsonl", "data/demo/bad.jsonl"};
    int parsed = 0;
    for (size_t k = 0; k < 2; k++) {
        size_t len;
        char *buf = file_read(files[k], &len);
        for (char *line = buf, *nl; line < buf + len; line = nl + 1) {
            nl = memchr(line, '\n', (size_t)(buf + len - line));
            if (!nl)
                nl = buf + len;
            size_t n = (size_t)(nl - line);
            parsed += same_as_jansson(line, n, files[k]);
            for (size_t cut = 1; cut < 4 && cut < n; cut++)
                same_as_jansson(line, n - cut, files[k]);
        }
        free(buf);
    }
    ck_assert_int_gt(parsed, 2000);
}
END_TEST

START_TEST(test_jparse_edges) {
    static const char *const cases[] = {
        "{}",
        "[]",
        " {} ",
        "\t[\n]\r\n",
        "",
        " ",
        "\"top\"",
        "1",
        "true",
        "null",
        "{} x",
        "{\"a\":1,}",
        "[1,]",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1 \"b\":2}",
        "[01]",
        "[-]",
        "[-0]",
        "[-0.0]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[1e+]",
        "[1E-2]",
        "[1e400]",
        "[-1e400]",
        "[1e-400]",
        "[9223372036854775807]",
        "[9223372036854775808]",
        "[-9223372036854775808]",
        "[-9223372036854775809]",
        "[123456789012345678901234567890123456789012345678901234567890]",
        "[0.1234567890123456789012345678901234567890123456789012345678901234567890]",
        "[\"\\u0000\"]",
        "{\"a\\u0000b\":1}",
        "[\"\\ud83d\\ude00\"]",
        "[\"\\ud800\"]",
        "[\"\\udc00\"]",
        "[\"\\ud800\\u0041\"]",
        "[\"\\u00e9\\u4e2d\"]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"a\tb\"]",
        "[\"\xc3\xa9\"]",
        "[\"\xc3\"]",
        "[\"\xc0\x80\"]",
        "[\"\xe0\x80\x80\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xf5\x80\x80\x80\"]",
        "[\"\xff\"]",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":1,\"b\":1}}",
        "[tru]",
        "[nul]",
        "[falsey]",
        "{\"k\":[1,2.5,\"x\",true,false,null,{\"n\":{}}]}",
        "[1e20,1.5e300,123456789012345678.0,0.000001234,1e-7,-0.0,5e-324]",
        "[\"\\u007f\\u0001\\u001f \x7f\"]",
        "[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_as_jansson(cases[i], strlen(cases[i]), cases[i]);
    /* A NUL byte outside strings, and inside one. */
    same_as_jansson("{\"a\":1}\0", 8, "NUL after");
    same_as_jansson("[\"a\0b\"]", 7, "raw NUL in a string");
}
END_TEST

/* Objects at the edges of the top-level table: names of 8, 9, 23 and 24 bytes, duplicates
 * that differ from other names only past their first 8 bytes, 32 and 33 members, and a
 * duplicate after the table is full; each parsed eagerly and lazily, as jansson parses it. */
START_TEST(test_jparse_top_table_edges) {
    static const char *const cases[] = {
        "{\"abcdefgh\":1,\"abcdefghi\":2,\"abcdefghj\":3}",
        "{\"abcdefghij\":1,\"abcdefghik\":2,\"abcdefghij\":3}",
        "{\"abcdefghijklmnopqrstuvw\":1,\"abcdefghijklmnopqrstuvx\":2}",
        "{\"abcdefghijklmnopqrstuvw\":1,\"abcdefghijklmnopqrstuvw\":2}",
        "{\"x\":0,\"abcdefghijklmnopqrstuvwx\":1,\"y\":2,\"x\":3}",
        "{\"abcdefghijklmnopqrstuvwx\":1,\"abcdefghijklmnopqrstuvwx\":2}",
        "{\"a\":1,\"b\":{\"a\":1},\"c\":[{\"a\":2}],\"b\":3}",
        "{\"\\u0061\":1,\"a\":2}",
        "{\"k\\u00e9y\":1,\"k\xc3\xa9y\":2}",
        "{\"\":1,\"\":2}"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_as_jansson(cases[i], strlen(cases[i]), cases[i]);
    for (int n = 30; n <= 34; n++)
        for (int dup = -1; dup < n; dup += 11) {
            char buf[1024], what[64];
            size_t o = 0;
            buf[o++] = '{';
            for (int m = 0; m < n; m++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"member-%02d\":%d",
                                      m ? "," : "", m, m);
            if (dup >= 0)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",\"member-%02d\":0", dup);
            buf[o++] = '}';
            snprintf(what, sizeof(what), "%d members, a duplicate of %d", n, dup);
            same_as_jansson(buf, o, what);
        }
}
END_TEST

/* Nesting around jansson's depth limit, with a scalar and with an empty container inside. */
START_TEST(test_jparse_depth) {
    for (int depth = JSON_PARSER_MAX_DEPTH - 2; depth <= JSON_PARSER_MAX_DEPTH + 1; depth++)
        for (int inner = 0; inner < 3; inner++) {
            size_t n = 0;
            char *buf = malloc((size_t)depth * 2 + 8);
            ck_assert_ptr_nonnull(buf);
            for (int i = 0; i < depth; i++)
                buf[n++] = '[';
            if (inner == 1)
                buf[n++] = '1';
            else if (inner == 2)
                buf[n++] = '{', buf[n++] = '}';
            for (int i = 0; i < depth; i++)
                buf[n++] = ']';
            char what[64];
            snprintf(what, sizeof(what), "depth %d, inner %d", depth, inner);
            same_as_jansson(buf, n, what);
            free(buf);
        }
}
END_TEST

/* Valid events with bytes changed, inserted and removed at random (a fixed seed). */
START_TEST(test_jparse_mutations) {
    static const char *const seeds[] = {
        "{\"event_id\":\"tx-000000001\",\"type\":\"transaction\",\"ts\":\"2026-11-01T00:00:00."
        "123Z\",\"account\":\"6222020000000000001\",\"amount\":1234.56,\"currency\":\"CNY\","
        "\"direction\":\"out\",\"geo\":{\"country\":\"CN\"},\"tags\":[1,-2,3.5e2,true,null]}",
        "{\"event_id\": \"c-1\", \"type\": \"complaint\", \"text\": \"caf\xc3\xa9 \\u4e2d "
        "\\\"quoted\\\"\", \"n\": -0, \"x\": 1e-5}"};
    static const char bytes[] = "{}[]\":,\\-+.eE0129 \t\nuabtfn\x80\xc3\xa9\xff\0";
    uint64_t z = 0x9e3779b97f4a7c15ULL;
    char buf[512];
    int parsed = 0;
    for (int i = 0; i < 60000; i++) {
        const char *s = seeds[i % 2];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        int edits = 1 + (int)(i % 3);
        for (int k = 0; k < edits; k++) {
            z = z * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(z >> 33) % n;
            char c = bytes[(z >> 20) % (sizeof(bytes) - 1)];
            switch ((z >> 8) % 3) {
            case 0:
                buf[at] = c;
                break;
            case 1:
                if (n + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                }
                break;
            default:
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            }
        }
        parsed += same_as_jansson(buf, n, "mutation");
    }
    ck_assert_int_gt(parsed, 100); /* some mutations stay valid */
}
END_TEST

static Suite *jparse_suite(void) {
    Suite *s = suite_create("jparse");
    TCase *tc = tcase_create("same as jansson");
    tcase_add_test(tc, test_jparse_fuzz_corpus);
    tcase_add_test(tc, test_jparse_demo_events);
    tcase_add_test(tc, test_jparse_edges);
    tcase_add_test(tc, test_jparse_top_table_edges);
    tcase_add_test(tc, test_jparse_depth);
    tcase_add_test(tc, test_jparse_mutations);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(jparse_suite); }
