/* window_sum: sum of a field over matching events for this key in the window. */
#include "riskwarn/module.h"

typedef struct {
    const rw_field_t *field;
    int64_t window_ms;
} sum_state_t;

static const rw_param_t sum_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED_NUMBER,
     .offset = offsetof(sum_state_t, field),
     .desc = "the field to add up (events without a number in it are not scored)"},
    {.type = RW_PARAM_DURATION,
     .name = "window",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(sum_state_t, window_ms),
     .desc = "how far back events count"},
    {0},
};

/* Records the field's value; events without a numeric value are not scored. */
static int sum_record(const void *state, const json_t *event, char *buf, size_t len) {
    const sum_state_t *st = state;
    double x;
    if (rw_field_number(event, st->field, &x) != 0)
        return RW_DECLINED;
    rw_number_text(x, buf, len);
    return RW_OK;
}

static int sum_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state;
    *out = rw_window_sum(in);
    return RW_OK;
}

const rw_module_t rw_builtin_window_sum = {
    RW_MODULE_HEADER,
    .name = "window_sum",
    .summary = "sum of a field over matching events for this key in the window",
    .params = sum_params,
    .state_size = sizeof(sum_state_t),
    .record = sum_record,
    .measure = sum_measure,
};
