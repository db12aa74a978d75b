/*
 * Batch evaluation: the code `run` and `replay` share.
 *
 * A batch goes through fixed phases:
 *   rw_batch_add()      parse each message into an event, or mark it for the
 *                       dead-letter topic with a reason;
 *   rw_batch_plan()     match every rule, find each rule's key and the windows
 *                       the batch needs;
 *   store->load()       one read from the state store: each source partition's
 *                       fence (the last offset whose updates are stored) and the
 *                       windows' recent entries;
 *   rw_batch_evaluate() measures, levels and alerts, in memory, in input order;
 *   store->apply()      one atomic write: counters, window entries, fences.
 *
 * A message at or below its partition's fence was applied before (a re-read
 * after a crash or a rebalance): it is evaluated and its alert is published
 * again with the same alert_id, but it adds nothing to counters or windows.
 */
#ifndef RW_EVAL_H
#define RW_EVAL_H

#include "jparse.h"
#include "ruleset.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

/* One input message; everything borrowed until the batch is reset. */
typedef struct rw_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *payload;
    size_t len;
    int64_t arrival_ms;
    int64_t kafka_ts_ms; /* the message's Kafka timestamp; 0 when unknown */
    const char *key;     /* the message's Kafka key; NULL when none */
    size_t key_len;
} rw_msg_t;

/* A source partition of the batch. */
typedef struct rw_src {
    char *topic;
    int32_t partition;
    int64_t fence;       /* last applied offset; -1 when none */
    bool fence_known;    /* fence read from the store, or written by this engine since */
    int64_t max_offset;  /* highest offset in this batch */
    size_t clock;        /* index of its partition's clock in the batch's clocks */
    int64_t clock_start; /* that clock before this batch: evaluating again starts there */
} rw_src_t;

/* Event time of one input partition: the highest ts seen in it. Deadline cases
 * follow the clock of the partition their opening event came from, so that a
 * case's closing event, later in the same partition, is always seen first. */
typedef struct rw_pclock {
    char *part; /* "topic/partition" */
    int64_t ts;
    int64_t mark; /* its watermark: the highest ts accepted from it (rw_batch_add) */
} rw_pclock_t;

/* Events further ahead than this of their partition's watermark are dead
 * letters (future_timestamp): the default of `run` (max_future_ms) and
 * `replay`. The watermark is the later of the highest ts accepted from the
 * partition and the wall clock when the message was read (its arrival), so a
 * partition's first event, and one after a quiet spell, are judged against
 * the wall clock. Such an event never moves a window or deadline clock. */
#define RW_MAX_FUTURE_MS 300000

/* Where a window entry came from, beside its public part (rw_window_entry_t). */
typedef struct rw_wmeta {
    int64_t offset;
    uint32_t src : 30;     /* index in the batch's sources */
    uint32_t fresh : 1;    /* not yet written to the store */
    uint32_t unfolded : 1; /* written to its partition's journal, not yet to the window's own
                              record (the Redis store's fold) */
} rw_wmeta_t;              /* 16 bytes */

/* The highest offset a window holds from one source. */
typedef struct rw_wsrc {
    uint32_t src;
    int64_t max_offset;
} rw_wsrc_t;

#define RW_READ_ENTRIES 1 /* a window's entries */
#define RW_READ_TAIL 4    /* only what its list gained since the last read (Redis store) */
#define RW_READ_REDO 8    /* the list changed since: to be read whole (Redis store) */
#define RW_READ_FOLDED                                                                             \
    16 /* its journaled entries were appended to its list first (Redis store)                      \
        */

/* A window: one rule, one key. Entries are kept sorted by time (equal times in
 * the order they came), so that the entries of (T - window, T] are one run of
 * the array: measure() reads them in place, and sums come from prefix sums. */
