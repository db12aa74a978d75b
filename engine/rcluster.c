#include "rcluster.h"

#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define REDIRECTS_MAX 5 /* MOVED/ASK hops for one command */

uint16_t rw_rcluster_crc16(const char *buf, size_t len) {
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint8_t)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned rw_rcluster_slot(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(open + 1, '}', len - from);
        if (close && close > open + 1)
            return rw_rcluster_crc16(open + 1, (size_t)(close - open - 1)) &
                   (RW_RCLUSTER_SLOTS - 1);
    }
    return rw_rcluster_crc16(key, len) & (RW_RCLUSTER_SLOTS - 1);
}

typedef struct rc_node {
    char *host; /* or a unix socket's path (port 0) */
    int port;
    redisContext *ctx;
    int replicas; /* as the last map said */
    bool written; /* took writes since the last sync_replicas() */
    bool queued;  /* has commands written to its buffer and not flushed */
} rc_node_t;

typedef struct rc_entry {
    int slot; /* -1: any node */
    int node; /* where it went; -1: not sent */
    size_t off, len;
    int flags;
    redisReply *reply;
} rc_entry_t;

enum { RC_QUEUING, RC_SENT, RC_RECEIVED };

/* Reply objects kept for reuse (rw_rcluster_free): up to a batch's worth. */
#define POOL_MAX 4096
/* A reader's buffer, once read empty, is freed only when it holds more than this (hiredis
 * frees it past 16 KiB, so that a batch's replies made it grow again every batch); one
 * reply larger than this (a long window read whole) does not keep its size. */
#define REPLY_BUF_KEPT ((size_t)1 << 20)

typedef struct reply_pool {
    redisReply **v;
    size_t n;
} reply_pool_t;

struct rw_rcluster {
    rw_rcluster_opts_t o;
    char *host, *unix_socket, *password;
    bool cluster;
    rc_node_t *nodes;
    size_t n_nodes, cap_nodes;
    int16_t *slots; /* slot -> node; -1: unknown */
    bool map_ok;
    rc_entry_t *q;
    size_t n, cap, next;
    size_t n_sent; /* q[0..n_sent) are sent; the rest are queued behind them */
    int state;
    rw_buf_t text; /* the queued commands' protocol text */
    /* A command being written in place (cmd_begin .. cmd_end): where it starts, and
     * its routing argument's bytes (key_len SIZE_MAX: none yet). */
    size_t cmd_off, key_off, key_len;
    reply_pool_t pool;
    char err[256];
};

static int node_add(rw_rcluster_t *c, const char *host, size_t hlen, int port) {
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].port == port && strlen(c->nodes[i].host) == hlen &&
            memcmp(c->nodes[i].host, host, hlen) == 0)
            return (int)i;
    if (c->n_nodes == c->cap_nodes) {
        c->cap_nodes = c->cap_nodes ? c->cap_nodes * 2 : 8;
        c->nodes = rw_realloc(c->nodes, c->cap_nodes * sizeof(*c->nodes));
    }
    c->nodes[c->n_nodes] = (rc_node_t){.host = rw_strndup(host, hlen), .port = port};
    return (int)c->n_nodes++;
}

rw_rcluster_t *rw_rcluster_new(const rw_rcluster_opts_t *o) {
    rw_rcluster_t *c = rw_calloc(1, sizeof(*c));
    c->o = *o;
    c->o.host = c->host = rw_strdup(o->host ? o->host : "127.0.0.1");
    c->o.unix_socket = c->unix_socket = o->unix_socket ? rw_strdup(o->unix_socket) : NULL;
    c->o.password = c->password = o->password ? rw_strdup(o->password) : NULL;
    c->o.seeds = NULL;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 5000;
    c->slots = rw_malloc(RW_RCLUSTER_SLOTS * sizeof(*c->slots));
    c->cluster = o->n_seeds > 0;
    if (c->cluster) {
        for (size_t i = 0; i < o->n_seeds; i++) {
            const char *s = o->seeds[i], *colon = strrchr(s, ':');
            if (colon)
                node_add(c, s, (size_t)(colon - s), (int)strtol(colon + 1, NULL, 10));
        }
        memset(c->slots, 0xff, RW_RCLUSTER_SLOTS * sizeof(*c->slots));
    } else {
        const char *h = c->unix_socket && *c->unix_socket ? c->unix_socket : c->host;
        node_add(c, h, strlen(h), c->unix_socket && *c->unix_socket ? 0 : c->o.port);
        memset(c->slots, 0, RW_RCLUSTER_SLOTS * sizeof(*c->slots));
        c->map_ok = true;
    }
    rw_buf_init(&c->text);
    return c;
}

