#include "store.h"

#include "rcluster.h"

#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- memory store ------------------------------------------------------------------- */

typedef struct memstore {
    rw_store_t base;
    rw_memstore_counter_t *c;
    size_t n, cap;
    size_t *idx; /* open addressing over c by key and field: index + 1, 0 empty */
    size_t idx_size;
    rw_rcluster_t *lookups; /* optional: resolves watchlist sets */
    char *prefix;
} memstore_t;

static int lookups_read(rw_rcluster_t *c, rw_batch_t *b);

/* Queues a SISMEMBER for every lookup of the batch, in table order. */
static void lookups_send(rw_rcluster_t *c, const char *prefix, const rw_batch_t *b) {
    rw_buf_t key;
    rw_buf_init(&key);
    for (size_t i = 0; i < b->ltab_size; i++)
        for (rw_lookup_t *l = b->ltab[i]; l; l = l->next) {
            rw_buf_reset(&key);
            rw_buf_printf(&key, "%slist:%s", prefix, l->set);
            const char *argv[] = {"SISMEMBER", key.data, l->member};
            size_t argl[] = {9, key.len, strlen(l->member)};
            rw_rcluster_append_argv(c, 1, 3, argv, argl, 0);
        }
    rw_buf_fini(&key);
}

static int mem_load(rw_store_t *s, rw_batch_t *b, rw_error_t *err) {
    memstore_t *m = (memstore_t *)s;
    if (!m->lookups)
        return 0;
    rw_rcluster_reset(m->lookups);
    lookups_send(m->lookups, m->prefix, b);
    if (rw_rcluster_exec(m->lookups) != 0 || lookups_read(m->lookups, b) != 0)
        return rw_error_fail(err, RW_ERR_REDIS, "%s", rw_rcluster_error(m->lookups));
    return 0;
}

int rw_memstore_use_redis(rw_store_t *s, const rw_redis_opts_t *o, rw_error_t *err) {
    return rw_memstore_use_cluster(s, o, NULL, 0, err);
}

int rw_memstore_use_cluster(rw_store_t *s, const rw_redis_opts_t *o, const char *const *seeds,
                            size_t n_seeds, rw_error_t *err) {
    memstore_t *m = (memstore_t *)s;
    m->lookups = rw_store_redis_open(o, seeds, n_seeds);
    /* Connects now, so that a wrong address is said at once. */
    redisReply *r = rw_rcluster_command(m->lookups, NULL, "PING");
    if (!r) {
        rw_error_fail(err, RW_ERR_REDIS, "%s", rw_rcluster_error(m->lookups));
        rw_rcluster_destroy(m->lookups);
        m->lookups = NULL;
        return RW_ERR_REDIS;
    }
    rw_rcluster_free(m->lookups, r);
    m->prefix = rw_strdup(o->prefix ? o->prefix : "rw:");
    return 0;
}

static uint64_t counter_hash(const char *key, const char *field) {
    return rw_hash64(key, strlen(key)) * 31 + rw_hash64(field, strlen(field));
}

/* Where counter (key, field) is or goes in the index. */
static size_t counter_slot(const memstore_t *m, const char *key, const char *field) {
    size_t s = (size_t)counter_hash(key, field) & (m->idx_size - 1);
    while (m->idx[s] && (strcmp(m->c[m->idx[s] - 1].key, key) != 0 ||
                         strcmp(m->c[m->idx[s] - 1].field, field) != 0))
        s = (s + 1) & (m->idx_size - 1);
    return s;
}

/* Room in the index for one more counter: at most half full. */
static void counter_room(memstore_t *m) {
    if ((m->n + 1) * 2 <= m->idx_size)
        return;
    free(m->idx);
    m->idx_size = m->idx_size ? m->idx_size * 2 : 256;
    m->idx = rw_calloc(m->idx_size, sizeof(*m->idx));
    for (size_t k = 0; k < m->n; k++)
        m->idx[counter_slot(m, m->c[k].key, m->c[k].field)] = k + 1;
}

static int mem_apply(rw_store_t *s, rw_batch_t *b, rw_error_t *err) {
    (void)err;
    memstore_t *m = (memstore_t *)s;
    for (rw_incr_t *i = b->incrs; i; i = i->next) {
        counter_room(m);
        size_t slot = counter_slot(m, i->key, i->field);
        if (!m->idx[slot]) {
            if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 64;
                m->c = rw_realloc(m->c, m->cap * sizeof(*m->c));
            }
            m->c[m->n++] = (rw_memstore_counter_t){rw_strdup(i->key), rw_strdup(i->field), 0};
            m->idx[slot] = m->n;
        }
        m->c[m->idx[slot] - 1].value += i->by;
    }
    return 0;
}

static int mem_apply_wait(rw_store_t *s, rw_error_t *err) {
    (void)s;
    (void)err;
    return 0;
}

static void mem_destroy(rw_store_t *s) {
    memstore_t *m = (memstore_t *)s;
    for (size_t k = 0; k < m->n; k++) {
        free(m->c[k].key);
        free(m->c[k].field);
    }
    free(m->c);
    free(m->idx);
    rw_rcluster_destroy(m->lookups);
    free(m->prefix);
    free(m);
}

rw_store_t *rw_memstore_new(void) {
    memstore_t *m = rw_calloc(1, sizeof(*m));
    m->base.load = mem_load;
    m->base.apply = mem_apply;
    m->base.apply_send = mem_apply;
    m->base.apply_wait = mem_apply_wait;
    m->base.destroy = mem_destroy;
    return &m->base;
}

const rw_memstore_counter_t *rw_memstore_counters(rw_store_t *s, size_t *n) {
    memstore_t *m = (memstore_t *)s;
    *n = m->n;
    return m->c;
}

/* ---- Redis store ---------------------------------------------------------------------- */

/* Time-to-live of keys, in seconds: counters stay for dashboards, fences long
 * enough to cover any re-read. Window keys live for their window plus an hour. */
#define COUNTER_TTL_S ((int64_t)40 * 86400)
#define FENCE_TTL_S ((int64_t)30 * 86400)
#define WINDOW_GRACE_MS ((int64_t)3600 * 1000)
#define CASE_TTL_S (90 * 86400)

/* Reads the cases due by a time: KEYS due zset, hash; ARGV horizon, limit.
 * Returns id, record, id, record, ... */
