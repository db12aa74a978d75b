/* riskwarn pseudonym: the pseudonyms the engine keeps for values of masked fields, so that
 * the risk team can fill a Redis watchlist on a masked field (a counterparty list) with what
 * the engine looks up, and responders can find an alert's entity_ref for a known account. */
#include "commands.h"
#include "config.h"
#include "pseudonym.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const rw_cli_opt_t rw_pseudonym_opts[] = {
    {'c', "config", "ENGINE.json",
     "the engine config whose pseudonym key to use (else the "
     "RISKWARN_PSEUDONYM_KEY variables, else the built-in key)"},
    {0, NULL, NULL, NULL}};

static void print_ref(const char *value, size_t len) {
    char ref[RW_PSEUDONYM_LEN + 1];
    rw_pseudonym(value, len, ref);
    printf("%s\n", ref);
}

int rw_cmd_pseudonym(int argc, char **argv) {
    const char *cfg_path = NULL;
    rw_cli_t cli;
    rw_cli_init(&cli, "pseudonym", rw_pseudonym_opts);
    for (int o; (o = rw_cli_next(&cli, argc, argv)) != RW_CLI_END;) {
        if (o == RW_CLI_HELP)
            return rw_help("pseudonym");
        if (o == 'c')
            cfg_path = cli.arg;
        else
            return rw_usage("pseudonym");
    }
    rw_config_t cfg;
    rw_config_init(&cfg);
    rw_error_t err;
    rw_error_clear(&err);
    /* Without -c, an empty config, so that the RISKWARN_* variables still apply. */
    char empty[64] = "";
    int fd = -1;
    if (!cfg_path && (fd = memfd_create("riskwarn-empty-config", 0)) >= 0 &&
        write(fd, "{}", 2) == 2)
        snprintf(empty, sizeof(empty), "/proc/self/fd/%d", fd);
    int bad = (cfg_path || empty[0]) && rw_config_load(&cfg, cfg_path ? cfg_path : empty, &err);
    if (fd >= 0)
        close(fd);
    if (bad) {
        char msg[1024];
        rw_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "riskwarn pseudonym: %s\n", msg);
        rw_config_fini(&cfg);
        return RW_EXIT_USAGE;
    }
    rw_pseudonym_set_key(cfg.pseudonym_key, cfg.pseudonym_key ? strlen(cfg.pseudonym_key) : 0);
    rw_config_fini(&cfg);
    if (rw_pseudonym_key_is_builtin())
        fprintf(stderr, "riskwarn pseudonym: note: the built-in key (the engine's without a "
                        "pseudonym key of its own)\n");
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            print_ref(argv[i], strlen(argv[i]));
        return RW_EXIT_OK;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n > 0 && line[0] != '#')
            print_ref(line, (size_t)n);
    }
    free(line);
    return RW_EXIT_OK;
}
