/* The data scripts of scripts/ (the PaySim, AMLSim and CFPB converters, score.py and the
 * demo stream's simulator), tested by tests/scripts/test_scripts.py on the small fixtures
 * of tests/scripts/: each test here runs one of its test classes with python3 and fails
 * with the class's report when any of its tests fails. */
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs the test class; fails with its output unless every test of it passed. */
static void run_class(const char *name) {
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "python3 -B tests/scripts/test_scripts.py %s 2>&1", name);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run python3 (scripts/deps.sh installs it)");
    static char out[16384];
    size_t n = 0, got;
    while ((got = fread(out + n, 1, sizeof(out) - 1 - n, p)) > 0)
        n += got;
    out[n] = 0;
    while (fread(cmd, 1, sizeof(cmd), p) > 0) /* the rest of a long report, not kept */
        ;
    int status = pclose(p);
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

static Suite *scripts_suite(void) {
    Suite *s = suite_create("scripts");
    TCase *tc = tcase_create("scripts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_scripts_paysim_converter);
    tcase_add_test(tc, test_scripts_amlsim_converter_labels_change_nothing_else);
    tcase_add_test(tc, test_scripts_cfpb_converter_ignores_outcome_columns);
    tcase_add_test(tc, test_scripts_score_counts);
    tcase_add_test(tc, test_scripts_demo_simulator);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(scripts_suite); }
