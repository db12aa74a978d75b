#include "harness.h"
#include "alert.h"

#include "schema.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *h_bin(void) {
    const char *b = getenv("RW_BIN");
    return b && *b ? b : "bin/riskwarn";
}

static void remove_tree(const char *path);

static char run_dir[256];
static bool run_dir_given;

const char *h_dir(void) {
    if (run_dir[0])
        return run_dir;
    const char *given = getenv("RW_TEST_DIR");
    if (given && *given) {
        snprintf(run_dir, sizeof(run_dir), "%s", given);
        mkdir(run_dir, 0755);
        run_dir_given = true;
    } else {
        snprintf(run_dir, sizeof(run_dir), "/tmp/rwtest-XXXXXX");
        if (!mkdtemp(run_dir)) { /* before any test runs: no ck_assert here */
            fprintf(stderr, "mkdtemp %s: %s\n", run_dir, strerror(errno));
            exit(2);
        }
        setenv("RW_TEST_DIR", run_dir, 1);
    }
    return run_dir;
}

const char *h_path(const char *name) {
    static char paths[8][320];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", h_dir(), name);
    return p;
}

double h_scale(void) {
    const char *s = getenv("RW_TEST_TIMEOUT_SCALE");
    double v = s && *s ? strtod(s, NULL) : 0;
    if (v > 0)
        return v;
    return getenv("RW_SANITIZED") ? 4 : 1;
}

int h_ms(int ms) {
    double v = ms * h_scale();
    return v > 2e9 ? 2000000000 : (int)v;
}

int h_main(Suite *(*suite)(void)) { return h_main_around(suite, NULL, NULL); }

int h_main_around(Suite *(*suite)(void), int (*setup)(void), void (*teardown)(void)) {
    h_dir();
    char mult[32];
    snprintf(mult, sizeof(mult), "%g", h_scale());
    if (!getenv("CK_TIMEOUT_MULTIPLIER"))
        setenv("CK_TIMEOUT_MULTIPLIER", mult, 1);
    if (setup && setup() != 0)
        return 1;
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (teardown)
        teardown();
    if (failed)
        fprintf(stderr, "test files kept in %s\n", run_dir);
    else if (!run_dir_given)
        remove_tree(run_dir);
    return failed ? 1 : 0;
}

Suite *h_suite_of(const char *name, const TTest *test, int timeout_s) {
    Suite *s = suite_create(name);
    h_suite_add(s, name, test, timeout_s);
    return s;
}

void h_suite_add(Suite *s, const char *name, const TTest *test, int timeout_s) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout_s);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

const char *h_tmpfile(const char *suffix, const char *text) {
    static char paths[8][320];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/f-XXXXXX%s", h_dir(), suffix ? suffix : "");
    int fd = mkstemps(p, suffix ? (int)strlen(suffix) : 0);
    ck_assert_msg(fd >= 0, "mkstemps: %s", strerror(errno));
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return p;
}

void h_pos_of(const char *text, const char *needle, int nth, size_t skip, int *line, int *col) {
    const char *p = text;
    for (int i = 0;; i++) {
        p = strstr(p, needle);
        ck_assert_msg(p != NULL, "test bug: \"%s\" not in the text", needle);
        if (i == nth)
            break;
        p++;
    }
    p += skip;
    *line = 1;
    *col = 1;
    for (const char *q = text; q < p; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

void h_batch_through(rw_store_t *st, rw_batch_t *b) {
    rw_batch_plan(b);
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(st->load(st, b, &err) == 0, "load: %s", err.text);
    rw_batch_evaluate(b);
    ck_assert_msg(st->apply(st, b, &err) == 0, "apply: %s", err.text);
}

bool h_file_has(const char *path, const char *text) {
    size_t len;
    rw_error_t err;
    rw_error_clear(&err);
    char *all = rw_file_read(path, &len, &err);
    bool has = all && strstr(all, text);
    free(all);
    return has;
}

void h_split_lines(const char *path, int parts, char out[][256]) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    long total = 0;
    while (fgets(line, sizeof(line), f))
        total++;
    rewind(f);
    for (int i = 0; i < parts; i++) {
        snprintf(out[i], 256, "%s", h_tmpfile(".jsonl", ""));
        FILE *o = fopen(out[i], "w");
        ck_assert_ptr_nonnull(o);
        for (long k = 0; k < total / parts + (i == parts - 1 ? total % parts : 0); k++)
            if (fgets(line, sizeof(line), f))
                fputs(line, o);
        fclose(o);
    }
    fclose(f);
}

redisContext *h_redis(int port) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, NULL, 0, "rw:", "t", 5000, 0};
    redisContext *c = rw_store_redis_connect(&o, &err);
    ck_assert_msg(c != NULL, "redis: %s", err.text);
    return c;
}

