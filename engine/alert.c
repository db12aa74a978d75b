#include "alert.h"

#include "jwrite.h"
#include "pseudonym.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building: an alert's JSON text, id and key -------------------------------------------- */

void rw_alert_id(const rw_ruleset_t *rs, const char *event_id, int level, char out[33]) {
    rw_buf_t b;
    rw_buf_init(&b);
    rw_buf_puts(&b, rs->name);
    rw_buf_append(&b, "", 1);
    rw_buf_puts(&b, rs->version);
    rw_buf_append(&b, "", 1);
    rw_buf_puts(&b, event_id);
    rw_buf_append(&b, "", 1);
    rw_buf_puts(&b, rw_level_name(level));
    uint8_t dig[32];
    rw_sha256(b.data, b.len, dig);
    rw_hex(dig, 16, out);
    rw_buf_fini(&b);
}

/* The key's text as the event has it (the state holds masked fields' pseudonyms), or -1. */
static int plain_key(const rw_batch_t *b, const rw_item_t *it, char *buf, size_t len) {
    if (it->key_off == SIZE_MAX || it->key_rule < 0 || !it->event)
        return -1;
    return rw_field_plain_text(rw_batch_event(b, it), b->rs->rules[it->key_rule].key, buf, len);
}

static char *masked_key(const rw_batch_t *b, const rw_item_t *it) {
    char plain[RW_RECORD_MAX];
    if (plain_key(b, it, plain, sizeof(plain)) < 0)
        return NULL;
    return rw_key_mask(b->rs, b->rs->rules[it->key_rule].key, plain);
}

/* The alert's entity_ref: the keyed pseudonym of its key's text. */
static bool entity_ref(const rw_batch_t *b, const rw_item_t *it, char ref[RW_PSEUDONYM_LEN + 1]) {
    char plain[RW_RECORD_MAX];
    int n = plain_key(b, it, plain, sizeof(plain));
    if (n < 0)
        return false;
    rw_pseudonym(plain, (size_t)n, ref);
    return true;
}

/* A case's entity_ref: its key text is a pseudonym already when the key is a masked field. */
static void case_entity_ref(const rw_batch_t *b, const rw_case_alert_t *ca,
                            char ref[RW_PSEUDONYM_LEN + 1]) {
    const rw_field_t *kf = b->rs->rules[ca->kase->rule].case_key;
    const char *text = strchr(ca->kase->id, ':') + 1;
    if (kf->pseudonym && !kf->n_subs && strlen(text) == RW_PSEUDONYM_LEN)
        memcpy(ref, text, RW_PSEUDONYM_LEN + 1);
    else
        rw_pseudonym(text, strlen(text), ref);
}

char *rw_alert_key(const rw_batch_t *b, const rw_item_t *it) {
    char ref[RW_PSEUDONYM_LEN + 1];
    if (!entity_ref(b, it, ref))
        return rw_strdup(it->type ? it->type : "");
    const rw_rule_t *r = &b->rs->rules[it->key_rule];
    rw_buf_t k;
    rw_buf_init(&k);
    rw_buf_printf(&k, "%s:%s", r->key->path, ref);
    return rw_buf_take(&k);
}

/* Case alerts name the rule too: one opening event may also have its own
 * alert at the same level, and several case rules may watch it. */
static void case_alert_id(const rw_batch_t *b, const rw_case_alert_t *ca, char out[33]) {
    const rw_rule_t *r = &b->rs->rules[ca->kase->rule];
    char eid[600];
    snprintf(eid, sizeof(eid), "%s#%s", json_string_value(json_object_get(ca->rec, "i")), r->id);
    rw_alert_id(b->rs, eid, ca->level, out);
}

static char *case_masked_key(const rw_batch_t *b, const rw_case_alert_t *ca) {
    const rw_rule_t *r = &b->rs->rules[ca->kase->rule];
    return rw_key_mask(b->rs, r->case_key, strchr(ca->kase->id, ':') + 1);
}

