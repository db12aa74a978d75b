/* Test module for tests/check_plugin.c: exports a descriptor under the wrong name. */
#include "riskwarn/module.h"

static int nosym_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                       size_t errlen) {
    (void)s, (void)params, (void)err, (void)errlen;
    *state = NULL;
    return RW_OK;
}

static int nosym_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return RW_OK;
}

const rw_module_t rw_module_descriptor_v0 = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "no_symbol",
    .setup = nosym_setup,
    .measure = nosym_measure,
};
