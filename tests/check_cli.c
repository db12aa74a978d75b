/* The command line: --help and --opt=value on every command, help COMMAND with
 * every flag, bad dates and numbers refused, stats without --date, and
 * `riskwarn check` with and without --connect (against the mock cluster, a
 * real redis-server, a TLS-only redis-server and a peer that is not Redis). */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[65536];

static int run(const char *const *args) { return h_run(out, sizeof(out), args); }

#define ASSERT_OUT(needle)                                                                         \
    ck_assert_msg(strstr(out, needle) != NULL, "no \"%s\" in:\n%s", needle, out)

/* Each command and the flags its help must list. */
static const char *const flags[][9] = {
    {"run", "--config", "--rules", "--brokers", "--group", "--redis", NULL},
    {"check", "--config", "--connect", "--timeout", NULL},
    {"demo", "--events", "--rules", "--quiet", NULL},
    {"replay", "--rules", "--compare", "--json", "--modules-dir", "--redis", NULL},
    {"rules", "--modules-dir", "--config", "--brokers", "--topic", "--shadow", "--key", "--key-id",
     NULL},
    {"tail", "--brokers", "--config", "--topic", "--high", "--level", "--from-beginning", "--json",
     "--until-end"},
    {"stats", "--redis", "--config", "--date", "--top", NULL},
    {"mock-kafka", "--brokers", "--topic", NULL},
    {"rebuild", "--config", "--since", "--rules", "--timeout", NULL},
    {"help", "--modules-dir", NULL},
    {"version", NULL},
};

START_TEST(test_cli_help_lists_every_flag) {
    for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++) {
        const char *cmd = flags[i][0];
        const char *help[] = {cmd, "--help", NULL};
        ck_assert_msg(run(help) == 0, "%s --help: %s", cmd, out);
        char usage[64];
        snprintf(usage, sizeof(usage), "usage: riskwarn %s", cmd);
        ASSERT_OUT(usage);
        char first[sizeof(out)];
        snprintf(first, sizeof(first), "%s", out);
        const char *h[] = {"help", cmd, NULL};
        ck_assert_int_eq(run(h), 0);
        ck_assert_str_eq(out, first); /* help COMMAND says what COMMAND --help says */
        for (size_t f = 1; f < 9 && flags[i][f]; f++)
            ASSERT_OUT(flags[i][f]);
        const char *hs[] = {cmd, "-h", NULL};
        ck_assert_int_eq(run(hs), 0);
    }
    const char *none[] = {"help", "no-such-command", NULL};
    ck_assert_int_eq(run(none), 2);
}
END_TEST

