/* The Redis Cluster fixture of the cluster suites: tests/cluster.h. */
#include "cluster.h"

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

redisContext *cl_node_ctx(const cluster_t *c, int i) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_redis_opts_t o = {"127.0.0.1", c->node[i].port, NULL, NULL, 0, "rw:", "t", 2000, 0};
    return rw_store_redis_connect(&o, &err);
}

/* A command on one node; NULL when it does not answer. */
redisReply *cl_node_cmd(const cluster_t *c, int i, const char *fmt, ...) {
    redisContext *ctx = cl_node_ctx(c, i);
    if (!ctx)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    redisFree(ctx);
    return r;
}

bool cl_node_is_master(const cluster_t *c, int i) {
    if (c->dead[i])
        return false;
    redisReply *r = cl_node_cmd(c, i, "ROLE");
    bool m = r && r->type == REDIS_REPLY_ARRAY && r->elements &&
             strcmp(r->element[0]->str, "master") == 0;
    if (r)
        freeReplyObject(r);
    return m;
}

/* Every live node sees the cluster ok, and every live replica is in sync. */
bool cl_ok(void *arg) {
    const cluster_t *c = arg;
    for (int i = 0; i < CL_NODES; i++) {
        if (c->dead[i])
            continue;
        redisReply *r = cl_node_cmd(c, i, "CLUSTER INFO");
        bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok") &&
                  strstr(r->str, "cluster_slots_ok:16384");
        if (r)
            freeReplyObject(r);
        if (!ok)
            return false;
        r = cl_node_cmd(c, i, "INFO replication");
        ok = r && r->type == REDIS_REPLY_STRING &&
             (strstr(r->str, "role:master") || strstr(r->str, "master_link_status:up"));
        if (r)
            freeReplyObject(r);
        if (!ok)
            return false;
    }
    return true;
}

int cl_run_quiet(const char *const *argv) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execvp(argv[0], RW_UNCONST(char *const *, argv));
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void cl_start(cluster_t *c) {
    memset(c, 0, sizeof(*c));
    rw_error_t err;
    rw_error_clear(&err);
    for (int i = 0; i < CL_NODES; i++) {
        char bus[16];
        snprintf(bus, sizeof(bus), "%d", rw_proc_free_port());
        const char *extra[] = {"--cluster-enabled",
                               "yes",
                               "--cluster-config-file",
                               "nodes.conf",
                               "--cluster-node-timeout",
                               "2000",
                               "--cluster-port",
                               bus,
                               NULL};
        ck_assert_msg(rw_proc_redis_start_args(&c->node[i], NULL, extra, 10000, &err) == 0, "%s",
                      err.text);
        snprintf(c->seedbuf[i], sizeof(c->seedbuf[i]), "127.0.0.1:%d", c->node[i].port);
        c->seeds[i] = c->seedbuf[i];
    }
    const char *argv[] = {"redis-cli", "--cluster",          "create",    c->seeds[0],
                          c->seeds[1], c->seeds[2],          c->seeds[3], c->seeds[4],
                          c->seeds[5], "--cluster-replicas", "1",         "--cluster-yes",
                          NULL};
    ck_assert_int_eq(cl_run_quiet(argv), 0);
    ck_assert_msg(h_wait(cl_ok, c, 60000), "the cluster did not become ok");
}

void cl_stop(cluster_t *c) {
    for (int i = 0; i < CL_NODES; i++)
        rw_proc_redis_stop(&c->node[i]);
}

rw_rcluster_t *cl_client(const cluster_t *c, size_t n_seeds) {
    rw_rcluster_opts_t o = {c->seeds, n_seeds, NULL, 0, NULL, 0, NULL, 2000};
    return rw_rcluster_new(&o);
}

/* The node (index) a slot's master is, as CLUSTER SLOTS says, and its id. */
int cl_slot_owner(const cluster_t *c, unsigned slot, char *id, size_t idlen) {
    redisReply *r = NULL;
    for (int i = 0; i < CL_NODES && !r; i++)
        if (!c->dead[i])
            r = cl_node_cmd(c, i, "CLUSTER SLOTS");
    ck_assert_ptr_nonnull(r);
    int owner = -1;
    for (size_t e = 0; e < r->elements; e++) {
        redisReply *x = r->element[e];
        if ((unsigned)x->element[0]->integer > slot || (unsigned)x->element[1]->integer < slot)
            continue;
        for (int i = 0; i < CL_NODES; i++)
            if (c->node[i].port == x->element[2]->element[1]->integer)
                owner = i;
        snprintf(id, idlen, "%s", x->element[2]->element[2]->str);
    }
    freeReplyObject(r);
    ck_assert_int_ge(owner, 0);
    return owner;
}

