/* Unit tests for engine/plugin.c: external rule modules loaded from a modules dir
 * (docs/reference.md §5).
 *
 * Each test copies the modules it needs into a fresh temporary modules dir (mode 0755, files
 * 0644): build/modules/amount_round.so (rules/examples/amount_round.c) and the refused ones of
 * build/modules-test/ (from tests/modules/), both built by the Makefile. The build dir is the
 * one this binary sits in ($(BUILD)/tests/check_plugin), so the ASan build loads the ASan
 * modules. */
#include "harness.h"
#include "plugin.h"

#include "harness.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARRIVAL 1795737600000LL /* 2026-11-27T00:00:00Z */

static char g_build[PATH_MAX]; /* the build dir: "…/build" or "…/build/asan" */

static char g_root[PATH_MAX]; /* this test's temporary dir */
static char g_mods[PATH_MAX]; /* g_root/mods, the modules dir */

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *pathf(char *buf, const char *fmt, const char *a, const char *b) {
    int n = snprintf(buf, PATH_MAX, fmt, a, b);
    ck_assert_msg(n > 0 && n < PATH_MAX, "test bug: path too long");
    return buf;
}

/* Copies build/<sub>/<name> to dst with the given mode. */
static void copy_module(const char *sub, const char *name, const char *dst, mode_t mode) {
    char src[PATH_MAX], rel[PATH_MAX];
    pathf(src, "%s/%s", g_build, pathf(rel, "%s/%s", sub, name));
    FILE *in = fopen(src, "rb");
    ck_assert_msg(in != NULL, "cannot open %s (run make first): %s", src, strerror(errno));
    FILE *out = fopen(dst, "wb");
    ck_assert_msg(out != NULL, "cannot create %s: %s", dst, strerror(errno));
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(chmod(dst, mode), 0);
}

/* Copies a module into the modules dir under its own name (or as). Returns the path. */
static const char *add_module(char *path, const char *sub, const char *name, const char *as) {
    pathf(path, "%s/%s", g_mods, as ? as : name);
    copy_module(sub, name, path, 0644);
    return path;
}

