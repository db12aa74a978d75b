/* riskwarn: the command line (docs/reference.md §2). */
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "control.h"
#include "engine.h"
#include "jarena.h"
#include "mock.h"
#include "plugin.h"
#include "ruleset.h"
#include "sample.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rw_engine_ctl_t ctl;

static void on_signal(int sig) {
    if (sig == SIGHUP)
        atomic_store(&ctl.reload, 1);
    else
        atomic_store(&ctl.stop, 1);
}

void rw_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

atomic_int *rw_stop_flag(void) { return &ctl.stop; }

typedef struct command {
    const char *name;
    const char *usage;
    const char *summary;
    int (*fn)(int argc, char **argv);
    const rw_cli_opt_t *opts; /* every flag it takes, for help */
} command_t;

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const rw_cli_opt_t no_opts[] = {{0, NULL, NULL, NULL}};

enum { HELP_MODULES_DIR = RW_CLI_ID };
static const rw_cli_opt_t help_opts[] = {
    {HELP_MODULES_DIR, "modules-dir", "DIR", "help MODULE: load external rule modules from DIR"},
    {0, NULL, NULL, NULL}};

static const command_t commands[] = {
    {"run", "run -c ENGINE.json [--rules FILE] [--brokers LIST] [--group ID] [--redis HOST:PORT]",
     "the engine: consume events, evaluate rules, publish alerts; stops on SIGTERM/SIGINT, "
     "re-reads the rules file on SIGHUP; -c is required (deploy/engine.example.json shows every "
     "setting)",
     rw_cmd_run, rw_run_opts},
    {"check", "check -c ENGINE.json [--connect [--timeout SECONDS]]",
     "check an engine config, its ruleset and modules without starting (like nginx -t); with "
     "--connect, reach Kafka and Redis and say what is there. Exit 0, or 2 with every error",
     rw_cmd_check, rw_check_opts},
    {"demo", "demo [--events FILE] [--rules FILE] [--quiet]",
     "the embedded default: in-process Kafka, a local redis-server, sample events, alerts",
     rw_cmd_demo, rw_demo_opts},
    {"replay",
     "replay --rules FILE [--compare FILE [--json]] [--modules-dir DIR] [--redis HOST:PORT] "
     "[--config ENGINE.json] [EVENTS.jsonl | -]",
     "backtest JSON-lines events without Kafka: alerts on stdout, a summary on stderr",
     rw_cmd_replay, rw_replay_opts},
    {"rules",
     "rules check [--modules-dir DIR] [--sample EVENTS.jsonl] FILE...\n"
     "       riskwarn rules push FILE [--shadow] [--brokers LIST | -c ENGINE.json] [--topic T]\n"
     "                               [--key FILE.pem [--key-id ID]]\n"
     "       riskwarn rules promote|drop-shadow [--brokers LIST | -c ENGINE.json] [--topic T]\n"
     "                               [--key FILE.pem [--key-id ID]]",
     "validate rule files (exit 0, or 2 with every error found); publish a ruleset to the "
     "engines, signed, live or as a shadow candidate; promote or drop the shadow candidate",
     rw_cmd_rules, rw_rules_opts},
    {"tail",
     "tail [--brokers LIST | -c ENGINE.json] [--topic T] [--high] [--level low|medium|high] "
     "[--from-beginning] [--json] [--until-end]",
     "follow the alert topic: one readable line an alert (colours on a terminal), or raw JSON",
     rw_cmd_tail, rw_tail_opts},
    {"stats", "stats [--redis HOST:PORT | -c ENGINE.json] [--date YYYY-MM-DD|all] [--top N]",
     "counters from Redis: alerts by level, top rules, events by type, dead letters, "
     "suppressed hits; without --date, the latest day that has counters",
     rw_cmd_stats, rw_stats_opts},
    {"rebuild", "rebuild -c ENGINE.json --since TIME [--rules FILE] [--timeout SECONDS]",
     "after Redis lost its state, with the group's engines stopped: build windows, cool-downs, "
     "deadline cases, fences and the day counters again from the input topics, up to the "
     "group's committed offsets, publishing nothing",
     rw_cmd_rebuild, rw_rebuild_opts},
    {"pseudonym", "pseudonym [-c ENGINE.json] [VALUE...]",
     "print the pseudonyms the engine keeps for values of masked fields (one a line, from the "
     "arguments or from stdin), e.g. to fill a watchlist on counterparties",
     rw_cmd_pseudonym, rw_pseudonym_opts},
    {"mock-kafka", "mock-kafka [--brokers N] [--topic NAME:PARTITIONS]...",
     "a local Kafka cluster for development and tests; prints its bootstrap servers first",
     rw_cmd_mock_kafka, rw_mock_kafka_opts},
    {"version", "version", "print the version", cmd_version, no_opts},
    {"help", "help [COMMAND | MODULE [--modules-dir DIR]]",
     "this help, one command's with every flag, or a rule module's params", cmd_help, help_opts},
};
#define N_COMMANDS (sizeof(commands) / sizeof(*commands))

