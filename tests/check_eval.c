/* Unit tests for engine/eval.c: batches driven the way engine/replay.c drives them (memory
 * store, windows kept across batches), dead letters, alerts, counters and fences; and the
 * table-driven golden cases of tests/cases/<module>/NN-<what>.json.
 *
 * A golden case is one JSON object:
 *   "description"      what the case shows;
 *   "rules"            the ruleset (docs/reference.md §5), loaded as it is;
 *   "events"           the input messages in partition order: an object is sent as its compact
 *                      JSON text, a string is sent as raw bytes (for dead letters);
 *   "expect"           one entry per message, same order:
 *                        {"deadletter": "part of the reason"}, or
 *                        {"event_id": ..., "level": "none|low|medium|high",
 *                         "rules": {"RULE_ID": ["LEVEL", MEASURE], ...}   every rule that reached
 *                                                                         a level, and no other,
 *                         "key": "masked alert key" | null                optional};
 *   "counters"         optional: every counter the batches produce, exactly
 *                      ({"events:2026-11-27": {"transaction": 3}, ...}, keys without prefix);
 *   "max_event_bytes"  optional (1048576);
 *   "arrival"          optional RFC 3339 arrival time of every message (2026-11-27T00:00:00Z);
 *   "batch_size"       optional: also run in batches of this size;
 *   "store"            optional: "memory" runs the case on the memory store alone (its result
 *                      is what replay without Redis gives);
 *   "case_alerts"      the alerts of cases (deadline rules) that crossed a threshold, in the
 *                      order raised, across all batches; absent means none:
 *                        [{"rule": RULE_ID, "event_id": "the case's opening event",
 *                          "level": "low|medium|high", "after": "the event whose time crossed it",
 *                          "measure": N          optional, the elapsed time in the rule's unit,
 *                          "as_of": "RFC 3339"   optional, the event time it was raised at,
 *                          "key": "masked key"   optional}, ...]
 *                      Alerts raised at the same event may come in any order, but those of one
 *                      case come in level order. Each is also checked in its alert JSON
 *                      (rw_alert_case_build): level, rule, the opening event (event_id and its
 *                      ts as written in "events", top level and rules[0].opened), measure, and
 *                      an alert_id that differs from the opening event's own alert and from
 *                      every other case alert of the run.
 * Each case runs in one batch, one message a batch, and batches of 3 (plus batch_size): the
 * results must not depend on batching. Each runs three times over: with state in memory (as
 * replay runs it), in a real redis-server with the state kept in memory in front of it (as
 * run does; each message keyed by its first rule's key, as a producer keyed by entity sends
 * it), and the same with all state dropped after every batch, so that every batch reads it
 * back: the results must not depend on where the state lives. Cases are read from "tests/cases"
 * relative to the working directory (tests run from the repository root). */
#include "alert.h"
#include "eval.h"
#include "expr.h"
#include "harness.h"
#include "jarena.h"
#include "pseudonym.h"
#include "sample.h"
#include "store.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRIVAL_DEFAULT 1795737600000LL /* 2026-11-27T00:00:00Z */
#define MAX_BYTES 1048576

/* ---- helpers ------------------------------------------------------------------------------ */

static rw_ruleset_t *rules_load(const char *text, const char *source) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load(text, strlen(text), source, &errs);
    if (!rs) {
        char all[4096] = "", line[1024];
        for (size_t i = 0; i < errs.n; i++) {
            rw_error_format(&errs.items[i], line, sizeof(line));
            strncat(all, line, sizeof(all) - strlen(all) - 2);
            strncat(all, "\n", sizeof(all) - strlen(all) - 1);
        }
        ck_abort_msg("ruleset %s refused:\n%s", source, all);
    }
    rw_errors_fini(&errs);
    return rs;
}

static int64_t ts_ms(const char *s) {
    int64_t ms;
    ck_assert_msg(rw_time_parse(s, strlen(s), &ms) == 0, "test bug: bad time %s", s);
    return ms;
}

/* A batch with the memory store, as `replay` runs it. Payloads are copied and kept until
 * the next batch. */
typedef struct fx {
    rw_ruleset_t *rs;
    rw_batch_t *b;
    rw_store_t *st;
    char **payloads;
    size_t n_payloads;
} fx_t;

static void fx_payloads_free(fx_t *f) {
    for (size_t i = 0; i < f->n_payloads; i++)
        free(f->payloads[i]);
    free(f->payloads);
    f->payloads = NULL;
    f->n_payloads = 0;
}

static void fx_init(fx_t *f, const char *rules, size_t max_bytes) {
    memset(f, 0, sizeof(*f));
    f->rs = rules_load(rules, "rules");
    f->b = rw_batch_new(max_bytes, true);
    f->st = rw_memstore_new();
    rw_batch_reset(f->b, f->rs);
}

static void fx_add_raw(fx_t *f, int32_t partition, int64_t offset, const char *payload, size_t len,
                       int64_t arrival) {
    char *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, payload, len);
    f->payloads = realloc(f->payloads, (f->n_payloads + 1) * sizeof(char *));
    ck_assert_ptr_nonnull(f->payloads);
    f->payloads[f->n_payloads++] = p;
    rw_msg_t m = {"events", partition, offset, p, len, arrival, 0, NULL, 0};
    rw_batch_add(f->b, &m);
}

static void fx_add(fx_t *f, int32_t partition, int64_t offset, const char *payload) {
    fx_add_raw(f, partition, offset, payload, strlen(payload), ARRIVAL_DEFAULT);
}

static void fx_plan(fx_t *f) {
    rw_batch_plan(f->b);
    ck_assert_int_eq(f->st->load(f->st, f->b, NULL), 0);
}

static void fx_evaluate(fx_t *f) {
    rw_batch_evaluate(f->b);
    ck_assert_int_eq(f->st->apply(f->st, f->b, NULL), 0);
}

static void fx_run(fx_t *f) {
    fx_plan(f);
    fx_evaluate(f);
}

static void fx_next(fx_t *f) {
    rw_batch_reset(f->b, f->rs);
    fx_payloads_free(f);
}

static void fx_fini(fx_t *f) {
    rw_batch_destroy(f->b);
    fx_payloads_free(f);
    f->st->destroy(f->st);
    rw_ruleset_destroy(f->rs);
}

/* The counter increment of this batch for key/field; 0 when there is none. */
static int64_t incr_get(const rw_batch_t *b, const char *key, const char *field) {
    for (const rw_incr_t *c = b->incrs; c; c = c->next)
        if (strcmp(c->key, key) == 0 && strcmp(c->field, field) == 0)
            return c->by;
    return 0;
}

static size_t incr_count(const rw_batch_t *b) {
    size_t n = 0;
    for (const rw_incr_t *c = b->incrs; c; c = c->next)
        n++;
    return n;
}

/* The hit of rule id on an item, or NULL. */
static const rw_hit_t *hit_of(const rw_batch_t *b, const rw_item_t *it, const char *id) {
    for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++)
        if (strcmp(b->rs->rules[b->hits[h].rule].id, id) == 0)
            return &b->hits[h];
    return NULL;
}

static json_t *jparse(const char *s) {
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    ck_assert_msg(j != NULL, "not JSON (%s): %s", je.text, s);
    return j;
}

static bool near(double a, double b) {
    return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* ---- golden cases ------------------------------------------------------------------------- */

static char **g_cases;
static size_t g_n_cases;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void cases_collect(void) {
    DIR *d = opendir("tests/cases");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[600];
        snprintf(sub, sizeof(sub), "tests/cases/%s", e->d_name);
        DIR *d2 = opendir(sub);
        if (!d2)
            continue;
        struct dirent *f;
        while ((f = readdir(d2))) {
            if (f->d_name[0] == '.' || !ends_with(f->d_name, ".json"))
                continue;
            size_t n = strlen(sub) + strlen(f->d_name) + 2;
            char *p = malloc(n);
            if (!p)
                abort();
            snprintf(p, n, "%s/%s", sub, f->d_name);
            char **cases = realloc(g_cases, (g_n_cases + 1) * sizeof(char *));
            if (!cases)
                abort();
            g_cases = cases;
            g_cases[g_n_cases++] = p;
        }
        closedir(d2);
    }
    closedir(d);
    if (g_n_cases)
        qsort(g_cases, g_n_cases, sizeof(char *), cmp_str);
}

static void cases_free(void) {
    for (size_t i = 0; i < g_n_cases; i++)
        free(g_cases[i]);
    free(g_cases);
    g_cases = NULL;
    g_n_cases = 0;
}

/* Checks one evaluated item against its "expect" entry. */
static void golden_check_item(const char *where, const rw_batch_t *b, const rw_item_t *it,
                              size_t idx, const json_t *exp) {
    const json_t *dl = json_object_get(exp, "deadletter");
    if (dl) {
        ck_assert_msg(it->event == NULL && it->error[0] != 0,
                      "%s: message %zu: want a dead letter (%s), got event %s", where, idx,
                      json_string_value(dl), it->event_id ? it->event_id : "?");
        ck_assert_msg(strstr(it->error, json_string_value(dl)) != NULL,
                      "%s: message %zu: dead-letter reason \"%s\" lacks \"%s\"", where, idx,
                      it->error, json_string_value(dl));
        ck_assert_int_eq(it->level, RW_LEVEL_NONE);
        ck_assert_uint_eq(it->n_hits, 0);
        return;
    }
    ck_assert_msg(it->error[0] == 0 && it->event != NULL, "%s: message %zu dead-lettered: %s",
                  where, idx, it->error);
    const char *want_id = json_string_value(json_object_get(exp, "event_id"));
    ck_assert_msg(want_id && strcmp(it->event_id, want_id) == 0,
                  "%s: message %zu: event_id %s, want %s", where, idx, it->event_id,
                  want_id ? want_id : "(missing in case)");
    const char *want_level = json_string_value(json_object_get(exp, "level"));
    ck_assert_msg(want_level != NULL, "%s: %s: case lacks \"level\"", where, want_id);
    int wl = strcmp(want_level, "none") == 0 ? RW_LEVEL_NONE : rw_level_parse(want_level);
    ck_assert_msg(wl >= 0, "%s: %s: bad level in case: %s", where, want_id, want_level);
    ck_assert_msg(it->level == wl, "%s: %s: level %s, want %s", where, want_id,
                  rw_level_name(it->level), want_level);

    const json_t *rules = json_object_get(exp, "rules");
    size_t want_hits = rules ? json_object_size(rules) : 0;
    char got[1024] = "";
    for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++) {
        char one[160];
        snprintf(one, sizeof(one), " %s=%s/%.17g", b->rs->rules[b->hits[h].rule].id,
                 rw_level_name(b->hits[h].level), b->hits[h].measure);
        strncat(got, one, sizeof(got) - strlen(got) - 1);
    }
    ck_assert_msg(it->n_hits == want_hits, "%s: %s: %zu rules reached a level (%s), want %zu",
                  where, want_id, it->n_hits, got, want_hits);
    for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++) {
        const rw_hit_t *hit = &b->hits[h];
        const char *rid = b->rs->rules[hit->rule].id;
        const json_t *w = json_object_get(rules, rid);
        ck_assert_msg(w != NULL, "%s: %s: rule %s reached a level, not expected (%s)", where,
                      want_id, rid, got);
        ck_assert_msg(json_is_array(w) && json_array_size(w) == 2, "%s: case: rules.%s", where,
                      rid);
        const char *lv = json_string_value(json_array_get(w, 0));
        double m = json_number_value(json_array_get(w, 1));
        ck_assert_msg(lv && strcmp(lv, rw_level_name(hit->level)) == 0,
                      "%s: %s: rule %s level %s, want %s", where, want_id, rid,
                      rw_level_name(hit->level), lv ? lv : "?");
        ck_assert_msg(near(hit->measure, m), "%s: %s: rule %s measure %.17g, want %.17g", where,
                      want_id, rid, hit->measure, m);
    }

    if (it->level == RW_LEVEL_NONE)
        return;
    /* The alert says the same, and lists every rule that reached a level. */
    char *text = rw_alert_build(b, it, it->ts_ms);
    ck_assert_ptr_nonnull(text);
    json_t *a = jparse(text);
    /* Written byte for byte as jansson writes it. */
    char *again = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
    ck_assert_msg(again && strcmp(again, text) == 0, "%s: %s: alert text\n  %s\njansson\n  %s",
                  where, want_id, text, again);
    free(again);
    char id[33];
    rw_alert_id(b->rs, it->event_id, it->level, id);
    ck_assert_str_eq(json_string_value(json_object_get(a, "alert_id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(a, "level")), want_level);
    ck_assert_str_eq(json_string_value(json_object_get(a, "event_id")), want_id);
    const json_t *ar = json_object_get(a, "rules");
    ck_assert_msg(json_array_size(ar) == want_hits, "%s: %s: alert lists %zu rules, want %zu",
                  where, want_id, json_array_size(ar), want_hits);
    for (size_t i = 0; i < json_array_size(ar); i++) {
        const json_t *e = json_array_get(ar, i);
        const char *rid = json_string_value(json_object_get(e, "id"));
        const json_t *w = json_object_get(rules, rid ? rid : "");
        ck_assert_msg(w != NULL, "%s: %s: alert lists rule %s", where, want_id, rid);
        ck_assert_str_eq(json_string_value(json_object_get(e, "level")),
                         json_string_value(json_array_get(w, 0)));
        ck_assert_msg(near(json_number_value(json_object_get(e, "measure")),
                           json_number_value(json_array_get(w, 1))),
                      "%s: %s: alert measure of %s", where, want_id, rid);
    }
    const json_t *wk = json_object_get(exp, "key");
    if (wk) {
        const json_t *k = json_object_get(a, "key");
        if (json_is_null(wk))
            ck_assert_msg(json_is_null(k), "%s: %s: alert key %s, want null", where, want_id,
                          json_string_value(k));
        else
            ck_assert_msg(json_is_string(k) &&
                              strcmp(json_string_value(k), json_string_value(wk)) == 0,
                          "%s: %s: alert key %s, want %s", where, want_id,
                          json_is_string(k) ? json_string_value(k) : "null", json_string_value(wk));
    }
    json_decref(a);
    free(text);
}

/* The ts of the event with this event_id as the case file writes it, or NULL. */
static const char *case_event_ts(const json_t *events, const char *event_id) {
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *id = json_string_value(json_object_get(ev, "event_id"));
        if (id && strcmp(id, event_id) == 0)
            return json_string_value(json_object_get(ev, "ts"));
    }
    return NULL;
}

/* The text of case alert ca as json_dumps writes the object jansson builds of it (its id,
 * times, key and entity_ref taken from the alert a as written). */
static char *case_alert_dumped(const rw_batch_t *b, const rw_case_alert_t *ca, const json_t *a) {
    const rw_rule_t *r = &b->rs->rules[ca->kase->rule];
    const json_t *rec = ca->rec;
    double x = ca->measure;
    json_t *m = x == floor(x) && fabs(x) < 9e15 ? json_integer((json_int_t)x) : json_real(x);
    json_t *e =
        json_pack("{s:s, s:s, s:s, s:o, s:O, s:O}", "id", r->id, "module", r->module->name, "level",
                  rw_level_name(ca->level), "measure", m, "thresholds", r->thresholds, "as_of",
                  json_object_get(json_array_get(json_object_get(a, "rules"), 0), "as_of"));
    ck_assert_ptr_nonnull(e);
    json_object_set_new(e, "opened",
                        json_pack("{s:O, s:O}", "event_id", json_object_get(rec, "i"), "event_ts",
                                  json_object_get(rec, "s")));
    json_t *w =
        json_pack("{s:O, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:s, s:s, s:[o], s:O}", "alert_id",
                  json_object_get(a, "alert_id"), "level", rw_level_name(ca->level), "event_id",
                  json_object_get(rec, "i"), "event_type", json_object_get(rec, "t"), "event_ts",
                  json_object_get(rec, "s"), "emitted_at", json_object_get(a, "emitted_at"), "key",
                  json_object_get(a, "key"), "entity_ref", json_object_get(a, "entity_ref"),
                  "ruleset", b->rs->name, "ruleset_version", b->rs->version, "rules", e, "event",
                  json_object_get(rec, "e"));
    ck_assert_ptr_nonnull(w);
    char *text = json_dumps(w, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
    json_decref(w);
    return text;
}

/* Checks the alert JSON of a case alert and returns what it says, for golden_case_alerts:
 * {"rule", "event_id", "level", "after", "measure", "as_of", "key"}. seen collects alert ids. */
static json_t *case_alert_got(const char *where, const rw_batch_t *b, const rw_case_alert_t *ca,
                              const json_t *events, json_t *seen) {
    ck_assert_msg(ca->item < b->n_items, "%s: case alert of item %u, batch has %zu", where,
                  ca->item, b->n_items);
    const rw_rule_t *r = &b->rs->rules[ca->kase->rule];
    const char *open_id = json_string_value(json_object_get(ca->rec, "i"));
    ck_assert_msg(open_id != NULL, "%s: case %s has no opening event", where, ca->kase->id);
    const char *after = b->items[ca->item].event_id;
    const char *level = rw_level_name(ca->level);
    char *text = rw_alert_case_build(b, ca, b->items[ca->item].ts_ms);
    ck_assert_ptr_nonnull(text);
    json_t *a = jparse(text);
    /* Written without building it, in the bytes jansson would write. */
    char *dumped = case_alert_dumped(b, ca, a);
    ck_assert_msg(strcmp(text, dumped) == 0, "%s: case alert\n  got:  %s\n  want: %s", where, text,
                  dumped);
    free(dumped);

    const char *aid = json_string_value(json_object_get(a, "alert_id"));
    ck_assert_msg(aid && strlen(aid) == 32 && strspn(aid, "0123456789abcdef") == 32,
                  "%s: case alert id %s", where, aid ? aid : "(none)");
    char own[33];
    rw_alert_id(b->rs, open_id, ca->level, own);
    ck_assert_msg(strcmp(aid, own) != 0,
                  "%s: case alert of %s/%s has the alert_id of the event's own alert", where, r->id,
                  open_id);
    ck_assert_msg(json_object_get(seen, aid) == NULL,
                  "%s: case alert %s/%s/%s repeats alert_id %s (%s)", where, r->id, open_id, level,
                  aid, json_string_value(json_object_get(seen, aid)));
    char what[600];
    snprintf(what, sizeof(what), "%s/%s/%s", r->id, open_id, level);
    json_object_set_new(seen, aid, json_string(what));

    ck_assert_str_eq(json_string_value(json_object_get(a, "level")), level);
    ck_assert_str_eq(json_string_value(json_object_get(a, "event_id")), open_id);
    ck_assert_str_eq(json_string_value(json_object_get(a, "ruleset")), b->rs->name);
    ck_assert_str_eq(json_string_value(json_object_get(a, "ruleset_version")), b->rs->version);
    const char *want_ts = case_event_ts(events, open_id);
    ck_assert_msg(want_ts != NULL, "%s: case alert names %s, not an event of the case", where,
                  open_id);
    const char *ets = json_string_value(json_object_get(a, "event_ts"));
    ck_assert_msg(ets && strcmp(ets, want_ts) == 0, "%s: case alert %s: event_ts %s, want %s",
                  where, what, ets ? ets : "(none)", want_ts);
    const json_t *ev = json_object_get(a, "event");
    ck_assert_msg(json_is_object(ev), "%s: case alert %s: no event", where, what);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "event_id")), open_id);

    const json_t *rules = json_object_get(a, "rules");
    ck_assert_msg(json_array_size(rules) == 1, "%s: case alert %s lists %zu rules, want 1", where,
                  what, json_array_size(rules));
    const json_t *e = json_array_get(rules, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "id")), r->id);
    ck_assert_str_eq(json_string_value(json_object_get(e, "module")), r->module->name);
    ck_assert_str_eq(json_string_value(json_object_get(e, "level")), level);
    ck_assert_msg(near(json_number_value(json_object_get(e, "measure")), ca->measure),
                  "%s: case alert %s: measure %.17g in the alert, %.17g in the batch", where, what,
                  json_number_value(json_object_get(e, "measure")), ca->measure);
    ck_assert(json_equal(json_object_get(e, "thresholds"), r->thresholds));
    const json_t *opened = json_object_get(e, "opened");
    ck_assert_msg(json_is_object(opened), "%s: case alert %s: no rules[0].opened", where, what);
    ck_assert_str_eq(json_string_value(json_object_get(opened, "event_id")), open_id);
    ck_assert_str_eq(json_string_value(json_object_get(opened, "event_ts")), want_ts);
    const char *as_of = json_string_value(json_object_get(e, "as_of"));
    ck_assert_msg(as_of && ts_ms(as_of) == ca->at_ms, "%s: case alert %s: as_of %s", where, what,
                  as_of ? as_of : "(none)");

    json_t *got = json_pack("{s:s, s:s, s:s, s:s, s:f, s:s, s:O?}", "rule", r->id, "event_id",
                            open_id, "level", level, "after", after, "measure", ca->measure,
                            "as_of", as_of, "key", json_object_get(a, "key"));
    ck_assert_ptr_nonnull(got);
    json_decref(a);
    free(text);
    return got;
}

