/*
 * riskwarn rule-module interface.
 *
 * A rule module turns one event into one number, the rule's measure. The engine
 * does the rest: matching, keys, thresholds, levels, alerts, state and counters.
 *
 * A module is one static rw_module_t (below). Built-in modules are listed once in
 * rules/builtin.def; external modules are shared objects in the engine's
 * modules_dir that export `const rw_module_t rw_module_descriptor`.
 *
 * A module declares its params as a table of rw_param_t (type, name, default,
 * bounds, offset into its state struct, description). The engine checks a rule's
 * params against the table, fills the module's state, then calls its optional
 * init(); record() and measure() run per matching event; destroy() at unload.
 * Modules call only the functions declared in this header: the engine exports
 * nothing else to them.
 *
 * The per-event callbacks must not block and should not allocate.
 */
#ifndef RISKWARN_MODULE_H
#define RISKWARN_MODULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump on any change to the structs below. Version 1 (a setup() that parsed its own params)
 * is no longer loaded. */
#define RW_MODULE_ABI_VERSION 2

/* Return codes of module callbacks. */
#define RW_OK 0       /* done */
#define RW_DECLINED 1 /* "not mine": no measure / nothing to record; never an error */
#define RW_ERROR (-1) /* failure; the callback filled the error text */

/* Longest value a module may record in a window, terminating NUL included. */
#define RW_RECORD_MAX 256

/* A field path ("amount", "geo.country") compiled once at setup. */
typedef struct rw_field rw_field_t;
/* A match object (the syntax of a rule's "match") compiled once at setup. */
typedef struct rw_match rw_match_t;
/* The ruleset's calendar: UTC offset, weekend, holidays, moved working days. */
typedef struct rw_calendar rw_calendar_t;
/* An expression ("amount / max(oldbalanceOrg, 1)") compiled once at setup. */
typedef struct rw_expr rw_expr_t;

/* One entry of a per-key window: an earlier (or this) matching event. */
typedef struct rw_window_entry {
    int64_t ts_ms;     /* event time, ms since the epoch, UTC */
    double num;        /* the recorded value read as a number (0 when not numeric) */
    const char *value; /* the recorded value; borrowed, valid during measure() */
} rw_window_entry_t;

/* What measure() sees. Everything is borrowed, valid during the call only. */
typedef struct rw_input {
    const json_t *event;              /* the parsed event object (whole for an external module;
                                         built-in ones read it through rw_field_*: rules/README.md) */
    int64_t ts_ms;                    /* the event's time */
    const rw_window_entry_t *entries; /* the window (T - window, T], this event included */
    size_t n_entries;                 /* 0 for modules without a window */
    int lookup; /* rw_setup_lookup(): 1 the value is in the set, 0 not; -1 unknown or none */
} rw_input_t;

/* Set-up context: the engine-side handle of the rule being loaded. */
typedef struct rw_setup rw_setup_t;

/* --- Params: a table the engine checks and fills the state from -------- */

/* The type of a param: what the rule may write, and what the engine stores at the param's
 * offset in the module's state. Strings, lists, fields, matches and expressions are
 * borrowed: valid for the rule's life (the engine frees them with the ruleset). */
typedef enum rw_param_type {
    RW_PARAM_END = 0,     /* ends a table: {0} */
    RW_PARAM_NUMBER,      /* a JSON number, finite                    -> double */
    RW_PARAM_INTEGER,     /* a JSON integer                           -> int64_t */
    RW_PARAM_BOOL,        /* true or false                            -> bool */
    RW_PARAM_STRING,      /* a string                                 -> const char * */
    RW_PARAM_DURATION,    /* "250ms", "30s", "15m", "1h", "7d"        -> int64_t, ms */
    RW_PARAM_ENUM,        /* one of the param's choices               -> int, its index */
    RW_PARAM_LEVEL,       /* "low", "medium" or "high"                -> int, 1 to 3 */
    RW_PARAM_STRING_LIST, /* a list of strings (integers as decimals) -> rw_strlist_t */
    RW_PARAM_FIELD,       /* a field path such as "geo.country"       -> const rw_field_t * */
    RW_PARAM_MATCH,       /* a match object, as a rule's "match"      -> const rw_match_t * */
    RW_PARAM_EXPR,        /* an expression such as "amount / balance" -> const rw_expr_t * */
    RW_PARAM_KEY          /* a field path, or a list of them for a composite key such as
                           * ["account", "counterparty"] (rw_setup_key) -> const rw_field_t * */
} rw_param_type_t;

