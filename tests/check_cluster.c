/* Redis Cluster: the slot router (engine/rcluster.c) against the cluster
 * spec's known values, then against a real cluster of six redis-servers on
 * loopback (three masters, three replicas, made by `redis-cli --cluster
 * create`): slots as the servers compute them, MOVED and ASK during a slot's
 * migration, `stats` and `replay --redis` over the cluster, and the engine
 * through a SIGKILL at a fixed point, a `CLUSTER FAILOVER`, a master killed
 * with SIGKILL and another SIGKILLed engine, mid-stream. The engine's end
 * state must be an undisturbed run's: the replay's alerts and counters, and
 * the windows, cases and cool-downs the same events leave in a plain
 * redis-server when taken through the store in order.
 *
 * One tcase a case: CK_RUN_CASE=engine runs one. */
#include "config.h"
#include "harness.h"
#include "rcluster.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENTS "data/demo/events.jsonl"
#define RULES "tests/packs/cluster.json"
#define WATCHLIST "data/demo/watchlist.txt"
#define NODES 6

/* ---- unit: CRC16, hash tags, the tagged prefix ----------------------------------------- */

static unsigned slot_of(const char *key) { return rw_rcluster_slot(key, strlen(key)); }
static unsigned crc_of(const char *s) { return rw_rcluster_crc16(s, strlen(s)) & 16383; }