/* Sum of every field of every hash matching pattern; the pattern's hash tag
 * routes it (the counters share one slot). */
long long cl_hsum(rw_rcluster_t *rc, const char *pattern) {
    redisReply *keys = rw_rcluster_command(rc, pattern, "KEYS %s", pattern);
    if (!keys)
        return -1;
    long long total = 0;
    for (size_t i = 0; keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        total += h_hvals_sum(rw_rcluster_command(rc, k, "HVALS %s", k));
    }
    freeReplyObject(keys);
    return total;
}

bool cl_all_counted(void *arg) {
    cl_progress_t *p = arg;
    return cl_hsum(p->rc, "{rw}:events:*") >= p->want;
}

void cl_lines_add(cl_lines_t *ls, const char *a, const char *b, const char *cc) {
    ls->l = realloc(ls->l, (ls->n + 1) * sizeof(char *));
    ck_assert_ptr_nonnull(ls->l);
    size_t len = strlen(a) + strlen(b) + (cc ? strlen(cc) : 0) + 3;
    ls->l[ls->n] = malloc(len);
    snprintf(ls->l[ls->n++], len, "%s|%s%s%s", a, b, cc ? "|" : "", cc ? cc : "");
}

/* A window's list as the engine reads it: "KEY|member|TIME" for each member
 * once (the last one appended; a write done again appends its entries again),
 * whatever the order (the lines are sorted). A trim's mark ("#...") is no
 * entry. */
static void window_lines(redisContext *ctx, const char *k, cl_lines_t *out) {
    redisReply *v = redisCommand(ctx, "LRANGE %s 0 -1", k);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->type, REDIS_REPLY_ARRAY);
    for (size_t e = 0; e < v->elements; e++) {
        const char *el = v->element[e]->str, *bar = strchr(el, '|');
        if (el[0] == '#')
            continue;
        ck_assert_msg(bar && bar > el, "%s: element %s is not TIME|member", k, el);
        bool later = false;
        for (size_t f = e + 1; f < v->elements && !later; f++) {
            const char *fb = strchr(v->element[f]->str, '|');
            later = fb && strcmp(fb, bar) == 0;
        }
        if (later)
            continue;
        char ts[32];
        snprintf(ts, sizeof(ts), "%.*s", (int)(bar - el), el);
        cl_lines_add(out, k, bar + 1, ts);
    }
    freeReplyObject(v);
}

void cl_state_dump(redisContext *ctx, cl_lines_t *out) {
    static const char *const patterns[] = {"rw:wl:*", "{rw}:d:*", "{rw}:cd:*", NULL};
    for (size_t p = 0; patterns[p]; p++) {
        redisReply *keys = redisCommand(ctx, "KEYS %s", patterns[p]);
        ck_assert_ptr_nonnull(keys);
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            redisReply *t = redisCommand(ctx, "TYPE %s", k);
            if (strcmp(t->str, "list") == 0) {
                window_lines(ctx, k, out);
                freeReplyObject(t);
                continue;
            }
            redisReply *v = strcmp(t->str, "zset") == 0
                                ? redisCommand(ctx, "ZRANGE %s 0 -1 WITHSCORES", k)
                            : strcmp(t->str, "hash") == 0 ? redisCommand(ctx, "HGETALL %s", k)
                                                          : redisCommand(ctx, "GET %s", k);
            ck_assert_ptr_nonnull(v);
            if (v->type == REDIS_REPLY_STRING)
                cl_lines_add(out, k, v->str, NULL);
            for (size_t e = 0; v->type == REDIS_REPLY_ARRAY && e + 1 < v->elements; e += 2)
                cl_lines_add(out, k, v->element[e]->str, v->element[e + 1]->str);
            freeReplyObject(v);
            freeReplyObject(t);
        }
        freeReplyObject(keys);
    }
}

