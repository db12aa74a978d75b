/* Test module for tests/check_plugin.c: a descriptor without a measure() callback. */
#include "riskwarn/module.h"

static int half_setup(rw_setup_t *s, const json_t *params, void **state, char *err, size_t errlen) {
    (void)s, (void)params, (void)err, (void)errlen;
    *state = NULL;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "no_measure",
    .setup = half_setup,
};
