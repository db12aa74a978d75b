/* The ruleset control path apart from Kafka: keys files, signatures, version
 * order, ruleset limits and group agreement. */
#include "config.h"
#include "control.h"
#include "group.h"
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rw_keys_t *keys_of(const char *json, rw_error_t *err) {
    rw_error_clear(err);
    return rw_control_keys_load(h_tmpfile(".json", json), err);
}

START_TEST(test_control_signatures_verify_and_refuse) {
    char pa[128], pb[128], json[600], sig[RW_SIG_B64_MAX], why[300];
    char a_path[256], b_path[256];
    snprintf(a_path, sizeof(a_path), "%s", h_keypair(pa));
    snprintf(b_path, sizeof(b_path), "%s", h_keypair(pb));
    snprintf(json, sizeof(json), "{\"keys\": [{\"id\": \"k-a\", \"public_key\": \"%s\"}]}", pa);
    rw_error_t err;
    rw_keys_t *keys = keys_of(json, &err);
    ck_assert_msg(keys != NULL, "%s", err.text);
    ck_assert_uint_eq(rw_control_keys_count(keys), 1);

    rw_signer_t *a = rw_control_signer_load(a_path, NULL, &err);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(rw_control_signer_key_id(a));
    ck_assert_int_eq(rw_control_signer_identify(a, keys), 0);
    ck_assert_str_eq(rw_control_signer_key_id(a), "k-a");
    const char *v = "{\"ruleset\": \"x\"}";
    ck_assert_int_eq(rw_control_signer_sign(a, "load", v, strlen(v), sig, sizeof(sig)), 0);
    ck_assert_int_eq(
        rw_control_keys_verify(keys, "k-a", sig, "load", v, strlen(v), why, sizeof(why)), 0);
    /* The action, the value and the key id are all signed. */
    ck_assert_int_eq(
        rw_control_keys_verify(keys, "k-a", sig, "shadow", v, strlen(v), why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "bad signature"));
    ck_assert_int_eq(
        rw_control_keys_verify(keys, "k-a", sig, "load", v, strlen(v) - 1, why, sizeof(why)), -1);
    ck_assert_int_eq(
        rw_control_keys_verify(keys, "k-b", sig, "load", v, strlen(v), why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "not in rulesets.keys_file"));
    ck_assert_int_eq(
        rw_control_keys_verify(keys, NULL, NULL, "load", v, strlen(v), why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "unsigned"));
    ck_assert_int_eq(
        rw_control_keys_verify(keys, "k-a", "AAAA", "load", v, strlen(v), why, sizeof(why)), -1);
    ck_assert_int_eq(
        rw_control_keys_verify(NULL, "k-a", sig, "load", v, strlen(v), why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "no rulesets.keys_file"));

    /* Another key claiming k-a's id does not pass. */
    rw_signer_t *b = rw_control_signer_load(b_path, "k-a", &err);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(rw_control_signer_identify(b, keys), -1);
    ck_assert_int_eq(rw_control_signer_sign(b, "load", v, strlen(v), sig, sizeof(sig)), 0);
    ck_assert_int_eq(
        rw_control_keys_verify(keys, "k-a", sig, "load", v, strlen(v), why, sizeof(why)), -1);

    /* Rotation: both keys in the file, each verifies under its own id. */
    rw_control_keys_destroy(keys);
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"id\": \"k-a\", \"public_key\": \"%s\"},\n"
             "           {\"id\": \"k-b\", \"public_key\": \"%s\"}]}",
             pa, pb);
    keys = keys_of(json, &err);
    ck_assert_ptr_nonnull(keys);
    rw_control_signer_destroy(b);
    b = rw_control_signer_load(b_path, "k-b", &err);
    ck_assert_int_eq(rw_control_signer_sign(b, "promote", v, strlen(v), sig, sizeof(sig)), 0);
    ck_assert_int_eq(
        rw_control_keys_verify(keys, "k-b", sig, "promote", v, strlen(v), why, sizeof(why)), 0);
    rw_control_signer_destroy(a);
    rw_control_signer_destroy(b);
    rw_control_keys_destroy(keys);
}
END_TEST