typedef struct rw_wstate {
    /* Allocated on a cache line of its own, and laid out by line: the plan's touch reads the
     * second line, a measure's view the first two, appending the first three. */
    rw_window_entry_t *ents; /* sorted by ts_ms; values in vals (or a static "") */
    rw_wmeta_t *meta;        /* parallel to ents; NULL when the batch keeps no origins */
    uint32_t *vhash;         /* parallel to ents: each value's hash (its low half), for
                                rw_window_count_value(), which scans them 16 to a cache line;
                                NULL until it first asks (most windows are only counted) */
    long double *prefix;     /* prefix[i]: sum of ents[0..i).num; n + 1 of them; NULL until
                                rw_window_sum() first needs them */
    size_t n, cap;
    rw_wsrc_t *srcs;   /* per source: its highest offset here; &src1 while there is one */
    int64_t max_ts_ms; /* newest entry */
    /* second line */
    int64_t load_min_ms; /* this batch's events need entries with ts > this */
    uint64_t used;       /* the batch that last touched it (eviction) */
    size_t view_lo;      /* where the last view's run started: the next one mostly starts there */
    /* The times of the entries either side of view_lo (INT64_MIN before the first, INT64_MAX
     * after the last), so that a run starting there again reads neither: for a long window
     * they are far from its newest entries, each a cache miss. */
    int64_t view_ts_lo, view_ts_at;
    int64_t window_ms;
    size_t n_srcs;
    bool loaded;     /* kept state (run): entries with ts > loaded_from_ms are all here */
    bool shared;     /* fed from partitions this engine may not own: read every batch */
    bool apart;      /* keyed apart from a message that fed it (shared unless b->apart_held) */
    uint8_t reading; /* RW_READ_*: what the store asked for and has not read yet */
    /* third line */
    rw_wsrc_t src1;
    char *vals; /* the entries' values, NUL-terminated, one after another; owned */
    size_t vals_len, vals_cap;
    size_t n_fresh;  /* entries not yet written to the store */
    size_t trim_at;  /* trim when this many entries */
    long double sum; /* prefix[n] (while prefix is kept), here so that appending does not read it */
    /* Kept state (run): what the store holds and what this engine knows of it. */
    size_t stale; /* entries the store holds that no event needs any more */
    int64_t loaded_from_ms;
    int64_t stored_ttl_at; /* wall clock ms when the store's expiry was set; 0: unknown */
    /* The Redis store's place in the window's list (a window read every
     * batch): how many of its elements were read (0: read it whole next),
     * and the last of them (list_last_len bytes; owned). */
    char *list_last;
    size_t list_read, list_last_len;
    /* The Redis store's picture of the list from its head, to trim it by count
     * (lm_ok: known): each element's time (a mark INT64_MIN, what is not an
     * entry INT64_MAX), and the head when it is a mark (owned; NULL: it is not,
     * or not known). lm_reread: read the list whole at the next touch. */
    int64_t *lm_ts;
    size_t lm_n, lm_cap;
    char *lm_head;
    bool lm_ok, lm_reread;
    char *id; /* "RULE_ID:KEY" (the store adds its prefix); allocated with the window, after it */
    /* Last, beside id's bytes: what a lookup in the table reads. */
    uint32_t rule;
    uint32_t key_len; /* the KEY part of id, which starts at id + key_off */
    uint32_t key_off;
    uint64_t hash;          /* its rule and key hashed (the window table's) */
    struct rw_wstate *next; /* hash chain */
    /* Entries in a journal and not yet in the window's own record (rw_wmeta_t.unfolded): while
     * there are any, the window is in the batch's fold queue (fold_prev, fold_next), since the
     * journal write fold_seq (the store's count of its writes) took the first of them. */
    size_t n_unfolded;
    struct rw_wstate *fold_prev, *fold_next;
    uint64_t fold_seq;
} rw_wstate_t;

/* A rule that reached a level on an event. */
typedef struct rw_hit {
    uint32_t rule;
    int level;
    double measure;
    int64_t suppressed; /* hits of this rule and key the cool-down held back before */
    size_t parts_off;   /* scorecards: its parts' values in the batch's part_vals; else SIZE_MAX */
} rw_hit_t;

