/* External rule modules: checked, opened with dlopen(), added to the module registry. */
#include "plugin.h"
#include "ruleset.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A loaded module: the handle keeps the descriptor's code and data mapped. */
typedef struct rw_plugin {
    void *handle;
    const rw_module_t *module; /* borrowed from the handle */
    char *path;                /* resolved */
} rw_plugin_t;

static rw_plugin_t *plugins;
static size_t n_plugins, cap_plugins;

static const char *writable_by(mode_t mode) {
    if ((mode & S_IWGRP) && (mode & S_IWOTH))
        return "group and others";
    return (mode & S_IWGRP) ? "group" : "others";
}

/* Refuses a file or directory writable by group or others, or owned by someone other than
 * root or the current user. what: "file" or "directory"; real: its resolved path. */
static int owner_mode_check(const char *what, const char *real, const char *source,
                            rw_error_t *err) {
    struct stat st;
    if (stat(real, &st) != 0)
        return rw_error_set(err, source, 0, 0, "module refused: cannot stat %s %s: %s", what, real,
                            strerror(errno));
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return rw_error_set(err, source, 0, 0,
                            "module refused: %s %s is writable by %s (mode %04o)", what, real,
                            writable_by(st.st_mode), (unsigned)(st.st_mode & 07777));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return rw_error_set(err, source, 0, 0,
                            "module refused: %s %s is owned by uid %u, neither root nor the "
                            "current user (uid %u)",
                            what, real, (unsigned)st.st_uid, (unsigned)geteuid());
    return 0;
}

