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
#include "cluster.h"
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENTS CL_EVENTS
#define RULES CL_RULES
#define LOG h_path("cluster-engine.log")

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
    ck_assert_uint_eq(slot_of("rw:wl:window_count~1a2b3c4d5e6f7a8b:6222"),
                      crc_of("rw:wl:window_count~1a2b3c4d5e6f7a8b:6222"));
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
    ck_assert_int_eq(rw_config_set_redis(&c, "a:1,b"), RW_ERR_INPUT);
    ck_assert_int_eq(rw_config_set_redis(&c, ","), RW_ERR_INPUT);
    rw_config_fini(&c);
    static const char *const bad[][2] = {
        {"{\"redis\": {\"cluster_nodes\": []}}", "must be a non-empty list"},
        {"{\"redis\": {\"cluster_nodes\": [\"a:1\",\n \"b\"]}}", ":2:2: redis.cluster_nodes[1]"},
        {"{\"redis\": {\"cluster_nodes\": [\"a:99999\"]}}", "redis.cluster_nodes[0]"},
        {"{\"redis\": {\"cluster_nodes\": [\"a:1\"], \"db\": 2}}", "no db"},
        {"{\"redis\": {\"key_prefix\": \"r{w}:\"}}", "must not hold"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(config_text(bad[i][0], &c, msg, sizeof(msg)), RW_ERR_INPUT);
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
    char port[16];
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&srv, NULL, 10000, &err) == 0, "%s", err.text);
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
    rw_proc_redis_stop(&srv);
}
END_TEST

/* A write cut between a window's RPUSH and the script (on a cluster: the script's
 * master failed, the window's did not) leaves entries of messages that are not
 * stored. Evaluated again, each message counts once, as in an undisturbed run,
 * and once more when read back after the write done again appended it twice. */
/* The entries of the count-30d window's list (not the marks: a new list
 * starts with one). */
static long long window_len(redisContext *rc) {
    redisReply *keys = redisCommand(rc, "KEYS rw:wl:window_count~*");
    ck_assert_uint_eq(keys->elements, 1);
    redisReply *v = redisCommand(rc, "LRANGE %s 0 -1", keys->element[0]->str);
    long long n = 0;
    for (size_t e = 0; e < v->elements; e++)
        n += v->element[e]->str[0] != '#';
    freeReplyObject(v);
    freeReplyObject(keys);
    return n;
}

START_TEST(test_cluster_unstored_window_entries_count_once) {
    rw_redis_server_t srv;
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&srv, NULL, 10000, &err) == 0, "%s", err.text);
    rw_errors_t errs;
    rw_errors_init(&errs);
    rw_ruleset_t *rs = rw_ruleset_load_file(RULES, &errs);
    rw_errors_fini(&errs);
    ck_assert_ptr_nonnull(rs);
    rw_redis_opts_t o = {"127.0.0.1", srv.port, NULL, NULL, 0, "rw:", "t", 5000, 0};
    rw_store_t *st = rw_redisstore_new(&o);
    rw_batch_t *b = rw_batch_new(1048576, RW_STATE_CACHED);
    char ev[4][256];
    for (int i = 0; i < 4; i++)
        snprintf(ev[i], sizeof(ev[i]),
                 "{\"event_id\": \"u%d\", \"type\": \"transaction\", \"ts\": "
                 "\"2026-11-27T10:0%d:00Z\", \"account\": \"6222020200112233445\", "
                 "\"amount\": 10, \"direction\": \"in\"}",
                 i, i);
    for (int i = 0; i < 4; i++) {
        rw_batch_reset(b, rs);
        if (i == 3) /* read from Redis: the list holds the third entry twice */
            rw_batch_forget_state(b);
        rw_msg_t m = {"events", 0, i, ev[i], strlen(ev[i]), rw_now_ms(), 0, "6222020200112233445",
                      19};
        rw_batch_add(b, &m);
        rw_batch_plan(b);
        ck_assert_msg(st->load(st, b, &err) == 0, "%s", err.text);
        rw_batch_evaluate(b);
        ck_assert_uint_eq(b->items[0].n_hits, i >= 2); /* count-30d: low at 3, medium at 5 */
        if (i == 3) {
            ck_assert_int_eq(b->hits[b->items[0].hit_off].level, RW_LEVEL_LOW);
            ck_assert(b->hits[b->items[0].hit_off].measure == 4);
        }
        if (i != 2) {
            ck_assert_msg(st->apply(st, b, &err) == 0, "%s", err.text);
            continue;
        }
        /* The third message's script does not apply (its fence looks moved),
         * its RPUSH does; then the fence is as it was: the script never ran. */
        redisContext *rc = h_redis(srv.port);
        freeReplyObject(redisCommand(rc, "SET {rw}:fence:t:events:0 7"));
        ck_assert_int_eq(st->apply(st, b, &err), RW_ERR_CONFLICT);
        freeReplyObject(redisCommand(rc, "SET {rw}:fence:t:events:0 1"));
        ck_assert_int_eq(window_len(rc), 3);
        /* Read and evaluated again, as the engine does after a failed write. */
        rw_batch_forget_state(b);
        ck_assert_msg(st->load(st, b, &err) == 0, "%s", err.text);
        rw_batch_evaluate(b);
        ck_assert_uint_eq(b->items[0].n_hits, 1);
        ck_assert_int_eq(b->hits[b->items[0].hit_off].level, RW_LEVEL_LOW);
        ck_assert(b->hits[b->items[0].hit_off].measure == 3);
        ck_assert_msg(st->apply(st, b, &err) == 0, "%s", err.text);
        ck_assert_int_eq(window_len(rc), 4);
        redisFree(rc);
    }
    rw_batch_destroy(b);
    st->destroy(st);
    rw_ruleset_destroy(rs);
    rw_proc_redis_stop(&srv);
}
END_TEST