/* What one part of a scorecard was on an event. */
typedef struct rw_part_val {
    int level;      /* the level the part's rule reached (RW_LEVEL_NONE: none) */
    bool measured;  /* the rule had a measure */
    double measure; /* its measure, when measured */
} rw_part_val_t;

/* The cool-down of one rule on one key (docs/reference.md §5 "cooldown"). */
typedef struct rw_cool {
    char *id;           /* "RULE_ID:KEY"; allocated with the cool-down, after it */
    int level;          /* the level that started it; RW_LEVEL_NONE: none */
    int64_t until_ms;   /* event time when it ends */
    int64_t suppressed; /* hits held back since it started */
    char *set_by;       /* "topic/partition/offset" of the message that started it */
    bool dirty;         /* changed by this batch: to be written */
    bool loaded;        /* read from the store (kept state) */
    bool shared;        /* keyed apart from its messages: read every batch */
    bool apart;         /* keyed apart from a message (shared unless b->apart_held) */
    bool reading;       /* the store asked for it and has not read the reply */
    uint64_t used;      /* the batch that last touched it */
    /* Last, beside id's bytes: what a lookup reads. */
    uint32_t rule;
    uint32_t key_len; /* the KEY part of id, which starts at id + key_off */
    uint32_t key_off;
    uint64_t hash; /* its rule and key hashed (the cool-down table's) */
    struct rw_cool *next;
} rw_cool_t;

/* The windows and cool-downs of one key text, by rule: found once for the rules of an
 * event that share a key, instead of one table lookup per rule (each a few cache misses).
 * An index in front of the batch's window and cool-down tables, dropped whenever one of
 * them is freed. */
typedef struct rw_keyidx {
    uint64_t hash; /* the key's bytes hashed (a window's or cool-down's hash, less its rule) */
    struct rw_keyidx *next;
    uint32_t key_len;
    uint32_t n_slots;
    void **slot; /* 2 per rule: its window, its cool-down; NULL: not looked up yet. After the
                    key's bytes, in the same allocation */
    char key[];  /* the key's bytes, then a NUL: beside the hash, so that a lookup that finds
                    the key compares it on the line it read the hash from */
} rw_keyidx_t;

/* A set-membership lookup of the batch (rw_setup_lookup). */
typedef struct rw_lookup {
    char *set, *member; /* allocated with the lookup */
    int result;         /* 1, 0; -1 unknown */
    struct rw_lookup *next;
} rw_lookup_t;

/* What a (rule, message) pair does, found in the plan phase. */
#define RW_CAND_RECORD 1  /* adds the message to the window */
#define RW_CAND_MEASURE 2 /* scores the message */
#define RW_CAND_OPEN 4    /* opens a case */
#define RW_CAND_CLOSE 8   /* closes a case */
#define RW_CAND_SKIP 16   /* matched, but not scored: skip says why (an RW_SKIP_* of expr.h) */
#define RW_CAND_COOL 32   /* its rule's cool-down, not looked up yet (rw_batch_t's cools_lazy) */

/* A case of a rule that tracks cases (the deadline module): one correlated
 * value, opened by one event, waiting for its closing event. */
typedef struct rw_case {
    char *id; /* "RULE_ID:CORRELATE" */
    uint32_t rule;
    bool open;
    bool dirty;      /* changed by this batch: to be written */
    int64_t open_ms; /* the opening event's time */
    int level;       /* the highest level alerted so far */
    int64_t due_ms;  /* when the next threshold is crossed; INT64_MAX: never */
    char *part;      /* "topic/partition" of the opening event: its clock drives the case */
    json_t *rec;     /* owned: {"i": event_id, "s": ts, "t": type, "e": masked event} */
    struct rw_case *next;
    uint32_t slot; /* its slot in the batch's table */
    uint64_t seq;  /* cases made before it in the batch: a slot's chain is newest first */
    size_t due_at; /* in memory: its place in the batch's list of open cases; SIZE_MAX none */
} rw_case_t;

