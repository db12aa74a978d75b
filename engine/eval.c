#include "eval.h"

#include "expr.h"
#include "jarena.h"
#include "jparse.h"
#include "jwrite.h"
#include "match.h"
#include "pseudonym.h"
#include "schema.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The element's type, not *ptr: clang-tidy takes sizeof(*ptr) of an array of pointers to
 * structs for a mistake. */
#define GROW(ptr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 64;                                                          \
            (ptr) = rw_realloc((ptr), (cap) * sizeof(__typeof__(*(ptr))));                         \
        }                                                                                          \
    } while (0)

/* Doubles a hash table of nodes chained by `next` and placed by `hash` (windows, cool-downs,
 * key indexes). */
#define REHASH(tab, size)                                                                          \
    do {                                                                                           \
        size_t old_ = (size);                                                                      \
        __typeof__(tab) from_ = (tab);                                                             \
        (size) *= 2;                                                                               \
        (tab) = rw_calloc((size), sizeof(__typeof__(*from_)));                                     \
        for (size_t i_ = 0; i_ < old_; i_++)                                                       \
            for (__typeof__(*from_) n_ = from_[i_], next_; n_; n_ = next_) {                       \
                next_ = n_->next;                                                                  \
                size_t s_ = (size_t)(n_->hash & ((size)-1));                                       \
                n_->next = (tab)[s_];                                                              \
                (tab)[s_] = n_;                                                                    \
            }                                                                                      \
        free(from_);                                                                               \
    } while (0)

/* Frees every node of such a table with free_fn and empties it. */
#define TAB_FREE(tab, size, free_fn)                                                               \
    do {                                                                                           \
        for (size_t i_ = 0; i_ < (size); i_++) {                                                   \
            for (__typeof__(*(tab)) n_ = (tab)[i_], next_; n_; n_ = next_) {                       \
                next_ = n_->next;                                                                  \
                free_fn(n_);                                                                       \
            }                                                                                      \
            (tab)[i_] = NULL;                                                                      \
        }                                                                                          \
    } while (0)

rw_batch_t *rw_batch_new(size_t max_event_bytes, int mode) {
    rw_batch_t *b = rw_calloc(1, sizeof(*b));
    b->max_event_bytes = max_event_bytes;
    b->mode = mode;
    rw_buf_init(&b->arena);
    b->jarena = rw_jarena_new(0);
    b->wtab_size = 1024;
    b->wtab = rw_calloc(b->wtab_size, sizeof(rw_wstate_t *));
    b->ctab_size = 256;
    b->ctab = rw_calloc(b->ctab_size, sizeof(rw_incr_t *));
    b->ltab_size = 256;
    b->ltab = rw_calloc(b->ltab_size, sizeof(rw_lookup_t *));
    b->kstab_size = 1024;
    b->kstab = rw_calloc(b->kstab_size, sizeof(rw_case_t *));
    b->cooltab_size = 1024;
    b->cooltab = rw_calloc(b->cooltab_size, sizeof(rw_cool_t *));
    b->ktab_size = 1024;
    b->ktab = rw_calloc(b->ktab_size, sizeof(rw_keyidx_t *));
    b->clock_ms = INT64_MIN;
    b->next_due_ms = INT64_MAX;
    return b;
}

/* Window values: most are short, many empty (window_count records nothing). */
static const char no_value[] = "";

