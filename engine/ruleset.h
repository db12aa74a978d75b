/* Rulesets: the risk team's file, loaded and checked once, then read-only. */
#ifndef RW_RULESET_H
#define RW_RULESET_H

#include "field.h"
#include "riskwarn/module.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

typedef enum {
    RW_LEVEL_NONE = 0,
    RW_LEVEL_LOW = 1,
    RW_LEVEL_MEDIUM = 2,
    RW_LEVEL_HIGH = 3
} rw_level_t;
#define RW_LEVELS 4
const char *rw_level_name(int level); /* "none", "low", "medium", "high" */
int rw_level_parse(const char *name); /* RW_LEVEL_*, or -1 */

typedef enum {
    RW_OP_EQ,
    RW_OP_NE,
    RW_OP_IN,
    RW_OP_GT,
    RW_OP_GTE,
    RW_OP_LT,
    RW_OP_LTE,
    RW_OP_EXISTS,
    RW_OP_EXPR /* "$expr": an expression that holds (is not 0) */
} rw_op_t;

typedef struct rw_cond {
    const rw_field_t *field;
    rw_op_t op;
    json_t *value;   /* owned: operand of eq/ne/in/gt/gte/lt/lte */
    bool exists;     /* operand of exists */
    rw_expr_t *expr; /* owned: the expression of RW_OP_EXPR */
    int memo;        /* 1 + its place among the ruleset's distinct conditions; 0: none */
} rw_cond_t;

struct rw_match {
    rw_cond_t *conds;
    size_t n;
    struct rw_match *next; /* the rule's list of module matches, for freeing */
};

typedef struct rw_mask {
    char *field;
    int keep_first, keep_last;
} rw_mask_t;

struct rw_calendar {
    int utc_offset_min;
    uint8_t weekend;   /* bit d set: weekday d (0 = Monday … 6 = Sunday) is off */
    int64_t *holidays; /* sorted day numbers (days since 1970-01-01) */
    size_t n_holidays;
    int64_t *workdays; /* sorted day numbers of moved working days */
    size_t n_workdays;
};

/* A part of a scorecard: a rule's level (0 none … 3 high) or measure, times a weight. */
typedef struct rw_score_part {
    uint32_t rule;
    double weight;
    bool of_measure; /* the rule's measure; else its level */
} rw_score_part_t;

typedef struct rw_rule {
    char *id;
    /* Names the rule's window state. A window that holds only the rule's own matching events
     * as its module records them (window_shared) is named by what decides its entries: key,
     * match and the recorded field ("text~SIG", "number~SIG": RW_PARAM_RECORDED, whatever
     * the module), else module, key, match and params but the window's length
     * ("MODULE~SIG"). Rules with the same ones read one window, and a rule changed in its
     * window's length alone keeps it. Any other window is the rule's ("ID~SIG", SIG a digest
     * of module, key, window and params). */
    char state_id[160];
    bool window_shared;
    uint32_t window_of;     /* the rule whose window this one reads: itself, or the first
                               rule of those that share it */
    int64_t window_keep_ms; /* of the rule whose window it is: the longest window of the
                               rules that read it */
    char *description;
    const rw_module_t *module;
    void *state; /* the module's, from setup() */
    rw_match_t match;
    const rw_field_t *key;       /* NULL: the rule scores events without a key */
    double threshold[RW_LEVELS]; /* indexed by level; valid when has[level] */
    bool has[RW_LEVELS];
    bool descending;
    int64_t window_ms; /* 0: no window */
    /* Windows fed by other events (rw_setup_window_feed); NULL: the rule's own. */
    const rw_match_t *feed;
    const rw_field_t *feed_key, *read_key;
    /* Windows relayed along events (rw_setup_window_relay); NULL: none. */
    rw_relay_fn relay;
    const rw_field_t *relay_key;
    /* Cases (rw_setup_cases); open == NULL: the rule scores events. */
    const rw_match_t *case_open, *case_close;
    const rw_field_t *case_key;
    char *lookup_set; /* rw_setup_lookup(): set name, or NULL */
    const rw_field_t *lookup_field;
    /* The fields the rule reads, in the ruleset's list (newest first): from fields up to
     * match_fields its key's and module's, from match_fields up to fields_end its match's. */
    const rw_field_t *fields, *match_fields, *fields_end;
    rw_match_t *matches; /* compiled by the module's setup */
    rw_expr_t **exprs;   /* compiled by the module's setup (rw_setup_expr), owned */
    size_t n_exprs;
    int64_t cooldown_ms; /* 0: none */
    /* A scorecard ("scorecards" of the ruleset, after the rules): no module of its own; its
     * measure is the weighted sum of its parts on the event, with all_of: only when every
     * part reached a level. NULL for rules. */
    rw_score_part_t *parts;
    size_t n_parts;
    bool all_of;
    json_t *thresholds; /* owned: as written, for alerts */
} rw_rule_t;

