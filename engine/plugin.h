/*
 * External rule modules (docs/reference.md §5): shared objects in modules_dir that export
 * `const rw_module_t rw_module_descriptor` (include/riskwarn/module.h).
 *
 * A module is refused, with err naming the file (err->source) and the reason, when:
 *   - its path, symlinks resolved, is not inside the resolved modules dir;
 *   - it is not a regular file;
 *   - the file, the modules dir, or any directory between them is writable by group or
 *     others, or is owned by neither root nor the current user;
 *   - dlopen() fails, or it does not export rw_module_descriptor;
 *   - its abi_version is not RW_MODULE_ABI_VERSION (version 1 gets a message saying how to
 *     port it), or its size is not this engine's sizeof(rw_module_t);
 *   - its name is NULL or empty, it has no measure(), or its param table is malformed
 *     (rw_module_check);
 *   - it calls an engine function that include/riskwarn/module.h does not declare (the
 *     binary exports those alone: dlopen fails on the undefined symbol);
 *   - its name clashes with a built-in or an already loaded module.
 *
 * Modules are opened with dlopen(RTLD_NOW | RTLD_LOCAL); they call the engine's functions
 * of module.h, which the binary exports, and no others (the link's dynamic list is made
 * from module.h). Loading happens at start-up, before
 * rules are loaded; nothing here is thread-safe.
 */
#ifndef RW_PLUGIN_H
#define RW_PLUGIN_H

#include "util.h"

/* Loads every *.so in dir (in name order; names starting with '.' are skipped) as a rule
 * module and adds it to the registry. Returns 0, or RW_ERR_INPUT after filling err for the first
 * module refused (or for dir itself when it cannot be read); nothing is loaded then: the
 * modules this call loaded are unloaded again. */
int rw_plugins_load_dir(const char *dir, rw_error_t *err);

/* Loads one module file, which must be inside dir. Same refusals. Returns 0, or
 * RW_ERR_INPUT with err filled. */
int rw_plugin_load(const char *dir, const char *path, rw_error_t *err);

/* Unregisters and unloads every loaded module. Every ruleset that uses one must be
 * destroyed first: rules point into the modules' code and data. */
void rw_plugins_unload_all(void);

#endif
