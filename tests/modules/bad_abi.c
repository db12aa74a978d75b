/* Test module for tests/check_plugin.c: built for a newer ABI than the engine's. */
#include "riskwarn/module.h"

static int bad_setup(rw_setup_t *s, const json_t *params, void **state, char *err, size_t errlen) {
    (void)s, (void)params, (void)err, (void)errlen;
    *state = NULL;
    return RW_OK;
}

static int bad_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    .abi_version = RW_MODULE_ABI_VERSION + 1,
    .name = "bad_abi",
    .setup = bad_setup,
    .measure = bad_measure,
};