static const char due_script[] =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  out[#out + 1] = id\n"
    "  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''\n"
    "end\n"
    "return out\n";
#define DUE_LIMIT 10000

/* KEYS[1]: a key of the fenced keys' hash slot (every key the script touches
 * shares it: see rw_store_tag_prefix). ARGV: the engine's state marker's
 * key, "1" when the engine saw it in Redis (state is expected), its value,
 * nfences, then nfences x (key, expected, new), then ops:
 *   H key field by ttl_s   HINCRBY + EXPIRE
 *   S key value ttl_ms     SET (a cool-down)
 *   C ...                  a case (below)
 *   T key writer seq       a journal's trim: drops its leading elements written by
 *                          writer at or before seq, and stops at the first that is not
 * Returns 1 when applied, 0 when a fence moved, 2 when the state is lost: the
 * engine's marker is gone while expected (nothing applied in either case).
 * Every write sets the marker, with the fences' time-to-live. */
static const char apply_script[] =
    "if ARGV[2] == '1' and redis.call('EXISTS', ARGV[1]) == 0 then return 2 end\n"
    "local n = tonumber(ARGV[4])\n"
    "local i = 5\n"
    "for f = 1, n do\n"
    "  local cur = redis.call('GET', ARGV[i])\n"
    "  if (cur or '') ~= ARGV[i + 1] then return 0 end\n"
    "  i = i + 3\n"
    "end\n"
    "redis.call('SET', ARGV[1], ARGV[3], 'EX', " /* fence ttl */ "%d)\n"
    "i = 5\n"
    "for f = 1, n do\n"
    "  redis.call('SET', ARGV[i], ARGV[i + 2], 'EX', " /* fence ttl */ "%d)\n"
    "  i = i + 3\n"
    "end\n"
    "while i <= #ARGV do\n"
    "  local op = ARGV[i]\n"
    "  if op == 'H' then\n"
    "    redis.call('HINCRBY', ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])\n"
    "    redis.call('EXPIRE', ARGV[i + 1], ARGV[i + 4])\n"
    "    i = i + 5\n"
    "  elseif op == 'S' then\n" /* key value ttl_ms */
    "    redis.call('SET', ARGV[i + 1], ARGV[i + 2], 'PX', ARGV[i + 3])\n"
    "    i = i + 4\n"
    "  elseif op == 'C' then\n" /* case: hash key, due key, id, record ('' closed), due, ttl */
    "    if ARGV[i + 4] == '' then\n"
    "      redis.call('HDEL', ARGV[i + 1], ARGV[i + 3])\n"
    "      redis.call('ZREM', ARGV[i + 2], ARGV[i + 3])\n"
    "    else\n"
    "      redis.call('HSET', ARGV[i + 1], ARGV[i + 3], ARGV[i + 4])\n"
    "      if ARGV[i + 5] == '' then redis.call('ZREM', ARGV[i + 2], ARGV[i + 3])\n"
    "      else redis.call('ZADD', ARGV[i + 2], ARGV[i + 5], ARGV[i + 3]) end\n"
    "      redis.call('EXPIRE', ARGV[i + 1], ARGV[i + 6])\n"
    "      redis.call('EXPIRE', ARGV[i + 2], ARGV[i + 6])\n"
    "    end\n"
    "    i = i + 7\n"
    "  elseif op == 'T' then\n"
    "    local key, k = ARGV[i + 1], 0\n"
    "    while true do\n"
    "      local e = redis.call('LINDEX', key, k)\n"
    "      if not e then break end\n"
    "      local w, sq = string.match(e, '^([^|]*)|(%%d+)|')\n"
    "      if w ~= ARGV[i + 2] or tonumber(sq) > tonumber(ARGV[i + 3]) then break end\n"
    "      k = k + 1\n"
    "    end\n"
    "    if k > 0 then redis.call('LTRIM', key, k, -1) end\n"
    "    i = i + 4\n"
    "  else\n"
    "    return redis.error_reply('riskwarn apply: bad op ' .. tostring(op))\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* Trims a window's list: KEYS[1] the window; ARGV[1] the cut, ARGV[2] the cut
 * plus one as ts_text() writes it ('' when that is not 13 digits), ARGV[3] a
 * mark (this engine's, unique: "#" and its id and a count), ARGV[4] how many
 * leading elements the engine's picture of the list says are at or before the
 * cut (0: not known), ARGV[5] the head it expects (a mark), ARGV[6] the length
 * it expects ('' any). When the head is that mark, and the length that one,
 * the list is the engine's picture of it plus appends (every trim replaces the
 * head with its own mark, and a list deleted and made anew has another head):
 * it drops that many, without looking at them. Otherwise it looks: it drops
 * the leading elements ("TIME|member", and marks) whose time is at or before
 * the cut, and stops at the first that is not (an entry appended out of time
 * order waits until it reaches the head); times of 13 digits are compared as
 * text, which costs Redis half what parsing each one does. When it dropped
 * any entry, it puts its mark (with "+" after it when it looked, so that a
 * picture the engine made of the list as if it had not looked is not taken
 * for right) at the head and at the end (ordered as text
 * before any time of 13 digits, so that the next trim drops them once they
 * lead; readers skip them): a reader that reads a list from the last element
 * it read on finds it there, and knows that the list shifted (list_kept).
 * Returns {the number dropped, 1 when it looked}. */
static const char trim_script[] =
    "local key, cut, ck = KEYS[1], tonumber(ARGV[1]), ARGV[2]\n"
    "local n, looked = tonumber(ARGV[4]), 0\n"
    "if n == 0 or redis.call('LINDEX', key, 0) ~= ARGV[5] or\n"
    "   (ARGV[6] ~= '' and redis.call('LLEN', key) ~= tonumber(ARGV[6])) then\n"
    "  n, looked = 0, 1\n"
    "  local entries = 0\n"
    "  while true do\n"
    "    local es = redis.call('LRANGE', key, n, n + 63)\n"
    "    local k = 0\n"
    "    for _, e in ipairs(es) do\n"
    "      local mark = string.byte(e) == 35\n"
    "      if ck ~= '' then\n"
    "        if e >= ck then break end\n"
    "      else\n"
    "        local t = tonumber(string.match(e, '^(%-?%d+)|'))\n"
    "        if t then\n"
    "          if t > cut then break end\n"
    "        elseif not mark then break end\n"
    "      end\n"
    "      if not mark then entries = entries + 1 end\n"
    "      k = k + 1\n"
    "    end\n"
    "    n = n + k\n"
    "    if k < 64 then break end\n"
    "  end\n"
    "  if entries == 0 then n = 0 end\n"
    "end\n"
    "if n > 0 then\n"
    "  local mark = looked == 1 and ARGV[3] .. '+' or ARGV[3]\n"
    "  redis.call('LTRIM', key, n, -1)\n"
    "  redis.call('LPUSHX', key, mark)\n"
    "  redis.call('RPUSHX', key, mark)\n"
    "end\n"
    "return {n, looked}\n";

/* A trim sent with the write in flight: its command's place among the
 * window writes, its cut, count and expected length (SIZE_MAX: any), and
 * its key, mark, expected head and window id (in trim_keys, by offset and
 * length); redo when its node lacked the script. by_count: sent to drop a
 * count without looking (the engine's picture of the list was taken as
 * right). */
enum { TRIM_KEY, TRIM_MARK, TRIM_HEAD, TRIM_ID, TRIM_STRS };
typedef struct trim_sent {
    size_t cmd, off[TRIM_STRS], len[TRIM_STRS];
    int64_t cut;
    size_t count, llen;
    bool redo, by_count;
} trim_sent_t;

/* The open cases an engine holds, to write back when Redis loses its state:
 * each one's record as stored (rec NULL: closed, to be deleted), its due
 * time and the partition whose clock drives it, by id ("RULE_ID:CORRELATE"). */
typedef struct kcase {
    char *id, *part, *rec;
    int64_t due_ms;
    struct kcase *next;
} kcase_t;

typedef struct kcases {
    kcase_t **tab;
    size_t size, n;
} kcases_t;

/* A window element read: its time, its member (borrowed from the reply) and
 * its place in the list. */
typedef struct went {
    int64_t ts_ms;
    const char *m;
    size_t len, at;
} went_t;

/* What a read queued beyond the marker's EXISTS, to take its replies. */
typedef struct first_sent {
    size_t nknown, ncase_rules, ncases;
} first_sent_t;

/* A batch's read sent behind the write in flight (redis_load_send). */
enum { AHEAD_NONE, AHEAD_SENT, AHEAD_READY };

typedef struct redisstore {
    rw_store_t base;
    rw_redis_opts_t o;
    char *host, *unix_socket, *password, *prefix, *group;
    char *tprefix; /* "{rw}:": fences, counters, cases and cool-downs share its slot */
    char *anchor;  /* a key of that slot: the apply script's KEYS[1] */
    /* "{rw}:epoch:GROUP:PID-START": this engine's marker, set by each of its
     * writes: once seen, its absence means Redis lost the state. */
    char *marker;
    bool marker_seen;
    bool unsure;      /* a write in flight failed: whether it ran is unknown */
    bool write_lost;  /* sending a read behind the write in flight failed: its replies are gone */
    rw_batch_t *sent; /* the batch of the write in flight (restored from after a loss) */
    /* The read of the next batch sent behind the write in flight: AHEAD_SENT,
     * then AHEAD_READY once the write was answered as it should be and the
     * read's replies are the next ones; for the batch b at its seq. */
    int ahead;
    const rw_batch_t *ahead_b;
    uint64_t ahead_seq;
    first_sent_t ahead_n;
    /* Open cases held (what Redis took) and the changes of the write in flight. */
    kcases_t kept, pending;
    bool kept_full; /* some open case was not held: more than max_cases */
    rw_rcluster_t *rc;
    char script[sizeof(apply_script) + 64];
    char sha[48];     /* the script's SHA1; "" until loaded */
    char tsha[48];    /* trim_script's */
    char mark_id[48]; /* "#" and this engine's id, unique: its trims' marks add a count */
    uint64_t n_marks;
    trim_sent_t *trims; /* the trims of the write in flight */
    size_t n_trims, trims_cap;
    rw_buf_t trim_keys;
    size_t n_win_cmds; /* window writes queued before the script */
    went_t *wents;     /* a window read's elements */
    size_t wents_cap;
    bool layout_checked; /* looked for keys of the layout before {rw}: once */
    /* Windows and cool-downs keyed apart from their messages, which another engine's
     * partitions may feed (apart_*): every write to them counts itself in one counter
     * ("{rw}:apart-writes", INCR after its entries), and every read reads it first. While
     * no reading shows another engine's write, they are held like the rest
     * (b->apart_held); one that does makes them read every batch until APART_QUIET_MIN
     * readings in a row (doubled at each later turn, up to APART_QUIET_MAX) show none. */
    bool apart_base;      /* nothing to compare: the next reading sets apart_last */
    bool apart_stale;     /* a reading showed another engine's write: what is held may lack it */
    bool apart_get;       /* the read in hand asked for the counter (its first reply) */
    int64_t warned_at_ms; /* the last warning of a write replicas did not confirm */
    int64_t apart_last;   /* the writes counter as last read or counted; -1: unknown */
    size_t apart_cmd;     /* the write's INCR among its window commands; SIZE_MAX: none */
    uint64_t apart_quiet; /* readings in a row that showed no other engine's write */
    uint64_t apart_need;  /* how many it takes to hold apart state again */
    /* argv under construction */
    const char **argv;
    size_t *argl;
    size_t argc, argcap;
    rw_buf_t strs; /* backing text of argv, by offset */
    rw_buf_t resp; /* argv in Redis's protocol */
    size_t *offs;
    /* The apply script's arguments, kept when a read is built behind the write
     * (for a resend after NOSCRIPT); kept_argc 0: argv holds them still. */
    size_t *kept_argl, *kept_offs;
    size_t kept_argc, kept_cap;
    rw_buf_t kept_strs;
    /* The journal (journal_*): this engine's writes that journaled entries (each element's
     * count), the count up to which every element of this engine is folded as of the write
     * in flight (j_sent_done) and as of the last one answered (j_done); the elements of this
     * write, one a partition; the partitions whose journals this engine wrote; when the last
     * fold step ran (wall clock ms). */
    uint64_t jseq, j_sent_done, j_done;
    struct jpart *jparts;
    size_t n_jparts, jparts_cap;
    int32_t *jwritten;
    size_t n_jwritten, jwritten_cap;
    int64_t fold_at;
    uint64_t jf; /* b->forgets when every journal was last folded (jf_set: once, at least) */
    bool jf_set;
    double fold_credit; /* windows the fold's pace owes, carried from step to step */
} redisstore_t;

/* A reply of the store's connections, its objects kept for the next ones. */
static void reply_free(redisstore_t *s, redisReply *r) { rw_rcluster_free(s->rc, r); }

/* Fails err for a reply of the wrong kind to what (NULL: none came): "redis: WHAT: " and
 * Redis's error, or "unexpected reply". Returns RW_ERR_REDIS. */
static int reply_refused(rw_error_t *err, const char *what, const redisReply *r) {
    return rw_error_fail(err, RW_ERR_REDIS, "redis: %s: %s", what,
                         r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

size_t rw_store_tag_prefix(const char *prefix, char *out, size_t len) {
    size_t n = strlen(prefix);
    bool colon = n && prefix[n - 1] == ':';
    int w = snprintf(out, len, "{%.*s}%s", (int)(n - colon), prefix, colon ? ":" : "");
    return w < 0 ? 0 : (size_t)w;
}

rw_rcluster_t *rw_store_redis_open(const rw_redis_opts_t *o, const char *const *seeds,
                                   size_t n_seeds) {
    rw_rcluster_opts_t co = {seeds,          n_seeds, o->host,     o->port,
                             o->unix_socket, o->db,   o->password, o->timeout_ms};
    return rw_rcluster_new(&co);
}

void *rw_store_redis_connect(const rw_redis_opts_t *o, rw_error_t *err) {
    return rw_rcluster_connect(o->host, o->port, o->unix_socket, o->password, o->db, o->timeout_ms,
                               err);
}

/* "redis WHAT: HOST:PORT: the error" after a failed exchange. Returns
 * RW_ERR_REDIS. */
static int rs_drop(redisstore_t *s, const char *what, rw_error_t *err) {
    const char *e = rw_rcluster_error(s->rc);
    return rw_error_fail(err, RW_ERR_REDIS, "redis %s: %s", what,
                         strncmp(e, "redis ", 6) == 0 ? e + 6 : e);
}

/* Learns the SHA1 of a script (the same on every node) into sha: batches then
 * send it, not the text; a node that lacks the script gets the text (NOSCRIPT). */
static int script_load(redisstore_t *s, const char *text, char *sha, rw_error_t *err) {
    redisReply *r = rw_rcluster_command(s->rc, s->anchor, "SCRIPT LOAD %s", text);
    if (!r || r->type != REDIS_REPLY_STRING || r->len >= sizeof(s->sha)) {
        rw_error_fail(err, RW_ERR_REDIS, "redis SCRIPT LOAD: %s",
                      r && r->type == REDIS_REPLY_ERROR ? r->str : rw_rcluster_error(s->rc));
        if (r)
            reply_free(s, r);
        return RW_ERR_REDIS;
    }
    memcpy(sha, r->str, r->len + 1);
    reply_free(s, r);
    return 0;
}

/* The trim script, then the apply script (the apply script's SHA last, so
 * that both are known once it is). */
static int rs_ensure(redisstore_t *s, rw_error_t *err) {
    if (*s->sha)
        return 0;
    return script_load(s, trim_script, s->tsha, err) ? RW_ERR_REDIS
                                                     : script_load(s, s->script, s->sha, err);
}

/* Room for n arguments in argv. */
static void args_room(redisstore_t *s, size_t n) {
    if (n <= s->argcap)
        return;
    s->argcap = n;
    s->argv = rw_realloc(s->argv, s->argcap * sizeof(*s->argv));
    s->argl = rw_realloc(s->argl, s->argcap * sizeof(*s->argl));
    s->offs = rw_realloc(s->offs, s->argcap * sizeof(*s->offs));
}

/* Keeps the command built in argv (the apply script's), for args_unkeep(). */
static void args_keep(redisstore_t *s) {
    if (s->kept_cap < s->argc) {
        s->kept_cap = s->argc;
        s->kept_argl = rw_realloc(s->kept_argl, s->kept_cap * sizeof(*s->kept_argl));
        s->kept_offs = rw_realloc(s->kept_offs, s->kept_cap * sizeof(*s->kept_offs));
    }
    memcpy(s->kept_argl, s->argl, s->argc * sizeof(*s->argl));
    memcpy(s->kept_offs, s->offs, s->argc * sizeof(*s->offs));
    rw_buf_reset(&s->kept_strs);
    rw_buf_append(&s->kept_strs, s->strs.data, s->strs.len);
    s->kept_argc = s->argc;
}

/* Puts the command args_keep() kept back into argv. */
static void args_unkeep(redisstore_t *s) {
    args_room(s, s->kept_argc);
    memcpy(s->argl, s->kept_argl, s->kept_argc * sizeof(*s->argl));
    memcpy(s->offs, s->kept_offs, s->kept_argc * sizeof(*s->offs));
    rw_buf_reset(&s->strs);
    rw_buf_append(&s->strs, s->kept_strs.data, s->kept_strs.len);
    s->argc = s->kept_argc;
    s->kept_argc = 0;
}

static void args_reset(redisstore_t *s) {
    s->argc = 0;
    rw_buf_reset(&s->strs);
}

/* An argument of len bytes: data, or (NULL) room the caller fills before the next one. */
static void arg_add(redisstore_t *s, const char *data, size_t len) {
    if (s->argc == s->argcap)
        args_room(s, s->argcap ? s->argcap * 2 : 256);
    s->offs[s->argc] = s->strs.len;
    s->argl[s->argc] = len;
    char *w = rw_buf_room(&s->strs, len);
    if (data) /* NULL: room for the caller to fill */
        memcpy(w, data, len);
    s->argc++;
}

static void __attribute__((format(printf, 2, 3))) arg_fmt(redisstore_t *s, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf)) {
        /* Rare: long keys. */
        char *big = rw_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        arg_add(s, big, (size_t)n);
        free(big);
        return;
    }
    arg_add(s, buf, (size_t)n);
}

/* A window element's time: 13 digits, zero-padded, for the times from 1970 to
 * 2286 (0 to 10^13 - 1 ms), so that its text orders as its number (the trim
 * script compares them as text); other times as they are. Returns its length. */
#define TS_DIGITS 13
#define TS_END ((int64_t)10000000000000) /* 10^13 */
static size_t ts_text(int64_t ts_ms, char *buf) {
    if (ts_ms < 0 || ts_ms >= TS_END)
        return rw_number_i64_text(ts_ms, buf);
    for (int i = TS_DIGITS - 1; i >= 0; i--, ts_ms /= 10)
        buf[i] = (char)('0' + ts_ms % 10);
    return TS_DIGITS;
}

static void arg_i64(redisstore_t *s, int64_t v) {
    char buf[24];
    arg_add(s, buf, rw_number_i64_text(v, buf));
}

/* An argument made of two or three strings (c may be NULL). */
static void arg_cat(redisstore_t *s, const char *a, const char *b, const char *c) {
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    char stack[512];
    char *buf = la + lb + lc <= sizeof(stack) ? stack : rw_malloc(la + lb + lc);
    memcpy(buf, a, la);
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): counted bytes, not a C string
    memcpy(buf + la, b, lb);
    if (lc)
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result): counted bytes, not a C string
        memcpy(buf + la + lb, c, lc);
    arg_add(s, buf, la + lb + lc);
    if (buf != stack)
        free(buf);
}

/* A window's key: a list, hashed whole (no tag), so that windows spread over
 * a cluster's nodes by rule and entity. "wl:", not the "w:" of the sorted sets
 * of older versions, which a list cannot replace under the same name. Writes it
 * at w (unless NULL); returns its length. */
static size_t window_key(const redisstore_t *s, const rw_wstate_t *ws, char *w) {
    size_t pl = strlen(s->prefix), il = (size_t)ws->key_off + ws->key_len;
    if (w) {
        memcpy(w, s->prefix, pl);
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result): counted bytes, not a C string
        memcpy(w + pl, "wl:", 3);
        memcpy(w + pl + 3, ws->id, il);
    }
    return pl + 3 + il;
}

static void arg_window(redisstore_t *s, const rw_wstate_t *ws) {
    arg_add(s, NULL, window_key(s, ws, NULL));
    window_key(s, ws, s->strs.data + s->offs[s->argc - 1]);
}

/* A window element's text, "TIME|topic/partition/offset|value": TIME the entry's event time
 * (ms), the rest its member, which names the message. What it takes from its source (the
 * topic's length, the partition's text) is kept while the next entries come from the same one. */
typedef struct entry_text {
    const rw_src_t *src; /* NULL: none yet */
    size_t tl, pl, tsl, ol, vl;
    char part[24], ts[24], off[24];
    const char *value;
} entry_text_t;

/* Takes an entry's pieces; returns the length of its text. */
static size_t entry_text(entry_text_t *t, int64_t ts_ms, const rw_src_t *src, int64_t offset,
                         const char *value) {
    if (t->src != src) {
        t->src = src;
        t->tl = strlen(src->topic);
        t->pl = rw_number_i64_text(src->partition, t->part);
    }
    t->tsl = ts_text(ts_ms, t->ts);
    t->ol = rw_number_i64_text(offset, t->off);
    t->vl = strlen(value);
    t->value = value;
    return t->tsl + t->tl + t->pl + t->ol + t->vl + 4;
}

/* Writes the text entry_text() measured into w. */
static void entry_write(const entry_text_t *t, char *w) {
    memcpy(w, t->ts, t->tsl);
    w += t->tsl;
    *w++ = '|';
    memcpy(w, t->src->topic, t->tl);
    w += t->tl;
    *w++ = '/';
    memcpy(w, t->part, t->pl);
    w += t->pl;
    *w++ = '/';
    memcpy(w, t->off, t->ol);
    w += t->ol;
    *w++ = '|';
    memcpy(w, t->value, t->vl);
}

static void arg_entry(redisstore_t *s, int64_t ts_ms, const rw_src_t *src, int64_t offset,
                      const char *value) {
    entry_text_t t = {.src = NULL};
    size_t len = entry_text(&t, ts_ms, src, offset, value);
    arg_add(s, NULL, len);
    entry_write(&t, s->strs.data + s->offs[s->argc - 1]);
}

static void args_fix(redisstore_t *s) {
    for (size_t i = 0; i < s->argc; i++)
        s->argv[i] = s->strs.data + s->offs[i];
}

/* Queues the command built in argv, routed by argv[key] (write: RW_RC_WRITE
 * or 0), written in Redis's protocol here (hiredis's own formatting costs more
 * than the rest of a batch's write). */
static void args_send(redisstore_t *s, int key, int write) {
    args_fix(s);
    size_t need = 16;
    for (size_t i = 0; i < s->argc; i++)
        need += s->argl[i] + 24;
    rw_buf_t *o = &s->resp;
    if (o->cap < need + 1) { /* one allocation, then plain stores */
        o->data = rw_realloc(o->data, need + 1);
        o->cap = need + 1;
    }
    char *w = o->data;
    *w++ = '*';
    w += rw_number_i64_text((int64_t)s->argc, w);
    *w++ = '\r';
    *w++ = '\n';
    for (size_t i = 0; i < s->argc; i++) {
        *w++ = '$';
        w += rw_number_i64_text((int64_t)s->argl[i], w);
        *w++ = '\r';
        *w++ = '\n';
        memcpy(w, s->argv[i], s->argl[i]);
        w += s->argl[i];
        *w++ = '\r';
        *w++ = '\n';
    }
    o->len = (size_t)(w - o->data);
    rw_rcluster_append(s->rc, s->argv[key], s->argl[key], o->data, o->len, write);
}

/* Queues the LRANGE whose key argv holds as a read of the whole list. */
static void args_whole_send(redisstore_t *s) {
    arg_add(s, "0", 1);
    arg_add(s, "-1", 2);
    args_send(s, 1, 0);
}

static void fence_key(redisstore_t *s, const rw_src_t *src) {
    arg_fmt(s, "%sfence:%s:%s:%d", s->tprefix, s->group, src->topic, (int)src->partition);
}

/* The journal (journal_add, below): on, for a window, and a partition's key. */
static bool journal_on(const redisstore_t *s) { return s->o.fold_ms > 0; }

static bool journal_window(const redisstore_t *s, const rw_wstate_t *ws) {
    return journal_on(s) && ws->meta && !ws->shared;
}

static void journal_key(redisstore_t *s, int32_t partition) {
    arg_fmt(s, "%swj:%s:%d", s->tprefix, s->group, (int)partition);
}

/* Once: a fence under the names before the {rw} hash tag means the keys were
 * not renamed (scripts/redis_upgrade_keys.sh): say so, the state starts afresh. */
