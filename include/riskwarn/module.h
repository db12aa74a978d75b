/*
 * riskwarn rule-module interface.
 *
 * A rule module turns one event into one number, the rule's measure. The engine
 * does the rest: matching, keys, thresholds, levels, alerts, state and counters.
 *
 * A module is one static rw_module_t. Built-in modules are listed once in
 * rules/builtin.def; external modules are shared objects in the engine's
 * modules_dir that export `const rw_module_t rw_module_descriptor`.
 *
 * Life cycle:
 *   setup()   once per rule when a ruleset loads: parse and check params, ask the
 *             engine for a window with rw_setup_window(). Never called on the
 *             per-event path.
 *   record()  per matching event, for modules with a window: the value the engine
 *             keeps for this event in the rule's per-key window.
 *   measure() per matching event: compute the measure from the event and the
 *             window (which already holds this event's own entry).
 *   destroy() when the ruleset is unloaded.
 *
 * The per-event callbacks must not block and should not allocate.
 */
#ifndef RISKWARN_MODULE_H
#define RISKWARN_MODULE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump on any change to the structs below. */
#define RW_MODULE_ABI_VERSION 1

/* Return codes of module callbacks. */
#define RW_OK 0        /* done */
#define RW_DECLINED 1  /* "not mine": no measure / nothing to record; never an error */
#define RW_ERROR (-1)  /* failure; the callback filled the error text */

/* Longest value a module may record in a window, terminating NUL included. */
#define RW_RECORD_MAX 256

/* A field path ("amount", "geo.country") compiled once at setup. */
typedef struct rw_field rw_field_t;

/* One entry of a per-key window: an earlier (or this) matching event. */
typedef struct rw_window_entry {
    int64_t ts_ms;     /* event time, ms since the epoch, UTC */
    double num;        /* the recorded value read as a number (0 when not numeric) */
    const char *value; /* the recorded value; borrowed, valid during measure() */
} rw_window_entry_t;

/* What measure() sees. Everything is borrowed, valid during the call only. */
typedef struct rw_input {
    const json_t *event;              /* the parsed event object */
    int64_t ts_ms;                    /* the event's time */
    const rw_window_entry_t *entries; /* the window (T - window, T], this event included */
    size_t n_entries;                 /* 0 for modules without a window */
} rw_input_t;

/* Set-up context: the engine-side handle of the rule being loaded. */
typedef struct rw_setup rw_setup_t;

typedef struct rw_module {
    uint32_t abi_version; /* RW_MODULE_ABI_VERSION */
    const char *name;     /* the "module" value in rules */
    const char *summary;  /* one line for `riskwarn help` */
    const char *const *params; /* NULL-terminated list of accepted "params" keys */

    /* Parses params (borrowed; may be NULL when the rule has none). On success
     * returns RW_OK and sets *state (may be NULL); it is freed with destroy().
     * On error returns RW_ERROR and writes a message naming the param to err. */
    int (*setup)(rw_setup_t *s, const json_t *params, void **state, char *err, size_t errlen);
    void (*destroy)(void *state);

    /* Optional; modules with a window only. Writes the value to keep for this
     * event into buf (at most RW_RECORD_MAX bytes with the NUL). RW_DECLINED:
     * the event is neither recorded nor scored. */
    int (*record)(const void *state, const json_t *event, char *buf, size_t len);

    /* Computes the measure. RW_DECLINED: the rule does not score this event. */
    int (*measure)(const void *state, const rw_input_t *in, double *out);

    void *spare[6]; /* zero: room to grow without breaking the ABI */
} rw_module_t;

/* The symbol an external module exports. */
#define RW_MODULE_SYMBOL "rw_module_descriptor"

/* --- Functions the engine offers modules ------------------------------- */

/* Compiles a dotted field path. Returns a new path owned by the rule being set
 * up (freed with the ruleset), or NULL with err filled on a bad path. */
rw_field_t *rw_setup_field(rw_setup_t *s, const char *path, char *err, size_t errlen);

/* Asks for a per-key window of the given length in milliseconds (> 0).
 * Call at most once, from setup(). */
void rw_setup_window(rw_setup_t *s, int64_t window_ms);

/* Parses a duration ("30s", "15m", "1h", "7d") into milliseconds.
 * Returns 0, or -1 when the text is not a positive duration. */
int rw_duration_parse(const char *text, int64_t *out_ms);

/* Looks up a compiled path in an event. Returns the value, borrowed from the
 * event, or NULL when a part of the path is missing. */
const json_t *rw_field_get(const json_t *event, const rw_field_t *f);

/* The field's value as a number: JSON integers and reals only. Returns 0, or
 * -1 when missing or not a number. */
int rw_field_number(const json_t *event, const rw_field_t *f, double *out);

#ifdef __cplusplus
}
#endif
#endif
