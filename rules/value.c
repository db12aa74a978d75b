/* value: the numeric value of a field. */
#include "riskwarn/module.h"

typedef struct {
    const rw_field_t *field;
} value_state_t;

static const rw_param_t value_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(value_state_t, field),
     .desc = "the field whose number is the measure"},
    {0},
};

static int value_measure(const void *state, const rw_input_t *in, double *out) {
    const value_state_t *st = state;
    return rw_field_number(in->event, st->field, out) == 0 ? RW_OK : RW_DECLINED;
}

const rw_module_t rw_builtin_value = {
    RW_MODULE_HEADER,
    .name = "value",
    .summary = "the numeric value of a field",
    .params = value_params,
    .state_size = sizeof(value_state_t),
    .measure = value_measure,
};