static void old_layout_check(redisstore_t *s, const rw_batch_t *b) {
    rw_rcluster_reset(s->rc);
    for (size_t i = 0; i < b->n_srcs; i++) {
        args_reset(s);
        arg_add(s, "EXISTS", 6);
        arg_fmt(s, "%sfence:%s:%s:%d", s->prefix, s->group, b->srcs[i].topic,
                (int)b->srcs[i].partition);
        args_send(s, 1, 0);
    }
    if (rw_rcluster_exec(s->rc) != 0)
        return; /* the load that follows reports the error */
    s->layout_checked = true;
    for (size_t i = 0; i < b->n_srcs; i++) {
        redisReply *r = rw_rcluster_next(s->rc);
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
            rw_log(RW_LOG_WARN,
                   "redis: %sfence:%s:%s:%d exists: keys of the layout before %s (fences, "
                   "counters, cases, cool-downs) were not renamed and are not read; stop the "
                   "engines and run scripts/redis_upgrade_keys.sh (README, Redis keys)",
                   s->prefix, s->group, b->srcs[i].topic, (int)b->srcs[i].partition, s->tprefix);
            i = b->n_srcs;
        }
        if (r)
            reply_free(s, r);
    }
}

/* Parses "topic/partition/offset|value". */
static int member_parse(const char *m, size_t len, char *topic, size_t tlen, int32_t *partition,
                        int64_t *offset, const char **value) {
    const char *bar = memchr(m, '|', len);
    if (!bar)
        return -1;
    const char *s2 = NULL, *s1 = NULL;
    for (const char *p = bar; p > m; p--) {
        if (p[-1] == '/') {
            if (!s2)
                s2 = p - 1;
            else {
                s1 = p - 1;
                break;
            }
        }
    }
    if (!s1 || !s2 || (size_t)(s1 - m) >= tlen)
        return -1;
    memcpy(topic, m, (size_t)(s1 - m));
    topic[s1 - m] = 0;
    *partition = (int32_t)strtol(s1 + 1, NULL, 10);
    *offset = strtoll(s2 + 1, NULL, 10);
    *value = bar + 1;
    return 0;
}

/* Reads the SISMEMBER replies of the batch's lookups, in table order.
 * Returns 0, or RW_ERR_REDIS. */
static int lookups_read(rw_rcluster_t *c, rw_batch_t *b) {
    for (size_t i = 0; i < b->ltab_size; i++)
        for (rw_lookup_t *l = b->ltab[i]; l; l = l->next) {
            redisReply *r = rw_rcluster_next(c);
            if (!r)
                return RW_ERR_REDIS;
            bool bad = r->type == REDIS_REPLY_ERROR;
            l->result = r->type == REDIS_REPLY_INTEGER ? (r->integer ? 1 : 0) : -1;
            rw_rcluster_free(c, r);
            if (bad)
                return RW_ERR_REDIS;
        }
    return 0;
}

/* ---- cases held in memory ---- */

static kcase_t **kcase_slot(kcases_t *t, const char *id) {
    kcase_t **k = &t->tab[rw_hash64(id, strlen(id)) & (t->size - 1)];
    while (*k && strcmp((*k)->id, id) != 0)
        k = &(*k)->next;
    return k;
}

static void kcase_free(kcase_t *k) {
    free(k->id);
    free(k->part);
    free(k->rec);
    free(k);
}

static void kcases_clear(kcases_t *t) {
    for (size_t i = 0; i < t->size; i++)
        while (t->tab[i]) {
            kcase_t *k = t->tab[i];
            t->tab[i] = k->next;
            kcase_free(k);
        }
    t->n = 0;
}

static void kcases_grow(kcases_t *t) {
    kcases_t g = {rw_calloc(t->size ? t->size * 2 : 256, sizeof(kcase_t *)),
                  t->size ? t->size * 2 : 256, t->n};
    for (size_t i = 0; i < t->size; i++)
        while (t->tab[i]) {
            kcase_t *k = t->tab[i];
            t->tab[i] = k->next;
            kcase_t **to = kcase_slot(&g, k->id);
            k->next = *to;
            *to = k;
        }
    free(t->tab);
    *t = g;
}

/* Sets a case: rec (taken; NULL: closed) replaces what t holds of it. A
 * closed case is kept as such when keep_closed, else dropped; a new case is
 * not added past max entries (0: no limit). Returns false when not added. */
static bool kcase_set(kcases_t *t, const char *id, const char *part, char *rec, int64_t due_ms,
                      bool keep_closed, size_t max) {
    if (t->n >= t->size * 2)
        kcases_grow(t);
    kcase_t **slot = kcase_slot(t, id), *k = *slot;
    if (!rec && !keep_closed) {
        if (k) {
            *slot = k->next;
            kcase_free(k);
            t->n--;
        }
        return true;
    }
    if (!k) {
        if (max && t->n >= max) {
            free(rec);
            return false;
        }
        k = *slot = rw_calloc(1, sizeof(*k));
        k->id = rw_strdup(id);
        t->n++;
    }
    free(k->part);
    k->part = rw_strdup(part ? part : "");
    free(k->rec);
    k->rec = rec;
    k->due_ms = due_ms;
    return true;
}

/* The write in flight was stored: its case changes are what Redis holds. */
static void kcases_commit(redisstore_t *s) {
    kcases_t *p = &s->pending;
    for (size_t i = 0; i < p->size; i++)
        for (kcase_t *k = p->tab[i]; k; k = k->next) {
            if (!kcase_set(&s->kept, k->id, k->part, k->rec, k->due_ms, false, s->base.max_cases))
                s->kept_full = true;
            k->rec = NULL;
        }
    kcases_clear(p);
}

/* What Redis holds of this engine's open cases (read into the batch) is held too. */
static void cases_hold(redisstore_t *s, const rw_batch_t *b) {
    for (size_t i = 0; i < b->kstab_size; i++)
        for (const rw_case_t *k = b->kstab[i]; k; k = k->next)
            if (k->open && rw_batch_has_part(b, k->part) &&
                !kcase_set(&s->kept, k->id, k->part, rw_case_record(k), k->due_ms, false,
                           s->base.max_cases))
                s->kept_full = true;
}

/* Fills the batch's cases from the replies of their HGETs, in the order of
 * b->kstab. Returns 0, or RW_ERR_REDIS (an error reply: in err). */
static int cases_records(rw_batch_t *b, redisReply **gets, rw_error_t *err) {
    int rc = 0;
    size_t gi = 0;
    for (size_t i = 0; i < b->kstab_size; i++)
        for (rw_case_t *k = b->kstab[i]; k; k = k->next, gi++) {
            redisReply *r = gets[gi];
            if (r->type == REDIS_REPLY_ERROR)
                rc = rw_error_fail(err, RW_ERR_REDIS, "redis: case read: %s", r->str);
            else if (r->type == REDIS_REPLY_STRING && rw_case_from_record(k, r->str, r->len) != 0)
                rw_log(RW_LOG_WARN, "case %s: unreadable record, ignored", k->id);
        }
    return rc;
}

/* Adds the cases of the due scans' replies (one per rule that tracks cases)
 * to the batch. Returns 0, or RW_ERR_REDIS (a bad reply: in err). */
static int cases_due(rw_batch_t *b, redisReply **scans, rw_error_t *err) {
    int rc = 0;
    size_t ri = 0;
    for (size_t r = 0; r < b->rs->n_rules; r++) {
        if (!(b->rs->rules[r].case_open && b->horizon_ms > INT64_MIN))
            continue;
        redisReply *x = scans[ri++];
        if (!x || x->type != REDIS_REPLY_ARRAY) {
            rc = reply_refused(err, "due scan", x);
            continue;
        }
        for (size_t e = 0; e + 1 < x->elements; e += 2) {
            rw_case_t *k = rw_batch_case(b, (uint32_t)r, x->element[e]->str);
            if (!k->open && x->element[e + 1]->len &&
                rw_case_from_record(k, x->element[e + 1]->str, x->element[e + 1]->len) == 0 &&
                !rw_batch_has_part(b, k->part))
                k->open = false; /* another partition's: its engine's clock drives it */
        }
    }
    return rc;
}

/* Reads the replies of the due scans and the case reads. Cases added by a due
 * scan are filled from it; the HGET replies are read into the cases that
 * existed before, which the scan does not reorder (it only appends new ones
 * at chain heads, and chains are walked after every reply is in). */
static int cases_read(redisstore_t *s, rw_batch_t *b, size_t nrules, size_t ncases,
                      rw_error_t *err) {
    redisReply **scans = rw_calloc(nrules ? nrules : 1, sizeof(redisReply *));
    redisReply **gets = rw_calloc(ncases ? ncases : 1, sizeof(redisReply *));
    int rc = 0;
    for (size_t i = 0; i < nrules; i++)
        if (!(scans[i] = rw_rcluster_next(s->rc)))
            rc = RW_ERR_REDIS;
    for (size_t i = 0; rc == 0 && i < ncases; i++)
        if (!(gets[i] = rw_rcluster_next(s->rc)))
            rc = RW_ERR_REDIS;
    if (rc == 0) {
        int gr = cases_records(b, gets, err);
        int dr = cases_due(b, scans, err);
        if (gr || dr)
            rc = RW_ERR_REDIS;
        cases_hold(s, b);
    } else {
        rc = rs_drop(s, "read", err);
    }
    for (size_t i = 0; i < nrules; i++)
        if (scans[i])
            reply_free(s, scans[i]);
    for (size_t i = 0; i < ncases; i++)
        if (gets[i])
            reply_free(s, gets[i]);
    free(scans);
    free(gets);
    return rc;
}

/* A window the batch touched that this engine does not hold: never read,
 * keyed apart from its messages (read every batch), needed further back, or
 * whose list a trim had to look at (its picture is read again). */
static bool window_needs_read(const rw_wstate_t *ws) {
    return !ws->loaded || ws->shared || ws->load_min_ms <= ws->loaded_from_ms || ws->lm_reread;
}

/* How long a window key lives after a write: two windows (what trimming
 * keeps) and a grace. */
static int64_t window_ttl_ms(const rw_wstate_t *ws) { return 2 * ws->window_ms + WINDOW_GRACE_MS; }

/* The next reply of the commands sent; NULL (err filled) when there is none. */
static redisReply *reply_get(redisstore_t *s, rw_error_t *err) {
    redisReply *r = rw_rcluster_next(s->rc);
    if (!r)
        rw_error_fail(err, RW_ERR_REDIS, "redis: a reply is missing");
    return r;
}

/* Sends the commands queued and reads their replies. 0, or RW_ERR_REDIS. */
static int rs_exec(redisstore_t *s, const char *what, rw_error_t *err) {
    if (rw_rcluster_exec(s->rc) == 0)
        return 0;
    return rs_drop(s, what, err);
}

/* Orders window elements by time, then by member (as a sorted set orders
 * members of one score), then as appended. */
static int went_by_time(const void *pa, const void *pb) {
    const went_t *a = pa, *b = pb;
    if (a->ts_ms != b->ts_ms)
        return a->ts_ms < b->ts_ms ? -1 : 1;
    int c = memcmp(a->m, b->m, a->len < b->len ? a->len : b->len);
    if (c == 0 && a->len != b->len)
        c = a->len < b->len ? -1 : 1;
    if (c == 0)
        c = a->at < b->at ? -1 : a->at > b->at;
    return c;
}

/* The elements of a window's LRANGE reply from index skip on with a time
 * after from_ms, each member once (a message's copies carry its one time, so
 * they sort side by side), ordered by time, into s->wents. Elements that are
 * not "TIME|member" are skipped. Returns their number. */
static size_t went_collect(redisstore_t *s, const redisReply *r, size_t skip, int64_t from_ms) {
    if (s->wents_cap < r->elements) {
        s->wents_cap = r->elements;
        s->wents = rw_realloc(s->wents, s->wents_cap * sizeof(*s->wents));
    }
    size_t n = 0;
    for (size_t e = skip; e < r->elements; e++) {
        const redisReply *x = r->element[e];
        const char *bar = x->type == REDIS_REPLY_STRING ? memchr(x->str, '|', x->len) : NULL;
        char *end;
        long long ts = bar ? strtoll(x->str, &end, 10) : 0;
        if (!bar || end != bar || bar == x->str)
            continue; /* not ours: skip */
        if (ts > from_ms)
            s->wents[n++] = (went_t){ts, bar + 1, x->len - (size_t)(bar + 1 - x->str), e};
    }
    if (n < 2)
        return n;
    qsort(s->wents, n, sizeof(*s->wents), went_by_time);
    size_t o = 1;
    for (size_t i = 1; i < n; i++) {
        const went_t *w = &s->wents[i], *prev = &s->wents[o - 1];
        if (w->ts_ms != prev->ts_ms || w->len != prev->len || memcmp(w->m, prev->m, w->len) != 0)
            s->wents[o++] = *w;
    }
    return o;
}

/* Whether ws holds the entry (time, source, offset, value): what a read of
 * the list's tail brings may be held already (this engine's own, or a copy). */
static bool window_holds(const rw_wstate_t *ws, int64_t ts_ms, uint32_t src, int64_t offset,
                         const char *value) {
    size_t lo = 0, hi = ws->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ws->ents[mid].ts_ms < ts_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < ws->n && ws->ents[lo].ts_ms == ts_ms; lo++)
        if (ws->meta[lo].src == src && ws->meta[lo].offset == offset &&
            strcmp(ws->ents[lo].value, value) == 0)
            return true;
    return false;
}

/* Fills a window from the elements of r (an array reply of its list) from
 * index skip on: what a sorted set by time would hold of them after
 * loaded_from_ms, less what ws holds when tail (they follow elements read
 * before). Returns 0, or -1 when the reply is not an array. */
static int window_read(redisstore_t *s, rw_batch_t *b, rw_wstate_t *ws, const redisReply *r,
                       size_t skip, bool tail) {
    if (r->type != REDIS_REPLY_ARRAY)
        return -1;
    char topic[256];
    size_t n = went_collect(s, r, skip, ws->loaded_from_ms);
    for (size_t e = 0; e < n; e++) {
        const went_t *w = &s->wents[e];
        int32_t part;
        int64_t offset;
        const char *value;
        if (member_parse(w->m, w->len, topic, sizeof(topic), &part, &offset, &value))
            continue; /* not ours: skip */
        uint32_t src = rw_batch_src(b, topic, part);
        /* Past a fence this batch knows: the entry's message is not stored
         * (its RPUSH ran, the script did not: a write cut short, or on a
         * cluster a master that failed between the two). Evaluating that
         * message again adds it. */
        if (b->srcs[src].fence_known && offset > b->srcs[src].fence)
            continue;
        if (tail && window_holds(ws, w->ts_ms, src, offset, value))
            continue;
        rw_window_add(b, ws, w->ts_ms, src, offset, value, false);
    }
    return 0;
}

/* Forgets where ws's list was read to: the next read takes it whole. */
static void list_forget(rw_wstate_t *ws) {
    free(ws->list_last);
    ws->list_last = NULL;
    ws->list_read = 0;
}

/* ---- the engine's picture of a window's list, to trim it by count ---- */

/* Forgets what the engine knows of ws's list from its head. */
static void lm_clear(rw_wstate_t *ws) {
    free(ws->lm_head);
    ws->lm_head = NULL;
    ws->lm_n = 0;
    ws->lm_ok = false;
}

static void lm_push(rw_wstate_t *ws, int64_t ts_ms) {
    if (ws->lm_n == ws->lm_cap) {
        ws->lm_cap = ws->lm_cap ? ws->lm_cap * 2 : 16;
        ws->lm_ts = rw_realloc(ws->lm_ts, ws->lm_cap * sizeof(*ws->lm_ts));
    }
    ws->lm_ts[ws->lm_n++] = ts_ms;
}

/* A list element's time as a trim sees it: a mark's is INT64_MIN (trims drop
 * it), what is not an entry's INT64_MAX (trims stop at it). */
static int64_t elem_time(const redisReply *x) {
    if (!x || x->type != REDIS_REPLY_STRING || !x->len)
        return INT64_MAX;
    if (x->str[0] == '#')
        return INT64_MIN;
    const char *bar = memchr(x->str, '|', x->len);
    char *end;
    long long ts = bar ? strtoll(x->str, &end, 10) : 0;
    return bar && end == bar && bar != x->str ? (int64_t)ts : INT64_MAX;
}