long long h_hget(redisContext *c, const char *key, const char *field) {
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    if (r)
        freeReplyObject(r);
    return v;
}

long long h_hvals_sum(redisReply *h) {
    long long total = 0;
    for (size_t j = 0; h && h->type == REDIS_REPLY_ARRAY && j < h->elements; j++)
        total += atoll(h->element[j]->str);
    if (h)
        freeReplyObject(h);
    return total;
}

long long h_hsum(redisContext *c, const char *pattern) {
    long long total = 0;
    redisReply *keys = redisCommand(c, "KEYS %s", pattern);
    if (!keys)
        return -1;
    for (size_t i = 0; keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++)
        total += h_hvals_sum(redisCommand(c, "HVALS %s", keys->element[i]->str));
    freeReplyObject(keys);
    return total;
}

rd_kafka_t *h_producer(const char *brokers) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_msg(p != NULL, "producer: %s", err);
    return p;
}

int h_produce(rd_kafka_t *p, const char *topic, int32_t partition, const char *key,
              const char *value, size_t len) {
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE(RW_UNCONST(void *, value), len),
                                    RD_KAFKA_V_KEY(RW_UNCONST(void *, key), key ? strlen(key) : 0),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(p, 50);
    return err ? -1 : 0;
}

rd_kafka_t *h_group_client(const char *brokers, const char *group) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    ck_assert_msg(c != NULL, "consumer: %s", err);
    return c;
}

long h_produce_events(rd_kafka_t *p, const char *path) {
    return rw_mock_produce_file(p, path, NULL);
}

long h_produce_lines(rd_kafka_t *p, const char *path, const char *topic) {
    return rw_mock_produce_file(p, path, topic);
}

static char *hdr_copy(rd_kafka_headers_t *h, const char *name) {
    const void *v;
    size_t len;
    if (!h || rd_kafka_header_get_last(h, name, &v, &len))
        return NULL;
    char *s = malloc(len + 1);
    memcpy(s, v, len);
    s[len] = 0;
    return s;
}

size_t h_consume_all(const char *brokers, const char *topic, size_t min, int idle_ms,
                     int timeout_ms, h_msgs_t *out) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "rwtest-reader", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    ck_assert_msg(c != NULL, "consumer: %s", err);
    rd_kafka_poll_set_consumer(c);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    int parts = 1;
    if (rd_kafka_metadata(c, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1 &&
        md->topics[0].partition_cnt > 0)
        parts = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int i = 0; i < parts; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t deadline = rw_monotonic_ms() + h_ms(timeout_ms), last = rw_monotonic_ms();
    size_t got = 0;
    while (rw_monotonic_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
        if (!m) {
            if (got >= min && rw_monotonic_ms() - last >= idle_ms)
                break;
            continue;
        }
        if (!m->err) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 256;
                out->m = realloc(out->m, out->cap * sizeof(*out->m));
            }
            h_msg_t *x = &out->m[out->n++];
            memset(x, 0, sizeof(*x));
            x->value = malloc(m->len + 1);
            memcpy(x->value, m->payload, m->len);
            x->value[m->len] = 0;
            x->len = m->len;
            if (m->key) {
                x->key = malloc(m->key_len + 1);
                memcpy(x->key, m->key, m->key_len);
                x->key[m->key_len] = 0;
            }
            x->partition = m->partition;
            x->offset = m->offset;
            rd_kafka_headers_t *h = NULL;
            rd_kafka_message_headers(m, &h);
            static const char *const names[H_HDRS] = {"rw.error",  "rw.topic", "rw.partition",
                                                      "rw.offset", "rw.size",  "rw.sha256",
                                                      "rw.prefix"};
            for (int i = 0; i < H_HDRS; i++)
                x->hdr[i] = hdr_copy(h, names[i]);
            got++;
            last = rw_monotonic_ms();
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return got;
}

