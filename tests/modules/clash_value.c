/* Test module for tests/check_plugin.c: takes the name of the built-in module "value". */
#include "riskwarn/module.h"

static int clash_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    RW_MODULE_HEADER,
    .name = "value",
    .measure = clash_measure,
};