bool rw_rcluster_is_cluster(const rw_rcluster_t *c) { return c->cluster; }
const char *rw_rcluster_error(const rw_rcluster_t *c) { return c->err; }
bool rw_rcluster_in_flight(const rw_rcluster_t *c) { return c->state == RC_SENT; }

void rw_rcluster_free(rw_rcluster_t *c, redisReply *r) {
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++)
            rw_rcluster_free(c, r->element[i]);
        free(r->element);
    } else {
        free(r->str);
    }
    if (c->pool.n == POOL_MAX) {
        free(r);
        return;
    }
    if (!c->pool.v)
        c->pool.v = rw_malloc(POOL_MAX * sizeof(redisReply *));
    c->pool.v[c->pool.n++] = r;
}

void rw_rcluster_reset(rw_rcluster_t *c) {
    for (size_t i = 0; i < c->n; i++)
        rw_rcluster_free(c, c->q[i].reply);
    c->n = c->next = c->n_sent = 0;
    c->state = RC_QUEUING;
    rw_buf_reset(&c->text);
}

/* Drops every connection after an error: replies would no longer match their
 * commands. The map is read again before the next send. */
static void drop_all(rw_rcluster_t *c) {
    for (size_t i = 0; i < c->n_nodes; i++) {
        if (c->nodes[i].ctx)
            redisFree(c->nodes[i].ctx);
        c->nodes[i].ctx = NULL;
        c->nodes[i].queued = c->nodes[i].written = false;
    }
    if (c->cluster)
        c->map_ok = false;
    rw_rcluster_reset(c);
}

static int fail(rw_rcluster_t *c, const rc_node_t *n, const char *what) {
    snprintf(c->err, sizeof(c->err), "redis %s:%d: %s: %s", n->host, n->port, what,
             n->ctx && n->ctx->err ? n->ctx->errstr : "connection lost");
    drop_all(c);
    return -1;
}

void rw_rcluster_destroy(rw_rcluster_t *c) {
    if (!c)
        return;
    drop_all(c);
    for (size_t i = 0; i < c->n_nodes; i++)
        free(c->nodes[i].host);
    free(c->nodes);
    free(c->slots);
    free(c->q);
    for (size_t i = 0; i < c->pool.n; i++)
        free(c->pool.v[i]);
    free(c->pool.v);
    rw_buf_fini(&c->text);
    free(c->host);
    free(c->unix_socket);
    free(c->password);
    free(c);
}

/* A command's reply that is an error: RW_ERR_REDIS with err filled. */
static int reply_failed(redisContext *ctx, redisReply *r, const char *what, rw_error_t *err) {
    if (r && r->type != REDIS_REPLY_ERROR)
        return 0;
    return rw_error_fail(err, RW_ERR_REDIS, "redis %s failed: %s", what, r ? r->str : ctx->errstr);
}

