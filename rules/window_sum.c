/* window_sum: sum of a field over matching events for this key in the window. */
#include "params.h"

#include <stdlib.h>

static int sum_setup(rw_setup_t *s, const json_t *params, void **state, char *err, size_t errlen) {
    return rw_field_state_setup(s, params, 1, state, err, errlen);
}

/* Records the field's value; events without a numeric value are not scored. */
static int sum_record(const void *state, const json_t *event, char *buf, size_t len) {
    const rw_field_state_t *st = state;
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

static const char *const sum_params[] = {"field", "window", NULL};

const rw_module_t rw_builtin_window_sum = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "window_sum",
    .summary = "sum of a field over matching events for this key in the window",
    .params = sum_params,
    .setup = sum_setup,
    .destroy = free,
    .record = sum_record,
    .measure = sum_measure,
};
