/* value: the numeric value of a field. */
#include "riskwarn/module.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const rw_field_t *field;
} value_state_t;

static int value_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                       size_t errlen) {
    const json_t *f = params ? json_object_get(params, "field") : NULL;
    if (!json_is_string(f)) {
        snprintf(err, errlen, "field: required, the name of a numeric field");
        return RW_ERROR;
    }
    value_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return RW_ERROR;
    }
    char e[200];
    if (!(st->field = rw_setup_field(s, json_string_value(f), e, sizeof(e)))) {
        snprintf(err, errlen, "field: %s", e);
        free(st);
        return RW_ERROR;
    }
    *state = st;
    return RW_OK;
}

static int value_measure(const void *state, const rw_input_t *in, double *out) {
    const value_state_t *st = state;
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