static void make_dir(const char *path, mode_t mode) {
    ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void setup(void) {
    snprintf(g_root, sizeof(g_root), "/tmp/rw-plugin-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_root));
    ck_assert_int_eq(chmod(g_root, 0755), 0);
    pathf(g_mods, "%s/%s", g_root, "mods");
    make_dir(g_mods, 0755);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static void teardown(void) {
    rw_plugins_unload_all();
    nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Expects a refusal naming source, with every one of the given parts in the text. */
static void expect_refused(int rc, const rw_error_t *err, const char *source, const char *part1,
                           const char *part2) {
    ck_assert_int_eq(rc, RW_ERR_INPUT);
    ck_assert_int_eq(err->code, RW_ERR_INPUT);
    ck_assert_str_eq(err->source, source);
    ck_assert_msg(strstr(err->text, part1), "error text \"%s\" lacks \"%s\"", err->text, part1);
    if (part2)
        ck_assert_msg(strstr(err->text, part2), "error text \"%s\" lacks \"%s\"", err->text, part2);
}

/* Loads a ruleset; returns NULL and the first error's text in first when refused. */
static rw_ruleset_t *rules_try(const char *text, char *first, size_t len) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load(text, strlen(text), "rules", &errs);
    if (first)
        first[0] = 0;
    if (!rs && first && errs.n)
        rw_error_format(&errs.items[0], first, len);
    rw_errors_fini(&errs);
    return rs;
}

static const char RULES[] =
    "{\"ruleset\": \"plugin\", \"version\": \"1\", \"rules\": ["
    " {\"id\": \"round-big\", \"module\": \"amount_round\", \"match\": {\"type\": \"transaction\"},"
    "  \"key\": \"account\", \"params\": {\"field\": \"amount\", \"multiple\": 1000, \"min\": "
    "5000},"
    "  \"thresholds\": {\"high\": 1}},"
    " {\"id\": \"round-any\", \"module\": \"amount_round\", \"match\": {\"type\": \"transaction\"},"
    "  \"key\": \"account\", \"params\": {\"field\": \"amount\"}, \"thresholds\": {\"low\": 1}}"
    "]}";

/* The hit of rule id on an item, or NULL. */
static const rw_hit_t *hit_of(const rw_batch_t *b, const rw_item_t *it, const char *id) {
    for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++)
        if (strcmp(b->rs->rules[b->hits[h].rule].id, id) == 0)
            return &b->hits[h];
    return NULL;
}

/* Evaluates the events of RULES in one batch with the memory store, as `replay` does, and
 * checks each event's level and its rules' measures. */
static void evaluate_rules(void) {
    static const struct {
        const char *event;
        int level;
        int big, any; /* measure of round-big / round-any when it hit; -1: no hit */
    } cases[] = {
        {"{\"event_id\": \"e1\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:00:00Z\", "
         "\"account\": \"A\", \"amount\": 10000}",
         RW_LEVEL_HIGH, 1, 1},
        {"{\"event_id\": \"e2\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:00:01Z\", "
         "\"account\": \"A\", \"amount\": 2000.0}",
         RW_LEVEL_LOW, -1, 1}, /* round, below min 5000 */
        {"{\"event_id\": \"e3\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:00:02Z\", "
         "\"account\": \"A\", \"amount\": 10500}",
         RW_LEVEL_NONE, -1, -1},
        {"{\"event_id\": \"e4\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:00:03Z\", "
         "\"account\": \"A\", \"amount\": \"10000\"}",
         RW_LEVEL_NONE, -1, -1}, /* not a number: not scored */
        {"{\"event_id\": \"e5\", \"type\": \"transaction\", \"ts\": \"2026-11-27T10:00:04Z\", "
         "\"account\": \"A\", \"amount\": 250}",
         RW_LEVEL_NONE, -1, -1},
    };
    const size_t n = sizeof(cases) / sizeof(*cases);
    char first[1024];
    rw_ruleset_t *rs = rules_try(RULES, first, sizeof(first));
    ck_assert_msg(rs != NULL, "ruleset refused: %s", first);
    rw_batch_t *b = rw_batch_new(1048576, true);
    rw_store_t *st = rw_memstore_new();
    rw_batch_reset(b, rs);
    for (size_t i = 0; i < n; i++) {
        rw_msg_t m = {"events", 0,    (int64_t)i, cases[i].event, strlen(cases[i].event), ARRIVAL,
                      0,        NULL, 0};
        rw_batch_add(b, &m);
    }
    h_batch_through(st, b);
    ck_assert_uint_eq(b->n_items, n);
    for (size_t i = 0; i < n; i++) {
        const rw_item_t *it = &b->items[i];
        ck_assert_msg(it->error[0] == 0, "event %zu: dead letter: %s", i + 1, it->error);
        ck_assert_msg(it->level == cases[i].level, "event %zu: level %d, want %d", i + 1, it->level,
                      cases[i].level);
        const rw_hit_t *big = hit_of(b, it, "round-big"), *any = hit_of(b, it, "round-any");
        ck_assert_msg((big != NULL) == (cases[i].big >= 0), "event %zu: round-big", i + 1);
        ck_assert_msg((any != NULL) == (cases[i].any >= 0), "event %zu: round-any", i + 1);
        if (big)
            ck_assert_msg(big->measure == cases[i].big && big->level == RW_LEVEL_HIGH,
                          "event %zu: round-big measure %g level %d", i + 1, big->measure,
                          big->level);
        if (any)
            ck_assert_msg(any->measure == cases[i].any && any->level == RW_LEVEL_LOW,
                          "event %zu: round-any measure %g level %d", i + 1, any->measure,
                          any->level);
    }
    rw_batch_destroy(b);
    st->destroy(st);
    rw_ruleset_destroy(rs);
}

/* ---- loading ------------------------------------------------------------------------------ */

/* load_dir registers amount_round, and a ruleset using it evaluates events. */
START_TEST(test_plugin_load_dir_and_evaluate) {
    char p[PATH_MAX];
    add_module(p, "modules", "amount_round.so", NULL);
    rw_error_t err;
    int rc = rw_plugins_load_dir(g_mods, &err);
    ck_assert_msg(rc == 0, "refused: %s: %s", err.source, err.text);
    const rw_module_t *m = rw_modules_find("amount_round");
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->abi_version, RW_MODULE_ABI_VERSION);
    ck_assert_ptr_nonnull(rw_modules_find("value")); /* built-ins still there */
    evaluate_rules();
}
END_TEST

/* rw_plugin_load loads one file; a symlink whose target is inside the dir is fine. */
START_TEST(test_plugin_load_one_file_and_inner_symlink) {
    char lib[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
    make_dir(pathf(lib, "%s/%s", g_mods, "lib"), 0755);
    copy_module("modules", "amount_round.so", pathf(target, "%s/%s", lib, "amount_round.so"), 0644);
    ck_assert_int_eq(symlink("lib/amount_round.so", pathf(link, "%s/%s", g_mods, "round.so")), 0);
    rw_error_t err;
    int rc = rw_plugin_load(g_mods, link, &err);
    ck_assert_msg(rc == 0, "refused: %s: %s", err.source, err.text);
    evaluate_rules();
}
END_TEST

/* Params are checked by the module at ruleset load. */
START_TEST(test_plugin_module_params_checked) {
    char p[PATH_MAX], first[1024];
    add_module(p, "modules", "amount_round.so", NULL);
    rw_error_t err;
    ck_assert_int_eq(rw_plugins_load_dir(g_mods, &err), 0);
    static const char bad[] =
        "{\"ruleset\": \"p\", \"version\": \"1\", \"rules\": [{\"id\": \"r\", \"module\": "
        "\"amount_round\", \"match\": {}, \"params\": {\"field\": \"amount\", \"multiple\": 0},"
        " \"thresholds\": {\"low\": 1}}]}";
    ck_assert_ptr_null(rules_try(bad, first, sizeof(first)));
    char want[128];
    snprintf(want, sizeof(want),
             "rules:1:%d: rule \"r\": params.multiple: 0 is out of bounds: greater than 0",
             (int)((size_t)(strstr(bad, "\"multiple\": 0") - bad) + 1 + strlen("\"multiple\": ")));
    ck_assert_msg(strstr(first, want), "error: %s, want %s", first, want);
}
END_TEST

/* help MODULE --modules-dir DIR prints an external module's params table. */
START_TEST(test_plugin_help_module) {
    char p[PATH_MAX], out[8192];
    add_module(p, "modules", "amount_round.so", NULL);
    const char *args[] = {"help", "amount_round", "--modules-dir", g_mods, NULL};
    ck_assert_int_eq(h_run(out, sizeof(out), args), 0);
    static const char *const want[] = {"module amount_round:", "multiple", "number",  "1000",
                                       "greater than 0",       "field",    "required"};
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        ck_assert_msg(strstr(out, want[i]), "no \"%s\" in:\n%s", want[i], out);
    /* Without the modules dir it is not known. */
    ck_assert_int_eq(h_run(out, sizeof(out), (const char *[]){"help", "amount_round", NULL}),
                     RW_EXIT_USAGE);
}
END_TEST

/* After unload_all the module is gone: rules naming it are refused; it loads again. */
START_TEST(test_plugin_unload_all) {
    char p[PATH_MAX], first[1024];
    add_module(p, "modules", "amount_round.so", NULL);
    rw_error_t err;
    ck_assert_int_eq(rw_plugins_load_dir(g_mods, &err), 0);
    rw_plugins_unload_all();
    ck_assert_ptr_null(rw_modules_find("amount_round"));
    ck_assert_ptr_null(rules_try(RULES, first, sizeof(first)));
    ck_assert_msg(strstr(first, "unknown module \"amount_round\""), "error: %s", first);
    ck_assert_int_eq(rw_plugins_load_dir(g_mods, &err), 0);
    ck_assert_ptr_nonnull(rw_modules_find("amount_round"));
}
END_TEST

/* One refused file refuses the whole dir: the modules loaded before it are unloaded. */
START_TEST(test_plugin_load_dir_all_or_nothing) {
    char good[PATH_MAX], bad[PATH_MAX];
    add_module(good, "modules", "amount_round.so", NULL);
    add_module(bad, "modules-test", "bad_abi.so", "zz_bad_abi.so");
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, bad, "ABI", NULL);
    ck_assert_ptr_null(rw_modules_find("amount_round"));
    ck_assert_ptr_null(rw_modules_find("bad_abi"));
    /* Nothing left behind: the good module alone loads now. */
    ck_assert_int_eq(unlink(bad), 0);
    ck_assert_int_eq(rw_plugins_load_dir(g_mods, &err), 0);
    ck_assert_ptr_nonnull(rw_modules_find("amount_round"));
}
END_TEST

/* Puts the test module SO in the modules dir, expects loading the dir to be
 * refused for it with both parts in the text, and the module to be absent;
 * err keeps the error for further checks. */
static void expect_module_refused(const char *so, const char *part1, const char *part2,
                                  rw_error_t *err) {
    char p[PATH_MAX], name[64];
    add_module(p, "modules-test", so, NULL);
    expect_refused(rw_plugins_load_dir(g_mods, err), err, p, part1, part2);
    snprintf(name, sizeof(name), "%.*s", (int)(strlen(so) - 3), so);
    ck_assert_ptr_null(rw_modules_find(name));
}

/* ---- refusals ----------------------------------------------------------------------------- */

START_TEST(test_plugin_refuse_abi_version) {
    char want[64];
    snprintf(want, sizeof(want), "ABI version %d, but this engine's is %d",
             RW_MODULE_ABI_VERSION + 1, RW_MODULE_ABI_VERSION);
    rw_error_t err;
    expect_module_refused("bad_abi.so", want, NULL, &err);
}
END_TEST

/* A module of the first ABI is refused with a message that says how to port it. */
START_TEST(test_plugin_refuse_abi_v1) {
    rw_error_t err;
    expect_module_refused("v1_module.so", "module ABI version 1", "no longer loads", &err);
    static const char *const how[] = {"To port it", "RW_MODULE_HEADER", "rw_param_t table",
                                      "offsetof",   "init()",           "rules/README.md"};
    for (size_t i = 0; i < sizeof(how) / sizeof(*how); i++)
        ck_assert_msg(strstr(err.text, how[i]), "\"%s\" lacks \"%s\"", err.text, how[i]);
}
END_TEST

START_TEST(test_plugin_refuse_descriptor_size) {
    char want[96];
    snprintf(want, sizeof(want), "descriptor is 64 bytes, but this engine's is %zu",
             sizeof(rw_module_t));
    rw_error_t err;
    expect_module_refused("bad_size.so", want, "RW_MODULE_HEADER", &err);
}
END_TEST

START_TEST(test_plugin_refuse_bad_param_table) {
    rw_error_t err;
    expect_module_refused("bad_table.so", "module \"bad_table\": param \"x\"",
                          "does not hold a number in a state of 8 bytes", &err);
}
END_TEST

/* Modules resolve module.h's functions and nothing else from the engine. */
START_TEST(test_plugin_refuse_engine_symbol) {
    rw_error_t err;
    expect_module_refused("engine_symbol.so", "undefined symbol: rw_strdup",
                          "only the functions of include/riskwarn/module.h", &err);
    /* The engine has rw_strdup, it just does not export it. */
    ck_assert_ptr_null(dlsym(RTLD_DEFAULT, "rw_strdup"));
    ck_assert_ptr_null(dlsym(RTLD_DEFAULT, "rw_ruleset_load"));
}
END_TEST

/* A module referring to every function of module.h loads: each one is exported. */
START_TEST(test_plugin_module_api_exported) {
    char p[PATH_MAX];
    add_module(p, "modules-test", "all_api.so", NULL);
    rw_error_t err;
    int rc = rw_plugins_load_dir(g_mods, &err);
    ck_assert_msg(rc == 0, "refused: %s: %s", err.source, err.text);
    ck_assert_ptr_nonnull(rw_modules_find("all_api"));
    /* Every name of the dynamic list made from module.h is exported, and only those are. */
    char syms[PATH_MAX], line[256];
    FILE *f = fopen(pathf(syms, "%s/%s", g_build, "module.syms"), "r");
    ck_assert_msg(f != NULL, "cannot open %s", syms);
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[128];
        if (sscanf(line, " %127[a-z0-9_];", name) != 1)
            continue;
        ck_assert_msg(dlsym(RTLD_DEFAULT, name) != NULL, "%s is not exported", name);
        n++;
    }
    fclose(f);
    ck_assert_uint_ge(n, 16);
}
END_TEST