START_TEST(test_cluster_crc16_and_hash_tags) {
    /* The spec's check value, and the examples of CLUSTER KEYSLOT's page. */
    ck_assert_uint_eq(rw_rcluster_crc16("123456789", 9), 0x31C3);
    ck_assert_uint_eq(rw_rcluster_crc16("", 0), 0);
    ck_assert_uint_eq(slot_of("somekey"), 11058);
    ck_assert_uint_eq(slot_of("foo{hash_tag}"), 2515);
    ck_assert_uint_eq(slot_of("bar{hash_tag}"), 2515);
    ck_assert_uint_eq(slot_of("{user1}.following"), 8106);
    ck_assert_uint_eq(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
    /* The spec's tag rules: the first '{', the first '}' after it, not empty. */
    ck_assert_uint_eq(slot_of("foo{}{bar}"), crc_of("foo{}{bar}"));
    ck_assert_uint_eq(slot_of("foo{{bar}}zap"), crc_of("{bar"));
    ck_assert_uint_eq(slot_of("foo{bar}{zap}"), crc_of("bar"));
    ck_assert_uint_eq(slot_of("foo{bar"), crc_of("foo{bar"));
    ck_assert_uint_eq(slot_of("foo}bar{x}"), crc_of("x"));
    /* The store's fenced keys share one slot; windows are hashed whole. */
    char tp[64];
    ck_assert_uint_eq(rw_store_tag_prefix("rw:", tp, sizeof(tp)), 5);
    ck_assert_str_eq(tp, "{rw}:");
    rw_store_tag_prefix("rw:shadow:", tp, sizeof(tp));
    ck_assert_str_eq(tp, "{rw:shadow}:");
    rw_store_tag_prefix("acme", tp, sizeof(tp));
    ck_assert_str_eq(tp, "{acme}");
    ck_assert_uint_eq(slot_of("{rw}:fence:g:events.transactions:3"), crc_of("rw"));
    ck_assert_uint_eq(slot_of("{rw}:alerts:2026-11-27"), crc_of("rw"));
    ck_assert_uint_eq(slot_of("{rw}:cd:big:6222{x}"), crc_of("rw"));
    ck_assert_uint_eq(slot_of("rw:w:count-30d~1a2b:6222"), crc_of("rw:w:count-30d~1a2b:6222"));
}
END_TEST

/* Loads a config text; returns rw_config_load's result, the error formatted. */
static int config_text(const char *text, rw_config_t *c, char *msg, size_t len) {
    rw_config_init(c);
    rw_error_t err;
    rw_error_clear(&err);
    int rc = rw_config_load(c, h_tmpfile(".json", text), &err);
    rw_error_format(&err, msg, len);
    return rc;
}

START_TEST(test_cluster_config) {
    rw_config_t c;
    char msg[512];
    ck_assert_int_eq(config_text("{\"redis\": {\"cluster_nodes\": [\"10.0.0.1:7000\", "
                                 "\"node-b:7001\"], \"password\": \"p\"}}",
                                 &c, msg, sizeof(msg)),
                     0);
    ck_assert_uint_eq(c.n_redis_cluster_nodes, 2);
    ck_assert_str_eq(c.redis_cluster_nodes[1], "node-b:7001");
    /* --redis: one HOST:PORT is one server, a list is a cluster's seeds. */
    ck_assert_int_eq(rw_config_set_redis(&c, "127.0.0.1:6380"), 0);
    ck_assert_uint_eq(c.n_redis_cluster_nodes, 0);
    ck_assert_int_eq(c.redis_port, 6380);
    ck_assert_int_eq(rw_config_set_redis(&c, "a:1,b:2,"), 0);
    ck_assert_uint_eq(c.n_redis_cluster_nodes, 2);
    ck_assert_int_eq(rw_config_set_redis(&c, "a:1,b"), -1);
    ck_assert_int_eq(rw_config_set_redis(&c, ","), -1);
    rw_config_fini(&c);
    static const char *const bad[][2] = {
        {"{\"redis\": {\"cluster_nodes\": []}}", "must be a non-empty list"},
        {"{\"redis\": {\"cluster_nodes\": [\"a:1\",\n \"b\"]}}", ":2:2: redis.cluster_nodes[1]"},
        {"{\"redis\": {\"cluster_nodes\": [\"a:99999\"]}}", "redis.cluster_nodes[0]"},
        {"{\"redis\": {\"cluster_nodes\": [\"a:1\"], \"db\": 2}}", "no db"},
        {"{\"redis\": {\"key_prefix\": \"r{w}:\"}}", "must not hold"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(config_text(bad[i][0], &c, msg, sizeof(msg)), -1);
        ck_assert_msg(strstr(msg, bad[i][1]), "%s: want \"%s\" in \"%s\"", bad[i][0], bad[i][1],
                      msg);
        rw_config_fini(&c);
    }
}
END_TEST

/* scripts/redis_upgrade_keys.sh renames the old layout's keys, keeping values
 * and expiries, and leaves windows and watchlists alone. */
START_TEST(test_cluster_upgrade_script) {
    rw_redis_server_t srv;
    char err[256], port[16];
    ck_assert_msg(rw_redis_server_start(&srv, NULL, 10000, err, sizeof(err)) == 0, "%s", err);
    snprintf(port, sizeof(port), "%d", srv.port);
    redisContext *rc = h_redis(srv.port);
    static const char *const cmds[] = {"HSET rw:alerts:2026-11-27 low 3",
                                       "HSET rw:rule:big:2026-11-27 high 1",
                                       "SET rw:fence:g:events.transactions:3 42 EX 1000",
                                       "HSET rw:d:first-handling c1 {}",
                                       "ZADD rw:d:first-handling:due 5 c1",
                                       "SET rw:cd:big:acc1 v",
                                       "HSET rw:shadow:events:2026-11-27 transaction 5",
                                       "ZADD rw:w:count-30d~1a:acc1 1 m",
                                       "SADD rw:list:watch x",
                                       NULL};
    for (size_t i = 0; cmds[i]; i++)
        freeReplyObject(redisCommand(rc, cmds[i]));
    const char *argv[] = {"sh", "scripts/redis_upgrade_keys.sh", "-p", port, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execvp(argv[0], RW_UNCONST(char *const *, argv));
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(h_hget(rc, "{rw}:alerts:2026-11-27", "low"), 3);
    ck_assert_int_eq(h_hget(rc, "{rw}:rule:big:2026-11-27", "high"), 1);
    ck_assert_int_eq(h_hget(rc, "{rw:shadow}:events:2026-11-27", "transaction"), 5);
    redisReply *r = redisCommand(rc, "PTTL {rw}:fence:g:events.transactions:3");
    ck_assert_int_gt(r->integer, 0);
    freeReplyObject(r);
    static const char *const now[] = {"{rw}:d:first-handling", "{rw}:d:first-handling:due",
                                      "{rw}:cd:big:acc1",      "rw:w:count-30d~1a:acc1",
                                      "rw:list:watch",         NULL};
    for (size_t i = 0; now[i]; i++) {
        r = redisCommand(rc, "EXISTS %s", now[i]);
        ck_assert_msg(r->integer == 1, "%s is missing", now[i]);
        freeReplyObject(r);
    }
    r = redisCommand(rc, "DBSIZE");
    ck_assert_int_eq(r->integer, 9);
    freeReplyObject(r);
    redisFree(rc);
    rw_redis_server_stop(&srv);
}
END_TEST

/* A write cut between a window's ZADD and the script (on a cluster: the script's
 * master failed, the window's did not) leaves entries of messages that are not
 * stored. Evaluated again, each message counts once, as in an undisturbed run. */
START_TEST(test_cluster_unstored_window_entries_count_once) {
    rw_redis_server_t srv;
    char err[256];
    ck_assert_msg(rw_redis_server_start(&srv, NULL, 10000, err, sizeof(err)) == 0, "%s", err);
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(RULES, &errs);
    rw_errors_fini(&errs);
    ck_assert_ptr_nonnull(rs);
    rw_redis_opts_t o = {"127.0.0.1", srv.port, NULL, NULL, 0, "rw:", "t", 5000};
    rw_store_t *st = rw_redisstore_new(&o);
    rw_batch_t *b = rw_batch_new(1048576, RW_STATE_CACHED);
    char ev[3][256];
    for (int i = 0; i < 3; i++)
        snprintf(ev[i], sizeof(ev[i]),
                 "{\"event_id\": \"u%d\", \"type\": \"transaction\", \"ts\": "
                 "\"2026-11-27T10:0%d:00Z\", \"account\": \"6222020200112233445\", "
                 "\"amount\": 10, \"direction\": \"in\"}",
                 i, i);
    for (int i = 0; i < 3; i++) {
        rw_batch_reset(b, rs);
        rw_msg_t m = {"events", 0, i, ev[i], strlen(ev[i]), rw_now_ms(), 0, "6222020200112233445",
                      19};
        rw_batch_add(b, &m);
        rw_batch_plan(b);
        ck_assert_msg(st->load(st, b) == 0, "%s", st->last_error);
        rw_batch_evaluate(b);
        ck_assert_uint_eq(b->items[0].n_hits, i == 2); /* count-30d: low at 3 */
        if (i < 2) {
            ck_assert_msg(st->apply(st, b) == 0, "%s", st->last_error);
            continue;
        }
        /* The third message's script does not apply (its fence looks moved),
         * its ZADD does; then the fence is as it was: the script never ran. */
        redisContext *rc = h_redis(srv.port);
        freeReplyObject(redisCommand(rc, "SET {rw}:fence:t:events:0 7"));
        ck_assert_int_eq(st->apply(st, b), RW_STORE_CONFLICT);
        freeReplyObject(redisCommand(rc, "SET {rw}:fence:t:events:0 1"));
        redisReply *keys = redisCommand(rc, "KEYS rw:w:count-30d*");
        ck_assert_uint_eq(keys->elements, 1);
        redisReply *card = redisCommand(rc, "ZCARD %s", keys->element[0]->str);
        ck_assert_int_eq(card->integer, 3);
        freeReplyObject(card);
        freeReplyObject(keys);
        redisFree(rc);
        /* Read and evaluated again, as the engine does after a failed write. */
        rw_batch_forget_state(b);
        ck_assert_msg(st->load(st, b) == 0, "%s", st->last_error);
        rw_batch_evaluate(b);
        ck_assert_uint_eq(b->items[0].n_hits, 1);
        ck_assert_int_eq(b->hits[b->items[0].hit_off].level, RW_LEVEL_LOW);
        ck_assert(b->hits[b->items[0].hit_off].measure == 3);
        ck_assert_msg(st->apply(st, b) == 0, "%s", st->last_error);
    }
    rw_batch_destroy(b);
    st->destroy(st);
    rw_ruleset_destroy(rs);
    rw_redis_server_stop(&srv);
}
END_TEST

/* ---- a cluster of six redis-servers ---------------------------------------------------- */

typedef struct cluster {
    rw_redis_server_t node[NODES];
    bool dead[NODES];
    char seedbuf[NODES][32];
    const char *seeds[NODES];
} cluster_t;

static redisContext *node_ctx(const cluster_t *c, int i) {
    char err[256];
    rw_redis_opts_t o = {"127.0.0.1", c->node[i].port, NULL, NULL, 0, "rw:", "t", 2000};
    return rw_redis_connect(&o, err, sizeof(err));
}

/* A command on one node; NULL when it does not answer. */
static redisReply *node_cmd(const cluster_t *c, int i, const char *fmt, ...) {
    redisContext *ctx = node_ctx(c, i);
    if (!ctx)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    redisFree(ctx);
    return r;
}

static bool node_is_master(const cluster_t *c, int i) {
    if (c->dead[i])
        return false;
    redisReply *r = node_cmd(c, i, "ROLE");
    bool m = r && r->type == REDIS_REPLY_ARRAY && r->elements &&
             strcmp(r->element[0]->str, "master") == 0;
    if (r)
        freeReplyObject(r);
    return m;
}

/* Every live node sees the cluster ok, and every live replica is in sync. */
static bool cluster_ok(void *arg) {
    const cluster_t *c = arg;
    for (int i = 0; i < NODES; i++) {
        if (c->dead[i])
            continue;
        redisReply *r = node_cmd(c, i, "CLUSTER INFO");
        bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok") &&
                  strstr(r->str, "cluster_slots_ok:16384");
        if (r)
            freeReplyObject(r);
        if (!ok)
            return false;
        r = node_cmd(c, i, "INFO replication");
        ok = r && r->type == REDIS_REPLY_STRING &&
             (strstr(r->str, "role:master") || strstr(r->str, "master_link_status:up"));
        if (r)
            freeReplyObject(r);
        if (!ok)
            return false;
    }
    return true;
}

static int run_quiet(const char *const *argv) {
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

static void cluster_start(cluster_t *c) {
    memset(c, 0, sizeof(*c));
    char err[512];
    for (int i = 0; i < NODES; i++) {
        char bus[16];
        snprintf(bus, sizeof(bus), "%d", rw_free_port());
        const char *extra[] = {"--cluster-enabled",
                               "yes",
                               "--cluster-config-file",
                               "nodes.conf",
                               "--cluster-node-timeout",
                               "2000",
                               "--cluster-port",
                               bus,
                               NULL};
        ck_assert_msg(
            rw_redis_server_start_args(&c->node[i], NULL, extra, 10000, err, sizeof(err)) == 0,
            "%s", err);
        snprintf(c->seedbuf[i], sizeof(c->seedbuf[i]), "127.0.0.1:%d", c->node[i].port);
        c->seeds[i] = c->seedbuf[i];
    }
    const char *argv[] = {"redis-cli", "--cluster",          "create",    c->seeds[0],
                          c->seeds[1], c->seeds[2],          c->seeds[3], c->seeds[4],
                          c->seeds[5], "--cluster-replicas", "1",         "--cluster-yes",
                          NULL};
    ck_assert_int_eq(run_quiet(argv), 0);
    ck_assert_msg(h_wait(cluster_ok, c, 60000), "the cluster did not become ok");
}

static void cluster_stop(cluster_t *c) {
    for (int i = 0; i < NODES; i++)
        rw_redis_server_stop(&c->node[i]);
}

static rw_rcluster_t *cluster_client(const cluster_t *c, size_t n_seeds) {
    rw_rcluster_opts_t o = {c->seeds, n_seeds, NULL, 0, NULL, 0, NULL, 2000};
    return rw_rcluster_new(&o);
}

/* The node (index) a slot's master is, as CLUSTER SLOTS says, and its id. */
static int slot_owner(const cluster_t *c, unsigned slot, char *id, size_t idlen) {
    redisReply *r = NULL;
    for (int i = 0; i < NODES && !r; i++)
        if (!c->dead[i])
            r = node_cmd(c, i, "CLUSTER SLOTS");
    ck_assert_ptr_nonnull(r);
    int owner = -1;
    for (size_t e = 0; e < r->elements; e++) {
        redisReply *x = r->element[e];
        if ((unsigned)x->element[0]->integer > slot || (unsigned)x->element[1]->integer < slot)
            continue;
        for (int i = 0; i < NODES; i++)
            if (c->node[i].port == x->element[2]->element[1]->integer)
                owner = i;
        snprintf(id, idlen, "%s", x->element[2]->element[2]->str);
    }
    freeReplyObject(r);
    ck_assert_int_ge(owner, 0);
    return owner;
}

static char *node_id(const cluster_t *c, int i) {
    redisReply *r = node_cmd(c, i, "CLUSTER MYID");
    ck_assert_ptr_nonnull(r);
    char *id = strdup(r->str);
    freeReplyObject(r);
    return id;
}

/* A command through the router; the reply must be a string (or nil: NULL text). */
static char *get_text(rw_rcluster_t *rc, const char *key) {
    redisReply *r = rw_rcluster_command(rc, key, "GET %s", key);
    ck_assert_msg(r != NULL, "GET %s: %s", key, rw_rcluster_error(rc));
    ck_assert_msg(r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL, "GET %s: %s", key,
                  r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
    char *s = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

static void set_ok(rw_rcluster_t *rc, const char *key, const char *value) {
    redisReply *r = rw_rcluster_command(rc, key, "SET %s %s", key, value);
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "SET %s: %s", key,
                  r ? r->str : rw_rcluster_error(rc));
    freeReplyObject(r);
}

/* Slots as the servers compute them; a pipeline over every master; a slot
 * moved from one master to another: ASK while it migrates, MOVED after. */
START_TEST(test_cluster_router_follows_moved_and_ask) {
    cluster_t c;
    cluster_start(&c);
    rw_rcluster_t *rc = cluster_client(&c, 1); /* one seed: the rest is found */
    ck_assert(rw_rcluster_is_cluster(rc));
    for (int i = 0; i < 300; i++) {
        char key[64];
        snprintf(key, sizeof(key), i % 3 ? "key:%d" : "x{tag%d}y{z}", i * 7919);
        redisReply *r = rw_rcluster_command(rc, key, "CLUSTER KEYSLOT %s", key);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->integer, slot_of(key));
        freeReplyObject(r);
    }
    /* One pipeline of 200 writes and 200 reads over the three masters. */
    char keys[200][32];
    for (int i = 0; i < 200; i++) {
        snprintf(keys[i], sizeof(keys[i]), "pipe:%d", i);
        const char *argv[] = {"SET", keys[i], keys[i]};
        size_t argl[] = {3, strlen(keys[i]), strlen(keys[i])};
        rw_rcluster_append_argv(rc, 1, 3, argv, argl, RW_RC_WRITE);
    }
    for (int i = 0; i < 200; i++) {
        const char *argv[] = {"GET", keys[i]};
        size_t argl[] = {3, strlen(keys[i])};
        rw_rcluster_append_argv(rc, 1, 2, argv, argl, 0);
    }
    ck_assert_msg(rw_rcluster_exec(rc) == 0, "%s", rw_rcluster_error(rc));
    for (int i = 0; i < 400; i++) {
        redisReply *r = rw_rcluster_next(rc);
        ck_assert_ptr_nonnull(r);
        if (i < 200)
            ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
        else
            ck_assert_str_eq(r->str, keys[i - 200]);
        freeReplyObject(r);
    }
    ck_assert_ptr_null(rw_rcluster_next(rc));
    /* Every master took writes and has a replica in sync: none is short. */
    ck_assert_int_eq(rw_rcluster_sync_replicas(rc, 5000), 0);

    /* Migrate the slot of {mig} from its master A to another master B. */
    unsigned slot = slot_of("{mig}");
    char ida[64];
    int a = slot_owner(&c, slot, ida, sizeof(ida)), b = -1;
    for (int i = 0; i < NODES && b < 0; i++)
        if (i != a && node_is_master(&c, i))
            b = i;
    char *idb = node_id(&c, b);
    set_ok(rc, "{mig}a", "on-a");
    redisReply *r = node_cmd(&c, b, "CLUSTER SETSLOT %u IMPORTING %s", slot, ida);
    ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = node_cmd(&c, a, "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
    ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    /* A new key of the slot: A answers ASK, B takes it after ASKING. */
    set_ok(rc, "{mig}b", "on-b");
    char *v = get_text(rc, "{mig}a"); /* still on A */
    ck_assert_str_eq(v, "on-a");
    free(v);
    r = node_cmd(&c, a, "MIGRATE 127.0.0.1 %d %s 0 5000 KEYS {mig}a", c.node[b].port, "");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r ? r->str : "no reply");
    freeReplyObject(r);
    v = get_text(rc, "{mig}a"); /* A answers ASK now */
    ck_assert_str_eq(v, "on-a");
    free(v);
    /* The slot is B's: every master learns it; A answers MOVED. */
    for (int i = 0; i < NODES; i++)
        if (node_is_master(&c, i)) {
            r = node_cmd(&c, i, "CLUSTER SETSLOT %u NODE %s", slot, idb);
            ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
            freeReplyObject(r);
        }
    v = get_text(rc, "{mig}a");
    ck_assert_str_eq(v, "on-a");
    free(v);
    v = get_text(rc, "{mig}b");
    ck_assert_str_eq(v, "on-b");
    free(v);
    /* And after a refresh of the whole map (the MOVED asked for one). */
    v = get_text(rc, "pipe:7");
    ck_assert_str_eq(v, "pipe:7");
    free(v);
    free(idb);
    rw_rcluster_destroy(rc);

    /* A plain client on a cluster node says what to do. */
    rw_rcluster_opts_t po = {NULL, 0, "127.0.0.1", c.node[a].port, NULL, 0, NULL, 2000};
    rw_rcluster_t *plain = rw_rcluster_new(&po);
    for (int i = 0; i < 50; i++) {
        char key[32];
        snprintf(key, sizeof(key), "plain:%d", i);
        r = rw_rcluster_command(plain, key, "GET %s", key);
        if (!r)
            break;
        freeReplyObject(r);
    }
    ck_assert_ptr_nonnull(strstr(rw_rcluster_error(plain), "redis.cluster_nodes"));
    rw_rcluster_destroy(plain);
    cluster_stop(&c);
}
END_TEST

/* ---- the engine over the cluster --------------------------------------------------------- */

/* Sum of every field of every hash matching pattern; the pattern's hash tag
 * routes it (the counters share one slot). */
static long long cl_hsum(rw_rcluster_t *rc, const char *pattern) {
    redisReply *keys = rw_rcluster_command(rc, pattern, "KEYS %s", pattern);
    if (!keys)
        return -1;
    long long total = 0;
    for (size_t i = 0; keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        redisReply *h = rw_rcluster_command(rc, k, "HVALS %s", k);
        for (size_t j = 0; h && h->type == REDIS_REPLY_ARRAY && j < h->elements; j++)
            total += atoll(h->element[j]->str);
        if (h)
            freeReplyObject(h);
    }
    freeReplyObject(keys);
    return total;
}

typedef struct progress {
    rw_rcluster_t *rc;
    long long want;
} progress_t;

static bool all_counted(void *arg) {
    progress_t *p = arg;
    return cl_hsum(p->rc, "{rw}:events:*") >= p->want;
}

/* Every window, case and cool-down a server holds, as sorted lines
 * "key|member|score", "key|field|value" or "key|value". */
typedef struct lines {
    char **l;
    size_t n;
} lines_t;

static void lines_add(lines_t *ls, const char *a, const char *b, const char *cc) {
    ls->l = realloc(ls->l, (ls->n + 1) * sizeof(char *));
    ck_assert_ptr_nonnull(ls->l);
    size_t len = strlen(a) + strlen(b) + (cc ? strlen(cc) : 0) + 3;
    ls->l[ls->n] = malloc(len);
    snprintf(ls->l[ls->n++], len, "%s|%s%s%s", a, b, cc ? "|" : "", cc ? cc : "");
}

static void state_dump(redisContext *ctx, lines_t *out) {
    static const char *const patterns[] = {"rw:w:*", "{rw}:d:*", "{rw}:cd:*", NULL};
    for (size_t p = 0; patterns[p]; p++) {
        redisReply *keys = redisCommand(ctx, "KEYS %s", patterns[p]);
        ck_assert_ptr_nonnull(keys);
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            redisReply *t = redisCommand(ctx, "TYPE %s", k);
            redisReply *v = strcmp(t->str, "zset") == 0
                                ? redisCommand(ctx, "ZRANGE %s 0 -1 WITHSCORES", k)
                            : strcmp(t->str, "hash") == 0 ? redisCommand(ctx, "HGETALL %s", k)
                                                          : redisCommand(ctx, "GET %s", k);
            ck_assert_ptr_nonnull(v);
            if (v->type == REDIS_REPLY_STRING)
                lines_add(out, k, v->str, NULL);
            for (size_t e = 0; v->type == REDIS_REPLY_ARRAY && e + 1 < v->elements; e += 2)
                lines_add(out, k, v->element[e]->str, v->element[e + 1]->str);
            freeReplyObject(v);
            freeReplyObject(t);
        }
        freeReplyObject(keys);
    }
}

static int cmp_line(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_free(lines_t *ls) {
    for (size_t i = 0; i < ls->n; i++)
        free(ls->l[i]);
    free(ls->l);
}

/* The windows, cases and cool-downs of the input as the engine consumed it,
 * taken through the Redis store in order, one partition after another, into
 * a plain redis-server. */
static void reference_state(const char *brokers, int port, lines_t *out) {
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(RULES, &errs);
    rw_errors_fini(&errs);
    ck_assert_ptr_nonnull(rs);
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, NULL, 0, "rw:", "ref", 5000};
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
                    rw_batch_plan(b);
                    ck_assert_msg(st->load(st, b) == 0, "%s", st->last_error);
                    rw_batch_evaluate(b);
                    ck_assert_msg(st->apply(st, b) == 0, "%s", st->last_error);
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
    state_dump(ctx, out);
    redisFree(ctx);
    qsort(out->l, out->n, sizeof(char *), cmp_line);
}

static void sadd_file(rw_rcluster_t *rc, redisContext *plain, const char *key, const char *path) {
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

/* Splits the events into parts files of about equal line counts, in order. */
static long split_events(int parts, char out[][128]) {
    FILE *f = fopen(EVENTS, "r");
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

static const char *engine_config(const char *brokers, const cluster_t *c) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"kafka\": {\"brokers\": \"%s\", \"group_id\": \"cluster-it\",\n"
             "   \"properties\": {\"session.timeout.ms\": 6000, \"heartbeat.interval.ms\": 500}},\n"
             " \"redis\": {\"cluster_nodes\": [\"%s\", \"%s\"]},\n"
             " \"metrics_listen\": null,\n"
             " \"rules\": \"%s\"}\n",
             brokers, c->seeds[0], c->seeds[1], RULES);
    return h_tmpfile(".json", text);
}

#define LOG h_path("cluster-engine.log")

static void produce_part(const h_peers_t *p, const char *path, long *sent) {
    rd_kafka_t *prod = h_producer(p->mock.bootstraps);
    long n = h_produce_events(prod, path);
    ck_assert_int_gt(n, 0);
    rd_kafka_flush(prod, 10000);
    rd_kafka_destroy(prod);
    *sent += n;
}

static void wait_counted(rw_rcluster_t *rc, long want, const char *when) {
    progress_t pr = {rc, want};
    ck_assert_msg(h_wait(all_counted, &pr, 120000), "%s: %lld of %ld counted", when,
                  cl_hsum(rc, "{rw}:events:*"), want);
}

/* For h_wait: the engine exited (status filled), or counted every message. */
typedef struct died {
    pid_t pid;
    int status;
    rw_rcluster_t *rc;
    long counted;
} died_t;

static bool died_or_counted(void *arg) {
    died_t *d = arg;
    int st;
    if (d->status < 0 && waitpid(d->pid, &st, WNOHANG) == d->pid)
        d->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return d->status >= 0 || cl_hsum(d->rc, "{rw}:events:*") >= d->counted;
}

START_TEST(test_cluster_engine_through_faults) {
    h_peers_t p; /* the mock Kafka cluster, and a plain redis-server for the reference */
    h_peers_start(&p);
    cluster_t c;
    cluster_start(&c);
    rw_rcluster_t *rc = cluster_client(&c, NODES);
    sadd_file(rc, p.rc, "rw:list:counterparty-watchlist", WATCHLIST);
    h_expect_t e;
    ck_assert_int_eq(h_expect_replay_redis(RULES, EVENTS, p.redis.port, &e), 0);
    ck_assert_int_gt(e.alerts[3], 0);
    char parts[8][128];
    long total = split_events(8, parts), sent = 0;
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", engine_config(p.mock.bootstraps, &c));
    char tag_id[64];

    /* 1. An engine dies after publishing its second batch's alerts, before
     * storing its state. */
    died_t d = {h_engine_start_env(cfg, LOG, "RW_TEST_DIE=after-publish:2"), -1, rc, 0};
    produce_part(&p, parts[0], &sent);
    d.counted = sent;
    h_wait(died_or_counted, &d, 60000);
    if (d.status < 0) { /* the first part was one batch */
        produce_part(&p, parts[1], &sent);
        d.counted = sent;
        h_wait(died_or_counted, &d, 60000);
    }
    ck_assert_msg(d.status == 137, "the engine did not die at its second batch (%d)", d.status);
    pid_t eng = h_engine_start(cfg, LOG);
    wait_counted(rc, sent, "after the engine died");

    /* 2. A manual failover of the master of the fenced state, mid-stream. */
    int master = slot_owner(&c, slot_of("{rw}"), tag_id, sizeof(tag_id)), replica = -1;
    for (int i = 0; i < NODES; i++) {
        redisReply *r = node_cmd(&c, i, "INFO replication");
        char want[64];
        snprintf(want, sizeof(want), "master_port:%d", c.node[master].port);
        if (r && strstr(r->str, want))
            replica = i;
        if (r)
            freeReplyObject(r);
    }
    ck_assert_int_ge(replica, 0);
    if (sent < total / 4)
        produce_part(&p, parts[1], &sent);
    produce_part(&p, parts[2], &sent);
    redisReply *r = node_cmd(&c, replica, "CLUSTER FAILOVER");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "CLUSTER FAILOVER: %s", r ? r->str : "-");
    freeReplyObject(r);
    produce_part(&p, parts[3], &sent);
    wait_counted(rc, sent, "after CLUSTER FAILOVER");
    ck_assert(node_is_master(&c, replica));

    /* 3. The new master of the fenced state is killed (SIGKILL) mid-stream:
     * its replica takes over once the cluster sees it fail. */
    produce_part(&p, parts[4], &sent);
    kill(c.node[replica].pid, SIGKILL);
    waitpid(c.node[replica].pid, NULL, 0);
    c.node[replica].pid = 0;
    c.dead[replica] = true;
    produce_part(&p, parts[5], &sent);
    ck_assert_msg(h_wait(cluster_ok, &c, 60000), "no failover after the master was killed");
    wait_counted(rc, sent, "after a master was killed");

    /* 4. The engine is killed mid-stream and started again. */
    produce_part(&p, parts[6], &sent);
    ck_assert_int_eq(h_engine_stop(eng, SIGKILL, 10000), 128 + SIGKILL);
    eng = h_engine_start(cfg, LOG);
    produce_part(&p, parts[7], &sent);
    ck_assert_int_eq(sent, total);
    wait_counted(rc, total, "at the end");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);

    /* Exactly once: the counters are the replay's, every message counted once. */
    ck_assert_int_eq(cl_hsum(rc, "{rw}:events:*"), total);
    int now_master = slot_owner(&c, slot_of("{rw}"), tag_id, sizeof(tag_id));
    redisContext *mctx = node_ctx(&c, now_master);
    ck_assert_ptr_nonnull(mctx);
    h_assert_counters(mctx, &e);
    redisFree(mctx);
    /* At least once, same ids: the replay's alerts, no other. */
    h_msgs_t alerts = {0};
    h_consume_all(p.mock.bootstraps, "risk.alerts",
                  (size_t)(e.alerts[1] + e.alerts[2] + e.alerts[3]), 1000, 60000, &alerts);
    h_assert_alert_ids(&alerts, &e);
    h_msgs_free(&alerts);
    /* Windows, cases and cool-downs: what the same input leaves in one server. */
    lines_t ref = {0}, got = {0};
    reference_state(p.mock.bootstraps, p.redis.port, &ref);
    ck_assert_uint_gt(ref.n, 1000);
    for (int i = 0; i < NODES; i++)
        if (node_is_master(&c, i)) {
            redisContext *ctx = node_ctx(&c, i);
            state_dump(ctx, &got);
            redisFree(ctx);
        }
    qsort(got.l, got.n, sizeof(char *), cmp_line);
    for (size_t i = 0; i < ref.n && i < got.n; i++)
        ck_assert_msg(strcmp(ref.l[i], got.l[i]) == 0, "state differs at %zu: want %s, got %s", i,
                      ref.l[i], got.l[i]);
    ck_assert_uint_eq(got.n, ref.n);
    lines_free(&ref);
    lines_free(&got);

    /* stats and replay --redis over the cluster. */
    char seeds[128], *out = malloc(4 << 20);
    ck_assert_ptr_nonnull(out);
    snprintf(seeds, sizeof(seeds), "%s,%s", c.seeds[0], c.seeds[1]);
    const char *stats[] = {"stats", "--redis", seeds, "--date", "all", NULL};
    ck_assert_int_eq(h_run(out, 4 << 20, stats), 0);
    char want[128];
    snprintf(want, sizeof(want), "%8lld %8lld %8lld %8lld", e.alerts[1], e.alerts[2], e.alerts[3],
             e.alerts[1] + e.alerts[2] + e.alerts[3]);
    ck_assert_msg(strstr(out, want), "stats: want \"%s\" in:\n%s", want, out);
    const char *replay[] = {"replay", "--rules", RULES, "--redis", seeds, EVENTS, NULL};
    ck_assert_int_eq(h_run(out, 4 << 20, replay), 0);
    snprintf(want, sizeof(want), "alerts: low %lld, medium %lld, high %lld", e.alerts[1],
             e.alerts[2], e.alerts[3]);
    ck_assert_msg(strstr(out, want), "replay: want \"%s\" in:\n%.2000s", want, out);
    free(out);

    h_expect_free(&e);
    rw_rcluster_destroy(rc);
    cluster_stop(&c);
    h_peers_stop(&p);
}
END_TEST

static Suite *cluster_suite(void) {
    Suite *s = suite_create("cluster");
    TCase *unit = tcase_create("unit");
    tcase_set_timeout(unit, 60);
    tcase_add_test(unit, test_cluster_crc16_and_hash_tags);
    tcase_add_test(unit, test_cluster_config);
    tcase_add_test(unit, test_cluster_upgrade_script);
    tcase_add_test(unit, test_cluster_unstored_window_entries_count_once);
    suite_add_tcase(s, unit);
    TCase *router = tcase_create("router");
    tcase_set_timeout(router, 120);
    tcase_add_test(router, test_cluster_router_follows_moved_and_ask);
    suite_add_tcase(s, router);
    TCase *engine = tcase_create("engine");
    tcase_set_timeout(engine, 600);
    tcase_add_test(engine, test_cluster_engine_through_faults);
    suite_add_tcase(s, engine);
    return s;
}

int main(void) { return h_main(cluster_suite); }