/* Param flags. */
#define RW_PARAM_REQUIRED 0x1u /* the rule must give it (then def is NULL) */
#define RW_PARAM_WINDOW                                                                            \
    0x2u                            /* a duration that is the rule's per-key window: the engine    \
                                     * calls rw_setup_window() with it before init() */
#define RW_PARAM_MIN_EXCLUSIVE 0x4u /* the value must be greater than min, not equal */
#define RW_PARAM_NULLABLE 0x8u      /* null is accepted and unsets the value (zero, NULL) */
/* What record() keeps, declared on the required field param it reads (one at most): the
 * field's text as rw_field_text() gives it (RW_PARAM_RECORDED), or its number as
 * rw_number_text() writes what rw_field_number() read (RW_PARAM_RECORDED_NUMBER), declining
 * an event without one, and nothing else. Rules of any modules that declare the same, with
 * the same key and match, read one window (window_sum and baseline over "amount"). */
#define RW_PARAM_RECORDED 0x10u
#define RW_PARAM_RECORDED_NUMBER 0x20u

/* One param. Bounds apply when min and max are not both 0: to the value of a number,
 * integer or duration (in ms), to the length of a string, to the items of a list. A param
 * that is neither required nor given takes def, written as a rule would write it but
 * without quotes ("1000", "hours", "1h", "true"); with no def, its state stays zero (NULL
 * for a string, field, match or expression, an empty list with items NULL). */
typedef struct rw_param {
    rw_param_type_t type;
    const char *name;
    const char *def;            /* default, or NULL */
    unsigned flags;             /* RW_PARAM_* */
    double min, max;            /* bounds, or both 0 */
    size_t offset;              /* offsetof(the module's state struct, member) */
    const char *desc;           /* one line, for `riskwarn help MODULE` */
    const char *const *choices; /* RW_PARAM_ENUM: the accepted strings, NULL-terminated */
} rw_param_t;

/* A list param's value. items is NULL when the param was neither given nor defaulted, and
 * non-NULL (even for an empty list) when it was given. */
typedef struct rw_strlist {
    const char *const *items;
    size_t n;
} rw_strlist_t;

/* --- The module descriptor ---------------------------------------------- */

/*
 * Life cycle, once per rule when a ruleset loads (never on the per-event path):
 *   1. the engine checks the rule's params against the module's table (unknown, missing,
 *      wrong type, out of bounds: each error names the file, line and column and the bad
 *      value), allocates state_size zeroed bytes and fills the params in;
 *   2. init(), when given, checks what the table cannot (params that go together), builds
 *      what it needs and asks the engine for set-ups (rw_setup_lookup(), rw_setup_cases(),
 *      rw_setup_window_feed()). An error names the param first ("list: ...") so that it is
 *      reported at that param;
 *   3. per matching event: record() (modules with a window) and measure();
 *   4. at unload: destroy() (when given) frees what init() allocated; the engine frees the
 *      state itself.
 */
