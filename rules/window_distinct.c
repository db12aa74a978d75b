/* window_distinct: distinct values of a field for this key in the window
 * (e.g. customers read by one staff member in an hour). */
#include "riskwarn/module.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const rw_field_t *field;
    int64_t window_ms;
} distinct_state_t;

static const rw_param_t distinct_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_RECORDED,
     .offset = offsetof(distinct_state_t, field),
     .desc = "the field whose distinct values are counted"},
    {.type = RW_PARAM_DURATION,
     .name = "window",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(distinct_state_t, window_ms),
     .desc = "how far back events count"},
    {0},
};

static int distinct_record(const void *state, const json_t *event, char *buf, size_t len) {
    const distinct_state_t *st = state;
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

const rw_module_t rw_builtin_window_distinct = {
    RW_MODULE_HEADER,
    .name = "window_distinct",
    .summary = "distinct values of a field for this key in the window",
    .params = distinct_params,
    .state_size = sizeof(distinct_state_t),
    .record = distinct_record,
    .measure = distinct_measure,
};
