/* new_value: when the value of `field` was not seen for this key within
 * `lookback`: 1, or the value of `measure_field` if given (e.g. the amount
 * paid from a new device). */
#include "riskwarn/module.h"

typedef struct {
    const rw_field_t *field, *measure_field;
    int64_t lookback_ms;
} newval_state_t;

static const rw_param_t newval_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED,
     .offset = offsetof(newval_state_t, field),
     .desc = "the field whose values are remembered, e.g. device_id"},
    {.type = RW_PARAM_DURATION,
     .name = "lookback",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(newval_state_t, lookback_ms),
     .desc = "how long a value stays known"},
    {.type = RW_PARAM_FIELD,
     .name = "measure_field",
     .offset = offsetof(newval_state_t, measure_field),
     .desc = "the measure when the value is new (e.g. amount); without it, 1"},
    {0},
};

static int newval_record(const void *state, const json_t *event, char *buf, size_t len) {
    const newval_state_t *st = state;
    return rw_field_text(event, st->field, buf, len) >= 0 ? RW_OK : RW_DECLINED;
}

static int newval_measure(const void *state, const rw_input_t *in, double *out) {
    const newval_state_t *st = state;
    char v[RW_RECORD_MAX];
    if (rw_field_text(in->event, st->field, v, sizeof(v)) < 0)
        return RW_DECLINED;
    /* The window holds this event too: new when no other entry has the value. */
    if (rw_window_count_value(in, v, 2) > 1)
        return RW_DECLINED;
    if (!st->measure_field) {
        *out = 1;
        return RW_OK;
    }
    return rw_field_number(in->event, st->measure_field, out) == 0 ? RW_OK : RW_DECLINED;
}

const rw_module_t rw_builtin_new_value = {
    RW_MODULE_HEADER,
    .name = "new_value",
    .summary = "1 (or measure_field) when the field's value is new for this key within lookback",
    .params = newval_params,
    .state_size = sizeof(newval_state_t),
    .record = newval_record,
    .measure = newval_measure,
};