/* Takes the picture of ws's list from a read: the whole list (tail false),
 * or what it gained after the elements read before (tail: elements from index
 * 1 on, the first being the last one read then). */
static void lm_take(rw_wstate_t *ws, const redisReply *r, bool tail) {
    if (!tail) {
        lm_clear(ws);
        ws->lm_ok = true;
        ws->lm_reread = false;
        const redisReply *h = r->elements ? r->element[0] : NULL;
        if (h && h->type == REDIS_REPLY_STRING && h->len && h->str[0] == '#') {
            ws->lm_head = rw_malloc(h->len + 1);
            memcpy(ws->lm_head, h->str, h->len);
            ws->lm_head[h->len] = 0;
        }
    } else if (!ws->lm_ok) {
        return;
    }
    for (size_t e = tail ? 1 : 0; e < r->elements; e++)
        lm_push(ws, elem_time(r->element[e]));
}

/* After a trim sent without dropping a count (or one that found the list not
 * as pictured): the picture is gone; a window held (not read every batch) is
 * read whole at its next touch, which takes it again. */
static void lm_lost(rw_wstate_t *ws) {
    lm_clear(ws);
    ws->lm_reread = !ws->shared;
}

/* Notes where a read of a window read every batch left its list: the
 * elements of r (an array reply) are those from index base on, to its end. */
static void list_note(rw_wstate_t *ws, const redisReply *r, size_t base) {
    if (!ws->shared)
        return;
    const redisReply *last = r->elements ? r->element[r->elements - 1] : NULL;
    if (!last || last->type != REDIS_REPLY_STRING) {
        list_forget(ws); /* empty, or not elements */
        return;
    }
    ws->list_last = rw_realloc(ws->list_last, last->len + 1);
    memcpy(ws->list_last, last->str, last->len);
    ws->list_last_len = last->len;
    ws->list_read = base + r->elements;
}

/* Whether the reply of a tail read (window_tail_send) shows the list as ws's
 * last read left it, and what follows: the last element read then at its
 * place, and no trim's mark after it (trim_script). */
static bool list_kept(const rw_wstate_t *ws, const redisReply *tail) {
    if (tail->type != REDIS_REPLY_ARRAY || tail->elements < 1)
        return false;
    const redisReply *at = tail->element[0];
    if (at->type != REDIS_REPLY_STRING || at->len != ws->list_last_len ||
        memcmp(at->str, ws->list_last, at->len) != 0)
        return false;
    for (size_t e = 1; e < tail->elements; e++)
        if (tail->element[e]->type != REDIS_REPLY_STRING || tail->element[e]->str[0] == '#')
            return false;
    return true;
}

/* Reads the replies of n commands sent; the first error goes to err.
 * Returns 0, or RW_ERR_REDIS. */
static int replies_check(redisstore_t *s, size_t n, const char *what, rw_error_t *err) {
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = reply_get(s, err);
        if (!r)
            return RW_ERR_REDIS;
        if (r->type == REDIS_REPLY_ERROR && rc == 0)
            rc = rw_error_fail(err, RW_ERR_REDIS, "redis %s: %s", what, r->str);
        reply_free(s, r);
    }
    return rc;
}

/* Redis lost the state (this engine's marker is gone: FLUSHALL, a restart
 * without persistence): writes back what the engine holds (state_write), then
 * the marker, and keeps it all (Redis now holds what memory does). Counters
 * are not held: they start again from zero. Returns RW_ERR_STATE_LOST
 * with err saying what was restored (base.restored true), or what failed
 * (false: the kept state stays, and the next load finds the marker missing
 * and restores again). */
static int restore_failed(rw_error_t *err, const char *how) {
    if (!err)
        return RW_ERR_STATE_LOST;
    char e[sizeof(err->text)];
    snprintf(e, sizeof(e), "%s", err->text);
    rw_error_clear(err);
    return rw_error_fail(
        err, RW_ERR_STATE_LOST,
        "redis lost its state (%s); restoring what the engine holds failed: %.160s", how, e);
}

/* Whether the batch knows the fence of the partition "topic/partition". */
static bool part_known(const rw_batch_t *b, const char *part) {
    for (size_t i = 0; i < b->n_srcs; i++)
        if (b->srcs[i].fence_known && strcmp(b->pclocks[b->srcs[i].clock].part, part) == 0)
            return true;
    return false;
}

/* A case of s->kept as it is held: its record, or its deletion. Returns the
 * number of commands sent. */
static size_t case_write(redisstore_t *s, const kcase_t *k) {
    const char *colon = strchr(k->id, ':');
    int rl = (int)(colon - k->id);
    args_reset(s);
    arg_add(s, k->rec ? "HSET" : "HDEL", 4);
    arg_fmt(s, "%sd:%.*s", s->tprefix, rl, k->id);
    arg_add(s, colon + 1, strlen(colon + 1));
    if (k->rec)
        arg_add(s, k->rec, strlen(k->rec));
    args_send(s, 1, RW_RC_WRITE);
    args_reset(s);
    bool due = k->rec && k->due_ms != INT64_MAX;
    arg_add(s, due ? "ZADD" : "ZREM", 4);
    arg_fmt(s, "%sd:%.*s:due", s->tprefix, rl, k->id);
    if (due)
        arg_i64(s, k->due_ms);
    arg_add(s, colon + 1, strlen(colon + 1));
    args_send(s, 1, RW_RC_WRITE);
    if (!k->rec)
        return 2;
    for (int i = 0; i < 2; i++) {
        args_reset(s);
        arg_add(s, "EXPIRE", 6);
        arg_fmt(s, "%sd:%.*s%s", s->tprefix, rl, k->id, i ? ":due" : "");
        arg_i64(s, (int64_t)CASE_TTL_S);
        args_send(s, 1, RW_RC_WRITE);
    }
    return 4;
}

/* Counters, each key's hash replaced by the fields given. Returns the number
 * of commands sent. */
static size_t counters_write(redisstore_t *s, const rw_memstore_counter_t *c, size_t n) {
    size_t ncmd = 0;
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(c[j].key, c[i].key) != 0;
        static const char *const cmds[] = {"DEL", "HSET", "EXPIRE"};
        for (int k = first ? 0 : 1; k < 3; k++) {
            args_reset(s);
            arg_add(s, cmds[k], strlen(cmds[k]));
            arg_cat(s, s->tprefix, c[i].key, NULL);
            if (k == 1) {
                arg_add(s, c[i].field, strlen(c[i].field));
                arg_i64(s, c[i].value);
            } else if (k == 2) {
                arg_i64(s, (int64_t)COUNTER_TTL_S);
            }
            args_send(s, 1, RW_RC_WRITE);
            ncmd++;
        }
    }
    return ncmd;
}

typedef struct written {
    size_t fences, windows, entries, cools, cases;
} written_t;

/* Writes what the engine holds: the windows' stored entries, the cool-downs,
 * the cases held on the partitions whose fences it knows, those fences, and
 * the counters given. Fences and windows go together, so that a message at
 * or below a written fence is in the written windows, and is not counted
 * twice when read again. Returns 0, or RW_ERR_REDIS with err filled. */
static int state_write(redisstore_t *s, rw_batch_t *b, const rw_memstore_counter_t *counters,
                       size_t n_counters, written_t *w, rw_error_t *err) {
    rw_rcluster_reset(s->rc);
    size_t ncmd = 0;
    *w = (written_t){0, 0, 0, 0, 0};
    int64_t now = rw_now_ms();
    for (size_t i = 0; i < b->wtab_size; i++)
        for (rw_wstate_t *ws = b->wtab[i]; ws; ws = ws->next) {
            size_t n = 0;
            list_forget(ws); /* written anew: the next read takes it whole */
            lm_clear(ws);
            ws->lm_reread = true;
            args_reset(s);
            arg_add(s, "RPUSH", 5);
            arg_window(s, ws);
            for (size_t e = 0; e < ws->n; e++) {
                if (ws->meta[e].fresh)
                    continue;
                arg_entry(s, ws->ents[e].ts_ms, &b->srcs[ws->meta[e].src], ws->meta[e].offset,
                          ws->ents[e].value);
                n++;
            }
            if (!n)
                continue;
            args_send(s, 1, RW_RC_WRITE);
            args_reset(s);
            arg_add(s, "PEXPIRE", 7);
            arg_window(s, ws);
            arg_i64(s, window_ttl_ms(ws));
            args_send(s, 1, RW_RC_WRITE);
            ws->stored_ttl_at = now;
            ncmd += 2;
            w->windows++;
            w->entries += n;
        }
    for (size_t i = 0; i < b->cooltab_size; i++)
        for (rw_cool_t *c = b->cooltab[i]; c; c = c->next) {
            if (!c->loaded || c->shared || c->dirty || c->level == RW_LEVEL_NONE)
                continue;
            char *v = rw_cool_format(c);
            args_reset(s);
            arg_add(s, "SET", 3);
            arg_cat(s, s->tprefix, "cd:", c->id);
            arg_add(s, v, strlen(v));
            arg_add(s, "PX", 2);
            arg_i64(s, b->rs->rules[c->rule].cooldown_ms + WINDOW_GRACE_MS);
            args_send(s, 1, RW_RC_WRITE);
            free(v);
            ncmd++;
            w->cools++;
        }
    for (size_t i = 0; i < s->kept.size; i++)
        for (kcase_t *k = s->kept.tab[i]; k; k = k->next)
            if (part_known(b, k->part)) {
                ncmd += case_write(s, k);
                w->cases += k->rec != NULL;
            }
    ncmd += counters_write(s, counters, n_counters);
    for (size_t i = 0; i < b->n_srcs; i++) {
        if (!b->srcs[i].fence_known || b->srcs[i].fence < 0)
            continue;
        args_reset(s);
        arg_add(s, "SET", 3);
        fence_key(s, &b->srcs[i]);
        arg_i64(s, b->srcs[i].fence);
        arg_add(s, "EX", 2);
        arg_i64(s, FENCE_TTL_S);
        args_send(s, 1, RW_RC_WRITE);
        ncmd++;
        w->fences++;
    }
    if (rs_exec(s, "restore", err) != 0 || replies_check(s, ncmd, "restore", err) != 0)
        return RW_ERR_REDIS;
    /* Every window went whole to its list: nothing is left to fold. */
    while (b->fold_head)
        rw_window_folded(b, b->fold_head);
    return 0;
}

static int state_restore(redisstore_t *s, rw_batch_t *b, const char *how, rw_error_t *err) {
    s->base.restored = false;
    /* The writes counter went with the rest: its next reading is taken as it is. */
    s->apart_base = true;
    s->apart_stale = false;
    written_t w;
    if (state_write(s, b, NULL, 0, &w, err) != 0)
        return restore_failed(err, how);
    /* The marker last: a restore cut short is found and done again. */
    rw_rcluster_reset(s->rc);
    args_reset(s);
    arg_add(s, "SET", 3);
    arg_add(s, s->marker, strlen(s->marker));
    arg_i64(s, rw_now_ms());
    arg_add(s, "EX", 2);
    arg_i64(s, FENCE_TTL_S);
    args_send(s, 1, RW_RC_WRITE);
    if (rs_exec(s, "restore", err) != 0 || replies_check(s, 1, "restore", err) != 0)
        return restore_failed(err, how);
    s->base.restored = true;
    return rw_error_fail(err, RW_ERR_STATE_LOST,
                         "redis lost its state (%s): restored from memory %zu fences, %zu windows "
                         "(%zu entries), %zu cool-downs, %zu open cases%s; counters restart from "
                         "zero (riskwarn rebuild recounts them)",
                         how, w.fences, w.windows, w.entries, w.cools, w.cases,
                         s->kept_full ? " (not all: more than state_max_entries)" : "");
}

int rw_redisstore_rebuild(rw_store_t *base, rw_batch_t *b, const rw_memstore_counter_t *counters,
                          size_t n_counters, char *summary, size_t len, rw_error_t *err) {
    redisstore_t *s = (redisstore_t *)base;
    kcases_clear(&s->kept);
    for (size_t i = 0; i < b->kstab_size; i++)
        for (rw_case_t *k = b->kstab[i]; k; k = k->next)
            kcase_set(&s->kept, k->id, k->part, k->open ? rw_case_record(k) : NULL, k->due_ms, true,
                      0);
    written_t w;
    if (state_write(s, b, counters, n_counters, &w, err) != 0)
        return RW_ERR_REDIS;
    snprintf(summary, len,
             "%zu fences, %zu windows (%zu entries), %zu cool-downs, %zu open cases, %zu counters",
             w.fences, w.windows, w.entries, w.cools, w.cases, n_counters);
    return 0;
}

/* After a write that failed in flight: the fences said whether it ran, and
 * its case changes are held, or not, accordingly. */
static void unsure_settle(redisstore_t *s, bool ran) {
    s->unsure = false;
    if (ran)
        kcases_commit(s);
    else
        kcases_clear(&s->pending);
}

/* Cases: forgets what an earlier attempt did (each touched case is read again). */
static void cases_forget(rw_batch_t *b) {
    for (size_t i = 0; i < b->kstab_size; i++)
        for (rw_case_t *k = b->kstab[i]; k; k = k->next) {
            k->open = k->dirty = false;
            k->level = 0;
            k->due_ms = INT64_MAX;
            json_decref(k->rec);
            k->rec = NULL;
        }
}

/* The read's first commands: the marker; after a write that failed in
 * flight, the fences that say whether it ran; every case of the ruleset due by
 * the batch's horizon, and each touched case. */
static void first_send(redisstore_t *s, const rw_batch_t *b, first_sent_t *n) {
    *n = (first_sent_t){0, 0, 0};
    args_reset(s);
    arg_add(s, "EXISTS", 6);
    arg_add(s, s->marker, strlen(s->marker));
    args_send(s, 1, 0);
    for (size_t i = 0; s->unsure && i < b->n_srcs; i++)
        if (b->srcs[i].fence_known && b->srcs[i].fence >= 0) {
            args_reset(s);
            arg_add(s, "GET", 3);
            fence_key(s, &b->srcs[i]);
            args_send(s, 1, 0);
            n->nknown++;
        }
    for (size_t r = 0; r < b->rs->n_rules; r++)
        if (b->rs->rules[r].case_open && b->horizon_ms > INT64_MIN) {
            args_reset(s);
            arg_add(s, "EVAL", 4);
            arg_add(s, due_script, sizeof(due_script) - 1);
            arg_add(s, "2", 1);
            arg_fmt(s, "%sd:%s:due", s->tprefix, b->rs->rules[r].id);
            arg_cat(s, s->tprefix, "d:", b->rs->rules[r].id);
            arg_i64(s, b->horizon_ms);
            arg_i64(s, DUE_LIMIT);
            args_send(s, 3, 0);
            n->ncase_rules++;
        }
    for (size_t i = 0; i < b->kstab_size; i++)
        for (rw_case_t *k = b->kstab[i]; k; k = k->next, n->ncases++) {
            const char *colon = strchr(k->id, ':');
            args_reset(s);
            arg_add(s, "HGET", 4);
            arg_fmt(s, "%sd:%.*s", s->tprefix, (int)(colon - k->id), k->id);
            arg_add(s, colon + 1, strlen(colon + 1));
            args_send(s, 1, 0);
        }
}

/* Reads the marker's reply (*marked: it exists) and those of the nknown
 * fences (*ran: each is where the write in flight moved it). 0, or
 * RW_ERR_REDIS. */
static int first_recv(redisstore_t *s, const rw_batch_t *b, size_t nknown, bool *marked, bool *ran,
                      rw_error_t *err) {
    redisReply *mark = reply_get(s, err);
    if (!mark)
        return RW_ERR_REDIS;
    *marked = mark->type == REDIS_REPLY_INTEGER && mark->integer == 1;
    reply_free(s, mark);
    *ran = true;
    for (size_t i = 0, k = 0; k < nknown; i++) {
        if (!(b->srcs[i].fence_known && b->srcs[i].fence >= 0))
            continue;
        redisReply *r = reply_get(s, err);
        if (!r)
            return RW_ERR_REDIS;
        *ran &= r->type == REDIS_REPLY_STRING && strtoll(r->str, NULL, 10) == b->srcs[i].fence;
        reply_free(s, r);
        k++;
    }
    return 0;
}