/* An open case and its due time, in the list a batch in memory keeps of them. */
typedef struct rw_case_due {
    int64_t due_ms;
    rw_case_t *kase;
} rw_case_due_t;

/* A case that crossed a threshold at an event's time. */
typedef struct rw_case_alert {
    uint32_t item; /* the event whose time crossed it */
    rw_case_t *kase;
    json_t *rec; /* owned reference: the opening event's record when it crossed */
    int level;
    double measure;
    int64_t at_ms; /* event time when it crossed */
} rw_case_alert_t;

typedef struct rw_cand {
    uint32_t item, rule;
    int flags;
    int skip;       /* RW_CAND_SKIP: the reason */
    size_t key_off; /* the rule key's value, in the batch's string arena; SIZE_MAX: none */
    size_t rec_off; /* recorded value; SIZE_MAX: none */
    rw_wstate_t *ws;
    rw_lookup_t *lookup;
    rw_case_t *kase;
    rw_cool_t *cool;
    rw_wstate_t *relay; /* rw_setup_window_relay: the window written after measure() */
} rw_cand_t;

/* One message of the batch and its outcome. */
typedef struct rw_item {
    rw_msg_t msg;
    uint32_t src;
    json_t *event;               /* owned; NULL for dead letters */
    const char *event_id, *type; /* borrowed from event */
    int64_t ts_ms;
    char error[256]; /* dead-letter reason; "" when the event is valid */
    bool applied;    /* at or below the fence */
    bool again;      /* at or below an earlier message of its source in this batch: a copy
                        produced twice (rekey.h); applied once */
    int level;
    size_t hit_off, n_hits;
    int key_rule;         /* rule whose key names the alert; -1 none */
    size_t key_off;       /* the alert key's raw value in the arena; SIZE_MAX none */
    rw_field_refs_t refs; /* pseudonyms of its masked fields, once computed */
    rw_jtop_t top;        /* the event's top-level members (last: not zeroed for each event) */
} rw_item_t;

/* A counter increment (key without the store prefix). */
typedef struct rw_incr {
    char *key, *field;
    int64_t by;
    struct rw_incr *next;
} rw_incr_t;

