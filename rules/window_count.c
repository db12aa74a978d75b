/* window_count: matching events for this key in the window, this one included. */
#include "riskwarn/module.h"

typedef struct {
    int64_t window_ms;
} count_state_t;

static const rw_param_t count_params[] = {
    {.type = RW_PARAM_DURATION,
     .name = "window",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(count_state_t, window_ms),
     .desc = "how far back events count"},
    {0},
};

static int count_record(const void *state, const json_t *event, char *buf, size_t len) {
    (void)state;
    (void)event;
    if (len)
        buf[0] = 0;
    return RW_OK;
}

static int count_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state;
    *out = (double)in->n_entries;
    return RW_OK;
}

const rw_module_t rw_builtin_window_count = {
    RW_MODULE_HEADER,
    .name = "window_count",
    .summary = "matching events for this key in the window, this one included",
    .params = count_params,
    .state_size = sizeof(count_state_t),
    .record = count_record,
    .measure = count_measure,
};