/* Queues the reads of the cool-downs this engine does not hold. */
static void cools_send(redisstore_t *s, rw_batch_t *b) {
    for (size_t i = 0; i < b->n_cools_touched; i++) {
        rw_cool_t *c = b->cools_touched[i];
        c->reading = !c->loaded || c->shared;
        if (!c->reading)
            continue;
        args_reset(s);
        arg_add(s, "GET", 3);
        arg_cat(s, s->tprefix, "cd:", c->id);
        args_send(s, 1, 0);
    }
}

/* Reads the replies of the cool-downs cools_send() asked for: each is
 * forgotten, then filled from its reply. Returns 0, or RW_ERR_REDIS when one
 * is missing; an error reply sets *rc (err filled). */
static int cools_recv(redisstore_t *s, rw_batch_t *b, int *rc, rw_error_t *err) {
    for (size_t i = 0; i < b->n_cools_touched; i++) {
        rw_cool_t *c = b->cools_touched[i];
        if (!c->reading)
            continue;
        redisReply *r = reply_get(s, err);
        if (!r)
            return RW_ERR_REDIS;
        rw_cool_forget(c);
        /* Held once its reply is taken: a failed read leaves it to read again. */
        c->loaded = r->type != REDIS_REPLY_ERROR;
        if (r->type == REDIS_REPLY_ERROR)
            *rc = rw_error_fail(err, RW_ERR_REDIS, "redis: cool-down read: %s", r->str);
        else if (r->type == REDIS_REPLY_STRING && rw_cool_parse(c, r->str, r->len) != 0)
            rw_log(RW_LOG_WARN, "cool-down %s: unreadable value, ignored", c->id);
        reply_free(s, r);
    }
    return 0;
}

/* Whether the load reads a source's fence: a partition of the batch's
 * messages whose fence this engine does not know yet. Another engine's
 * partitions (met in windows read every batch) are not read: their fences
 * move without this engine, and one read once would leave out every entry
 * written past it since. */
static bool fence_wanted(const rw_src_t *src) { return !src->fence_known && src->max_offset >= 0; }

/* Trims a journal of the elements a recovery folded: KEYS[1] the journal, ARGV[1] its first
 * element as read, ARGV[2] how many were read. Only while that element still leads: no
 * other engine trimmed it meanwhile. */
static const char journal_trim_script[] = "if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then\n"
                                          "  redis.call('LTRIM', KEYS[1], ARGV[2], -1)\n"
                                          "end\n"
                                          "return 0\n";

/* Reads a decimal count ending in ':' at *p (before end); false when there is none. */
static bool jnum(const char **p, const char *end, int64_t *v) {
    const char *q = *p;
    int64_t n = 0;
    bool any = false;
    while (q < end && *q >= '0' && *q <= '9' && n < INT64_MAX / 10) {
        n = n * 10 + (*q++ - '0');
        any = true;
    }
    if (!any || q >= end || *q != ':')
        return false;
    *p = q + 1;
    *v = n;
    return true;
}

/* One entry of a journal element (journal_add): its window's id, its list's expiry, its
 * text. Reads it at *p, moving *p past it; false when it is not one. */
typedef struct jentry {
    const char *id, *text;
    int64_t idl, ttl, tl;
} jentry_t;

static bool jentry_next(const char **p, const char *end, jentry_t *e) {
    if (!jnum(p, end, &e->idl) || e->idl > end - *p)
        return false;
    e->id = *p;
    *p += e->idl;
    if (!jnum(p, end, &e->ttl) || !jnum(p, end, &e->tl) || e->tl > end - *p)
        return false;
    e->text = *p;
    *p += e->tl;
    return true;
}

/* A window's key from its id's bytes (not a C string): the prefix, "wl:" and the id, as
 * window_key() writes it. */
static void arg_window_id(redisstore_t *s, const char *id, size_t idl) {
    size_t pl = strlen(s->prefix);
    arg_add(s, NULL, pl + 3 + idl);
    char *w = s->strs.data + s->offs[s->argc - 1];
    memcpy(w, s->prefix, pl);
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): counted bytes, not a C string
    memcpy(w + pl, "wl:", 3);
    memcpy(w + pl + 3, id, idl);
}

/* Queues the RPUSH of one window's run of entries in an element (from p, the first of the
 * run, e) and its PEXPIRE; returns where the run ends. */
static const char *jrun_send(redisstore_t *s, const char *p, const char *end, const jentry_t *e) {
    args_reset(s);
    arg_add(s, "RPUSH", 5);
    arg_window_id(s, e->id, (size_t)e->idl);
    arg_add(s, e->text, (size_t)e->tl);
    jentry_t n;
    const char *q = p;
    while (q < end) {
        const char *at = q;
        if (!jentry_next(&q, end, &n) || n.idl != e->idl ||
            memcmp(n.id, e->id, (size_t)n.idl) != 0) {
            q = at;
            break;
        }
        arg_add(s, n.text, (size_t)n.tl);
    }
    args_send(s, 1, RW_RC_WRITE);
    args_reset(s);
    arg_add(s, "PEXPIRE", 7);
    arg_window_id(s, e->id, (size_t)e->idl);
    arg_i64(s, e->ttl);
    args_send(s, 1, RW_RC_WRITE);
    return q;
}

/* Queues the folds of one journal element's entries; adds the commands to *ncmd. False
 * when the element is not one journal_add() writes (it is skipped, and said). */
static bool jelement_send(redisstore_t *s, const char *el, size_t len, size_t *ncmd) {
    const char *end = el + len, *p = memchr(el, '\n', len);
    if (!p)
        return false;
    for (p++; p < end;) {
        jentry_t e;
        if (!jentry_next(&p, end, &e))
            return false;
        p = jrun_send(s, p, end, &e);
        *ncmd += 2;
    }
    return true;
}

/* Whether this load must fold the journals first (journal_recover): at the first load, and
 * at the first after state was forgotten. Also with the journal off, so that an engine
 * started with fold_ms 0 folds what an earlier one left in them. */
static bool journal_wanted(const redisstore_t *s, const rw_batch_t *b) {
    return !s->jf_set || s->jf != b->forgets;
}

/* Folds one partition's journal: every entry it holds to its window's list, then the
 * elements read trimmed off it. 0, or RW_ERR_REDIS. */
static int journal_fold_all(redisstore_t *s, int32_t partition, rw_error_t *err) {
    rw_rcluster_reset(s->rc);
    args_reset(s);
    arg_add(s, "LRANGE", 6);
    journal_key(s, partition);
    args_whole_send(s);
    if (rs_exec(s, "journal read", err) != 0)
        return RW_ERR_REDIS;
    redisReply *r = reply_get(s, err);
    if (!r)
        return RW_ERR_REDIS;
    if (r->type != REDIS_REPLY_ARRAY) {
        int rc = reply_refused(err, "journal read", r);
        reply_free(s, r);
        return rc;
    }
    rw_rcluster_reset(s->rc);
    size_t ncmd = 0, bad = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *el = r->element[i];
        if (el->type != REDIS_REPLY_STRING || !jelement_send(s, el->str, el->len, &ncmd))
            bad++;
    }
    if (bad)
        rw_log(RW_LOG_WARN,
               "redis: %zu element(s) of the journal of partition %d are not "
               "the engine's; left out of the windows",
               bad, (int)partition);
    int rc = 0;
    if (ncmd &&
        (rs_exec(s, "journal fold", err) != 0 || replies_check(s, ncmd, "journal fold", err) != 0))
        rc = RW_ERR_REDIS;
    if (rc == 0 && r->elements) {
        rw_rcluster_reset(s->rc);
        args_reset(s);
        arg_add(s, "EVAL", 4);
        arg_add(s, journal_trim_script, strlen(journal_trim_script));
        arg_add(s, "1", 1);
        journal_key(s, partition);
        const redisReply *first = r->element[0];
        arg_add(s, first->type == REDIS_REPLY_STRING ? first->str : "",
                first->type == REDIS_REPLY_STRING ? first->len : 0);
        arg_i64(s, (int64_t)r->elements);
        args_send(s, 3, RW_RC_WRITE);
        if (rs_exec(s, "journal trim", err) != 0 || replies_check(s, 1, "journal trim", err) != 0)
            rc = RW_ERR_REDIS;
    }
    reply_free(s, r);
    return rc;
}

/* The journals' register: the partitions whose journals were written, by every engine of the
 * group ("{rw}:wjs:GROUP", a set). */
static void journal_register_key(redisstore_t *s) { arg_fmt(s, "%swjs:%s", s->tprefix, s->group); }

/* Folds every journal of the group: the windows the engine reads next then find in their
 * lists every entry any engine journaled, whichever partition it came from (a window keyed
 * apart from its messages takes entries from partitions of other engines). At the first
 * load and after state was forgotten, before the load's read; the partitions' lengths first,
 * so that a register with nothing to fold costs one round trip. 0, or RW_ERR_REDIS. */
static int journal_recover(redisstore_t *s, const rw_batch_t *b, rw_error_t *err) {
    rw_rcluster_reset(s->rc);
    args_reset(s);
    arg_add(s, "SMEMBERS", 8);
    journal_register_key(s);
    args_send(s, 1, 0);
    if (rs_exec(s, "journal register", err) != 0)
        return RW_ERR_REDIS;
    redisReply *r = reply_get(s, err);
    if (!r)
        return RW_ERR_REDIS;
    int rc = r->type == REDIS_REPLY_ARRAY ? 0 : reply_refused(err, "journal register", r);
    size_t n = rc == 0 ? r->elements : 0;
    int32_t *parts = rw_malloc((n ? n : 1) * sizeof(*parts));
    for (size_t k = 0; k < n; k++)
        parts[k] = r->element[k]->type == REDIS_REPLY_STRING
                       ? (int32_t)strtol(r->element[k]->str, NULL, 10)
                       : 0;
    reply_free(s, r);
    rw_rcluster_reset(s->rc);
    for (size_t k = 0; k < n; k++) {
        args_reset(s);
        arg_add(s, "LLEN", 4);
        journal_key(s, parts[k]);
        args_send(s, 1, 0);
    }
    if (n && rs_exec(s, "journal length", err) != 0)
        rc = RW_ERR_REDIS;
    size_t m = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        redisReply *l = reply_get(s, err);
        if (!l) {
            rc = RW_ERR_REDIS;
            break;
        }
        if (l->type == REDIS_REPLY_INTEGER && l->integer > 0)
            parts[m++] = parts[k];
        else if (l->type != REDIS_REPLY_INTEGER)
            rc = reply_refused(err, "journal length", l);
        reply_free(s, l);
    }
    for (size_t k = 0; rc == 0 && k < m; k++)
        rc = journal_fold_all(s, parts[k], err);
    free(parts);
    if (rc == 0) {
        s->jf = b->forgets;
        s->jf_set = true;
    }
    return rc;
}

/* Whether a window read every batch may read only what its list gained: it
 * holds every entry the batch needs, and none of the batch's partitions past
 * that partition's fence (which a whole read would leave out: the entry of a
 * message not stored, which evaluating the message adds again). */
static bool window_tail_ok(const rw_batch_t *b, const rw_wstate_t *ws) {
    if (!ws->shared || !ws->loaded || !ws->list_read || ws->load_min_ms <= ws->loaded_from_ms)
        return false;
    for (size_t k = 0; k < ws->n_srcs; k++) {
        const rw_src_t *src = &b->srcs[ws->srcs[k].src];
        if (src->max_offset >= 0 && (!src->fence_known || ws->srcs[k].max_offset > src->fence))
            return false;
    }
    return true;
}

/* Queues a tail read of ws's list: its elements from the last one read on.
 * Elements are only appended, and trimmed from the head by trim_script,
 * which appends a mark when it drops any: while the last element read is at
 * its place and no mark follows it, what follows it is what the list gained
 * since. A list trimmed since holds a mark past that place, or is shorter;
 * one expired, deleted or written anew (a loss of Redis) holds another
 * element there, or is shorter (list_kept). */
static void window_tail_send(redisstore_t *s, const rw_wstate_t *ws) {
    args_reset(s);
    arg_add(s, "LRANGE", 6);
    arg_window(s, ws);
    arg_i64(s, (int64_t)ws->list_read - 1);
    arg_add(s, "-1", 2);
    args_send(s, 1, 0);
}

/* Queues a read of ws's whole list (which replaces what ws holds once its
 * reply is taken: window_took_all). */
static void window_all_send(redisstore_t *s, const rw_wstate_t *ws) {
    args_reset(s);
    arg_add(s, "LRANGE", 6);
    arg_window(s, ws);
    args_whole_send(s);
}

/* Queues one window's read: what its list gained since the last read when
 * that is enough (window_tail_ok), else the whole list (its length is the
 * size the store holds). Its expiry is not read: a window whose expiry this
 * engine did not set (stored_ttl_at 0) sets it with its first write. */
static void window_append_send(redisstore_t *s, const rw_batch_t *b, rw_wstate_t *ws,
                               bool want_fresh);

static void window_send(redisstore_t *s, rw_batch_t *b, rw_wstate_t *ws) {
    if (window_tail_ok(b, ws)) {
        ws->reading = RW_READ_TAIL;
        window_tail_send(s, ws);
        return;
    }
    ws->reading = RW_READ_ENTRIES;
    if (ws->n_unfolded) {
        /* What only a journal holds goes to the list first, on the same node: the read
         * that replaces the window's entries then has them (windows_recv). */
        window_append_send(s, b, ws, false);
        ws->reading |= RW_READ_FOLDED;
    }
    window_all_send(s, ws);
}

/* Queues the reads of the fences this engine does not know yet
 * (fence_wanted) and of the windows it does not hold. Each window's reading
 * says what was asked; what it holds stays until its reply is taken. */
static void windows_send(redisstore_t *s, rw_batch_t *b) {
    for (size_t i = 0; i < b->n_srcs; i++) {
        if (!fence_wanted(&b->srcs[i]))
            continue;
        args_reset(s);
        arg_add(s, "GET", 3);
        fence_key(s, &b->srcs[i]);
        args_send(s, 1, 0);
    }
    for (size_t i = 0; i < b->n_touched; i++) {
        rw_wstate_t *ws = b->touched[i];
        ws->reading = 0;
        if (window_needs_read(ws))
            window_send(s, b, ws);
    }
}

/* Reads the replies of the fences windows_send() asked for. Returns 0, or
 * RW_ERR_REDIS when one is missing; one that is not a fence sets *rc (err
 * filled). */
static int fences_recv(redisstore_t *s, rw_batch_t *b, int *rc, rw_error_t *err) {
    for (size_t i = 0; i < b->n_srcs; i++) {
        if (!fence_wanted(&b->srcs[i]))
            continue;
        redisReply *r = reply_get(s, err);
        if (!r)
            return RW_ERR_REDIS;
        b->srcs[i].fence_known = r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL;
        if (r->type == REDIS_REPLY_STRING)
            b->srcs[i].fence = strtoll(r->str, NULL, 10);
        else if (r->type == REDIS_REPLY_NIL)
            b->srcs[i].fence = -1;
        else
            *rc = reply_refused(err, "fence read", r);
        reply_free(s, r);
    }
    return 0;
}

/* Takes what a window's read brought, r's elements from skip on (tail: the
 * list's elements after those read before), the list being len long. */
static void window_took(redisstore_t *s, rw_batch_t *b, rw_wstate_t *ws, const redisReply *r,
                        size_t skip, bool tail, size_t len) {
    window_read(s, b, ws, r, skip, tail);
    lm_take(ws, r, tail);
    list_note(ws, r, len - r->elements);
    /* Every read tells what the list holds that no event needs: a window
     * read every batch is trimmed like one held (the read is the list). */
    ws->stale = len > ws->n ? len - ws->n : 0;
}

