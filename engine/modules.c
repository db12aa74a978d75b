/* The module registry: built-in modules from rules/builtin.def. */
#include "ruleset.h"

#include <string.h>

#define RW_BUILTIN(name) extern const rw_module_t rw_builtin_##name;
#include "builtin.def"
#undef RW_BUILTIN

static const rw_module_t *const builtins[] = {
#define RW_BUILTIN(name) &rw_builtin_##name,
#include "builtin.def"
#undef RW_BUILTIN
};

const rw_module_t *rw_modules_find(const char *name) {
    for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++)
        if (strcmp(builtins[i]->name, name) == 0)
            return builtins[i];
    return NULL;
}

void rw_modules_each(void (*fn)(const rw_module_t *m, void *arg), void *arg) {
    for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++)
        fn(builtins[i], arg);
}
