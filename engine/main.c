/* riskwarn: the command line (SPEC §2). */
#include "commands.h"
#include "config.h"
#include "engine.h"
#include "jarena.h"
#include "mock.h"
#include "plugin.h"
#include "ruleset.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RW_VERSION
#define RW_VERSION "0.1.0"
#endif

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
} command_t;

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const command_t commands[] = {
    {"run", "run -c ENGINE.json [--rules FILE] [--brokers LIST] [--group ID] [--redis HOST:PORT]",
     "the engine: consume events, evaluate rules, publish alerts; stops on SIGTERM/SIGINT",
     rw_cmd_run},
    {"demo", "demo [--events FILE] [--rules FILE] [--quiet]",
     "the embedded default: in-process Kafka, a local redis-server, sample events, alerts",
     rw_cmd_demo},
    {"replay",
     "replay --rules FILE [--compare FILE [--json]] [--modules-dir DIR] [--redis HOST:PORT] "
     "[EVENTS.jsonl | -]",
     "backtest JSON-lines events without Kafka: alerts on stdout, a summary on stderr",
     rw_cmd_replay},
    {"rules",
     "rules check [--modules-dir DIR] FILE...\n"
     "       riskwarn rules push FILE [--shadow] [--brokers LIST | -c ENGINE.json] [--topic T]\n"
     "       riskwarn rules promote|drop-shadow [--brokers LIST | -c ENGINE.json] [--topic T]",
     "validate rule files (exit 0, or 2 with every error found); publish a ruleset to the "
     "engines, live or as a shadow candidate; promote the shadow candidate",
     rw_cmd_rules},
    {"tail",
     "tail [--brokers LIST | -c ENGINE.json] [--high] [--level low|medium|high] "
     "[--from-beginning] [--json] [--until-end]",
     "follow the alert topic: one readable line an alert (colours on a terminal), or raw JSON",
     rw_cmd_tail},
    {"stats", "stats [--redis HOST:PORT | -c ENGINE.json] [--date YYYY-MM-DD|all] [--top N]",
     "the day's counters from Redis: alerts by level, top rules, events by type, dead letters, "
     "suppressed hits",
     rw_cmd_stats},
    {"mock-kafka", "mock-kafka [--brokers N] [--topic NAME:PARTITIONS]...",
     "a local Kafka cluster for development and tests; prints its bootstrap servers first",
     rw_cmd_mock_kafka},
    {"version", "version", "print the version", cmd_version},
    {"help", "help [COMMAND]", "this help, or one command's", cmd_help},
};
#define N_COMMANDS (sizeof(commands) / sizeof(*commands))

static int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("riskwarn %s (librdkafka %s, jansson %s)\n", RW_VERSION, rd_kafka_version_str(),
           JANSSON_VERSION);
    return RW_EXIT_OK;
}

static void print_module(const rw_module_t *m, void *arg) {
    (void)arg;
    printf("  %-16s %s\n", m->name, m->summary);
}

static int cmd_help(int argc, char **argv) {
    if (argc > 1) {
        for (size_t i = 0; i < N_COMMANDS; i++)
            if (strcmp(argv[1], commands[i].name) == 0) {
                printf("usage: riskwarn %s\n\n%s\n", commands[i].usage, commands[i].summary);
                return RW_EXIT_OK;
            }
        fprintf(stderr, "riskwarn: no command \"%s\"; see riskwarn help\n", argv[1]);
        return RW_EXIT_USAGE;
    }
    printf("riskwarn: a streaming risk-warning engine\n\nusage: riskwarn COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-11s %s\n", commands[i].name, commands[i].summary);
    printf("\nrule modules:\n");
    rw_modules_each(print_module, NULL);
    printf("\nexit codes: 0 success, 1 runtime failure, 2 usage or configuration error\n");
    return RW_EXIT_OK;
}

int rw_usage(const char *cmd) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            fprintf(stderr, "usage: riskwarn %s\n", commands[i].usage);
    return RW_EXIT_USAGE;
}

/* ---- run ------------------------------------------------------------------------------- */

int rw_cmd_run(int argc, char **argv) {
    const char *cfg_path = NULL, *rules = NULL, *brokers = NULL, *group = NULL, *redis = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 ? &cfg_path
                            : strcmp(a, "--rules") == 0                        ? &rules
                            : strcmp(a, "--brokers") == 0                      ? &brokers
                            : strcmp(a, "--group") == 0                        ? &group
                            : strcmp(a, "--redis") == 0                        ? &redis
                                                                               : NULL;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "riskwarn run: %s \"%s\"\n",
                    slot ? "missing value for"
                         : "unknown "
                           "argument",
                    a);
            return rw_usage("run");
        }
        *slot = argv[++i];
    }
    rw_config_t cfg;
    rw_config_init(&cfg);
    if (cfg_path) {
        rw_error_t err;
        rw_error_clear(&err);
        if (rw_config_load(&cfg, cfg_path, &err)) {
            char line[1024];
            rw_error_format(&err, line, sizeof(line));
            fprintf(stderr, "%s\n", line);
            rw_config_fini(&cfg);
            return RW_EXIT_USAGE;
        }
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
        cfg.stop_after = atol(sa);
    rw_signals_install();
    int rc = rw_engine_run(&cfg, &ctl);
    rw_config_fini(&cfg);
    return rc;
}

/* ---- rules ----------------------------------------------------------------------------- */