/* Replies freed with rw_rcluster_free() give their objects to the next ones: each reply
 * must still come whole, whatever object it takes (a string after an integer, an array of
 * arrays after strings, nil and errors), round after round. */
START_TEST(test_cluster_replies_reuse_objects) {
    rw_redis_server_t srv;
    rw_error_t err;
    rw_error_clear(&err);
    ck_assert_msg(rw_proc_redis_start(&srv, NULL, 10000, &err) == 0, "%s", err.text);
    rw_rcluster_opts_t o = {NULL, 0, "127.0.0.1", srv.port, NULL, 0, NULL, 2000};
    rw_rcluster_t *rc = rw_rcluster_new(&o);
    for (int round = 0; round < 4; round++) {
        char n[16];
        snprintf(n, sizeof(n), "%d", round);
        const char *del[] = {"DEL", "l"}, *push[] = {"RPUSH", "l", "a", "bb", n};
        const char *range[] = {"LRANGE", "l", "0", "-1"}, *get[] = {"GET", "nothing"};
        const char *bad[] = {"LPOP", "l", "x"}, *scan[] = {"SCAN", "0", "COUNT", "10"};
        size_t dl[] = {3, 1}, pl[] = {5, 1, 1, 2, strlen(n)}, rl[] = {6, 1, 1, 2}, gl[] = {3, 7};
        size_t bl[] = {4, 1, 1}, sl[] = {4, 1, 5, 2};
        rw_rcluster_append_argv(rc, 1, 2, del, dl, 0);
        rw_rcluster_append_argv(rc, 1, 5, push, pl, 0);
        rw_rcluster_append_argv(rc, 1, 4, range, rl, 0);
        rw_rcluster_append_argv(rc, 1, 2, get, gl, 0);
        rw_rcluster_append_argv(rc, 1, 3, bad, bl, 0);
        rw_rcluster_append_argv(rc, -1, 4, scan, sl, 0);
        ck_assert_msg(rw_rcluster_exec(rc) == 0, "%s", rw_rcluster_error(rc));
        redisReply *r[6];
        for (int i = 0; i < 6; i++)
            ck_assert_ptr_nonnull(r[i] = rw_rcluster_next(rc));
        ck_assert_int_eq(r[0]->type, REDIS_REPLY_INTEGER);
        ck_assert_int_eq(r[1]->type, REDIS_REPLY_INTEGER);
        ck_assert_int_eq(r[1]->integer, 3);
        ck_assert_ptr_null(r[1]->str);
        ck_assert_int_eq(r[2]->type, REDIS_REPLY_ARRAY);
        ck_assert_uint_eq(r[2]->elements, 3);
        ck_assert_str_eq(r[2]->element[1]->str, "bb");
        ck_assert_uint_eq(r[2]->element[1]->len, 2);
        ck_assert_str_eq(r[2]->element[2]->str, n);
        ck_assert_int_eq(r[3]->type, REDIS_REPLY_NIL);
        ck_assert_ptr_null(r[3]->str);
        ck_assert_uint_eq(r[3]->elements, 0);
        ck_assert_int_eq(r[4]->type, REDIS_REPLY_ERROR);
        ck_assert_ptr_nonnull(strstr(r[4]->str, "ERR"));
        ck_assert_int_eq(r[5]->type, REDIS_REPLY_ARRAY); /* cursor and keys: arrays in one */
        ck_assert_uint_eq(r[5]->elements, 2);
        ck_assert_int_eq(r[5]->element[1]->type, REDIS_REPLY_ARRAY);
        ck_assert_str_eq(r[5]->element[1]->element[0]->str, "l");
        for (int i = 0; i < 6; i++) /* the last round the plain way: either frees any reply */
            if (round < 3)
                rw_rcluster_free(rc, r[i]);
            else
                freeReplyObject(r[i]);
    }
    rw_rcluster_destroy(rc);
    rw_proc_redis_stop(&srv);
}
END_TEST

/* ---- a cluster of six redis-servers ---------------------------------------------------- */

