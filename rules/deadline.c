/* deadline: an absence rule. For an open case with no closing event yet, the
 * time elapsed since the opening event, in hours or in working days on the
 * ruleset's calendar (24 h a working day). Event time drives it. */
#include "riskwarn/module.h"

#include <math.h>

#define HOUR_MS 3600000.0
#define DAY_MS 86400000.0

enum { UNIT_HOURS, UNIT_WORKDAYS };
static const char *const units[] = {"hours", "workdays", NULL};

typedef struct {
    const rw_match_t *open, *close;
    const rw_field_t *correlate;
    int unit;                 /* UNIT_* */
    const rw_calendar_t *cal; /* workdays: the ruleset's calendar; hours: NULL */
} deadline_state_t;

static const rw_param_t deadline_params[] = {
    {.type = RW_PARAM_MATCH,
     .name = "open",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(deadline_state_t, open),
     .desc = "the events that open a case, a match object"},
    {.type = RW_PARAM_MATCH,
     .name = "close",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(deadline_state_t, close),
     .desc = "the events that close it, a match object"},
    {.type = RW_PARAM_KEY,
     .name = "correlate",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(deadline_state_t, correlate),
     .desc = "the field that names the case, e.g. complaint_id"},
    {.type = RW_PARAM_ENUM,
     .name = "unit",
     .def = "hours",
     .offset = offsetof(deadline_state_t, unit),
     .desc = "elapsed time in hours, or in working days on the ruleset's calendar",
     .choices = units},
    {0},
};

static int deadline_init(rw_setup_t *s, void *state, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    deadline_state_t *st = state;
    if (st->unit == UNIT_WORKDAYS)
        st->cal = rw_setup_calendar(s);
    rw_setup_cases(s, st->open, st->close, st->correlate);
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

const rw_module_t rw_builtin_deadline = {
    RW_MODULE_HEADER,
    .name = "deadline",
    .summary = "time an open case has waited for its closing event (hours or workdays)",
    .params = deadline_params,
    .state_size = sizeof(deadline_state_t),
    .init = deadline_init,
    .measure = deadline_measure,
    .case_measure = deadline_case_measure,
    .case_due = deadline_case_due,
};