void h_msgs_free(h_msgs_t *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->m[i].value);
        free(m->m[i].key);
        for (int k = 0; k < H_HDRS; k++)
            free(m->m[i].hdr[k]);
    }
    free(m->m);
    memset(m, 0, sizeof(*m));
}

pid_t h_engine_start(const char *cfg_path, const char *log_path) {
    return h_engine_start_env(cfg_path, log_path, NULL);
}

int h_engine_wait(pid_t pid, int timeout_ms) {
    int64_t deadline = rw_monotonic_ms() + h_ms(timeout_ms);
    int status;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (rw_monotonic_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t h_engine_start_wrapped(const char *cfg_path, const char *log_path,
                             const char *const *wrapper) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        const char *argv[64];
        int n = 0;
        for (; wrapper[n] && n < 58; n++)
            argv[n] = wrapper[n];
        argv[n++] = h_bin();
        argv[n++] = "run";
        argv[n++] = "-c";
        argv[n++] = cfg_path;
        argv[n] = NULL;
        execvp(argv[0], RW_UNCONST(char *const *, argv));
        _exit(127);
    }
    return pid;
}

pid_t h_engine_start_env(const char *cfg_path, const char *log_path, const char *env) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (env)
            putenv(RW_UNCONST(char *, env)); /* the child only reads it, then execs */
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 2);
                dup2(fd, 1);
            }
        }
        execl(h_bin(), h_bin(), "run", "-c", cfg_path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int h_engine_stop(pid_t pid, int sig, int timeout_ms) {
    kill(pid, sig);
    return h_engine_wait(pid, timeout_ms);
}

pid_t h_spawn(const char *const *args, bool with_stderr, int *fd) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        if (with_stderr)
            dup2(fds[1], 2);
        close(fds[0]);
        const char *argv[32];
        int n = 0;
        argv[n++] = h_bin();
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(h_bin(), RW_UNCONST(char *const *, argv));
        _exit(127);
    }
    close(fds[1]);
    *fd = fds[0];
    return pid;
}

int h_run(char *out, size_t len, const char *const *args) {
    int fd;
    pid_t pid = h_spawn(args, true, &fd);
    size_t used = 0;
    ssize_t r;
    char sink[4096];
    while ((r = read(fd, used + 1 < len ? out + used : sink,
                     used + 1 < len ? len - used - 1 : sizeof(sink))) > 0)
        if (used + 1 < len)
            used += (size_t)r;
    close(fd);
    if (len)
        out[used] = 0;
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char *h_engine_config(const char *brokers, int redis_port, const char *rules,
                            const char *group) {
    return h_engine_config_topics(brokers, redis_port, rules, group,
                                  "[\"events.transactions\", \"events.service\"]");
}

const char *h_engine_config_topics(const char *brokers, int redis_port, const char *rules,
                                   const char *group, const char *topics) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"%s\", \"input_topics\": %s,\n"
             "   \"properties\": {\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500}},\n"
             " \"redis\": {\"host\": \"127.0.0.1\", \"port\": %d},\n"
             " \"metrics_listen\": null,\n"
             " \"rules\": \"%s\"}\n",
             brokers, group, topics, redis_port, rules);
    return h_tmpfile(".json", text);
}