redisContext *rw_rcluster_connect(const char *host, int port, const char *unix_socket,
                                  const char *password, int db, int timeout_ms, rw_error_t *err) {
    struct timeval tv = {timeout_ms / 1000, (suseconds_t)(timeout_ms % 1000) * 1000};
    redisContext *ctx = unix_socket && *unix_socket ? redisConnectUnixWithTimeout(unix_socket, tv)
                                                    : redisConnectWithTimeout(host, port, tv);
    if (!ctx || ctx->err) {
        rw_error_fail(err, RW_ERR_REDIS, "redis %s:%d: %s",
                      unix_socket && *unix_socket ? unix_socket : host, port,
                      ctx ? ctx->errstr : "cannot allocate context");
        if (ctx)
            redisFree(ctx);
        return NULL;
    }
    redisSetTimeout(ctx, tv);
    redisReply *r = NULL;
    int bad = 0;
    if (password && *password) {
        r = redisCommand(ctx, "AUTH %s", password);
        bad = reply_failed(ctx, r, "AUTH", err);
        if (r)
            freeReplyObject(r);
    }
    if (!bad && db) {
        char what[32];
        snprintf(what, sizeof(what), "SELECT %d", db);
        r = redisCommand(ctx, "SELECT %d", db);
        bad = reply_failed(ctx, r, what, err);
        if (r)
            freeReplyObject(r);
    }
    if (bad) {
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

/* The reader's objects, as hiredis makes them (each malloc'd: freeReplyObject frees any),
 * but taken from the client's pool when it has one: hiredis's own are calloc'd, which glibc
 * serves past its per-thread cache, and a batch's write reads back hundreds of replies. */
static redisReply *reply_new(const redisReadTask *task, int type) {
    reply_pool_t *p = task->privdata;
    redisReply *r = p && p->n ? p->v[--p->n] : malloc(sizeof(*r));
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *reply_string(const redisReadTask *task, char *str, size_t len) {
    char *buf = malloc(len + 1);
    redisReply *r = buf ? reply_new(task, task->type) : NULL;
    if (!r) {
        free(buf);
        return NULL;
    }
    memcpy(buf, str, len);
    buf[len] = 0;
    r->str = buf;
    r->len = len;
    return r;
}

static void *reply_array(const redisReadTask *task, int elements) {
    redisReply **v = elements > 0 ? calloc((size_t)elements, sizeof(redisReply *)) : NULL;
    redisReply *r = v || elements <= 0 ? reply_new(task, REDIS_REPLY_ARRAY) : NULL;
    if (!r) {
        free(v);
        return NULL;
    }
    r->element = v;
    r->elements = elements > 0 ? (size_t)elements : 0;
    return r;
}

static void *reply_integer(const redisReadTask *task, long long value) {
    redisReply *r = reply_new(task, REDIS_REPLY_INTEGER);
    if (r)
        r->integer = value;
    return r;
}

static void *reply_nil(const redisReadTask *task) { return reply_new(task, REDIS_REPLY_NIL); }

static redisReplyObjectFunctions reply_fns = {reply_string, reply_array, reply_integer, reply_nil,
                                              freeReplyObject};

static int node_connect(rw_rcluster_t *c, rc_node_t *n) {
    if (n->ctx)
        return 0;
    bool sock = !c->cluster && c->unix_socket && *c->unix_socket;
    rw_error_t err;
    rw_error_clear(&err);
    n->ctx = rw_rcluster_connect(n->host, n->port, sock ? c->unix_socket : NULL, c->password,
                                 c->cluster ? 0 : c->o.db, c->o.timeout_ms, &err);
    if (!n->ctx) {
        snprintf(c->err, sizeof(c->err), "%.255s", err.text);
        return -1;
    }
    n->ctx->reader->fn = &reply_fns;
    n->ctx->reader->privdata = &c->pool;
    n->ctx->reader->maxbuf = REPLY_BUF_KEPT;
    return 0;
}

/* Fills the map from one CLUSTER SLOTS reply; n is the node that gave it. */
static int map_fill(rw_rcluster_t *c, const rc_node_t *from, const redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || !r->elements)
        return -1;
    memset(c->slots, 0xff, RW_RCLUSTER_SLOTS * sizeof(*c->slots));
    char *from_host = rw_strdup(from->host); /* nodes may move as they grow */
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
            continue;
        const redisReply *m = e->element[2];
        const char *h = m->element[0]->type == REDIS_REPLY_STRING && m->element[0]->len
                            ? m->element[0]->str
                            : from_host;
        int node = node_add(c, h, strlen(h), (int)m->element[1]->integer);
        c->nodes[node].replicas = (int)e->elements - 3;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        for (long long s = lo; s <= hi && s < RW_RCLUSTER_SLOTS; s++)
            if (s >= 0)
                c->slots[s] = (int16_t)node;
    }
    free(from_host);
    return 0;
}

/* Reads the slot map from the first node that answers. */
static int map_refresh(rw_rcluster_t *c) {
    char first[256] = "";
    for (size_t i = 0; i < c->n_nodes; i++) {
        rc_node_t *n = &c->nodes[i];
        if (node_connect(c, n) != 0) {
            if (!*first)
                snprintf(first, sizeof(first), "%s", c->err);
            continue;
        }
        redisReply *r = redisCommand(n->ctx, "CLUSTER SLOTS");
        int rc = r ? map_fill(c, n, r) : -1;
        n = &c->nodes[i]; /* the map may have added nodes */
        if (rc != 0)
            snprintf(c->err, sizeof(c->err), "redis %s:%d: CLUSTER SLOTS: %s", n->host, n->port,
                     r && r->type == REDIS_REPLY_ERROR ? r->str
                     : r                               ? "unexpected reply"
                                                       : n->ctx->errstr);
        rw_rcluster_free(c, r);
        if (rc == 0) {
            c->map_ok = true;
            return 0;
        }
        if (!*first)
            snprintf(first, sizeof(first), "%s", c->err);
        redisFree(n->ctx);
        n->ctx = NULL;
    }
    snprintf(c->err, sizeof(c->err), "redis cluster: no node gave the slot map (%.200s)",
             *first ? first : "no nodes");
    return -1;
}

/* Queues the command whose text is text[off, off + len), routed by key. */
static void queue_entry(rw_rcluster_t *c, const char *key, size_t keylen, size_t off, size_t len,
                        int flags) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->q = rw_realloc(c->q, c->cap * sizeof(*c->q));
    }
    /* One server serves every slot: no hashing. */
    c->q[c->n++] = (rc_entry_t){.slot = key && c->cluster ? (int)rw_rcluster_slot(key, keylen) : -1,
                                .node = -1,
                                .off = off,
                                .len = len,
                                .flags = flags};
}

