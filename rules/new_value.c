/* new_value: when the value of `field` was not seen for this key within
 * `lookback`: 1, or the value of `measure_field` if given (e.g. the amount
 * paid from a new device). */
#include "params.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const rw_field_t *field, *measure_field;
} newval_state_t;

static int newval_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                        size_t errlen) {
    newval_state_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return RW_ERROR;
    }
    const json_t *lb = params ? json_object_get(params, "lookback") : NULL;
    int64_t ms;
    if (rw_field_param(s, params, "field", &st->field, err, errlen) != RW_OK)
        goto fail;
    if (!lb) {
        snprintf(err, errlen, "lookback: required, a duration such as \"90d\"");
        goto fail;
    }
    if (!json_is_string(lb) || rw_duration_parse(json_string_value(lb), &ms)) {
        snprintf(err, errlen, "lookback: bad duration (use 30s, 15m, 1h, 7d)");
        goto fail;
    }
    if (params && json_object_get(params, "measure_field") &&
        rw_field_param(s, params, "measure_field", &st->measure_field, err, errlen) != RW_OK)
        goto fail;
    rw_setup_window(s, ms);
    *state = st;
    return RW_OK;
fail:
    free(st);
    return RW_ERROR;
}

static int newval_record(const void *state, const json_t *event, char *buf, size_t len) {
    const newval_state_t *st = state;
    return rw_field_text(event, st->field, buf, len) >= 0 ? RW_OK : RW_DECLINED;
}

static int newval_measure(const void *state, const rw_input_t *in, double *out) {
    const newval_state_t *st = state;
    char v[RW_RECORD_MAX];
    if (rw_field_text(in->event, st->field, v, sizeof(v)) < 0)
        return RW_DECLINED;
    /* The window holds this event too: new when no other entry has the value. */
    size_t same = 0;
    for (size_t i = 0; i < in->n_entries && same < 2; i++)
        same += strcmp(in->entries[i].value, v) == 0;
    if (same > 1)
        return RW_DECLINED;
    if (!st->measure_field) {
        *out = 1;
        return RW_OK;
    }
    return rw_field_number(in->event, st->measure_field, out) == 0 ? RW_OK : RW_DECLINED;
}

static const char *const newval_params[] = {"field", "lookback", "measure_field", NULL};

const rw_module_t rw_builtin_new_value = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "new_value",
    .summary = "1 (or measure_field) when the field's value is new for this key within lookback",
    .params = newval_params,
    .setup = newval_setup,
    .destroy = free,
    .record = newval_record,
    .measure = newval_measure,
};
