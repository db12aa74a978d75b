/* Replays the seed corpora of the loader fuzz targets: the engine config loader
 * (tests/fuzz/corpus-config), the ruleset loader (corpus-ruleset) and the JSON
 * position finder (corpus-jpos). Hostile text never crashes, leaks or hangs
 * them (under `make test-asan` every input also runs under ASan and UBSan);
 * files named ok-* load and files named bad-* are refused with an error that
 * names a position. */
#include "harness.h"

#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_ruleset_one
#include "fuzz/fuzz_ruleset.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_jpos_one
#include "fuzz/fuzz_jpos.c"
#undef LLVMFuzzerTestOneInput

#include <check.h>
#include <dirent.h>
#include <string.h>

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);
static fuzz_fn g_fn;

/* Calls fn(path, name) for every file of dir; returns how many there were. */
static int each_file(const char *dir, void (*fn)(const char *path, const char *name)) {
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        fn(path, de->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static void run_one(const char *path, const char *name) {
    (void)name;
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *data = rw_file_read(path, &len, &err);
    ck_assert_msg(data != NULL, "%s", err.text);
    ck_assert_int_eq(g_fn((const uint8_t *)data, len), 0);
    free(data);
}

/* Runs every file of dir through fn; returns how many there were. */
static int replay(const char *dir, fuzz_fn fn) {
    g_fn = fn;
    return each_file(dir, run_one);
}

static bool starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ok-* loads, bad-* is refused with an error that names the file. */
static void config_expect(const char *path, const char *name) {
    bool ok = starts(name, "ok-"), bad = starts(name, "bad-");
    if (!ok && !bad)
        return;
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t err;
    rw_error_clear(&err);
    int rc = rw_config_load(&cfg, path, &err);
    ck_assert_msg((rc == 0) == ok, "%s: %s", name, rc ? err.text : "loaded");
    if (bad)
        ck_assert_msg(strstr(err.text, "corpus-config/") != NULL || err.source[0],
                      "%s: the error does not name the file: %s", name, err.text);
    rw_config_fini(&cfg);
}

START_TEST(test_fuzz_config_corpus) {
    ck_assert_int_ge(replay("tests/fuzz/corpus-config", fuzz_config_one), 10);
    each_file("tests/fuzz/corpus-config", config_expect);
}
END_TEST

/* ok-* loads, bad-* is refused with at least one error. */
static void ruleset_expect(const char *path, const char *name) {
    bool ok = starts(name, "ok-"), bad = starts(name, "bad-");
    if (!ok && !bad)
        return;
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(path, &errs);
    const char *why = rs ? "loaded" : errs.n ? errs.items[0].text : "no error";
    ck_assert_msg((rs != NULL) == ok && (rs || errs.n > 0), "%s: %s", name, why);
    if (rs)
        rw_ruleset_destroy(rs);
    rw_errors_fini(&errs);
}

START_TEST(test_fuzz_ruleset_corpus) {
    ck_assert_int_ge(replay("tests/fuzz/corpus-ruleset", fuzz_ruleset_one), 10);
    each_file("tests/fuzz/corpus-ruleset", ruleset_expect);
}
END_TEST

START_TEST(test_fuzz_jpos_corpus) {
    ck_assert_int_ge(replay("tests/fuzz/corpus-jpos", fuzz_jpos_one), 10);
    /* A few with known answers: the corpus is not only survived. */
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *t = rw_file_read("tests/fuzz/corpus-jpos/lines.txt", &len, &err);
    ck_assert_ptr_nonnull(t);
    char *text = strchr(t, '\n') + 1;
    int line = 0, col = 0;
    ck_assert_int_eq(rw_jpos_find(text, len - (size_t)(text - t), "/x", &line, &col), 0);
    ck_assert_int_eq(line, 4);
    ck_assert_int_eq(col, 7);
    ck_assert_int_eq(rw_jpos_find_key(text, len - (size_t)(text - t), "/x", &line, &col), 0);
    ck_assert_int_eq(line, 4);
    ck_assert_int_eq(col, 2);
    free(t);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("fuzz_loaders");
    TCase *tc = tcase_create("corpora");
    tcase_add_test(tc, test_fuzz_config_corpus);
    tcase_add_test(tc, test_fuzz_ruleset_corpus);
    tcase_add_test(tc, test_fuzz_jpos_corpus);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(suite); }
