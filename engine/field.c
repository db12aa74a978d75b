#include "field.h"

#include "expr.h"
#include "jparse.h"
#include "pseudonym.h"
#include "ruleset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compiling ---------------------------------------------------------------------- */

rw_field_t *rw_field_compile(rw_ruleset_t *rs, const char *path, rw_error_t *err) {
    size_t n = strlen(path);
    if (n == 0 || path[0] == '.' || path[n - 1] == '.' || strstr(path, "..")) {
        rw_error_fail(err, RW_ERR_INPUT, "bad field path \"%s\"", path);
        return NULL;
    }
    rw_field_t *f = rw_calloc(1, sizeof(*f));
    f->path = rw_strdup(path);
    f->n_parts = 1;
    for (const char *p = path; *p; p++)
        if (*p == '.')
            f->n_parts++;
    f->parts = rw_calloc(f->n_parts, sizeof(char *));
    const char *start = path;
    for (size_t i = 0; i < f->n_parts; i++) {
        const char *dot = strchr(start, '.');
        size_t len = dot ? (size_t)(dot - start) : strlen(start);
        f->parts[i] = rw_strndup(start, len);
        if (i == 0) {
            f->len0 = len;
            f->head0 = rw_jtop_head(start, len);
        }
        start = dot ? dot + 1 : start + len;
    }
    /* A masked field's values are kept as pseudonyms (masking is parsed before the rules). */
    f->pseudonym = rw_ruleset_mask_for(rs, f->parts[f->n_parts - 1]) != NULL;
    /* Fields of one first part share a slot of the event cache. */
    f->owner = rs;
    f->slot = -1;
    int slots = 0;
    for (const rw_field_t *o = rs->fields; o; o = o->next) {
        if (o->n_subs)
            continue; /* composite keys are not looked up themselves */
        if (strcmp(o->parts[0], f->parts[0]) == 0 && o->slot >= 0)
            f->slot = o->slot;
        if (o->slot >= slots)
            slots = o->slot + 1;
    }
    if (f->slot < 0 && slots < RW_FIELD_SLOTS)
        f->slot = slots;
    f->next = rs->fields;
    rs->fields = f;
    return f;
}

#define KEY_MAX_PARTS 8

rw_field_t *rw_field_compile_key(rw_ruleset_t *rs, const json_t *spec, rw_error_t *err) {
    if (json_is_string(spec))
        return rw_field_compile(rs, json_string_value(spec), err);
    size_t n = json_array_size(spec);
    if (!json_is_array(spec) || n < 1 || n > KEY_MAX_PARTS) {
        rw_error_fail(err, RW_ERR_INPUT,
                      "must be a field name, or a list of 1 to %d field names such as "
                      "[\"account\", \"counterparty\"]",
                      KEY_MAX_PARTS);
        return NULL;
    }
    rw_field_t *subs[KEY_MAX_PARTS];
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(spec, i);
        if (!json_is_string(v)) {
            rw_error_fail(err, RW_ERR_INPUT, "[%zu]: must be a field name", i);
            return NULL;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(subs[k]->path, json_string_value(v)) == 0) {
                rw_error_fail(err, RW_ERR_INPUT, "[%zu]: \"%.100s\" is already a part of the key",
                              i, json_string_value(v));
                return NULL;
            }
        rw_error_t e;
        rw_error_clear(&e);
        if (!(subs[i] = rw_field_compile(rs, json_string_value(v), &e))) {
            rw_error_fail(err, e.code, "[%zu]: %.200s", i, e.text);
            return NULL;
        }
    }
    if (n == 1)
        return subs[0];
    rw_field_t *f = rw_calloc(1, sizeof(*f));
    rw_buf_t b;
    rw_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        rw_buf_printf(&b, "%s%s", i ? "+" : "", subs[i]->path);
    f->path = rw_buf_take(&b);
    f->n_subs = n;
    f->subs = rw_calloc(n, sizeof(rw_field_t *));
    memcpy(f->subs, subs, n * sizeof(rw_field_t *));
    f->slot = -1;
    f->owner = rs;
    f->next = rs->fields;
    rs->fields = f;
    return f;
}