int cl_cmp_line(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cl_lines_free(cl_lines_t *ls) {
    for (size_t i = 0; i < ls->n; i++)
        free(ls->l[i]);
    free(ls->l);
}

/* The windows, cases and cool-downs of the input as the engine consumed it,
 * taken through the Redis store in order, one partition after another, into
 * a plain redis-server. */
void cl_reference_state(const char *brokers, int port, const char *rules, cl_lines_t *out) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(rules, &errs);
    rw_errors_fini(&errs);
    ck_assert_ptr_nonnull(rs);
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, NULL, 0, "rw:", "ref", 5000, 0};
    rw_store_t *st = rw_redisstore_new(&o);
    rw_batch_t *b = rw_batch_new(1048576, RW_STATE_CACHED);
    static const char *const topics[] = {"events.transactions", "events.service", NULL};
    for (size_t t = 0; topics[t]; t++) {
        h_msgs_t in = {0};
        h_consume_all(brokers, topics[t], 1, 1000, 30000, &in);
        for (int32_t part = 0; part < 4; part++) {
            size_t k = 0;
            rw_batch_reset(b, rs);
            for (size_t i = 0; i <= in.n; i++) {
                if (i < in.n && in.m[i].partition == part) {
                    rw_msg_t m = {topics[t],
                                  part,
                                  in.m[i].offset,
                                  in.m[i].value,
                                  in.m[i].len,
                                  rw_now_ms(),
                                  0,
                                  in.m[i].key,
                                  in.m[i].key ? strlen(in.m[i].key) : 0};
                    rw_batch_add(b, &m);
                    k++;
                }
                if (k && (k == 200 || i == in.n)) {
                    h_batch_through(st, b);
                    rw_batch_reset(b, rs);
                    k = 0;
                }
            }
        }
        h_msgs_free(&in);
    }
    rw_batch_destroy(b);
    st->destroy(st);
    rw_ruleset_destroy(rs);
    redisContext *ctx = h_redis(port);
    cl_state_dump(ctx, out);
    redisFree(ctx);
    qsort(out->l, out->n, sizeof(char *), cl_cmp_line);
}

void cl_sadd_file(rw_rcluster_t *rc, redisContext *plain, const char *key, const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        redisReply *r = rw_rcluster_command(rc, key, "SADD %s %s", key, line);
        ck_assert_msg(r && r->type == REDIS_REPLY_INTEGER, "SADD: %s", rw_rcluster_error(rc));
        freeReplyObject(r);
        freeReplyObject(redisCommand(plain, "SADD %s %s", key, line));
    }
    fclose(f);
}

rw_rcluster_t *cl_begin(h_peers_t *p, cluster_t *c, h_expect_t *e) {
    h_peers_start(p);
    cl_start(c);
    rw_rcluster_t *rc = cl_client(c, CL_NODES);
    cl_sadd_file(rc, p->rc, "rw:list:counterparty-watchlist", CL_WATCHLIST);
    ck_assert_int_eq(h_expect_replay_redis(CL_RULES, CL_EVENTS, p->redis.port, e), 0);
    ck_assert_int_gt(e->alerts[3], 0);
    return rc;
}

/* Splits the events into parts files of about equal line counts, in order. */
long cl_split_events(const char *events, int parts, char out[][128]) {
    FILE *f = fopen(events, "r");
    ck_assert_ptr_nonnull(f);
    char **all = NULL, line[8192];
    long n = 0;
    while (fgets(line, sizeof(line), f)) {
        all = realloc(all, (size_t)(n + 1) * sizeof(char *));
        all[n++] = strdup(line);
    }
    fclose(f);
    for (int p = 0; p < parts; p++) {
        snprintf(out[p], 128, "%s", h_tmpfile(".jsonl", ""));
        FILE *o = fopen(out[p], "w");
        for (long i = n * p / parts; i < n * (p + 1) / parts; i++)
            fputs(all[i], o);
        fclose(o);
    }
    for (long i = 0; i < n; i++)
        free(all[i]);
    free(all);
    return n;
}

const char *cl_engine_config(const char *brokers, const cluster_t *c, const char *group,
                             const char *instance) {
    char text[2048], id[160] = "";
    if (instance)
        snprintf(id, sizeof(id), ", \"group.instance.id\": \"%s\"", instance);
    snprintf(
        text, sizeof(text),
        "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"%s\",\n"
        "   \"properties\": {\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500%s}},\n"
        " \"redis\": {\"cluster_nodes\": [\"%s\", \"%s\"]},\n"
        " \"metrics_listen\": null,\n"
        " \"rules\": \"%s\"}\n",
        brokers, group, id, c->seeds[0], c->seeds[1], CL_RULES);
    return h_tmpfile(".json", text);
}

