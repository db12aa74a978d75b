/* Fields: dotted paths into an event ("amount", "geo.country") and composite keys, compiled
 * once when a ruleset loads, and read per event. */
#ifndef RW_FIELD_H
#define RW_FIELD_H

#include "error.h"
#include "expr.h"
#include "riskwarn/module.h"

#include "pseudonym.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct rw_ruleset;
struct rw_jtop;

/* Distinct first parts of field paths a ruleset caches per event. */
#define RW_FIELD_SLOTS 64

/* Pseudonyms of an event's masked fields kept beside it from one cache of it to the next
 * (the plan's look-ahead, the plan, the evaluation): each computed once an event. Zeroed:
 * none kept. */
#define RW_FIELD_REFS 4
typedef struct rw_field_refs {
    const void *owner; /* the ruleset whose slots they are */
    uint8_t n, slot[RW_FIELD_REFS];
    char ref[RW_FIELD_REFS][RW_PSEUDONYM_LEN + 1];
} rw_field_refs_t;

/* Between begin and end, lookups in this event (borrowed, unchanged meanwhile)
 * are cached: once per top-level name, found in top (its table of top-level members,
 * jparse.h; NULL: none) when that tells, else in the event. refs (NULL: none) gives the
 * pseudonyms an earlier cache of the event kept, and keeps those this one computes (the
 * first RW_FIELD_REFS). */
void rw_field_cache_begin(const json_t *event, const struct rw_jtop *top, rw_field_refs_t *refs);
void rw_field_cache_end(void);

/* Distinct match conditions a ruleset keeps the results of per event. */
#define RW_MATCH_MEMO 64

/* The results of distinct conditions kept for the event of the cache (rw_field_cache_begin
 * empties it; the functions below read and fill it). */
typedef struct rw_field_memo {
    const json_t *event; /* the cache's event; NULL: off */
    const void *owner;   /* the ruleset of the results kept */
    uint64_t known;
    int value[RW_MATCH_MEMO];
} rw_field_memo_t;
extern _Thread_local rw_field_memo_t rw_field_memo;

/* The result of distinct condition id of ruleset owner on event, kept since the cache's
 * begin: true with *value set when known (event the cached one). */
static inline bool rw_field_memo_get(const json_t *event, const void *owner, int id, int *value) {
    if (!event || event != rw_field_memo.event || owner != rw_field_memo.owner ||
        !(rw_field_memo.known & (uint64_t)1 << id))
        return false;
    *value = rw_field_memo.value[id];
    return true;
}

/* Keeps one (nothing when event is not the cached one). */
static inline void rw_field_memo_put(const json_t *event, const void *owner, int id, int value) {
    if (!event || event != rw_field_memo.event)
        return;
    if (owner != rw_field_memo.owner) {
        rw_field_memo.owner = owner;
        rw_field_memo.known = 0;
    }
    rw_field_memo.value[id] = value;
    rw_field_memo.known |= (uint64_t)1 << id;
}

struct rw_field {
    char *path; /* composite keys: the parts' paths joined by '+' */
    size_t n_parts;
    char **parts;
    /* A composite key (["account", "counterparty"]): its fields, in order; 0 otherwise. Its
     * text is the parts' texts joined by '|', each with '\\' and '|' escaped by '\\'. */
    size_t n_subs;
    struct rw_field **subs;
    int slot;              /* its first part's place in the event cache; -1: not cached */
    size_t len0;           /* its first part's length */
    uint64_t head0;        /* and first 8 bytes (rw_jtop_head) */
    bool pseudonym;        /* a masked field: rw_field_text gives its pseudonym (pseudonym.h) */
    const void *owner;     /* the ruleset: slots are numbered per ruleset */
    struct rw_field *next; /* the ruleset's list, for freeing */
};

/* Compiles a dotted path for ruleset rs (masking parsed already). Returns a new field owned by
 * rs (freed with it), or NULL with err filled (RW_ERR_INPUT). */
rw_field_t *rw_field_compile(struct rw_ruleset *rs, const char *path, rw_error_t *err);
/* Compiles a key: a path, or a list of 1 to 8 distinct paths (a composite key). The same
 * ownership and errors. */
rw_field_t *rw_field_compile_key(struct rw_ruleset *rs, const json_t *spec, rw_error_t *err);

/* Why a field or expression read failed (an RW_SKIP_* of expr.h), noted by the engine's
 * field helpers when a read fails, per thread: the first note since the last take wins.
 * rw_field_skip_take returns it (RW_SKIP_NONE when none) with the field, and clears it. */
typedef struct rw_field_skip {
    int reason;
    const rw_field_t *field;
} rw_field_skip_t;
extern _Thread_local rw_field_skip_t rw_field_skip_noted; /* the last failed read's, per thread */

static inline void rw_field_skip_note(int reason, const rw_field_t *field) {
    if (rw_field_skip_noted.reason == RW_SKIP_NONE) {
        rw_field_skip_noted.reason = reason;
        rw_field_skip_noted.field = field;
    }
}

static inline int rw_field_skip_take(const rw_field_t **field) {
    int r = rw_field_skip_noted.reason;
    if (field)
        *field = rw_field_skip_noted.field;
    rw_field_skip_noted.reason = RW_SKIP_NONE;
    rw_field_skip_noted.field = NULL;
    return r;
}

#endif