void rw_rcluster_append(rw_rcluster_t *c, const char *key, size_t keylen, const char *cmd,
                        size_t len, int flags) {
    if (c->state == RC_RECEIVED)
        rw_rcluster_reset(c);
    queue_entry(c, key, keylen, c->text.len, len, flags);
    rw_buf_append(&c->text, cmd, len);
}

/* "<lead>N\r\n" into the queue's text, with room for more bytes after it; returns that room. */
static char *text_count(rw_rcluster_t *c, char lead, size_t n, size_t more) {
    char head[32];
    head[0] = lead;
    size_t hl = 1 + rw_number_i64_text((int64_t)n, head + 1);
    head[hl++] = '\r';
    head[hl++] = '\n';
    char *w = rw_buf_room(&c->text, hl + more);
    memcpy(w, head, hl);
    return w + hl;
}

void rw_rcluster_cmd_begin(rw_rcluster_t *c, size_t argc) {
    if (c->state == RC_RECEIVED)
        rw_rcluster_reset(c);
    c->cmd_off = c->text.len;
    c->key_len = SIZE_MAX;
    text_count(c, '*', argc, 0);
}

char *rw_rcluster_cmd_arg(rw_rcluster_t *c, size_t len, bool key) {
    char *w = text_count(c, '$', len, len + 2);
    w[len] = '\r';
    w[len + 1] = '\n';
    if (key) {
        c->key_off = (size_t)(w - c->text.data);
        c->key_len = len;
    }
    return w;
}

void rw_rcluster_cmd_end(rw_rcluster_t *c, int flags) {
    bool keyed = c->key_len != SIZE_MAX;
    queue_entry(c, keyed ? c->text.data + c->key_off : NULL, keyed ? c->key_len : 0, c->cmd_off,
                c->text.len - c->cmd_off, flags);
}

void rw_rcluster_append_argv(rw_rcluster_t *c, int key_index, int argc, const char **argv,
                             const size_t *argl, int flags) {
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argl);
    if (len < 0)
        return;
    rw_rcluster_append(c, key_index >= 0 ? argv[key_index] : NULL,
                       key_index >= 0 ? argl[key_index] : 0, cmd, (size_t)len, flags);
    redisFreeCommand(cmd);
}

