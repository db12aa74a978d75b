/* value: the numeric value of a field. */
#include "params.h"

#include <stdio.h>
#include <stdlib.h>

static int value_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                       size_t errlen) {
    return rw_field_state_setup(s, params, 0, state, err, errlen);
}

static int value_measure(const void *state, const rw_input_t *in, double *out) {
    const rw_field_state_t *st = state;
    return rw_field_number(in->event, st->field, out) == 0 ? RW_OK : RW_DECLINED;
}

static const char *const value_params[] = {"field", NULL};

const rw_module_t rw_builtin_value = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "value",
    .summary = "the numeric value of a field",
    .params = value_params,
    .setup = value_setup,
    .destroy = free,
    .measure = value_measure,
};