START_TEST(test_plugin_refuse_file_writable) {
    char p[PATH_MAX];
    add_module(p, "modules", "amount_round.so", NULL);
    ck_assert_int_eq(chmod(p, 0666), 0);
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, p, "writable by group and others",
                   "amount_round.so");
    ck_assert_int_eq(chmod(p, 0664), 0);
    expect_refused(rw_plugin_load(g_mods, p, &err), &err, p, "writable by group", NULL);
    ck_assert_ptr_null(rw_modules_find("amount_round"));
}
END_TEST

START_TEST(test_plugin_refuse_dir_writable) {
    char p[PATH_MAX];
    add_module(p, "modules", "amount_round.so", NULL);
    ck_assert_int_eq(chmod(g_mods, 0757), 0);
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, g_mods, "modules dir",
                   "writable by others");
    expect_refused(rw_plugin_load(g_mods, p, &err), &err, p, "modules dir", "writable by others");
    ck_assert_ptr_null(rw_modules_find("amount_round"));
}
END_TEST

/* A directory between the modules dir and the file counts too. */
START_TEST(test_plugin_refuse_subdir_writable) {
    char lib[PATH_MAX], p[PATH_MAX];
    make_dir(pathf(lib, "%s/%s", g_mods, "lib"), 0775);
    copy_module("modules", "amount_round.so", pathf(p, "%s/%s", lib, "amount_round.so"), 0644);
    rw_error_t err;
    expect_refused(rw_plugin_load(g_mods, p, &err), &err, p, "directory", "writable by group");
}
END_TEST

