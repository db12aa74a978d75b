/* Test module for tests/check_plugin.c: calls an engine function that
 * include/riskwarn/module.h does not declare (rw_strdup, from engine/util.h). The engine
 * exports module.h's functions alone, so loading it fails on the undefined symbol. */
#include "riskwarn/module.h"

char *rw_strdup(const char *s);

typedef struct {
    const char *copy;
} sym_state_t;

static int sym_init(rw_setup_t *s, void *state, char *err, size_t errlen) {
    (void)s, (void)err, (void)errlen;
    ((sym_state_t *)state)->copy = rw_strdup("x");
    return RW_OK;
}

static int sym_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state, (void)in;
    *out = 1;
    return RW_OK;
}

const rw_module_t rw_module_descriptor = {
    RW_MODULE_HEADER, .name = "engine_symbol", .state_size = sizeof(sym_state_t),
    .init = sym_init, .measure = sym_measure,
};