typedef struct rw_batch {
    const rw_ruleset_t *rs; /* borrowed; one ruleset for the whole batch */
    size_t max_event_bytes;
    int64_t max_future_ms;          /* 0: no limit (RW_MAX_FUTURE_MS) */
    const struct rw_schema *schema; /* borrowed; NULL: events are not checked (schema.h) */
    int mode;                       /* RW_STATE_* */
    uint64_t seq;                   /* batches since the start */
    int64_t hold_from_ms;           /* the earliest event time of the messages not surely committed
                                       (this batch's and those stored before it): a crash reads them
                                       again, so the store trims no window entry they need; 0: none */
    size_t n_entries;               /* window entries held, across windows */
    /* A cool-down is looked up when its rule reaches a level on an event, not in the plan: for
     * a batch in memory (RW_STATE_MEMORY) whose cool-downs nothing but its own evaluation reads
     * (replay). */
    bool cools_lazy;
    /* No counters are kept (b->incrs stays empty): for a batch whose store's counters nothing
     * reads (replay). */
    bool counters_off;
    /* Window entries keep no origin (rw_wmeta_t: offset, source, written or not; ws->meta stays
     * NULL): for a batch that writes no window anywhere and reads each source once, in offset
     * order, so that no entry is from a later message than one it measures (replay). */
    bool origins_off;
    /* Events are parsed with their top-level members in their tables alone
     * (rw_json_parse_lazy), for rw_batch_event() to fill when read as objects: set by
     * rw_batch_reset() when every module of the ruleset is built in (they read an event's
     * fields through rw_field_*, which read the table; an external module may read the
     * jansson object itself). */
    bool lazy_events;
    /* What is keyed apart from its messages (windows and cool-downs another engine's
     * partitions may feed) is held like the rest, not read every batch: the store has seen
     * no other engine write such state (rw_batch_hold_apart). */
    bool apart_held;

    rw_item_t *items;
    size_t n_items, cap_items;
    size_t n_planned; /* items rw_batch_plan_some() planned (0: the plan starts anew) */
    rw_src_t *srcs;
    size_t n_srcs;
    rw_cand_t *cands;
    size_t n_cands, cap_cands;
    rw_hit_t *hits;
    size_t n_hits, cap_hits;
    /* Events of this batch (applied once) each rule matched but did not score, by reason:
     * skips[rule * RW_SKIP_REASONS + reason]; n_skips entries. */
    uint64_t *skips;
    size_t n_skips;
    /* Scorecards: each rule's outcome on the event being evaluated (valid where sc_stamp is
     * the event's tick), and the parts of the batch's scorecard hits. */
    double *sc_measure;
    int *sc_level;
    uint64_t *sc_stamp, sc_tick;
    size_t sc_cap;
    rw_part_val_t *part_vals;
    size_t n_part_vals, cap_part_vals;
    rw_buf_t arena;
    /* The last two texts put in the arena (arena_put): offsets, and lengths with their NUL
     * (0: none); put_next is the one to replace. */
    size_t put_off[2], put_len[2];
    int put_next;
    struct rw_jarena *jarena; /* the events' JSON: gone at reset */

    rw_wstate_t **wtab; /* hash table of windows */
    size_t wtab_size, n_windows;
    /* Windows with entries journaled and not folded (n_unfolded), oldest first, and how many;
     * fold_all: fold them all at the next write (eviction needs them out of memory). */
    rw_wstate_t *fold_head, *fold_tail;
    size_t n_folding;
    bool fold_all;
    /* Times the kept state was forgotten (rw_batch_forget_state(), or windows dropped for a
     * new ruleset): the Redis store folds every journal once after each, before it reads. */
    uint64_t forgets;
    rw_wstate_t **touched; /* the windows this batch touched, each once */
    size_t n_touched, cap_touched;
    rw_keyidx_t **ktab; /* hash table of key indexes */
    size_t ktab_size, n_keys;
    rw_keyidx_t *key_last; /* the last one found: the next rule mostly has the same key */
    /* The plan's look-ahead (plan_prefetch): the key field that most rules with windows of
     * their own share (NULL: none), and those rules, chosen when the batch takes a ruleset. */
    const rw_field_t *ahead_key;
    uint32_t *ahead_rules;
    size_t n_ahead_rules;
    /* The window a shared window's recording rule r touched for the event being planned, while
     * owners[r].at == plan_at (a count of the events planned): the group's other rules read it
     * without a key, record or lookup of their own. Sized when the batch takes a ruleset. */
    struct rw_owner {
        rw_wstate_t *ws;
        uint64_t at;
    } * owners;
    uint64_t plan_at;
    rw_cool_t **cools_touched; /* the cool-downs this batch touched, each once */
    size_t n_cools_touched, cap_cools_touched;

    rw_incr_t **ctab; /* hash table of counter increments */
    size_t ctab_size;
    rw_incr_t *incrs; /* list of all, in insertion order (reversed) */

    rw_window_entry_t *view; /* scratch for measure() */
    size_t view_cap;

    rw_lookup_t **ltab; /* hash table of lookups; stores walk it to resolve them */
    size_t ltab_size;
    struct rw_lchunk *lchunks, *lcur; /* the lookups' memory, reused from batch to batch */

    rw_case_t **kstab; /* hash table of cases; kept across batches unless RW_STATE_BATCH */
    size_t kstab_size, n_cases;
    uint64_t case_seq;
    /* In memory (RW_STATE_MEMORY), where only the evaluation opens and closes cases: the open
     * ones with their due times, walked for the cases due instead of the whole table (each
     * case a cache miss); fire_order is scratch for those due. */
    rw_case_due_t *dues;
    size_t n_dues, cap_dues;
    rw_case_t **fire_order;
    size_t cap_fire_order;
    rw_case_alert_t *case_alerts;
    size_t n_case_alerts, cap_case_alerts;
    rw_cool_t **cooltab; /* cool-downs the batch needs; kept across batches unless RW_STATE_BATCH */
    size_t cooltab_size, n_cools;
    bool state_alerts; /* some alert depends on state the write will change (cases, cool-downs) */
    rw_pclock_t *pclocks; /* every partition's clock, kept across batches */
    size_t n_pclocks;
    int64_t clock_ms;       /* event time: the highest ts seen, across batches */
    int64_t next_due_ms;    /* the earliest due time of an open case known to the batch; in
                               memory (RW_STATE_MEMORY) at most that, kept across batches */
    int64_t clock_start_ms; /* the clock before this batch: evaluating again starts there */
    int64_t horizon_ms;     /* cases due up to here are needed: max(clock, batch's newest) */
} rw_batch_t;

