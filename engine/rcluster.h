/*
 * Redis connections for the store, `stats` and `replay`: one plain server, or
 * a Redis Cluster, behind one pipeline.
 *
 * Debian's hiredis (0.14) has no cluster client; this is a small slot router
 * over it. Every command is queued with the key that routes it; send() writes
 * each command to the master that serves the key's hash slot (one pipeline a
 * node), recv() reads the replies back in the order the commands were queued.
 * The slot map comes from CLUSTER SLOTS, asked of any node that answers (the
 * seeds first); a MOVED reply refreshes it and sends the command again to the
 * node named, an ASK reply sends ASKING and the command to the node named.
 * Connections are made on first use and again after any error, with AUTH (and
 * SELECT on a plain server); after a connection error every connection is
 * dropped and the map is read again before the next send, so that a failover
 * is found. A command whose reply was lost may still have run: callers make
 * their writes harmless to repeat (the store's fences).
 *
 * With one plain server every slot maps to it: the same code path, no
 * CLUSTER command sent.
 */
#ifndef RW_RCLUSTER_H
#define RW_RCLUSTER_H

#include "error.h"

#include <hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_RCLUSTER_SLOTS 16384

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis Cluster
 * hashes keys. */
uint16_t rw_rcluster_crc16(const char *buf, size_t len);
/* The hash slot of a key: CRC16 of its hash tag (the text between its first
 * '{' and the first '}' after it, when that text is not empty), or else of the
 * whole key, modulo 16384. */
unsigned rw_rcluster_slot(const char *key, size_t len);

typedef struct rw_rcluster_opts {
    const char *const *seeds; /* "host:port" of cluster nodes; n_seeds 0: a plain server */
    size_t n_seeds;
    const char *host; /* the plain server */
    int port;
    const char *unix_socket; /* wins over host/port when set (plain server only) */
    int db;                  /* plain server only: a cluster has database 0 */
    const char *password;    /* NULL: no AUTH */
    int timeout_ms;          /* per command */
} rw_rcluster_opts_t;

typedef struct rw_rcluster rw_rcluster_t;

/* One connection to one server: connects, AUTHs when password is set and
 * SELECTs db when not 0. Returns a new context (free with redisFree), or NULL
 * with err filled (RW_ERR_REDIS). */
redisContext *rw_rcluster_connect(const char *host, int port, const char *unix_socket,
                                  const char *password, int db, int timeout_ms, rw_error_t *err);

/* Returns a new client (free with rw_rcluster_destroy); strings are copied,
 * nothing is connected yet. */
rw_rcluster_t *rw_rcluster_new(const rw_rcluster_opts_t *o);
void rw_rcluster_destroy(rw_rcluster_t *c);
bool rw_rcluster_is_cluster(const rw_rcluster_t *c);
/* The last error: borrowed, valid until the next call. */
const char *rw_rcluster_error(const rw_rcluster_t *c);

/* Flags of a queued command. */
#define RW_RC_WRITE 1 /* a write: rw_rcluster_sync_replicas() waits for its node's replicas */

/* Queues one command: cmd is its text in Redis's protocol (copied); key
 * (keylen bytes; NULL: any node) routes it. After recv() it starts a new
 * queue; with commands in flight it queues behind them. */
void rw_rcluster_append(rw_rcluster_t *c, const char *key, size_t keylen, const char *cmd,
                        size_t len, int flags);
/* Writes one command straight into the queue, argument by argument, for one built in
 * pieces (no copy of it elsewhere): cmd_begin() with its number of arguments, then for each
 * cmd_arg() with its length, filling the bytes it returns before the next call (key: the
 * argument that routes the command; none: any node), then cmd_end(). */
void rw_rcluster_cmd_begin(rw_rcluster_t *c, size_t argc);
char *rw_rcluster_cmd_arg(rw_rcluster_t *c, size_t len, bool key);
void rw_rcluster_cmd_end(rw_rcluster_t *c, int flags);
/* Queues one command given as arguments; argv[key_index] routes it (-1: any node). */
void rw_rcluster_append_argv(rw_rcluster_t *c, int key_index, int argc, const char **argv,
                             const size_t *argl, int flags);
/* Writes every queued command to its node, connecting where needed, without
 * waiting for replies. With commands in flight (sent, replies not read), it
 * writes those queued since right behind them: each node runs a connection's
 * commands in order, so a read queued behind a write of its key sees it, and
 * recv() then reads every reply in queue order. Returns 0, or -1 (error set;
 * the queue is dropped, and with it the replies of the commands in flight). */
int rw_rcluster_send(rw_rcluster_t *c);
/* Reads the reply of every command sent, following MOVED and ASK. Returns 0,
 * or -1 when a connection failed (error set; the replies are dropped). An
 * error reply is a reply: callers look at each. */
int rw_rcluster_recv(rw_rcluster_t *c);
/* send() and recv(). */
int rw_rcluster_exec(rw_rcluster_t *c);
/* The replies after recv(), one per queued command in queue order: returns a
 * new reply (free with rw_rcluster_free, or freeReplyObject), or NULL past the last. */
redisReply *rw_rcluster_next(rw_rcluster_t *c);
/* Frees a reply of c's connections, keeping its objects for the next replies. */
void rw_rcluster_free(rw_rcluster_t *c, redisReply *r);
/* Drops what is queued and the replies not taken. */
void rw_rcluster_reset(rw_rcluster_t *c);
/* Whether commands were sent and their replies not read yet. */
bool rw_rcluster_in_flight(const rw_rcluster_t *c);

/* After writes (RW_RC_WRITE) were read back: asks each master that took them
 * to WAIT until its replicas have them (at most wait_ms), so that a failover
 * loses nothing acknowledged. Returns the number of masters whose replicas did
 * not all confirm (0 on a plain server), or -1 when a connection failed. */
int rw_rcluster_sync_replicas(rw_rcluster_t *c, int wait_ms);

/* One command, formatted as hiredis's redisCommand, routed by key (NULL: any
 * node). Returns a new reply (free with freeReplyObject), or NULL with the
 * error set. */
redisReply *rw_rcluster_command(rw_rcluster_t *c, const char *key, const char *fmt, ...);

#endif