char *rw_alert_case_key(const rw_batch_t *b, const rw_case_alert_t *ca) {
    const rw_rule_t *r = &b->rs->rules[ca->kase->rule];
    char ref[RW_PSEUDONYM_LEN + 1];
    case_entity_ref(b, ca, ref);
    rw_buf_t k;
    rw_buf_init(&k);
    rw_buf_printf(&k, "%s:%s", r->case_key->path, ref);
    return rw_buf_take(&k);
}

/* A key (with the punctuation before it) and a string value. */
static void put_kv(rw_buf_t *o, const char *key, const char *s);
/* A key (with the punctuation before it) and a JSON value. */
static void put_kj(rw_buf_t *o, const char *key, const json_t *v);
static void put_measure(rw_buf_t *o, double x);

/* The text json_dumps gives the object of a case's alert, written without building it; "{}"
 * where that object could not be built (a part of the case's record missing). */
char *rw_alert_case_build(const rw_batch_t *b, const rw_case_alert_t *ca, int64_t emitted_ms) {
    const rw_ruleset_t *rs = b->rs;
    const rw_rule_t *r = &rs->rules[ca->kase->rule];
    const json_t *rec = ca->rec;
    const json_t *ei = json_object_get(rec, "i"), *et = json_object_get(rec, "t"),
                 *es = json_object_get(rec, "s"), *ee = json_object_get(rec, "e");
    if (!ei || !et || !es || !ee || !r->thresholds || !isfinite(ca->measure))
        return rw_strdup("{}");
    char *mk = case_masked_key(b, ca);
    if (!mk)
        return rw_strdup("{}");
    char id[33], em[40], at[40];
    case_alert_id(b, ca, id);
    rw_time_format(emitted_ms, em, sizeof(em));
    rw_time_format(ca->at_ms, at, sizeof(at));
    char ref[RW_PSEUDONYM_LEN + 1];
    case_entity_ref(b, ca, ref);
    rw_buf_t o;
    rw_buf_init(&o);
    put_kv(&o, "{\"alert_id\":", id);
    put_kv(&o, ",\"level\":", rw_level_name(ca->level));
    put_kj(&o, ",\"event_id\":", ei);
    put_kj(&o, ",\"event_type\":", et);
    put_kj(&o, ",\"event_ts\":", es);
    put_kv(&o, ",\"emitted_at\":", em);
    put_kv(&o, ",\"key\":", mk);
    put_kv(&o, ",\"entity_ref\":", ref);
    put_kv(&o, ",\"ruleset\":", rs->name);
    put_kv(&o, ",\"ruleset_version\":", rs->version);
    put_kv(&o, ",\"rules\":[{\"id\":", r->id);
    put_kv(&o, ",\"module\":", r->module->name);
    put_kv(&o, ",\"level\":", rw_level_name(ca->level));
    rw_buf_puts(&o, ",\"measure\":");
    put_measure(&o, ca->measure);
    put_kj(&o, ",\"thresholds\":", r->thresholds);
    put_kv(&o, ",\"as_of\":", at);
    put_kj(&o, ",\"opened\":{\"event_id\":", ei);
    put_kj(&o, ",\"event_ts\":", es);
    put_kj(&o, "}}],\"event\":", ee);
    rw_buf_puts(&o, "}");
    free(mk);
    return rw_buf_take(&o);
}

static void put_kv(rw_buf_t *o, const char *key, const char *s) {
    rw_buf_puts(o, key);
    rw_json_write_string(o, s, strlen(s));
}

static void put_kj(rw_buf_t *o, const char *key, const json_t *v) {
    rw_buf_puts(o, key);
    rw_json_write(o, v);
}

/* A measure as jansson writes it: an integer when it is one. */
static void put_measure(rw_buf_t *o, double x) {
    if (x == floor(x) && fabs(x) < 9e15)
        rw_buf_printf(o, "%lld", (long long)x);
    else
        rw_json_write_real(o, x);
}