START_TEST(test_control_keys_file_errors_are_placed) {
    char pa[128], json[600];
    h_keypair(pa);
    static const struct {
        const char *json, *want;
        int line;
    } cases[] = {
        {"{\"keys\": []}", "at least one key", 1},
        {"{\"keys\": [{\"id\": \"a b\", \"public_key\": \"%s\"}]}", "keys[0].id", 1},
        {"{\"keys\": [\n {\"id\": \"a\", \"public_key\": \"bm90IGEga2V5\"}]}", "keys[0].public_key",
         2},
        {"{\"keys\": [{\"id\": \"a\", \"public_key\": \"%s\"},\n {\"id\": \"a\", \"public_key\": "
         "\"%s\"}]}",
         "given twice", 2},
        {"{\"keys\": [{\"id\": \"a\", \"public_key\": \"%s\", \"secret\": 1}]}", "unknown key", 1},
        {"{\"keys\": [{\"id\": \"a\"", "", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        snprintf(json, sizeof(json), cases[i].json, pa, pa);
        rw_error_t err;
        rw_keys_t *k = keys_of(json, &err);
        ck_assert_msg(k == NULL, "case %zu loaded", i);
        ck_assert_msg(strstr(err.text, cases[i].want), "case %zu: %s", i, err.text);
        ck_assert_msg(err.line == cases[i].line, "case %zu: line %d", i, err.line);
    }
    rw_error_t err;
    /* The whole PEM text is a public key too. */
    snprintf(json, sizeof(json),
             "{\"keys\": [{\"id\": \"pem\", \"public_key\": \"-----BEGIN PUBLIC KEY-----\\n%s\\n"
             "-----END PUBLIC KEY-----\\n\"}]}",
             pa);
    rw_keys_t *k = keys_of(json, &err);
    ck_assert_msg(k != NULL, "%s", err.text);
    rw_control_keys_destroy(k);
    rw_error_clear(&err);
    ck_assert_ptr_null(rw_control_signer_load(h_tmpfile(".pem", "not a key\n"), "a", &err));
    ck_assert_ptr_nonnull(strstr(err.text, "not an Ed25519 private key"));
}
END_TEST

START_TEST(test_control_version_order) {
    static const char *const rising[] = {
        "1",          "1.0",          "1.1",          "1.2",          "1.10",          "2",
        "2026-11-27", "2026-11-27.1", "2026-11-27.2", "2026-11-27.9", "2026-11-27.10", "2026-11-28",
        "v2",         "v9",           "v10"};
    size_t n = sizeof(rising) / sizeof(*rising);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = rw_control_version_cmp(rising[i], rising[j]);
            int want = i < j ? -1 : i > j ? 1 : 0;
            ck_assert_msg(c == want, "%s vs %s: %d", rising[i], rising[j], c);
        }
    ck_assert_int_eq(rw_control_version_cmp("v010", "v10"), 0);
    ck_assert_int_eq(rw_control_version_cmp("", "0"), -1);
}
END_TEST

