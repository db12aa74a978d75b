/* The module registry: built-in modules from rules/builtin.def, then external modules
 * registered at start-up (engine/plugin.c). The registry changes only while no ruleset is
 * being loaded or evaluated; it is not locked. */
#include "params.h"
#include "ruleset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RW_BUILTIN(name) extern const rw_module_t rw_builtin_##name;
#include "builtin.def"
#undef RW_BUILTIN

static const rw_module_t *const builtins[] = {
#define RW_BUILTIN(name) &rw_builtin_##name,
#include "builtin.def"
#undef RW_BUILTIN
};
#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* External modules, in registration order; the descriptors are borrowed. */
static const rw_module_t **externals;
static size_t n_externals, cap_externals;

static const rw_module_t *builtin_find(const char *name) {
    for (size_t i = 0; i < N_BUILTINS; i++)
        if (strcmp(builtins[i]->name, name) == 0)
            return builtins[i];
    return NULL;
}

bool rw_module_builtin(const rw_module_t *m) {
    for (size_t i = 0; i < N_BUILTINS; i++)
        if (builtins[i] == m)
            return true;
    return false;
}

static const rw_module_t *external_find(const char *name) {
    for (size_t i = 0; i < n_externals; i++)
        if (strcmp(externals[i]->name, name) == 0)
            return externals[i];
    return NULL;
}

const rw_module_t *rw_modules_find(const char *name) {
    const rw_module_t *m = builtin_find(name);
    return m ? m : external_find(name);
}

void rw_modules_each(void (*fn)(const rw_module_t *m, void *arg), void *arg) {
    for (size_t i = 0; i < N_BUILTINS; i++)
        fn(builtins[i], arg);
    for (size_t i = 0; i < n_externals; i++)
        fn(externals[i], arg);
}

int rw_module_check(const rw_module_t *m, rw_error_t *err) {
    if (!m || !m->name || !m->name[0])
        return rw_error_fail(err, RW_ERR_INPUT, "module has no name");
    if (!m->measure)
        return rw_error_fail(err, RW_ERR_INPUT, "module \"%s\" has no measure() callback", m->name);
    rw_error_t e;
    rw_error_clear(&e);
    if (rw_params_check_table(m->params, m->state_size, &e) != 0)
        return rw_error_fail(err, e.code, "module \"%s\": %s", m->name, e.text);
    if (rw_module_recorded(m) && !m->record)
        return rw_error_fail(err, RW_ERR_INPUT,
                             "module \"%s\" declares what record() keeps but has no record()",
                             m->name);
    return 0;
}

const rw_param_t *rw_module_recorded(const rw_module_t *m) {
    for (const rw_param_t *p = m->params; p && p->type != RW_PARAM_END; p++)
        if (p->flags & (RW_PARAM_RECORDED | RW_PARAM_RECORDED_NUMBER))
            return p;
    return NULL;
}

void rw_module_print(const rw_module_t *m, FILE *out) {
    fprintf(out, "module %s: %s\n\nparams:\n", m->name, m->summary ? m->summary : "");
    rw_params_print(m->params, 2, out);
}

int rw_modules_register(const rw_module_t *m, rw_error_t *err) {
    int rc = rw_module_check(m, err);
    if (rc != 0)
        return rc;
    if (builtin_find(m->name))
        return rw_error_fail(err, RW_ERR_EXISTS,
                             "module name \"%s\" clashes with a built-in module", m->name);
    if (external_find(m->name))
        return rw_error_fail(err, RW_ERR_EXISTS,
                             "module name \"%s\" clashes with an already loaded module", m->name);
    if (n_externals == cap_externals) {
        cap_externals = cap_externals ? 2 * cap_externals : 8;
        externals = rw_realloc(externals, cap_externals * sizeof(const rw_module_t *));
    }
    externals[n_externals++] = m;
    return 0;
}

void rw_modules_unregister(const rw_module_t *m) {
    for (size_t i = 0; i < n_externals; i++)
        if (externals[i] == m) {
            memmove(&externals[i], &externals[i + 1],
                    (n_externals - i - 1) * sizeof(const rw_module_t *));
            n_externals--;
            return;
        }
}

void rw_modules_unregister_all_external(void) {
    free(externals);
    externals = NULL;
    n_externals = cap_externals = 0;
}
