/* The Redis Cluster fixture of the cluster suites (check_cluster, check_cluster_group): six
 * redis-servers on loopback made one cluster by `redis-cli --cluster create` (three masters,
 * three replicas), a router client over it, the events streamed in parts, and the end state
 * of an engine run compared with a reference: the windows, cases and cool-downs the same
 * input leaves in a plain redis-server when taken through the store in order. */
#ifndef RW_TEST_CLUSTER_H
#define RW_TEST_CLUSTER_H

#include "harness.h"
#include "rcluster.h"

#include <stdbool.h>

#define CL_NODES 6
#define CL_RULES "tests/packs/cluster.json"
#define CL_EVENTS "data/demo/events.jsonl"
#define CL_WATCHLIST "data/demo/watchlist.txt"

typedef struct cluster {
    rw_redis_server_t node[CL_NODES];
    bool dead[CL_NODES];
    char seedbuf[CL_NODES][32];
    const char *seeds[CL_NODES];
} cluster_t;

typedef struct progress {
    rw_rcluster_t *rc;
    long long want;
} cl_progress_t;

/* Every window, case and cool-down a server holds, as sorted lines
 * "key|member|score", "key|field|value" or "key|value". */
typedef struct lines {
    char **l;
    size_t n;
} cl_lines_t;

/* One node: a new connection (free with redisFree), a command (NULL when it does not
 * answer), whether it is a live master. */
redisContext *cl_node_ctx(const cluster_t *c, int i);
redisReply *cl_node_cmd(const cluster_t *c, int i, const char *fmt, ...);
bool cl_node_is_master(const cluster_t *c, int i);
/* For h_wait: every live node sees the cluster ok, and every live replica is in sync. */
bool cl_ok(void *arg);
/* Runs argv with stdout and stderr to /dev/null; returns its exit code. */
int cl_run_quiet(const char *const *argv);
/* Starts the six servers and makes them a cluster; waits until it is ok. */
void cl_start(cluster_t *c);
void cl_stop(cluster_t *c);
/* A router client over the first n_seeds nodes. */
rw_rcluster_t *cl_client(const cluster_t *c, size_t n_seeds);
/* The node (index) a slot's master is, as CLUSTER SLOTS says, and its id. */
int cl_slot_owner(const cluster_t *c, unsigned slot, char *id, size_t idlen);

/* Sum of every field of every hash matching pattern (its hash tag routes it). */
long long cl_hsum(rw_rcluster_t *rc, const char *pattern);
/* For h_wait (a cl_progress_t): {rw}:events:* counts at least want messages. */
bool cl_all_counted(void *arg);
/* Waits up to 120 s (stretched) until want messages are counted. */
void cl_wait_counted(rw_rcluster_t *rc, long want, const char *when);

/* Every window, case and cool-down one server holds, as lines (cl_lines_t); a
 * window as the engine reads its list: each member once, with its time. */
void cl_lines_add(cl_lines_t *ls, const char *a, const char *b, const char *cc);
void cl_state_dump(redisContext *ctx, cl_lines_t *out);
int cl_cmp_line(const void *a, const void *b);
void cl_lines_free(cl_lines_t *ls);
/* The state of the input topics as the brokers hold them, taken through the store in order,
 * one partition after another, into the plain redis-server at port, sorted. */
void cl_reference_state(const char *brokers, int port, const char *rules, cl_lines_t *out);
/* The state every master of the cluster holds, sorted. */
void cl_masters_state(const cluster_t *c, cl_lines_t *out);
/* The same lines, one by one. */
void cl_assert_same_state(const cl_lines_t *want, const cl_lines_t *got);

/* The end of an engine run over the cluster, against the undisturbed one: every message
 * counted once (total), the replay's counters (e) on the master of the {rw} slot, the
 * replay's alerts on risk.alerts (each at least once, no other), and every master's
 * windows, cases and cool-downs those of cl_reference_state (the plain server of p). */
void cl_assert_outcome(const h_peers_t *p, const cluster_t *c, rw_rcluster_t *rc,
                       const h_expect_t *e, long total);

/* SADDs every line of a file to key, on the cluster and on a plain server. */
void cl_sadd_file(rw_rcluster_t *rc, redisContext *plain, const char *key, const char *path);
/* The start of an engine run over the cluster: the peers (the mock Kafka cluster, and a plain
 * redis-server for the reference), the Redis cluster c, CL_WATCHLIST on both, and in *e the
 * replay of CL_EVENTS with CL_RULES against the plain server (with high alerts). Returns a
 * router client over every node. */
rw_rcluster_t *cl_begin(h_peers_t *p, cluster_t *c, h_expect_t *e);
/* Splits a JSON-lines file into parts files of about equal line counts, in order. Returns
 * the number of lines. */
long cl_split_events(const char *events, int parts, char out[][128]);
/* An ENGINE.json on the cluster (its first two nodes as seeds) with CL_RULES; with a
 * group.instance.id when instance is not NULL. */
const char *cl_engine_config(const char *brokers, const cluster_t *c, const char *group,
                             const char *instance);
/* Produces a part of the events the way the demo routes them, and adds the count to *sent. */
void cl_produce_part(const h_peers_t *p, const char *path, long *sent);

#endif