/* Takes the reply of a read of a window's whole list, in place of what the
 * window held. One that is not a list sets *rc (err filled) and leaves the
 * window as it was, held or not, as does a reply that never comes: a read
 * that fails loses nothing held (it may be written back after a loss). */
static void window_took_all(redisstore_t *s, rw_batch_t *b, rw_wstate_t *ws, const redisReply *r,
                            int *rc, rw_error_t *err) {
    ws->reading = 0;
    if (r->type != REDIS_REPLY_ARRAY) {
        *rc = reply_refused(err, "window read", r);
        return;
    }
    rw_window_clear(b, ws);
    /* One window more than the batch needs: later batches' late events. */
    ws->loaded_from_ms = ws->load_min_ms - ws->window_ms;
    ws->loaded = true;
    window_took(s, b, ws, r, 0, false, r->elements);
}

/* Takes the reply of a tail read (window_tail_send): what the list gained,
 * or, when it is not as the last read left it (or the reply is not a list),
 * marks the window to be read whole (windows_again). */
static void window_took_tail(redisstore_t *s, rw_batch_t *b, rw_wstate_t *ws,
                             const redisReply *tail) {
    if (!list_kept(ws, tail)) {
        ws->reading = RW_READ_REDO;
        return;
    }
    ws->reading = 0;
    window_took(s, b, ws, tail, 1, true, ws->list_read - 1 + tail->elements);
}

/* Reads the replies of the windows windows_send() asked for. Returns 0, or
 * RW_ERR_REDIS when one is missing; a reply that is not a list sets *rc (err
 * filled). */
static int windows_recv(redisstore_t *s, rw_batch_t *b, int *rc, rw_error_t *err) {
    for (size_t i = 0; i < b->n_touched; i++) {
        rw_wstate_t *ws = b->touched[i];
        uint8_t asked = ws->reading;
        if (!asked)
            continue;
        bool folded = true;
        if (asked & RW_READ_FOLDED) {
            redisReply *f = reply_get(s, err);
            if (!f)
                return RW_ERR_REDIS;
            folded = f->type == REDIS_REPLY_INTEGER;
            if (folded)
                rw_window_folded(b, ws);
            else
                *rc = reply_refused(err, "window fold", f);
            reply_free(s, f);
        }
        redisReply *r = reply_get(s, err);
        if (!r)
            return RW_ERR_REDIS;
        if (!folded)
            ws->reading = 0; /* the read lacks what only the journal holds: keep what is held */
        else if (asked & RW_READ_TAIL)
            window_took_tail(s, b, ws, r);
        else
            window_took_all(s, b, ws, r, rc, err);
        reply_free(s, r);
    }
    return 0;
}

/* Reads whole the windows whose tail read found their list changed (another
 * engine's trim, an expiry, a loss): one more exchange, in the batches that
 * meet one. Returns 0, or RW_ERR_REDIS (*rc: a reply that is not a list). */
static int windows_again(redisstore_t *s, rw_batch_t *b, int *rc, rw_error_t *err) {
    size_t n = 0;
    for (size_t i = 0; i < b->n_touched; i++)
        if (b->touched[i]->reading & RW_READ_REDO) {
            window_all_send(s, b->touched[i]);
            n++;
        }
    if (!n)
        return 0;
    if (rs_exec(s, "read", err) != 0)
        return RW_ERR_REDIS;
    for (size_t i = 0; i < b->n_touched; i++) {
        rw_wstate_t *ws = b->touched[i];
        if (!(ws->reading & RW_READ_REDO))
            continue;
        redisReply *r = reply_get(s, err);
        if (!r)
            return RW_ERR_REDIS;
        window_took_all(s, b, ws, r, rc, err);
        reply_free(s, r);
    }
    return 0;
}

/* Held or read every batch: what is keyed apart (the apart_* fields). */
#define APART_QUIET_MIN 256
#define APART_QUIET_MAX 65536

static void arg_apart_key(redisstore_t *s) { arg_cat(s, s->tprefix, "apart-writes", NULL); }

/* Holds what is keyed apart (held) or reads it every batch (!held), from the batch in hand
 * on: what is kept is forgotten, and read again the new way. Reading every batch lasts
 * until apart_need readings in a row show no other engine's write. */
static void apart_turn(redisstore_t *s, rw_batch_t *b, bool held) {
    if (!held)
        s->apart_need = !s->apart_need                    ? APART_QUIET_MIN
                        : s->apart_need < APART_QUIET_MAX ? s->apart_need * 2
                                                          : APART_QUIET_MAX;
    if (!held || s->apart_need) /* not at the start */
        rw_log(RW_LOG_INFO,
               held ? "no other engine wrote windows or cool-downs keyed apart from their "
                      "messages in %llu readings: they are held again"
                    : "another engine writes windows or cool-downs keyed apart from their "
                      "messages: they are read every batch until %llu readings in a row show "
                      "none",
               (unsigned long long)(held ? s->apart_quiet : s->apart_need));
    rw_batch_hold_apart(b, held);
    s->apart_base = held;
    s->apart_stale = false;
    s->apart_quiet = 0;
}

/* Holds what is keyed apart once enough readings in a row showed no other engine's write
 * (at the start: nothing is held to miss one). */
static void apart_hold_maybe(redisstore_t *s, rw_batch_t *b) {
    if (b->mode == RW_STATE_CACHED && !b->apart_held && s->apart_quiet >= s->apart_need)
        apart_turn(s, b, true);
}

/* Takes a reading of the counter: v its value (-1: unknown), own whether it is the reply to
 * this engine's INCR (which adds one). A reading is quiet when only this engine's writes
 * moved the counter since the last one. */
static void apart_observe(redisstore_t *s, const rw_batch_t *b, int64_t v, bool own) {
    bool quiet = v >= 0 && s->apart_last >= 0 && v == s->apart_last + own;
    if (v >= 0 && s->apart_base) { /* nothing held to compare: what is read now is complete */
        quiet = true;
        s->apart_base = false;
    }
    if (!quiet && b->apart_held)
        s->apart_stale = true;
    s->apart_quiet = quiet ? s->apart_quiet + 1 : 0;
    s->apart_last = v;
}

/* Whether the batch writes what is keyed apart: new entries, a changed cool-down. */
static bool batch_writes_apart(const rw_batch_t *b) {
    if (b->mode != RW_STATE_CACHED)
        return false;
    for (size_t i = 0; i < b->n_touched; i++)
        if (b->touched[i]->n_fresh && b->touched[i]->apart)
            return true;
    for (size_t i = 0; i < b->n_cools_touched; i++)
        if (b->cools_touched[i]->dirty && b->cools_touched[i]->apart)
            return true;
    return false;
}

/* A write apart counts itself after its entries (apart_observe); the count lives as long as
 * a fence past the last such write (gone: one turn read every batch). */
static void apart_count_send(redisstore_t *s, const rw_batch_t *b) {
    s->apart_cmd = SIZE_MAX;
    if (!batch_writes_apart(b))
        return;
    args_reset(s);
    arg_add(s, "INCR", 4);
    arg_apart_key(s);
    args_send(s, 1, RW_RC_WRITE);
    s->apart_cmd = s->n_win_cmds++;
    args_reset(s);
    arg_add(s, "EXPIRE", 6);
    arg_apart_key(s);
    arg_i64(s, FENCE_TTL_S);
    args_send(s, 1, RW_RC_WRITE);
    s->n_win_cmds++;
}

/* Queues a batch's whole read, one exchange: the marker and the cases
 * (first_send), the cool-downs, fences and windows this engine does not
 * hold, and the lookups. It changes nothing the batch holds but the cases it
 * reads (a window or a cool-down is emptied as its reply is read), so that
 * what the engine holds is whole when the marker turns out gone and it is
 * written back. */
static void read_send(redisstore_t *s, rw_batch_t *b, first_sent_t *n) {
    cases_forget(b);
    /* The counter first: a write it counts has its entries in before (apart_observe). */
    s->apart_get = b->mode == RW_STATE_CACHED;
    if (s->apart_get) {
        args_reset(s);
        arg_add(s, "GET", 3);
        arg_apart_key(s);
        args_send(s, 1, 0);
    }
    first_send(s, b, n);
    cools_send(s, b);
    windows_send(s, b);
    lookups_send(s->rc, s->prefix, b);
}

/* A load that failed, or found the marker gone: the windows and cool-downs
 * whose replies it did not take keep what they held and are read again by the
 * next load; what the engine held besides stays held (kept_intact), so that it
 * can be written back should Redis turn out to have lost its state. */
static void load_cut_short(rw_batch_t *b) {
    for (size_t i = 0; i < b->n_touched; i++)
        b->touched[i]->reading = 0;
    for (size_t i = 0; i < b->n_cools_touched; i++)
        b->cools_touched[i]->reading = false;
}

static int redis_load(rw_store_t *base, rw_batch_t *b, rw_error_t *err);

/* What the read takes after the marker and the cases: cool-downs, fences,
 * windows and lookups. 0, or RW_ERR_REDIS. */
static int load_rest(redisstore_t *s, rw_batch_t *b, rw_error_t *err) {
    int rc = 0;
    if (cools_recv(s, b, &rc, err) != 0 || fences_recv(s, b, &rc, err) != 0 ||
        windows_recv(s, b, &rc, err) != 0)
        return RW_ERR_REDIS;
    if (lookups_read(s->rc, b) != 0)
        return rw_error_fail(err, RW_ERR_REDIS, "redis: watchlist read failed");
    if (windows_again(s, b, &rc, err) != 0)
        return RW_ERR_REDIS;
    return rc;
}

/* Takes the replies of read_send()'s commands, in their order. 0,
 * RW_ERR_STATE_LOST, or RW_ERR_REDIS. */
static int read_recv(redisstore_t *s, rw_batch_t *b, const first_sent_t *n, rw_error_t *err) {
    bool marked, ran;
    int64_t apart = -1;
    if (s->apart_get) {
        redisReply *r = reply_get(s, err);
        if (!r) {
            load_cut_short(b);
            return RW_ERR_REDIS;
        }
        if (r->type == REDIS_REPLY_STRING)
            apart = strtoll(r->str, NULL, 10);
        else if (r->type == REDIS_REPLY_NIL)
            apart = 0;
        reply_free(s, r);
    }
    if (first_recv(s, b, n->nknown, &marked, &ran, err) != 0) {
        load_cut_short(b);
        return RW_ERR_REDIS;
    }
    if (!marked && s->marker_seen) {
        rw_rcluster_reset(s->rc);
        load_cut_short(b);
        unsure_settle(s, true); /* kept as if the write ran: its cases too */
        return state_restore(s, b, "its marker is gone", err);
    }
    s->marker_seen |= marked;
    if (s->unsure) {
        /* The write did not run: what is kept is ahead of Redis. Read it all. */
        unsure_settle(s, ran);
        if (!ran) {
            rw_rcluster_reset(s->rc);
            rw_batch_forget_state(b);
            return redis_load(&s->base, b, err);
        }
    }
    if (s->apart_get) {
        apart_observe(s, b, apart, false);
        if (b->apart_held && s->apart_stale) {
            /* Held apart state may lack another engine's write: read it again, and every
             * batch from now on. */
            rw_rcluster_reset(s->rc);
            load_cut_short(b);
            apart_turn(s, b, false);
            return redis_load(&s->base, b, err);
        }
    }
    int rc =
        cases_read(s, b, n->ncase_rules, n->ncases, err) != 0 ? RW_ERR_REDIS : load_rest(s, b, err);
    if (rc != 0)
        load_cut_short(b);
    return rc;
}

/* Whether the read sent behind the last write is this batch's, answered. */
static bool ahead_ready(const redisstore_t *s, const rw_batch_t *b) {
    return s->ahead == AHEAD_READY && s->ahead_b == b && s->ahead_seq == b->seq;
}

static int redis_load(rw_store_t *base, rw_batch_t *b, rw_error_t *err) {
    redisstore_t *s = (redisstore_t *)base;
    base->kept_intact = true; /* a failed load forgets only what it was reading */
    bool ready = ahead_ready(s, b);
    s->ahead = AHEAD_NONE;
    if (ready)
        return read_recv(s, b, &s->ahead_n, err);
    if (rw_rcluster_in_flight(s->rc))
        return rw_error_fail(err, RW_ERR_REDIS, "redis: a write is still in flight");
    if (rs_ensure(s, err))
        return RW_ERR_REDIS;
    if (!s->layout_checked && b->n_srcs)
        old_layout_check(s, b);
    apart_hold_maybe(s, b); /* which may forget the state: before the journals' fold */
    if (journal_wanted(s, b) && journal_recover(s, b, err) != 0)
        return RW_ERR_REDIS;
    rw_rcluster_reset(s->rc);
    first_sent_t n;
    read_send(s, b, &n);
    if (rs_exec(s, "read", err) != 0) {
        load_cut_short(b);
        return RW_ERR_REDIS;
    }
    return read_recv(s, b, &n, err);
}

/* Sends the batch's read right behind the write in flight, on the same
 * connections, without waiting for the write's answer: each node runs them
 * in order, so the read sees the write. apply_wait() takes the read's
 * replies with the write's, and keeps them for this batch's load() only when
 * the write was answered as it should be. */
static void redis_load_send(rw_store_t *base, rw_batch_t *b) {
    redisstore_t *s = (redisstore_t *)base;
    s->ahead = AHEAD_NONE;
    if (!rw_rcluster_in_flight(s->rc) || s->write_lost || s->unsure || !s->layout_checked ||
        journal_wanted(s, b))
        return;
    args_keep(s); /* the read is built in argv: the script's, for a resend after NOSCRIPT */
    apart_hold_maybe(s, b);
    read_send(s, b, &s->ahead_n);
    if (rw_rcluster_send(s->rc) != 0) {
        s->write_lost = true; /* every connection is dropped: apply_wait() says so */
        return;
    }
    s->ahead = AHEAD_SENT;
    s->ahead_b = b;
    s->ahead_seq = b->seq;
}

/* The next of this engine's marks into buf (at least 80 bytes); returns its
 * length. */
static size_t mark_next(redisstore_t *s, char *buf) {
    size_t n = strlen(s->mark_id);
    memcpy(buf, s->mark_id, n);
    buf[n++] = '.';
    n += rw_number_i64_text((int64_t)++s->n_marks, buf + n);
    buf[n] = 0;
    return n;
}

/* ---- The journal (docs/performance.md, "A journal a partition") ------------------------
 *
 * A window the engine holds (not read every batch) does not get an RPUSH of its own each
 * write: its new entries go into one
 * element of its partition's journal ("{rw}:wj:GROUP:PARTITION", by the partition's number,
 * which co-partitioned topics share; in the script's slot), appended just before the
 * script, and the fold appends them to the window's own list later, paced over fold_ms,
 * several at a time. A window read from its list alone would miss what is only in
 * a journal: so at the first load and whenever state was forgotten since (b->forgets), the
 * load folds every journal of the group first (journal_recover: a window keyed apart takes
 * entries from other engines' partitions), and eviction folds before it drops
 * (b->fold_all). Another engine meeting a window keyed apart that this one holds reads it
 * on its first touch, after its own fold of every journal; once this engine's writes to
 * such state show in the writes counter, the other forgets and folds again (the protocol
 * of state keyed apart: apart_*), and this one, seeing the other's writes, reads such
 * windows every batch and journals them no more.
 *
 * An element is "WRITER|SEQ|MS\n" (this engine's mark id, its count of journal writes, the
 * wall clock), then each entry as "IDLEN:ID" (the window's "RULE_ID:KEY"), "TTL:" (its
 * list's expiry, ms), "LEN:TEXT" (the list element, entry_text()). */
typedef struct jpart {
    int32_t partition;
    rw_buf_t el;
} jpart_t;

/* The trims of this engine's journals go with one write in this many. */
#define JOURNAL_TRIM_EVERY 16

