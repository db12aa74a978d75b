/* Command-line options: one table a command, parsed with getopt_long (long
 * options, "--opt value" and "--opt=value"), and printed by `riskwarn help
 * COMMAND` from the same table, so that the help lists every flag. */
#ifndef RW_CLI_H
#define RW_CLI_H

#include <getopt.h>
#include <stdio.h>

/* One option. id is what rw_cli_next returns for it: a letter below 128 is
 * also its short form (-c); other ids (RW_CLI_ID + n) have a long form only.
 * value names its argument ("FILE"); NULL: a flag without one. A table ends
 * with an entry whose name is NULL. */
typedef struct rw_cli_opt {
    int id;
    const char *name;
    const char *value;
    const char *help;
} rw_cli_opt_t;

#define RW_CLI_ID 256   /* first id of long-only options */
#define RW_CLI_MAX 24   /* options a table may have */
#define RW_CLI_END (-1) /* no more options: positionals are argv[optind..argc) */
#define RW_CLI_HELP (-2)
#define RW_CLI_BAD (-3) /* the reason is printed */

typedef struct rw_cli {
    const char *cmd; /* for messages: "tail", "rules push" */
    const rw_cli_opt_t *opts;
    struct option longs[RW_CLI_MAX + 2];
    char shorts[2 * RW_CLI_MAX + 4];
    const char *arg;          /* the value of the option just returned (borrowed from argv) */
    const rw_cli_opt_t *last; /* the option just returned */
} rw_cli_t;

/* Prepares to parse a command's argv (argv[0] the command name). cmd and opts
 * are borrowed for the parse. */
void rw_cli_init(rw_cli_t *cli, const char *cmd, const rw_cli_opt_t *opts);
/* The id of the next option, with cli->arg set; RW_CLI_END when the options
 * are over (getopt permutes argv: positionals end up from optind on);
 * RW_CLI_HELP for -h/--help; RW_CLI_BAD after printing why to stderr. */
int rw_cli_next(rw_cli_t *cli, int argc, char **argv);

/* cli->arg as a whole number in [min, max]. Returns 0, or -1 after printing
 * why ("--top: a whole number from 1 to 1000, not \"abc\""). */
int rw_cli_long(const rw_cli_t *cli, long min, long max, long *out);
/* Prints why cli->arg is refused, as "riskwarn CMD: --OPT: WHY"; returns -1. */
int rw_cli_refuse(const rw_cli_t *cli, const char *why);

/* Prints an option table, one option a line, and --help. */
void rw_cli_print(FILE *out, const rw_cli_opt_t *opts);

#endif