static char *node_id(const cluster_t *c, int i) {
    redisReply *r = cl_node_cmd(c, i, "CLUSTER MYID");
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
    cl_start(&c);
    rw_rcluster_t *rc = cl_client(&c, 1); /* one seed: the rest is found */
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
    int a = cl_slot_owner(&c, slot, ida, sizeof(ida)), b = -1;
    for (int i = 0; i < CL_NODES && b < 0; i++)
        if (i != a && cl_node_is_master(&c, i))
            b = i;
    char *idb = node_id(&c, b);
    set_ok(rc, "{mig}a", "on-a");
    redisReply *r = cl_node_cmd(&c, b, "CLUSTER SETSLOT %u IMPORTING %s", slot, ida);
    ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = cl_node_cmd(&c, a, "CLUSTER SETSLOT %u MIGRATING %s", slot, idb);
    ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    /* A new key of the slot: A answers ASK, B takes it after ASKING. */
    set_ok(rc, "{mig}b", "on-b");
    char *v = get_text(rc, "{mig}a"); /* still on A */
    ck_assert_str_eq(v, "on-a");
    free(v);
    r = cl_node_cmd(&c, a, "MIGRATE 127.0.0.1 %d %s 0 5000 KEYS {mig}a", c.node[b].port, "");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r ? r->str : "no reply");
    freeReplyObject(r);
    v = get_text(rc, "{mig}a"); /* A answers ASK now */
    ck_assert_str_eq(v, "on-a");
    free(v);
    /* The slot is B's: every master learns it; A answers MOVED. */
    for (int i = 0; i < CL_NODES; i++)
        if (cl_node_is_master(&c, i)) {
            r = cl_node_cmd(&c, i, "CLUSTER SETSLOT %u NODE %s", slot, idb);
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
    cl_stop(&c);
}
END_TEST

/* ---- the engine over the cluster --------------------------------------------------------- */

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
    h_peers_t p;
    cluster_t c;
    h_expect_t e;
    rw_rcluster_t *rc = cl_begin(&p, &c, &e);
    char parts[8][128];
    long total = cl_split_events(EVENTS, 8, parts), sent = 0;
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s", cl_engine_config(p.mock.bootstraps, &c, "cluster-it", NULL));
    char tag_id[64];

    /* 1. An engine dies after publishing its second batch's alerts, before
     * storing its state. */
    died_t d = {h_engine_start_env(cfg, LOG, "RW_TEST_DIE=after-publish:2"), -1, rc, 0};
    cl_produce_part(&p, parts[0], &sent);
    d.counted = sent;
    h_wait(died_or_counted, &d, 60000);
    if (d.status < 0) { /* the first part was one batch */
        cl_produce_part(&p, parts[1], &sent);
        d.counted = sent;
        h_wait(died_or_counted, &d, 60000);
    }
    ck_assert_msg(d.status == 137, "the engine did not die at its second batch (%d)", d.status);
    pid_t eng = h_engine_start(cfg, LOG);
    cl_wait_counted(rc, sent, "after the engine died");

    /* 2. A manual failover of the master of the fenced state, mid-stream. */
    int master = cl_slot_owner(&c, slot_of("{rw}"), tag_id, sizeof(tag_id)), replica = -1;
    for (int i = 0; i < CL_NODES; i++) {
        redisReply *r = cl_node_cmd(&c, i, "INFO replication");
        char want[64];
        snprintf(want, sizeof(want), "master_port:%d", c.node[master].port);
        if (r && strstr(r->str, want))
            replica = i;
        if (r)
            freeReplyObject(r);
    }
    ck_assert_int_ge(replica, 0);
    if (sent < total / 4)
        cl_produce_part(&p, parts[1], &sent);
    cl_produce_part(&p, parts[2], &sent);
    redisReply *r = cl_node_cmd(&c, replica, "CLUSTER FAILOVER");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "CLUSTER FAILOVER: %s", r ? r->str : "-");
    freeReplyObject(r);
    cl_produce_part(&p, parts[3], &sent);
    cl_wait_counted(rc, sent, "after CLUSTER FAILOVER");
    ck_assert(cl_node_is_master(&c, replica));

    /* 3. The new master of the fenced state is killed (SIGKILL) mid-stream:
     * its replica takes over once the cluster sees it fail. */
    cl_produce_part(&p, parts[4], &sent);
    kill(c.node[replica].pid, SIGKILL);
    waitpid(c.node[replica].pid, NULL, 0);
    c.node[replica].pid = 0;
    c.dead[replica] = true;
    cl_produce_part(&p, parts[5], &sent);
    ck_assert_msg(h_wait(cl_ok, &c, 60000), "no failover after the master was killed");
    cl_wait_counted(rc, sent, "after a master was killed");

    /* 4. The engine is killed mid-stream and started again. */
    cl_produce_part(&p, parts[6], &sent);
    ck_assert_int_eq(h_engine_stop(eng, SIGKILL, 10000), 128 + SIGKILL);
    eng = h_engine_start(cfg, LOG);
    cl_produce_part(&p, parts[7], &sent);
    ck_assert_int_eq(sent, total);
    cl_wait_counted(rc, total, "at the end");
    ck_assert_int_eq(h_engine_stop(eng, SIGTERM, 30000), 0);

    cl_assert_outcome(&p, &c, rc, &e, total);

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
    cl_stop(&c);
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
    tcase_add_test(unit, test_cluster_replies_reuse_objects);
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
