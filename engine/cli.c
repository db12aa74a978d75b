#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void rw_cli_init(rw_cli_t *cli, const char *cmd, const rw_cli_opt_t *opts) {
    memset(cli, 0, sizeof(*cli));
    cli->cmd = cmd;
    cli->opts = opts;
    size_t n = 0, s = 0;
    cli->shorts[s++] = ':'; /* a missing value returns ':' */
    cli->shorts[s++] = 'h';
    for (; opts[n].name && n < RW_CLI_MAX; n++) {
        cli->longs[n] = (struct option){
            opts[n].name, opts[n].value ? required_argument : no_argument, NULL, opts[n].id};
        if (opts[n].id < 128) {
            cli->shorts[s++] = (char)opts[n].id;
            if (opts[n].value)
                cli->shorts[s++] = ':';
        }
    }
    cli->longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
    cli->longs[n] = (struct option){NULL, 0, NULL, 0};
    cli->shorts[s] = 0;
    optind = 0; /* GNU: start afresh */
    opterr = 0; /* the messages below name the command */
}

static const rw_cli_opt_t *opt_of(const rw_cli_t *cli, int id) {
    for (size_t i = 0; cli->opts[i].name; i++)
        if (cli->opts[i].id == id)
            return &cli->opts[i];
    return NULL;
}

int rw_cli_next(rw_cli_t *cli, int argc, char **argv) {
    int c = getopt_long(argc, argv, cli->shorts, cli->longs, NULL);
    cli->arg = optarg;
    cli->last = NULL;
    if (c == -1)
        return RW_CLI_END;
    if (c == 'h')
        return RW_CLI_HELP;
    const char *what = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    if (c == ':') {
        fprintf(stderr, "riskwarn %s: %s needs a value (see riskwarn help %s)\n", cli->cmd, what,
                cli->cmd);
        return RW_CLI_BAD;
    }
    if (c == '?') {
        const rw_cli_opt_t *o = optopt ? opt_of(cli, optopt) : NULL;
        if (o && !o->value)
            fprintf(stderr, "riskwarn %s: --%s takes no value\n", cli->cmd, o->name);
        else if (optopt && optopt < 128 && !o)
            fprintf(stderr, "riskwarn %s: unknown option -%c (see riskwarn help %s)\n", cli->cmd,
                    optopt, cli->cmd);
        else
            fprintf(stderr, "riskwarn %s: unknown option %s (see riskwarn help %s)\n", cli->cmd,
                    what, cli->cmd);
        return RW_CLI_BAD;
    }
    cli->last = opt_of(cli, c);
    return c;
}

int rw_cli_refuse(const rw_cli_t *cli, const char *why) {
    if (cli->last)
        fprintf(stderr, "riskwarn %s: --%s: %s\n", cli->cmd, cli->last->name, why);
    else
        fprintf(stderr, "riskwarn %s: %s\n", cli->cmd, why);
    return -1;
}

int rw_cli_long(const rw_cli_t *cli, long min, long max, long *out) {
    const char *t = cli->arg ? cli->arg : "";
    char *end;
    errno = 0;
    long v = strtol(t, &end, 10);
    if (!*t || *end || errno || v < min || v > max) {
        char why[256];
        snprintf(why, sizeof(why), "a whole number from %ld to %ld, not \"%.100s\"", min, max, t);
        return rw_cli_refuse(cli, why);
    }
    *out = v;
    return 0;
}

void rw_cli_print(FILE *out, const rw_cli_opt_t *opts) {
    for (size_t i = 0; opts[i].name; i++) {
        char head[96], letter[8] = "    "; /* "-c, " or as wide blank */
        if (opts[i].id < 128)
            snprintf(letter, sizeof(letter), "-%c, ", opts[i].id);
        snprintf(head, sizeof(head), "%s--%s%s%s", letter, opts[i].name, opts[i].value ? " " : "",
                 opts[i].value ? opts[i].value : "");
        fprintf(out, "  %-30s %s\n", head, opts[i].help);
    }
    fprintf(out, "  %-30s %s\n", "-h, --help", "this help");
}