/* Resolves the modules dir into a new string (free with free()) and checks it. */
static char *dir_resolve(const char *dir, const char *source, rw_error_t *err) {
    char *rdir = realpath(dir, NULL);
    if (!rdir) {
        rw_error_set(err, source, 0, 0, "module refused: cannot resolve modules dir %s: %s", dir,
                     strerror(errno));
        return NULL;
    }
    struct stat st;
    if (stat(rdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rw_error_set(err, source, 0, 0, "module refused: modules dir %s is not a directory", rdir);
        free(rdir);
        return NULL;
    }
    if (owner_mode_check("modules dir", rdir, source, err) != 0) {
        free(rdir);
        return NULL;
    }
    return rdir;
}

/* True when the canonical path real is strictly below the canonical directory rdir, compared
 * by whole path components ("/mods-evil/x.so" is not inside "/mods"). */
static bool path_inside(const char *rdir, const char *real) {
    size_t n = strlen(rdir);
    if (n == 1 && rdir[0] == '/')
        return real[0] == '/' && real[1] != 0;
    return strncmp(real, rdir, n) == 0 && real[n] == '/' && real[n + 1] != 0;
}

/* Opens and checks one module file (not registered yet). Fills *out on success. */
static int plugin_open(const char *rdir, const char *path, rw_plugin_t *out, rw_error_t *err) {
    char *real = realpath(path, NULL);
    if (!real) {
        rw_error_set(err, path, 0, 0, "module refused: cannot resolve: %s", strerror(errno));
        return RW_ERR_INPUT;
    }
    if (!path_inside(rdir, real)) {
        rw_error_set(err, path, 0, 0,
                     "module refused: resolves to %s, which is outside the modules dir %s", real,
                     rdir);
        goto fail;
    }
    struct stat st;
    if (stat(real, &st) != 0) {
        rw_error_set(err, path, 0, 0, "module refused: cannot stat %s: %s", real, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rw_error_set(err, path, 0, 0, "module refused: %s is not a regular file", real);
        goto fail;
    }
    if (owner_mode_check("file", real, path, err) != 0)
        goto fail;
    /* Every directory from the file's up to the modules dir (checked by the caller). */
    size_t n_rdir = strlen(rdir);
    char *up = rw_strdup(real);
    for (char *slash = strrchr(up, '/'); slash && (size_t)(slash - up) > n_rdir;
         slash = strrchr(up, '/')) {
        *slash = 0;
        if (owner_mode_check("directory", up, path, err) != 0) {
            free(up);
            goto fail;
        }
    }
    free(up);

    dlerror();
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        bool undef = e && strstr(e, "undefined symbol");
        rw_error_set(err, path, 0, 0, "module refused: dlopen failed: %s%s", e ? e : "unknown",
                     undef ? " (a module may call only the functions of "
                             "include/riskwarn/module.h)"
                           : "");
        goto fail;
    }
    dlerror();
    const rw_module_t *m = dlsym(h, RW_MODULE_SYMBOL);
    if (dlerror() || !m) {
        rw_error_set(err, path, 0, 0, "module refused: does not export the symbol %s",
                     RW_MODULE_SYMBOL);
        goto fail_close;
    }
    if (m->abi_version == 1) {
        rw_error_set(err, path, 0, 0,
                     "module refused: it is built for module ABI version 1, which this engine "
                     "(version %u) no longer loads. To port it: start the descriptor with "
                     "RW_MODULE_HEADER, declare its params as a rw_param_t table (type, name, "
                     "default, bounds, offsetof into a state struct; .params, .state_size), "
                     "keep in init() only the checks a table cannot make, and rebuild against "
                     "include/riskwarn/module.h (rules/README.md, \"Writing a module\")",
                     (unsigned)RW_MODULE_ABI_VERSION);
        goto fail_close;
    }
    if (m->abi_version != RW_MODULE_ABI_VERSION) {
        rw_error_set(err, path, 0, 0,
                     "module refused: module ABI version %u, but this engine's is %u "
                     "(rebuild the module against this engine's include/riskwarn/module.h)",
                     (unsigned)m->abi_version, (unsigned)RW_MODULE_ABI_VERSION);
        goto fail_close;
    }
    if (m->size != sizeof(rw_module_t)) {
        rw_error_set(err, path, 0, 0,
                     "module refused: its descriptor is %u bytes, but this engine's is %zu "
                     "(start it with RW_MODULE_HEADER and rebuild it against this engine's "
                     "include/riskwarn/module.h)",
                     (unsigned)m->size, sizeof(rw_module_t));
        goto fail_close;
    }
    out->handle = h;
    out->module = m;
    out->path = real;
    return 0;

fail_close:
    dlclose(h);
fail:
    free(real);
    return RW_ERR_INPUT;
}

/* Opens, checks and registers one module; appends it to the list. */
static int plugin_add(const char *rdir, const char *path, rw_error_t *err) {
    rw_plugin_t p;
    if (plugin_open(rdir, path, &p, err) != 0)
        return RW_ERR_INPUT;
    rw_error_t e;
    rw_error_clear(&e);
    if (rw_modules_register(p.module, &e) != 0) {
        rw_error_set(err, path, 0, 0, "module refused: %s", e.text);
        dlclose(p.handle);
        free(p.path);
        return RW_ERR_INPUT;
    }
    if (n_plugins == cap_plugins) {
        cap_plugins = cap_plugins ? 2 * cap_plugins : 8;
        plugins = rw_realloc(plugins, cap_plugins * sizeof(*plugins));
    }
    plugins[n_plugins++] = p;
    return 0;
}

/* Unregisters and unloads the modules from index from on, newest first. */
static void plugins_unload_from(size_t from) {
    while (n_plugins > from) {
        rw_plugin_t *p = &plugins[--n_plugins];
        rw_modules_unregister(p->module);
        dlclose(p->handle);
        free(p->path);
    }
}

int rw_plugin_load(const char *dir, const char *path, rw_error_t *err) {
    if (err)
        rw_error_clear(err);
    char *rdir = dir_resolve(dir, path, err);
    if (!rdir)
        return RW_ERR_INPUT;
    int rc = plugin_add(rdir, path, err);
    free(rdir);
    return rc;
}

static int so_filter(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

int rw_plugins_load_dir(const char *dir, rw_error_t *err) {
    if (err)
        rw_error_clear(err);
    char *rdir = dir_resolve(dir, dir, err);
    if (!rdir)
        return RW_ERR_INPUT;
    struct dirent **names;
    int n = scandir(rdir, &names, so_filter, alphasort);
    if (n < 0) {
        rw_error_set(err, dir, 0, 0, "module refused: cannot read modules dir %s: %s", rdir,
                     strerror(errno));
        free(rdir);
        return RW_ERR_INPUT;
    }
    size_t from = n_plugins;
    int rc = 0;
    size_t dlen = strlen(dir);
    const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
    rw_buf_t path;
    rw_buf_init(&path);
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            rw_buf_reset(&path);
            rw_buf_printf(&path, "%s%s%s", dir, sep, names[i]->d_name);
            rc = plugin_add(rdir, rw_buf_cstr(&path), err);
        }
        free(names[i]);
    }
    free(names);
    rw_buf_fini(&path);
    free(rdir);
    if (rc != 0)
        plugins_unload_from(from);
    return rc;
}

void rw_plugins_unload_all(void) {
    plugins_unload_from(0);
    rw_modules_unregister_all_external();
    free(plugins);
    plugins = NULL;
    cap_plugins = 0;
}
