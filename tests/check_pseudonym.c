/* Unit tests for engine/pseudonym.c and the places that use it: a pseudonym is HMAC-SHA256
 * under the configured key (RFC 4231's vector); the per-thread cache never serves a value
 * of another key or a stale one; masked fields' texts are pseudonyms for records and keys,
 * plain for inline lists; new_value and window_distinct still tell values apart; alerts
 * carry the entity_ref and use it as their Kafka key, with no raw value anywhere. */
#include "alert.h"
#include "harness.h"
#include "pseudonym.h"

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

START_TEST(test_pseudonym_is_hmac_sha256) {
    /* RFC 4231, test case 2: key "Jefe"; the first 128 bits of the HMAC. */
    rw_pseudonym_set_key("Jefe", 4);
    char ref[RW_PSEUDONYM_LEN + 1];
    const char *data = "what do ya want for nothing?";
    rw_pseudonym(data, strlen(data), ref);
    ck_assert_str_eq(ref, "5bdcc146bf60754e6a042426089575c7");
    ck_assert(!rw_pseudonym_key_is_builtin());
    /* Cached now; the answer is the same, and another key gives another answer. */
    rw_pseudonym(data, strlen(data), ref);
    ck_assert_str_eq(ref, "5bdcc146bf60754e6a042426089575c7");
    rw_pseudonym_set_key("another key of 16+ bytes", 24);
    rw_pseudonym(data, strlen(data), ref);
    ck_assert_str_ne(ref, "5bdcc146bf60754e6a042426089575c7");
    /* RFC 4231, test case 6: a key longer than a block is hashed first. */
    unsigned char big[131];
    memset(big, 0xaa, sizeof(big));
    rw_pseudonym_set_key(big, sizeof(big));
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    rw_pseudonym(d6, strlen(d6), ref);
    ck_assert_str_eq(ref, "60e431591ee0b67f0d8a26aacbf5b77f");
    rw_pseudonym_set_key(NULL, 0);
    ck_assert(rw_pseudonym_key_is_builtin());
}
END_TEST

/* The pseudonym of value under key, computed here with libcrypto's one-shot HMAC. */
static void hmac_ref(const char *key, const char *value, size_t len,
                     char out[RW_PSEUDONYM_LEN + 1]) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)value, len, mac, &n));
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < RW_PSEUDONYM_LEN / 2; i++) {
        out[2 * i] = hx[mac[i] >> 4];
        out[2 * i + 1] = hx[mac[i] & 15];
    }
    out[RW_PSEUDONYM_LEN] = 0;
}

START_TEST(test_pseudonym_cache_never_mixes_values) {
    static const char key[] = "a key for the cache test";
    rw_pseudonym_set_key(key, strlen(key));
    char a[RW_PSEUDONYM_LEN + 1], b[RW_PSEUDONYM_LEN + 1], want[RW_PSEUDONYM_LEN + 1];
    /* 60,000 values, more than the cache's slots, each asked for twice then again after the
     * rest went through: every answer is the HMAC of its value, whether computed, found in
     * its set's first slot, or in its second. */
    char v[80];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 60000; i++) {
            int n = snprintf(v, sizeof(v), "6222%015d", i * 7919);
            rw_pseudonym(v, (size_t)n, a);
            rw_pseudonym(v, (size_t)n, b);
            if (i % 7 == 0 || round) {
                hmac_ref(key, v, (size_t)n, want);
                if (strcmp(a, want) != 0 || strcmp(b, want) != 0)
                    ck_abort_msg("%s: %s then %s, want %s", v, a, b, want);
            }
        }
    rw_pseudonym("x", 1, a);
    rw_pseudonym("y", 1, b);
    ck_assert_str_ne(a, b);
    /* Values of every length up to twice what a slot keeps: those that fit are cached, the
     * others computed each time; both answers are the HMAC. */
    memset(v, 'z', sizeof(v));
    for (size_t len = 1; len < sizeof(v); len++) {
        hmac_ref(key, v, len, want);
        rw_pseudonym(v, len, a);
        rw_pseudonym(v, len, b);
        ck_assert_str_eq(a, want);
        ck_assert_str_eq(b, want);
    }
    rw_pseudonym_set_key(NULL, 0);
}
END_TEST

static const char *rules_text =
    "{\"ruleset\": \"p\", \"version\": \"1\", \"rules\": [\n"
    " {\"id\": \"new-cp\", \"module\": \"new_value\", \"match\": {\"type\": \"transaction\"},\n"
    "  \"key\": \"account\", \"params\": {\"field\": \"counterparty\", \"lookback\": \"1d\"},\n"
    "  \"thresholds\": {\"low\": 1}},\n"
    " {\"id\": \"cps\", \"module\": \"window_distinct\", \"match\": {\"type\": \"transaction\"},\n"
    "  \"key\": \"account\", \"params\": {\"field\": \"counterparty\", \"window\": \"1d\"},\n"
    "  \"thresholds\": {\"medium\": 2}},\n"
    " {\"id\": \"listed\", \"module\": \"watchlist\", \"match\": {\"type\": \"transaction\"},\n"
    "  \"key\": \"account\", \"params\": {\"field\": \"counterparty\", \"list\": "
    "[\"6222020200555555555\"]},\n"
    "  \"thresholds\": {\"high\": 1}}]}";

#define TX(id, ts, cp)                                                                             \
    "{\"event_id\": \"" id "\", \"type\": \"transaction\", \"ts\": \"" ts                          \
    "\", \"account\": \"6222020200112233445\", \"amount\": 5, \"counterparty\": \"" cp "\"}"

