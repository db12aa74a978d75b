/* Test module for tests/check_plugin.c: built for a newer ABI than the engine's. */
#include "riskwarn/module.h"

static int bad_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    .abi_version = RW_MODULE_ABI_VERSION + 1,
    .size = sizeof(rw_module_t),
    .name = "bad_abi",
    .measure = bad_measure,
};