/* How a batch keeps state between batches. */
#define RW_STATE_BATCH 0  /* nothing: the store loads every window for every batch */
#define RW_STATE_MEMORY 1 /* memory is the record (replay): nothing is written anywhere */
#define RW_STATE_CACHED                                                                            \
    2 /* memory in front of a store (run): windows and cool-downs stay;                            \
         the store is read on a miss and written once a batch */

/* Whether windows and cool-downs stay in memory across batches. */
#define rw_batch_keeps_state(b) ((b)->mode != RW_STATE_BATCH)

/* Returns a new batch (free with rw_batch_destroy); mode is an RW_STATE_*. */
rw_batch_t *rw_batch_new(size_t max_event_bytes, int mode);
void rw_batch_destroy(rw_batch_t *b);
/* Forgets the messages and outcomes; keeps windows unless RW_STATE_BATCH. Sets the
 * ruleset for the next batch (borrowed). */
void rw_batch_reset(rw_batch_t *b, const rw_ruleset_t *rs);

/* Adds and parses one message. Payload bytes are borrowed until reset. */
void rw_batch_add(rw_batch_t *b, const rw_msg_t *m);

/* The item's event as a whole jansson object (NULL when the message is not an event). Events
 * are parsed with their top-level members in a table (lazy_events), which is what the plan
 * and the evaluation read; whatever reads the event as an object (an alert's body, a case's
 * record, a sample's statistics) takes it here, which fills the object once, in the batch's
 * arena. Valid until the batch's next reset, as the event is. */
json_t *rw_batch_event(const rw_batch_t *b, const rw_item_t *it);

/* Matches rules and creates the windows the batch needs: plans the items not planned yet
 * (all of them, unless rw_batch_plan_some() planned some) and ends the plan. A plan ended
 * is made anew by the next call. */
void rw_batch_plan(rw_batch_t *b);
/* Plans the items added since the last call, without ending the plan: called every few
 * messages while a batch is added, each is planned while its parse is still in the cache. */
void rw_batch_plan_some(rw_batch_t *b);
/* Evaluates every item; fills levels, hits and counter increments. Call after
 * the store loaded fences and windows. Safe to call again after a reload. */
void rw_batch_evaluate(rw_batch_t *b);

/* Forgets every window's entries, for stores that reload them per batch. */
void rw_batch_clear_windows(rw_batch_t *b);
/* Forgets one window's entries, or one cool-down, for the store to read again. */
void rw_window_clear(rw_batch_t *b, rw_wstate_t *ws);
void rw_cool_forget(rw_cool_t *c);
/* Forgets the kept state (windows, cool-downs, fences): the store is read
 * again on the next touch. After a failed write, a fence that moved, or a
 * change of partitions. */