START_TEST(test_plugin_refuse_symlink_outside) {
    char out_dir[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
    make_dir(pathf(out_dir, "%s/%s", g_root, "outside"), 0755);
    copy_module("modules", "amount_round.so", pathf(target, "%s/%s", out_dir, "amount_round.so"),
                0644);
    ck_assert_int_eq(symlink(target, pathf(link, "%s/%s", g_mods, "amount_round.so")), 0);
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, link, "outside the modules dir",
                   "/outside/amount_round.so");
    ck_assert_ptr_null(rw_modules_find("amount_round"));
}
END_TEST

/* "/x/mods-evil/a.so" shares a string prefix with "/x/mods" but is not inside it. */
START_TEST(test_plugin_refuse_sibling_prefix) {
    char evil[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
    make_dir(pathf(evil, "%s/%s", g_root, "mods-evil"), 0755);
    copy_module("modules", "amount_round.so", pathf(target, "%s/%s", evil, "amount_round.so"),
                0644);
    rw_error_t err;
    expect_refused(rw_plugin_load(g_mods, target, &err), &err, target, "outside the modules dir",
                   NULL);
    ck_assert_int_eq(
        symlink("../mods-evil/amount_round.so", pathf(link, "%s/%s", g_mods, "amount_round.so")),
        0);
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, link, "outside the modules dir",
                   "mods-evil");
    ck_assert_ptr_null(rw_modules_find("amount_round"));
}
END_TEST