START_TEST(test_cli_refuses_bad_options_dates_and_numbers) {
    static const char *const bad[][6] = {
        {"stats", "--date", "27-11-2026", NULL},
        {"stats", "--date=2026-02-30", NULL},
        {"stats", "--date", "2026-11-27x", NULL},
        {"stats", "--top", "abc", NULL},
        {"stats", "--top=0", NULL},
        {"stats", "--top", "12abc", NULL},
        {"mock-kafka", "--brokers", "x", NULL},
        {"check", "-c", "x.json", "--timeout", "-1", NULL},
        {"tail", "--level", "urgent", NULL},
        {"tail", "--json=yes", NULL},
        {"run", "--no-such-flag", NULL},
        {"run", "-c", NULL},
        {"replay", "--rules", "a.json", "one.jsonl", "two.jsonl", NULL},
        {"rules", "frobnicate", "x.json", NULL},
        {"rebuild", "-c", "x.json", NULL},
        {"rebuild", "-c", "x.json", "--since", "yesterday", NULL},
        {"rebuild", "--since", "2026-11-20T00:00:00Z", "--timeout", "0", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        ck_assert_msg(run(bad[i]) == 2, "%s %s: exit not 2: %s", bad[i][0], bad[i][1], out);
        ASSERT_OUT("riskwarn");
    }
    const char *date[] = {"stats", "--date", "27-11-2026", NULL};
    run(date);
    ASSERT_OUT("--date: a date YYYY-MM-DD");
    const char *top[] = {"stats", "--top", "abc", NULL};
    run(top);
    ASSERT_OUT("--top: a whole number");
    /* run says -c is required, as its usage line does. */
    const char *bare[] = {"run", NULL};
    ck_assert_int_eq(run(bare), 2);
    ASSERT_OUT("-c ENGINE.json is required");
}
END_TEST

static void hset(redisContext *c, const char *key, const char *field, const char *v) {
    redisReply *r = redisCommand(c, "HSET %s %s %s", key, field, v);
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
}

START_TEST(test_cli_stats_latest_day_and_opt_equals) {
    rw_redis_server_t rs;
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&rs, NULL, 10000, &err) == 0, "%s", err.text);
    char redis[64];
    snprintf(redis, sizeof(redis), "--redis=127.0.0.1:%d", rs.port);
    const char *empty[] = {"stats", redis, NULL};
    ck_assert_int_eq(run(empty), 0);
    ASSERT_OUT("no counters in Redis under rw:");

    redisContext *c = h_redis(rs.port);
    hset(c, "{rw}:alerts:2026-11-25", "low", "7");
    hset(c, "{rw}:alerts:2026-11-27", "high", "3");
    hset(c, "{rw}:events:2026-11-27", "transaction", "40");
    hset(c, "{rw}:events:2026-11-26", "transaction", "11");
    hset(c, "{rw:shadow}:alerts:2026-12-01", "low", "5"); /* another prefix: not a day of rw: */
    hset(c, "{rw}:alerts:not-a-date", "low", "5");
    ck_assert_int_eq(run(empty), 0);
    ASSERT_OUT("showing 2026-11-27, the latest day that has counters");
    ASSERT_OUT("counters for 2026-11-27");
    ASSERT_OUT("(all events)                         40");

    const char *day[] = {"stats", redis, "--date=2026-11-25", "--top=3", NULL};
    ck_assert_int_eq(run(day), 0);
    ASSERT_OUT("counters for 2026-11-25");
    ck_assert_ptr_null(strstr(out, "latest day"));
    const char *all[] = {"stats", "--date", "all", redis, NULL};
    ck_assert_int_eq(run(all), 0);
    ASSERT_OUT("(all events)                         51");
    redisFree(c);
    rw_proc_redis_stop(&rs);
}
END_TEST

/* ---- riskwarn check ------------------------------------------------------------------- */

static const char *good_rules(void) {
    static char path[128];
    snprintf(path, sizeof(path), "%s",
             h_tmpfile(".json", "{\"ruleset\": \"t\", \"version\": \"1\",\n"
                                " \"rules\": [\n"
                                "  {\"id\": \"big\", \"module\": \"value\",\n"
                                "   \"params\": {\"field\": \"amount\"},\n"
                                "   \"thresholds\": {\"low\": 5, \"medium\": 10, \"high\": 20}}\n"
                                " ]}\n"));
    return path;
}

static const char *check_config(const char *brokers, int redis_port, const char *rules,
                                const char *extra) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\"},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"rules\": \"%s\"%s}\n",
             brokers, redis_port, rules, extra);
    static char path[128];
    snprintf(path, sizeof(path), "%s", h_tmpfile(".json", text));
    return path;
}

START_TEST(test_check_lists_every_error) {
    const char *cfg = check_config("127.0.0.1:1", 1, good_rules(), "");
    const char *ok[] = {"check", "-c", cfg, NULL};
    ck_assert_int_eq(run(ok), 0);
    ASSERT_OUT("ruleset t version 1, 1 rules");
    ASSERT_OUT(": ok");

    const char *rules = h_tmpfile(".json", "{\"ruleset\": \"t\", \"version\": \"1\",\n"
                                           " \"rules\": [\n"
                                           "  {\"id\": \"a\", \"module\": \"nope\",\n"
                                           "   \"params\": {},\n"
                                           "   \"thresholds\": {\"low\": 5}},\n"
                                           "  {\"id\": \"b\", \"module\": \"value\",\n"
                                           "   \"params\": {\"field\": \"amount\"},\n"
                                           "   \"thresholds\": {\"low\": 5, \"medium\": 5}}\n"
                                           " ]}\n");
    char rules_path[128];
    snprintf(rules_path, sizeof(rules_path), "%s", rules);
    const char *bad = check_config("127.0.0.1:1", 1, rules_path,
                                   ",\n \"metrics_listen\": \"localhost:x\",\n"
                                   " \"kafka\": {\"input_topics\": [\"risk.alerts\"]}");
    /* Two "kafka" keys are a config error: the config is refused before anything else. */
    const char *dup[] = {"check", "-c", bad, NULL};
    ck_assert_int_eq(run(dup), 2);
    ASSERT_OUT("1 error");

    char text[1024];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"127.0.0.1:1\", \"input_topics\": [\"risk.alerts\"]},\n"
             " \"metrics_listen\": \"localhost:x\",\n"
             " \"rules\": \"%s\"}\n",
             rules_path);
    const char *cfg2 = h_tmpfile(".json", text);
    const char *many[] = {"check", "-c", cfg2, NULL};
    ck_assert_int_eq(run(many), 2);
    ASSERT_OUT("nope");                        /* the unknown module */
    ASSERT_OUT("\"b\"");                       /* the unordered thresholds */
    ASSERT_OUT("metrics_listen");              /* the listen address */
    ASSERT_OUT("both an input topic and one"); /* the engine would read its own alerts */
    char want[160];
    snprintf(want, sizeof(want), "%s:", rules_path);
    ASSERT_OUT(want); /* rule errors name their file */
    ck_assert_msg(strstr(out, " errors") != NULL, "%s", out);
}
END_TEST