typedef struct rw_ruleset {
    char *name;
    char *version;
    char sha256[65]; /* of the file's bytes */
    rw_calendar_t calendar;
    rw_mask_t *masks;
    size_t n_masks;
    rw_rule_t *rules; /* the rules, then the scorecards */
    size_t n_rules;
    size_t n_scorecards; /* the last n_scorecards of rules */
    rw_field_t *fields;  /* every compiled path, freed with the ruleset */
    /* The distinct conditions of the rules' matches (field, operator, operand; up to
     * RW_MATCH_MEMO), whose results are kept per event: rules that share a condition
     * ("type": "transaction") test it once an event. Their values are references. */
    rw_cond_t *memo_conds;
    size_t n_memo;
    /* The rules an event of each type is planned by (rw_ruleset_rules_for): the types that
     * rules' matches or feeds ask for with "type": "T", and for each (then for any other
     * type) the rules in order whose match or feed such an event may pass. */
    char **types;
    size_t n_types;
    uint32_t **type_rules; /* n_types + 1 lists */
    size_t *n_type_rules;
} rw_ruleset_t;

/* The rules (indexes, in order) whose match or feed an event of type may pass; *n set. */
static inline const uint32_t *rw_ruleset_rules_for(const rw_ruleset_t *rs, const char *type,
                                                   size_t *n) {
    size_t t = 0;
    while (t < rs->n_types && strcmp(rs->types[t], type) != 0)
        t++;
    *n = rs->n_type_rules[t];
    return rs->type_rules[t];
}

/* The field param whose value the module's record() keeps (RW_PARAM_RECORDED,
 * RW_PARAM_RECORDED_NUMBER), or NULL. */
const rw_param_t *rw_module_recorded(const rw_module_t *m);

/* Module registry: the built-in modules, plus any loaded from modules_dir. */
const rw_module_t *rw_modules_find(const char *name);
/* Whether m is one of the built-in modules (rules/builtin.def). */
bool rw_module_builtin(const rw_module_t *m);

/* Calls fn for every registered module: built-ins first, then external ones. */
void rw_modules_each(void (*fn)(const rw_module_t *m, void *arg), void *arg);
/* Adds an external module. m is borrowed: it must stay valid until it is unregistered.
 * Returns 0; RW_ERR_INPUT with err filled when rw_module_check refuses it; RW_ERR_EXISTS
 * when its name clashes with a built-in or an already registered module. Not thread-safe:
 * call before loading rules. */
int rw_modules_register(const rw_module_t *m, rw_error_t *err);
/* Removes one external module (no-op when it is not registered). Rulesets that use it
 * must be destroyed first. */
void rw_modules_unregister(const rw_module_t *m);
/* Removes every external module. Rulesets that use one must be destroyed first. */
void rw_modules_unregister_all_external(void);

/* Loads and checks a ruleset from JSON text. source names it in errors.
 * Returns a new ruleset (free with rw_ruleset_destroy), or NULL after adding
 * every error found to errs. */
rw_ruleset_t *rw_ruleset_load(const char *text, size_t len, const char *source, rw_errors_t *errs);
/* Same, from a file. */
rw_ruleset_t *rw_ruleset_load_file(const char *path, rw_errors_t *errs);
void rw_ruleset_destroy(rw_ruleset_t *rs);

/* The module's own checks on its descriptor (run for external modules when they register):
 * name, measure(), a param table that rw_params_check_table accepts. Returns 0, or
 * RW_ERR_INPUT with err filled. */
int rw_module_check(const rw_module_t *m, rw_error_t *err);
/* Prints `riskwarn help MODULE`: the summary and the params table. */
void rw_module_print(const rw_module_t *m, FILE *out);

/* Per-event helpers, used by evaluation (and rw_match_eval of match.h). */
/* The level a measure reaches on a rule's thresholds. */
int rw_rule_level(const rw_rule_t *r, double measure);
/* The masked form of a key's text (rw_field_text of key f): each part of a composite key
 * masked as its own field is. Returns a new string (free with free()). */
char *rw_key_mask(const rw_ruleset_t *rs, const rw_field_t *f, const char *text);

/* Writes the masked form of value per the ruleset's spec for field name, or
 * copies it unchanged when the field is not masked. Returns the length. */
size_t rw_mask_apply(const rw_mask_t *mask, const char *value, size_t len, char *out,
                     size_t outlen);
const rw_mask_t *rw_ruleset_mask_for(const rw_ruleset_t *rs, const char *field);
/* Returns a new copy of event with every masked field masked, at any depth. The copy holds
 * references to event's unmasked scalars (so event is not const). */
json_t *rw_ruleset_mask_event(const rw_ruleset_t *rs, json_t *event);
/* Appends to b what rw_json_write() writes of rw_ruleset_mask_event(rs, event), without
 * building the masked copy. */
void rw_ruleset_write_masked(rw_buf_t *b, const rw_ruleset_t *rs, const json_t *event);

#endif