START_TEST(test_plugin_refuse_missing_symbol) {
    rw_error_t err;
    expect_module_refused("no_symbol.so", "does not export", RW_MODULE_SYMBOL, &err);
}
END_TEST

START_TEST(test_plugin_refuse_missing_measure) {
    rw_error_t err;
    expect_module_refused("no_measure.so", "no measure() callback", "no_measure", &err);
}
END_TEST

START_TEST(test_plugin_refuse_builtin_name_clash) {
    char p[PATH_MAX];
    add_module(p, "modules-test", "clash_value.so", NULL);
    const rw_module_t *builtin = rw_modules_find("value");
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, p, "\"value\"", "built-in");
    ck_assert_ptr_eq(rw_modules_find("value"), builtin);
}
END_TEST

/* Two files with the same module name: the second is refused, and the dir with it. */
START_TEST(test_plugin_refuse_loaded_name_clash) {
    char a[PATH_MAX], b[PATH_MAX];
    add_module(a, "modules", "amount_round.so", "a.so");
    add_module(b, "modules", "amount_round.so", "b.so");
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, b, "already loaded", "amount_round");
    ck_assert_ptr_null(rw_modules_find("amount_round"));
    ck_assert_int_eq(rw_plugin_load(g_mods, a, &err), 0);
    expect_refused(rw_plugin_load(g_mods, a, &err), &err, a, "already loaded", NULL);
    ck_assert_ptr_nonnull(rw_modules_find("amount_round"));
}
END_TEST