/* Loads external modules for commands that take --modules-dir. */
int rw_modules_dir_load(const char *dir) {
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

/* rules push / promote / drop-shadow: one control message for every engine. */
static int rules_control(int argc, char **argv) {
    const char *action = argv[1];
    const char *file = NULL, *brokers = NULL, *topic = NULL, *cfg_path = NULL, *mdir = NULL;
    bool shadow = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = argv[++i];
        else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
            topic = argv[++i];
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            cfg_path = argv[++i];
        else if (strcmp(argv[i], "--modules-dir") == 0 && i + 1 < argc)
            mdir = argv[++i];
        else if (strcmp(argv[i], "--shadow") == 0 && strcmp(action, "push") == 0)
            shadow = true;
        else if (argv[i][0] != '-' && !file && strcmp(action, "push") == 0)
            file = argv[i];
        else
            return rw_usage("rules");
    }
    if (strcmp(action, "push") == 0 && !file)
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
    if (cfg_path && rw_config_load(&cfg, cfg_path, &err)) {
        rw_error_format(&err, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
        goto out;
    }
    if (brokers)
        rw_config_set(&cfg.brokers, brokers);
    if (topic)
        rw_config_set(&cfg.control_topic, topic);
    if (file) {
        /* Validate first: an invalid ruleset never reaches the engines. */
        if (rw_modules_dir_load(mdir ? mdir : cfg.modules_dir))
            goto out;
        rw_errors_t errs;
        rw_errors_init(&errs);
        rw_ruleset_t *rs = rw_ruleset_load_file(file, &errs);
        if (!rs) {
            rw_errors_print(&errs, stderr);
            rw_errors_fini(&errs);
            goto out;
        }
        printf("%s: ok: ruleset %s version %s, %zu rules, sha256 %s\n", file, rs->name, rs->version,
               rs->n_rules, rs->sha256);
        rw_ruleset_destroy(rs);
        rw_errors_fini(&errs);
        if (!(text = rw_file_read(file, &len, &err)))
            goto out;
    }
    rd_kafka_conf_t *conf = rw_kafka_conf_new(&cfg, line, sizeof(line));
    if (!conf) {
        fprintf(stderr, "riskwarn rules %s: %s\n", action, line);
        goto out;
    }
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, line, sizeof(line));
    if (!p) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "riskwarn rules %s: %s\n", action, line);
        goto out;
    }
    const char *act = file ? (shadow ? "shadow" : "load") : action;
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "rw.action", -1, act, -1);
    rd_kafka_resp_err_t kerr =
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC(cfg.control_topic), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(text, len),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    if (kerr) {
        rd_kafka_headers_destroy(h);
    } else if (rd_kafka_flush(p, 15000) != RD_KAFKA_RESP_ERR_NO_ERROR || rd_kafka_outq_len(p) > 0) {
        kerr = RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    if (kerr) {
        fprintf(stderr, "riskwarn rules %s: %s: %s\n", action, cfg.control_topic,
                rd_kafka_err2str(kerr));
        rc = RW_EXIT_RUNTIME;
        goto out;
    }
    printf("%s: sent \"%s\" to %s; every engine applies it and writes an audit record to %s\n",
           action, act, cfg.control_topic, cfg.audit_topic);
    rc = RW_EXIT_OK;
out:
    if (p)
        rd_kafka_destroy(p);
    free(text);
    rw_config_fini(&cfg);
    rw_plugins_unload_all();
    return rc;
}

int rw_cmd_rules(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "push") == 0 || strcmp(argv[1], "promote") == 0 ||
                      strcmp(argv[1], "drop-shadow") == 0))
        return rules_control(argc, argv);
    if (argc < 3 || strcmp(argv[1], "check") != 0)
        return rw_usage("rules");
    int first = 2;
    if (argc >= 5 && strcmp(argv[2], "--modules-dir") == 0) {
        if (rw_modules_dir_load(argv[3]))
            return RW_EXIT_USAGE;
        first = 4;
    }
    if (first >= argc)
        return rw_usage("rules");
    rw_errors_t errs;
    rw_errors_init(&errs);
    int bad = 0;
    for (int i = first; i < argc; i++) {
        size_t before = errs.n;
        rw_ruleset_t *rs = rw_ruleset_load_file(argv[i], &errs);
        if (rs) {
            printf("%s: ok: ruleset %s version %s, %zu rules\n", argv[i], rs->name, rs->version,
                   rs->n_rules);
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

int rw_cmd_mock_kafka(int argc, char **argv) {
    int brokers = 3;
    rw_mock_t m;
    char err[512];
    const char *topics[64];
    int n_topics = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            brokers = atoi(argv[++i]);
            if (brokers < 1 || brokers > 16) {
                fprintf(stderr, "riskwarn mock-kafka: --brokers: 1 to 16\n");
                return RW_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc && n_topics < 64) {
            topics[n_topics++] = argv[++i];
        } else {
            return rw_usage("mock-kafka");
        }
    }
    if (rw_mock_start(&m, brokers, err, sizeof(err))) {
        fprintf(stderr, "riskwarn mock-kafka: %s\n", err);
        return RW_EXIT_RUNTIME;
    }
    for (int i = 0; i < n_topics; i++)
        if (rw_mock_topic(&m, topics[i], err, sizeof(err))) {
            fprintf(stderr, "riskwarn mock-kafka: %s\n", err);
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
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "riskwarn: unknown command \"%s\"; see riskwarn help\n", argv[1]);
    return RW_EXIT_USAGE;
}