START_TEST(test_check_connect_describes_kafka_and_redis) {
    h_peers_t p;
    h_peers_start(&p);
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_int_eq(rw_mock_topic(&p.mock, "risk.audit:1", &err), 0);
    const char *cfg = check_config(p.mock.bootstraps, p.redis.port, good_rules(), "");
    const char *args[] = {"check", "-c", cfg, "--connect", "--timeout=5", NULL};
    ck_assert_msg(run(args) == 0, "%s", out);
    ASSERT_OUT("3 brokers");
    ASSERT_OUT("events.transactions          4 partitions");
    ASSERT_OUT("risk.alerts                  2 partitions");
    ASSERT_OUT("risk.rules                   missing");
    ASSERT_OUT("Redis 7.");
    ASSERT_OUT("standalone (not a cluster)");
    ASSERT_OUT("role master");

    /* A topic the engine writes is missing: an error, named. */
    const char *t = h_tmpfile(".json", "");
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"deadletter_topic\": \"risk.nowhere\"},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n \"rules\": \"%s\"}\n",
             p.mock.bootstraps, p.redis.port, good_rules());
    FILE *f = fopen(t, "w");
    fputs(text, f);
    fclose(f);
    const char *missing[] = {"check", "-c", t, "--connect", NULL};
    ck_assert_int_eq(run(missing), 2);
    ASSERT_OUT("topic \"risk.nowhere\" (dead letters) does not exist");

    /* Redis is down: said so, exit 2. */
    h_redis_kill(&p);
    ck_assert_int_eq(run(args), 2);
    ASSERT_OUT("redis");
    ASSERT_OUT("1 error");
    h_peers_stop(&p);
}
END_TEST

START_TEST(test_check_connect_names_unreachable_and_wrong_peers) {
    h_peers_t p;
    h_peers_start(&p);
    /* Kafka that is not there. */
    const char *cfg = check_config("127.0.0.1:1", p.redis.port, good_rules(), "");
    const char *args[] = {"check", "-c", cfg, "--connect", "--timeout", "2", NULL};
    ck_assert_int_eq(run(args), 2);
    ASSERT_OUT("kafka 127.0.0.1:1: not reached");
    ASSERT_OUT("Connection refused");

    /* "Redis" that is a Kafka broker: not Redis. */
    char broker[256];
    snprintf(broker, sizeof(broker), "%s", p.mock.bootstraps);
    *strchr(broker, ',') = 0;
    const char *cfg2 =
        check_config(p.mock.bootstraps, atoi(strrchr(broker, ':') + 1), good_rules(), "");
    const char *args2[] = {"check", "-c", cfg2, "--connect", "--timeout", "2", NULL};
    ck_assert_int_eq(run(args2), 2);
    ASSERT_OUT("not Redis");
    ck_assert_ptr_null(strstr(out, "wants TLS"));
    /* The engine says the same at start-up, and does not start. */
    const char *run2[] = {"run", "-c", cfg2, NULL};
    ck_assert_int_eq(run(run2), 2);
    ASSERT_OUT("not Redis");

    /* "Kafka" that is the redis-server. */
    char redis_broker[64];
    snprintf(redis_broker, sizeof(redis_broker), "127.0.0.1:%d", p.redis.port);
    const char *cfg3 = check_config(redis_broker, p.redis.port, good_rules(), "");
    const char *args3[] = {"check", "-c", cfg3, "--connect", "--timeout", "2", NULL};
    ck_assert_int_eq(run(args3), 2);
    ASSERT_OUT("is a Redis server, not a Kafka broker");

    /* A TLS config for a plaintext listener. */
    char text[1024];
    snprintf(
        text, sizeof(text),
        "{\"kafka\": {\"brokers\": \"%s\", \"properties\": {\"security.protocol\": \"ssl\"}},\n"
        " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n \"rules\": \"%s\"}\n",
        p.mock.bootstraps, p.redis.port, good_rules());
    const char *cfg4 = h_tmpfile(".json", text);
    const char *args4[] = {"check", "-c", cfg4, "--connect", "--timeout", "2", NULL};
    ck_assert_int_eq(run(args4), 2);
    ASSERT_OUT("speaks Kafka without TLS, but kafka.properties security.protocol is ssl");
    h_peers_stop(&p);
}
END_TEST

