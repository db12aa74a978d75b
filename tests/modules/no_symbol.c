/* Test module for tests/check_plugin.c: exports a descriptor under the wrong name. */
#include "riskwarn/module.h"

static int nosym_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return RW_OK;
}

const rw_module_t rw_module_descriptor_v0 = {
    RW_MODULE_HEADER,
    .name = "no_symbol",
    .measure = nosym_measure,
};
