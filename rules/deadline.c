/* deadline: an absence rule. For an open case with no closing event yet, the
 * time elapsed since the opening event, in hours or in working days on the
 * ruleset's calendar (24 h a working day). Event time drives it. */
#include "params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000.0
#define DAY_MS 86400000.0

typedef struct {
    const rw_calendar_t *cal; /* NULL: hours */
} deadline_state_t;

static int deadline_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                          size_t errlen) {
    static const char *const names[] = {"open", "close"};
    const rw_match_t *m[2];
    const rw_field_t *corr;
    for (int i = 0; i < 2; i++) {
        const json_t *j = params ? json_object_get(params, names[i]) : NULL;
        char e[200];
        if (!json_is_object(j)) {
            snprintf(err, errlen, "%s: required, a match object", names[i]);
            return RW_ERROR;
        }
        if (!(m[i] = rw_setup_match(s, j, e, sizeof(e)))) {
            snprintf(err, errlen, "%s: %s", names[i], e);
            return RW_ERROR;
        }
    }
    if (rw_field_param(s, params, "correlate", &corr, err, errlen) != RW_OK)
        return RW_ERROR;
    const json_t *unit = params ? json_object_get(params, "unit") : NULL;
    const char *u = json_is_string(unit) ? json_string_value(unit) : unit ? "" : "hours";
    if (strcmp(u, "hours") != 0 && strcmp(u, "workdays") != 0) {
        snprintf(err, errlen, "unit: use \"hours\" or \"workdays\"");
        return RW_ERROR;
    }
    deadline_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return RW_ERROR;
    }
    if (strcmp(u, "workdays") == 0)
        st->cal = rw_setup_calendar(s);
    rw_setup_cases(s, m[0], m[1], corr);
    *state = st;
    return RW_OK;
}

/* Events themselves are not scored: the engine drives the cases. */
static int deadline_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state;
    (void)in;
    (void)out;
    return RW_DECLINED;
}

static double deadline_case_measure(const void *state, int64_t open_ms, int64_t now_ms) {
    const deadline_state_t *st = state;
    if (now_ms <= open_ms)
        return 0;
    if (st->cal)
        return (double)rw_calendar_work_ms(st->cal, open_ms, now_ms) / DAY_MS;
    return (double)(now_ms - open_ms) / HOUR_MS;
}

static int64_t deadline_case_due(const void *state, int64_t open_ms, double value) {
    const deadline_state_t *st = state;
    if (value <= 0)
        return open_ms;
    if (value > 1e6)
        return INT64_MAX;
    if (st->cal)
        return rw_calendar_work_at(st->cal, open_ms, (int64_t)ceil(value * DAY_MS));
    return open_ms + (int64_t)ceil(value * HOUR_MS);
}

static const char *const deadline_params[] = {"open", "close", "correlate", "unit", NULL};

const rw_module_t rw_builtin_deadline = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "deadline",
    .summary = "time an open case has waited for its closing event (hours or workdays)",
    .params = deadline_params,
    .setup = deadline_setup,
    .destroy = free,
    .measure = deadline_measure,
    .case_measure = deadline_case_measure,
    .case_due = deadline_case_due,
};
