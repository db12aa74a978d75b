/* window_distinct: distinct values of a field for this key in the window
 * (e.g. customers read by one staff member in an hour). */
#include "params.h"

#include <stdlib.h>
#include <string.h>

static int distinct_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                          size_t errlen) {
    return rw_field_state_setup(s, params, 1, state, err, errlen);
}

static int distinct_record(const void *state, const json_t *event, char *buf, size_t len) {
    const rw_field_state_t *st = state;
    return rw_field_text(event, st->field, buf, len) >= 0 ? RW_OK : RW_DECLINED;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int distinct_measure(const void *state, const rw_input_t *in, double *out) {
    (void)state;
    const char *stack[512];
    const char **v = in->n_entries <= 512 ? stack : malloc(in->n_entries * sizeof(char *));
    if (!v)
        return RW_DECLINED;
    for (size_t i = 0; i < in->n_entries; i++)
        v[i] = in->entries[i].value;
    qsort(v, in->n_entries, sizeof(char *), cmp_str);
    size_t n = 0;
    for (size_t i = 0; i < in->n_entries; i++)
        if (i == 0 || strcmp(v[i - 1], v[i]) != 0)
            n++;
    if (v != stack)
        free(v);
    *out = (double)n;
    return RW_OK;
}

static const char *const distinct_params[] = {"field", "window", NULL};

const rw_module_t rw_builtin_window_distinct = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "window_distinct",
    .summary = "distinct values of a field for this key in the window",
    .params = distinct_params,
    .setup = distinct_setup,
    .destroy = free,
    .record = distinct_record,
    .measure = distinct_measure,
};
