/* Parameter parsing shared by the built-in modules. */
#ifndef RW_RULES_PARAMS_H
#define RW_RULES_PARAMS_H

#include "riskwarn/module.h"

#include <stdio.h>
#include <stdlib.h>

/* Reads params.window, a duration, and asks the engine for the window.
 * Returns RW_OK or RW_ERROR with err filled. */
static inline int rw_window_param(rw_setup_t *s, const json_t *params, char *err, size_t errlen) {
    const json_t *w = params ? json_object_get(params, "window") : NULL;
    int64_t ms;
    if (!w) {
        snprintf(err, errlen, "window: required, a duration such as \"1h\"");
        return RW_ERROR;
    }
    if (!json_is_string(w) || rw_duration_parse(json_string_value(w), &ms)) {
        snprintf(err, errlen, "window: bad duration (use 30s, 15m, 1h, 7d)");
        return RW_ERROR;
    }
    rw_setup_window(s, ms);
    return RW_OK;
}

/* Reads params.<name>, a field path, into *out. Returns RW_OK or RW_ERROR. */
static inline int rw_field_param(rw_setup_t *s, const json_t *params, const char *name,
                                 const rw_field_t **out, char *err, size_t errlen) {
    const json_t *f = params ? json_object_get(params, name) : NULL;
    if (!json_is_string(f)) {
        snprintf(err, errlen, "%s: required, a field name", name);
        return RW_ERROR;
    }
    char e[200];
    if (!(*out = rw_setup_field(s, json_string_value(f), e, sizeof(e)))) {
        snprintf(err, errlen, "%s: %s", name, e);
        return RW_ERROR;
    }
    return RW_OK;
}

/* The state of modules that read one field ("field"). */
typedef struct rw_field_state {
    const rw_field_t *field;
} rw_field_state_t;

/* Sets up such a module: params.field, and params.window when windowed.
 * Returns RW_OK with *state a new rw_field_state_t (free with free()), or
 * RW_ERROR with err filled. */
static inline int rw_field_state_setup(rw_setup_t *s, const json_t *params, int windowed,
                                       void **state, char *err, size_t errlen) {
    rw_field_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return RW_ERROR;
    }
    if (rw_field_param(s, params, "field", &st->field, err, errlen) != RW_OK ||
        (windowed && rw_window_param(s, params, err, errlen) != RW_OK)) {
        free(st);
        return RW_ERROR;
    }
    *state = st;
    return RW_OK;
}

#endif