/* A redis-server that listens with TLS only, with a certificate made for it. */
START_TEST(test_check_connect_names_tls_redis) {
    char dir[256], cmd[300];
    snprintf(dir, sizeof(dir), "%s", h_path("tls-redis"));
    int port;
    pid_t pid = h_redis_tls_start(dir, &port);
    const char *cfg = check_config("127.0.0.1:1", port, good_rules(), "");
    const char *args[] = {"check", "-c", cfg, "--connect", "--timeout", "2", NULL};
    ck_assert_int_eq(run(args), 2);
    /* The engine names it at start-up, and does not start. */
    char run_out[sizeof(out)];
    const char *run_args[] = {"run", "-c", cfg, NULL};
    ck_assert_int_eq(h_run(run_out, sizeof(run_out), run_args), 2);
    ck_assert_msg(strstr(run_out, "wants TLS") && strstr(run_out, "stunnel (deploy/README.md)"),
                  "%s", run_out);
    /* The same TLS port given as a Kafka broker to a plaintext config. */
    char tls_broker[64], kafka_out[sizeof(out)];
    snprintf(tls_broker, sizeof(tls_broker), "127.0.0.1:%d", port);
    const char *kcfg = check_config(tls_broker, port, good_rules(), "");
    const char *kargs[] = {"check", "-c", kcfg, "--connect", "--timeout", "2", NULL};
    ck_assert_int_eq(h_run(kafka_out, sizeof(kafka_out), kargs), 2);
    ck_assert_msg(strstr(kafka_out, "wants TLS: set kafka.properties \"security.protocol\""), "%s",
                  kafka_out);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    ASSERT_OUT("wants TLS");
    ASSERT_OUT("stunnel");
}
END_TEST

/* ---- riskwarn demo ------------------------------------------------------------------------- */

/* The demo: a legend, a short feed, the tables; deadline lines in event-time
 * order with their case's opening; it runs while another process holds 9464;
 * --quiet prints no heading without its content. */