static const command_t *command_find(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static void command_help(const command_t *c, FILE *out) {
    fprintf(out, "usage: riskwarn %s\n\n%s\n\noptions:\n", c->usage, c->summary);
    rw_cli_print(out, c->opts);
}

int rw_help(const char *cmd) {
    const command_t *c = command_find(cmd);
    if (c)
        command_help(c, stdout);
    return RW_EXIT_OK;
}

static int cmd_version(int argc, char **argv) {
    rw_cli_t cli;
    rw_cli_init(&cli, "version", no_opts);
    int o = rw_cli_next(&cli, argc, argv);
    if (o == RW_CLI_HELP)
        return rw_help("version");
    if (o != RW_CLI_END || optind < argc)
        return rw_usage("version");
    printf("riskwarn %s (librdkafka %s, jansson %s)\n", RW_VERSION, rd_kafka_version_str(),
           JANSSON_VERSION);
    return RW_EXIT_OK;
}

static void print_module(const rw_module_t *m, void *arg) {
    (void)arg;
    printf("  %-16s %s\n", m->name, m->summary);
}

/* help MODULE [--modules-dir DIR]: the module's params table. */
static int module_help(int argc, char **argv) {
    const char *mdir = NULL;
    rw_cli_t cli;
    rw_cli_init(&cli, "help", help_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == HELP_MODULES_DIR)
            mdir = cli.arg;
        else
            return o == RW_CLI_HELP ? rw_help("help") : rw_usage("help");
    }
    if (optind != argc - 1)
        return rw_usage("help");
    if (rw_cmd_modules_load(mdir))
        return RW_EXIT_USAGE;
    const rw_module_t *m = rw_modules_find(argv[optind]);
    if (m)
        rw_module_print(m, stdout);
    else
        fprintf(stderr, "riskwarn: no command or module \"%s\"; see riskwarn help\n", argv[optind]);
    rw_plugins_unload_all();
    return m ? RW_EXIT_OK : RW_EXIT_USAGE;
}

static int cmd_help(int argc, char **argv) {
    if (argc > 1) {
        const command_t *c = command_find(argv[1]);
        if (c) {
            command_help(c, stdout);
            return RW_EXIT_OK;
        }
        return module_help(argc, argv);
    }
    printf("riskwarn: a streaming risk-warning engine\n\nusage: riskwarn COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-11s %s\n", commands[i].name, commands[i].summary);
    printf("\nrule modules (riskwarn help MODULE: its params):\n");
    rw_modules_each(print_module, NULL);
    printf("\nriskwarn help COMMAND (or riskwarn COMMAND --help) lists a command's flags.\n"
           "exit codes: 0 success, 1 runtime failure, 2 usage or configuration error\n");
    return RW_EXIT_OK;
}

int rw_usage(const char *cmd) {
    const command_t *c = command_find(cmd);
    if (c)
        fprintf(stderr, "usage: riskwarn %s\n(riskwarn help %s lists every flag)\n", c->usage, cmd);
    return RW_EXIT_USAGE;
}

/* ---- run ------------------------------------------------------------------------------- */

enum { RUN_RULES = RW_CLI_ID, RUN_BROKERS, RUN_GROUP, RUN_REDIS };