/* Whether a case alert got matches an expected entry w (every key w gives). */
static bool case_alert_match(const json_t *w, const json_t *got) {
    const char *k;
    const json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, w), k, v) {
        const json_t *g = json_object_get(got, k);
        if (!g)
            return false;
        if (strcmp(k, "measure") == 0) {
            if (!json_is_number(v) || !near(json_number_value(v), json_number_value(g)))
                return false;
        } else if (strcmp(k, "as_of") == 0) {
            if (!json_is_string(v) || ts_ms(json_string_value(v)) != ts_ms(json_string_value(g)))
                return false;
        } else if (!json_equal(v, g)) {
            return false;
        }
    }
    return true;
}

static bool same_case(const json_t *x, const json_t *y) {
    return json_equal(json_object_get(x, "rule"), json_object_get(y, "rule")) &&
           json_equal(json_object_get(x, "event_id"), json_object_get(y, "event_id"));
}

/* Checks the case alerts of a run against the case's "case_alerts" (absent: none). */
static void golden_case_alerts(const char *where, const json_t *want, const json_t *got) {
    static const char *const need[] = {"rule", "event_id", "level", "after", NULL};
    static const char *const known[] = {"rule",    "event_id", "level", "after",
                                        "measure", "as_of",    "key",   NULL};
    size_t nw = json_array_size(want), ng = json_array_size(got);
    for (size_t j = 0; j < nw; j++) {
        const json_t *w = json_array_get(want, j);
        for (size_t k = 0; need[k]; k++)
            ck_assert_msg(json_is_string(json_object_get(w, need[k])),
                          "%s: case: case_alerts[%zu] lacks \"%s\"", where, j, need[k]);
        const char *key;
        const json_t *v;
        json_object_foreach(RW_UNCONST(json_t *, w), key, v) {
            size_t k = 0;
            while (known[k] && strcmp(known[k], key) != 0)
                k++;
            ck_assert_msg(known[k] != NULL, "%s: case: case_alerts[%zu]: unknown key \"%s\"", where,
                          j, key);
        }
    }
    char *gs = json_dumps(got, JSON_COMPACT | JSON_REAL_PRECISION(12));
    char *ws = json_dumps(want, JSON_COMPACT);
    bool *used = calloc(nw ? nw : 1, sizeof(bool));
    ck_assert_ptr_nonnull(used);
    size_t next = 0;
    for (size_t i = 0; i < ng; i++) {
        const json_t *g = json_array_get(got, i);
        while (next < nw && used[next])
            next++;
        ck_assert_msg(next < nw, "%s: unexpected case alert #%zu\n  got:  %s\n  want: %s", where, i,
                      gs, ws);
        /* Among the entries raised at the same event, the first unused one that matches; an
         * earlier entry of the same case must come first. */
        const json_t *grp = json_object_get(json_array_get(want, next), "after");
        size_t found = nw;
        for (size_t j = next; j < nw; j++) {
            const json_t *w = json_array_get(want, j);
            if (!json_equal(json_object_get(w, "after"), grp))
                break;
            if (used[j])
                continue;
            if (case_alert_match(w, g)) {
                found = j;
                break;
            }
            if (same_case(w, g))
                break;
        }
        ck_assert_msg(found < nw, "%s: case alert #%zu not as expected\n  got:  %s\n  want: %s",
                      where, i, gs, ws);
        used[found] = true;
    }
    for (size_t j = 0; j < nw; j++)
        ck_assert_msg(used[j], "%s: case_alerts[%zu] not raised\n  got:  %s\n  want: %s", where, j,
                      gs, ws);
    free(used);
    free(gs);
    free(ws);
}

/* Where golden_run keeps state: in memory as replay does, or in Redis as run
 * does (state kept in memory in front of it, or dropped after every batch so
 * that every batch reads it back). */
enum { GOLDEN_MEMORY, GOLDEN_REDIS, GOLDEN_REDIS_EVICT };
static const char *const golden_where[] = {"memory", "redis", "redis, evicted after each batch"};
static rw_redis_server_t g_redis;

/* Every counter the Redis store holds under {rw}:, into a memstore-like array. */
static rw_memstore_counter_t *redis_counters(redisContext *rc, size_t *n) {
    static const char *const kinds[] = {"{rw}:events:*", "{rw}:alerts:*", "{rw}:rule:*",
                                        "{rw}:suppressed:*", NULL};
    rw_memstore_counter_t *out = NULL;
    *n = 0;
    for (size_t k = 0; kinds[k]; k++) {
        redisReply *keys = redisCommand(rc, "KEYS %s", kinds[k]);
        ck_assert_ptr_nonnull(keys);
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *h = redisCommand(rc, "HGETALL %s", keys->element[i]->str);
            ck_assert_ptr_nonnull(h);
            for (size_t f = 0; f + 1 < h->elements; f += 2) {
                out = realloc(out, (*n + 1) * sizeof(*out));
                ck_assert_ptr_nonnull(out);
                out[(*n)++] = (rw_memstore_counter_t){strdup(keys->element[i]->str + 5),
                                                      strdup(h->element[f]->str),
                                                      strtoll(h->element[f + 1]->str, NULL, 10)};
            }
            freeReplyObject(h);
        }
        freeReplyObject(keys);
    }
    return out;
}

static void counters_free(rw_memstore_counter_t *cs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(cs[i].key);
        free(cs[i].field);
    }
    free(cs);
}

/* The message key a producer keyed by entity gives an event: the text of the
 * first rule's key field (none when the rule has no key or the event is not
 * JSON). Its windows are then this engine's alone. */
static size_t golden_msg_key(const rw_ruleset_t *rs, const char *payload, size_t len, char *buf,
                             size_t cap) {
    if (!rs->n_rules || !rs->rules[0].key)
        return 0;
    json_t *ev = json_loadb(payload, len, 0, NULL);
    int n = ev ? rw_field_text(ev, rs->rules[0].key, buf, cap) : -1;
    json_decref(ev);
    return n > 0 ? (size_t)n : 0;
}

/* Runs a golden case in batches of batch_size (0: one batch) and checks everything. */
static void golden_run(const char *path, const json_t *c, size_t batch_size, int state) {
    char where[700];
    snprintf(where, sizeof(where), "%s (batches of %zu, state in %s)", path, batch_size,
             golden_where[state]);
    const json_t *rules = json_object_get(c, "rules");
    const json_t *events = json_object_get(c, "events");
    const json_t *expect = json_object_get(c, "expect");
    ck_assert_msg(json_is_object(rules) && json_is_array(events) && json_is_array(expect),
                  "%s: a case needs rules, events and expect", path);
    ck_assert_msg(json_array_size(events) == json_array_size(expect),
                  "%s: %zu events but %zu expect entries", path, json_array_size(events),
                  json_array_size(expect));
    char *rtext = json_dumps(rules, JSON_COMPACT);
    rw_ruleset_t *rs = rules_load(rtext, path);
    free(rtext);
    const json_t *mx = json_object_get(c, "max_event_bytes");
    size_t max_bytes = mx ? (size_t)json_integer_value(mx) : MAX_BYTES;
    const json_t *arr = json_object_get(c, "arrival");
    int64_t arrival = arr ? ts_ms(json_string_value(arr)) : ARRIVAL_DEFAULT;

    /* In memory, windows and cases stay across batches, as replay runs them. */
    rw_batch_t *b =
        rw_batch_new(max_bytes, state == GOLDEN_MEMORY ? RW_STATE_MEMORY : RW_STATE_CACHED);
    b->origins_off = state == GOLDEN_MEMORY; /* replay keeps no entry's origin */
    rw_store_t *st = rw_memstore_new();
    redisContext *rc = NULL;
    if (state != GOLDEN_MEMORY) {
        st->destroy(st);
        rw_redis_opts_t o = {"127.0.0.1", g_redis.port, NULL, NULL, 0, "rw:", "golden", 5000, 0};
        st = rw_redisstore_new(&o);
        rc = h_redis(g_redis.port);
        freeReplyObject(redisCommand(rc, "FLUSHALL"));
    }
    json_t *case_got = json_array(), *case_ids = json_object();
    size_t n = json_array_size(events);
    size_t bs = batch_size ? batch_size : (n ? n : 1);
    char **payloads = calloc(bs, sizeof(char *));
    char(*keys)[RW_RECORD_MAX] = calloc(bs, RW_RECORD_MAX);
    ck_assert_ptr_nonnull(payloads);
    ck_assert_ptr_nonnull(keys);
    for (size_t start = 0; start < n; start += bs) {
        size_t end = start + bs < n ? start + bs : n;
        rw_batch_reset(b, rs);
        for (size_t i = start; i < end; i++) {
            const json_t *ev = json_array_get(events, i);
            char *p;
            size_t len;
            if (json_is_string(ev)) {
                len = json_string_length(ev);
                p = malloc(len + 1);
                ck_assert_ptr_nonnull(p);
                memcpy(p, json_string_value(ev), len + 1);
            } else {
                p = json_dumps(ev, JSON_COMPACT);
                ck_assert_ptr_nonnull(p);
                len = strlen(p);
            }
            payloads[i - start] = p;
            rw_msg_t m = {"events", 0, (int64_t)i, p, len, arrival, 0, NULL, 0};
            /* Borrowed like the payload, until the batch is reset. */
            keys[i - start][0] = 0;
            if (state != GOLDEN_MEMORY &&
                (m.key_len = golden_msg_key(rs, p, len, keys[i - start], RW_RECORD_MAX)))
                m.key = keys[i - start];
            rw_batch_add(b, &m);
        }
        rw_batch_plan(b);
        rw_error_t err;
        rw_error_clear(&err);
        ck_assert_msg(st->load(st, b, &err) == 0, "%s: load: %s", where, err.text);
        rw_batch_evaluate(b);
        ck_assert_msg(st->apply(st, b, &err) == 0, "%s: apply: %s", where, err.text);
        ck_assert_uint_eq(b->n_items, end - start);
        for (size_t k = 0; k < b->n_items; k++)
            golden_check_item(where, b, &b->items[k], start + k, json_array_get(expect, start + k));
        for (size_t k = 0; k < b->n_case_alerts; k++)
            json_array_append_new(case_got,
                                  case_alert_got(where, b, &b->case_alerts[k], events, case_ids));
        for (size_t i = start; i < end; i++)
            free(payloads[i - start]);
        if (state == GOLDEN_REDIS_EVICT)
            rw_batch_evict(b, 1);
    }
    free(payloads);
    free(keys);
    const json_t *case_want = json_object_get(c, "case_alerts");
    ck_assert_msg(!case_want || json_is_array(case_want), "%s: case: case_alerts: want a list",
                  path);
    golden_case_alerts(where, case_want, case_got);
    json_decref(case_got);
    json_decref(case_ids);

    const json_t *want = json_object_get(c, "counters");
    if (want) {
        size_t nc;
        rw_memstore_counter_t *from_redis = rc ? redis_counters(rc, &nc) : NULL;
        const rw_memstore_counter_t *cs = rc ? from_redis : rw_memstore_counters(st, &nc);
        size_t n_want = 0;
        const char *key;
        const json_t *fields;
        json_object_foreach(RW_UNCONST(json_t *, want), key, fields) {
            const char *field;
            const json_t *v;
            json_object_foreach(RW_UNCONST(json_t *, fields), field, v) {
                n_want++;
                int64_t got = -1;
                for (size_t i = 0; i < nc; i++)
                    if (strcmp(cs[i].key, key) == 0 && strcmp(cs[i].field, field) == 0)
                        got = cs[i].value;
                ck_assert_msg(got == json_integer_value(v), "%s: counter %s %s = %lld, want %lld",
                              where, key, field, (long long)got, (long long)json_integer_value(v));
            }
        }
        char extra[1024] = "";
        for (size_t i = 0; i < nc; i++) {
            const json_t *f = json_object_get(json_object_get(want, cs[i].key), cs[i].field);
            if (!f) {
                char one[200];
                snprintf(one, sizeof(one), " %s/%s=%lld", cs[i].key, cs[i].field,
                         (long long)cs[i].value);
                strncat(extra, one, sizeof(extra) - strlen(extra) - 1);
            }
        }
        ck_assert_msg(nc == n_want, "%s: %zu counters, want %zu; unexpected:%s", where, nc, n_want,
                      extra);
        counters_free(from_redis, rc ? nc : 0);
    }
    if (rc)
        redisFree(rc);
    rw_batch_destroy(b);
    st->destroy(st);
    rw_ruleset_destroy(rs);
}