/* A scorecard's parts in its alert entry: each rule, its weight, what it reached and
 * what it added to the score. */
static void put_parts(rw_buf_t *o, const rw_batch_t *b, const rw_rule_t *sc, size_t off) {
    rw_buf_puts(o, ",\"parts\":[");
    for (size_t k = 0; k < sc->n_parts; k++) {
        const rw_score_part_t *p = &sc->parts[k];
        const rw_part_val_t *v = &b->part_vals[off + k];
        put_kv(o, k ? ",{\"rule\":" : "{\"rule\":", b->rs->rules[p->rule].id);
        put_kv(o, ",\"of\":", p->of_measure ? "measure" : "level");
        rw_buf_puts(o, ",\"weight\":");
        put_measure(o, p->weight);
        put_kv(o, ",\"level\":", rw_level_name(v->level));
        if (v->measured) {
            rw_buf_puts(o, ",\"measure\":");
            put_measure(o, v->measure);
        }
        rw_buf_puts(o, ",\"score\":");
        put_measure(o, v->measured ? p->weight * (p->of_measure ? v->measure : v->level) : 0);
        rw_buf_puts(o, "}");
    }
    rw_buf_puts(o, "]");
}

char *rw_alert_build(const rw_batch_t *b, const rw_item_t *it, int64_t emitted_ms) {
    const rw_ruleset_t *rs = b->rs;
    char id[33], ts[40], em[40];
    rw_alert_id(rs, it->event_id, it->level, id);
    rw_time_format(emitted_ms, em, sizeof(em));
    const json_t *ev = rw_batch_event(b, it);
    snprintf(ts, sizeof(ts), "%s", json_string_value(json_object_get(ev, "ts")));
    rw_buf_t o;
    rw_buf_init(&o);
    put_kv(&o, "{\"alert_id\":", id);
    put_kv(&o, ",\"level\":", rw_level_name(it->level));
    put_kv(&o, ",\"event_id\":", it->event_id);
    put_kv(&o, ",\"event_type\":", it->type);
    put_kv(&o, ",\"event_ts\":", ts);
    put_kv(&o, ",\"emitted_at\":", em);
    char *mk = masked_key(b, it);
    char ref[RW_PSEUDONYM_LEN + 1];
    if (mk && entity_ref(b, it, ref)) {
        put_kv(&o, ",\"key\":", mk);
        put_kv(&o, ",\"entity_ref\":", ref);
    } else {
        rw_buf_puts(&o, ",\"key\":null,\"entity_ref\":null");
    }
    free(mk);
    put_kv(&o, ",\"ruleset\":", rs->name);
    put_kv(&o, ",\"ruleset_version\":", rs->version);
    rw_buf_puts(&o, ",\"rules\":[");
    for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++) {
        const rw_hit_t *hit = &b->hits[h];
        const rw_rule_t *r = &rs->rules[hit->rule];
        put_kv(&o, h == it->hit_off ? "{\"id\":" : ",{\"id\":", r->id);
        put_kv(&o, ",\"module\":", r->module->name);
        put_kv(&o, ",\"level\":", rw_level_name(hit->level));
        rw_buf_puts(&o, ",\"measure\":");
        put_measure(&o, hit->measure);
        rw_buf_puts(&o, ",\"thresholds\":");
        rw_json_write(&o, r->thresholds);
        if (r->window_ms > 0)
            rw_buf_printf(&o, ",\"window_ms\":%lld", (long long)r->window_ms);
        if (hit->suppressed > 0)
            rw_buf_printf(&o, ",\"suppressed\":%lld", (long long)hit->suppressed);
        if (hit->parts_off != SIZE_MAX)
            put_parts(&o, b, r, hit->parts_off);
        rw_buf_puts(&o, "}");
    }
    rw_buf_puts(&o, "],\"event\":");
    rw_ruleset_write_masked(&o, rs, ev);
    rw_buf_puts(&o, "}");
    return rw_buf_take(&o);
}

