/* window_count: matching events for this key in the window, this one included. */
#include "params.h"

static int count_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                       size_t errlen) {
    *state = NULL;
    return rw_window_param(s, params, err, errlen);
}

static int count_record(const void *state, const json_t *event, char *buf, size_t len) {
    (void)state;
    (void)event;
    if (len)
        buf[0] = 0;
    return RW_OK;
}

static int count_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state;
    *out = (double)in->n_entries;
    return RW_OK;
}

static const char *const count_params[] = {"window", NULL};

const rw_module_t rw_builtin_window_count = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "window_count",
    .summary = "matching events for this key in the window, this one included",
    .params = count_params,
    .setup = count_setup,
    .record = count_record,
    .measure = count_measure,
};