bool h_wait(bool (*cond)(void *arg), void *arg, int timeout_ms) {
    int64_t deadline = rw_monotonic_ms() + h_ms(timeout_ms);
    for (;;) {
        if (cond(arg))
            return true;
        if (rw_monotonic_ms() > deadline)
            return cond(arg);
        usleep(20000);
    }
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int h_expect_replay(const char *rules, const char *events_path, h_expect_t *e) {
    return h_expect_replay_redis(rules, events_path, 0, e);
}

int h_expect_replay_redis(const char *rules, const char *events_path, int redis_port,
                          h_expect_t *e) {
    memset(e, 0, sizeof(*e));
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(rules, &errs);
    rw_errors_fini(&errs);
    if (!rs)
        return -1;
    FILE *f = fopen(events_path, "rb");
    if (!f) {
        rw_ruleset_destroy(rs);
        return -1;
    }
    rw_store_t *store = rw_memstore_new();
    if (redis_port) {
        rw_error_t err;
        rw_error_clear(&err);
        rw_redis_opts_t o = {"127.0.0.1", redis_port, NULL, NULL, 0, "rw:", "t", 5000, 0};
        ck_assert_msg(rw_memstore_use_redis(store, &o, &err) == 0, "%s", err.text);
    }
    rw_batch_t *b = rw_batch_new(1048576, true);
    b->max_future_ms = RW_MAX_FUTURE_MS; /* as replay */
    b->schema = rw_schema_default();     /* as the engine checks events by default */
    char *lines[256];
    size_t n = 0, cap_ids = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long lineno = 0;
    int64_t now = rw_now_ms();
    rw_batch_reset(b, rs);
    for (bool more = true; more;) {
        len = getline(&line, &cap, f);
        more = len >= 0;
        if (more) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (len == 0)
                continue;
            lines[n] = rw_strndup(line, (size_t)len);
            rw_msg_t m = {"replay", 0, lineno++, lines[n], (size_t)len, now, 0, NULL, 0};
            rw_batch_add(b, &m);
            n++;
        }
        if (n == 256 || (!more && n)) {
            rw_batch_plan(b);
            store->load(store, b, NULL);
            rw_batch_evaluate(b);
            store->apply(store, b, NULL);
            for (size_t i = 0; i < b->n_items; i++) {
                const rw_item_t *it = &b->items[i];
                if (it->error[0]) {
                    e->dead++;
                    continue;
                }
                e->events++;
                if (!it->level)
                    continue;
                e->alerts[it->level]++;
                char id[33];
                rw_alert_id(rs, it->event_id, it->level, id);
                char el[400];
                snprintf(el, sizeof(el), "%s:%s", it->event_id, rw_level_name(it->level));
                e->event_levels =
                    realloc(e->event_levels, (e->n_event_levels + 1) * sizeof(char *));
                e->event_levels[e->n_event_levels++] = strdup(el);
                if (e->n_alert_ids == cap_ids) {
                    cap_ids = cap_ids ? cap_ids * 2 : 256;
                    e->alert_ids = realloc(e->alert_ids, cap_ids * sizeof(char *));
                }
                char buf[64];
                snprintf(buf, sizeof(buf), "%s:%s", rw_level_name(it->level), id);
                e->alert_ids[e->n_alert_ids++] = strdup(buf);
            }
            for (size_t i = 0; i < b->n_case_alerts; i++) {
                const rw_case_alert_t *ca = &b->case_alerts[i];
                e->alerts[ca->level]++;
                char *a = rw_alert_case_build(b, ca, 0);
                json_t *j = json_loads(a, 0, NULL);
                if (e->n_alert_ids == cap_ids) {
                    cap_ids = cap_ids ? cap_ids * 2 : 256;
                    e->alert_ids = realloc(e->alert_ids, cap_ids * sizeof(char *));
                }
                char buf[64];
                snprintf(buf, sizeof(buf), "%s:%s", rw_level_name(ca->level),
                         json_string_value(json_object_get(j, "alert_id")));
                e->alert_ids[e->n_alert_ids++] = strdup(buf);
                json_decref(j);
                free(a);
            }
            rw_batch_reset(b, rs);
            for (size_t i = 0; i < n; i++)
                free(lines[i]);
            n = 0;
        }
    }
    free(line);
    fclose(f);
    qsort(e->alert_ids, e->n_alert_ids, sizeof(char *), cmp_str);
    qsort(e->event_levels, e->n_event_levels, sizeof(char *), cmp_str);
    size_t nc;
    const rw_memstore_counter_t *c = rw_memstore_counters(store, &nc);
    e->counters = calloc(nc ? nc : 1, sizeof(*c));
    for (size_t i = 0; i < nc; i++)
        e->counters[i] = (rw_memstore_counter_t){strdup(c[i].key), strdup(c[i].field), c[i].value};
    e->n_counters = nc;
    rw_batch_destroy(b);
    store->destroy(store);
    rw_ruleset_destroy(rs);
    return 0;
}

void h_expect_free(h_expect_t *e) {
    for (size_t i = 0; i < e->n_alert_ids; i++)
        free(e->alert_ids[i]);
    free(e->alert_ids);
    for (size_t i = 0; i < e->n_event_levels; i++)
        free(e->event_levels[i]);
    free(e->event_levels);
    for (size_t i = 0; i < e->n_counters; i++) {
        free(e->counters[i].key);
        free(e->counters[i].field);
    }
    free(e->counters);
    memset(e, 0, sizeof(*e));
}

