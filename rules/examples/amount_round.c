/*
 * amount_round: an example external rule module (docs/reference.md §5).
 *
 * Measures 1 when the numeric field `field` holds a round amount, a multiple of `multiple`
 * (default 1000), that is at least `min` (default 0); otherwise 0. An event whose field is
 * missing or not a number is not scored.
 *
 * Built on its own into a shared object (`make` puts it in build/modules/amount_round.so):
 *   cc -fPIC -shared -Iinclude -o amount_round.so amount_round.c $(pkg-config --libs jansson)
 * It uses only include/riskwarn/module.h: the engine checks the params against the table
 * below and fills the state before any event; the engine functions it calls
 * (rw_field_number) are resolved from the engine binary when it is loaded.
 */
#include "riskwarn/module.h"

#include <math.h>

typedef struct {
    const rw_field_t *field;
    double multiple;
    double min;
} round_state_t;

static const rw_param_t round_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(round_state_t, field),
     .desc = "the numeric field to look at, e.g. amount"},
    {.type = RW_PARAM_NUMBER,
     .name = "multiple",
     .def = "1000",
     .flags = RW_PARAM_MIN_EXCLUSIVE,
     .min = 0,
     .max = INFINITY,
     .offset = offsetof(round_state_t, multiple),
     .desc = "an amount is round when it is a multiple of this"},
    {.type = RW_PARAM_NUMBER,
     .name = "min",
     .def = "0",
     .offset = offsetof(round_state_t, min),
     .desc = "smaller amounts are never round"},
    {0},
};

static int round_measure(const void *state, const rw_input_t *in, double *out) {
    const round_state_t *st = state;
    double x;
    if (rw_field_number(in->event, st->field, &x) != 0)
        return RW_DECLINED;
    *out = (x >= st->min && fmod(x, st->multiple) == 0) ? 1 : 0;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    RW_MODULE_HEADER,
    .name = "amount_round",
    .summary = "1 when a numeric field is a round amount (a multiple of `multiple`) >= `min`",
    .params = round_params,
    .state_size = sizeof(round_state_t),
    .measure = round_measure,
};