START_TEST(test_cli_demo_legend_feed_and_free_port) {
    /* Hold the engine's default metrics port, as a running engine would. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9464)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool held = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0;
    if (!held) { /* something else holds it already: the demo must cope all the same */
        close(fd);
        fd = -1;
    }
    const char *demo[] = {"demo", NULL};
    ck_assert_msg(run(demo) == 0, "%.2000s", out); /* Check cannot carry more */
    ASSERT_OUT("rule[level]=measure (level at threshold)");
    ASSERT_OUT("shown above (the first of each rule at each level)");
    ASSERT_OUT("What dashboards read in Redis");
    ASSERT_OUT("metrics: http://127.0.0.1:");
    ck_assert_ptr_null(strstr(out, ":9464/"));
    long long total = 0, shown = 0;
    const char *tl = strstr(out, "\n\n");
    while (tl && sscanf(tl, "\n\n%lld alerts: low", &total) != 1)
        tl = strstr(tl + 1, "\n\n");
    ck_assert_int_gt(total, 100);
    /* The feed: one line an alert that shows a rule at a level first; far fewer than all. */
    int deadline_lines = 0;
    for (const char *l = out; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, "LOW ", 4) || !strncmp(l, "MEDIUM ", 7) || !strncmp(l, "HIGH ", 5))
            shown++;
        const char *opened = strstr(l, "; case opened ");
        const char *eol = strchr(l, '\n');
        if (!opened || (eol && opened > eol))
            continue;
        /* TIME (when the deadline passed) is after the opening, in the same offset. */
        char at[32], from[32];
        ck_assert_int_eq(sscanf(l, "%*s %31s", at), 1);
        ck_assert_int_eq(sscanf(opened, "; case opened %31s", from), 1);
        ck_assert_msg(strcmp(at, from) > 0 && strlen(at) == strlen(from), "%.200s", l);
        deadline_lines++;
    }
    ck_assert_int_gt(deadline_lines, 0);
    ck_assert_int_gt(shown, 10);
    ck_assert_int_lt(shown * 5, total);

    const char *quiet[] = {"demo", "--quiet", NULL};
    ck_assert_msg(run(quiet) == 0, "%.2000s", out);
    ck_assert_ptr_null(strstr(out, "How to read"));
    ck_assert_ptr_null(strstr(out, "shown above"));
    ck_assert_ptr_null(strstr(out, "as they arrive"));
    ASSERT_OUT("alerts: low");
    ASSERT_OUT("top rules");
    if (fd >= 0)
        close(fd);
}
END_TEST

/* Whether PID's heap is advised for transparent huge pages ("hg" among the VmFlags of a
 * [heap] mapping in /proc/PID/smaps; the advice splits the heap into several mappings):
 * 1 or 0; -1 when there is no heap mapping (the process gone, or no heap yet). */
static int heap_advised(pid_t pid) {
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    int v = -1;
    bool in_heap = false;
    while (f && v < 1 && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
            in_heap = strstr(line, "[heap]") != NULL;
        else if (in_heap && strncmp(line, "VmFlags:", 8) == 0)
            v = strstr(line, " hg") != NULL;
    }
    if (f)
        fclose(f);
    return v;
}

/* replay asks for its heap as transparent huge pages before its state grows
 * (docs/performance.md): seen in /proc while it waits for its input on a FIFO. */
START_TEST(test_cli_replay_asks_for_huge_pages) {
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
        return; /* a kernel without transparent huge pages refuses the advice */
    if (getenv("RW_SANITIZED"))
        return; /* AddressSanitizer's allocator does not take memory from the heap */
    const char *fifo = h_path("replay-thp.fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    int fd = -1;
    pid_t pid =
        h_spawn((const char *const[]){"replay", "--rules", "rules/packs/default.json", fifo, NULL},
                true, &fd);
    ck_assert_int_gt(pid, 0);
    int w = open(fifo, O_WRONLY); /* the replay has opened it: its stream starts */
    ck_assert_int_ge(w, 0);
    int seen = -1;
    for (int64_t end = rw_monotonic_ms() + h_ms(10000); seen != 1 && rw_monotonic_ms() < end;) {
        seen = heap_advised(pid);
        usleep(10000);
    }
    close(w); /* no events: the replay ends */
    ck_assert_int_eq(h_engine_wait(pid, 10000), 0);
    close(fd);
    ck_assert_int_eq(seen, 1);
}
END_TEST

static Suite *cli_suite(void) {
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("commands");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli_help_lists_every_flag);
    tcase_add_test(tc, test_cli_refuses_bad_options_dates_and_numbers);
    tcase_add_test(tc, test_cli_stats_latest_day_and_opt_equals);
    tcase_add_test(tc, test_cli_demo_legend_feed_and_free_port);
    tcase_add_test(tc, test_cli_replay_asks_for_huge_pages);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("check");
    tcase_set_timeout(tk, 120);
    tcase_add_test(tk, test_check_lists_every_error);
    tcase_add_test(tk, test_check_connect_describes_kafka_and_redis);
    tcase_add_test(tk, test_check_connect_names_unreachable_and_wrong_peers);
    tcase_add_test(tk, test_check_connect_names_tls_redis);
    suite_add_tcase(s, tk);
    return s;
}

int main(void) { return h_main(cli_suite); }
