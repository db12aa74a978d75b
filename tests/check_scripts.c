/* The data scripts of scripts/ (the PaySim, AMLSim and CFPB converters, score.py and the
 * demo stream's simulator), tested by tests/scripts/test_scripts.py on the small fixtures
 * of tests/scripts/: each test here runs one of its test classes with python3 and fails
 * with the class's report when any of its tests fails; and the demo stream's own check
 * (scripts/make_demo_events.py --check) against this riskwarn. */
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs the command; returns its exit status, its output (the first 16 KiB) in out. */
static int run_cmd(const char *cmd, char *out, size_t len) {
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t n = 0, got;
    while ((got = fread(out + n, 1, len - 1 - n, p)) > 0)
        n += got;
    out[n] = 0;
    char rest[512];
    while (fread(rest, 1, sizeof(rest), p) > 0) /* the rest of a long report, not kept */
        ;
    return pclose(p);
}

/* Runs the test class; fails with its output unless every test of it passed. */
static void run_class(const char *name) {
    char cmd[256];
    static char out[16384];
    snprintf(cmd, sizeof(cmd), "python3 -B tests/scripts/test_scripts.py %s 2>&1", name);
    int status = run_cmd(cmd, out, sizeof(out));
    printf("%s: %s", name, out);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %d):\n%.3000s",
                  name, status, out);
    ck_assert_msg(strstr(out, "\nOK") != NULL, "%s: no OK in its report:\n%.3000s", name, out);
}

START_TEST(test_scripts_paysim_converter) { run_class("PaysimConverter"); }
END_TEST

START_TEST(test_scripts_amlsim_converter_labels_change_nothing_else) {
    run_class("AmlsimConverter");
}
END_TEST

START_TEST(test_scripts_cfpb_converter_ignores_outcome_columns) { run_class("CfpbConverter"); }
END_TEST

START_TEST(test_scripts_score_counts) { run_class("Score"); }
END_TEST

START_TEST(test_scripts_demo_simulator) { run_class("DemoSimulator"); }
END_TEST

/* The demo stream: data/demo/ is what scripts/make_demo_events.py generates, every rule
 * of the default pack reaches every level it defines on it, and riskwarn replay gives the
 * simulator's per-rule, per-level table (the watchlist rule unresolved in both, no Redis). */
START_TEST(test_scripts_demo_stream_matches_the_engine) {
    char cmd[512];
    static char out[16384];
    snprintf(cmd, sizeof(cmd), "python3 -B scripts/make_demo_events.py --check --engine %s 2>&1",
             h_bin());
    int status = run_cmd(cmd, out, sizeof(out));
    printf("%s", out);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "demo check failed:\n%.3000s",
                  strstr(out, "rule ") ? strstr(out, "rule ") : out);
    ck_assert_msg(strstr(out, "engine replay: same table as the simulation"), "%.3000s", out);
}
END_TEST

static Suite *scripts_suite(void) {
    Suite *s = suite_create("scripts");
    TCase *tc = tcase_create("scripts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_scripts_paysim_converter);
    tcase_add_test(tc, test_scripts_amlsim_converter_labels_change_nothing_else);
    tcase_add_test(tc, test_scripts_cfpb_converter_ignores_outcome_columns);
    tcase_add_test(tc, test_scripts_score_counts);
    tcase_add_test(tc, test_scripts_demo_simulator);
    tcase_add_test(tc, test_scripts_demo_stream_matches_the_engine);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(scripts_suite); }