void rw_batch_forget_state(rw_batch_t *b);
/* Holds what is keyed apart from its messages like the rest (held), or reads it every batch
 * (!held), from the batch in hand on: the kept state is forgotten, and the batch's windows and
 * cool-downs are read as the new way says. */
void rw_batch_hold_apart(rw_batch_t *b, bool held);
/* After the store took the batch: entries and cool-downs are clean, fences
 * moved to the batch's last offsets. */
void rw_batch_stored(rw_batch_t *b);
/* Drops the least recently used windows until at most max_entries entries are
 * held (they are clean: the store has them). Returns the number dropped. */
size_t rw_batch_evict(rw_batch_t *b, size_t max_entries);
/* Cool-downs, for stores: parse and format the stored value. */
int rw_cool_parse(rw_cool_t *c, const char *text, size_t len);
char *rw_cool_format(const rw_cool_t *c);

/* Whether "topic/partition" is a source of this batch (cases of other
 * partitions are another engine's). */
bool rw_batch_has_part(const rw_batch_t *b, const char *part);

/* Cases, for stores: find or add one, and forget them all. */
rw_case_t *rw_batch_case(rw_batch_t *b, uint32_t rule, const char *correlate);
void rw_batch_clear_cases(rw_batch_t *b);
/* Fills a case from its stored record; 0, or -1 when the record is not one. */
int rw_case_from_record(rw_case_t *k, const char *json, size_t len);
/* The stored record of an open case: returns a new string (free with free()). */
char *rw_case_record(const rw_case_t *k);

/* Window lookup, for stores. */
rw_wstate_t *rw_batch_window(rw_batch_t *b, const char *id);
/* Adds an entry read from the store, for stores. value is copied. */
void rw_window_add(rw_batch_t *b, rw_wstate_t *ws, int64_t ts_ms, uint32_t src, int64_t offset,
                   const char *value, bool fresh);
/* Entries at or before this time are dropped: one window behind the newest
 * entry, plus one more window of grace so that events up to a window late
 * (behind their key's newest event) still see an exact window. */
static inline int64_t rw_window_keep_from(const rw_wstate_t *ws) {
    return ws->max_ts_ms - 2 * ws->window_ms;
}
/* Where a trim of ws may cut, in memory as in the store: at keep_from, but
 * never into what this batch's events need (load_min_ms) nor what the events
 * of the messages a crash reads again need (hold_from_ms, when set). After a
 * loss of Redis the engine writes back what it holds, and those messages are
 * evaluated again against it. */
static inline int64_t rw_window_cut(const rw_batch_t *b, const rw_wstate_t *ws) {
    int64_t cut = rw_window_keep_from(ws);
    if (ws->load_min_ms < cut)
        cut = ws->load_min_ms;
    if (b->hold_from_ms > 0 && b->hold_from_ms - ws->window_ms < cut)
        cut = b->hold_from_ms - ws->window_ms;
    return cut;
}
/* Drops entries no event within the grace can need, nor any event of the
 * batch (rw_window_cut); the window next trims itself at twice what it keeps (at least
 * WINDOW_TRIM_MIN, eval.c). */
void rw_window_trim(rw_batch_t *b, rw_wstate_t *ws);
/* The fold queue (the Redis store's journal, docs/performance.md): rw_window_journaled() marks
 * ws's fresh entries journaled and not folded (call before rw_batch_stored()), and queues the
 * window, since the journal write seq, unless it is queued; rw_window_folded() marks them all
 * folded and takes the window off the queue. */
void rw_window_journaled(rw_batch_t *b, rw_wstate_t *ws, uint64_t seq);
void rw_window_folded(rw_batch_t *b, rw_wstate_t *ws);
/* Finds or adds a source. */
uint32_t rw_batch_src(rw_batch_t *b, const char *topic, int32_t partition);

static inline const char *rw_batch_str(const rw_batch_t *b, size_t off) {
    return off == SIZE_MAX ? NULL : b->arena.data + off;
}

#endif