/* A hash for the batch's tables, eight bytes at a time (keys, ids and amounts). */
static uint64_t bytes_hash(const char *v, size_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    for (; len >= 8; len -= 8, v += 8) {
        uint64_t w;
        memcpy(&w, v, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, v, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

static uint64_t value_hash(const char *v) { return bytes_hash(v, strlen(v)); }

/* A recorded value read as a number (0 when it is not one). Plain decimals of
 * up to 15 digits are read by one division, which rounds as strtod does. */
static double value_number(const char *v) {
    static const double p10[] = {1,   1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const char *p = v + (v[0] == '-');
    uint64_t k = 0;
    int digits = 0, decimals = -1;
    for (; *p; p++) {
        if (*p == '.' && decimals < 0 && digits) {
            decimals = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 15)
            break;
        k = k * 10 + (uint64_t)(*p - '0');
        decimals += decimals >= 0;
    }
    if (!*p && digits && decimals != 0) {
        double x = (double)k / p10[decimals < 0 ? 0 : decimals];
        return v[0] == '-' ? -x : x;
    }
    char *end;
    double num = strtod(v, &end);
    return end == v || *end || !isfinite(num) ? 0 : num;
}

/* Sets where a view's run starts (view_lo) and the times either side of it. */
static void view_at(rw_wstate_t *ws, size_t first) {
    ws->view_lo = first;
    ws->view_ts_lo = first ? ws->ents[first - 1].ts_ms : INT64_MIN;
    ws->view_ts_at = first < ws->n ? ws->ents[first].ts_ms : INT64_MAX;
}

static void window_empty(rw_wstate_t *ws) {
    ws->n = 0;
    view_at(ws, 0);
    ws->vals_len = 0;
    ws->sum = 0;
    ws->n_fresh = 0;
    ws->n_srcs = 0;
    ws->max_ts_ms = INT64_MIN;
    ws->loaded = false;
    ws->reading = 0;
    free(ws->list_last);
    ws->list_last = NULL;
    ws->list_read = 0;
    free(ws->lm_head);
    ws->lm_head = NULL;
    ws->lm_n = 0;
    ws->lm_ok = ws->lm_reread = false;
    if (ws->prefix)
        ws->prefix[0] = 0;
    /* Off the fold queue: the caller unlinks it, or drops the whole queue. */
    ws->n_unfolded = 0;
    ws->fold_prev = ws->fold_next = NULL;
}

/* Every window off the fold queue (their entries are gone, or freed with them). */
static void fold_queue_drop(rw_batch_t *b) {
    b->fold_head = b->fold_tail = NULL;
    b->n_folding = 0;
    b->fold_all = false;
}

static void fold_unlink(rw_batch_t *b, rw_wstate_t *ws) {
    if (ws->fold_prev)
        ws->fold_prev->fold_next = ws->fold_next;
    else
        b->fold_head = ws->fold_next;
    if (ws->fold_next)
        ws->fold_next->fold_prev = ws->fold_prev;
    else
        b->fold_tail = ws->fold_prev;
    ws->fold_prev = ws->fold_next = NULL;
    b->n_folding--;
}

void rw_window_journaled(rw_batch_t *b, rw_wstate_t *ws, uint64_t seq) {
    size_t left = ws->n_fresh;
    for (size_t e = ws->n; e-- > 0 && left;)
        if (ws->meta[e].fresh) {
            left--;
            if (!ws->meta[e].unfolded) {
                ws->meta[e].unfolded = true;
                ws->n_unfolded++;
            }
        }
    if (!ws->n_unfolded || ws->fold_prev || b->fold_head == ws)
        return; /* nothing journaled, or queued already */
    ws->fold_seq = seq;
    ws->fold_prev = b->fold_tail;
    ws->fold_next = NULL;
    if (b->fold_tail)
        b->fold_tail->fold_next = ws;
    else
        b->fold_head = ws;
    b->fold_tail = ws;
    b->n_folding++;
}

void rw_window_folded(rw_batch_t *b, rw_wstate_t *ws) {
    if (!ws->n_unfolded)
        return;
    for (size_t e = 0; e < ws->n; e++)
        ws->meta[e].unfolded = false;
    ws->n_unfolded = 0;
    fold_unlink(b, ws);
}

static void window_free(rw_wstate_t *ws) {
    window_empty(ws);
    free(ws->ents);
    free(ws->meta);
    free(ws->vhash);
    free(ws->prefix);
    free(ws->vals);
    free(ws->lm_ts);
    if (ws->srcs != &ws->src1)
        free(ws->srcs);
    free(ws);
}

/* Drops every key index: they are made again as keys are looked up. */
static void keys_drop(rw_batch_t *b) {
    TAB_FREE(b->ktab, b->ktab_size, free);
    b->n_keys = 0;
    b->key_last = NULL;
}

static void windows_clear(rw_batch_t *b) {
    TAB_FREE(b->wtab, b->wtab_size, window_free);
    fold_queue_drop(b);
    b->n_windows = 0;
    b->n_entries = b->n_cools;
    keys_drop(b);
}

static void cool_free(rw_cool_t *c) {
    free(c->set_by);
    free(c);
}

static void cools_clear(rw_batch_t *b) {
    TAB_FREE(b->cooltab, b->cooltab_size, cool_free);
    b->n_entries -= b->n_cools;
    b->n_cools = 0;
    keys_drop(b);
}

static void cooltab_grow(rw_batch_t *b) { REHASH(b->cooltab, b->cooltab_size); }

static rw_cool_t *cool_touch(rw_batch_t *b, rw_cool_t *c) {
    if (c->used != b->seq) {
        c->used = b->seq;
        GROW(b->cools_touched, b->n_cools_touched, b->cap_cools_touched);
        b->cools_touched[b->n_cools_touched++] = c;
    }
    return c;
}

/* The hash of a rule's state on a key (windows, cool-downs): the key's bytes, then the rule. */
static uint64_t rule_hash(uint32_t rule, uint64_t key_hash) {
    return key_hash ^ ((uint64_t)(rule + 1) * 0x9e3779b97f4a7c15ULL);
}

static uint64_t rule_key_hash(uint32_t rule, const char *key, size_t kl) {
    return rule_hash(rule, bytes_hash(key, kl));
}

static void ktab_grow(rw_batch_t *b) { REHASH(b->ktab, b->ktab_size); }

/* The index of key (kl bytes), made when new. */
static rw_keyidx_t *key_get(rw_batch_t *b, const char *key, size_t kl) {
    rw_keyidx_t *k = b->key_last;
    if (k && k->key_len == kl && memcmp(k->key, key, kl) == 0)
        return k;
    uint64_t hash = bytes_hash(key, kl);
    for (k = b->ktab[hash & (b->ktab_size - 1)]; k; k = k->next)
        if (k->hash == hash && k->key_len == kl && memcmp(k->key, key, kl) == 0)
            return b->key_last = k;
    if (b->n_keys >= b->ktab_size / 2)
        ktab_grow(b);
    size_t n_slots = 2 * b->rs->n_rules;
    size_t at = (sizeof(*k) + kl + 1 + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    k = rw_calloc(1, at + n_slots * sizeof(void *));
    k->hash = hash;
    k->key_len = (uint32_t)kl;
    k->n_slots = (uint32_t)n_slots;
    k->slot = (void **)((char *)k + at);
    memcpy(k->key, key, kl);
    size_t s = (size_t)(hash & (b->ktab_size - 1));
    k->next = b->ktab[s];
    b->ktab[s] = k;
    b->n_keys++;
    return b->key_last = k;
}

/* Writes a state's id "RULE_ID:KEY" at at (rule id: il bytes, key: kl); returns it, with
 * where its key starts and how long it is. */
static char *state_id(void *at, const char *rid, size_t il, const char *key, size_t kl,
                      uint32_t *key_off, uint32_t *key_len) {
    char *id = at;
    memcpy(id, rid, il);
    id[il] = ':';
    memcpy(id + il + 1, key, kl + 1);
    *key_off = (uint32_t)(il + 1);
    *key_len = (uint32_t)kl;
    return id;
}

/* Rule's cool-down on key, made when new: found by its hash, rule and key
 * bytes, with no id built per lookup (the id is allocated with it). */
static rw_cool_t *cool_find(rw_batch_t *b, uint32_t rule, const char *key, size_t kl,
                            uint64_t hash) {
    size_t slot = (size_t)(hash & (b->cooltab_size - 1));
    for (rw_cool_t *c = b->cooltab[slot]; c; c = c->next)
        if (c->hash == hash && c->rule == rule && c->key_len == kl &&
            memcmp((const char *)(c + 1) + c->key_off, key, kl) == 0) /* c->id's key */
            return c;
    if (b->n_cools >= b->cooltab_size / 2) { /* short chains: a lookup's misses are its links */
        cooltab_grow(b);
        slot = (size_t)(hash & (b->cooltab_size - 1));
    }
    const char *rid = b->rs->rules[rule].id;
    size_t il = strlen(rid);
    rw_cool_t *c = rw_calloc(1, sizeof(*c) + il + kl + 2);
    c->id = state_id(c + 1, rid, il, key, kl, &c->key_off, &c->key_len);
    c->hash = hash;
    c->rule = rule;
    c->used = b->seq - 1;
    c->next = b->cooltab[slot];
    b->cooltab[slot] = c;
    b->n_cools++;
    b->n_entries++;
    return c;
}

/* Rule's cool-down on key, made when new, found through the key's index. */
static rw_cool_t *cool_get(rw_batch_t *b, uint32_t rule, const char *key) {
    size_t kl = strlen(key);
    rw_keyidx_t *k = key_get(b, key, kl);
    rw_cool_t **slot = (rw_cool_t **)&k->slot[(size_t)rule * 2 + 1];
    if (!*slot)
        *slot = cool_find(b, rule, key, kl, rule_hash(rule, k->hash));
    return cool_touch(b, *slot);
}

/* Reads a decimal integer at *p (after any spaces) and moves *p past it. */
static bool read_ll(const char **p, long long *out) {
    char *end;
    errno = 0;
    *out = strtoll(*p, &end, 10);
    if (end == *p || errno == ERANGE)
        return false;
    *p = end;
    return true;
}

int rw_cool_parse(rw_cool_t *c, const char *text, size_t len) {
    char buf[512];
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = 0;
    const char *p = buf;
    long long level, until, suppressed;
    if (!read_ll(&p, &level) || !read_ll(&p, &until) || !read_ll(&p, &suppressed) || level < 0 ||
        level >= RW_LEVELS)
        return -1;
    while (isspace((unsigned char)*p))
        p++;
    c->level = (int)level;
    c->until_ms = until;
    c->suppressed = suppressed;
    free(c->set_by);
    c->set_by = rw_strdup(p);
    return 0;
}

char *rw_cool_format(const rw_cool_t *c) {
    rw_buf_t b;
    rw_buf_init(&b);
    rw_buf_printf(&b, "%d %lld %lld %s", c->level, (long long)c->until_ms, (long long)c->suppressed,
                  c->set_by ? c->set_by : "");
    return rw_buf_take(&b);
}

void rw_batch_clear_cases(rw_batch_t *b) {
    for (size_t i = 0; i < b->kstab_size; i++) {
        rw_case_t *k = b->kstab[i];
        while (k) {
            rw_case_t *next = k->next;
            json_decref(k->rec);
            free(k->part);
            free(k->id);
            free(k);
            k = next;
        }
        b->kstab[i] = NULL;
    }
    b->n_cases = 0;
    b->n_dues = 0;
}

rw_case_t *rw_batch_case(rw_batch_t *b, uint32_t rule, const char *correlate) {
    const char *rid = b->rs->rules[rule].id;
    size_t il = strlen(rid), cl = strlen(correlate);
    char *id = rw_malloc(il + cl + 2);
    memcpy(id, rid, il);
    id[il] = ':';
    memcpy(id + il + 1, correlate, cl + 1);
    size_t slot = (size_t)(rw_hash64(id, il + cl + 1) & (b->kstab_size - 1));
    for (rw_case_t *k = b->kstab[slot]; k; k = k->next)
        if (strcmp(k->id, id) == 0) {
            free(id);
            return k;
        }
    rw_case_t *k = rw_calloc(1, sizeof(*k));
    k->id = id;
    k->rule = rule;
    k->due_ms = INT64_MAX;
    k->slot = (uint32_t)slot;
    k->seq = b->case_seq++;
    k->due_at = SIZE_MAX;
    k->next = b->kstab[slot];
    b->kstab[slot] = k;
    b->n_cases++;
    return k;
}

void rw_batch_clear_windows(rw_batch_t *b) {
    for (size_t i = 0; i < b->wtab_size; i++)
        for (rw_wstate_t *ws = b->wtab[i]; ws; ws = ws->next) {
            window_empty(ws);
            ws->stale = 0;
            ws->stored_ttl_at = 0; /* what the store held is no longer known either */
        }
    fold_queue_drop(b);
    b->n_entries = b->n_windows + b->n_cools;
}

void rw_window_clear(rw_batch_t *b, rw_wstate_t *ws) {
    if (ws->n_unfolded)
        fold_unlink(b, ws);
    b->n_entries -= ws->n;
    window_empty(ws);
}

void rw_cool_forget(rw_cool_t *c) {
    c->level = 0;
    c->until_ms = 0;
    c->suppressed = 0;
    free(c->set_by);
    c->set_by = NULL;
    c->dirty = false;
    c->loaded = false;
    c->reading = false;
}

void rw_batch_forget_state(rw_batch_t *b) {
    b->forgets++;
    rw_batch_clear_windows(b);
    for (size_t i = 0; i < b->cooltab_size; i++)
        for (rw_cool_t *c = b->cooltab[i]; c; c = c->next)
            rw_cool_forget(c);
    for (size_t i = 0; i < b->n_srcs; i++) {
        b->srcs[i].fence = -1;
        b->srcs[i].fence_known = false;
    }
}

void rw_batch_hold_apart(rw_batch_t *b, bool held) {
    b->apart_held = held;
    rw_batch_forget_state(b);
    for (size_t i = 0; i < b->wtab_size; i++)
        for (rw_wstate_t *ws = b->wtab[i]; ws; ws = ws->next)
            ws->shared = ws->apart && !held;
    for (size_t i = 0; i < b->cooltab_size; i++)
        for (rw_cool_t *c = b->cooltab[i]; c; c = c->next)
            c->shared = c->apart && !held;
}

void rw_batch_stored(rw_batch_t *b) {
    for (size_t i = 0; i < b->n_srcs; i++) {
        rw_src_t *s = &b->srcs[i];
        if (s->max_offset > s->fence)
            s->fence = s->max_offset;
    }
    for (size_t i = 0; i < b->n_touched; i++) {
        rw_wstate_t *ws = b->touched[i];
        /* New entries are mostly the newest: look from the end. */
        for (size_t e = ws->n; e-- > 0 && ws->n_fresh;)
            if (ws->meta[e].fresh) {
                ws->meta[e].fresh = false;
                ws->n_fresh--;
            }
    }
    for (size_t i = 0; i < b->n_cools_touched; i++)
        b->cools_touched[i]->dirty = false;
}

/* A window trims itself once it holds twice the entries its last trim kept, and at least
 * this many. */
#define WINDOW_TRIM_MIN 16

/* Ages (batches since a window's last touch) counted apart when evicting; older ones share
 * the last count. */
#define EVICT_AGES 4096

static size_t evict_age(const rw_batch_t *b, uint64_t used) {
    uint64_t age = b->seq - used;
    return age < EVICT_AGES - 1 ? (size_t)age : EVICT_AGES - 1;
}

/* How many buckets ahead a walk of the window table asks for a window's lines: a walk
 * finds each window in memory at random, one cache miss after another unless it asks for
 * them early. */
#define WALK_AHEAD ((size_t)8)

/* Asks for the lines the eviction's walks read of the windows a few buckets ahead of bucket
 * i: a window's first three lines and the last (where its hash chain goes on) 2 *
 * WALK_AHEAD buckets ahead, and its first entry (which the first walk reads) WALK_AHEAD
 * ahead, from the line asked for then. Always inlined: GCC takes a function whose only
 * effect is prefetches for one with none, and drops its calls. */
static inline __attribute__((always_inline)) void walk_ahead(const rw_batch_t *b, size_t i,
                                                             bool entries) {
    const rw_wstate_t *ws = i + 2 * WALK_AHEAD < b->wtab_size ? b->wtab[i + 2 * WALK_AHEAD] : NULL;
    if (ws) {
        __builtin_prefetch(ws);
        __builtin_prefetch((const char *)ws + 64);
        __builtin_prefetch((const char *)ws + 128);
        __builtin_prefetch(&ws->next);
    }
    ws = entries && i + WALK_AHEAD < b->wtab_size ? b->wtab[i + WALK_AHEAD] : NULL;
    if (ws && ws->ents)
        __builtin_prefetch(ws->ents);
}

/* The eviction's first walk: trims every window that no read is filling (with trim), and
 * counts the entries of each age into by_age. A window trims itself only once it holds
 * trim_at entries (at least WINDOW_TRIM_MIN), so on a stream of many keys most of what is
 * held can be entries no event needs any more: those go before any window does. */
static void evict_count(rw_batch_t *b, bool trim, size_t *by_age) {
    for (size_t i = 0; i < b->wtab_size; i++) {
        walk_ahead(b, i, trim);
        for (rw_wstate_t *ws = b->wtab[i]; ws; ws = ws->next) {
            if (trim && !ws->reading && ws->n && ws->ents[0].ts_ms <= rw_window_cut(b, ws))
                rw_window_trim(b, ws);
            by_age[evict_age(b, ws->used)] += ws->n + 1;
        }
    }
}

size_t rw_batch_evict(rw_batch_t *b, size_t max_entries) {
    if (b->n_entries <= max_entries || b->n_windows == 0)
        return 0;
    /* Down to 3/4 of the limit, so that the walk is paid once in a while: first what no
     * event needs, then the windows touched longest ago, found by counting the entries of
     * each age in the same walk (no sort of every window). */
    size_t goal = max_entries / 4 * 3;
    size_t *by_age = rw_calloc(EVICT_AGES, sizeof(*by_age));
    evict_count(b, rw_batch_keeps_state(b), by_age);
    if (b->n_entries <= goal) {
        free(by_age);
        return 0;
    }
    size_t held = b->n_entries;
    uint64_t before = 0; /* drop windows last used before this batch */
    for (size_t a = EVICT_AGES; a-- > 0 && held > goal;) {
        held -= by_age[a] < held ? by_age[a] : held;
        before = b->seq - a + 1; /* of age a or more */
    }
    free(by_age);
    size_t dropped = 0;
    b->n_touched = b->n_cools_touched = 0; /* may name dropped ones */
    for (size_t i = 0; i < b->wtab_size; i++) {
        walk_ahead(b, i, false);
        rw_wstate_t **link = &b->wtab[i];
        while (*link) {
            rw_wstate_t *ws = *link;
            if (ws->used < before && !ws->n_fresh && ws->n_unfolded) {
                b->fold_all = true; /* its entries are only in a journal: fold it first */
                link = &ws->next;
            } else if (ws->used < before && !ws->n_fresh) {
                *link = ws->next;
                b->n_entries -= ws->n + 1;
                b->n_windows--;
                window_free(ws);
                dropped++;
            } else {
                link = &ws->next;
            }
        }
    }
    for (size_t i = 0; i < b->cooltab_size; i++) {
        rw_cool_t **link = &b->cooltab[i];
        while (*link) {
            rw_cool_t *c = *link;
            if (c->used < before && !c->dirty) {
                *link = c->next;
                b->n_cools--;
                b->n_entries--;
                cool_free(c);
            } else {
                link = &c->next;
            }
        }
    }
    keys_drop(b); /* may name dropped ones */
    return dropped;
}

static void case_alerts_clear(rw_batch_t *b) {
    for (size_t i = 0; i < b->n_case_alerts; i++)
        json_decref(b->case_alerts[i].rec);
    b->n_case_alerts = 0;
}

static void incrs_clear(rw_batch_t *b) {
    rw_incr_t *c = b->incrs;
    while (c) {
        rw_incr_t *next = c->next;
        free(c->key);
        free(c->field);
        free(c);
        c = next;
    }
    b->incrs = NULL;
    memset(b->ctab, 0, b->ctab_size * sizeof(rw_incr_t *));
}

/* The lookups' memory: chunks filled in turn, emptied with the lookups and filled again by
 * the next batch's (most events of a stream make one: no malloc and free for each). */
typedef struct rw_lchunk {
    struct rw_lchunk *next;
    size_t used, cap;
    max_align_t data[];
} rw_lchunk_t;

#define LCHUNK_BYTES ((size_t)16 << 10)

static void *lookup_alloc(rw_batch_t *b, size_t size) {
    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    rw_lchunk_t *c = b->lcur;
    while (c && c->used + size > c->cap)
        c = c->next; /* later chunks are empty: a lookup larger than one is put in its own */
    if (!c) {
        size_t cap = size > LCHUNK_BYTES ? size : LCHUNK_BYTES;
        c = rw_malloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = b->lcur ? b->lcur->next : NULL;
        if (b->lcur)
            b->lcur->next = c;
        else
            b->lchunks = c;
    }
    b->lcur = c;
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static void lookups_clear(rw_batch_t *b) {
    for (size_t i = 0; i < b->ltab_size; i++)
        b->ltab[i] = NULL;
    for (rw_lchunk_t *c = b->lchunks; c; c = c->next)
        c->used = 0;
    b->lcur = b->lchunks;
}

static void items_clear(rw_batch_t *b) {
    /* Events parsed wholly in the arena go with it, without a walk to free them. */
    if (!rw_jarena_holds_all(b->jarena))
        for (size_t i = 0; i < b->n_items; i++)
            rw_jtop_decref(&b->items[i].top, b->items[i].event);
    b->n_items = 0;
    b->n_planned = 0;
    rw_jarena_reset(b->jarena);
    if (rw_batch_keeps_state(b)) {
        /* Kept window entries refer to sources by index: keep the sources, and
         * their fences when this engine keeps state in front of a store. */
        for (size_t i = 0; i < b->n_srcs; i++) {
            b->srcs[i].max_offset = -1;
            if (b->mode != RW_STATE_CACHED)
                b->srcs[i].fence = -1;
        }
    } else {
        for (size_t i = 0; i < b->n_srcs; i++)
            free(b->srcs[i].topic);
        free(b->srcs);
        b->srcs = NULL;
        b->n_srcs = 0;
    }
    b->n_cands = 0;
    b->n_hits = 0;
    rw_buf_reset(&b->arena);
    b->put_len[0] = b->put_len[1] = 0; /* nothing put */
    lookups_clear(b);
}

void rw_batch_destroy(rw_batch_t *b) {
    if (!b)
        return;
    items_clear(b);
    for (size_t i = 0; i < b->n_srcs; i++)
        free(b->srcs[i].topic);
    free(b->srcs);
    windows_clear(b);
    incrs_clear(b);
    free(b->wtab);
    free(b->ctab);
    free(b->ltab);
    for (rw_lchunk_t *c = b->lchunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    case_alerts_clear(b);
    rw_batch_clear_cases(b);
    cools_clear(b);
    for (size_t i = 0; i < b->n_pclocks; i++)
        free(b->pclocks[i].part);
    free(b->pclocks);
    free(b->cooltab);
    free(b->ktab);
    free(b->kstab);
    free(b->case_alerts);
    free(b->dues);
    free(b->fire_order);
    free(b->items);
    free(b->cands);
    free(b->hits);
    free(b->skips);
    free(b->sc_measure);
    free(b->sc_level);
    free(b->sc_stamp);
    free(b->part_vals);
    free(b->view);
    free(b->touched);
    free(b->ahead_rules);
    free(b->owners);
    free(b->cools_touched);
    rw_buf_fini(&b->arena);
    rw_jarena_destroy(b->jarena);
    free(b);
}

/* Whether the rule keeps a window of its own that its module records events into, keyed by
 * one field (what the plan's look-ahead fetches ahead). */
static bool ahead_rule(const rw_rule_t *rule) {
    return rule->window_ms > 0 && rule->module->record && !rule->feed && !rule->relay &&
           rule->key && !rule->key->n_subs;
}

/* Whether rule r is one the look-ahead can fetch for on the key of that path: a window's
 * first reader (a window shared is fetched once). */
static bool ahead_keyed_by(const rw_ruleset_t *rs, size_t r, const char *path) {
    const rw_rule_t *rule = &rs->rules[r];
    return ahead_rule(rule) && rule->window_of == r && strcmp(rule->key->path, path) == 0;
}

/* Chooses the look-ahead's key: the field that most rules with windows of their own are
 * keyed by (the first of those that tie), and those rules. */
static void ahead_choose(rw_batch_t *b, const rw_ruleset_t *rs) {
    size_t n = rs->n_rules - rs->n_scorecards, best = 0;
    b->ahead_key = NULL;
    b->n_ahead_rules = 0;
    for (size_t r = 0; r < n; r++) {
        if (!ahead_rule(&rs->rules[r]))
            continue;
        size_t same = 0;
        for (size_t q = r; q < n; q++)
            same += ahead_keyed_by(rs, q, rs->rules[r].key->path);
        if (same > best) {
            best = same;
            b->ahead_key = rs->rules[r].key;
        }
    }
    free(b->ahead_rules);
    b->ahead_rules = rw_calloc(best ? best : 1, sizeof(*b->ahead_rules));
    for (size_t r = 0; r < n && b->ahead_key; r++)
        if (ahead_keyed_by(rs, r, b->ahead_key->path))
            b->ahead_rules[b->n_ahead_rules++] = (uint32_t)r;
}

void rw_batch_reset(rw_batch_t *b, const rw_ruleset_t *rs) {
    items_clear(b);
    incrs_clear(b);
    case_alerts_clear(b);
    if (!rw_batch_keeps_state(b) || b->rs != rs) {
        /* Windows with entries only in a journal go: the store folds the journals before it
         * reads a window again. */
        b->forgets += b->n_folding > 0;
        windows_clear(b);
        rw_batch_clear_cases(b);
        cools_clear(b);
    } else if (b->mode == RW_STATE_CACHED) {
        rw_batch_clear_cases(b); /* cases are read from the store every batch */
    }
    if (b->rs != rs) {
        ahead_choose(b, rs);
        b->lazy_events = true; /* scorecards, last, read measures only */
        for (size_t r = 0; r < rs->n_rules - rs->n_scorecards; r++)
            if (!rw_module_builtin(rs->rules[r].module))
                b->lazy_events = false;
        free(b->owners);
        b->owners = rw_calloc(rs->n_rules ? rs->n_rules : 1, sizeof(struct rw_owner));
    }
    b->rs = rs;
    b->seq++;
    b->n_touched = b->n_cools_touched = 0;
}

bool rw_batch_has_part(const rw_batch_t *b, const char *part) {
    for (size_t i = 0; i < b->n_srcs; i++)
        if (strcmp(b->pclocks[b->srcs[i].clock].part, part) == 0)
            return true;
    return false;
}

uint32_t rw_batch_src(rw_batch_t *b, const char *topic, int32_t partition) {
    for (size_t i = 0; i < b->n_srcs; i++)
        if (b->srcs[i].partition == partition && strcmp(b->srcs[i].topic, topic) == 0)
            return (uint32_t)i;
    b->srcs = rw_realloc(b->srcs, (b->n_srcs + 1) * sizeof(*b->srcs));
    char part[300];
    snprintf(part, sizeof(part), "%s/%d", topic, (int)partition);
    size_t c;
    for (c = 0; c < b->n_pclocks; c++)
        if (strcmp(b->pclocks[c].part, part) == 0)
            break;
    if (c == b->n_pclocks) {
        b->pclocks = rw_realloc(b->pclocks, (b->n_pclocks + 1) * sizeof(*b->pclocks));
        b->pclocks[b->n_pclocks++] = (rw_pclock_t){rw_strdup(part), INT64_MIN, INT64_MIN};
    }
    b->srcs[b->n_srcs] =
        (rw_src_t){rw_strdup(topic), partition, -1, false, -1, c, b->pclocks[c].ts};
    return (uint32_t)b->n_srcs++;
}

/* Copies s (len bytes, then a NUL) into the batch's string arena; returns its offset. The
 * rules of an event mostly put the same key text and the same recorded value: a text equal
 * to one of the last two put is not put again. */
static size_t arena_put(rw_batch_t *b, const char *s, size_t len) {
    for (int k = 0; k < 2; k++)
        if (b->put_len[k] == len + 1 && memcmp(b->arena.data + b->put_off[k], s, len) == 0)
            return b->put_off[k];
    size_t off = b->arena.len;
    rw_buf_append(&b->arena, s, len);
    rw_buf_append(&b->arena, "", 1);
    b->put_off[b->put_next] = off;
    b->put_len[b->put_next] = len + 1;
    b->put_next ^= 1;
    return off;
}

/* ---- parsing --------------------------------------------------------------------- */

static void item_reject(rw_item_t *it, const char *fmt, const char *arg) {
    snprintf(it->error, sizeof(it->error), fmt, arg);
    rw_jtop_decref(&it->top, it->event);
    it->event = NULL;
}

json_t *rw_batch_event(const rw_batch_t *b, const rw_item_t *it) {
    if (it->event && it->top.lazy) {
        rw_item_t *w = RW_UNCONST(rw_item_t *, it);
        rw_jarena_begin(b->jarena);
        if (rw_jtop_fill(&w->top, w->event) != 0) {
            fprintf(stderr, "riskwarn: out of memory\n");
            abort();
        }
        rw_jarena_end();
    }
    return it->event;
}

/* The event's top-level member name (len bytes), from its table when that tells. */
static json_t *item_get(const rw_item_t *it, const char *name, size_t len) {
    return rw_jtop_member(&it->top, it->event, name, len, rw_jtop_head(name, len));
}

void rw_batch_add(rw_batch_t *b, const rw_msg_t *m) {
    GROW(b->items, b->n_items, b->cap_items);
    rw_item_t *it = &b->items[b->n_items++];
    memset(it, 0, offsetof(rw_item_t, top));
    it->top.n = 0;
    it->top.whole = false;
    it->top.lazy = false; /* the slot's last event's table is gone with its batch */
    it->msg = *m;
    it->key_rule = -1;
    it->key_off = SIZE_MAX;
    it->src = rw_batch_src(b, m->topic, m->partition);
    rw_src_t *s = &b->srcs[it->src];
    it->again = m->offset <= s->max_offset;
    if (m->offset > s->max_offset)
        s->max_offset = m->offset;

    if (m->len > b->max_event_bytes) {
        snprintf(it->error, sizeof(it->error), "oversize: %zu bytes, the limit is %zu", m->len,
                 b->max_event_bytes);
        return;
    }
    json_error_t je;
    rw_jarena_begin(b->jarena);
    it->event = (b->lazy_events ? rw_json_parse_lazy : rw_json_parse_top)(
        m->payload ? m->payload : "", m->len, &je, &it->top);
    rw_jarena_end();
    if (!it->event) {
        snprintf(it->error, sizeof(it->error), "invalid JSON at byte %d: %.160s", je.position,
                 je.text);
        return;
    }
    if (!json_is_object(it->event))
        return item_reject(it, "not a JSON object%s", "");
    json_t *id = item_get(it, "event_id", 8);
    json_t *type = item_get(it, "type", 4);
    json_t *ts = item_get(it, "ts", 2);
    if (!id)
        return item_reject(it, "missing required field %s", "event_id");
    if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 256 ||
        strlen(json_string_value(id)) != json_string_length(id))
        return item_reject(it, "%s: must be a non-empty string of at most 256 bytes", "event_id");
    if (!type)
        return item_reject(it, "missing required field %s", "type");
    if (!json_is_string(type) || json_string_length(type) == 0 || json_string_length(type) > 64 ||
        strlen(json_string_value(type)) != json_string_length(type))
        return item_reject(it, "%s: must be a non-empty string of at most 64 bytes", "type");
    if (!ts)
        return item_reject(it, "missing required field %s", "ts");
    if (!json_is_string(ts) ||
        rw_time_parse(json_string_value(ts), json_string_length(ts), &it->ts_ms))
        return item_reject(it, "%s: not an RFC 3339 time", "ts");
    char fault[sizeof(it->error)];
    if (rw_schema_check_top(b->schema, it->event, &it->top, json_string_value(type), fault,
                            sizeof(fault)))
        return item_reject(it, "%s", fault);
    if (b->max_future_ms > 0) {
        rw_pclock_t *pc = &b->pclocks[s->clock];
        int64_t mark = pc->mark > m->arrival_ms ? pc->mark : m->arrival_ms;
        if (it->ts_ms - b->max_future_ms > mark) {
            char why[160];
            snprintf(why, sizeof(why), "%lld s ahead of its partition's watermark (%lld s at most)",
                     (long long)((it->ts_ms - mark) / 1000), (long long)(b->max_future_ms / 1000));
            return item_reject(it, "future_timestamp: ts is %s", why);
        }
        if (it->ts_ms > pc->mark)
            pc->mark = it->ts_ms;
    }
    it->event_id = json_string_value(id);
    it->type = json_string_value(type);
}

/* ---- windows ----------------------------------------------------------------------- */

/* The window table's hash of rule's window for key: the key's bytes, then the rule. */
static uint64_t window_hash(uint32_t rule, const char *key, size_t kl) {
    return rule_key_hash(rule, key, kl);
}

static size_t wslot(const rw_batch_t *b, uint64_t hash) {
    return (size_t)(hash & (b->wtab_size - 1));
}

static rw_wstate_t *window_find(const rw_batch_t *b, uint32_t rule, const char *key, size_t kl,
                                uint64_t hash) {
    for (rw_wstate_t *ws = b->wtab[wslot(b, hash)]; ws; ws = ws->next)
        if (ws->hash == hash && ws->rule == rule && ws->key_len == kl &&
            memcmp((const char *)(ws + 1) + ws->key_off, key, kl) == 0) /* ws->id's key */
            return ws;
    return NULL;
}

rw_wstate_t *rw_batch_window(rw_batch_t *b, const char *id) {
    for (uint32_t r = 0; r < b->rs->n_rules; r++) {
        size_t il = strlen(b->rs->rules[r].state_id);
        if (strncmp(id, b->rs->rules[r].state_id, il) != 0 || id[il] != ':')
            continue;
        const char *key = id + il + 1;
        size_t kl = strlen(key);
        rw_wstate_t *ws = window_find(b, r, key, kl, window_hash(r, key, kl));
        if (ws)
            return ws;
    }
    return NULL;
}

static void wtab_grow(rw_batch_t *b) { REHASH(b->wtab, b->wtab_size); }

/* The window of rule for key, touched by item it. A window keyed otherwise than
 * the message that touches it may be fed from partitions another engine owns:
 * the store reads it every batch. */
/* Whether the message's Kafka key is the entity of this key text (kf's text of the event,
 * a pseudonym when kf is a masked field). */
static bool msg_keyed_by(const rw_item_t *it, const rw_field_t *kf, const char *text) {
    if (!it->msg.key)
        return false;
    if (kf && kf->pseudonym && !kf->n_subs) {
        /* Re-keyed input (rekey.h) carries the pseudonym itself. */
        if (it->msg.key_len == RW_PSEUDONYM_LEN && strlen(text) == RW_PSEUDONYM_LEN &&
            memcmp(it->msg.key, text, RW_PSEUDONYM_LEN) == 0)
            return true;
        char ref[RW_PSEUDONYM_LEN + 1];
        rw_pseudonym(it->msg.key, it->msg.key_len, ref);
        return strcmp(ref, text) == 0;
    }
    return it->msg.key_len == strlen(text) && memcmp(it->msg.key, text, it->msg.key_len) == 0;
}

/* Rule's window on key (kl bytes, hashed with the rule: hash), made when new. */
static rw_wstate_t *window_get(rw_batch_t *b, uint32_t rule, const char *key, size_t kl,
                               uint64_t hash) {
    rw_wstate_t *ws = window_find(b, rule, key, kl, hash);
    if (ws)
        return ws;
    const rw_rule_t *r = &b->rs->rules[rule];
    if (b->n_windows >= b->wtab_size / 2) /* short chains: a lookup's misses are its links */
        wtab_grow(b);
    size_t il = strlen(r->state_id);
    ws = rw_calloc_lines(sizeof(*ws) + il + kl + 2);
    ws->id = state_id(ws + 1, r->state_id, il, key, kl, &ws->key_off, &ws->key_len);
    ws->hash = hash;
    ws->rule = rule;
    ws->window_ms = r->window_keep_ms;
    ws->load_min_ms = INT64_MAX;
    ws->max_ts_ms = INT64_MIN;
    ws->trim_at = WINDOW_TRIM_MIN;
    ws->used = b->seq - 1;
    view_at(ws, 0);
    size_t s = wslot(b, hash);
    ws->next = b->wtab[s];
    b->wtab[s] = ws;
    b->n_windows++;
    b->n_entries++;
    return ws;
}

static rw_wstate_t *window_touch(rw_batch_t *b, uint32_t rule, const char *key,
                                 const rw_field_t *kf, const rw_item_t *it) {
    rule = b->rs->rules[rule].window_of; /* a window shared is its first reader's */
    size_t kl = strlen(key);
    rw_keyidx_t *k = key_get(b, key, kl);
    rw_wstate_t **slot = (rw_wstate_t **)&k->slot[(size_t)rule * 2];
    if (!*slot)
        *slot = window_get(b, rule, key, kl, rule_hash(rule, k->hash));
    rw_wstate_t *ws = *slot;
    if (ws->used != b->seq) {
        ws->used = b->seq;
        ws->load_min_ms = INT64_MAX;
        GROW(b->touched, b->n_touched, b->cap_touched);
        b->touched[b->n_touched++] = ws;
    }
    int64_t from = it->ts_ms - ws->window_ms;
    if (from < ws->load_min_ms)
        ws->load_min_ms = from;
    if (!msg_keyed_by(it, kf, key)) {
        ws->apart = true;
        ws->shared |= !b->apart_held;
    }
    return ws;
}

static void window_grow(const rw_batch_t *b, rw_wstate_t *ws) {
    if (ws->n < ws->cap)
        return;
    ws->cap = ws->cap ? ws->cap * 2 : 8;
    ws->ents = rw_realloc(ws->ents, ws->cap * sizeof(*ws->ents));
    if (!b->origins_off)
        ws->meta = rw_realloc(ws->meta, ws->cap * sizeof(*ws->meta));
    if (ws->vhash)
        ws->vhash = rw_realloc(ws->vhash, ws->cap * sizeof(*ws->vhash));
    if (ws->prefix)
        ws->prefix = rw_realloc(ws->prefix, (ws->cap + 1) * sizeof(*ws->prefix));
}

/* The prefix sums from entry i on (none kept: nothing). Whenever kept, prefix[i] is the sum
 * of ents[0..i).num added in order from 0, so that sums made late are those made early. */
static void prefix_from(rw_wstate_t *ws, size_t i) {
    if (!ws->prefix)
        return;
    if (i == 0)
        ws->prefix[0] = 0;
    for (; i < ws->n; i++)
        ws->prefix[i + 1] = ws->prefix[i] + (long double)ws->ents[i].num;
    ws->sum = ws->prefix[ws->n];
}

/* Moves the values of the entries [0, n) into a new buffer of cap bytes, in entry order
 * (which drops the bytes of entries gone), with room for extra more. */
static void vals_move(rw_wstate_t *ws, size_t n, size_t extra) {
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        if (ws->ents[i].value != no_value)
            live += strlen(ws->ents[i].value) + 1;
    size_t cap = (live + extra) * 2 > 64 ? (live + extra) * 2 : 64;
    char *vals = rw_malloc(cap), *o = vals;
    for (size_t i = 0; i < n; i++) {
        if (ws->ents[i].value == no_value)
            continue;
        size_t len = strlen(ws->ents[i].value) + 1;
        memcpy(o, ws->ents[i].value, len);
        ws->ents[i].value = o;
        o += len;
    }
    free(ws->vals);
    ws->vals = vals;
    ws->vals_len = (size_t)(o - vals);
    ws->vals_cap = cap;
}

/* A copy of value in the window's value buffer, for an entry about to be added (the
 * entries [0, n) are those held); no_value for "". */
static const char *value_put(rw_wstate_t *ws, const char *value) {
    if (!value[0])
        return no_value;
    size_t len = strlen(value) + 1;
    if (ws->vals_len + len > ws->vals_cap)
        vals_move(ws, ws->n, len);
    char *v = ws->vals + ws->vals_len;
    memcpy(v, value, len);
    ws->vals_len += len;
    return v;
}

void rw_window_add(rw_batch_t *b, rw_wstate_t *ws, int64_t ts_ms, uint32_t src, int64_t offset,
                   const char *value, bool fresh) {
    window_grow(b, ws);
    const char *v = value_put(ws, value);
    /* After every entry at or before ts_ms: usually the end, which max_ts_ms (never
     * older than the last entry) tells without reading it. */
    size_t at = ws->n;
    bool inserted = false;
    if (at && ts_ms < ws->max_ts_ms && ws->ents[at - 1].ts_ms > ts_ms) {
        inserted = true;
        size_t lo = 0, hi = at;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ws->ents[mid].ts_ms <= ts_ms)
                lo = mid + 1;
            else
                hi = mid;
        }
        at = lo;
        memmove(ws->ents + at + 1, ws->ents + at, (ws->n - at) * sizeof(*ws->ents));
        if (ws->meta)
            memmove(ws->meta + at + 1, ws->meta + at, (ws->n - at) * sizeof(*ws->meta));
        if (ws->vhash)
            memmove(ws->vhash + at + 1, ws->vhash + at, (ws->n - at) * sizeof(*ws->vhash));
    } else if (at == ws->view_lo) {
        ws->view_ts_at = ts_ms; /* the entry after a run that started at the end */
    }
    ws->ents[at] = (rw_window_entry_t){ts_ms, value_number(value), v};
    /* Stored whole: an assignment to the bit-fields would read the new entry's line first. */
    if (ws->meta) {
        rw_wmeta_t meta = {offset, src & 0x3fffffff, fresh, 0};
        memcpy(&ws->meta[at], &meta, sizeof(meta));
    }
    if (ws->vhash)
        ws->vhash[at] = (uint32_t)value_hash(value);
    ws->n++;
    ws->n_fresh += fresh && ws->meta; /* nothing is written without origins */
    if (inserted)
        view_at(ws, ws->view_lo);
    if (ws->prefix && at + 1 == ws->n) {
        ws->sum += (long double)ws->ents[at].num;
        ws->prefix[ws->n] = ws->sum;
    } else {
        prefix_from(ws, at); /* nothing when no sums are kept */
    }
    if (ts_ms > ws->max_ts_ms)
        ws->max_ts_ms = ts_ms;
    size_t k;
    for (k = 0; k < ws->n_srcs && ws->srcs[k].src != src; k++)
        ;
    if (k == ws->n_srcs) {
        if (!ws->srcs || (k == 0 && ws->srcs == &ws->src1)) {
            ws->srcs = &ws->src1; /* most windows have one source: no allocation */
        } else if (ws->srcs == &ws->src1) {
            ws->srcs = rw_malloc((k + 1) * sizeof(*ws->srcs));
            ws->srcs[0] = ws->src1;
        } else {
            ws->srcs = rw_realloc(ws->srcs, (k + 1) * sizeof(*ws->srcs));
        }
        ws->srcs[ws->n_srcs++] = (rw_wsrc_t){src, offset};
    } else if (offset > ws->srcs[k].max_offset) {
        ws->srcs[k].max_offset = offset;
    }
    b->n_entries++;
}

void rw_window_trim(rw_batch_t *b, rw_wstate_t *ws) {
    int64_t cut = rw_window_cut(b, ws);
    size_t o = 0, unfolded = 0;
    for (size_t i = 0; i < ws->n; i++) {
        if (ws->ents[i].ts_ms <= cut && !(ws->meta && ws->meta[i].fresh)) {
            /* An entry only in a journal goes as one in the window's list would (the fold
             * would append it, the list's next trim take it off): no view takes it. Its
             * journal keeps it until trimmed; a recovery may fold it, as stale as before. */
            unfolded += ws->meta && ws->meta[i].unfolded;
            continue;
        }
        ws->ents[o] = ws->ents[i];
        if (ws->vhash)
            ws->vhash[o] = ws->vhash[i];
        if (ws->meta)
            ws->meta[o] = ws->meta[i];
        o++;
    }
    b->n_entries -= ws->n - o;
    ws->stale += ws->n - o - unfolded; /* what the window's list holds */
    ws->n = o;
    ws->n_unfolded -= unfolded;
    if (unfolded && !ws->n_unfolded)
        fold_unlink(b, ws);
    ws->trim_at = o * 2 > WINDOW_TRIM_MIN ? o * 2 : WINDOW_TRIM_MIN;
    view_at(ws, 0);
    vals_move(ws, o, 0);
    prefix_from(ws, 0);
    if (ws->loaded && cut > ws->loaded_from_ms)
        ws->loaded_from_ms = cut;
}

/* The entries of ws an event at (ts_ms, src, offset) sees: (ts - window, ts],
 * less those later in its own partition. In place when nothing later in its
 * partition is held (*lo_out: the run's first index); otherwise copied into
 * the batch's scratch view (*lo_out SIZE_MAX). */
/* The first entry of ws in [lo, hi) later than ts_ms (hi when none). */
static size_t entry_after(const rw_wstate_t *ws, size_t lo, size_t hi, int64_t ts_ms) {
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ws->ents[mid].ts_ms <= ts_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first entry of ws later than lo_ts: where the last view's run started or a few
 * entries on, as events mostly come in time order (no binary search over the window, whose
 * probes are each a cache miss), else a binary search. Any index gives the same answer: it is
 * taken only when every entry before it is not later than lo_ts. */
static size_t window_first(rw_wstate_t *ws, int64_t lo_ts) {
    if (ws->view_ts_lo <= lo_ts && lo_ts < ws->view_ts_at)
        return ws->view_lo; /* where the last run started, known without reading an entry */
    size_t first = ws->view_lo;
    if (first > ws->n || ws->view_ts_lo > lo_ts)
        first = entry_after(ws, 0, ws->n, lo_ts);
    for (size_t k = 0; k < 4 && first < ws->n && ws->ents[first].ts_ms <= lo_ts; k++)
        first++;
    if (first < ws->n && ws->ents[first].ts_ms <= lo_ts)
        first = entry_after(ws, first, ws->n, lo_ts);
    view_at(ws, first);
    return first;
}

/* The first entry of ws later than lo_ts, searched from the end: for a rule whose window is
 * shorter than the one kept (a window shared), its run is near the newest entries. */
static size_t window_first_near_end(const rw_wstate_t *ws, int64_t lo_ts) {
    size_t hi = ws->n, step = 1;
    while (hi >= step && ws->ents[hi - step].ts_ms > lo_ts) {
        hi -= step;
        step *= 2;
    }
    return entry_after(ws, hi >= step ? hi - step : 0, hi, lo_ts);
}

static const rw_window_entry_t *window_view(rw_batch_t *b, rw_wstate_t *ws, int64_t window_ms,
                                            int64_t ts_ms, uint32_t src, int64_t offset,
                                            size_t *n_out, size_t *lo_out) {
    size_t first = window_ms == ws->window_ms ? window_first(ws, ts_ms - window_ms)
                                              : window_first_near_end(ws, ts_ms - window_ms);
    size_t lo = first, hi = ws->n;
    if (hi > lo && ws->ents[hi - 1].ts_ms <= ts_ms)
        lo = hi; /* the event is the newest, as it mostly is: its entry was just written */
    size_t end = entry_after(ws, lo, hi, ts_ms);
    bool later = false;
    for (size_t k = 0; k < ws->n_srcs; k++)
        if (ws->srcs[k].src == src && ws->srcs[k].max_offset > offset)
            later = true;
    if (!later || !ws->meta) { /* without origins, no entry is from a later message */
        *n_out = end - first;
        *lo_out = first;
        return ws->ents + first;
    }
    if (end - first > b->view_cap) {
        b->view_cap = (end - first) * 2;
        b->view = rw_realloc(b->view, b->view_cap * sizeof(*b->view));
    }
    size_t n = 0;
    for (size_t e = first; e < end; e++)
        if (!(ws->meta[e].src == src && ws->meta[e].offset > offset))
            b->view[n++] = ws->ents[e];
    *n_out = n;
    *lo_out = SIZE_MAX;
    return b->view;
}

/* The window whose run measure() is reading, for rw_window_sum() and
 * rw_window_count_value(); NULL outside measure(). */
static _Thread_local rw_wstate_t *sum_ws;
static _Thread_local size_t sum_lo;

/* A window's prefix sums and value hashes are kept from the first measure() that asks
 * for them on it (most windows are only counted): made then from its entries, as
 * appending would have made them. */
static void prefix_make(rw_wstate_t *ws) {
    ws->prefix = rw_malloc((ws->cap + 1) * sizeof(*ws->prefix));
    prefix_from(ws, 0);
}

static void vhash_make(rw_wstate_t *ws) {
    ws->vhash = rw_malloc((ws->cap ? ws->cap : 1) * sizeof(*ws->vhash));
    for (size_t i = 0; i < ws->n; i++)
        ws->vhash[i] = (uint32_t)value_hash(ws->ents[i].value);
}

double rw_window_sum(const rw_input_t *in) {
    rw_wstate_t *ws = sum_ws;
    /* Short runs are summed as they are, in order: the same digits as a loop. */
    if (ws && in->n_entries > 32 && in->entries == ws->ents + sum_lo &&
        sum_lo + in->n_entries <= ws->n) {
        if (!ws->prefix)
            prefix_make(ws);
        return (double)(ws->prefix[sum_lo + in->n_entries] - ws->prefix[sum_lo]);
    }
    double sum = 0;
    for (size_t i = 0; i < in->n_entries; i++)
        sum += in->entries[i].num;
    return sum;
}

size_t rw_window_count_value(const rw_input_t *in, const char *value, size_t max) {
    rw_wstate_t *ws = sum_ws;
    size_t n = 0;
    if (ws && in->entries == ws->ents + sum_lo && sum_lo + in->n_entries <= ws->n) {
        if (!ws->vhash)
            vhash_make(ws);
        uint32_t h = (uint32_t)value_hash(value);
        const uint32_t *vh = ws->vhash + sum_lo;
        for (size_t i = 0; i < in->n_entries && n < max; i++)
            n += vh[i] == h && strcmp(in->entries[i].value, value) == 0;
        return n;
    }
    for (size_t i = 0; i < in->n_entries && n < max; i++)
        n += strcmp(in->entries[i].value, value) == 0;
    return n;
}

/* ---- plan -------------------------------------------------------------------------- */

/* The batch's lookup of member in set, shared by every rule that asks. The
 * hash chains through lookups in one slot only; the list of all is kept apart. */
static rw_lookup_t *lookup_get(rw_batch_t *b, const char *set, const char *member) {
    size_t sl = strlen(set), ml = strlen(member);
    size_t slot =
        (size_t)((bytes_hash(set, sl) * 31 + bytes_hash(member, ml)) & (b->ltab_size - 1));
    rw_lookup_t *l;
    for (l = b->ltab[slot]; l; l = l->next)
        if (strcmp(l->member, member) == 0 && strcmp(l->set, set) == 0)
            return l;
    l = lookup_alloc(b, sizeof(*l) + sl + ml + 2);
    l->set = (char *)(l + 1);
    memcpy(l->set, set, sl + 1);
    l->member = l->set + sl + 1;
    memcpy(l->member, member, ml + 1);
    l->result = -1;
    l->next = b->ltab[slot];
    b->ltab[slot] = l;
    return l;
}

static void cand_add(rw_batch_t *b, const rw_cand_t *c) {
    GROW(b->cands, b->n_cands, b->cap_cands);
    b->cands[b->n_cands++] = *c;
}

/* The rule matched item but will not score it: a field it reads was missing or of the wrong
 * type (the reason the field helpers noted; missing when none was). */
static void cand_skip(rw_batch_t *b, size_t item, size_t rule) {
    int why = rw_field_skip_take(NULL);
    rw_cand_t c = {(uint32_t)item, (uint32_t)rule, RW_CAND_SKIP, why ? why : RW_SKIP_MISSING,
                   SIZE_MAX,       SIZE_MAX,       NULL,         NULL,
                   NULL,           NULL,           NULL};
    cand_add(b, &c);
}

/* Records the event into the window keyed by its field kf. Returns the window
 * and sets *rec_off (NULL: a window another rule records into; the record is only
 * checked), or NULL when the event has no such key or no value. */
static rw_wstate_t *plan_record(rw_batch_t *b, uint32_t r, const rw_item_t *it,
                                const rw_field_t *kf, size_t *rec_off) {
    const rw_rule_t *rule = &b->rs->rules[r];
    char key[RW_RECORD_MAX], rec[RW_RECORD_MAX];
    if (!kf)
        key[0] = 0;
    else if (rw_field_text(it->event, kf, key, sizeof(key)) <= 0)
        return NULL;
    rec[0] = 0;
    if (rule->module->record(rule->state, it->event, rec, sizeof(rec)) != RW_OK)
        return NULL;
    rec[sizeof(rec) - 1] = 0;
    if (rec_off)
        *rec_off = arena_put(b, rec, strlen(rec));
    return window_touch(b, r, key, kf, it);
}

/* Ends a plan: each source's clock kept as the one the evaluation starts from (the plan
 * moves none), and the horizon the latest event time of the batch. */
static void plan_end(rw_batch_t *b) {
    b->clock_start_ms = b->clock_ms;
    for (size_t i = 0; i < b->n_srcs; i++)
        b->srcs[i].clock_start = b->pclocks[b->srcs[i].clock].ts;
    b->horizon_ms = b->clock_ms;
    for (size_t i = 0; i < b->n_items; i++)
        if (b->items[i].event && b->items[i].ts_ms > b->horizon_ms)
            b->horizon_ms = b->items[i].ts_ms;
}

/* Whether the rule keeps a window that its module records events into. */
static bool plan_windowed(const rw_rule_t *rule) {
    return rule->window_ms > 0 && rule->module->record;
}

/* Records item into the window of rule r that other events than the ones it scores
 * feed (the event matched the feed). */
static void plan_feed(rw_batch_t *b, size_t item, uint32_t r, const rw_item_t *it) {
    rw_cand_t c = {(uint32_t)item, r,    RW_CAND_RECORD, 0,    SIZE_MAX, SIZE_MAX,
                   NULL,           NULL, NULL,           NULL, NULL};
    if ((c.ws = plan_record(b, r, it, b->rs->rules[r].feed_key, &c.rec_off)))
        cand_add(b, &c);
}

/* Whether rule r's match holds for item. A match that failed for a field's type alone
 * (a number sent as a string) is noted and planned as a skip. */
static bool plan_match(rw_batch_t *b, size_t item, uint32_t r, const rw_item_t *it) {
    const rw_match_t *match = &b->rs->rules[r].match;
    rw_field_skip_take(NULL);
    if (rw_match_eval(match, it->event))
        return true;
    int why = rw_field_skip_take(NULL);
    if (why != RW_SKIP_NONE) {
        rw_field_skip_note(why, NULL);
        cand_skip(b, item, r);
    }
    return false;
}

/* A rule that tracks cases: plans item when it opens or closes a case (the case of its
 * correlate; a skip when it has none), and nothing for any other event. */
static void plan_case(rw_batch_t *b, size_t item, uint32_t r, const rw_item_t *it,
                      char text[RW_RECORD_MAX]) {
    const rw_rule_t *rule = &b->rs->rules[r];
    rw_cand_t c = {(uint32_t)item, r, 0, 0, SIZE_MAX, SIZE_MAX, NULL, NULL, NULL, NULL, NULL};
    if (rw_match_eval(rule->case_open, it->event))
        c.flags |= RW_CAND_OPEN;
    if (rw_match_eval(rule->case_close, it->event))
        c.flags |= RW_CAND_CLOSE;
    if (c.flags && rw_field_text(it->event, rule->case_key, text, RW_RECORD_MAX) > 0) {
        c.kase = rw_batch_case(b, r, text);
        cand_add(b, &c);
    } else if (c.flags) {
        cand_skip(b, item, r);
    }
}

/* The windows the measuring of item reads (c->ws) and writes (c->relay, or c->ws with
 * RW_CAND_RECORD and c->rec_off), by the kind of window of c's rule. Returns false when
 * the event lacks a key the window needs. */
static bool plan_window(rw_batch_t *b, rw_cand_t *c, const rw_item_t *it,
                        char text[RW_RECORD_MAX]) {
    const rw_rule_t *rule = &b->rs->rules[c->rule];
    if (rule->relay && rule->window_ms > 0) {
        if (rw_field_text(it->event, rule->read_key, text, RW_RECORD_MAX) <= 0)
            return false;
        c->ws = window_touch(b, c->rule, text, rule->read_key, it);
        if (rw_field_text(it->event, rule->relay_key, text, RW_RECORD_MAX) > 0)
            c->relay = window_touch(b, c->rule, text, rule->relay_key, it);
    } else if (plan_windowed(rule) && !rule->feed) {
        /* A window shared is recorded into by its first reader, whose candidate comes
         * first: the others read it with the event's entry in. They have its key, match
         * and record (what names the window; record() does not depend on the window's
         * length), so when it planned the event they take its window as it is. */
        bool records = rule->window_of == c->rule;
        c->flags |= records ? RW_CAND_RECORD : 0;
        if (!records && b->owners[rule->window_of].at == b->plan_at) {
            c->ws = b->owners[rule->window_of].ws;
            return true;
        }
        if (!(c->ws = plan_record(b, c->rule, it, rule->key, records ? &c->rec_off : NULL)))
            return false;
        if (records)
            b->owners[c->rule] = (struct rw_owner){c->ws, b->plan_at};
    } else if (plan_windowed(rule)) {
        const rw_field_t *rk = rule->read_key ? rule->read_key : rule->key;
        if (rk && rw_field_text(it->event, rk, text, RW_RECORD_MAX) <= 0)
            return false;
        c->ws = window_touch(b, c->rule, rk ? text : "", rk, it);
    }
    return true;
}

/* The cool-down of c's rule on c's key, for item. */
static rw_cool_t *cand_cool(rw_batch_t *b, rw_cand_t *c, const rw_item_t *it) {
    const char *ck = c->key_off == SIZE_MAX ? "" : rw_batch_str(b, c->key_off);
    c->cool = cool_get(b, c->rule, ck);
    if (!msg_keyed_by(it, b->rs->rules[c->rule].key, ck)) {
        c->cool->apart = true;
        c->cool->shared |= !b->apart_held;
    }
    c->flags &= ~RW_CAND_COOL;
    return c->cool;
}

/* Plans the measuring of item by rule r: its key, windows, lookup and cool-down, or a
 * skip when the event lacks a field one of them needs. */
static void plan_measure(rw_batch_t *b, size_t item, uint32_t r, const rw_item_t *it,
                         char text[RW_RECORD_MAX]) {
    const rw_rule_t *rule = &b->rs->rules[r];
    rw_cand_t c = {(uint32_t)item, r,   RW_CAND_MEASURE, 0, SIZE_MAX, SIZE_MAX, NULL, NULL, NULL,
                   NULL,           NULL};
    if (rule->key) {
        int n = rw_field_text(it->event, rule->key, text, RW_RECORD_MAX);
        if (n <= 0) { /* no key: not scored by this rule */
            cand_skip(b, item, r);
            return;
        }
        c.key_off = arena_put(b, text, (size_t)n);
    }
    if (!plan_window(b, &c, it, text)) {
        cand_skip(b, item, r);
        return;
    }
    if (rule->lookup_set) {
        if (rw_field_text(it->event, rule->lookup_field, text, RW_RECORD_MAX) < 0) {
            cand_skip(b, item, r);
            return;
        }
        c.lookup = lookup_get(b, rule->lookup_set, text);
    }
    if (rule->cooldown_ms > 0 && b->cools_lazy)
        c.flags |= RW_CAND_COOL; /* cand_cool(), when the rule reaches a level */
    else if (rule->cooldown_ms > 0)
        cand_cool(b, &c, it);
    cand_add(b, &c);
}

/* Events whose state the plan's look-ahead fetches at a time. */
#define AHEAD 32

/* The look-ahead's last two steps for the key indexes ks[0..m): the windows of the rules
 * looked ahead for, then the last entry of each. */
static void prefetch_windows(const rw_batch_t *b, const rw_keyidx_t *const *ks, size_t m) {
    for (size_t j = 0; j < m; j++)
        for (size_t r = 0; r < b->n_ahead_rules; r++) {
            const char *ws = ks[j]->slot[(size_t)b->ahead_rules[r] * 2];
            if (ws) { /* the lines a touch and an append read first (rw_wstate_t) */
                __builtin_prefetch(ws);
                __builtin_prefetch(ws + 64);
            }
        }
    for (size_t j = 0; j < m; j++)
        for (size_t r = 0; r < b->n_ahead_rules; r++) {
            const rw_wstate_t *ws = ks[j]->slot[(size_t)b->ahead_rules[r] * 2];
            if (ws && ws->n) {
                __builtin_prefetch(&ws->ents[ws->n - 1]);
                if (ws->meta)
                    __builtin_prefetch(&ws->meta[ws->n - 1]);
            }
        }
}

/* The plan's look-ahead over items [from, to). What planning and evaluating an event
 * touches lies far apart in memory: its key's index, a window or more, the end of each
 * window's entries. Found one event at a time, each is a cache miss after the one before.
 * Here they are asked for AHEAD events at a time, in steps that each read only what the
 * step before asked for (the key's place in its table, the index, its windows, their last
 * entries), so that the misses overlap. Only the key that most windows share (the account,
 * in most rulesets) is looked ahead for. A hint only: an index found by hash alone (another
 * key's) costs a fetch and changes nothing else. */
static void plan_prefetch(rw_batch_t *b, size_t from, size_t to) {
    const rw_field_t *kf = b->ahead_key;
    if (!kf || !b->n_keys)
        return;
    char text[RW_RECORD_MAX];
    for (size_t i0 = from; i0 < to; i0 += AHEAD) {
        uint64_t hash[AHEAD];
        const rw_keyidx_t *ks[AHEAD];
        size_t n = 0, m = 0;
        for (size_t i = i0; i < to && i < i0 + AHEAD; i++) {
            rw_item_t *it = &b->items[i]; /* the key's pseudonym is kept for the plan */
            if (!it->event)
                continue;
            rw_field_cache_begin(it->event, &it->top, &it->refs);
            int len = rw_field_text(it->event, kf, text, sizeof(text));
            rw_field_cache_end();
            if (len <= 0)
                continue;
            hash[n] = bytes_hash(text, (size_t)len);
            __builtin_prefetch(&b->ktab[hash[n] & (b->ktab_size - 1)]);
            n++;
        }
        rw_field_skip_take(NULL); /* a missing key is the plan's to note, not this hint's */
        for (size_t j = 0; j < n; j++) {
            const rw_keyidx_t *k = b->ktab[hash[j] & (b->ktab_size - 1)];
            while (k && k->hash != hash[j])
                k = k->next;
            /* Within its slots: always so (a new ruleset drops every index), but checked. */
            if (k && (size_t)b->ahead_rules[b->n_ahead_rules - 1] * 2 < k->n_slots) {
                __builtin_prefetch(k);
                ks[m++] = k;
            }
        }
        prefetch_windows(b, ks, m);
    }
}

void rw_batch_plan_some(rw_batch_t *b) {
    const rw_ruleset_t *rs = b->rs;
    plan_prefetch(b, b->n_planned, b->n_items);
    /* The helpers' buffer for a field's text: one each would keep the compiler from
     * inlining them into this loop. */
    char text[RW_RECORD_MAX];
    if (b->n_planned == 0) { /* a plan starts: no candidates or lookups yet */
        b->n_cands = 0;
        lookups_clear(b);
    }
    for (size_t i = b->n_planned; i < b->n_items; i++) {
        rw_item_t *it = &b->items[i];
        if (!it->event)
            continue;
        rw_field_cache_begin(it->event, &it->top, &it->refs);
        b->plan_at++;
        size_t n_visit;
        const uint32_t *visit = rw_ruleset_rules_for(rs, it->type, &n_visit);
        for (size_t v = 0; v < n_visit; v++) {
            uint32_t r = visit[v];
            const rw_rule_t *rule = &rs->rules[r];
            /* A window fed by other events: record those first. */
            if (plan_windowed(rule) && rule->feed && rw_match_eval(rule->feed, it->event))
                plan_feed(b, i, (uint32_t)r, it);
            if (!plan_match(b, i, (uint32_t)r, it))
                continue;
            if (rule->case_open)
                plan_case(b, i, (uint32_t)r, it, text);
            else
                plan_measure(b, i, (uint32_t)r, it, text);
        }
        rw_field_cache_end();
    }
    b->n_planned = b->n_items;
}

void rw_batch_plan(rw_batch_t *b) {
    rw_batch_plan_some(b);
    plan_end(b);
    b->n_planned = 0;
}

/* ---- counters ---------------------------------------------------------------------- */

/* A counter key: prefix, then the parts given, joined by ':' (at most 300 bytes). */
static void counter_key(char key[300], const char *prefix, const char *a, const char *c) {
    size_t o = 0;
    const char *parts[3] = {prefix, a, c};
    for (int i = 0; i < 3 && parts[i]; i++) {
        size_t l = strlen(parts[i]);
        if (o + l + 2 > 300)
            l = 300 - o - 2;
        if (i)
            key[o++] = ':';
        memcpy(key + o, parts[i], l);
        o += l;
    }
    key[o] = 0;
}

/* The calendar date of an event time (16 bytes), remembered for the next event
 * of the same day: most events of a batch share one. */
static void date_of(int64_t ts_ms, int offset_min, char date[16]) {
    static _Thread_local int64_t day = INT64_MIN;
    static _Thread_local int off = 0;
    static _Thread_local char text[16];
    int64_t d = (ts_ms + (int64_t)offset_min * 60000) / 86400000 -
                ((ts_ms + (int64_t)offset_min * 60000) % 86400000 < 0);
    if (d != day || off != offset_min) {
        rw_date_format(ts_ms, offset_min, text, sizeof(text));
        day = d;
        off = offset_min;
    }
    memcpy(date, text, 16);
}

static void incr(rw_batch_t *b, const char *key, const char *field, int64_t by) {
    uint64_t h = rw_hash64(key, strlen(key)) * 31 + rw_hash64(field, strlen(field));
    size_t slot = (size_t)(h & (b->ctab_size - 1));
    for (rw_incr_t *c = b->ctab[slot]; c; c = c->next) {
        /* Chains are rebuilt per slot below; walk the slot's own list. */
        if (strcmp(c->key, key) == 0 && strcmp(c->field, field) == 0) {
            c->by += by;
            return;
        }
    }
    rw_incr_t *c = rw_calloc(1, sizeof(*c));
    c->key = rw_strdup(key);
    c->field = rw_strdup(field);
    c->by = by;
    c->next = b->ctab[slot];
    b->ctab[slot] = c;
}

static void counters_collect(rw_batch_t *b) {
    /* Gather the table into the flat list the stores read. */
    b->incrs = NULL;
    for (size_t i = 0; i < b->ctab_size; i++) {
        rw_incr_t *c = b->ctab[i];
        while (c) {
            rw_incr_t *next = c->next;
            c->next = b->incrs;
            b->incrs = c;
            c = next;
        }
        b->ctab[i] = NULL;
    }
}

/* ---- evaluate ---------------------------------------------------------------------- */

/* ---- cases ------------------------------------------------------------------------ */

/* The time the case's next threshold (above its level) is crossed. */
static int64_t case_next(const rw_batch_t *b, const rw_case_t *k) {
    const rw_rule_t *r = &b->rs->rules[k->rule];
    for (int l = k->level + 1; l < RW_LEVELS; l++)
        if (r->has[l])
            return r->module->case_due(r->state, k->open_ms, r->threshold[l]);
    return INT64_MAX;
}

/* In memory: lists the open case k with its due time, or moves it there. */
static void due_set(rw_batch_t *b, rw_case_t *k) {
    if (b->mode != RW_STATE_MEMORY)
        return;
    if (k->due_at == SIZE_MAX) {
        GROW(b->dues, b->n_dues, b->cap_dues);
        k->due_at = b->n_dues++;
    }
    b->dues[k->due_at] = (rw_case_due_t){k->due_ms, k};
}

/* In memory: k, closed, leaves the list. */
static void due_drop(rw_batch_t *b, rw_case_t *k) {
    if (k->due_at == SIZE_MAX)
        return;
    b->dues[k->due_at] = b->dues[--b->n_dues];
    b->dues[k->due_at].kase->due_at = k->due_at;
    k->due_at = SIZE_MAX;
}

static void case_event(rw_batch_t *b, const rw_cand_t *c, const rw_item_t *it) {
    rw_case_t *k = c->kase;
    const char *part = b->pclocks[b->srcs[it->src].clock].part;
    if ((c->flags & RW_CAND_CLOSE) && k->open) {
        k->open = false;
        k->dirty = true;
        due_drop(b, k);
        return;
    }
    if ((c->flags & RW_CAND_OPEN) && !k->open) {
        k->open = true;
        k->dirty = true;
        k->open_ms = it->ts_ms;
        k->level = RW_LEVEL_NONE;
        json_decref(k->rec);
        /* A copy of its own: the event's memory goes with the batch. */
        json_t *ev = rw_batch_event(b, it);
        json_t *rec =
            json_pack("{s:s, s:O, s:s, s:o}", "i", it->event_id, "s", json_object_get(ev, "ts"),
                      "t", it->type, "e", rw_ruleset_mask_event(b->rs, ev));
        k->rec = json_deep_copy(rec);
        json_decref(rec);
        free(k->part);
        k->part = rw_strdup(part);
        k->due_ms = case_next(b, k);
        due_set(b, k);
        if (k->due_ms < b->next_due_ms)
            b->next_due_ms = k->due_ms;
    }
}

static int64_t cases_next_due(const rw_batch_t *b) {
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < b->kstab_size; i++)
        for (const rw_case_t *k = b->kstab[i]; k; k = k->next)
            if (k->open && k->due_ms < next)
                next = k->due_ms;
    return next;
}

static void incr(rw_batch_t *b, const char *key, const char *field, int64_t by);

/* Raises the alerts of the open case k that is due at the clock pc, at item's time: one
 * for each threshold its measure crossed, in order, counted on the day date. The case is
 * then due when its next threshold is crossed. */
static void case_fire(rw_batch_t *b, rw_case_t *k, uint32_t item, const rw_pclock_t *pc,
                      const char *date) {
    const rw_rule_t *r = &b->rs->rules[k->rule];
    char key[300];
    double m = r->module->case_measure(r->state, k->open_ms, pc->ts);
    for (int level = k->level + 1; level < RW_LEVELS; level++) {
        if (!r->has[level] || m < r->threshold[level])
            continue;
        GROW(b->case_alerts, b->n_case_alerts, b->cap_case_alerts);
        b->case_alerts[b->n_case_alerts++] =
            (rw_case_alert_t){item, k, json_incref(k->rec), level, m, pc->ts};
        k->level = level;
        if (b->counters_off)
            continue;
        counter_key(key, "alerts", date, NULL);
        incr(b, key, rw_level_name(level), 1);
        counter_key(key, "rule", r->id, date);
        incr(b, key, rw_level_name(level), 1);
    }
    k->due_ms = case_next(b, k);
    k->dirty = true;
    due_set(b, k);
}

/* Raises the alerts of open cases whose next threshold the clock passed, at
 * item's time. Returns the next due time. */
static int fire_cmp(const void *x, const void *y) {
    const rw_case_t *a = *(rw_case_t *const *)x, *c = *(rw_case_t *const *)y;
    if (a->slot != c->slot)
        return a->slot < c->slot ? -1 : 1;
    return a->seq > c->seq ? -1 : a->seq < c->seq;
}

/* cases_fire() in memory: the cases due from the list of open ones, fired in the order of
 * the table (by slot, newest first), as a walk of the table fires them. */
static int64_t dues_fire(rw_batch_t *b, uint32_t item, const rw_pclock_t *pc, const char *date) {
    int64_t next = INT64_MAX;
    size_t n = 0;
    for (size_t i = 0; i < b->n_dues; i++) {
        const rw_case_due_t *d = &b->dues[i];
        if (d->due_ms <= pc->ts && d->kase->part && strcmp(d->kase->part, pc->part) == 0) {
            GROW(b->fire_order, n, b->cap_fire_order);
            b->fire_order[n++] = d->kase;
        } else if (d->due_ms < next) {
            next = d->due_ms;
        }
    }
    if (n > 1) /* fire_order is NULL until a case is due */
        qsort(b->fire_order, n, sizeof(rw_case_t *), fire_cmp);
    for (size_t i = 0; i < n; i++) {
        case_fire(b, b->fire_order[i], item, pc, date);
        if (b->fire_order[i]->due_ms < next)
            next = b->fire_order[i]->due_ms;
    }
    return next;
}

static int64_t cases_fire(rw_batch_t *b, uint32_t item, const rw_pclock_t *pc) {
    int64_t next = INT64_MAX;
    char date[16];
    date_of(pc->ts, b->rs->calendar.utc_offset_min, date);
    if (b->mode == RW_STATE_MEMORY)
        return dues_fire(b, item, pc, date);
    for (size_t i = 0; i < b->kstab_size; i++)
        for (rw_case_t *k = b->kstab[i]; k; k = k->next) {
            if (!k->open)
                continue;
            if (k->due_ms <= pc->ts && k->part && strcmp(k->part, pc->part) == 0)
                case_fire(b, k, item, pc, date);
            if (k->due_ms < next)
                next = k->due_ms;
        }
    return next;
}

int rw_case_from_record(rw_case_t *k, const char *json, size_t len) {
    json_t *j = json_loadb(json, len, 0, NULL);
    json_int_t o, l, d;
    json_t *rec = NULL;
    const char *part = NULL;
    if (!j ||
        json_unpack(j, "{s:I, s:I, s:I, s:o, s?s}", "o", &o, "l", &l, "d", &d, "r", &rec, "p",
                    &part) ||
        !json_is_object(rec) || l < 0 || l >= RW_LEVELS) {
        json_decref(j);
        return -1;
    }
    k->open = true;
    k->open_ms = o;
    k->level = (int)l;
    k->due_ms = d;
    json_decref(k->rec);
    k->rec = json_incref(rec);
    free(k->part);
    k->part = rw_strdup(part ? part : "");
    json_decref(j);
    return 0;
}

char *rw_case_record(const rw_case_t *k) {
    json_t *j = json_pack("{s:I, s:I, s:I, s:O, s:s}", "o", (json_int_t)k->open_ms, "l",
                          (json_int_t)k->level, "d", (json_int_t)k->due_ms, "r", k->rec, "p",
                          k->part ? k->part : "");
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* The "topic/partition/offset" of item's message, as a cool-down's set_by names it. */
static void cool_src(const rw_item_t *it, char src[300]) {
    snprintf(src, 300, "%s/%d/%lld", it->msg.topic, (int)it->msg.partition,
             (long long)it->msg.offset);
}

/* Applies a rule's cool-down to a hit at level. Returns true when the hit is
 * held back; otherwise *held is the number held back before it. A message read
 * again changes nothing: it is held back, or passes, as it did the first time. */
static bool cool_hold(rw_batch_t *b, rw_cool_t *c, const rw_item_t *it, int level, int64_t *held,
                      char *date, char key[300]) {
    const rw_rule_t *r = &b->rs->rules[c->rule];
    /* The message's "topic/partition/offset", written only where it is compared or kept. */
    char src[300];
    b->state_alerts = true;
    if (it->applied) {
        if (c->set_by) {
            cool_src(it, src);
            if (strcmp(c->set_by, src) == 0)
                return false;
        }
        return c->level >= level && it->ts_ms < c->until_ms;
    }
    if (c->level >= level && it->ts_ms < c->until_ms) {
        c->suppressed++;
        c->dirty = true;
        if (!b->counters_off) {
            date_of(it->ts_ms, b->rs->calendar.utc_offset_min, date);
            counter_key(key, "suppressed", date, NULL);
            incr(b, key, r->id, 1);
        }
        return true;
    }
    *held = c->suppressed;
    c->level = level;
    c->until_ms = it->ts_ms + r->cooldown_ms;
    c->suppressed = 0;
    free(c->set_by);
    cool_src(it, src);
    c->set_by = rw_strdup(src);
    c->dirty = true;
    return false;
}

/* The scorecard's score on the current item: the weighted sum of its parts' levels, or
 * measures, where their rules reached one (sc_*, at sc_tick). *all: every part reached a
 * level. */
static double scorecard_score(const rw_batch_t *b, const rw_rule_t *sc, bool *all) {
    double score = 0;
    *all = true;
    for (size_t k = 0; k < sc->n_parts; k++) {
        const rw_score_part_t *p = &sc->parts[k];
        bool seen = b->sc_stamp[p->rule] == b->sc_tick;
        int level = seen ? b->sc_level[p->rule] : RW_LEVEL_NONE;
        *all = *all && level != RW_LEVEL_NONE;
        if (seen)
            score += p->weight * (p->of_measure ? b->sc_measure[p->rule] : (double)level);
    }
    return score;
}

/* Keeps the values of the scorecard's parts on the current item for its alert. Returns
 * their offset in b->part_vals. */
static size_t scorecard_parts(rw_batch_t *b, const rw_rule_t *sc) {
    size_t off = b->n_part_vals;
    for (size_t k = 0; k < sc->n_parts; k++) {
        uint32_t r = sc->parts[k].rule;
        bool seen = b->sc_stamp[r] == b->sc_tick;
        GROW(b->part_vals, b->n_part_vals, b->cap_part_vals);
        b->part_vals[b->n_part_vals++] = (rw_part_val_t){seen ? b->sc_level[r] : RW_LEVEL_NONE,
                                                         seen, seen ? b->sc_measure[r] : 0};
    }
    return off;
}

/* The scorecards' hits on item, from the outcomes of its rules (sc_*, at sc_tick). */
static void scorecards_eval(rw_batch_t *b, rw_item_t *it) {
    const rw_ruleset_t *rs = b->rs;
    for (size_t s = rs->n_rules - rs->n_scorecards; s < rs->n_rules; s++) {
        const rw_rule_t *sc = &rs->rules[s];
        bool all;
        double score = scorecard_score(b, sc, &all);
        if ((sc->all_of && !all) || !isfinite(score))
            continue;
        int level = rw_rule_level(sc, score);
        if (level == RW_LEVEL_NONE)
            continue;
        size_t off = scorecard_parts(b, sc);
        GROW(b->hits, b->n_hits, b->cap_hits);
        b->hits[b->n_hits++] = (rw_hit_t){(uint32_t)s, level, score, 0, off};
        it->n_hits++;
        if (level > it->level)
            it->level = level; /* the alert stays keyed by the entity of its rules */
    }
}

/* Counts a skip of rule on an event applied for the first time. */
static void skip_count(rw_batch_t *b, const rw_item_t *it, uint32_t rule, int reason) {
    if (!it->applied && reason > RW_SKIP_NONE && reason < RW_SKIP_REASONS)
        b->skips[(size_t)rule * RW_SKIP_REASONS + (size_t)reason]++;
}

/* Adds the event's entry to ws, trimming it when stale entries have piled up. */
static void window_record(rw_batch_t *b, rw_wstate_t *ws, const rw_item_t *it, const char *value) {
    rw_window_add(b, ws, it->ts_ms, it->src, it->msg.offset, value, b->mode != RW_STATE_MEMORY);
    if (rw_batch_keeps_state(b) && ws->n >= ws->trim_at)
        rw_window_trim(b, ws);
}

/* Sizes the evaluation's tables for the ruleset's rules (the skip counts, zeroed, and the
 * scorecards' view of each rule's outcome). */
static void eval_tables(rw_batch_t *b) {
    const rw_ruleset_t *rs = b->rs;
    if (b->n_skips < rs->n_rules * RW_SKIP_REASONS) {
        free(b->skips);
        b->n_skips = rs->n_rules * RW_SKIP_REASONS;
        b->skips = rw_calloc(b->n_skips ? b->n_skips : 1, sizeof(*b->skips));
    }
    memset(b->skips, 0, (b->n_skips ? b->n_skips : 1) * sizeof(*b->skips));
    if (b->sc_cap < rs->n_rules) {
        b->sc_cap = rs->n_rules;
        b->sc_measure = rw_realloc(b->sc_measure, b->sc_cap * sizeof(*b->sc_measure));
        b->sc_level = rw_realloc(b->sc_level, b->sc_cap * sizeof(*b->sc_level));
        free(b->sc_stamp);
        b->sc_stamp = rw_calloc(b->sc_cap, sizeof(*b->sc_stamp));
    }
}

/* Starts an evaluation: no hits, counters or case alerts yet, and the clocks where the
 * plan started them. */
static void eval_begin(rw_batch_t *b) {
    incrs_clear(b);
    b->n_hits = 0;
    b->n_part_vals = 0;
    eval_tables(b);
    case_alerts_clear(b);
    b->state_alerts = false;
    b->clock_ms = b->clock_start_ms;
    for (size_t i = 0; i < b->n_srcs; i++)
        b->pclocks[b->srcs[i].clock].ts = b->srcs[i].clock_start;
    /* In memory the due time kept from the last batch is never later than the earliest
     * (a case closed since may have been that): no walk of every case each batch. A store
     * may add cases of its own (RW_STATE_CACHED). */
    if (b->mode != RW_STATE_MEMORY)
        b->next_due_ms = cases_next_due(b);
}

/* Starts item's outcome (no level or hits; applied when a copy read again or at or below
 * its source's fence) and moves the batch's clock and its partition's to its time.
 * Returns its partition's clock. */
static rw_pclock_t *item_begin(rw_batch_t *b, rw_item_t *it) {
    const rw_src_t *src = &b->srcs[it->src];
    it->applied = it->again || (src->fence >= 0 && it->msg.offset <= src->fence);
    it->level = RW_LEVEL_NONE;
    it->hit_off = b->n_hits;
    it->n_hits = 0;
    it->key_rule = -1;
    it->key_off = SIZE_MAX;
    rw_pclock_t *pc = &b->pclocks[src->clock];
    if (it->event && it->ts_ms > b->clock_ms)
        b->clock_ms = it->ts_ms;
    if (it->event && it->ts_ms > pc->ts)
        pc->ts = it->ts_ms;
    return pc;
}

/* Measures item by the rule of candidate c, over its window (rule->relay then writes the
 * relayed window, once). Returns the module's code, the measure in *measure. */
static int cand_measure(rw_batch_t *b, const rw_cand_t *c, const rw_item_t *it, double *measure) {
    const rw_rule_t *rule = &b->rs->rules[c->rule];
    rw_input_t in = {it->event, it->ts_ms, NULL, 0, c->lookup ? c->lookup->result : -1};
    sum_ws = NULL;
    if (c->ws) {
        in.entries = window_view(b, c->ws, rule->window_ms, it->ts_ms, it->src, it->msg.offset,
                                 &in.n_entries, &sum_lo);
        sum_ws = sum_lo == SIZE_MAX ? NULL : c->ws;
    }
    rw_field_skip_take(NULL);
    int rc = rule->module->measure(rule->state, &in, measure);
    if (c->relay && !it->applied) {
        char rec[RW_RECORD_MAX];
        rec[0] = 0;
        if (rule->relay(rule->state, &in, rec, sizeof(rec)) == RW_OK) {
            rec[sizeof(rec) - 1] = 0;
            window_record(b, c->relay, it, rec);
        }
    }
    sum_ws = NULL;
    return rc;
}

/* Adds the hit of c's rule on item at level; the item's level, and the rule its alert is
 * keyed by, are its highest hit's. */
static void hit_add(rw_batch_t *b, rw_item_t *it, const rw_cand_t *c, int level, double measure,
                    int64_t held) {
    GROW(b->hits, b->n_hits, b->cap_hits);
    b->hits[b->n_hits++] = (rw_hit_t){c->rule, level, measure, held, SIZE_MAX};
    it->n_hits++;
    if (level > it->level) {
        it->level = level;
        it->key_rule = (int)c->rule;
        it->key_off = c->key_off;
    }
}

/* Scores item by the rule of candidate c: its measure (a skip when there is none), its
 * level for the scorecards, and a hit unless below every threshold or cooling down. */
static void cand_score(rw_batch_t *b, rw_item_t *it, rw_cand_t *c, char date[16], char key[300]) {
    const rw_rule_t *rule = &b->rs->rules[c->rule];
    double measure;
    if (cand_measure(b, c, it, &measure) != RW_OK) {
        /* "Not mine" (no new value, an empty sequence) is no skip; a field is. */
        skip_count(b, it, c->rule, rw_field_skip_take(NULL));
        return;
    }
    if (!isfinite(measure)) {
        skip_count(b, it, c->rule, RW_SKIP_NOT_FINITE);
        return;
    }
    int level = rw_rule_level(rule, measure);
    if (b->rs->n_scorecards) {
        b->sc_stamp[c->rule] = b->sc_tick;
        b->sc_measure[c->rule] = measure;
        b->sc_level[c->rule] = level;
    }
    if (level == RW_LEVEL_NONE)
        return;
    int64_t held = 0;
    if (c->flags & RW_CAND_COOL)
        cand_cool(b, c, it);
    if (c->cool && cool_hold(b, c->cool, it, level, &held, date, key))
        return;
    hit_add(b, it, c, level, measure, held);
}

/* Evaluates one candidate of item: a skip is counted, a case's event applied, a window
 * recorded into, and a measured rule scored. */
static void cand_eval(rw_batch_t *b, rw_item_t *it, rw_cand_t *c, char date[16], char key[300]) {
    if (c->flags & RW_CAND_SKIP) {
        skip_count(b, it, c->rule, c->skip);
        return;
    }
    if (c->kase) {
        if (!it->applied)
            case_event(b, c, it);
        return;
    }
    if (c->ws && (c->flags & RW_CAND_RECORD) && !it->applied)
        window_record(b, c->ws, it, rw_batch_str(b, c->rec_off));
    if (c->flags & RW_CAND_MEASURE)
        cand_score(b, it, c, date, key);
}

/* Counts an event applied for the first time on its day: its type, its alert's level, and
 * each of its hits by rule and level. */
static void item_count(rw_batch_t *b, const rw_item_t *it, char date[16], char key[300]) {
    date_of(it->ts_ms, b->rs->calendar.utc_offset_min, date);
    counter_key(key, "events", date, NULL);
    incr(b, key, it->type, 1);
    if (it->level > RW_LEVEL_NONE) {
        counter_key(key, "alerts", date, NULL);
        incr(b, key, rw_level_name(it->level), 1);
        for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++) {
            counter_key(key, "rule", b->rs->rules[b->hits[h].rule].id, date);
            incr(b, key, rw_level_name(b->hits[h].level), 1);
        }
    }
}

void rw_batch_evaluate(rw_batch_t *b) {
    size_t ci = 0;
    char date[16], key[300];
    eval_begin(b);
    for (size_t i = 0; i < b->n_items; i++) {
        rw_item_t *it = &b->items[i];
        rw_pclock_t *pc = item_begin(b, it);
        /* Time passes first: a deadline that passed before this event alerts
         * even when this event closes the case. */
        if (it->event && !it->applied && b->n_cases && pc->ts >= b->next_due_ms)
            b->next_due_ms = cases_fire(b, (uint32_t)i, pc);
        if (!it->event) {
            if (!it->applied && !b->counters_off) {
                rw_date_format(it->msg.arrival_ms, b->rs->calendar.utc_offset_min, date,
                               sizeof(date));
                counter_key(key, "events", date, NULL);
                incr(b, key, "deadletter", 1);
            }
            continue;
        }
        rw_field_cache_begin(it->event, &it->top, &it->refs);
        b->sc_tick++;
        for (; ci < b->n_cands && b->cands[ci].item == i; ci++)
            cand_eval(b, it, &b->cands[ci], date, key);
        rw_field_cache_end();
        if (b->rs->n_scorecards)
            scorecards_eval(b, it);
        if (it->applied)
            continue;
        /* A case this event opened may be due already (a late opening event). */
        if (b->n_cases && pc->ts >= b->next_due_ms)
            b->next_due_ms = cases_fire(b, (uint32_t)i, pc);
        if (!b->counters_off)
            item_count(b, it, date, key);
    }
    counters_collect(b);
}
