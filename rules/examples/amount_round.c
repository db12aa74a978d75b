/*
 * amount_round: an example external rule module (docs/reference.md §5).
 *
 * Measures 1 when the numeric field `field` holds a round amount, a multiple of `multiple`
 * (default 1000), that is at least `min` (default 0); otherwise 0. An event whose field is
 * missing or not a number is not scored.
 *
 * Built on its own into a shared object (`make` puts it in build/modules/amount_round.so):
 *   cc -fPIC -shared -Iinclude -o amount_round.so amount_round.c $(pkg-config --libs jansson)
 * It uses only include/riskwarn/module.h; the engine functions it calls (rw_setup_field,
 * rw_field_number) are resolved from the engine binary when it is loaded.
 */
#include "riskwarn/module.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const rw_field_t *field;
    double multiple;
    double min;
} round_state_t;

static int number_param(const json_t *params, const char *name, double def, double *out, char *err,
                        size_t errlen) {
    const json_t *v = params ? json_object_get(params, name) : NULL;
    if (!v) {
        *out = def;
        return RW_OK;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        snprintf(err, errlen, "%s: must be a number", name);
        return RW_ERROR;
    }
    *out = json_number_value(v);
    return RW_OK;
}

static int round_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                       size_t errlen) {
    const json_t *f = params ? json_object_get(params, "field") : NULL;
    if (!json_is_string(f)) {
        snprintf(err, errlen, "field: required, the name of a numeric field");
        return RW_ERROR;
    }
    round_state_t st;
    if (number_param(params, "multiple", 1000, &st.multiple, err, errlen) != RW_OK ||
        number_param(params, "min", 0, &st.min, err, errlen) != RW_OK)
        return RW_ERROR;
    if (!(st.multiple > 0)) {
        snprintf(err, errlen, "multiple: must be a positive number");
        return RW_ERROR;
    }
    char e[200];
    if (!(st.field = rw_setup_field(s, json_string_value(f), e, sizeof(e)))) {
        snprintf(err, errlen, "field: %s", e);
        return RW_ERROR;
    }
    round_state_t *p = malloc(sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return RW_ERROR;
    }
    *p = st;
    *state = p;
    return RW_OK;
}

static int round_measure(const void *state, const rw_input_t *in, double *out) {
    const round_state_t *st = state;
    double x;
    if (rw_field_number(in->event, st->field, &x) != 0)
        return RW_DECLINED;
    *out = (x >= st->min && fmod(x, st->multiple) == 0) ? 1 : 0;
    return RW_OK;
}

static const char *const round_params[] = {"field", "multiple", "min", NULL};

const rw_module_t rw_module_descriptor = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "amount_round",
    .summary = "1 when a numeric field is a round amount (a multiple of `multiple`) >= `min`",
    .params = round_params,
    .setup = round_setup,
    .destroy = free,
    .measure = round_measure,
};
