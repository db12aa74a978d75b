/* window_ratio: the share of matching events in the window for which `when`
 * holds (e.g. failed logins, service errors); no measure below min_events. */
#include "riskwarn/module.h"

#include <stdio.h>

typedef struct {
    const rw_match_t *when;
    int64_t window_ms;
    int64_t min_events;
} ratio_state_t;

static const rw_param_t ratio_params[] = {
    {.type = RW_PARAM_MATCH,
     .name = "when",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(ratio_state_t, when),
     .desc = "the condition whose share is measured, e.g. {\"status\": \"error\"}"},
    {.type = RW_PARAM_DURATION,
     .name = "window",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(ratio_state_t, window_ms),
     .desc = "how far back events count"},
    {.type = RW_PARAM_INTEGER,
     .name = "min_events",
     .def = "1",
     .min = 1,
     .max = 1000000,
     .offset = offsetof(ratio_state_t, min_events),
     .desc = "no measure while the window holds fewer events"},
    {0},
};

static int ratio_record(const void *state, const json_t *event, char *buf, size_t len) {
    const ratio_state_t *st = state;
    snprintf(buf, len, "%d", rw_match_test(st->when, event));
    return RW_OK;
}

static int ratio_measure(const void *state, const rw_input_t *in, double *out) {
    const ratio_state_t *st = state;
    if (in->n_entries == 0 || (int64_t)in->n_entries < st->min_events)
        return RW_DECLINED;
    *out = rw_window_sum(in) / (double)in->n_entries;
    return RW_OK;
}

const rw_module_t rw_builtin_window_ratio = {
    RW_MODULE_HEADER,
    .name = "window_ratio",
    .summary = "share of matching events in the window for which `when` holds",
    .params = ratio_params,
    .state_size = sizeof(ratio_state_t),
    .record = ratio_record,
    .measure = ratio_measure,
};