/* The window of rule "cnt" for a key: windows are named by the rule's state id. */
/* The window of rule "cnt" for a key value (its pseudonym when the key is a masked field). */
static rw_wstate_t *window_of(rw_batch_t *b, const char *key) {
    for (size_t r = 0; r < b->rs->n_rules; r++)
        if (strcmp(b->rs->rules[r].id, "cnt") == 0) {
            char id[400], ref[RW_PSEUDONYM_LEN + 1];
            if (b->rs->rules[r].key->pseudonym) {
                rw_pseudonym(key, strlen(key), ref);
                key = ref;
            }
            snprintf(id, sizeof(id), "%s:%s", b->rs->rules[r].state_id, key);
            return rw_batch_window(b, id);
        }
    return NULL;
}

START_TEST(test_eval_golden_cases_found) {
    ck_assert_msg(g_n_cases > 0, "no golden cases under tests/cases (run from the repo root)");
}
END_TEST

START_TEST(test_eval_golden) {
    ck_assert_int_lt(_i, (int)g_n_cases);
    const char *path = g_cases[_i];
    json_error_t je;
    json_t *c = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(c != NULL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    ck_assert_msg(json_is_string(json_object_get(c, "description")), "%s: no description", path);
    const json_t *bs = json_object_get(c, "batch_size");
    const json_t *store = json_object_get(c, "store");
    ck_assert_msg(!store ||
                      (json_is_string(store) && strcmp(json_string_value(store), "memory") == 0),
                  "%s: \"store\": only \"memory\"", path);
    for (int state = GOLDEN_MEMORY; state <= (store ? GOLDEN_MEMORY : GOLDEN_REDIS_EVICT);
         state++) {
        golden_run(path, c, 0, state);
        golden_run(path, c, 1, state);
        golden_run(path, c, 3, state);
        if (bs)
            golden_run(path, c, (size_t)json_integer_value(bs), state);
    }
    json_decref(c);
}
END_TEST

/* ---- dead letters ------------------------------------------------------------------------ */

static const char *const RULES_VALUE =
    "{\"ruleset\": \"t\", \"version\": \"1\", \"calendar\": {\"utc_offset\": \"+08:00\"},"
    " \"rules\": [{\"id\": \"big\", \"module\": \"value\", \"key\": \"account\","
    " \"params\": {\"field\": \"amount\"}, \"thresholds\": {\"low\": 100}}]}";

START_TEST(test_eval_deadletter_reasons) {
    static const struct {
        const char *payload, *reason;
    } cases[] = {
        {"{", "invalid JSON at byte"},
        {"nope", "invalid JSON at byte"},
        {"[]", "not a JSON object"},
        {"{\"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\"}", "missing required field event_id"},
        {"{\"event_id\": [], \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\"}",
         "event_id: must be a non-empty string of at most 256 bytes"},
        {"{\"event_id\": \"e\", \"ts\": \"2026-11-27T00:00:00Z\"}", "missing required field type"},
        {"{\"event_id\": \"e\", \"type\": \"\", \"ts\": \"2026-11-27T00:00:00Z\"}",
         "type: must be a non-empty string of at most 64 bytes"},
        {"{\"event_id\": \"e\", \"type\": \"t\"}", "missing required field ts"},
        {"{\"event_id\": \"e\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00\"}",
         "ts: not an RFC 3339 time"},
        {"{\"event_id\": \"e\", \"type\": \"t\", \"ts\": \"2026-11-27T24:00:00Z\"}",
         "ts: not an RFC 3339 time"},
        {"{\"event_id\": \"e\", \"event_id\": \"f\", \"type\": \"t\", \"ts\": "
         "\"2026-11-27T00:00:00Z\"}",
         "duplicate object key"},
        {"{\"event_id\": \"e\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\", \"a\": {\"b\": "
         "1, \"b\": 2}}",
         "duplicate object key"},
    };
    fx_t f;
    fx_init(&f, RULES_VALUE, MAX_BYTES);
    size_t n = sizeof(cases) / sizeof(*cases);
    for (size_t i = 0; i < n; i++)
        fx_add(&f, 0, (int64_t)i, cases[i].payload);
    fx_add(&f, 0, (int64_t)n, "");
    fx_run(&f);
    for (size_t i = 0; i < n; i++) {
        const rw_item_t *it = &f.b->items[i];
        ck_assert_ptr_null(it->event);
        ck_assert_msg(strstr(it->error, cases[i].reason) != NULL, "%s: reason \"%s\", want \"%s\"",
                      cases[i].payload, it->error, cases[i].reason);
    }
    ck_assert_ptr_null(f.b->items[n].event);
    ck_assert_ptr_nonnull(strstr(f.b->items[n].error, "invalid JSON"));
    /* Counted on the arrival date (2026-11-27T00:00Z is 08:00 at +08:00). */
    ck_assert_int_eq(incr_get(f.b, "events:2026-11-27", "deadletter"), (int64_t)n + 1);
    ck_assert_uint_eq(incr_count(f.b), 1);
    fx_fini(&f);
}
END_TEST

START_TEST(test_eval_deadletter_oversize) {
    /* Exactly the limit is accepted; one byte more is not. */
    char ok[101], big[102];
    const char *head = "{\"event_id\": \"e\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\", "
                       "\"pad\": \"";
    size_t hl = strlen(head);
    memcpy(ok, head, hl);
    memset(ok + hl, 'x', 100 - hl - 2);
    memcpy(ok + 98, "\"}", 3);
    ck_assert_uint_eq(strlen(ok), 100);
    memcpy(big, head, hl);
    memset(big + hl, 'x', 101 - hl - 2);
    memcpy(big + 99, "\"}", 3);
    ck_assert_uint_eq(strlen(big), 101);
    fx_t f;
    fx_init(&f, RULES_VALUE, 100);
    fx_add(&f, 0, 0, ok);
    fx_add(&f, 0, 1, big);
    fx_run(&f);
    ck_assert_msg(f.b->items[0].error[0] == 0, "%s", f.b->items[0].error);
    ck_assert_ptr_nonnull(f.b->items[0].event);
    ck_assert_ptr_null(f.b->items[1].event);
    ck_assert_str_eq(f.b->items[1].error, "oversize: 101 bytes, the limit is 100");
    /* The next batch's oversize message in the slot of this one's event keeps no table of it. */
    ck_assert(f.b->lazy_events && f.b->items[0].top.lazy);
    fx_next(&f);
    fx_add(&f, 0, 2, big);
    ck_assert_ptr_null(f.b->items[0].event);
    ck_assert(!f.b->items[0].top.lazy);
    fx_fini(&f);
}
END_TEST

/* A NUL inside a required string is refused; raw NUL bytes are not JSON. */
START_TEST(test_eval_deadletter_nul_bytes) {
    static const char raw[] = "{\"event_id\": \"e\0\", \"type\": \"t\", \"ts\": "
                              "\"2026-11-27T00:00:00Z\"}";
    static const char tail[] = "{\"event_id\": \"e\", \"type\": \"t\", \"ts\": "
                               "\"2026-11-27T00:00:00Z\"}\0";
    fx_t f;
    fx_init(&f, RULES_VALUE, MAX_BYTES);
    fx_add_raw(&f, 0, 0, raw, sizeof(raw) - 1, ARRIVAL_DEFAULT);
    fx_add_raw(&f, 0, 1, tail, sizeof(tail) - 1, ARRIVAL_DEFAULT);
    fx_add(&f, 0, 2,
           "{\"event_id\": \"e\\u0000x\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\"}");
    fx_add(&f, 0, 3,
           "{\"event_id\": \"e\", \"type\": \"t\\u0000\", \"ts\": \"2026-11-27T00:00:00Z\"}");
    fx_add(&f, 0, 4,
           "{\"event_id\": \"e\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\\u0000x\"}");
    fx_add(&f, 0, 5,
           "{\"event_id\": \"e\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\\u0000\"}");
    fx_run(&f);
    static const char *const want[] = {"invalid JSON",
                                       "invalid JSON",
                                       "event_id: must be",
                                       "type: must be",
                                       "ts: not an RFC 3339 time",
                                       "ts: not an RFC 3339 time"};
    for (size_t i = 0; i < 6; i++) {
        const rw_item_t *it = &f.b->items[i];
        ck_assert_msg(it->event == NULL && strstr(it->error, want[i]) != NULL,
                      "message %zu: accepted or wrong reason \"%s\", want \"%s\"", i, it->error,
                      want[i]);
    }
    fx_fini(&f);
}
END_TEST

/* A NUL in a free field is not a dead letter, but such a value names no key. */
START_TEST(test_eval_nul_in_key_not_scored) {
    fx_t f;
    fx_init(&f, RULES_VALUE, MAX_BYTES);
    fx_add(&f, 0, 0,
           "{\"event_id\": \"e\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\", \"account\": "
           "\"A\\u0000B\", \"amount\": 500}");
    fx_add(&f, 0, 1,
           "{\"event_id\": \"f\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\", \"account\": "
           "\"AB\", \"amount\": 500, \"memo\": \"x\\u0000y\"}");
    fx_run(&f);
    ck_assert_msg(f.b->items[0].error[0] == 0, "%s", f.b->items[0].error);
    ck_assert_int_eq(f.b->items[0].level, RW_LEVEL_NONE);
    ck_assert_msg(f.b->items[1].error[0] == 0, "%s", f.b->items[1].error);
    ck_assert_int_eq(f.b->items[1].level, RW_LEVEL_LOW);
    char *a = rw_alert_build(f.b, &f.b->items[1], 0);
    ck_assert_ptr_nonnull(strstr(a, "x\\u0000y"));
    free(a);
    fx_fini(&f);
}
END_TEST

/* ---- counters ---------------------------------------------------------------------------- */

/* The events of the counter tests: two days at +08:00, and two dead letters. */
static void counters_fx(fx_t *f, bool counters_off) {
    const char *rules =
        "{\"ruleset\": \"t\", \"version\": \"1\", \"calendar\": {\"utc_offset\": \"+08:00\"},"
        " \"rules\": ["
        "  {\"id\": \"big\", \"module\": \"value\", \"key\": \"account\", \"match\": {\"type\": "
        "\"transaction\"}, \"params\": {\"field\": \"amount\"}, \"thresholds\": {\"low\": 100, "
        "\"high\": 1000}, \"cooldown\": \"1h\"},"
        "  {\"id\": \"fails\", \"module\": \"window_count\", \"key\": \"customer_id\", \"match\": "
        "{\"type\": \"login\", \"result\": \"fail\"}, \"params\": {\"window\": \"15m\"},"
        "   \"thresholds\": {\"medium\": 2}}]}";
    fx_init(f, rules, MAX_BYTES);
    f->b->counters_off = counters_off;
    /* 15:59:59.999Z is 23:59:59.999 on the 27th at +08:00; 16:00Z is the 28th. */
    fx_add(f, 0, 0,
           "{\"event_id\": \"t1\", \"type\": \"transaction\", \"ts\": \"2026-11-27T15:59:59.999Z\","
           " \"account\": \"A\", \"amount\": 150}");
    fx_add(f, 0, 1,
           "{\"event_id\": \"t2\", \"type\": \"transaction\", \"ts\": \"2026-11-27T16:00:00Z\","
           " \"account\": \"A\", \"amount\": 5000}");
    fx_add(
        f, 0, 2,
        "{\"event_id\": \"t3\", \"type\": \"transaction\", \"ts\": \"2026-11-28T00:00:01+08:00\","
        " \"account\": \"A\", \"amount\": 5}");
    fx_add(f, 0, 3,
           "{\"event_id\": \"l1\", \"type\": \"login\", \"ts\": \"2026-11-27T16:00:01Z\","
           " \"customer_id\": \"c\", \"result\": \"fail\"}");
    fx_add(f, 0, 4,
           "{\"event_id\": \"l2\", \"type\": \"login\", \"ts\": \"2026-11-27T16:00:02Z\","
           " \"customer_id\": \"c\", \"result\": \"fail\"}");
    /* Dead letters are dated by arrival: 2026-11-27T16:30Z is the 28th at +08:00. */
    fx_add_raw(f, 0, 5, "{]", 2, ts_ms("2026-11-27T16:30:00Z"));
    fx_add_raw(f, 0, 6, "{]", 2, ts_ms("2026-11-27T15:30:00Z"));
    /* Held back by big's cool-down: counted as suppressed. */
    fx_add(f, 0, 7,
           "{\"event_id\": \"t4\", \"type\": \"transaction\", \"ts\": \"2026-11-27T16:00:03Z\","
           " \"account\": \"A\", \"amount\": 200}");
    fx_run(f);
}

START_TEST(test_eval_counters_in_batch) {
    fx_t f;
    counters_fx(&f, false);
    const rw_batch_t *b = f.b;
    ck_assert_int_eq(incr_get(b, "events:2026-11-27", "transaction"), 1);
    ck_assert_int_eq(incr_get(b, "events:2026-11-28", "transaction"), 3);
    ck_assert_int_eq(incr_get(b, "events:2026-11-28", "login"), 2);
    ck_assert_int_eq(incr_get(b, "events:2026-11-28", "deadletter"), 1);
    ck_assert_int_eq(incr_get(b, "events:2026-11-27", "deadletter"), 1);
    ck_assert_int_eq(incr_get(b, "alerts:2026-11-27", "low"), 1);
    ck_assert_int_eq(incr_get(b, "alerts:2026-11-28", "high"), 1);
    ck_assert_int_eq(incr_get(b, "alerts:2026-11-28", "medium"), 1);
    ck_assert_int_eq(incr_get(b, "rule:big:2026-11-27", "low"), 1);
    ck_assert_int_eq(incr_get(b, "rule:big:2026-11-28", "high"), 1);
    ck_assert_int_eq(incr_get(b, "rule:fails:2026-11-28", "medium"), 1);
    ck_assert_int_eq(incr_get(b, "suppressed:2026-11-28", "big"), 1);
    ck_assert_uint_eq(incr_count(b), 12);
    fx_fini(&f);
}
END_TEST

/* A window's prefix sums are made from its entries when a measure first needs them (more than
 * 32 entries in its run), then kept as entries are appended and trimmed: every sum stays the
 * sum of the entries in the window, across batches. */
START_TEST(test_eval_window_sums_made_late) {
    const char *rules =
        "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": ["
        " {\"id\": \"sum\", \"module\": \"window_sum\", \"match\": {\"type\": \"t\"},"
        "  \"key\": \"account\", \"params\": {\"field\": \"amount\", \"window\": \"1h\"},"
        "  \"thresholds\": {\"low\": 1e-9}}]}";
    fx_t f;
    fx_init(&f, rules, MAX_BYTES);
    int64_t t0 = ts_ms("2026-11-27T00:00:00Z");
    double amounts[200];
    char ev[256], ts[40];
    for (int batch = 0; batch < 4; batch++) {
        for (int k = batch * 50; k < batch * 50 + 50; k++) {
            amounts[k] = (k % 7) * 0.1 + 0.01 * k + 0.05;
            rw_time_format(t0 + (int64_t)k * 60000, ts, sizeof(ts));
            snprintf(ev, sizeof(ev),
                     "{\"event_id\": \"e%d\", \"type\": \"t\", \"ts\": \"%s\", \"account\": "
                     "\"A\", \"amount\": %.2f}",
                     k, ts, amounts[k]);
            fx_add(&f, 0, k, ev);
        }
        fx_run(&f);
        for (int k = batch * 50; k < batch * 50 + 50; k++) {
            const rw_item_t *it = &f.b->items[k - batch * 50];
            double want = 0;
            for (int j = k > 59 ? k - 59 : 0; j <= k; j++) /* (T - 1h, T] */
                want += amounts[j];
            ck_assert_uint_eq(it->n_hits, 1);
            double got = f.b->hits[it->hit_off].measure;
            ck_assert_msg(fabs(got - want) < 1e-9, "event %d: sum %.17g, want %.17g", k, got, want);
        }
        fx_next(&f);
    }
    fx_fini(&f);
}
END_TEST

/* Event k's time in a stream 45 s apart from t0 (at: the times before it): every fifth event
 * 20 minutes late, every seventh at the time of the one before. */
static int64_t late_time(const int64_t *at, int k, int64_t t0) {
    return k % 7 == 6 ? at[k - 1] : t0 + (int64_t)k * 45000 - (k % 5 == 3 ? 1200000 : 0);
}

/* Where a window's run starts is kept with the times of the entries either side of it; late
 * events (inserted before it), trims and new batches keep every count that of the events in
 * the window. */
START_TEST(test_eval_window_runs_with_late_events) {
    const char *rules =
        "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": ["
        " {\"id\": \"n\", \"module\": \"window_count\", \"match\": {\"type\": \"t\"},"
        "  \"key\": \"account\", \"params\": {\"window\": \"1h\"}, \"thresholds\": {\"low\": 1}}]}";
    fx_t f;
    fx_init(&f, rules, MAX_BYTES);
    int64_t t0 = ts_ms("2026-11-27T00:00:00Z");
    enum { N = 320, BATCH = 64 };
    int64_t at[N];
    char ev[256], ts[40];
    for (int batch = 0; batch < N / BATCH; batch++) {
        for (int k = batch * BATCH; k < batch * BATCH + BATCH; k++) {
            at[k] = late_time(at, k, t0);
            rw_time_format(at[k], ts, sizeof(ts));
            snprintf(ev, sizeof(ev),
                     "{\"event_id\": \"e%d\", \"type\": \"t\", \"ts\": \"%s\", \"account\": "
                     "\"A\"}",
                     k, ts);
            fx_add(&f, 0, k, ev);
        }
        fx_run(&f);
        for (int k = batch * BATCH; k < batch * BATCH + BATCH; k++) {
            const rw_item_t *it = &f.b->items[k - batch * BATCH];
            int want = 0;
            for (int j = 0; j <= k; j++)
                want += at[j] > at[k] - 3600000 && at[j] <= at[k];
            ck_assert_uint_eq(it->n_hits, 1);
            ck_assert_msg(f.b->hits[it->hit_off].measure == want, "event %d: %g, want %d", k,
                          f.b->hits[it->hit_off].measure, want);
        }
        fx_next(&f);
    }
    fx_fini(&f);
}
END_TEST

/* Rules with the same module, key, match and params but the window's length read one window,
 * kept as long as the longest of them and recorded into once an event; each rule counts and
 * sums over its own window, late events and trims included, whichever comes first. */
#define SHARED_RULE(id, module, match, params)                                                     \
    " {\"id\": \"" id "\", \"module\": \"" module "\", \"match\": " match                          \
    ", \"key\": \"account\", \"params\": " params ", \"thresholds\": {\"low\": 1e-9}}"
START_TEST(test_eval_window_shared_by_rules) {
    /* _i: whether the batch keeps its entries' origins (replay keeps none); the measures are
     * the same either way, late events among them. */
    static const char rules[] = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": ["       /**/
        SHARED_RULE("n10m", "window_count", "{\"type\": \"t\"}", "{\"window\": \"10m\"}") "," /**/
        SHARED_RULE("n1h", "window_count", "{\"type\": \"t\"}", "{\"window\": \"1h\"}") ","   /**/
        SHARED_RULE("s1h", "window_sum", "{\"type\": \"t\"}",
                    "{\"field\": \"amount\", \"window\": \"1h\"}") "," /**/
        SHARED_RULE("s10m", "window_sum", "{\"type\": \"t\"}",
                    "{\"field\": \"amount\", \"window\": \"10m\"}") "," /**/
        SHARED_RULE("n1h-b", "window_count", "{\"type\": \"t\", \"b\": 1}",
                    "{\"window\": \"1h\"}") "]}";
    fx_t f;
    fx_init(&f, rules, MAX_BYTES);
    f.b->origins_off = _i;
    const rw_rule_t *r = f.rs->rules;
    ck_assert_uint_eq(r[1].window_of, 0);
    ck_assert_uint_eq(r[3].window_of, 2);
    ck_assert_uint_eq(r[4].window_of, 4); /* another match: a window of its own */
    ck_assert_int_eq(r[0].window_keep_ms, 3600000);
    ck_assert_int_eq(r[2].window_keep_ms, 3600000);
    ck_assert_str_eq(r[0].state_id, r[1].state_id);
    ck_assert_str_ne(r[0].state_id, r[4].state_id);
    static const int64_t window[] = {600000, 3600000, 3600000, 600000, 3600000};
    int64_t t0 = ts_ms("2026-11-27T00:00:00Z");
    enum { N = 320, BATCH = 64 };
    int64_t at[N];
    int amount[N];
    char ev[256], ts[40];
    for (int batch = 0; batch < N / BATCH; batch++) {
        for (int k = batch * BATCH; k < batch * BATCH + BATCH; k++) {
            at[k] = late_time(at, k, t0);
            amount[k] = 1 + k % 13;
            rw_time_format(at[k], ts, sizeof(ts));
            snprintf(ev, sizeof(ev),
                     "{\"event_id\": \"e%d\", \"type\": \"t\", \"ts\": \"%s\", \"account\": "
                     "\"A\", \"amount\": %d, \"b\": %d}",
                     k, ts, amount[k], k % 2);
            fx_add(&f, 0, k, ev);
        }
        fx_run(&f);
        /* Two windows an account: the shared count, the shared sum; and n1h-b's. */
        ck_assert_uint_eq(f.b->n_windows, 3);
        for (size_t t = 0; t < f.b->n_touched; t++)
            ck_assert(!f.b->touched[t]->meta == (bool)_i);
        for (int k = batch * BATCH; k < batch * BATCH + BATCH; k++) {
            const rw_item_t *it = &f.b->items[k - batch * BATCH];
            ck_assert_uint_eq(it->n_hits, k % 2 ? 5 : 4);
            for (size_t h = 0; h < it->n_hits; h++) {
                const rw_hit_t *hit = &f.b->hits[it->hit_off + h];
                bool sum = hit->rule == 2 || hit->rule == 3;
                double want = 0;
                for (int j = 0; j <= k; j++)
                    if (at[j] > at[k] - window[hit->rule] && at[j] <= at[k] &&
                        (hit->rule != 4 || j % 2))
                        want += sum ? amount[j] : 1;
                ck_assert_msg(hit->measure == want, "event %d, rule %s: %g, want %g", k,
                              r[hit->rule].id, hit->measure, want);
            }
        }
        fx_next(&f);
    }
    fx_fini(&f);
}
END_TEST

static uint64_t skips_of(const rw_batch_t *b, size_t rule, int reason) {
    return b->skips[rule * RW_SKIP_REASONS + (size_t)reason];
}

/* The rules that read a shared window take the window its first reader planned for the same
 * event: with events of two accounts mixed, some without the recorded field or the key,
 * each rule measures its own account's events and skips where its first reader does. */
START_TEST(test_eval_window_shared_member_takes_the_events_window) {
    static const char rules[] = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [" /**/
        SHARED_RULE("s1h", "window_sum", "{\"type\": \"t\"}",
                    "{\"field\": \"amount\", \"window\": \"1h\"}") ","                      /**/
        SHARED_RULE("n1h", "window_count", "{\"type\": \"t\"}", "{\"window\": \"1h\"}") "," /**/
        SHARED_RULE("s10m", "window_sum", "{\"type\": \"t\"}",
                    "{\"field\": \"amount\", \"window\": \"10m\"}") "," /**/
        SHARED_RULE("n10m", "window_count", "{\"type\": \"t\"}", "{\"window\": \"10m\"}") "]}";
    fx_t f;
    fx_init(&f, rules, MAX_BYTES);
    ck_assert_uint_eq(f.rs->rules[2].window_of, 0);
    ck_assert_uint_eq(f.rs->rules[3].window_of, 1);
    static const int64_t window[] = {3600000, 3600000, 600000, 600000};
    int64_t t0 = ts_ms("2026-11-27T00:00:00Z");
    enum { N = 90 };
    int64_t at[N];
    int acc[N], amount[N]; /* acc -1: no account; amount 0: none */
    char ev[256], ts[40], field[40];
    uint64_t no_amount = 0, no_key = 0;
    for (int k = 0; k < N; k++) {
        at[k] = t0 + (int64_t)k * 30000;
        acc[k] = k % 11 == 5 ? -1 : (k * 7 / 3) % 2;
        amount[k] = k % 5 == 2 ? 0 : 1 + k % 9;
        no_key += acc[k] < 0;
        no_amount += acc[k] >= 0 && !amount[k];
        rw_time_format(at[k], ts, sizeof(ts));
        if (acc[k] < 0)
            snprintf(field, sizeof(field), "\"other\": 1");
        else
            snprintf(field, sizeof(field), "\"account\": \"%c\"", 'A' + acc[k]);
        if (amount[k])
            snprintf(ev, sizeof(ev),
                     "{\"event_id\": \"e%d\", \"type\": \"t\", \"ts\": \"%s\", %s, \"amount\": %d}",
                     k, ts, field, amount[k]);
        else
            snprintf(ev, sizeof(ev), "{\"event_id\": \"e%d\", \"type\": \"t\", \"ts\": \"%s\", %s}",
                     k, ts, field);
        fx_add(&f, 0, k, ev);
    }
    fx_run(&f);
    ck_assert_uint_eq(f.b->n_windows, 4); /* a count and a sum window for each account */
    for (int k = 0; k < N; k++) {
        const rw_item_t *it = &f.b->items[k];
        ck_assert_uint_eq(it->n_hits, acc[k] < 0 ? 0 : amount[k] ? 4 : 2);
        for (size_t h = 0; h < it->n_hits; h++) {
            const rw_hit_t *hit = &f.b->hits[it->hit_off + h];
            bool sum = hit->rule == 0 || hit->rule == 2;
            double want = 0;
            for (int j = 0; j <= k; j++)
                if (acc[j] == acc[k] && at[j] > at[k] - window[hit->rule])
                    want += sum ? amount[j] : 1;
            ck_assert_msg(hit->measure == want, "event %d, rule %s: %g, want %g", k,
                          f.rs->rules[hit->rule].id, hit->measure, want);
        }
    }
    for (size_t r = 0; r < 4; r++) {
        bool sum = r == 0 || r == 2;
        ck_assert_uint_eq(skips_of(f.b, r, RW_SKIP_MISSING), no_key + (sum ? no_amount : 0));
    }
    fx_fini(&f);
}
END_TEST

/* Modules that declare what record() keeps (RW_PARAM_RECORDED) share a window across modules:
 * window_sum and baseline over one amount, new_value and window_distinct over one device, each
 * over its own length; a window_count or another match keeps a window of its own. */
START_TEST(test_eval_window_shared_across_modules) {
    static const char rules[] = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [" /**/
        SHARED_RULE("sum1h", "window_sum", "{\"type\": \"t\"}",
                    "{\"field\": \"amount\", \"window\": \"1h\"}") "," /**/
        SHARED_RULE("usual", "baseline", "{\"type\": \"t\"}",
                    "{\"field\": \"amount\", \"window\": \"30d\", \"min_history\": 1}") "," /**/
        SHARED_RULE("newdev", "new_value", "{\"type\": \"t\"}",
                    "{\"field\": \"device\", \"lookback\": \"1h\"}") "," /**/
        SHARED_RULE("devices", "window_distinct", "{\"type\": \"t\"}",
                    "{\"field\": \"device\", \"window\": \"1d\"}") ","                    /**/
        SHARED_RULE("n", "window_count", "{\"type\": \"t\"}", "{\"window\": \"1d\"}") "," /**/
        SHARED_RULE("sum-b", "window_sum", "{\"type\": \"t\", \"b\": 1}",
                    "{\"field\": \"amount\", \"window\": \"1h\"}") "]}";
    fx_t f;
    fx_init(&f, rules, MAX_BYTES);
    const rw_rule_t *r = f.rs->rules;
    static const uint32_t of[] = {0, 0, 2, 2, 4, 5};
    for (size_t i = 0; i < 6; i++)
        ck_assert_uint_eq(r[i].window_of, of[i]);
    ck_assert_int_eq(r[0].window_keep_ms, 30 * 86400000LL);
    ck_assert_int_eq(r[2].window_keep_ms, 86400000);
    ck_assert_msg(strncmp(r[0].state_id, "number~", 7) == 0, "%s", r[0].state_id);
    ck_assert_msg(strncmp(r[2].state_id, "text~", 5) == 0, "%s", r[2].state_id);
    int64_t t0 = ts_ms("2026-11-27T00:00:00Z");
    enum { N = 96, BATCH = 32 };
    int64_t at[N];
    int amount[N], device[N];
    char ev[256], ts[40];
    for (int batch = 0; batch < N / BATCH; batch++) {
        for (int k = batch * BATCH; k < batch * BATCH + BATCH; k++) {
            at[k] = t0 + (int64_t)k * 1200000; /* 20 minutes apart */
            amount[k] = 10 + (k * 7) % 31;
            device[k] = k % 5 == 0 ? k : k % 3; /* a new device every fifth event */
            rw_time_format(at[k], ts, sizeof(ts));
            snprintf(ev, sizeof(ev),
                     "{\"event_id\": \"e%d\", \"type\": \"t\", \"ts\": \"%s\", \"account\": "
                     "\"A\", \"amount\": %d, \"device\": \"d%d\", \"b\": %d}",
                     k, ts, amount[k], device[k], k % 2);
            fx_add(&f, 0, k, ev);
        }
        fx_run(&f);
        ck_assert_uint_eq(f.b->n_windows, 4); /* amount, device, the count's, sum-b's */
        for (int k = batch * BATCH; k < batch * BATCH + BATCH; k++) {
            const rw_item_t *it = &f.b->items[k - batch * BATCH];
            double sum1h = 0, sum_b = 0, history = 0;
            bool seen = false;
            int distinct = 0, n = 0;
            for (int j = 0; j <= k; j++) {
                bool hour = at[j] > at[k] - 3600000, day = at[j] > at[k] - 86400000;
                sum1h += hour ? amount[j] : 0;
                sum_b += hour && j % 2 ? amount[j] : 0;
                history += j < k ? amount[j] : 0;
                seen |= j < k && hour && device[j] == device[k];
                n += day;
                bool first = day;
                for (int i = 0; first && i < j; i++)
                    first = !(at[i] > at[k] - 86400000 && device[i] == device[j]);
                distinct += first;
            }
            ck_assert_double_eq(hit_of(f.b, it, "sum1h")->measure, sum1h);
            if (k > 0)
                ck_assert_double_eq_tol(hit_of(f.b, it, "usual")->measure,
                                        amount[k] / (history / k), 1e-12);
            ck_assert_msg((hit_of(f.b, it, "newdev") != NULL) == !seen, "event %d", k);
            ck_assert_double_eq(hit_of(f.b, it, "devices")->measure, distinct);
            ck_assert_double_eq(hit_of(f.b, it, "n")->measure, n);
            if (k % 2)
                ck_assert_double_eq(hit_of(f.b, it, "sum-b")->measure, sum_b);
        }
        fx_next(&f);
    }
    fx_fini(&f);
}
END_TEST

/* A rule's window is named by what decides its entries: changed in its window's length alone,
 * it keeps its state; changed in its match, it starts afresh. Windows that are fed by other
 * events are each the rule's own. */
START_TEST(test_eval_window_state_names) {
    static const char a[] = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [" SHARED_RULE(
        "n", "window_count", "{\"type\": \"t\"}", "{\"window\": \"10m\"}") "]}";
    static const char b[] = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [" SHARED_RULE(
        "renamed", "window_count", "{\"type\": \"t\"}", "{\"window\": \"2h\"}") "]}";
    static const char c[] = "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": [" SHARED_RULE(
        "n", "window_count", "{\"type\": \"u\"}", "{\"window\": \"10m\"}") "]}";
    static const char d[] =
        "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": ["
        " {\"id\": \"seq\", \"module\": \"sequence\", \"match\": {\"type\": \"t\"},"
        "  \"key\": \"account\", \"params\": {\"first\": {\"type\": \"u\"}, \"within\": \"1h\","
        "   \"correlate_first\": \"c\", \"correlate\": \"c\"},"
        "  \"thresholds\": {\"low\": 1}},"
        " {\"id\": \"seq2\", \"module\": \"sequence\", \"match\": {\"type\": \"t\"},"
        "  \"key\": \"account\", \"params\": {\"first\": {\"type\": \"u\"}, \"within\": \"1h\","
        "   \"correlate_first\": \"c\", \"correlate\": \"c\"},"
        "  \"thresholds\": {\"low\": 1}}]}";
    rw_ruleset_t *ra = rules_load(a, "a"), *rb = rules_load(b, "b"), *rc = rules_load(c, "c"),
                 *rd = rules_load(d, "d");
    ck_assert_str_eq(ra->rules[0].state_id, rb->rules[0].state_id);
    ck_assert_str_ne(ra->rules[0].state_id, rc->rules[0].state_id);
    ck_assert_msg(strncmp(ra->rules[0].state_id, "window_count~", 13) == 0, "%s",
                  ra->rules[0].state_id);
    ck_assert_str_ne(rd->rules[0].state_id, rd->rules[1].state_id);
    ck_assert_uint_eq(rd->rules[1].window_of, 1);
    rw_ruleset_destroy(ra);
    rw_ruleset_destroy(rb);
    rw_ruleset_destroy(rc);
    rw_ruleset_destroy(rd);
}
END_TEST

/* A batch's lookups (one per distinct set and member) live in memory reused by the next
 * batch: each candidate keeps its own member and set, over more lookups than one chunk holds. */
START_TEST(test_eval_lookups_across_batches) {
    const char *rules =
        "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": ["
        " {\"id\": \"wl\", \"module\": \"watchlist\", \"match\": {\"type\": \"t\"},"
        "  \"key\": \"account\", \"params\": {\"field\": \"device\", \"redis_set\": \"devices\"},"
        "  \"thresholds\": {\"high\": 1}}]}";
    fx_t f;
    fx_init(&f, rules, MAX_BYTES);
    char ev[512], dev[300];
    for (int batch = 0; batch < 3; batch++) {
        int n = batch == 1 ? 50 : 1500;
        for (int k = 0; k < n; k++) {
            /* members of 5 to 200 bytes, each twice in the batch */
            int len = 5 + (k / 2 * 37 + batch) % 196;
            snprintf(dev, sizeof(dev), "d%d-%d-", batch, k / 2);
            size_t l = strlen(dev);
            memset(dev + l, 'x', (size_t)len > l ? (size_t)len - l : 0);
            dev[len > (int)l ? len : (int)l] = 0;
            snprintf(ev, sizeof(ev),
                     "{\"event_id\": \"e%d\", \"type\": \"t\", \"ts\": "
                     "\"2026-11-27T00:00:00Z\", \"account\": \"A\", \"device\": \"%s\"}",
                     k, dev);
            fx_add(&f, 0, batch * 10000 + k, ev);
        }
        fx_run(&f);
        ck_assert_uint_eq(f.b->n_cands, (size_t)n);
        for (size_t c = 0; c < f.b->n_cands; c++) {
            const rw_cand_t *cd = &f.b->cands[c];
            const json_t *d = json_object_get(rw_batch_event(f.b, &f.b->items[cd->item]), "device");
            ck_assert_ptr_nonnull(cd->lookup);
            ck_assert_str_eq(cd->lookup->member, json_string_value(d));
            ck_assert_str_eq(cd->lookup->set, "devices");
            if (cd->item % 2)
                ck_assert_ptr_eq(cd->lookup, f.b->cands[c - 1].lookup); /* one per member */
        }
        fx_next(&f);
    }
    fx_fini(&f);
}
END_TEST

/* A batch whose counters nothing reads (replay) keeps none, and its outcomes are the same. */
START_TEST(test_eval_counters_off) {
    fx_t on, off;
    counters_fx(&on, false);
    counters_fx(&off, true);
    ck_assert_uint_eq(incr_count(off.b), 0);
    ck_assert_ptr_null(off.b->incrs);
    ck_assert_uint_eq(off.b->n_items, on.b->n_items);
    for (size_t i = 0; i < on.b->n_items; i++) {
        ck_assert_int_eq(off.b->items[i].level, on.b->items[i].level);
        ck_assert_uint_eq(off.b->items[i].n_hits, on.b->items[i].n_hits);
    }
    ck_assert_int_eq(off.b->items[7].level, RW_LEVEL_NONE); /* t4: held back */
    fx_fini(&on);
    fx_fini(&off);
}
END_TEST

/* ---- alerts ------------------------------------------------------------------------------ */

static const char *const RULES_ALERT =
    "{\"ruleset\": \"retail\", \"version\": \"2026-11-27.1\", \"rules\": ["
    " {\"id\": \"large-outbound\", \"module\": \"value\", \"match\": {\"type\": \"transaction\","
    "  \"direction\": \"out\"}, \"key\": \"account\", \"params\": {\"field\": \"amount\"},"
    "  \"thresholds\": {\"low\": 50000, \"medium\": 200000, \"high\": 1000000}},"
    " {\"id\": \"velocity\", \"module\": \"window_count\", \"match\": {\"type\": \"transaction\"},"
    "  \"key\": \"account\", \"params\": {\"window\": \"1h\"}, \"thresholds\": {\"medium\": 1}},"
    " {\"id\": \"any-amount\", \"module\": \"value\", \"params\": {\"field\": \"amount\"},"
    "  \"thresholds\": {\"low\": 1e9}}]}";

static const char *const EVENT_ALERT =
    "{\"event_id\": \"tx-1001\", \"type\": \"transaction\", \"ts\": "
    "\"2026-11-27T12:35:16.123+08:00\", \"account\": \"6222020200112233445\", \"amount\": 250000,"
    " \"direction\": \"out\", \"counterparty\": \"6222020200998877665\", \"phone\": "
    "\"13812345678\", \"payer\": {\"id_number\": \"110101199001011234\", \"name\": \"张三\"}}";

START_TEST(test_eval_alert_fields) {
    fx_t f;
    fx_init(&f, RULES_ALERT, MAX_BYTES);
    fx_add(&f, 0, 0, EVENT_ALERT);
    fx_run(&f);
    const rw_item_t *it = &f.b->items[0];
    ck_assert_int_eq(it->level, RW_LEVEL_MEDIUM);
    ck_assert_uint_eq(it->n_hits, 2);
    const int64_t emitted = ts_ms("2026-11-27T04:35:16.140Z");
    char *text = rw_alert_build(f.b, it, emitted);
    json_t *a = jparse(text);

    char id[33];
    rw_alert_id(f.rs, "tx-1001", RW_LEVEL_MEDIUM, id);
    ck_assert_str_eq(json_string_value(json_object_get(a, "alert_id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(a, "level")), "medium");
    ck_assert_str_eq(json_string_value(json_object_get(a, "event_id")), "tx-1001");
    ck_assert_str_eq(json_string_value(json_object_get(a, "event_type")), "transaction");
    const char *ets = json_string_value(json_object_get(a, "event_ts"));
    ck_assert_ptr_nonnull(ets);
    ck_assert_int_eq(ts_ms(ets), ts_ms("2026-11-27T04:35:16.123Z"));
    ck_assert_str_eq(json_string_value(json_object_get(a, "emitted_at")),
                     "2026-11-27T04:35:16.140Z");
    ck_assert_str_eq(json_string_value(json_object_get(a, "key")), "622202*********3445");
    ck_assert_str_eq(json_string_value(json_object_get(a, "ruleset")), "retail");
    ck_assert_str_eq(json_string_value(json_object_get(a, "ruleset_version")), "2026-11-27.1");

    const json_t *rules = json_object_get(a, "rules");
    ck_assert_uint_eq(json_array_size(rules), 2);
    const json_t *r0 = json_array_get(rules, 0), *r1 = json_array_get(rules, 1);
    ck_assert_str_eq(json_string_value(json_object_get(r0, "id")), "large-outbound");
    ck_assert_str_eq(json_string_value(json_object_get(r0, "module")), "value");
    ck_assert_str_eq(json_string_value(json_object_get(r0, "level")), "medium");
    ck_assert(json_is_integer(json_object_get(r0, "measure")));
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "measure")), 250000);
    json_t *th = jparse("{\"low\": 50000, \"medium\": 200000, \"high\": 1000000}");
    ck_assert(json_equal(json_object_get(r0, "thresholds"), th));
    json_decref(th);
    ck_assert_str_eq(json_string_value(json_object_get(r1, "id")), "velocity");
    ck_assert_str_eq(json_string_value(json_object_get(r1, "module")), "window_count");
    ck_assert_str_eq(json_string_value(json_object_get(r1, "level")), "medium");
    ck_assert_int_eq(json_integer_value(json_object_get(r1, "measure")), 1);

    /* The event, with masked fields masked at any depth, and nothing else changed. */
    json_t *want = jparse(
        "{\"event_id\": \"tx-1001\", \"type\": \"transaction\", \"ts\": "
        "\"2026-11-27T12:35:16.123+08:00\", \"account\": \"622202*********3445\", \"amount\": "
        "250000, \"direction\": \"out\", \"counterparty\": \"622202*********7665\", \"phone\": "
        "\"138****5678\", \"payer\": {\"id_number\": \"110101********1234\", \"name\": \"张三\"}}");
    ck_assert_msg(json_equal(json_object_get(a, "event"), want), "alert: %s", text);
    json_decref(want);
    /* No unmasked core data anywhere in the alert. */
    ck_assert_ptr_null(strstr(text, "6222020200112233445"));
    ck_assert_ptr_null(strstr(text, "6222020200998877665"));
    ck_assert_ptr_null(strstr(text, "110101199001011234"));
    ck_assert_ptr_null(strstr(text, "13812345678"));
    /* The entity_ref: the pseudonym of the account. */
    char ref[RW_PSEUDONYM_LEN + 1], want_key[80];
    rw_pseudonym("6222020200112233445", 19, ref);
    ck_assert_str_eq(json_string_value(json_object_get(a, "entity_ref")), ref);
    json_decref(a);
    free(text);

    /* The Kafka message key: stable per entity, its pseudonym (entity_ref), never raw. */
    snprintf(want_key, sizeof(want_key), "account:%s", ref);
    char *k = rw_alert_key(f.b, it);
    ck_assert_str_eq(k, want_key);
    free(k);
    fx_fini(&f);
}
END_TEST

/* A measure with a fraction stays a real; a rule without a key gives a null key. */
START_TEST(test_eval_alert_real_measure_and_no_key) {
    fx_t f;
    fx_init(&f, RULES_ALERT, MAX_BYTES);
    fx_add(&f, 0, 0,
           "{\"event_id\": \"x\", \"type\": \"other\", \"ts\": \"2026-11-27T00:00:00Z\", "
           "\"amount\": 1234567890.25}");
    fx_run(&f);
    const rw_item_t *it = &f.b->items[0];
    ck_assert_int_eq(it->level, RW_LEVEL_LOW);
    char *text = rw_alert_build(f.b, it, 0);
    json_t *a = jparse(text);
    ck_assert(json_is_null(json_object_get(a, "key")));
    const json_t *m = json_object_get(json_array_get(json_object_get(a, "rules"), 0), "measure");
    ck_assert(json_is_real(m));
    ck_assert(json_real_value(m) == 1234567890.25);
    ck_assert_str_eq(json_string_value(json_object_get(a, "emitted_at")),
                     "1970-01-01T00:00:00.000Z");
    json_decref(a);
    free(text);
    char *k = rw_alert_key(f.b, it);
    ck_assert_str_eq(k, "other");
    free(k);
    fx_fini(&f);
}
END_TEST

START_TEST(test_eval_alert_id_deterministic) {
    rw_ruleset_t *a = rules_load("{\"ruleset\": \"r\", \"version\": \"1\", \"rules\": []}", "a");
    rw_ruleset_t *a2 = rules_load("{\"ruleset\": \"r\", \"version\": \"1\", \"rules\": []}", "a2");
    rw_ruleset_t *v2 = rules_load("{\"ruleset\": \"r\", \"version\": \"2\", \"rules\": []}", "v2");
    rw_ruleset_t *n2 = rules_load("{\"ruleset\": \"s\", \"version\": \"1\", \"rules\": []}", "n2");
    /* "ab"+"c" and "a"+"bc": the parts are kept apart. */
    rw_ruleset_t *s1 = rules_load("{\"ruleset\": \"ab\", \"version\": \"c\", \"rules\": []}", "s1");
    rw_ruleset_t *s2 = rules_load("{\"ruleset\": \"a\", \"version\": \"bc\", \"rules\": []}", "s2");
    char x[33], y[33];
    rw_alert_id(a, "e1", RW_LEVEL_HIGH, x);
    ck_assert_uint_eq(strlen(x), 32);
    ck_assert_uint_eq(strspn(x, "0123456789abcdef"), 32);
    rw_alert_id(a, "e1", RW_LEVEL_HIGH, y);
    ck_assert_str_eq(x, y);
    rw_alert_id(a2, "e1", RW_LEVEL_HIGH, y); /* another load of the same ruleset */
    ck_assert_str_eq(x, y);
    rw_alert_id(a, "e1", RW_LEVEL_MEDIUM, y);
    ck_assert_str_ne(x, y);
    rw_alert_id(a, "e2", RW_LEVEL_HIGH, y);
    ck_assert_str_ne(x, y);
    rw_alert_id(v2, "e1", RW_LEVEL_HIGH, y);
    ck_assert_str_ne(x, y);
    rw_alert_id(n2, "e1", RW_LEVEL_HIGH, y);
    ck_assert_str_ne(x, y);
    rw_alert_id(s1, "e1", RW_LEVEL_HIGH, x);
    rw_alert_id(s2, "e1", RW_LEVEL_HIGH, y);
    ck_assert_str_ne(x, y);
    rw_ruleset_destroy(a);
    rw_ruleset_destroy(a2);
    rw_ruleset_destroy(v2);
    rw_ruleset_destroy(n2);
    rw_ruleset_destroy(s1);
    rw_ruleset_destroy(s2);
}
END_TEST

/* The same event evaluated again (a re-read) gets the same alert, alert_id included. */
START_TEST(test_eval_alert_same_on_reread) {
    fx_t f;
    fx_init(&f, RULES_ALERT, MAX_BYTES);
    fx_add(&f, 0, 7, EVENT_ALERT);
    fx_run(&f);
    char *first = rw_alert_build(f.b, &f.b->items[0], 1000);
    fx_next(&f);
    fx_add(&f, 0, 7, EVENT_ALERT);
    fx_plan(&f);
    f.b->srcs[0].fence = 7;
    fx_evaluate(&f);
    ck_assert(f.b->items[0].applied);
    char *again = rw_alert_build(f.b, &f.b->items[0], 1000);
    ck_assert_str_eq(first, again);
    free(first);
    free(again);
    fx_fini(&f);
}
END_TEST

/* ---- fences and windows --------------------------------------------------------------------- */

static const char *const RULES_FENCE =
    "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": ["
    " {\"id\": \"big\", \"module\": \"value\", \"key\": \"account\", \"params\": {\"field\": "
    "\"amount\"}, \"thresholds\": {\"low\": 1}},"
    " {\"id\": \"cnt\", \"module\": \"window_count\", \"key\": \"account\", \"params\": "
    "{\"window\": \"1h\"}, \"thresholds\": {\"low\": 1}}]}";

static void add_tx(fx_t *f, int32_t partition, int64_t offset, const char *ts) {
    char p[300];
    snprintf(p, sizeof(p),
             "{\"event_id\": \"p%d-o%lld\", \"type\": \"transaction\", \"ts\": \"%s\", "
             "\"account\": \"A\", \"amount\": 5}",
             (int)partition, (long long)offset, ts);
    fx_add(f, partition, offset, p);
}

START_TEST(test_eval_fence_applied_items) {
    fx_t f;
    fx_init(&f, RULES_FENCE, MAX_BYTES);
    add_tx(&f, 0, 0, "2026-11-27T10:00:00Z");
    add_tx(&f, 0, 1, "2026-11-27T10:00:01Z");
    fx_add(&f, 0, 2, "garbage");
    add_tx(&f, 0, 3, "2026-11-27T10:00:03Z");
    add_tx(&f, 0, 4, "2026-11-27T10:00:04Z");
    add_tx(&f, 0, 5, "2026-11-27T10:00:05Z");
    fx_plan(&f);
    ck_assert_uint_eq(f.b->n_srcs, 1);
    ck_assert_int_eq(f.b->srcs[0].max_offset, 5);
    f.b->srcs[0].fence = 3;
    fx_evaluate(&f);
    for (size_t i = 0; i < 6; i++)
        ck_assert_msg(f.b->items[i].applied == (i <= 3), "item %zu applied=%d", i,
                      f.b->items[i].applied);
    /* Applied items are still evaluated (their alert goes out again)... */
    ck_assert_int_eq(f.b->items[0].level, RW_LEVEL_LOW);
    ck_assert_ptr_nonnull(hit_of(f.b, &f.b->items[0], "big"));
    ck_assert_ptr_nonnull(f.b->items[2].error[0] ? f.b->items[2].error : NULL);
    /* ...but add no counters (dead letter included) and no window entries. */
    ck_assert_int_eq(incr_get(f.b, "events:2026-11-27", "transaction"), 2);
    ck_assert_int_eq(incr_get(f.b, "events:2026-11-27", "deadletter"), 0);
    ck_assert_int_eq(incr_get(f.b, "alerts:2026-11-27", "low"), 2);
    ck_assert_int_eq(incr_get(f.b, "rule:big:2026-11-27", "low"), 2);
    ck_assert_int_eq(incr_get(f.b, "rule:cnt:2026-11-27", "low"), 2);
    ck_assert_uint_eq(incr_count(f.b), 4);
    rw_wstate_t *ws = window_of(f.b, "A");
    ck_assert_ptr_nonnull(ws);
    ck_assert_uint_eq(ws->n, 2);
    ck_assert_int_eq(ws->meta[0].offset, 4);
    ck_assert_int_eq(ws->meta[1].offset, 5);
    const rw_hit_t *h = hit_of(f.b, &f.b->items[5], "cnt");
    ck_assert_ptr_nonnull(h);
    ck_assert(h->measure == 2);
    fx_fini(&f);
}
END_TEST

/* ---- skips: matched, not scored, and why --------------------------------------------------- */

#define RULES_SKIPS                                                                                \
    "{\"ruleset\": \"s\", \"version\": \"1\", \"rules\": ["                                        \
    "{\"id\": \"big\", \"module\": \"value\", \"match\": {\"type\": \"payment\"}, \"key\": "       \
    "\"account\", \"params\": {\"field\": \"amount\"}, \"thresholds\": {\"high\": 100}},"          \
    "{\"id\": \"share\", \"module\": \"expression\", \"match\": {\"type\": \"payment\"}, "         \
    "\"params\": {\"expr\": \"amount / balance\"}, \"thresholds\": {\"high\": 1}},"                \
    "{\"id\": \"gte\", \"module\": \"window_count\", \"match\": {\"type\": \"payment\", "          \
    "\"amount\": {\"gte\": 100}}, \"key\": \"account\", \"params\": {\"window\": \"1h\"}, "        \
    "\"thresholds\": {\"high\": 1}},"                                                              \
    "{\"id\": \"sum\", \"module\": \"window_sum\", \"match\": {\"type\": \"payment\"}, \"key\": "  \
    "\"account\", \"params\": {\"field\": \"amount\", \"window\": \"1h\"}, \"thresholds\": "       \
    "{\"high\": 1000}},"                                                                           \
    "{\"id\": \"huge\", \"module\": \"expression\", \"match\": {\"type\": \"payment\"}, "          \
    "\"params\": {\"expr\": \"amount * 1e308 * 10\"}, \"thresholds\": {\"high\": 1}}]}"

START_TEST(test_eval_skips_counted_by_rule_and_reason) {
    fx_t f;
    fx_init(&f, RULES_SKIPS, MAX_BYTES);
    static const char *const evs[] = {
        /* read again after a crash (at the fence): not counted twice */
        "{\"event_id\": \"z\", \"type\": \"payment\", \"ts\": \"2026-11-27T00:00:00Z\", "
        "\"amount\": \"1\"}",
        "{\"event_id\": \"a\", \"type\": \"payment\", \"ts\": \"2026-11-27T00:00:00Z\", "
        "\"account\": \"A1\", \"amount\": 500, \"balance\": 0}",
        "{\"event_id\": \"b\", \"type\": \"payment\", \"ts\": \"2026-11-27T00:00:01Z\", "
        "\"account\": \"A1\", \"amount\": \"900000\", \"balance\": 600}",
        "{\"event_id\": \"c\", \"type\": \"payment\", \"ts\": \"2026-11-27T00:00:02Z\", "
        "\"amount\": 50, \"balance\": 100}",
        /* another type: no rule matches, nothing is a skip */
        "{\"event_id\": \"d\", \"type\": \"logon\", \"ts\": \"2026-11-27T00:00:03Z\"}",
    };
    for (size_t i = 0; i < sizeof(evs) / sizeof(*evs); i++)
        fx_add(&f, 0, (int64_t)i, evs[i]);
    fx_plan(&f);
    f.b->srcs[0].fence = 0;
    fx_evaluate(&f);
    /* big: b's amount is a string, c has no account */
    ck_assert_uint_eq(skips_of(f.b, 0, RW_SKIP_WRONG_TYPE), 1);
    ck_assert_uint_eq(skips_of(f.b, 0, RW_SKIP_MISSING), 1);
    /* share: a divides by zero, b's amount is a string; c scores 0.5 */
    ck_assert_uint_eq(skips_of(f.b, 1, RW_SKIP_DIV_ZERO), 1);
    ck_assert_uint_eq(skips_of(f.b, 1, RW_SKIP_WRONG_TYPE), 1);
    ck_assert_uint_eq(skips_of(f.b, 1, RW_SKIP_MISSING), 0);
    /* gte: b's "900000" against a number in match; c's 50 is a plain mismatch */
    ck_assert_uint_eq(skips_of(f.b, 2, RW_SKIP_WRONG_TYPE), 1);
    ck_assert_uint_eq(skips_of(f.b, 2, RW_SKIP_MISSING), 0);
    /* sum: b is not recorded (wrong type), c has no key */
    ck_assert_uint_eq(skips_of(f.b, 3, RW_SKIP_WRONG_TYPE), 1);
    ck_assert_uint_eq(skips_of(f.b, 3, RW_SKIP_MISSING), 1);
    /* huge: a and c overflow; b has the wrong type */
    ck_assert_uint_eq(skips_of(f.b, 4, RW_SKIP_NOT_FINITE), 2);
    ck_assert_uint_eq(skips_of(f.b, 4, RW_SKIP_WRONG_TYPE), 1);
    uint64_t total = 0;
    for (size_t k = 0; k < f.b->n_skips; k++)
        total += f.b->skips[k];
    ck_assert_uint_eq(total, 10);
    /* The next batch starts from zero. */
    fx_next(&f);
    fx_add(&f, 0, 9, evs[4]);
    fx_run(&f);
    for (size_t k = 0; k < f.b->n_skips; k++)
        ck_assert_uint_eq(f.b->skips[k], 0);
    fx_fini(&f);
}
END_TEST

/* rules check --sample: the report names what the sample shows, rule by rule. */
START_TEST(test_eval_sample_report) {
    rw_ruleset_t *rs = rules_load(
        "{\"ruleset\": \"s\", \"version\": \"1\", \"rules\": ["
        "{\"id\": \"big\", \"module\": \"value\", \"match\": {\"type\": \"payment\"}, \"key\": "
        "\"account\", \"params\": {\"field\": \"amout\"}, \"thresholds\": {\"high\": 100}},"
        "{\"id\": \"share\", \"module\": \"expression\", \"match\": {\"type\": \"payment\"}, "
        "\"params\": {\"expr\": \"amount / balance\"}, \"thresholds\": {\"high\": 1}},"
        "{\"id\": \"typo\", \"module\": \"window_count\", \"match\": {\"typ\": \"payment\"}, "
        "\"key\": [\"account\", \"counterparty\"], \"params\": {\"window\": \"1h\"}, "
        "\"thresholds\": {\"high\": 1}}]}",
        "rules");
    const char *events =
        "{\"event_id\": \"a\", \"type\": \"payment\", \"ts\": \"2026-11-27T00:00:00Z\", "
        "\"account\": \"A1\", \"amount\": 500, \"balance\": 0}\n"
        "{\"event_id\": \"b\", \"type\": \"payment\", \"ts\": \"2026-11-27T00:00:01Z\", "
        "\"account\": \"A1\", \"amount\": \"900000\", \"balance\": 600}\n"
        "\n"
        "{\"event_id\": \"c\", \"type\": \"payment\", \"ts\": \"2026-11-27T00:00:02Z\", "
        "\"amount\": 200, \"balance\": 100}\n"
        "not json\n"
        "{\"event_id\": \"d\", \"type\": \"logon\", \"ts\": \"2026-11-27T00:00:03Z\"}\n";
    const char *path = h_tmpfile(".jsonl", events);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_int_eq(rw_sample_report(rs, NULL, path, out, stderr), 0);
    fclose(out);
    static const char *const want[] = {
        "4 events (and 1 lines that are not valid events)",
        "rule big (value): matched 3 of 4 events; reached low 0, medium 0, high 0; skipped 3 "
        "(missing 3)",
        "  ! amout: never present in the 3 matched events (did you mean \"amount\"?)",
        "rule share (expression): matched 3 of 4 events; reached low 0, medium 0, high 1; "
        "skipped 2 (wrong_type 1, div_by_zero 1)",
        "  ! amount: in 3 of 3 matched events (number 2, string 1): more than one type",
        "    balance: in 3 of 3 matched events (number 3)",
        "rule typo (window_count): matched 0 of 4 events",
        "  ! typ (match): never present in the 4 sample events (did you mean \"type\"?)",
        "  ! counterparty: in no sample event",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        ck_assert_msg(strstr(text, want[i]) != NULL, "report lacks \"%s\":\n%s", want[i], text);
    /* account is in the sample: no warning about it for the rule that matched nothing. */
    ck_assert_msg(strstr(text, "! account") == NULL, "%s", text);
    free(text);
    out = fopen("/dev/null", "w");
    ck_assert_int_eq(rw_sample_report(rs, NULL, h_path("no-such.jsonl"), out, out), -1);
    fclose(out);
    rw_ruleset_destroy(rs);
    /* A scorecard says what it reached: it matches nothing itself. */
    rs = rules_load("{\"ruleset\": \"s\", \"version\": \"1\", \"rules\": [{\"id\": \"b\", "
                    "\"module\": \"value\", \"params\": {\"field\": \"amount\"}, "
                    "\"thresholds\": {\"low\": 100}}], \"scorecards\": [{\"id\": \"sc\", "
                    "\"parts\": [{\"rule\": \"b\"}], \"thresholds\": {\"high\": 1}}]}",
                    "rules");
    out = open_memstream(&text, &len);
    ck_assert_int_eq(rw_sample_report(rs, NULL, path, out, stderr), 0);
    fclose(out);
    ck_assert_msg(strstr(text, "\nscorecard sc: reached low 0, medium 0, high 2\n"), "%s", text);
    free(text);
    rw_ruleset_destroy(rs);
}
END_TEST

/* A scorecard's alert entry explains its parts: rule, what was used, weight, level, measure,
 * and what each added. */
START_TEST(test_eval_scorecard_alert_parts) {
    fx_t f;
    fx_init(&f,
            "{\"ruleset\": \"s\", \"version\": \"1\", \"rules\": ["
            "{\"id\": \"big\", \"module\": \"value\", \"key\": \"account\", \"params\": "
            "{\"field\": \"amount\"}, \"thresholds\": {\"low\": 100}},"
            "{\"id\": \"ratio\", \"module\": \"expression\", \"params\": {\"expr\": \"amount / "
            "balance\"}, \"thresholds\": {\"high\": 10}}],"
            "\"scorecards\": [{\"id\": \"sc\", \"parts\": [{\"rule\": \"big\", \"weight\": 2.5}, "
            "{\"rule\": \"ratio\", \"of\": \"measure\"}, {\"rule\": \"ratio\"}], "
            "\"thresholds\": {\"medium\": 3}}]}",
            MAX_BYTES);
    fx_add(&f, 0, 0,
           "{\"event_id\": \"a\", \"type\": \"t\", \"ts\": \"2026-11-27T00:00:00Z\", "
           "\"account\": \"ACC0012345678\", \"amount\": 200, \"balance\": 400}");
    fx_run(&f);
    const rw_item_t *it = &f.b->items[0];
    ck_assert_int_eq(it->level, RW_LEVEL_MEDIUM);
    char *a = rw_alert_build(f.b, it, 0);
    json_t *j = jparse(a);
    /* Keyed by the entity of its rules, not by the scorecard. */
    ck_assert_str_eq(json_string_value(json_object_get(j, "key")), "ACC001***5678");
    json_t *e = json_array_get(json_object_get(j, "rules"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(e, "id")), "sc");
    ck_assert_str_eq(json_string_value(json_object_get(e, "module")), "scorecard");
    ck_assert(json_number_value(json_object_get(e, "measure")) == 3);
    json_t *want =
        jparse("[{\"rule\": \"big\", \"of\": \"level\", \"weight\": 2.5, \"level\": \"low\", "
               "\"measure\": 200, \"score\": 2.5},"
               " {\"rule\": \"ratio\", \"of\": \"measure\", \"weight\": 1, \"level\": \"none\", "
               "\"measure\": 0.5, \"score\": 0.5},"
               " {\"rule\": \"ratio\", \"of\": \"level\", \"weight\": 1, \"level\": \"none\", "
               "\"measure\": 0.5, \"score\": 0}]");
    ck_assert_msg(json_equal(json_object_get(e, "parts"), want), "%s", a);
    json_decref(want);
    json_decref(j);
    free(a);
    fx_fini(&f);
}
END_TEST

START_TEST(test_eval_fence_per_partition) {
    fx_t f;
    fx_init(&f, RULES_FENCE, MAX_BYTES);
    add_tx(&f, 0, 10, "2026-11-27T10:00:00Z");
    add_tx(&f, 1, 10, "2026-11-27T10:00:01Z");
    add_tx(&f, 0, 11, "2026-11-27T10:00:02Z");
    add_tx(&f, 1, 11, "2026-11-27T10:00:03Z");
    fx_plan(&f);
    ck_assert_uint_eq(f.b->n_srcs, 2);
    uint32_t p0 = rw_batch_src(f.b, "events", 0);
    uint32_t p1 = rw_batch_src(f.b, "events", 1);
    ck_assert_uint_eq(f.b->n_srcs, 2);
    ck_assert_int_eq(f.b->srcs[p1].max_offset, 11);
    f.b->srcs[p0].fence = 11;
    fx_evaluate(&f);
    ck_assert(f.b->items[0].applied && f.b->items[2].applied);
    ck_assert(!f.b->items[1].applied && !f.b->items[3].applied);
    ck_assert_int_eq(incr_get(f.b, "events:2026-11-27", "transaction"), 2);
    rw_wstate_t *ws = window_of(f.b, "A");
    ck_assert_uint_eq(ws->n, 2);
    for (size_t i = 0; i < ws->n; i++)
        ck_assert_uint_eq(ws->meta[i].src, p1);
    fx_fini(&f);
}
END_TEST

/* A batch of one transaction of account A at 10:00 (partition 0, offset 10), planned:
 * its window of rule "cnt". */
static rw_wstate_t *fx_window_a(fx_t *f) {
    fx_init(f, RULES_FENCE, MAX_BYTES);
    add_tx(f, 0, 10, "2026-11-27T10:00:00Z");
    fx_plan(f);
    rw_wstate_t *ws = window_of(f->b, "A");
    ck_assert_ptr_nonnull(ws);
    return ws;
}

/* Entries loaded from a store: in the window when T - window < t <= T, and, from the same
 * partition, only when they came at or before this event's offset. */
START_TEST(test_eval_window_loaded_entries) {
    fx_t f;
    rw_wstate_t *ws = fx_window_a(&f);
    ck_assert_int_eq(ws->window_ms, 3600000);
    ck_assert_int_eq(ws->load_min_ms, ts_ms("2026-11-27T09:00:00Z"));
    uint32_t p0 = f.b->items[0].src;
    uint32_t p1 = rw_batch_src(f.b, "events", 1);
    rw_window_add(f.b, ws, ts_ms("2026-11-27T09:55:00Z"), p0, 5, "", false); /* in */
    rw_window_add(f.b, ws, ts_ms("2026-11-27T09:50:00Z"), p0, 12, "",
                  false); /* later offset: out */
    rw_window_add(f.b, ws, ts_ms("2026-11-27T09:58:00Z"), p1, 99, "", false); /* other partition */
    rw_window_add(f.b, ws, ts_ms("2026-11-27T09:00:00Z"), p1, 1, "", false);  /* T - window: out */
    rw_window_add(f.b, ws, ts_ms("2026-11-27T09:00:00.001Z"), p1, 2, "", false); /* in */
    rw_window_add(f.b, ws, ts_ms("2026-11-27T10:00:00.001Z"), p1, 3, "", false); /* after T: out */
    fx_evaluate(&f);
    const rw_hit_t *h = hit_of(f.b, &f.b->items[0], "cnt");
    ck_assert_ptr_nonnull(h);
    ck_assert_msg(h->measure == 4, "measure %g, want 4", h->measure);
    fx_fini(&f);
}
END_TEST

/* A window's values read as numbers exactly as strtod reads them (0 when not numbers). */
START_TEST(test_eval_window_values_as_numbers) {
    fx_t f;
    rw_wstate_t *ws = fx_window_a(&f);
    static const char *const fixed[] = {"",
                                        "0",
                                        "-0",
                                        "12.",
                                        ".5",
                                        "1e5",
                                        "+5",
                                        "-",
                                        "1.2.3",
                                        "007",
                                        "abc",
                                        "12a",
                                        "-0.07",
                                        "5567.44",
                                        "999999999999999",
                                        "1234567890123456",
                                        "0.1",
                                        "nan",
                                        "inf",
                                        "1e400"};
    char buf[64];
    uint64_t z = 7;
    size_t n0 = ws->n;
    for (int i = 0; i < 20000; i++) {
        const char *v = buf;
        if (i < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
            v = fixed[i];
        } else {
            z = z * 6364136223846793005ULL + 1442695040888963407ULL;
            int d = (int)((z >> 60) % 8);
            snprintf(buf, sizeof(buf), "%s%llu", (z >> 59) & 1 ? "-" : "",
                     (unsigned long long)((z >> 8) % 100000000000ULL));
            if (d) { /* put a decimal point d digits from the end */
                size_t l = strlen(buf);
                size_t dl = (size_t)d;
                if (dl < l) {
                    memmove(buf + l - dl + 1, buf + l - dl, dl + 1);
                    buf[l - dl] = '.';
                }
            }
        }
        rw_window_add(f.b, ws, ts_ms("2026-11-27T09:00:00Z") + i, 0, i, v, false);
        char *end;
        double want = strtod(v, &end);
        if (end == v || *end || !isfinite(want))
            want = 0;
        const rw_window_entry_t *e = &ws->ents[n0 + (size_t)i];
        ck_assert_msg(e->num == want || (e->num == 0 && want == 0),
                      "\"%s\" read as %.17g, want %.17g", v, e->num, want);
        ck_assert_str_eq(e->value, v);
    }
    fx_fini(&f);
}
END_TEST

/* Stores that reload per batch (Redis) clear the windows and evaluate again: same result. */
START_TEST(test_eval_evaluate_again_after_reload) {
    rw_ruleset_t *rs = rules_load(RULES_FENCE, "rules");
    rw_batch_t *b = rw_batch_new(MAX_BYTES, false);
    rw_batch_reset(b, rs);
    static const char *const ev[] = {
        "{\"event_id\": \"a\", \"type\": \"t\", \"ts\": \"2026-11-27T10:00:00Z\", \"account\": "
        "\"A\", \"amount\": 5}",
        "{\"event_id\": \"b\", \"type\": \"t\", \"ts\": \"2026-11-27T10:00:01Z\", \"account\": "
        "\"A\", \"amount\": 5}"};
    for (int i = 0; i < 2; i++) {
        rw_msg_t m = {"events", 0, i, ev[i], strlen(ev[i]), ARRIVAL_DEFAULT, 0, NULL, 0};
        rw_batch_add(b, &m);
    }
    rw_batch_plan(b);
    rw_batch_evaluate(b);
    ck_assert(hit_of(b, &b->items[1], "cnt")->measure == 2);
    ck_assert_int_eq(incr_get(b, "events:2026-11-27", "t"), 2);
    rw_wstate_t *ws = window_of(b, "A");
    ck_assert_uint_eq(ws->n, 2);
    ck_assert(ws->meta[0].fresh && ws->meta[1].fresh);
    rw_batch_clear_windows(b);
    rw_batch_evaluate(b);
    ck_assert(hit_of(b, &b->items[1], "cnt")->measure == 2);
    ck_assert_int_eq(incr_get(b, "events:2026-11-27", "t"), 2);
    ck_assert_uint_eq(ws->n, 2);
    rw_batch_destroy(b);
    rw_ruleset_destroy(rs);
}
END_TEST

/* Kept state keeps windows across batches of one ruleset, and forgets them for another. */
START_TEST(test_eval_windows_kept_per_ruleset) {
    fx_t f;
    fx_init(&f, RULES_FENCE, MAX_BYTES);
    add_tx(&f, 0, 0, "2026-11-27T10:00:00Z");
    fx_run(&f);
    fx_next(&f);
    add_tx(&f, 0, 1, "2026-11-27T10:00:01Z");
    fx_run(&f);
    ck_assert(hit_of(f.b, &f.b->items[0], "cnt")->measure == 2);
    rw_ruleset_t *other = rules_load(RULES_FENCE, "again");
    rw_batch_reset(f.b, other);
    fx_payloads_free(&f);
    add_tx(&f, 0, 2, "2026-11-27T10:00:02Z");
    fx_run(&f);
    ck_assert(hit_of(f.b, &f.b->items[0], "cnt")->measure == 1);
    rw_batch_reset(f.b, f.rs);
    rw_ruleset_destroy(other);
    fx_fini(&f);
}
END_TEST

/* ---- kept state ---------------------------------------------------------------------------- */

/* Runs one batch of the given payloads through a CACHED batch and the Redis store, each
 * message keyed by its account (keys[i]). */
static void state_batch(rw_batch_t *b, const rw_ruleset_t *rs, rw_store_t *st, char **payloads,
                        char **keys, size_t n, int64_t first_offset) {
    rw_batch_reset(b, rs);
    for (size_t i = 0; i < n; i++) {
        rw_msg_t m = {"events",
                      0,
                      first_offset + (int64_t)i,
                      payloads[i],
                      strlen(payloads[i]),
                      ARRIVAL_DEFAULT,
                      0,
                      keys[i],
                      strlen(keys[i])};
        rw_batch_add(b, &m);
    }
    h_batch_through(st, b);
}

#define RULES_WINDOWS                                                                              \
    "{\"ruleset\": \"t\", \"version\": \"1\", \"rules\": ["                                        \
    "{\"id\": \"cnt\", \"module\": \"window_count\", \"match\": {\"type\": \"t\"}, "               \
    "\"key\": \"account\", \"params\": {\"window\": \"1h\"}, \"thresholds\": {\"low\": 1}},"       \
    "{\"id\": \"sum\", \"module\": \"window_sum\", \"match\": {\"type\": \"t\"}, "                 \
    "\"key\": \"account\", \"params\": {\"field\": \"amount\", \"window\": \"1h\"}, "              \
    "\"thresholds\": {\"low\": 0}}]}"

/* Adds the same 60 messages (3 accounts, 2 partitions, one not JSON) to f, planning the
 * items added so far after every `every` of them (0: only at the end), and runs the batch. */
static void plan_steps_batch(fx_t *f, size_t every) {
    for (int i = 0; i < 60; i++) {
        char p[200];
        if (i == 17)
            snprintf(p, sizeof(p), "not json");
        else
            snprintf(p, sizeof(p),
                     "{\"event_id\": \"e%d\", \"type\": \"%s\", \"ts\": "
                     "\"2026-11-27T10:%02d:00Z\", \"account\": \"A%d\", \"amount\": %d}",
                     i, i % 7 ? "t" : "u", i, i % 3, i * 10);
        fx_add(f, i % 2, i / 2, p);
        if (every && (size_t)(i + 1) % every == 0)
            rw_batch_plan_some(f->b);
    }
    fx_run(f);
}

/* A plan made in steps while a batch is added plans what one made at the end does, and the
 * batch's outcome is the same; a plan ended is made anew by the next one. */
START_TEST(test_eval_plan_in_steps) {
    fx_t whole, steps;
    fx_init(&whole, RULES_WINDOWS, MAX_BYTES);
    fx_init(&steps, RULES_WINDOWS, MAX_BYTES);
    plan_steps_batch(&whole, 0);
    plan_steps_batch(&steps, 7);
    ck_assert_uint_eq(steps.b->n_cands, whole.b->n_cands);
    ck_assert_uint_gt(whole.b->n_cands, 60);
    size_t n_hits = 0;
    for (size_t i = 0; i < whole.b->n_items; i++) {
        const rw_item_t *a = &whole.b->items[i], *b = &steps.b->items[i];
        ck_assert_uint_eq(b->n_hits, a->n_hits);
        for (size_t h = 0; h < a->n_hits; h++) {
            const rw_hit_t *x = &whole.b->hits[a->hit_off + h], *y = &steps.b->hits[b->hit_off + h];
            ck_assert_uint_eq(y->rule, x->rule);
            ck_assert_int_eq(y->level, x->level);
            ck_assert(y->measure == x->measure);
        }
        n_hits += a->n_hits;
    }
    ck_assert_uint_gt(n_hits, 60);
    /* A2 (i % 3 == 2) of type t (i % 7 != 0), 20 of them, less 14, 35, 56 and the one not JSON. */
    ck_assert(hit_of(steps.b, &steps.b->items[59], "cnt")->measure == 16);
    /* Planned again after its end: the same candidates, not twice as many. */
    size_t n = steps.b->n_cands;
    rw_batch_plan(steps.b);
    ck_assert_uint_eq(steps.b->n_cands, n);
    fx_fini(&whole);
    fx_fini(&steps);
}
END_TEST

/* The plan's look-ahead fetches the state of the key that most rules with windows of their
 * own share: chosen when the batch takes a ruleset, those rules listed (a window that rules
 * share once), and chosen again for the next ruleset. Rules without a window, on a composite
 * key or on no key do not count. */
#define AHEAD_RULE(id, module, key, params)                                                        \
    "{\"id\": \"" id "\", \"module\": \"" module "\", \"match\": {\"type\": \"t\"}, \"key\": " key \
    ", \"params\": " params ", \"thresholds\": {\"low\": 1}}"
#define AHEAD_RULES(version, rules)                                                                \
    "{\"ruleset\": \"t\", \"version\": \"" version "\", \"rules\": [" rules "]}"
#define AHEAD_WINDOW "{\"window\": \"1h\"}"
#define AHEAD_VALUE "{\"field\": \"amount\"}"
#define AHEAD_DEV AHEAD_RULE("dev", "window_count", "\"device_id\"", AHEAD_WINDOW)
#define AHEAD_PAIR AHEAD_RULE("pair", "window_count", "[\"device_id\", \"account\"]", AHEAD_WINDOW)
#define AHEAD_CNT AHEAD_RULE("cnt", "window_count", "\"account\"", AHEAD_WINDOW)
#define AHEAD_BIG AHEAD_RULE("big", "value", "\"account\"", AHEAD_VALUE)
#define AHEAD_SUM                                                                                  \
    AHEAD_RULE("sum", "window_sum", "\"account\"", "{\"field\": \"amount\", \"window\": \"1h\"}")
#define AHEAD_DEV2 AHEAD_RULE("dev2", "window_count", "\"device_id\"", AHEAD_WINDOW)
#define AHEAD_CNT2 AHEAD_RULE("cnt2", "window_count", "\"account\"", AHEAD_WINDOW)
START_TEST(test_eval_ahead_key) {
    static const char text[] =
        AHEAD_RULES("1", AHEAD_DEV ", " AHEAD_PAIR ", " AHEAD_CNT ", " AHEAD_BIG ", " AHEAD_SUM
                                   ", " AHEAD_DEV2 ", " AHEAD_CNT2);
    rw_ruleset_t *rs = rules_load(text, "rules");
    rw_batch_t *b = rw_batch_new(MAX_BYTES, RW_STATE_MEMORY);
    rw_batch_reset(b, rs);
    ck_assert_ptr_nonnull(b->ahead_key);
    ck_assert_str_eq(b->ahead_key->path, "account");
    /* cnt2 reads cnt's window (the same module, key, match and params): fetched once. */
    ck_assert_uint_eq(rs->rules[6].window_of, 2);
    ck_assert_uint_eq(b->n_ahead_rules, 2);
    ck_assert_uint_eq(b->ahead_rules[0], 2); /* cnt */
    ck_assert_uint_eq(b->ahead_rules[1], 4); /* sum */
    /* Another ruleset: its own choice (device_id, the first of two that tie). */
    rw_ruleset_t *rs2 = rules_load(AHEAD_RULES("2", AHEAD_DEV ", " AHEAD_CNT), "rules");
    rw_batch_reset(b, rs2);
    ck_assert_str_eq(b->ahead_key->path, "device_id");
    ck_assert_uint_eq(b->n_ahead_rules, 1);
    ck_assert_uint_eq(b->ahead_rules[0], 0);
    /* No window at all: no look-ahead. */
    rw_ruleset_t *rs3 = rules_load(AHEAD_RULES("3", AHEAD_BIG), "rules");
    rw_batch_reset(b, rs3);
    ck_assert_ptr_null(b->ahead_key);
    ck_assert_uint_eq(b->n_ahead_rules, 0);
    rw_batch_destroy(b);
    rw_ruleset_destroy(rs);
    rw_ruleset_destroy(rs2);
    rw_ruleset_destroy(rs3);
}
END_TEST

/* A million accounts, each seen once, under a limit of 20,000 entries: what is held stays
 * within the limit, and the process's memory stops growing once the limit is reached. */
/* A CACHED batch over the Redis store on an empty redis-server, with a ruleset of
 * RULES_WINDOWS, and a batch's worth of payload and key buffers. */
enum { STATE_BATCH = 512 };
typedef struct state_fx {
    rw_ruleset_t *rs;
    rw_batch_t *b;
    rw_store_t *st;
    char *payloads[STATE_BATCH], *keys[STATE_BATCH];
} state_fx_t;

static void state_fx_init(state_fx_t *f) {
    f->rs = rules_load(RULES_WINDOWS, "rules");
    f->b = rw_batch_new(MAX_BYTES, RW_STATE_CACHED);
    rw_redis_opts_t o = {"127.0.0.1", g_redis.port, NULL, NULL, 0, "rw:", "state", 5000, 0};
    f->st = rw_redisstore_new(&o);
    redisContext *rc = h_redis(g_redis.port);
    /* ASYNC: the keys of the test before (a million windows) are freed behind the
     * server's back, not in a wait a loaded machine stretches past the timeout. */
    freeReplyObject(redisCommand(rc, "FLUSHALL ASYNC"));
    redisFree(rc);
    for (size_t i = 0; i < STATE_BATCH; i++) {
        f->payloads[i] = malloc(200);
        f->keys[i] = malloc(32);
        ck_assert(f->payloads[i] && f->keys[i]);
    }
}

static void state_fx_fini(state_fx_t *f) {
    for (size_t i = 0; i < STATE_BATCH; i++) {
        free(f->payloads[i]);
        free(f->keys[i]);
    }
    f->st->destroy(f->st);
    rw_batch_destroy(f->b);
    rw_ruleset_destroy(f->rs);
}

START_TEST(test_eval_state_bounded) {
    bool sanitized = getenv("RW_SANITIZED") != NULL;
    size_t total = sanitized ? 100000 : 1000000, limit = 20000;
    state_fx_t f;
    state_fx_init(&f);
    enum { BATCH = STATE_BATCH };
    long rss_at_limit = 0, rss_max = 0;
    size_t held_max = 0;
    for (size_t done = 0; done < total; done += BATCH) {
        for (size_t i = 0; i < BATCH; i++) {
            size_t k = done + i;
            snprintf(f.keys[i], 32, "A%07zu", k);
            snprintf(f.payloads[i], 200,
                     "{\"event_id\": \"e%zu\", \"type\": \"t\", \"ts\": "
                     "\"2026-11-27T10:%02zu:%02zu.%03zuZ\", \"account\": \"%s\", \"amount\": 5}",
                     k, k / 60000 % 60, k / 1000 % 60, k % 1000, f.keys[i]);
        }
        state_batch(f.b, f.rs, f.st, f.payloads, f.keys, BATCH, (int64_t)done);
        rw_batch_evict(f.b, limit);
        if (f.b->n_entries > held_max)
            held_max = f.b->n_entries;
        long rss = h_rss_kib(getpid());
        if (done >= total / 5 && !rss_at_limit)
            rss_at_limit = rss;
        if (rss > rss_max)
            rss_max = rss;
    }
    /* Evicted after a batch: the limit, plus the batch's own entries until then. */
    ck_assert_msg(held_max <= limit + 3 * BATCH, "held %zu entries, limit %zu", held_max, limit);
    if (!sanitized) /* AddressSanitizer's quarantine keeps freed memory */
        ck_assert_msg(rss_max <= rss_at_limit + rss_at_limit / 10 + 4096,
                      "RSS grew from %ld kB (a fifth of the way) to %ld kB", rss_at_limit, rss_max);
    state_fx_fini(&f);
}
END_TEST

/* Windows touched longest ago go first: batches of new accounts, with account A0 touched
 * again in every batch, under a limit a few batches hold. The last batch's windows and A0's
 * are held; the first batches' are not. */
static bool account_held(const rw_batch_t *b, const char *account) {
    char id[256], pseudonym[RW_PSEUDONYM_LEN + 1];
    rw_pseudonym(account, strlen(account), pseudonym); /* account is masked */
    snprintf(id, sizeof(id), "%.200s:%s", b->rs->rules[0].state_id, pseudonym);
    return rw_batch_window(RW_UNCONST(rw_batch_t *, b), id) != NULL;
}

START_TEST(test_eval_state_evicts_oldest) {
    state_fx_t f;
    state_fx_init(&f);
    enum { BATCH = 256, BATCHES = 40 };
    size_t limit = 8 * 4 * BATCH; /* 2 windows of 1 entry an event: 4 entries */
    for (size_t n = 0; n < BATCHES; n++) {
        for (size_t i = 0; i < BATCH; i++) {
            size_t k = n * BATCH + i;
            snprintf(f.keys[i], 32, i == 0 ? "A0" : "A%zu", k);
            snprintf(f.payloads[i], 200,
                     "{\"event_id\": \"e%zu\", \"type\": \"t\", \"ts\": "
                     "\"2026-11-27T10:%02zu:%02zu.%03zuZ\", \"account\": \"%s\", \"amount\": 5}",
                     k, k / 60000 % 60, k / 1000 % 60, k % 1000, f.keys[i]);
        }
        state_batch(f.b, f.rs, f.st, f.payloads, f.keys, BATCH, (int64_t)(n * BATCH));
        rw_batch_evict(f.b, limit);
        ck_assert_uint_le(f.b->n_entries, limit);
    }
    ck_assert(account_held(f.b, "A0"));
    char account[32];
    for (size_t i = 1; i < BATCH; i++) {
        snprintf(account, sizeof(account), "A%zu", (BATCHES - 1) * BATCH + i);
        ck_assert_msg(account_held(f.b, account), "%s was dropped", account);
        snprintf(account, sizeof(account), "A%zu", i);
        ck_assert_msg(!account_held(f.b, account), "%s is held", account);
    }
    state_fx_fini(&f);
}
END_TEST

/* Entries no event needs go before any window: 256 accounts, one event each an hour, so that
 * each 1 h window holds a dozen entries of which the two newest are within its grace, too few
 * for it to trim itself. Past the limit every window stays, trimmed to what it needs. */
START_TEST(test_eval_state_trims_before_evicting) {
    state_fx_t f;
    state_fx_init(&f);
    enum { BATCH = 256, BATCHES = 12 };
    size_t limit = 2 * BATCH * 7; /* 2 windows an account, each of 6 entries and itself */
    size_t dropped = 0;
    for (size_t n = 0; n < BATCHES; n++) {
        for (size_t i = 0; i < BATCH; i++) {
            snprintf(f.keys[i], 32, "A%zu", i);
            snprintf(f.payloads[i], 200,
                     "{\"event_id\": \"e%zu-%zu\", \"type\": \"t\", \"ts\": "
                     "\"2026-11-27T%02zu:%02zu:%02zuZ\", \"account\": \"%s\", \"amount\": 5}",
                     n, i, n, i / 60, i % 60, f.keys[i]);
        }
        state_batch(f.b, f.rs, f.st, f.payloads, f.keys, BATCH, (int64_t)(n * BATCH));
        dropped += rw_batch_evict(f.b, limit);
        ck_assert_uint_le(f.b->n_entries, limit);
    }
    ck_assert_uint_eq(dropped, 0);
    ck_assert_uint_eq(f.b->n_windows, 2 * BATCH);
    char account[32];
    for (size_t i = 0; i < BATCH; i++) {
        snprintf(account, sizeof(account), "A%zu", i);
        ck_assert_msg(account_held(f.b, account), "%s was dropped", account);
    }
    state_fx_fini(&f);
}
END_TEST

/* One hot account: a window of thousands of entries gives the same count and sum as a
 * loop over the events, also when some come late, and after being read back from Redis. */
START_TEST(test_eval_state_hot_key) {
    state_fx_t f;
    state_fx_init(&f);
    enum { BATCH = 256, N = 6144 };
    static int64_t ts[N];
    static double amount[N];
    int64_t t0 = ts_ms("2026-11-27T10:00:00Z");
    for (size_t k = 0; k < N; k++) {
        /* About 3,000 events an hour; every 7th comes 5 minutes late. */
        ts[k] = t0 + (int64_t)k * 1200 - (k % 7 == 3 ? 300000 : 0);
        amount[k] = (double)(k % 97) + 0.01 * (double)(k % 13);
    }
    for (size_t i = 0; i < BATCH; i++)
        snprintf(f.keys[i], 32, "HOT");
    for (size_t done = 0; done < N; done += BATCH) {
        for (size_t i = 0; i < BATCH; i++) {
            char t[40];
            rw_time_format(ts[done + i], t, sizeof(t));
            snprintf(f.payloads[i], 200,
                     "{\"event_id\": \"e%zu\", \"type\": \"t\", \"ts\": \"%s\", \"account\": "
                     "\"HOT\", \"amount\": %.2f}",
                     done + i, t, amount[done + i]);
        }
        state_batch(f.b, f.rs, f.st, f.payloads, f.keys, BATCH, (int64_t)done);
        for (size_t i = 0; i < BATCH; i++) {
            size_t k = done + i;
            double cnt = 0, sum = 0;
            for (size_t j = 0; j <= k; j++)
                if (ts[j] > ts[k] - 3600000 && ts[j] <= ts[k]) {
                    cnt++;
                    sum += amount[j];
                }
            const rw_hit_t *h = hit_of(f.b, &f.b->items[i], "cnt");
            ck_assert_msg(h && h->measure == cnt, "event %zu: count %g, want %g", k,
                          h ? h->measure : -1, cnt);
            h = hit_of(f.b, &f.b->items[i], "sum");
            ck_assert_msg(h && fabs(h->measure - sum) < 1e-6, "event %zu: sum %.6f, want %.6f", k,
                          h ? h->measure : -1, sum);
        }
        if (done == N / 2)
            rw_batch_evict(f.b, 1); /* read back from Redis halfway */
    }
    state_fx_fini(&f);
}
END_TEST

/* Resets the batch to n messages of one account, one a minute from 10:00 + first minutes
 * (offsets first to first + n - 1). */
static void lost_batch(state_fx_t *f, size_t first, size_t n) {
    int64_t t0 = ts_ms("2026-11-27T10:00:00Z");
    rw_batch_reset(f->b, f->rs);
    for (size_t i = 0; i < n; i++) {
        size_t k = first + i;
        char t[40];
        rw_time_format(t0 + (int64_t)k * 60000, t, sizeof(t));
        snprintf(f->payloads[i], 200,
                 "{\"event_id\": \"e%zu\", \"type\": \"t\", \"ts\": \"%s\", \"account\": "
                 "\"HOT\", \"amount\": 1}",
                 k, t);
        snprintf(f->keys[i], 32, "HOT");
        rw_msg_t m = {
            "events",   0, (int64_t)k, f->payloads[i], strlen(f->payloads[i]), ARRIVAL_DEFAULT, 0,
            f->keys[i], 3};
        rw_batch_add(f->b, &m);
    }
}

/* Redis loses its state after a batch whose events span four hours of one account (so
 * that the held window is trimmed while it is evaluated): the batch read again after the
 * write-back sees, for its first events, the entries of the batch before it, as it did
 * the first time. */
START_TEST(test_eval_state_lost_redo) {
    state_fx_t f;
    state_fx_init(&f);
    rw_error_t err;
    rw_error_clear(&err);
    enum { N = 240 };
    for (int i = 0; i < 2; i++) { /* 10:00 to 10:09, then 10:10 to 14:09 */
        lost_batch(&f, i ? 10 : 0, i ? N : 10);
        h_batch_through(f.st, f.b);
    }
    redisContext *rc = h_redis(g_redis.port);
    freeReplyObject(redisCommand(rc, "FLUSHALL"));
    redisFree(rc);
    lost_batch(&f, 10, N);
    rw_batch_plan(f.b);
    ck_assert_int_eq(f.st->load(f.st, f.b, &err), RW_ERR_STATE_LOST);
    ck_assert_msg(f.st->restored, "%s", err.text);
    ck_assert_msg(f.st->load(f.st, f.b, &err) == 0, "%s", err.text);
    rw_batch_evaluate(f.b);
    for (size_t i = 0; i < N; i++) {
        size_t k = 10 + i; /* the events of the last hour, itself included */
        double want = k < 59 ? (double)k + 1 : 60;
        const rw_hit_t *h = hit_of(f.b, &f.b->items[i], "cnt");
        ck_assert_msg(h && h->measure == want, "event %zu read again: count %g, want %g", k,
                      h ? h->measure : -1, want);
    }
    state_fx_fini(&f);
}
END_TEST

static Suite *eval_suite(void) {
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("golden");
    tcase_add_test(tc, test_eval_golden_cases_found);
    tcase_add_loop_test(tc, test_eval_golden, 0, (int)g_n_cases);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadletter");
    tcase_add_test(tc, test_eval_deadletter_reasons);
    tcase_add_test(tc, test_eval_deadletter_oversize);
    tcase_add_test(tc, test_eval_deadletter_nul_bytes);
    tcase_add_test(tc, test_eval_nul_in_key_not_scored);
    suite_add_tcase(s, tc);

    tc = tcase_create("alerts");
    tcase_add_test(tc, test_eval_counters_in_batch);
    tcase_add_test(tc, test_eval_counters_off);
    tcase_add_test(tc, test_eval_window_sums_made_late);
    tcase_add_test(tc, test_eval_window_runs_with_late_events);
    tcase_add_loop_test(tc, test_eval_window_shared_by_rules, 0, 2);
    tcase_add_test(tc, test_eval_window_shared_member_takes_the_events_window);
    tcase_add_test(tc, test_eval_window_state_names);
    tcase_add_test(tc, test_eval_window_shared_across_modules);
    tcase_add_test(tc, test_eval_lookups_across_batches);
    tcase_add_test(tc, test_eval_alert_fields);
    tcase_add_test(tc, test_eval_alert_real_measure_and_no_key);
    tcase_add_test(tc, test_eval_alert_id_deterministic);
    tcase_add_test(tc, test_eval_alert_same_on_reread);
    suite_add_tcase(s, tc);

    tc = tcase_create("fences");
    tcase_add_test(tc, test_eval_fence_applied_items);
    tcase_add_test(tc, test_eval_fence_per_partition);
    tcase_add_test(tc, test_eval_skips_counted_by_rule_and_reason);
    tcase_add_test(tc, test_eval_sample_report);
    tcase_add_test(tc, test_eval_scorecard_alert_parts);
    tcase_add_test(tc, test_eval_window_loaded_entries);
    tcase_add_test(tc, test_eval_window_values_as_numbers);
    tcase_add_test(tc, test_eval_evaluate_again_after_reload);
    tcase_add_test(tc, test_eval_windows_kept_per_ruleset);
    suite_add_tcase(s, tc);

    tc = tcase_create("state");
    tcase_add_test(tc, test_eval_state_hot_key);
    tcase_add_test(tc, test_eval_plan_in_steps);
    tcase_add_test(tc, test_eval_ahead_key);
    tcase_add_test(tc, test_eval_state_bounded);
    tcase_add_test(tc, test_eval_state_evicts_oldest);
    tcase_add_test(tc, test_eval_state_trims_before_evicting);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);

    tc = tcase_create("state_lost");
    tcase_add_test(tc, test_eval_state_lost_redo);
    suite_add_tcase(s, tc);
    return s;
}

static int eval_setup(void) {
    rw_jarena_install(); /* as the engine runs: events parsed into the batch's arena */
    cases_collect();
    rw_error_t err;
    rw_error_clear(&err);
    if (rw_proc_redis_start(&g_redis, NULL, 10000, &err) != 0) {
        fprintf(stderr, "check_eval: %s\n", err.text);
        return -1;
    }
    return 0;
}

static void eval_teardown(void) {
    rw_proc_redis_stop(&g_redis);
    cases_free();
}

int main(void) { return h_main_around(eval_suite, eval_setup, eval_teardown); }