void h_peers_start(h_peers_t *p) {
    rw_error_t err;
    rw_error_clear(&err);
    memset(p, 0, sizeof(*p));
    ck_assert_msg(rw_mock_start(&p->mock, 3, &err) == 0, "%s", err.text);
    static const char *const topics[] = {"events.transactions:4", "events.service:1",
                                         "risk.alerts:2",         "risk.alerts.high:1",
                                         "risk.deadletter:1",     NULL};
    for (size_t i = 0; topics[i]; i++)
        ck_assert_msg(rw_mock_topic(&p->mock, topics[i], &err) == 0, "%s", err.text);
    ck_assert_msg(rw_proc_redis_start(&p->redis, NULL, 10000, &err) == 0, "%s", err.text);
    p->rc = h_redis(p->redis.port);
}

void h_peers_stop(h_peers_t *p) {
    if (p->rc)
        redisFree(p->rc);
    rw_proc_redis_stop(&p->redis);
    rw_mock_stop(&p->mock);
}

/* Every message is counted once in {rw}:events:* (by type, or as deadletter). */
bool h_all_counted(void *arg) {
    h_progress_t *p = arg;
    return h_hsum(p->rc, "{rw}:events:*") >= p->want;
}

/* "level:alert_id" of each alert message, sorted, duplicates removed. */
size_t h_alert_ids(const h_msgs_t *m, char ***out) {
    char **ids = calloc(m->n ? m->n : 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        json_t *a = json_loadb(m->m[i].value, m->m[i].len, 0, NULL);
        ck_assert_msg(json_is_object(a), "alert is not JSON: %s", m->m[i].value);
        char buf[80];
        snprintf(buf, sizeof(buf), "%s:%s", json_string_value(json_object_get(a, "level")),
                 json_string_value(json_object_get(a, "alert_id")));
        ids[n++] = strdup(buf);
        json_decref(a);
    }
    qsort(ids, n, sizeof(char *), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && strcmp(ids[u - 1], ids[i]) == 0) {
            free(ids[i]);
            continue;
        }
        ids[u++] = ids[i];
    }
    *out = ids;
    return u;
}

void h_ids_free(char **ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* The Redis counters equal the in-memory replay's, field by field. */
void h_assert_counters(redisContext *rc, const h_expect_t *e) {
    for (size_t i = 0; i < e->n_counters; i++) {
        char key[600];
        snprintf(key, sizeof(key), "{rw}:%s", e->counters[i].key);
        long long got = h_hget(rc, key, e->counters[i].field);
        ck_assert_msg(got == e->counters[i].value, "%s %s: redis has %lld, expected %lld", key,
                      e->counters[i].field, got, (long long)e->counters[i].value);
    }
}

void h_assert_ttls(redisContext *rc) {
    redisReply *keys = redisCommand(rc, "KEYS *");
    ck_assert_ptr_nonnull(keys);
    ck_assert_uint_gt(keys->elements, 0);
    for (size_t i = 0; i < keys->elements; i++) {
        if (strncmp(keys->element[i]->str, "rw:list:", 8) == 0)
            continue; /* watchlists are the risk team's, not the engine's */
        redisReply *t = redisCommand(rc, "PTTL %s", keys->element[i]->str);
        ck_assert_msg(t->integer > 0, "key %s has no TTL (%lld)", keys->element[i]->str,
                      t->integer);
        freeReplyObject(t);
    }
    freeReplyObject(keys);
}

/* ---- Redis outages -------------------------------------------------------------------- */

/* The port of the redis-server started by h_redis_persist (-1: none). */
static int persist_port = -1;

static bool redis_answers(int port) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, NULL, 0, "rw:", "t", 500, 0};
    redisContext *c = rw_store_redis_connect(&o, &err);
    if (!c)
        return false;
    redisReply *r = redisCommand(c, "PING");
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* Starts redis-server on s->port in s->dir with the flags of engine/proc.c, or
 * with an fsync'd append-only file when persist; waits until it answers. */
