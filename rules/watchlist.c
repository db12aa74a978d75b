/* watchlist: 1 when the field's value is on a list: inline (`list`) or a
 * Redis set (`redis_set`, key "<prefix>list:<name>"), else 0. */
#include "riskwarn/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const rw_field_t *field;
    char **items; /* sorted; inline lists */
    size_t n;
    int redis;
} watch_state_t;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void watch_destroy(void *p) {
    watch_state_t *st = p;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->items[i]);
    free(st->items);
    free(st);
}

static int watch_setup(rw_setup_t *s, const json_t *params, void **state, char *err,
                       size_t errlen) {
    const json_t *f = params ? json_object_get(params, "field") : NULL;
    const json_t *list = params ? json_object_get(params, "list") : NULL;
    const json_t *set = params ? json_object_get(params, "redis_set") : NULL;
    if (!json_is_string(f)) {
        snprintf(err, errlen, "field: required, the name of the field to look up");
        return RW_ERROR;
    }
    if ((list != NULL) == (set != NULL)) {
        snprintf(err, errlen, "list: give exactly one of list (inline values) and redis_set");
        return RW_ERROR;
    }
    if (list && !json_is_array(list)) {
        snprintf(err, errlen, "list: must be a list of strings or integers");
        return RW_ERROR;
    }
    if (set &&
        (!json_is_string(set) || json_string_length(set) == 0 || json_string_length(set) > 200)) {
        snprintf(err, errlen, "redis_set: must be a set name");
        return RW_ERROR;
    }
    watch_state_t *st = calloc(1, sizeof(*st));
    char e[200];
    if (!st || !(st->field = rw_setup_field(s, json_string_value(f), e, sizeof(e)))) {
        snprintf(err, errlen, "field: %s", st ? e : "out of memory");
        free(st);
        return RW_ERROR;
    }
    if (set) {
        st->redis = 1;
        rw_setup_lookup(s, json_string_value(set), st->field);
    } else {
        st->items = calloc(json_array_size(list) + 1, sizeof(char *));
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            char buf[64];
            if (json_is_string(v))
                st->items[st->n++] = strdup(json_string_value(v));
            else if (json_is_integer(v)) {
                snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                st->items[st->n++] = strdup(buf);
            } else {
                snprintf(err, errlen, "list: item %zu must be a string or an integer", i);
                watch_destroy(st);
                return RW_ERROR;
            }
        }
        qsort(st->items, st->n, sizeof(char *), cmp_str);
    }
    *state = st;
    return RW_OK;
}

static int watch_measure(const void *state, const rw_input_t *in, double *out) {
    const watch_state_t *st = state;
    if (st->redis) {
        if (in->lookup < 0)
            return RW_DECLINED;
        *out = in->lookup;
        return RW_OK;
    }
    char v[RW_RECORD_MAX];
    if (rw_field_text(in->event, st->field, v, sizeof(v)) < 0)
        return RW_DECLINED;
    const char *key = v;
    *out = bsearch(&key, st->items, st->n, sizeof(char *), cmp_str) ? 1 : 0;
    return RW_OK;
}

static const char *const watch_params[] = {"field", "list", "redis_set", NULL};

const rw_module_t rw_builtin_watchlist = {
    .abi_version = RW_MODULE_ABI_VERSION,
    .name = "watchlist",
    .summary = "1 when the field's value is on a list (inline, or a Redis set)",
    .params = watch_params,
    .setup = watch_setup,
    .destroy = watch_destroy,
    .measure = watch_measure,
};