/* ---- reading ------------------------------------------------------------------------ */

/* A composite key's text: each part escaped ('\\' and '|' behind a '\\'), joined by '|'. */
typedef int (*text_fn)(const json_t *event, const rw_field_t *f, char *buf, size_t len);

/* A composite key's text: its parts' texts (by text_of) joined by '|', each escaped. */
static int key_text_with(const json_t *event, const rw_field_t *f, char *buf, size_t len,
                         text_fn text_of) {
    size_t o = 0;
    char part[RW_RECORD_MAX];
    for (size_t i = 0; i < f->n_subs; i++) {
        int n = text_of(event, f->subs[i], part, sizeof(part));
        if (n < 0)
            return -1;
        if (n == 0) { /* an empty part names no entity, as an empty key does not */
            rw_field_skip_note(RW_SKIP_MISSING, f->subs[i]);
            return -1;
        }
        if (i && o < len)
            buf[o++] = '|';
        for (int k = 0; k < n && o + 2 < len; k++) {
            if (part[k] == '\\' || part[k] == '|')
                buf[o++] = '\\';
            buf[o++] = part[k];
        }
        if (o + 2 >= len) {
            rw_field_skip_note(RW_SKIP_WRONG_TYPE, f);
            return -1;
        }
    }
    buf[o] = 0;
    return (int)o;
}

static int key_text(const json_t *event, const rw_field_t *f, char *buf, size_t len) {
    return key_text_with(event, f, buf, len, rw_field_text);
}

static int key_text_plain(const json_t *event, const rw_field_t *f, char *buf, size_t len) {
    return key_text_with(event, f, buf, len, rw_field_plain_text);
}

_Thread_local rw_field_skip_t rw_field_skip_noted;

/* A masked field's text becomes its pseudonym; an empty text stays empty. */
static int field_pseudonym(const rw_field_t *f, int n, char *buf, size_t len) {
    if (n <= 0 || !f->pseudonym)
        return n;
    if (len <= RW_PSEUDONYM_LEN) {
        rw_field_skip_note(RW_SKIP_WRONG_TYPE, f);
        return -1;
    }
    char ref[RW_PSEUDONYM_LEN + 1];
    rw_pseudonym(buf, (size_t)n, ref);
    memcpy(buf, ref, sizeof(ref));
    return RW_PSEUDONYM_LEN;
}

static int field_text_cached(const json_t *event, const rw_field_t *f, char *buf, size_t len);

int rw_field_text(const json_t *event, const rw_field_t *f, char *buf, size_t len) {
    if (f->n_subs)
        return key_text(event, f, buf, len);
    if (f->pseudonym)
        return field_text_cached(event, f, buf, len);
    return rw_field_plain_text(event, f, buf, len);
}