static void redis_spawn(rw_redis_server_t *s, bool persist) {
    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    int64_t deadline = rw_monotonic_ms() + 10000;
    /* The old server's socket may linger a moment: try again until the deadline. */
    while (rw_monotonic_ms() < deadline) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            if (chdir(s->dir) != 0)
                _exit(127);
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            const char *argv[] = {"redis-server",
                                  "--port",
                                  port,
                                  "--bind",
                                  "127.0.0.1",
                                  "--save",
                                  "",
                                  "--appendonly",
                                  persist ? "yes" : "no",
                                  "--daemonize",
                                  "no",
                                  persist ? "--appendfsync" : NULL,
                                  "always",
                                  NULL};
            execvp("redis-server", RW_UNCONST(char *const *, argv));
            _exit(127);
        }
        s->pid = pid;
        while (rw_monotonic_ms() < deadline) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                s->pid = 0;
                ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 127),
                              "cannot run redis-server");
                break; /* port still taken: start again */
            }
            if (redis_answers(s->port))
                return;
            usleep(20000);
        }
        usleep(50000);
    }
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    ck_abort_msg("redis-server on port %d did not answer", s->port);
}

static void redis_reap(rw_redis_server_t *s, int sig) {
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGCONT); /* a stopped server cannot act on SIGTERM */
    h_engine_stop(s->pid, sig, 5000);
    s->pid = 0;
}

void h_redis_persist(h_peers_t *p) {
    int port = p->redis.port;
    if (p->rc)
        redisFree(p->rc);
    p->rc = NULL;
    rw_proc_redis_stop(&p->redis);
    p->redis.port = port;
    snprintf(p->redis.dir, sizeof(p->redis.dir), "%s/redis-XXXXXX", h_dir());
    ck_assert_msg(mkdtemp(p->redis.dir) != NULL, "mkdtemp: %s", strerror(errno));
    persist_port = port;
    redis_spawn(&p->redis, true);
    p->rc = h_redis(port);
}

void h_redis_kill(h_peers_t *p) { redis_reap(&p->redis, SIGKILL); }

void h_redis_restart(h_peers_t *p) {
    redis_reap(&p->redis, SIGTERM);
    if (p->rc)
        redisFree(p->rc);
    p->rc = NULL;
    redis_spawn(&p->redis, p->redis.port == persist_port);
    p->rc = h_redis(p->redis.port);
}

/* Removes a directory and the files and directories under it. */
static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *ent;
        while ((ent = readdir(d))) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            char sub[600];
            snprintf(sub, sizeof(sub), "%s/%s", path, ent->d_name);
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

void h_redis_persist_fini(h_peers_t *p) {
    redis_reap(&p->redis, SIGTERM);
    if (p->redis.dir[0] && p->redis.port == persist_port)
        remove_tree(p->redis.dir);
    p->redis.dir[0] = 0;
    persist_port = -1;
}

void h_assert_alert_ids(const h_msgs_t *alerts, const h_expect_t *e) {
    char **ids;
    size_t nids = h_alert_ids(alerts, &ids);
    ck_assert_uint_eq(nids, e->n_alert_ids);
    for (size_t i = 0; i < nids; i++)
        ck_assert_str_eq(ids[i], e->alert_ids[i]);
    h_ids_free(ids, nids);
}

/* Resident memory of a process, in KiB; -1 when gone. */
long h_rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

bool h_listening(int port, int timeout_ms) {
    int64_t deadline = rw_monotonic_ms() + h_ms(timeout_ms);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok || rw_monotonic_ms() > deadline)
            return ok;
        usleep(20000);
    }
}

pid_t h_redis_tls_start(const char *dir, int *port) {
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/k.pem -out %s/c.pem -days 1 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1",
             dir, dir);
    ck_assert_msg(system(cmd) == 0, "openssl could not make a certificate");
    *port = rw_proc_free_port();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char ps[16], cert[300], key[300];
        snprintf(ps, sizeof(ps), "%d", *port);
        snprintf(cert, sizeof(cert), "%s/c.pem", dir);
        snprintf(key, sizeof(key), "%s/k.pem", dir);
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execlp("redis-server", "redis-server", "--port", "0", "--tls-port", ps, "--bind",
               "127.0.0.1", "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file",
               cert, "--tls-auth-clients", "no", "--save", "", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    ck_assert_msg(h_listening(*port, 10000), "redis-server with TLS did not start");
    return pid;
}

const char *h_keypair(char *pub_b64) {
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(pk);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *pem = strndup(data, (size_t)n);
    BIO_free(b);
    unsigned char der[128], *p = der;
    int dn = i2d_PUBKEY(pk, &p);
    ck_assert_int_gt(dn, 0);
    EVP_EncodeBlock((unsigned char *)pub_b64, der, dn);
    EVP_PKEY_free(pk);
    const char *path = h_tmpfile(".pem", pem);
    free(pem);
    return path;
}