void cl_produce_part(const h_peers_t *p, const char *path, long *sent) {
    rd_kafka_t *prod = h_producer(p->mock.bootstraps);
    long n = h_produce_events(prod, path);
    ck_assert_int_gt(n, 0);
    rd_kafka_flush(prod, 10000);
    rd_kafka_destroy(prod);
    *sent += n;
}

void cl_masters_state(const cluster_t *c, cl_lines_t *out) {
    for (int i = 0; i < CL_NODES; i++)
        if (cl_node_is_master(c, i)) {
            redisContext *ctx = cl_node_ctx(c, i);
            ck_assert_ptr_nonnull(ctx);
            cl_state_dump(ctx, out);
            redisFree(ctx);
        }
    qsort(out->l, out->n, sizeof(char *), cl_cmp_line);
}

void cl_assert_same_state(const cl_lines_t *want, const cl_lines_t *got) {
    for (size_t i = 0; i < want->n && i < got->n; i++)
        ck_assert_msg(strcmp(want->l[i], got->l[i]) == 0, "state differs at %zu: want %s, got %s",
                      i, want->l[i], got->l[i]);
    ck_assert_uint_eq(got->n, want->n);
}

void cl_wait_counted(rw_rcluster_t *rc, long want, const char *when) {
    cl_progress_t pr = {rc, want};
    ck_assert_msg(h_wait(cl_all_counted, &pr, 120000), "%s: %lld of %ld counted", when,
                  cl_hsum(rc, "{rw}:events:*"), want);
}

/* What the groups' journals hold (state_fold_ms), folded into the windows' lists, as an
 * engine starting now would before it reads: by a store of each group's, on its first load
 * (of a batch with nothing in it). Master is the node of the {rw} slot. */
static void fold_journals(const cluster_t *c, int master) {
    redisContext *ctx = cl_node_ctx(c, master);
    ck_assert_ptr_nonnull(ctx);
    redisReply *keys = redisCommand(ctx, "KEYS {rw}:wjs:*");
    ck_assert_ptr_nonnull(keys);
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(CL_RULES, &errs);
    rw_errors_fini(&errs);
    ck_assert_ptr_nonnull(rs);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *group = keys->element[i]->str + strlen("{rw}:wjs:");
        rw_redis_opts_t o = {NULL, 0, NULL, NULL, 0, "rw:", group, 5000, 0};
        rw_store_t *st = rw_redisstore_new_cluster(&o, c->seeds, 2);
        rw_batch_t *b = rw_batch_new(1048576, RW_STATE_CACHED);
        rw_batch_reset(b, rs);
        h_batch_through(st, b);
        rw_batch_destroy(b);
        st->destroy(st);
    }
    rw_ruleset_destroy(rs);
    freeReplyObject(keys);
    redisFree(ctx);
}

void cl_assert_outcome(const h_peers_t *p, const cluster_t *c, rw_rcluster_t *rc,
                       const h_expect_t *e, long total) {
    /* Exactly once: the counters are the replay's, every message counted once. */
    ck_assert_int_eq(cl_hsum(rc, "{rw}:events:*"), total);
    char tag_id[64];
    int master = cl_slot_owner(c, rw_rcluster_slot("{rw}", 4), tag_id, sizeof(tag_id));
    redisContext *mctx = cl_node_ctx(c, master);
    ck_assert_ptr_nonnull(mctx);
    h_assert_counters(mctx, e);
    redisFree(mctx);
    /* At least once, same ids: the replay's alerts, no other. */
    h_msgs_t alerts = {0};
    h_consume_all(p->mock.bootstraps, "risk.alerts",
                  (size_t)(e->alerts[1] + e->alerts[2] + e->alerts[3]), 1000, 60000, &alerts);
    h_assert_alert_ids(&alerts, e);
    h_msgs_free(&alerts);
    /* Windows, cases and cool-downs: what the same input leaves in one server. */
    cl_lines_t ref = {0}, got = {0};
    fold_journals(c, master);
    cl_reference_state(p->mock.bootstraps, p->redis.port, CL_RULES, &ref);
    ck_assert_uint_gt(ref.n, 1000);
    cl_masters_state(c, &got);
    cl_assert_same_state(&ref, &got);
    cl_lines_free(&ref);
    cl_lines_free(&got);
}
