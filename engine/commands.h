/* The subcommands of bin/riskwarn, each in its own file. */
#ifndef RW_COMMANDS_H
#define RW_COMMANDS_H

#include "cli.h"

#include <stdatomic.h>

/* Each takes the command's own argv (argv[0] is the command name) and returns
 * an exit code (util.h). */
int rw_cmd_run(int argc, char **argv);
int rw_cmd_demo(int argc, char **argv);
int rw_cmd_replay(int argc, char **argv);
int rw_cmd_rules(int argc, char **argv);
int rw_cmd_mock_kafka(int argc, char **argv);
int rw_cmd_tail(int argc, char **argv);
int rw_cmd_stats(int argc, char **argv);
int rw_cmd_check(int argc, char **argv);
int rw_cmd_pseudonym(int argc, char **argv);
int rw_cmd_rebuild(int argc, char **argv);

/* Every flag of each command (for getopt_long and for help), in the command's file. */
extern const rw_cli_opt_t rw_run_opts[], rw_check_opts[], rw_demo_opts[], rw_replay_opts[],
    rw_rules_opts[], rw_tail_opts[], rw_stats_opts[], rw_mock_kafka_opts[], rw_pseudonym_opts[],
    rw_rebuild_opts[];

/* Loads external rule modules from dir (NULL: none). 0, or -1 after printing why. */
int rw_cmd_modules_load(const char *dir);
/* Prints the counters of one date ("YYYY-MM-DD", or "*" for every day) as
 * tables: alerts by level, the top rules, events by type, dead letters and
 * suppressed hits. redis is an rw_rcluster_t (borrowed). */
#include <stdio.h>
void rw_stats_print(void *redis, const char *prefix, const char *date, int top, FILE *out);

/* Prints a command's usage line to stderr and returns RW_EXIT_USAGE. */
int rw_usage(const char *cmd);
/* Prints a command's usage, summary and every flag to stdout (--help) and
 * returns RW_EXIT_OK. */
int rw_help(const char *cmd);
/* SIGTERM and SIGINT set the stop flag, SIGHUP the reload flag; SIGPIPE is
 * ignored. */
void rw_signals_install(void);
atomic_int *rw_stop_flag(void);

#endif
