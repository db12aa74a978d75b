/* Test module for tests/check_plugin.c: a param table whose offset lies outside the state. */
#include "riskwarn/module.h"

typedef struct {
    double x;
} table_state_t;

static const rw_param_t table_params[] = {
    {.type = RW_PARAM_NUMBER,
     .name = "x",
     .offset = sizeof(table_state_t),
     .desc = "a number stored past the end of the state"},
    {0},
};

static int table_measure(const void *state, const rw_input_t *in, double *out) {
    (void)in;
    *out = ((const table_state_t *)state)->x;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    RW_MODULE_HEADER,         .name = "bad_table",
    .params = table_params,   .state_size = sizeof(table_state_t),
    .measure = table_measure,
};