typedef struct rw_module {
    /* Header: RW_MODULE_HEADER. Never moves: the engine reads it to refuse other ABIs. */
    uint32_t abi_version; /* RW_MODULE_ABI_VERSION */
    uint32_t size;        /* sizeof(rw_module_t) as the module was built */
    const char *name;     /* the "module" value in rules */
    const char *summary;  /* one line for `riskwarn help` */

    const rw_param_t *params; /* the table, ending with {0}; NULL: the module takes none */
    size_t state_size;        /* bytes of state a rule gets (0: none; state is then NULL) */

    /* Optional. RW_OK, or RW_ERROR with err filled ("param: what is wrong"). */
    int (*init)(rw_setup_t *s, void *state, char *err, size_t errlen);
    /* Optional. Frees what init() allocated; not the state itself. */
    void (*destroy)(void *state);

    /* Optional; modules with a window only. Writes the value to keep for this
     * event into buf (at most RW_RECORD_MAX bytes with the NUL). RW_DECLINED:
     * the event is neither recorded nor scored. It must not depend on the window's
     * length: rules of one module with the same key, match and params other than the
     * window's length read one window, which records each event once (rules of any
     * module, when it declares what it keeps: RW_PARAM_RECORDED). */
    int (*record)(const void *state, const json_t *event, char *buf, size_t len);

    /* Computes the measure. RW_DECLINED: the rule does not score this event. */
    int (*measure)(const void *state, const rw_input_t *in, double *out);

    /* Modules that track cases (rw_setup_cases) only. The measure of an open
     * case at event time now_ms, and its inverse: the event time at which the
     * measure reaches value (INT64_MAX: never). Both non-decreasing in time. */
    double (*case_measure)(const void *state, int64_t open_ms, int64_t now_ms);
    int64_t (*case_due)(const void *state, int64_t open_ms, double value);

    void *spare[8]; /* zero: room to grow without breaking the ABI */
} rw_module_t;

/* The first members of every descriptor: `RW_MODULE_HEADER, .name = "...", ...`. */
#define RW_MODULE_HEADER .abi_version = RW_MODULE_ABI_VERSION, .size = sizeof(rw_module_t)

/* The symbol an external module exports. */
#define RW_MODULE_SYMBOL "rw_module_descriptor"

/* --- Functions the engine offers modules ------------------------------- */

/* Compiles a dotted field path. Returns a new path owned by the rule being set
 * up (freed with the ruleset), or NULL with err filled on a bad path. */
rw_field_t *rw_setup_field(rw_setup_t *s, const char *path, char *err, size_t errlen);

/* Asks for a per-key window of the given length in milliseconds (> 0).
 * Call at most once, from setup(). */
void rw_setup_window(rw_setup_t *s, int64_t window_ms);

/* Feeds the window from other events than the rule's own: events matching
 * feed record into the window keyed by their field feed_key; the rule's events
 * only read the window, keyed by their field read_key. Call after
 * rw_setup_window(). Both handles come from this setup. */
void rw_setup_window_feed(rw_setup_t *s, const rw_match_t *feed, const rw_field_t *feed_key,
                          const rw_field_t *read_key);

/* Derives what a relaying rule writes into a window (rw_setup_window_relay) from the event
 * and the window it read (in->entries), into buf (at most len bytes with the NUL).
 * RW_DECLINED: nothing is written. Must not block and should not allocate. */
typedef int (*rw_relay_fn)(const void *state, const rw_input_t *in, char *buf, size_t len);

/* Relays windows along the events: each of the rule's events reads the window keyed by its
 * field read_key (measure() sees it), then writes into the window keyed by its field
 * write_key the value relay() derives from the event and that window. Both are the rule's
 * windows, of its window's length (a RW_PARAM_WINDOW param); record() is not used. Call
 * from init(). An event without read_key is not scored; one without write_key writes
 * nothing. */
void rw_setup_window_relay(rw_setup_t *s, const rw_field_t *read_key, const rw_field_t *write_key,
                           rw_relay_fn relay);

/* Asks for a set-membership lookup of the event's field value in the named
 * Redis set (key "<prefix>list:<set>"), resolved in the batch's one read.
 * measure() sees the answer in rw_input_t.lookup. */
void rw_setup_lookup(rw_setup_t *s, const char *set, const rw_field_t *field);

/* Tracks cases instead of scoring events: an event matching open starts a
 * case named by its field correlate (a later open of the same case is
 * ignored), an event matching close ends it. While a case is open, event time
 * (the highest `ts` seen) drives the module's case_measure, and the rule
 * alerts each time the measure crosses a threshold. */