/* ---- formatting: one line for people -------------------------------------------------------- */

static const char *level_color(const char *level) {
    if (strcmp(level, "high") == 0)
        return "\033[1;31m";
    if (strcmp(level, "medium") == 0)
        return "\033[33m";
    return "\033[36m";
}

static void put_number(rw_buf_t *out, const json_t *v) {
    if (json_is_integer(v))
        rw_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        rw_buf_printf(out, "%.2f", json_real_value(v));
    else
        rw_buf_puts(out, "?");
}

/* as_of (a UTC time) written in the UTC offset of ref ("...+08:00"), so that a
 * deadline's time reads like its events'; as it is when either cannot be read. */
static const char *in_offset_of(const char *as_of, const char *ref, char *buf, size_t len) {
    size_t rl = ref ? strlen(ref) : 0;
    int64_t ms;
    int off;
    if (rl < 6 || (ref[rl - 6] != '+' && ref[rl - 6] != '-') ||
        rw_utc_offset_parse(ref + rl - 6, &off) || rw_time_parse(as_of, strlen(as_of), &ms))
        return as_of;
    char t[40];
    rw_time_format(ms + (int64_t)off * 60000, t, sizeof(t));
    snprintf(buf, len, "%.19s%s", t, ref + rl - 6); /* "YYYY-MM-DDTHH:MM:SS" and the offset */
    return buf;
}

int rw_alert_line(const char *json, size_t len, bool color, rw_buf_t *out) {
    json_error_t je;
    json_t *a = json_loadb(json, len, 0, &je);
    if (!json_is_object(a)) {
        json_decref(a);
        return -1;
    }
    const char *level = json_string_value(json_object_get(a, "level"));
    const char *ts = json_string_value(json_object_get(a, "event_ts"));
    const char *type = json_string_value(json_object_get(a, "event_type"));
    const char *id = json_string_value(json_object_get(a, "event_id"));
    const char *key = json_string_value(json_object_get(a, "key"));
    /* A deadline alert names the event that opened its case; its time is when
     * the deadline passed (event time), so that lines follow the stream. */
    const char *as_of =
        json_string_value(json_object_get(json_array_get(json_object_get(a, "rules"), 0), "as_of"));
    const char *opened = as_of ? ts : NULL;
    char at[48];
    if (as_of)
        ts = in_offset_of(as_of, opened, at, sizeof(at));
    if (!level)
        level = "?";
    char up[8];
    size_t n = strlen(level) < 6 ? strlen(level) : 6;
    for (size_t i = 0; i < n; i++)
        up[i] = (char)(level[i] >= 'a' && level[i] <= 'z' ? level[i] - 32 : level[i]);
    up[n] = 0;
    rw_buf_printf(out, "%s%-6s%s %s %-11s %-18s key=%s", color ? level_color(level) : "", up,
                  color ? "\033[0m" : "", ts ? ts : "?", type ? type : "?", id ? id : "?",
                  key ? key : "-");
    json_t *rules = json_object_get(a, "rules");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        const char *rid = json_string_value(json_object_get(r, "id"));
        const char *rl = json_string_value(json_object_get(r, "level"));
        json_t *th = json_object_get(json_object_get(r, "thresholds"), rl ? rl : "");
        rw_buf_printf(out, "%s%s[%s]=", i ? ", " : "  ", rid ? rid : "?", rl ? rl : "?");
        put_number(out, json_object_get(r, "measure"));
        if (th) {
            rw_buf_puts(out, " (");
            rw_buf_puts(out, rl ? rl : "?");
            rw_buf_puts(out, " at ");
            put_number(out, th);
            rw_buf_puts(out, ")");
        }
    }
    if (opened)
        rw_buf_printf(out, "; case opened %s", opened);
    json_decref(a);
    return 0;
}