START_TEST(test_pseudonym_fields_windows_and_alerts) {
    rw_pseudonym_set_key("a test key, 16 bytes or more", 28);
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load(rules_text, strlen(rules_text), "t", &errs);
    ck_assert_msg(rs != NULL, "%s", errs.n ? errs.items[0].text : "");
    const rw_rule_t *r = &rs->rules[0];
    ck_assert(r->key->pseudonym);
    json_t *ev = json_loads(TX("e1", "2026-11-27T00:00:00Z", "6222020200998877665"), 0, NULL);
    char text[128], ref[RW_PSEUDONYM_LEN + 1];
    ck_assert_int_eq(rw_field_text(ev, r->key, text, sizeof(text)), RW_PSEUDONYM_LEN);
    rw_pseudonym("6222020200112233445", 19, ref);
    ck_assert_str_eq(text, ref);
    ck_assert_int_eq(rw_field_plain_text(ev, r->key, text, sizeof(text)), 19);
    ck_assert_str_eq(text, "6222020200112233445");
    json_decref(ev);

    /* Three events: a new counterparty, the same again, another one (listed inline). */
    static const char *const evs[] = {TX("e1", "2026-11-27T00:00:00Z", "6222020200998877665"),
                                      TX("e2", "2026-11-27T00:01:00Z", "6222020200998877665"),
                                      TX("e3", "2026-11-27T00:02:00Z", "6222020200555555555")};
    rw_batch_t *b = rw_batch_new(1 << 20, RW_STATE_MEMORY);
    rw_store_t *st = rw_memstore_new();
    rw_batch_reset(b, rs);
    for (int i = 0; i < 3; i++) {
        rw_msg_t m = {"events", 0, i, evs[i], strlen(evs[i]), 0, 0, NULL, 0};
        rw_batch_add(b, &m);
    }
    rw_batch_plan(b);
    ck_assert_int_eq(st->load(st, b, NULL), 0);
    rw_batch_evaluate(b);
    ck_assert_int_eq(b->items[0].level, RW_LEVEL_LOW);  /* a new counterparty */
    ck_assert_int_eq(b->items[1].level, RW_LEVEL_NONE); /* seen: its pseudonym is in the window */
    ck_assert_int_eq(b->items[2].level, RW_LEVEL_HIGH); /* new, 2 distinct, on the inline list */
    ck_assert_uint_eq(b->items[2].n_hits, 3);
    /* The window holds pseudonyms, never the numbers. */
    for (size_t w = 0; w < b->n_touched; w++) {
        const rw_wstate_t *ws = b->touched[w];
        ck_assert_ptr_null(strstr(ws->id, "6222020200112233445"));
        ck_assert_msg(strstr(ws->id, ref) != NULL, "%s", ws->id);
        for (size_t k = 0; k < ws->n; k++)
            ck_assert_msg(strlen(ws->ents[k].value) == 0 ||
                              strlen(ws->ents[k].value) == RW_PSEUDONYM_LEN,
                          "member %s", ws->ents[k].value);
    }
    /* The alert: masked key for people, entity_ref, and the Kafka key uses the ref. */
    char *a = rw_alert_build(b, &b->items[0], 0);
    ck_assert_ptr_nonnull(strstr(a, "\"key\":\"622202*********3445\""));
    char want[80];
    snprintf(want, sizeof(want), "\"entity_ref\":\"%s\"", ref);
    ck_assert_msg(strstr(a, want) != NULL, "%s", a);
    ck_assert_ptr_null(strstr(a, "6222020200112233445"));
    ck_assert_ptr_null(strstr(a, "6222020200998877665"));
    free(a);
    char *k = rw_alert_key(b, &b->items[0]);
    snprintf(want, sizeof(want), "account:%s", ref);
    ck_assert_str_eq(k, want);
    free(k);
    rw_batch_destroy(b);
    st->destroy(st);
    rw_ruleset_destroy(rs);
    rw_errors_fini(&errs);
    rw_pseudonym_set_key(NULL, 0);
}
END_TEST

/* The command prints what the engine keeps, with the config's key. */
START_TEST(test_pseudonym_command) {
    const char *key = h_tmpfile(".key", "0123456789abcdef0123456789abcdef\n");
    char cfg_text[512];
    snprintf(cfg_text, sizeof(cfg_text), "{\"pseudonym\": {\"key_file\": \"%s\"}}", key);
    const char *cfg = h_tmpfile(".json", cfg_text);
    char out[512];
    const char *args[] = {"pseudonym", "-c", cfg, "6222020200998877665", NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), args), 0);
    rw_pseudonym_set_key("0123456789abcdef0123456789abcdef", 32);
    char ref[RW_PSEUDONYM_LEN + 1];
    rw_pseudonym("6222020200998877665", 19, ref);
    ck_assert_msg(strstr(out, ref) != NULL, "%s", out);
    rw_pseudonym_set_key(NULL, 0);
    const char *shorty = h_tmpfile(".json", "{\"pseudonym\": {\"key\": \"short\"}}");
    const char *bad[] = {"pseudonym", "-c", shorty, "x", NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), bad), 2);
    ck_assert_msg(strstr(out, "at least 16 bytes") != NULL, "%s", out);
}
END_TEST

static Suite *pseudonym_suite(void) {
    Suite *s = suite_create("pseudonym");
    TCase *tc = tcase_create("pseudonym");
    tcase_add_test(tc, test_pseudonym_is_hmac_sha256);
    tcase_add_test(tc, test_pseudonym_cache_never_mixes_values);
    tcase_add_test(tc, test_pseudonym_fields_windows_and_alerts);
    tcase_add_test(tc, test_pseudonym_command);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(pseudonym_suite); }