const rw_cli_opt_t rw_run_opts[] = {
    {'c', "config", "ENGINE.json", "the engine config (required)"},
    {RUN_RULES, "rules", "FILE", "the ruleset, instead of the config's \"rules\""},
    {RUN_BROKERS, "brokers", "LIST", "Kafka bootstrap servers, instead of the config's"},
    {RUN_GROUP, "group", "ID", "the consumer group, instead of the config's"},
    {RUN_REDIS, "redis", "HOST:PORT", "the Redis server, instead of the config's"},
    {0, NULL, NULL, NULL}};

int rw_cmd_run(int argc, char **argv) {
    const char *cfg_path = NULL, *rules = NULL, *brokers = NULL, *group = NULL, *redis = NULL;
    rw_cli_t cli;
    rw_cli_init(&cli, "run", rw_run_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        const char **slot = o == 'c'           ? &cfg_path
                            : o == RUN_RULES   ? &rules
                            : o == RUN_BROKERS ? &brokers
                            : o == RUN_GROUP   ? &group
                            : o == RUN_REDIS   ? &redis
                                               : NULL;
        if (o == RW_CLI_HELP)
            return rw_help("run");
        if (!slot)
            return rw_usage("run");
        *slot = cli.arg;
    }
    if (optind < argc) {
        fprintf(stderr, "riskwarn run: unexpected argument \"%s\"\n", argv[optind]);
        return rw_usage("run");
    }
    if (!cfg_path) {
        fprintf(stderr, "riskwarn run: -c ENGINE.json is required (deploy/engine.example.json "
                        "shows every setting; riskwarn check -c checks one)\n");
        return rw_usage("run");
    }
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t err;
    rw_error_clear(&err);
    if (rw_config_load(&cfg, cfg_path, &err)) {
        char line[1024];
        rw_error_format(&err, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
        rw_config_fini(&cfg);
        return RW_EXIT_USAGE;
    }
    if (rules)
        rw_config_set(&cfg.rules, rules);
    if (brokers)
        rw_config_set(&cfg.brokers, brokers);
    if (group)
        rw_config_set(&cfg.group_id, group);
    if (redis && rw_config_set_redis(&cfg, redis)) {
        fprintf(stderr, "riskwarn run: --redis: use HOST:PORT\n");
        rw_config_fini(&cfg);
        return RW_EXIT_USAGE;
    }
    const char *sa = getenv("RW_STOP_AFTER"); /* benchmarks: stop after N messages */
    if (sa)
        cfg.stop_after = strtol(sa, NULL, 10);
    rw_signals_install();
    int rc = rw_engine_run(&cfg, &ctl);
    rw_config_fini(&cfg);
    return rc == RW_OK ? RW_EXIT_OK : rc == RW_ERR_INPUT ? RW_EXIT_USAGE : RW_EXIT_RUNTIME;
}

/* ---- rules ----------------------------------------------------------------------------- */

/* Loads external modules for commands that take --modules-dir. */
int rw_cmd_modules_load(const char *dir) {
    if (!dir)
        return 0;
    rw_error_t err;
    rw_error_clear(&err);
    if (rw_plugins_load_dir(dir, &err) == 0)
        return 0;
    char line[1024];
    rw_error_format(&err, line, sizeof(line));
    fprintf(stderr, "%s\n", line);
    return -1;
}

enum {
    RULES_MODULES_DIR = RW_CLI_ID,
    RULES_BROKERS,
    RULES_TOPIC,
    RULES_SHADOW,
    RULES_SAMPLE,
    RULES_KEY,
    RULES_KEY_ID
};

const rw_cli_opt_t rw_rules_opts[] = {
    {RULES_MODULES_DIR, "modules-dir", "DIR", "check, push: load external rule modules from DIR"},
    {'c', "config", "ENGINE.json", "push, promote, drop-shadow: brokers and topic from the config"},
    {RULES_BROKERS, "brokers", "LIST", "push, promote, drop-shadow: Kafka bootstrap servers"},
    {RULES_TOPIC, "topic", "T", "push, promote, drop-shadow: the control topic (risk.rules)"},
    {RULES_SHADOW, "shadow", NULL, "push: as a shadow candidate beside the live ruleset"},
    {RULES_SAMPLE, "sample", "EVENTS.jsonl",
     "check: run the events through each ruleset and report, rule by rule, the events matched, "
     "scored and skipped, and fields never present or of mixed types"},
    {RULES_KEY, "key", "FILE.pem",
     "push, promote, drop-shadow: sign with this Ed25519 private key (rulesets.signing_key_file)"},
    {RULES_KEY_ID, "key-id", "ID",
     "push, promote, drop-shadow: the key's id (rulesets.key_id; else found in "
     "rulesets.keys_file)"},
    {0, NULL, NULL, NULL}};

/* The options of a rules command, parsed. */
typedef struct rules_args {
    const char *action, *brokers, *topic, *cfg_path, *mdir, *sample, *key, *key_id;
    bool shadow;
    char **files; /* positionals, borrowed from argv */
    int n_files;
} rules_args_t;

/* rules push: checks the ruleset in file as the engines load it (with the modules
 * in mdir, else the config's) and reads it into *text and *len; the caller frees
 * *text. Returns 0, or RW_ERR_IO (file unreadable) or RW_ERR_INPUT after saying why on
 * stderr. */
static int rules_validate(const char *file, const char *mdir, const rw_config_t *cfg, char **text,
                          size_t *len, rw_error_t *err) {
    char line[1024];
    if (rw_cmd_modules_load(mdir ? mdir : cfg->modules_dir))
        return RW_ERR_INPUT;
    if (!(*text = rw_file_read(file, len, err))) {
        rw_error_format(err, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
        return RW_ERR_IO;
    }
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_limits_t lim = rw_control_limits_of(cfg);
    rw_ruleset_t *rs = rw_control_ruleset_load(*text, *len, file, &lim, &errs);
    if (!rs) {
        rw_errors_print(&errs, stderr);
        rw_errors_fini(&errs);
        return RW_ERR_INPUT;
    }
    printf("%s: ok: ruleset %s version %s, %zu rules, sha256 %s\n", file, rs->name, rs->version,
           rs->n_rules, rs->sha256);
    rw_ruleset_destroy(rs);
    rw_errors_fini(&errs);
    return 0;
}

/* rules promote and drop-shadow: the sha256 of the shadow candidate on the control
 * topic into *text (the caller frees it) and *len. Returns RW_EXIT_OK, or the exit
 * code after saying why on stderr. */
static int rules_shadow_sha(const rw_config_t *cfg, const char *action, char **text, size_t *len,
                            rw_error_t *err) {
    char sha[65];
    rw_error_t ferr;
    rw_error_clear(&ferr);
    rd_kafka_conf_t *cconf = rw_kafka_conf_new(cfg, &ferr);
    rw_keys_t *keys = cfg->rules_keys_file ? rw_control_keys_load(cfg->rules_keys_file, err) : NULL;
    int found = cconf ? rw_control_shadow_find(cfg, cconf, keys, sha, &ferr) : ferr.code;
    rw_control_keys_destroy(keys);
    if (found) {
        fprintf(stderr, "riskwarn rules %s: %s\n", action,
                found != RW_ERR_NOT_FOUND ? ferr.text
                                          : "the control topic holds no shadow candidate");
        return found != RW_ERR_NOT_FOUND ? RW_EXIT_RUNTIME : RW_EXIT_USAGE;
    }
    *text = rw_strdup(sha);
    *len = 64;
    return RW_EXIT_OK;
}

/* rules push / promote / drop-shadow: one control message for every engine. */
static int rules_control(const rules_args_t *ra) {
    const char *action = ra->action;
    const char *file = ra->n_files ? ra->files[0] : NULL;
    const char *brokers = ra->brokers, *topic = ra->topic, *cfg_path = ra->cfg_path;
    const char *mdir = ra->mdir;
    bool shadow = ra->shadow;
    bool push = strcmp(action, "push") == 0;
    if ((push && ra->n_files != 1) || (!push && (ra->n_files || shadow || mdir)))
        return rw_usage("rules");
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t err;
    rw_error_clear(&err);
    char line[1024];
    int rc = RW_EXIT_USAGE;
    char *text = NULL;
    size_t len = 0;
    rd_kafka_t *p = NULL;
    rw_signer_t *signer = NULL;
    if (cfg_path && rw_config_load(&cfg, cfg_path, &err)) {
        rw_error_format(&err, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
        goto out;
    }
    if (brokers)
        rw_config_set(&cfg.brokers, brokers);
    if (topic)
        rw_config_set(&cfg.control_topic, topic);
    if (ra->key)
        rw_config_set(&cfg.rules_signing_key_file, ra->key);
    if (ra->key_id)
        rw_config_set(&cfg.rules_key_id, ra->key_id);
    if (!(signer = rw_control_signer_from_config(&cfg, &err))) {
        rw_error_format(&err, line, sizeof(line));
        fprintf(stderr, "riskwarn rules %s: %s\n", action, line);
        goto out;
    }
    if (file) {
        /* Validate first: an invalid ruleset never reaches the engines. */
        if (rules_validate(file, mdir, &cfg, &text, &len, &err))
            goto out;
    } else {
        /* promote and drop-shadow name the shadow candidate they act on. */
        int src = rules_shadow_sha(&cfg, action, &text, &len, &err);
        if (src != RW_EXIT_OK) {
            rc = src;
            goto out;
        }
    }
    rd_kafka_conf_t *conf = rw_kafka_conf_new(&cfg, &err);
    if (!conf) {
        fprintf(stderr, "riskwarn rules %s: %s\n", action, err.text);
        goto out;
    }
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, line, sizeof(line));
    if (!p) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "riskwarn rules %s: %s\n", action, line);
        goto out;
    }
    const char *act = file ? (shadow ? "shadow" : "load") : action;
    rd_kafka_resp_err_t kerr = rw_control_produce(p, cfg.control_topic, act, text, len, signer);
    if (!kerr &&
        (rd_kafka_flush(p, 15000) != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_outq_len(p) > 0)) {
        kerr = RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    if (kerr) {
        fprintf(stderr, "riskwarn rules %s: %s: %s\n", action, cfg.control_topic,
                rd_kafka_err2str(kerr));
        rc = RW_EXIT_RUNTIME;
        goto out;
    }
    printf("%s: sent \"%s\" signed with key %s to %s; every engine applies it and writes an "
           "audit record to %s\n",
           action, act, rw_control_signer_key_id(signer), cfg.control_topic, cfg.audit_topic);
    rc = RW_EXIT_OK;
out:
    if (p)
        rd_kafka_destroy(p);
    rw_control_signer_destroy(signer);
    free(text);
    rw_config_fini(&cfg);
    rw_plugins_unload_all();
    return rc;
}

/* rules check --sample: the ruleset on sample events, checked as `run` checks them. */
static int rules_sample(const rw_ruleset_t *rs, const char *path) {
    rw_config_t cfg;
    rw_config_init(&cfg);
    int rc = rw_sample_report(rs, rw_config_schema(&cfg), path, stdout, stderr);
    rw_config_fini(&cfg);
    return rc;
}

int rw_cmd_rules(int argc, char **argv) {
    rules_args_t ra;
    memset(&ra, 0, sizeof(ra));
    rw_cli_t cli;
    rw_cli_init(&cli, "rules", rw_rules_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("rules");
        else if (o == RULES_MODULES_DIR)
            ra.mdir = cli.arg;
        else if (o == 'c')
            ra.cfg_path = cli.arg;
        else if (o == RULES_BROKERS)
            ra.brokers = cli.arg;
        else if (o == RULES_TOPIC)
            ra.topic = cli.arg;
        else if (o == RULES_SHADOW)
            ra.shadow = true;
        else if (o == RULES_SAMPLE)
            ra.sample = cli.arg;
        else if (o == RULES_KEY)
            ra.key = cli.arg;
        else if (o == RULES_KEY_ID)
            ra.key_id = cli.arg;
        else
            return rw_usage("rules");
    }
    if (optind >= argc)
        return rw_usage("rules");
    ra.action = argv[optind];
    ra.files = argv + optind + 1;
    ra.n_files = argc - optind - 1;
    if ((strcmp(ra.action, "push") == 0 || strcmp(ra.action, "promote") == 0 ||
         strcmp(ra.action, "drop-shadow") == 0) &&
        !ra.sample)
        return rules_control(&ra);
    if (strcmp(ra.action, "check") != 0 || ra.n_files == 0 || ra.shadow || ra.cfg_path ||
        ra.brokers || ra.topic || ra.key || ra.key_id) {
        if (strcmp(ra.action, "check") != 0)
            fprintf(stderr, "riskwarn rules: no subcommand \"%s\"\n", ra.action);
        return rw_usage("rules");
    }
    if (rw_cmd_modules_load(ra.mdir))
        return RW_EXIT_USAGE;
    rw_errors_t errs;
    rw_errors_init(&errs);
    int bad = 0;
    for (int i = 0; i < ra.n_files; i++) {
        size_t before = errs.n;
        rw_ruleset_t *rs = rw_ruleset_load_file(ra.files[i], &errs);
        if (rs) {
            printf("%s: ok: ruleset %s version %s, %zu rules\n", ra.files[i], rs->name, rs->version,
                   rs->n_rules);
            if (ra.sample && rules_sample(rs, ra.sample))
                bad++;
            rw_ruleset_destroy(rs);
        } else {
            bad++;
            rw_errors_t one = {errs.items + before, errs.n - before, 0};
            rw_errors_print(&one, stderr);
        }
    }
    if (bad)
        fprintf(stderr, "%zu error%s in %d file%s\n", errs.n, errs.n == 1 ? "" : "s", bad,
                bad == 1 ? "" : "s");
    rw_errors_fini(&errs);
    rw_plugins_unload_all();
    return bad ? RW_EXIT_USAGE : RW_EXIT_OK;
}

/* ---- mock-kafka ------------------------------------------------------------------------- */

enum { MOCK_BROKERS = RW_CLI_ID, MOCK_TOPIC };

const rw_cli_opt_t rw_mock_kafka_opts[] = {
    {MOCK_BROKERS, "brokers", "N", "brokers in the cluster, 1 to 16 (3)"},
    {MOCK_TOPIC, "topic", "NAME:PARTITIONS", "create a topic; repeat for more (up to 64)"},
    {0, NULL, NULL, NULL}};

int rw_cmd_mock_kafka(int argc, char **argv) {
    long brokers = 3;
    rw_mock_t m;
    rw_error_t err;
    rw_error_clear(&err);
    const char *topics[64];
    int n_topics = 0;
    rw_cli_t cli;
    rw_cli_init(&cli, "mock-kafka", rw_mock_kafka_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("mock-kafka");
        if (o == MOCK_BROKERS) {
            if (rw_cli_long(&cli, 1, 16, &brokers))
                return RW_EXIT_USAGE;
        } else if (o == MOCK_TOPIC && n_topics < 64) {
            topics[n_topics++] = cli.arg;
        } else {
            return rw_usage("mock-kafka");
        }
    }
    if (optind < argc)
        return rw_usage("mock-kafka");
    if (rw_mock_start(&m, (int)brokers, &err)) {
        fprintf(stderr, "riskwarn mock-kafka: %s\n", err.text);
        return RW_EXIT_RUNTIME;
    }
    for (int i = 0; i < n_topics; i++)
        if (rw_mock_topic(&m, topics[i], &err)) {
            fprintf(stderr, "riskwarn mock-kafka: %s\n", err.text);
            rw_mock_stop(&m);
            return RW_EXIT_USAGE;
        }
    printf("%s\n", m.bootstraps);
    fflush(stdout);
    rw_signals_install();
    while (!atomic_load(&ctl.stop))
        usleep(50 * 1000);
    rw_mock_stop(&m);
    return RW_EXIT_OK;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    /* Before any thread: events are parsed into per-batch arenas. */
    rw_jarena_install();
    const char *lvl = getenv("RW_LOG");
    if (lvl)
        rw_log_level = strcmp(lvl, "debug") == 0   ? RW_LOG_DEBUG
                       : strcmp(lvl, "warn") == 0  ? RW_LOG_WARN
                       : strcmp(lvl, "error") == 0 ? RW_LOG_ERROR
                                                   : RW_LOG_INFO;
    if (argc < 2) {
        cmd_help(1, argv);
        return RW_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv);
    const command_t *c = command_find(argv[1]);
    if (c)
        return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "riskwarn: unknown command \"%s\"; see riskwarn help\n", argv[1]);
    return RW_EXIT_USAGE;
}