/* This write's element for a partition, begun with its header. */
static jpart_t *jpart_get(redisstore_t *s, int32_t partition, int64_t now) {
    for (size_t i = 0; i < s->n_jparts; i++)
        if (s->jparts[i].partition == partition)
            return &s->jparts[i];
    if (s->n_jparts == s->jparts_cap) {
        s->jparts_cap = s->jparts_cap ? 2 * s->jparts_cap : 4;
        s->jparts = rw_realloc(s->jparts, s->jparts_cap * sizeof(*s->jparts));
        for (size_t i = s->n_jparts; i < s->jparts_cap; i++)
            rw_buf_init(&s->jparts[i].el);
    }
    jpart_t *j = &s->jparts[s->n_jparts++];
    j->partition = partition;
    rw_buf_reset(&j->el);
    rw_buf_printf(&j->el, "%s|%llu|%lld\n", s->mark_id, (unsigned long long)s->jseq,
                  (long long)now);
    size_t k;
    for (k = 0; k < s->n_jwritten && s->jwritten[k] != partition; k++)
        ;
    if (k == s->n_jwritten) {
        if (s->n_jwritten == s->jwritten_cap) {
            s->jwritten_cap = s->jwritten_cap ? 2 * s->jwritten_cap : 4;
            s->jwritten = rw_realloc(s->jwritten, s->jwritten_cap * sizeof(*s->jwritten));
        }
        s->jwritten[s->n_jwritten++] = partition;
    }
    return j;
}

/* The first of ws's fresh entries (they are mostly its last). */
static size_t fresh_from(const rw_wstate_t *ws) {
    size_t from = ws->n, left = ws->n_fresh;
    for (; from > 0 && left; from--)
        left -= ws->meta[from - 1].fresh;
    return from;
}

/* Puts ws's fresh entries in this write's journal elements, and marks them unfolded. */
static void journal_add(redisstore_t *s, rw_batch_t *b, rw_wstate_t *ws, int64_t now) {
    size_t idl = (size_t)ws->key_off + ws->key_len;
    entry_text_t t = {.src = NULL};
    for (size_t e = fresh_from(ws); e < ws->n; e++) {
        const rw_wmeta_t *m = &ws->meta[e];
        if (!m->fresh)
            continue;
        const rw_src_t *src = &b->srcs[m->src];
        jpart_t *j = jpart_get(s, src->partition, now);
        size_t len = entry_text(&t, ws->ents[e].ts_ms, src, m->offset, ws->ents[e].value);
        /* "IDLEN:ID" "TTL:" "LEN:TEXT", numbers without printf (one entry an event or two) */
        char *w = rw_buf_room(&j->el, 3 * 21 + 3 + idl + len);
        w += rw_number_i64_text((int64_t)idl, w);
        *w++ = ':';
        memcpy(w, ws->id, idl);
        w += idl;
        w += rw_number_i64_text(window_ttl_ms(ws), w);
        *w++ = ':';
        w += rw_number_i64_text((int64_t)len, w);
        *w++ = ':';
        entry_write(&t, w);
        j->el.len = (size_t)(w + len - j->el.data);
    }
    rw_window_journaled(b, ws, s->jseq);
}

/* Whether the engine holds what partition's journal holds for it: every source of that
 * number has its fence known (read after the journal was folded: journal_recover). */
static bool journal_known(const rw_batch_t *b, int32_t partition) {
    for (size_t i = 0; i < b->n_srcs; i++)
        if (b->srcs[i].partition == partition && !b->srcs[i].fence_known)
            return false;
    return true;
}

/* This write's journal elements, one RPUSH each, ahead of the script like a window's own
 * append: its entries are facts that a read takes once however often they were appended,
 * and a read skips those of messages past their partition's fence (the script did not
 * run). In the script's slot, so on its node and before it. Each with its expiry: a
 * journal lives as long as fences, trimmed as it is folded; only a group gone for good
 * leaves one to expire. */
static void journal_elements_send(redisstore_t *s) {
    for (size_t i = 0; i < s->n_jparts; i++) {
        args_reset(s);
        arg_add(s, "RPUSH", 5);
        journal_key(s, s->jparts[i].partition);
        arg_add(s, s->jparts[i].el.data, s->jparts[i].el.len);
        args_send(s, 1, RW_RC_WRITE);
        args_reset(s);
        arg_add(s, "PEXPIRE", 7);
        journal_key(s, s->jparts[i].partition);
        arg_i64(s, FENCE_TTL_S * 1000);
        args_send(s, 1, RW_RC_WRITE);
        s->n_win_cmds += 2;
    }
    if (!s->n_jparts)
        return;
    /* In the register, for the engine that folds every journal after it forgot its state. */
    args_reset(s);
    arg_add(s, "SADD", 4);
    journal_register_key(s);
    for (size_t i = 0; i < s->n_jparts; i++)
        arg_i64(s, s->jparts[i].partition);
    args_send(s, 1, RW_RC_WRITE);
    args_reset(s);
    arg_add(s, "PEXPIRE", 7);
    journal_register_key(s);
    arg_i64(s, FENCE_TTL_S * 1000);
    args_send(s, 1, RW_RC_WRITE);
    s->n_win_cmds += 2;
}

/* The apply script's journal operations: once in JOURNAL_TRIM_EVERY writes, the trims of
 * the journals this engine wrote up to what the last answered write had folded (not of one
 * whose entries the engine forgot since, which the next load that reads its partition
 * folds first). */
static void journal_ops(redisstore_t *s, const rw_batch_t *b) {
    if (s->jseq % JOURNAL_TRIM_EVERY)
        return;
    for (size_t i = 0; i < s->n_jwritten; i++) {
        if (!journal_known(b, s->jwritten[i]))
            continue;
        arg_add(s, "T", 1);
        journal_key(s, s->jwritten[i]);
        arg_add(s, s->mark_id, strlen(s->mark_id));
        arg_i64(s, (int64_t)s->j_done);
    }
}

/* A window's new entries (want_fresh), or those not folded yet, in time order, as one RPUSH
 * sent ahead of the script: an entry is a fact (this message, at this time, with this
 * value) that a read takes once however often it was appended (a write done again appends
 * it again), so it needs no fence. The list's picture is kept when the engine holds it.
 * Written straight into the queue: the engine's one RPUSH a touched window is most of a
 * batch's write when it journals nothing. */
static void window_append_send(redisstore_t *s, const rw_batch_t *b, rw_wstate_t *ws,
                               bool want_fresh) {
    size_t from = want_fresh ? fresh_from(ws) : 0;
    size_t count = 0;
    for (size_t e = from; e < ws->n; e++)
        count += want_fresh ? ws->meta[e].fresh : ws->meta[e].unfolded;
    /* A list read empty starts with a mark of this engine's: while it leads,
     * the list is what the engine pictures (trim_script). */
    bool held = ws->lm_ok && !ws->shared, mark = ws->lm_ok && ws->lm_n == 0;
    rw_rcluster_cmd_begin(s->rc, 2 + mark + count);
    memcpy(rw_rcluster_cmd_arg(s->rc, 5, false), "RPUSH", 5);
    window_key(s, ws, rw_rcluster_cmd_arg(s->rc, window_key(s, ws, NULL), true));
    if (mark) {
        char text[80];
        size_t ml = mark_next(s, text);
        memcpy(rw_rcluster_cmd_arg(s->rc, ml, false), text, ml);
        if (held) {
            ws->lm_head = rw_strdup(text);
            lm_push(ws, INT64_MIN);
        }
    }
    entry_text_t t = {.src = NULL};
    for (size_t e = from; e < ws->n; e++) {
        const rw_wmeta_t *m = &ws->meta[e];
        if (!(want_fresh ? m->fresh : m->unfolded))
            continue;
        size_t len =
            entry_text(&t, ws->ents[e].ts_ms, &b->srcs[m->src], m->offset, ws->ents[e].value);
        entry_write(&t, rw_rcluster_cmd_arg(s->rc, len, false));
        if (held)
            lm_push(ws, ws->ents[e].ts_ms);
    }
    rw_rcluster_cmd_end(s->rc, RW_RC_WRITE);
}

static void window_write(redisstore_t *s, const rw_batch_t *b, rw_wstate_t *ws, int64_t now);

/* The fold's step in a write: from the front of the queue, a share of the windows in
 * proportion to the time since the last step (all of them when eviction waits on them),
 * each appended to its own list with its trim and expiry as a write would. Sets what this
 * write folds every element up to (j_sent_done). */
static void journal_fold_send(redisstore_t *s, rw_batch_t *b, int64_t now) {
    int64_t dt = s->fold_at && now > s->fold_at ? now - s->fold_at : 0;
    s->fold_at = now;
    /* Each window's share of the time since the last step, carried over: a queue that stays
     * as long folds all of it in fold_ms. */
    s->fold_credit += (double)b->n_folding * (double)dt / (double)s->o.fold_ms;
    if (s->fold_credit > (double)b->n_folding)
        s->fold_credit = (double)b->n_folding;
    size_t budget = b->fold_all ? b->n_folding : (size_t)s->fold_credit;
    s->fold_credit -= (double)budget;
    if (s->fold_credit < 0)
        s->fold_credit = 0;
    b->fold_all = false;
    while (budget-- && b->fold_head) {
        rw_wstate_t *ws = b->fold_head;
        window_append_send(s, b, ws, false);
        s->n_win_cmds++;
        window_write(s, b, ws, now);
        rw_window_folded(b, ws);
    }
    s->j_sent_done = b->fold_head ? b->fold_head->fold_seq - 1 : s->jseq;
}

/* trim_script's ARGV[2]: the cut plus one as 13 digits, or "" (length 0). */
static size_t trim_cut_text(int64_t cut, char *buf) {
    return cut >= -1 && cut < TS_END - 1 ? ts_text(cut + 1, buf) : 0;
}

/* How many leading elements of ws's list are at or before the cut, by the
 * engine's picture of it (0 when there is none to go by: no picture, or no mark
 * at its head); *entries: how many of them are entries. */
static size_t lm_count(const rw_wstate_t *ws, int64_t cut, size_t *entries) {
    size_t k = 0;
    *entries = 0;
    if (!ws->lm_ok || !ws->lm_head || ws->lm_reread)
        return 0;
    for (; k < ws->lm_n && ws->lm_ts[k] <= cut; k++)
        *entries += ws->lm_ts[k] != INT64_MIN;
    return k;
}

/* The picture of a held window's list after its trim of count elements by
 * mark: the mark, the elements after them, the mark again. */
static void lm_trimmed(rw_wstate_t *ws, size_t count, const char *mark) {
    memmove(ws->lm_ts + 1, ws->lm_ts + count, (ws->lm_n - count) * sizeof(*ws->lm_ts));
    ws->lm_n -= count - 1;
    ws->lm_ts[0] = INT64_MIN;
    lm_push(ws, INT64_MIN);
    free(ws->lm_head);
    ws->lm_head = rw_strdup(mark);
}

static void trim_str(redisstore_t *s, trim_sent_t *t, int which, const char *str, size_t len) {
    t->off[which] = s->trim_keys.len;
    t->len[which] = len;
    rw_buf_append(&s->trim_keys, str, len);
    rw_buf_append(&s->trim_keys, "", 1); /* NUL-terminated */
}

/* Queues the trim t (its window's key last in argv) as EVALSHA (or EVAL with
 * the script's text: sha NULL). */
static void trim_queue(redisstore_t *s, const trim_sent_t *t, const char *sha) {
    char cut[24], ck[24], count[24], llen[24];
    const char *st = s->trim_keys.data;
    const char *argv[] = {sha ? "EVALSHA" : "EVAL",
                          sha ? sha : trim_script,
                          "1",
                          st + t->off[TRIM_KEY],
                          cut,
                          ck,
                          st + t->off[TRIM_MARK],
                          count,
                          st + t->off[TRIM_HEAD],
                          llen};
    size_t argl[] = {sha ? 7 : 4,
                     sha ? strlen(sha) : sizeof(trim_script) - 1,
                     1,
                     t->len[TRIM_KEY],
                     rw_number_i64_text(t->cut, cut),
                     trim_cut_text(t->cut, ck),
                     t->len[TRIM_MARK],
                     rw_number_i64_text((int64_t)t->count, count),
                     t->len[TRIM_HEAD],
                     t->llen == SIZE_MAX ? 0 : rw_number_i64_text((int64_t)t->llen, llen)};
    rw_rcluster_append_argv(s->rc, 3, 10, argv, argl, RW_RC_WRITE);
}

/* A window's trim by trim_script, noted for a resend after NOSCRIPT: by
 * count when the engine's picture of the list (lm_count) allows it. Returns
 * false when that picture shows no entry to drop (nothing sent). */
static bool trim_send(redisstore_t *s, rw_wstate_t *ws, int64_t cut) {
    size_t entries, count = lm_count(ws, cut, &entries);
    if (count && !entries)
        return false;
    if (s->n_trims == s->trims_cap) {
        s->trims_cap = s->trims_cap ? s->trims_cap * 2 : 16;
        s->trims = rw_realloc(s->trims, s->trims_cap * sizeof(*s->trims));
    }
    trim_sent_t *t = &s->trims[s->n_trims++];
    *t = (trim_sent_t){.cmd = s->n_win_cmds,
                       .cut = cut,
                       .count = count,
                       .llen = ws->shared ? SIZE_MAX : ws->lm_n,
                       .by_count = count > 0};
    char mark[80];
    size_t ml = mark_next(s, mark);
    args_reset(s);
    arg_window(s, ws);
    trim_str(s, t, TRIM_KEY, s->strs.data, s->strs.len);
    trim_str(s, t, TRIM_MARK, mark, ml);
    trim_str(s, t, TRIM_HEAD, ws->lm_head ? ws->lm_head : "",
             ws->lm_head ? strlen(ws->lm_head) : 0);
    trim_str(s, t, TRIM_ID, ws->id, strlen(ws->id));
    trim_queue(s, t, s->tsha);
    s->n_win_cmds++;
    /* A held window's picture follows its own trim by count; otherwise it is
     * gone (a window read every batch reads its list whole next: list_forget). */
    if (count && !ws->shared)
        lm_trimmed(ws, count, mark);
    else
        lm_lost(ws);
    return true;
}

/* The window a trim sent was for, if the batch still has it. */
static rw_wstate_t *trim_window(redisstore_t *s, const trim_sent_t *t) {
    return s->sent ? rw_batch_window(s->sent, s->trim_keys.data + t->off[TRIM_ID]) : NULL;
}

/* The reply to window write cmd, when it is a trim's: NOSCRIPT (its node
 * lacks the script: nothing ran) marks it to send again, and returns true; a
 * trim by count that had to look instead takes the picture of its window's
 * list away. */
static bool trim_reply(redisstore_t *s, size_t cmd, const redisReply *r) {
    trim_sent_t *t = NULL;
    for (size_t i = 0; i < s->n_trims && !t; i++)
        if (s->trims[i].cmd == cmd)
            t = &s->trims[i];
    if (!t)
        return false;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
        return t->redo = true;
    bool looked = r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
                  r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer != 0;
    rw_wstate_t *ws;
    if (t->by_count && looked && (ws = trim_window(s, t)))
        lm_lost(ws);
    return false;
}

/* Sends the trims marked again with the script's text, which loads it on
 * their nodes. One that fails again is logged, not an error: the window's
 * next trim drops what it would have. Returns the number sent (the replies
 * not taken before are then gone). Windows trimmed so lose their pictures. */
static size_t trims_redo(redisstore_t *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_trims; i++) {
        const trim_sent_t *t = &s->trims[i];
        if (!t->redo)
            continue;
        trim_queue(s, t, NULL);
        rw_wstate_t *ws = t->by_count ? trim_window(s, t) : NULL;
        if (ws)
            lm_lost(ws);
        n++;
    }
    rw_error_t e;
    rw_error_clear(&e);
    if (n && (rs_exec(s, "window trim", &e) != 0 || replies_check(s, n, "window trim", &e) != 0))
        rw_log(RW_LOG_WARN, "%s", e.text);
    return n;
}