void rw_setup_cases(rw_setup_t *s, const rw_match_t *open, const rw_match_t *close,
                    const rw_field_t *correlate);
/* The ruleset's calendar, borrowed for the ruleset's life. */
const rw_calendar_t *rw_setup_calendar(rw_setup_t *s);
/* Working time in ms between two instants on the calendar (a working day
 * counts 24 h), and its inverse (INT64_MAX: never). */
int64_t rw_calendar_work_ms(const rw_calendar_t *cal, int64_t from_ms, int64_t to_ms);
int64_t rw_calendar_work_at(const rw_calendar_t *cal, int64_t from_ms, int64_t work_ms);

/* Compiles a match object. Returns a handle owned by the rule being set up,
 * or NULL with err filled. */
rw_match_t *rw_setup_match(rw_setup_t *s, const json_t *match, char *err, size_t errlen);
/* 1 when every condition of m holds for event, else 0. */
int rw_match_test(const rw_match_t *m, const json_t *event);

/* A field's value as text for keys and recorded values: strings as they are,
 * integers in decimal, other numbers with %.17g, booleans as true/false.
 * Returns the length written (< len), or -1 when missing or an object/array. */
int rw_field_text(const json_t *event, const rw_field_t *f, char *buf, size_t len);
/* The same text, but for a masked field (account, counterparty, ... and the ruleset's
 * "masking") rw_field_text gives the value's keyed pseudonym (32 hex characters): that is
 * what records, keys and lookups hold, so no raw value of a masked field is stored. This
 * gives the value itself, for comparisons that stay in memory (an inline list). */
int rw_field_plain_text(const json_t *event, const rw_field_t *f, char *buf, size_t len);

/* Parses a duration ("30s", "15m", "1h", "7d") into milliseconds.
 * Returns 0, or -1 when the text is not a positive duration. */
int rw_duration_parse(const char *text, int64_t *out_ms);
/* Writes x as decimal text that reads back (strtod) as exactly x: the shortest
 * form for numbers of up to 6 decimals (1234.5, -0.07, 100), %.17g otherwise.
 * Returns the length (snprintf's meaning). */
int rw_number_text(double x, char *buf, size_t len);

/* Looks up a compiled path in an event. Returns the value, borrowed from the
 * event, or NULL when a part of the path is missing. */
const json_t *rw_field_get(const json_t *event, const rw_field_t *f);

/* The sum of the nums of the window measure() was given (in->entries): in
 * constant time on the engine's windows, whatever their size. */
double rw_window_sum(const rw_input_t *in);

/* How many entries of the window measure() was given (in->entries) record exactly value,
 * counting up to max: what a loop of strcmp() would count, with a hash compared first on
 * the engine's windows. */
size_t rw_window_count_value(const rw_input_t *in, const char *value, size_t max);

/* The field's value as a number: JSON integers and reals only. Returns 0, or
 * -1 when missing or not a number. */
int rw_field_number(const json_t *event, const rw_field_t *f, double *out);

/* Compiles a key: a field path ("account"), or a list of them (["account", "counterparty"])
 * for a composite key, whose text (rw_field_text) joins the parts' texts unambiguously.
 * Returns a handle owned by the rule being set up, or NULL with err filled. */
const rw_field_t *rw_setup_key(rw_setup_t *s, const json_t *spec, char *err, size_t errlen);

/* Compiles an expression (the language of rules/README.md, "Expressions"). Returns a
 * handle owned by the rule being set up, or NULL with err filled ("column N: ..."). */
const rw_expr_t *rw_setup_expr(rw_setup_t *s, const char *text, char *err, size_t errlen);

/* The expression's value on event. Returns 0, or -1 when it has none (a field missing or
 * not a number, a division by zero): the engine counts the reason against the rule. */
int rw_expr_number(const rw_expr_t *e, const json_t *event, double *out);

#ifdef __cplusplus
}
#endif
#endif
