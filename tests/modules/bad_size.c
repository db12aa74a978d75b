/* Test module for tests/check_plugin.c: an ABI version 2 descriptor that claims another size
 * (as one not started with RW_MODULE_HEADER, or built against another module.h, would). */
#include "riskwarn/module.h"

static int size_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .size = 64,
    .name = "bad_size",
    .measure = size_measure,
};
