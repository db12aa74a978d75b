/* Replays the fuzz target's seed corpus (tests/fuzz/corpus): hostile input never
 * crashes or stalls the engine's evaluation path, and ends as a dead letter with a
 * reason when it is not a valid event. Under `make test-asan` this also runs every
 * input under AddressSanitizer and UBSan. */
#include "fuzz/fuzz_event.c"

#include "harness.h"

#include <check.h>
#include <dirent.h>
#include <string.h>

#define CORPUS "tests/fuzz/corpus"

static char *slurp(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", CORPUS, name);
    rw_error_t err;
    rw_error_clear(&err);
    char *data = rw_file_read(path, len, &err);
    ck_assert_msg(data != NULL, "%s", err.text);
    return data;
}

/* Runs one corpus file; returns the dead-letter reason, or "" for a valid event. */
static const char *run_one(const char *name) {
    size_t len;
    char *data = slurp(name, &len);
    ck_assert_int_eq(LLVMFuzzerTestOneInput((const uint8_t *)data, len), 0);
    free(data);
    ck_assert_uint_eq(batch->n_items, 1);
    return batch->items[0].error;
}

START_TEST(test_fuzz_corpus_replays) {
    DIR *d = opendir(CORPUS);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        run_one(de->d_name);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 20);
}
END_TEST

START_TEST(test_fuzz_hostile_inputs_dead_lettered) {
    static const char *const dead[][2] = {{"deep-nesting.json", "invalid JSON"},
                                          {"duplicate-keys.json", "duplicate"},
                                          {"raw-nul.json", "invalid JSON"},
                                          {"invalid-utf8.json", "invalid JSON"},
                                          {"oversize.json", "oversize"},
                                          {"ts-number.json", "ts"},
                                          {"not-object.json", "not a JSON object"},
                                          {"empty.json", "invalid JSON"},
                                          {"truncated.json", "invalid JSON"},
                                          {"nul-bytes.json", "event_id"},
                                          {"huge-real.json", "invalid JSON"},
                                          {"huge-numbers.json", "too big integer"},
                                          {NULL, NULL}};
    for (size_t i = 0; dead[i][0]; i++) {
        const char *why = run_one(dead[i][0]);
        ck_assert_msg(strstr(why, dead[i][1]) != NULL, "%s: reason \"%s\", want \"%s\"", dead[i][0],
                      why, dead[i][1]);
    }
    /* Wrong types in fields rules read: valid events, not scored by those rules. */
    static const char *const valid[] = {"wrong-types.json",
                                        "wrong-types-2.json",
                                        "big-valid-numbers.json",
                                        "long-key.json",
                                        "ts-leap.json",
                                        "tx-valid.json",
                                        NULL};
    for (size_t i = 0; valid[i]; i++)
        ck_assert_msg(run_one(valid[i])[0] == 0, "%s dead-lettered: %s", valid[i],
                      batch->items[0].error);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("fuzz_corpus");
    TCase *tc = tcase_create("corpus");
    tcase_add_test(tc, test_fuzz_corpus_replays);
    tcase_add_test(tc, test_fuzz_hostile_inputs_dead_lettered);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(suite); }
