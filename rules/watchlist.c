/* watchlist: 1 when the field's value is on a list: inline (`list`) or a
 * Redis set (`redis_set`, key "<prefix>list:<name>"), else 0. */
#include "riskwarn/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const rw_field_t *field;
    rw_strlist_t list;
    const char *redis_set; /* NULL: an inline list */
    const char **sorted;   /* the list's items, sorted (init) */
} watch_state_t;

static const rw_param_t watch_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "field",
     .flags = RW_PARAM_REQUIRED,
     .offset = offsetof(watch_state_t, field),
     .desc = "the field whose value is looked up"},
    {.type = RW_PARAM_STRING_LIST,
     .name = "list",
     .offset = offsetof(watch_state_t, list),
     .desc = "the values on the list, inline (strings or integers); or redis_set"},
    {.type = RW_PARAM_STRING,
     .name = "redis_set",
     .min = 1,
     .max = 200,
     .offset = offsetof(watch_state_t, redis_set),
     .desc = "the name of a Redis set holding the list (key <key_prefix>list:NAME); or list"},
    {0},
};

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int watch_init(rw_setup_t *s, void *state, char *err, size_t errlen) {
    watch_state_t *st = state;
    if ((st->list.items != NULL) == (st->redis_set != NULL)) {
        snprintf(err, errlen, "list: give exactly one of list (inline values) and redis_set");
        return RW_ERROR;
    }
    if (st->redis_set) {
        rw_setup_lookup(s, st->redis_set, st->field);
        return RW_OK;
    }
    st->sorted = malloc((st->list.n + 1) * sizeof(char *));
    if (!st->sorted) {
        snprintf(err, errlen, "list: out of memory");
        return RW_ERROR;
    }
    memcpy(st->sorted, st->list.items, st->list.n * sizeof(char *));
    qsort(st->sorted, st->list.n, sizeof(char *), cmp_str);
    return RW_OK;
}

static void watch_destroy(void *state) {
    watch_state_t *st = state;
    free(st->sorted);
}

static int watch_measure(const void *state, const rw_input_t *in, double *out) {
    const watch_state_t *st = state;
    if (st->redis_set) {
        if (in->lookup < 0)
            return RW_DECLINED;
        *out = in->lookup;
        return RW_OK;
    }
    char v[RW_RECORD_MAX];
    /* An inline list holds values as the risk team wrote them, and stays in memory. */
    if (rw_field_plain_text(in->event, st->field, v, sizeof(v)) < 0)
        return RW_DECLINED;
    const char *key = v;
    *out = bsearch(&key, st->sorted, st->list.n, sizeof(char *), cmp_str) ? 1 : 0;
    return RW_OK;
}

const rw_module_t rw_builtin_watchlist = {
    RW_MODULE_HEADER,
    .name = "watchlist",
    .summary = "1 when the field's value is on a list (inline, or a Redis set)",
    .params = watch_params,
    .state_size = sizeof(watch_state_t),
    .init = watch_init,
    .destroy = watch_destroy,
    .measure = watch_measure,
};