START_TEST(test_control_limits_refuse_with_reasons) {
    rw_buf_t b;
    rw_buf_init(&b);
    rw_buf_puts(&b, "{\"ruleset\": \"big\", \"version\": \"1\", \"rules\": [");
    for (int i = 0; i < 30; i++)
        rw_buf_printf(&b,
                      "%s{\"id\": \"r%d\", \"module\": \"window_count\", \"key\": \"account\", "
                      "\"params\": {\"window\": \"%s\"}, \"thresholds\": {\"low\": 2}}",
                      i ? "," : "", i, i == 7 ? "40d" : "1h");
    rw_buf_puts(&b, "]}");
    rw_ruleset_limits_t l = {20, 1 << 20, 30LL * 86400000};
    rw_errors_t errs;
    rw_errors_init(&errs);
    ck_assert_ptr_null(rw_control_ruleset_load(b.data, b.len, "big.json", &l, &errs));
    ck_assert_uint_eq(errs.n, 2);
    ck_assert_ptr_nonnull(strstr(errs.items[0].text, "30 rules, over the limit of 20"));
    ck_assert_ptr_nonnull(strstr(errs.items[1].text, "rule r7: its window"));
    rw_errors_fini(&errs);
    /* Too many bytes: refused before parsing. */
    l.max_bytes = 100;
    rw_errors_init(&errs);
    ck_assert_ptr_null(rw_control_ruleset_load(b.data, b.len, "big.json", &l, &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_ptr_nonnull(strstr(errs.items[0].text, "over the limit of 100"));
    rw_errors_fini(&errs);
    l = (rw_ruleset_limits_t){30, 1 << 20, 40LL * 86400000};
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_control_ruleset_load(b.data, b.len, "big.json", &l, &errs);
    ck_assert_ptr_nonnull(rs);
    rw_ruleset_destroy(rs);
    rw_errors_fini(&errs);
    rw_buf_fini(&b);
}
END_TEST

START_TEST(test_control_group_disagreement_outlasts_grace) {
    rw_group_t *g = rw_group_new("me");
    char why[300] = "";
    rw_group_note(g, "me", "other", "9", 0); /* its own heartbeat: ignored */
    ck_assert_uint_eq(rw_group_disagreeing(g, "aaa", 0, 3000, 1000, why, sizeof(why)), 0);
    rw_group_note(g, "b", "aaa", "1", 0);
    rw_group_note(g, "c", "bbb", "2", 0);
    /* c differs, but not yet for longer than the grace. */
    ck_assert_uint_eq(rw_group_disagreeing(g, "aaa", 100, 3000, 1000, why, sizeof(why)), 0);
    ck_assert_uint_eq(rw_group_disagreeing(g, "aaa", 1200, 3000, 1000, why, sizeof(why)), 1);
    ck_assert_ptr_nonnull(strstr(why, "engine c runs ruleset version 2"));
    /* c takes the same ruleset: agreement. */
    rw_group_note(g, "c", "aaa", "1", 1300);
    ck_assert_uint_eq(rw_group_disagreeing(g, "aaa", 2500, 3000, 1000, why, sizeof(why)), 0);
    /* This engine moves on; b and c follow within the grace. */
    ck_assert_uint_eq(rw_group_disagreeing(g, "ccc", 2600, 3000, 1000, why, sizeof(why)), 0);
    rw_group_note(g, "b", "ccc", "3", 2700);
    rw_group_note(g, "c", "ccc", "3", 2800);
    ck_assert_uint_eq(rw_group_disagreeing(g, "ccc", 4000, 3000, 1000, why, sizeof(why)), 0);
    /* b goes quiet with another ruleset: stale, not counted; c stops. */
    rw_group_note(g, "b", "ddd", "4", 4100);
    ck_assert_uint_eq(rw_group_disagreeing(g, "ccc", 5200, 3000, 1000, why, sizeof(why)), 0);
    ck_assert_uint_eq(rw_group_disagreeing(g, "ccc", 6300, 3000, 1000, why, sizeof(why)), 1);
    ck_assert_uint_eq(rw_group_disagreeing(g, "ccc", 7200, 3000, 1000, why, sizeof(why)), 0);
    rw_group_note(g, "c", NULL, NULL, 7300);
    rw_group_note(g, "b", "ddd", "4", 7400);
    ck_assert_uint_eq(rw_group_disagreeing(g, "ccc", 8500, 3000, 1000, why, sizeof(why)), 0);
    ck_assert_uint_eq(rw_group_disagreeing(g, "ccc", 9600, 3000, 1000, why, sizeof(why)), 1);
    rw_group_destroy(g);
}
END_TEST

/* The "rulesets" keys of an engine config, and `riskwarn check` of them. */
START_TEST(test_control_config_keys_and_check) {
    char pub[128], text[1024], out[4096];
    char key[256];
    snprintf(key, sizeof(key), "%s", h_keypair(pub));
    char keys_json[300];
    snprintf(keys_json, sizeof(keys_json), "{\"keys\": [{\"id\": \"k1\", \"public_key\": \"%s\"}]}",
             pub);
    char keys[256];
    snprintf(keys, sizeof(keys), "%s", h_tmpfile(".json", keys_json));
    snprintf(text, sizeof(text),
             "{\"rules\": \"tests/packs/windows.json\",\n \"rulesets\": {\"keys_file\": \"%s\", "
             "\"signing_key_file\": \"%s\",\n  \"max_rules\": 5, \"max_window_days\": 7, "
             "\"heartbeat_ms\": 1000}}",
             keys, key);
    const char *cfg = h_tmpfile(".json", text);
    rw_config_t c;
    rw_config_init(&c);
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_int_eq(rw_config_load(&c, cfg, &err), 0);
    ck_assert_str_eq(c.rules_keys_file, keys);
    ck_assert_uint_eq(c.rules_max_rules, 5);
    ck_assert_uint_eq(c.rules_max_bytes, 1048576);
    ck_assert_int_eq(c.rules_heartbeat_ms, 1000);
    rw_signer_t *s = rw_control_signer_from_config(&c, &err);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(rw_control_signer_key_id(s), "k1"); /* found in the keys file */
    rw_control_signer_destroy(s);
    rw_config_fini(&c);
    /* check: the ruleset (8 rules) is over max_rules 5; the keys are named. */
    const char *check[] = {"check", "-c", cfg, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), check), 2);
    ck_assert_ptr_nonnull(strstr(out, "1 keys for signed control messages"));
    ck_assert_ptr_nonnull(strstr(out, "signed with key k1"));
    ck_assert_ptr_nonnull(strstr(out, "8 rules, over the limit of 5"));

    static const struct {
        const char *body, *want;
    } bad[] = {
        {"{\"rulesets\": {\"max_rules\": 0}}",
         "rulesets.max_rules: 0 is out of bounds: from 1 to 100000"},
        {"{\"rulesets\": {\"heartbeat_ms\": 10}}", "rulesets.heartbeat_ms: 10 is out of bounds"},
        {"{\"rulesets\": {\"keys\": \"x\"}}", "unknown key \"rulesets.keys\""},
        {"{\"rulesets\": []}", "rulesets: must be an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        rw_config_init(&c);
        rw_error_clear(&err);
        ck_assert_int_eq(rw_config_load(&c, h_tmpfile(".json", bad[i].body), &err), RW_ERR_INPUT);
        ck_assert_msg(strstr(err.text, bad[i].want), "case %zu: %s", i, err.text);
        ck_assert_int_eq(err.line, 1);
        rw_config_fini(&c);
    }
}
END_TEST

static Suite *control_suite(void) {
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("control");
    tcase_add_test(tc, test_control_signatures_verify_and_refuse);
    tcase_add_test(tc, test_control_keys_file_errors_are_placed);
    tcase_add_test(tc, test_control_version_order);
    tcase_add_test(tc, test_control_limits_refuse_with_reasons);
    tcase_add_test(tc, test_control_group_disagreement_outlasts_grace);
    tcase_add_test(tc, test_control_config_keys_and_check);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(control_suite); }