int rw_field_plain_text(const json_t *event, const rw_field_t *f, char *buf, size_t len) {
    if (f->n_subs)
        return key_text_plain(event, f, buf, len);
    const json_t *v = rw_field_get(event, f);
    int n;
    if (!v) {
        rw_field_skip_note(RW_SKIP_MISSING, f);
        return -1;
    }
    if (json_is_string(v)) {
        size_t l = json_string_length(v);
        if (l >= len || memchr(json_string_value(v), 0, l)) {
            rw_field_skip_note(RW_SKIP_WRONG_TYPE, f);
            return -1;
        }
        memcpy(buf, json_string_value(v), l);
        buf[l] = 0;
        return (int)l;
    }
    if (json_is_integer(v))
        n = snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        n = snprintf(buf, len, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        n = snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        n = -1;
    if (n < 0 || (size_t)n >= len) {
        rw_field_skip_note(RW_SKIP_WRONG_TYPE, f);
        return -1;
    }
    return n;
}

/* The top-level lookups of the event being planned or evaluated: each name a
 * ruleset reads is looked up once per event, not once per rule; so is the
 * pseudonym of each masked top-level field. */
static _Thread_local struct {
    const json_t *event;  /* NULL: off */
    const rw_jtop_t *top; /* its top-level members; NULL: none */
    const void *owner;
    uint64_t known, known_refs;
    const json_t *vals[RW_FIELD_SLOTS];
    char refs[RW_FIELD_SLOTS][RW_PSEUDONYM_LEN + 1];
    rw_field_refs_t *keep; /* where the event's pseudonyms are kept between caches */
} fcache;

_Thread_local rw_field_memo_t rw_field_memo;

void rw_field_cache_begin(const json_t *event, const rw_jtop_t *top, rw_field_refs_t *refs) {
    fcache.event = event;
    fcache.top = top;
    fcache.owner = NULL;
    fcache.known = fcache.known_refs = 0;
    fcache.keep = refs;
    rw_field_memo.event = event;
    rw_field_memo.owner = NULL;
    rw_field_memo.known = 0;
    if (!refs || !refs->n)
        return;
    fcache.owner = refs->owner;
    for (size_t i = 0; i < refs->n; i++) {
        memcpy(fcache.refs[refs->slot[i]], refs->ref[i], RW_PSEUDONYM_LEN + 1);
        fcache.known_refs |= (uint64_t)1 << refs->slot[i];
    }
}

/* A masked field's text (its pseudonym), from the event cache when it holds it. */
static int field_text_cached(const json_t *event, const rw_field_t *f, char *buf, size_t len) {
    bool cacheable = f->slot >= 0 && f->n_parts == 1 && event == fcache.event;
    uint64_t bit = cacheable ? (uint64_t)1 << f->slot : 0;
    if (cacheable && fcache.owner == f->owner && (fcache.known_refs & bit) &&
        len > RW_PSEUDONYM_LEN) {
        memcpy(buf, fcache.refs[f->slot], RW_PSEUDONYM_LEN + 1);
        return RW_PSEUDONYM_LEN;
    }
    int n = field_pseudonym(f, rw_field_plain_text(event, f, buf, len), buf, len);
    if (cacheable && n == RW_PSEUDONYM_LEN && fcache.owner == f->owner) {
        memcpy(fcache.refs[f->slot], buf, RW_PSEUDONYM_LEN + 1);
        fcache.known_refs |= bit;
        rw_field_refs_t *k = fcache.keep;
        if (k && k->owner != f->owner) /* kept for another ruleset: start again */
            k->n = 0;
        if (k && k->n < RW_FIELD_REFS) {
            k->owner = f->owner;
            k->slot[k->n] = (uint8_t)f->slot;
            memcpy(k->ref[k->n++], buf, RW_PSEUDONYM_LEN + 1);
        }
    }
    return n;
}

void rw_field_cache_end(void) {
    fcache.event = NULL;
    fcache.keep = NULL;
    rw_field_memo.event = NULL;
}

const json_t *rw_field_get(const json_t *event, const rw_field_t *f) {
    if (!json_is_object(event) || f->n_subs)
        return NULL;
    const json_t *v;
    if (f->slot >= 0 && event == fcache.event) {
        if (fcache.owner != f->owner) {
            fcache.owner = f->owner;
            fcache.known = fcache.known_refs = 0;
        }
        uint64_t bit = (uint64_t)1 << f->slot;
        if (!(fcache.known & bit)) {
            fcache.vals[f->slot] =
                rw_jtop_member(fcache.top, event, f->parts[0], f->len0, f->head0);
            fcache.known |= bit;
        }
        v = fcache.vals[f->slot];
    } else if (event == fcache.event) { /* a field with no slot, of the event being read */
        v = rw_jtop_member(fcache.top, event, f->parts[0], f->len0, f->head0);
    } else {
        v = json_object_get(event, f->parts[0]);
    }
    for (size_t i = 1; v && i < f->n_parts; i++) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, f->parts[i]);
    }
    return v;
}

int rw_field_number(const json_t *event, const rw_field_t *f, double *out) {
    const json_t *v = rw_field_get(event, f);
    if (!v || !json_is_number(v)) {
        rw_field_skip_note(v ? RW_SKIP_WRONG_TYPE : RW_SKIP_MISSING, f);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}