/* The node a slot goes to: -1 when no node serves it. */
static int route(const rw_rcluster_t *c, int slot) {
    if (slot >= 0)
        return c->slots[slot];
    for (int s = 0; s < RW_RCLUSTER_SLOTS; s++)
        if (c->slots[s] >= 0)
            return c->slots[s];
    return -1;
}

static int flush(rw_rcluster_t *c) {
    for (size_t i = 0; i < c->n_nodes; i++) {
        rc_node_t *n = &c->nodes[i];
        int done = !n->queued;
        while (!done)
            if (redisBufferWrite(n->ctx, &done) != REDIS_OK)
                return fail(c, n, "write");
        n->queued = false;
    }
    return 0;
}

int rw_rcluster_send(rw_rcluster_t *c) {
    if (c->state == RC_RECEIVED) {
        snprintf(c->err, sizeof(c->err), "redis: the commands were answered already");
        return -1;
    }
    /* With commands in flight the map is the one they went by (a send reads it
     * first; only a reply or a failure finds it out of date). */
    if (c->state == RC_QUEUING && !c->map_ok && map_refresh(c) != 0) {
        drop_all(c);
        return -1;
    }
    /* Commands next to each other in the text and bound for the same node go to its
     * connection's buffer in one piece (one node: the whole queue). */
    rc_node_t *run = NULL;
    size_t run_off = 0, run_len = 0;
    for (size_t i = c->n_sent; i < c->n; i++) {
        rc_entry_t *e = &c->q[i];
        int node = route(c, e->slot);
        if (node < 0) {
            snprintf(c->err, sizeof(c->err), "redis cluster: no node serves slot %d", e->slot);
            drop_all(c);
            return -1;
        }
        rc_node_t *n = &c->nodes[node];
        if (node_connect(c, n) != 0) {
            drop_all(c);
            return -1;
        }
        if (run && (run != n || e->off != run_off + run_len)) {
            redisAppendFormattedCommand(run->ctx, c->text.data + run_off, run_len);
            run = NULL;
        }
        if (!run) {
            run = n;
            run_off = e->off;
            run_len = 0;
        }
        run_len += e->len;
        n->queued = true;
        e->node = node;
    }
    if (run)
        redisAppendFormattedCommand(run->ctx, c->text.data + run_off, run_len);
    if (flush(c) != 0)
        return -1;
    c->n_sent = c->n;
    c->state = RC_SENT;
    return 0;
}

/* Whether a reply is a redirection: fills the node it names. */
static bool redirected(rw_rcluster_t *c, const redisReply *r, bool *ask, int *node, int *slot) {
    if (!r || r->type != REDIS_REPLY_ERROR)
        return false;
    *ask = strncmp(r->str, "ASK ", 4) == 0;
    if (!*ask && strncmp(r->str, "MOVED ", 6) != 0)
        return false;
    const char *p = r->str + (*ask ? 4 : 6), *sp = strchr(p, ' ');
    const char *addr = sp ? sp + 1 : NULL, *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon)
        return false;
    *slot = (int)strtol(p, NULL, 10);
    *node = node_add(c, addr, (size_t)(colon - addr), (int)strtol(colon + 1, NULL, 10));
    return true;
}

/* Sends one command again, where a redirection says, and reads its reply. */
static int resend(rw_rcluster_t *c, rc_entry_t *e, int node, bool ask) {
    rc_node_t *n = &c->nodes[node];
    if (node_connect(c, n) != 0) {
        drop_all(c);
        return -1;
    }
    if (ask)
        redisAppendCommand(n->ctx, "ASKING");
    redisAppendFormattedCommand(n->ctx, c->text.data + e->off, e->len);
    n->queued = true;
    if (flush(c) != 0)
        return -1;
    redisReply *r = NULL;
    if (ask) {
        if (redisGetReply(n->ctx, (void **)&r) != REDIS_OK)
            return fail(c, n, "read");
        rw_rcluster_free(c, r);
    }
    if (redisGetReply(n->ctx, (void **)&r) != REDIS_OK)
        return fail(c, n, "read");
    rw_rcluster_free(c, e->reply);
    e->reply = r;
    e->node = node;
    return 0;
}