/* Only when needed, a window's trim (once the store holds as many entries no
 * event needs as it holds needed ones, and at least 64) and its expiry (once
 * the last one set is an hour old), sent after its RPUSH (the window's slot is
 * not the script's; trimming and expiry, like entries, are harmless to repeat). */
static void window_write(redisstore_t *s, const rw_batch_t *b, rw_wstate_t *ws, int64_t now) {
    bool trim = ws->stale >= 64 && ws->stale >= ws->n;
    if (!trim && now - ws->stored_ttl_at < WINDOW_GRACE_MS)
        return;
    /* Keep what this batch's events need, and those of the batches stored
     * but not surely committed: after a crash they are read again, and their
     * events must see the same windows. A trim moves the list's head: the
     * next read of a window read every batch takes it whole. */
    if (trim) {
        if (trim_send(s, ws, rw_window_cut(b, ws)))
            list_forget(ws);
        ws->stale = 0;
    }
    args_reset(s);
    arg_add(s, "PEXPIRE", 7);
    arg_window(s, ws);
    arg_i64(s, window_ttl_ms(ws));
    args_send(s, 1, RW_RC_WRITE);
    s->n_win_cmds++;
    /* Set as if written; a failed write forgets the window, and these with it. */
    ws->stored_ttl_at = now;
}

/* Whether the batch changes anything: a message not applied before, a case or
 * a cool-down (a case's due time can pass with no message of its own). */
static bool batch_writes(const rw_batch_t *b, size_t *nf) {
    *nf = 0;
    for (size_t i = 0; i < b->n_srcs; i++)
        if (b->srcs[i].max_offset >= 0 && b->srcs[i].max_offset > b->srcs[i].fence)
            (*nf)++;
    bool any = *nf || b->incrs;
    for (size_t i = 0; !any && i < b->kstab_size; i++)
        for (const rw_case_t *k = b->kstab[i]; k && !any; k = k->next)
            any = k->dirty;
    for (size_t i = 0; !any && i < b->n_cools_touched; i++)
        any = b->cools_touched[i]->dirty;
    return any;
}

/* Windows whose appends go to Redis together while a batch's write is written. */
#define WRITE_SEND_EVERY 64

/* The write's window commands: each touched window's new entries, to its partition's journal
 * (journal_add, the script takes them) or its own list, then the fold's step. 0, or -1 when
 * sending failed. */
static int windows_write_send(redisstore_t *s, rw_batch_t *b, int64_t now) {
    size_t written = 0;
    s->n_jparts = 0;
    if (journal_on(s))
        s->jseq++;
    for (size_t i = 0; i < b->n_touched; i++) {
        rw_wstate_t *ws = b->touched[i];
        if (!ws->n_fresh)
            continue;
        if (journal_window(s, ws)) {
            journal_add(s, b, ws, now);
            continue;
        }
        window_append_send(s, b, ws, true);
        s->n_win_cmds++;
        window_write(s, b, ws, now);
        /* Sent as they come, so that Redis appends while the engine writes the rest. */
        if (++written % WRITE_SEND_EVERY == 0 && rw_rcluster_send(s->rc) != 0)
            return -1;
    }
    if (journal_on(s)) {
        journal_elements_send(s);
        journal_fold_send(s, b, now);
    }
    return 0;
}

static int redis_apply_send(rw_store_t *base, rw_batch_t *b, rw_error_t *err) {
    redisstore_t *s = (redisstore_t *)base;
    base->kept_intact = false;
    s->ahead = AHEAD_NONE;
    s->kept_argc = 0;
    s->n_win_cmds = s->n_trims = 0;
    rw_buf_reset(&s->trim_keys);
    if (rs_ensure(s, err))
        return RW_ERR_REDIS;
    rw_rcluster_reset(s->rc);
    size_t nf;
    if (!batch_writes(b, &nf)) {
        rw_batch_stored(b);
        return 0; /* nothing new: every message was applied before */
    }
    int64_t now = rw_now_ms();
    if (windows_write_send(s, b, now) != 0)
        return rs_drop(s, "apply", err);
    apart_count_send(s, b);
    /* The script last: its text stays in argv for a resend after NOSCRIPT. */
    args_reset(s);
    arg_add(s, "EVALSHA", 7);
    arg_add(s, s->sha, strlen(s->sha));
    arg_add(s, "1", 1);
    arg_add(s, s->anchor, strlen(s->anchor));
    arg_add(s, s->marker, strlen(s->marker));
    arg_add(s, s->marker_seen ? "1" : "0", 1);
    arg_i64(s, now);
    /* Fences of the partitions this batch read from. */
    arg_fmt(s, "%zu", nf);
    for (size_t i = 0; i < b->n_srcs; i++) {
        const rw_src_t *src = &b->srcs[i];
        if (!(src->max_offset >= 0 && src->max_offset > src->fence))
            continue;
        fence_key(s, src);
        if (src->fence >= 0)
            arg_fmt(s, "%lld", (long long)src->fence);
        else
            arg_add(s, "", 0);
        arg_fmt(s, "%lld", (long long)src->max_offset);
    }
    for (rw_incr_t *c = b->incrs; c; c = c->next) {
        arg_add(s, "H", 1);
        arg_cat(s, s->tprefix, c->key, NULL);
        arg_add(s, c->field, strlen(c->field));
        arg_i64(s, c->by);
        arg_i64(s, COUNTER_TTL_S);
    }
    kcases_clear(&s->pending);
    for (size_t i = 0; i < b->kstab_size; i++)
        for (rw_case_t *k = b->kstab[i]; k; k = k->next) {
            if (!k->dirty)
                continue;
            const char *colon = strchr(k->id, ':');
            int rl = (int)(colon - k->id);
            arg_add(s, "C", 1);
            arg_fmt(s, "%sd:%.*s", s->tprefix, rl, k->id);
            arg_fmt(s, "%sd:%.*s:due", s->tprefix, rl, k->id);
            arg_add(s, colon + 1, strlen(colon + 1));
            char *rec = k->open ? rw_case_record(k) : NULL;
            kcase_set(&s->pending, k->id, k->part, rec, k->due_ms, true, 0);
            if (rec) {
                arg_add(s, rec, strlen(rec));
                if (k->due_ms == INT64_MAX)
                    arg_add(s, "", 0);
                else
                    arg_fmt(s, "%lld", (long long)k->due_ms);
            } else {
                arg_add(s, "", 0);
                arg_add(s, "", 0);
            }
            arg_fmt(s, "%d", CASE_TTL_S);
        }
    for (size_t i = 0; i < b->n_cools_touched; i++) {
        const rw_cool_t *c = b->cools_touched[i];
        if (!c->dirty)
            continue;
        char *v = rw_cool_format(c);
        arg_add(s, "S", 1);
        arg_fmt(s, "%scd:%s", s->tprefix, c->id);
        arg_add(s, v, strlen(v));
        arg_fmt(s, "%lld", (long long)b->rs->rules[c->rule].cooldown_ms + WINDOW_GRACE_MS);
        free(v);
    }
    if (journal_on(s))
        journal_ops(s, b);
    /* Sent now, so that Redis runs it while the engine goes on. */
    args_send(s, 3, RW_RC_WRITE);
    if (rw_rcluster_send(s->rc) != 0)
        return rs_drop(s, "apply", err);
    s->sent = b;
    rw_batch_stored(b);
    return 0;
}

/* How long a master may take to hear from its replicas that they have a write. */
#define REPLICA_WAIT_MS 1000

static int apply_collect(redisstore_t *s, rw_error_t *err);

/* Takes the replies of the write's window commands: an error sets *rc (err filled). Returns
 * 0, or RW_ERR_REDIS when one is missing. */
static int win_replies(redisstore_t *s, int *rc, rw_error_t *err) {
    for (size_t i = 0; i < s->n_win_cmds; i++) {
        redisReply *r = reply_get(s, err);
        if (!r)
            return RW_ERR_REDIS;
        if (i == s->apart_cmd)
            apart_observe(s, s->sent, r->type == REDIS_REPLY_INTEGER ? r->integer : -1, true);
        if (!trim_reply(s, i, r) && r->type == REDIS_REPLY_ERROR && *rc == 0)
            *rc = rw_error_fail(err, RW_ERR_REDIS, "redis window write: %s", r->str);
        reply_free(s, r);
    }
    return 0;
}

/* A write that failed in flight may have run or not: the engine keeps its
 * state (kept_intact), and the next load asks the fences which. */
static int redis_apply_wait(rw_store_t *base, rw_error_t *err) {
    redisstore_t *s = (redisstore_t *)base;
    base->kept_intact = false;
    int rc = 0;
    if (s->write_lost) {
        s->write_lost = false;
        rc = rs_drop(s, "apply", err);
    } else if (rw_rcluster_in_flight(s->rc)) {
        rc = apply_collect(s, err);
    }
    if (rc == RW_ERR_REDIS)
        s->unsure = base->kept_intact = true;
    return rc;
}

/* Reads the replies of the write in flight (and of a read sent behind it,
 * which stays for load() when the write did what it should with no command
 * sent again). */
static int apply_collect(redisstore_t *s, rw_error_t *err) {
    bool ahead = s->ahead == AHEAD_SENT;
    s->ahead = AHEAD_NONE;
    if (rw_rcluster_recv(s->rc) != 0)
        return rs_drop(s, "apply", err);
    int rc = 0;
    if (win_replies(s, &rc, err) != 0)
        return RW_ERR_REDIS;
    redisReply *r = reply_get(s, err);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        /* This node lacks the script (a restart, a failover, SCRIPT FLUSH):
         * nothing ran. The same arguments with the text load it there. */
        reply_free(s, r);
        if (s->kept_argc)
            args_unkeep(s);
        args_fix(s);
        s->argv[0] = "EVAL";
        s->argl[0] = 4;
        s->argv[1] = s->script;
        s->argl[1] = strlen(s->script);
        rw_rcluster_append_argv(s->rc, 3, (int)s->argc, s->argv, s->argl, RW_RC_WRITE);
        r = rs_exec(s, "apply", err) == 0 ? reply_get(s, err) : NULL;
        ahead = false; /* its replies went with the queue, and it ran before the script */
    }
    if (!r)
        return RW_ERR_REDIS;
    bool lost = false;
    if (rc == 0 && r->type == REDIS_REPLY_INTEGER) {
        rc = r->integer == 1 ? 0 : RW_ERR_CONFLICT;
        lost = r->integer == 2;
        s->marker_seen |= rc == 0;
    } else if (rc == 0) {
        rc = rw_error_fail(err, RW_ERR_REDIS, "redis apply: %s",
                           r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    }
    reply_free(s, r);
    if (trims_redo(s))
        ahead = false;
    if (rc == 0 || lost) /* lost: the restore writes the batch's cases with its fences */
        kcases_commit(s);
    else if (rc == RW_ERR_CONFLICT)
        kcases_clear(&s->pending);
    if (lost)
        return state_restore(s, s->sent, "its marker is gone", err);
    /* Stored once the replicas have it too: a failover then loses nothing. */
    int short_of = rw_rcluster_sync_replicas(s->rc, REPLICA_WAIT_MS);
    if (short_of < 0)
        return rs_drop(s, "apply", err);
    int64_t now = rw_now_ms();
    if (short_of > 0 && now - s->warned_at_ms >= 60000) {
        s->warned_at_ms = now;
        rw_log(RW_LOG_WARN,
               "redis: %d master(s) did not hear from every replica within %d ms; a failover "
               "now could lose the last writes",
               short_of, REPLICA_WAIT_MS);
    }
    if (ahead && rc == 0)
        s->ahead = AHEAD_READY;
    if (rc == 0)
        s->j_done = s->j_sent_done; /* the folds it carried are in */
    return rc;
}

static int redis_apply(rw_store_t *base, rw_batch_t *b, rw_error_t *err) {
    int rc = redis_apply_send(base, b, err);
    return rc ? rc : redis_apply_wait(base, err);
}

static void redis_destroy(rw_store_t *base) {
    redisstore_t *s = (redisstore_t *)base;
    rw_rcluster_destroy(s->rc);
    free(s->host);
    free(s->unix_socket);
    free(s->password);
    free(s->prefix);
    free(s->tprefix);
    free(s->anchor);
    free(s->marker);
    kcases_clear(&s->kept);
    kcases_clear(&s->pending);
    free(s->kept.tab);
    free(s->pending.tab);
    free(s->group);
    free(s->argv);
    free(s->argl);
    free(s->offs);
    free(s->kept_argl);
    free(s->kept_offs);
    rw_buf_fini(&s->kept_strs);
    free(s->wents);
    for (size_t i = 0; i < s->jparts_cap; i++)
        rw_buf_fini(&s->jparts[i].el);
    free(s->jparts);
    free(s->jwritten);
    free(s->trims);
    rw_buf_fini(&s->trim_keys);
    rw_buf_fini(&s->strs);
    rw_buf_fini(&s->resp);
    free(s);
}

/* "#" and an id no other engine has (its process, start and random bits):
 * with a count, the marks its trims and new lists lead with. */
static void mark_id_init(redisstore_t *s) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint32_t rnd = (uint32_t)tv.tv_usec ^ ((uint32_t)getpid() << 16);
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&rnd, sizeof(rnd), 1, f) != 1)
            rnd ^= (uint32_t)tv.tv_sec;
        fclose(f);
    }
    snprintf(s->mark_id, sizeof(s->mark_id), "#%x-%llx-%08x", (unsigned)getpid(),
             (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec, rnd);
}

rw_store_t *rw_redisstore_new(const rw_redis_opts_t *o) {
    return rw_redisstore_new_cluster(o, NULL, 0);
}

rw_store_t *rw_redisstore_new_cluster(const rw_redis_opts_t *o, const char *const *seeds,
                                      size_t n_seeds) {
    redisstore_t *s = rw_calloc(1, sizeof(*s));
    s->base.load = redis_load;
    s->base.apply = redis_apply;
    s->base.apply_send = redis_apply_send;
    s->base.apply_wait = redis_apply_wait;
    s->base.load_send = redis_load_send;
    s->base.destroy = redis_destroy;
    s->o = *o;
    s->o.host = s->host = rw_strdup(o->host ? o->host : "127.0.0.1");
    s->o.unix_socket = s->unix_socket = o->unix_socket ? rw_strdup(o->unix_socket) : NULL;
    s->o.password = s->password = o->password ? rw_strdup(o->password) : NULL;
    s->o.prefix = s->prefix = rw_strdup(o->prefix ? o->prefix : "rw:");
    s->o.group = s->group = rw_strdup(o->group ? o->group : "riskwarn");
    if (s->o.timeout_ms <= 0)
        s->o.timeout_ms = 5000;
    char tp[256];
    rw_store_tag_prefix(s->prefix, tp, sizeof(tp));
    s->tprefix = rw_strdup(tp);
    s->anchor = rw_malloc(strlen(tp) + strlen(s->group) + 8);
    sprintf(s->anchor, "%sfence:%s", tp, s->group);
    s->marker = rw_malloc(strlen(tp) + strlen(s->group) + 64);
    sprintf(s->marker, "%sepoch:%s:%d-%llx", tp, s->group, (int)getpid(),
            (unsigned long long)rw_now_ms());
    s->rc = rw_store_redis_open(&s->o, seeds, n_seeds);
    mark_id_init(s);
    snprintf(s->script, sizeof(s->script), apply_script, (int)FENCE_TTL_S, (int)FENCE_TTL_S);
    rw_buf_init(&s->strs);
    rw_buf_init(&s->resp);
    rw_buf_init(&s->kept_strs);
    rw_buf_init(&s->trim_keys);
    s->apart_last = -1;
    s->apart_cmd = SIZE_MAX;
    /* apart_need and apart_quiet 0: held from the start, when nothing is held yet */
    return &s->base;
}