START_TEST(test_plugin_refuse_not_regular) {
    char p[PATH_MAX];
    make_dir(pathf(p, "%s/%s", g_mods, "dir.so"), 0755);
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, p, "not a regular file", NULL);
}
END_TEST

START_TEST(test_plugin_refuse_dlopen_failure) {
    char p[PATH_MAX];
    pathf(p, "%s/%s", g_mods, "garbage.so");
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not an ELF file\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(p, 0644), 0);
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, p, "dlopen failed", "garbage.so");
}
END_TEST

START_TEST(test_plugin_refuse_missing_dir) {
    char p[PATH_MAX];
    pathf(p, "%s/%s", g_root, "none");
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(p, &err), &err, p, "cannot resolve modules dir", NULL);
}
END_TEST

/* Run as root only: the file of another user. */
START_TEST(test_plugin_refuse_foreign_owner) {
    char p[PATH_MAX];
    add_module(p, "modules", "amount_round.so", NULL);
    ck_assert_int_eq(chown(p, 65534, 65534), 0);
    rw_error_t err;
    expect_refused(rw_plugins_load_dir(g_mods, &err), &err, p, "owned by uid 65534", NULL);
}
END_TEST

static Suite *plugin_suite(void) {
    Suite *s = suite_create("plugin");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plugin_load_dir_and_evaluate);
    tcase_add_test(tc, test_plugin_load_one_file_and_inner_symlink);
    tcase_add_test(tc, test_plugin_module_params_checked);
    tcase_add_test(tc, test_plugin_unload_all);
    tcase_add_test(tc, test_plugin_load_dir_all_or_nothing);
    tcase_add_test(tc, test_plugin_help_module);
    tcase_add_test(tc, test_plugin_module_api_exported);
    suite_add_tcase(s, tc);

    tc = tcase_create("refuse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plugin_refuse_abi_version);
    tcase_add_test(tc, test_plugin_refuse_abi_v1);
    tcase_add_test(tc, test_plugin_refuse_descriptor_size);
    tcase_add_test(tc, test_plugin_refuse_bad_param_table);
    tcase_add_test(tc, test_plugin_refuse_engine_symbol);
    tcase_add_test(tc, test_plugin_refuse_file_writable);
    tcase_add_test(tc, test_plugin_refuse_dir_writable);
    tcase_add_test(tc, test_plugin_refuse_subdir_writable);
    tcase_add_test(tc, test_plugin_refuse_symlink_outside);
    tcase_add_test(tc, test_plugin_refuse_sibling_prefix);
    tcase_add_test(tc, test_plugin_refuse_missing_symbol);
    tcase_add_test(tc, test_plugin_refuse_missing_measure);
    tcase_add_test(tc, test_plugin_refuse_builtin_name_clash);
    tcase_add_test(tc, test_plugin_refuse_loaded_name_clash);
    tcase_add_test(tc, test_plugin_refuse_not_regular);
    tcase_add_test(tc, test_plugin_refuse_dlopen_failure);
    tcase_add_test(tc, test_plugin_refuse_missing_dir);
    if (geteuid() == 0) /* only root can give a file away */
        tcase_add_test(tc, test_plugin_refuse_foreign_owner);
    suite_add_tcase(s, tc);
    return s;
}

/* The build dir: two levels above this binary ($(BUILD)/tests/check_plugin). */
static void build_dir_find(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        fprintf(stderr, "check_plugin: cannot read /proc/self/exe: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    exe[n] = 0;
    snprintf(g_build, sizeof(g_build), "%s", dirname(dirname(exe)));
}

static int plugin_setup(void) {
    build_dir_find();
    return 0;
}

int main(void) { return h_main_around(plugin_suite, plugin_setup, NULL); }