static int follow_redirects(rw_rcluster_t *c) {
    for (int round = 0; round < REDIRECTS_MAX; round++) {
        bool any = false;
        for (size_t i = 0; i < c->n; i++) {
            rc_entry_t *e = &c->q[i];
            bool ask;
            int node, slot;
            if (!redirected(c, e->reply, &ask, &node, &slot))
                continue;
            if (!c->cluster) {
                snprintf(c->err, sizeof(c->err),
                         "redis %s:%d is a Redis Cluster node (it answered %s): name the "
                         "cluster's nodes in redis.cluster_nodes",
                         c->nodes[0].host, c->nodes[0].port, e->reply->str);
                drop_all(c);
                return -1;
            }
            if (!ask) { /* the map is out of date: this slot now, the rest before the next send */
                if (slot >= 0 && slot < RW_RCLUSTER_SLOTS)
                    c->slots[slot] = (int16_t)node;
                c->map_ok = false;
            }
            if (resend(c, e, node, ask) != 0)
                return -1;
            any = true;
        }
        if (!any)
            break;
    }
    return 0;
}

int rw_rcluster_recv(rw_rcluster_t *c) {
    if (c->state != RC_SENT) {
        snprintf(c->err, sizeof(c->err), "redis: nothing was sent");
        return -1;
    }
    if (c->n_sent < c->n && rw_rcluster_send(c) != 0)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        rc_entry_t *e = &c->q[i];
        rc_node_t *n = &c->nodes[e->node];
        if (redisGetReply(n->ctx, (void **)&e->reply) != REDIS_OK)
            return fail(c, n, "read");
    }
    if (follow_redirects(c) != 0)
        return -1;
    for (size_t i = 0; i < c->n; i++)
        if ((c->q[i].flags & RW_RC_WRITE) && c->q[i].reply->type != REDIS_REPLY_ERROR)
            c->nodes[c->q[i].node].written = true;
    c->state = RC_RECEIVED;
    c->next = 0;
    return 0;
}

int rw_rcluster_exec(rw_rcluster_t *c) {
    if (c->state == RC_RECEIVED) /* nothing queued since */
        rw_rcluster_reset(c);
    if ((c->state == RC_QUEUING || c->n_sent < c->n) && rw_rcluster_send(c) != 0)
        return -1;
    return rw_rcluster_recv(c);
}

redisReply *rw_rcluster_next(rw_rcluster_t *c) {
    if (c->state != RC_RECEIVED || c->next >= c->n)
        return NULL;
    redisReply *r = c->q[c->next].reply;
    c->q[c->next++].reply = NULL;
    return r;
}

int rw_rcluster_sync_replicas(rw_rcluster_t *c, int wait_ms) {
    int short_of = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        rc_node_t *n = &c->nodes[i];
        if (!n->written || !n->replicas || !n->ctx)
            continue;
        redisAppendCommand(n->ctx, "WAIT %d %d", n->replicas, wait_ms);
        n->queued = true;
    }
    if (flush(c) != 0)
        return -1;
    for (size_t i = 0; i < c->n_nodes; i++) {
        rc_node_t *n = &c->nodes[i];
        if (!n->written)
            continue;
        n->written = false;
        if (!n->replicas || !n->ctx)
            continue;
        redisReply *r;
        if (redisGetReply(n->ctx, (void **)&r) != REDIS_OK)
            return fail(c, n, "WAIT");
        if (r->type != REDIS_REPLY_INTEGER || r->integer < n->replicas) {
            short_of++;
            c->map_ok = false; /* a replica may have failed: read the map again */
        }
        rw_rcluster_free(c, r);
    }
    return short_of;
}

redisReply *rw_rcluster_command(rw_rcluster_t *c, const char *key, const char *fmt, ...) {
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) {
        snprintf(c->err, sizeof(c->err), "redis: cannot format %s", fmt);
        return NULL;
    }
    rw_rcluster_reset(c);
    rw_rcluster_append(c, key, key ? strlen(key) : 0, cmd, (size_t)len, 0);
    redisFreeCommand(cmd);
    if (rw_rcluster_exec(c) != 0)
        return NULL;
    redisReply *r = rw_rcluster_next(c);
    rw_rcluster_reset(c);
    return r;
}
