/* cycle: money that returns to where it came from. A transfer from `from` to `to`
 * closes a cycle when money that left `to` reached `from` through at most
 * max_hops - 1 earlier transfers, the first of them less than `within` ago: the
 * measure is the number of transfers of the shortest such cycle (2 for A -> B -> A,
 * 3 for A -> B -> C -> A, ...); no measure when the transfer closes none.
 *
 * State: the rule's window of each account holds the transfers into it within
 * `within`, each with the origins whose money may have come with it: its sender
 * (1 transfer) and the origins the sender's own window held when it sent (one
 * transfer more), at most max_origins of them (the fewest transfers first, then
 * the most recent), each as a 48-bit hash of the account, its number of transfers
 * and the age of its first transfer. A transfer reads its sender's window and
 * writes one entry into its receiver's (rw_setup_window_relay), so the state lives
 * in the engine's windows and in Redis like any other rule's.
 *
 * Work per transfer: the max_inbound most recent entries of the sender's window,
 * each of at most max_origins origins; nothing is allocated. Paths are followed
 * forward in time only: each transfer of a cycle comes after the one before it.
 * Two accounts whose hashes collide (about one pair in 2^48) are taken for one. */
#include "riskwarn/module.h"

#include <stdlib.h>
#include <string.h>

#define HASH_CHARS 8 /* 48 bits, 6 a character */
#define MAX_ORIGINS 12

typedef struct {
    const rw_field_t *from, *to;
    int64_t within_ms, max_hops, max_origins, max_inbound;
} cycle_state_t;

typedef struct {
    uint64_t origin;  /* 48-bit hash */
    int hops;         /* transfers from the origin to the window's account */
    int64_t start_ms; /* time of the first of them */
} origin_t;

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint64_t account_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ (h >> 48)) & 0xffffffffffffULL;
}

static int b64_value(char c) {
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Reads one origin from text at *p ("HHHHHHHHdAGE", AGE in base 36, then ',' or the end).
 * Returns 0 and advances *p, or -1 on anything else. */
static int origin_parse(const char **p, int64_t entry_ms, origin_t *o) {
    const char *s = *p;
    uint64_t h = 0;
    for (int i = 0; i < HASH_CHARS; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        h = h << 6 | (uint64_t)v;
    }
    s += HASH_CHARS;
    if (*s < '1' || *s > '9')
        return -1;
    o->hops = *s++ - '0';
    int64_t age = 0;
    int digits = 0;
    for (; *s && *s != ','; s++, digits++) {
        int v = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'z' ? *s - 'a' + 10 : -1;
        if (v < 0 || digits >= 12)
            return -1;
        age = age * 36 + v;
    }
    if (digits == 0)
        return -1;
    o->origin = h;
    o->start_ms = entry_ms - age;
    *p = *s ? s + 1 : s;
    return 0;
}

static const rw_param_t cycle_params[] = {
    {.type = RW_PARAM_FIELD,
     .name = "from",
     .def = "account",
     .offset = offsetof(cycle_state_t, from),
     .desc = "the field naming the account the money leaves"},
    {.type = RW_PARAM_FIELD,
     .name = "to",
     .def = "counterparty",
     .offset = offsetof(cycle_state_t, to),
     .desc = "the field naming the account it goes to"},
    {.type = RW_PARAM_DURATION,
     .name = "within",
     .flags = RW_PARAM_REQUIRED | RW_PARAM_WINDOW,
     .offset = offsetof(cycle_state_t, within_ms),
     .desc = "how long before the closing transfer the cycle's first may be"},
    {.type = RW_PARAM_INTEGER,
     .name = "max_hops",
     .def = "4",
     .min = 2,
     .max = 9,
     .offset = offsetof(cycle_state_t, max_hops),
     .desc = "the most transfers a cycle may have, the closing one included"},
    {.type = RW_PARAM_INTEGER,
     .name = "max_origins",
     .def = "12",
     .min = 1,
     .max = MAX_ORIGINS,
     .offset = offsetof(cycle_state_t, max_origins),
     .desc = "origins a transfer passes on (the nearest, then the most recent)"},
    {.type = RW_PARAM_INTEGER,
     .name = "max_inbound",
     .def = "64",
     .min = 1,
     .max = 4096,
     .offset = offsetof(cycle_state_t, max_inbound),
     .desc = "newest transfers into the sender that a transfer reads"},
    {0},
};

static int cycle_relay(const void *state, const rw_input_t *in, char *buf, size_t len);

/* The sender's window is read, the receiver's written: both keyed by account. */
static int cycle_init(rw_setup_t *s, void *state, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    const cycle_state_t *st = state;
    rw_setup_window_relay(s, st->from, st->to, cycle_relay);
    return RW_OK;
}

/* The hashes of the transfer's two accounts; -1 when one is missing or they are the same. */
static int parties(const cycle_state_t *st, const json_t *event, uint64_t *from, uint64_t *to) {
    char a[RW_RECORD_MAX], b[RW_RECORD_MAX];
    if (rw_field_text(event, st->from, a, sizeof(a)) <= 0 ||
        rw_field_text(event, st->to, b, sizeof(b)) <= 0 || strcmp(a, b) == 0)
        return -1;
    *from = account_hash(a);
    *to = account_hash(b);
    return 0;
}

/* Calls fn on every origin of the sender's window that started less than within ago, in the
 * max_inbound most recent entries. */
#define FOR_ORIGINS(st, in, o)                                                                     \
    for (size_t i_ = (in)->n_entries, seen_ = 0; i_-- > 0 && seen_ < (size_t)(st)->max_inbound;    \
         seen_++)                                                                                  \
        for (const char *p_ = (in)->entries[i_].value;                                             \
             *p_ && origin_parse(&p_, (in)->entries[i_].ts_ms, &(o)) == 0;)                        \
            if ((o).start_ms > (in)->ts_ms - (st)->within_ms)

static int cycle_measure(const void *state, const rw_input_t *in, double *out) {
    const cycle_state_t *st = state;
    uint64_t from, to;
    if (parties(st, in->event, &from, &to) != 0)
        return RW_DECLINED;
    int best = 0;
    origin_t o;
    FOR_ORIGINS(st, in, o) {
        if (o.origin == to && o.hops + 1 <= st->max_hops && (!best || o.hops + 1 < best))
            best = o.hops + 1;
    }
    if (!best)
        return RW_DECLINED;
    *out = best;
    return RW_OK;
}

/* a before b: fewer transfers, then the later start. */
static int better(const origin_t *a, const origin_t *b) {
    return a->hops < b->hops || (a->hops == b->hops && a->start_ms > b->start_ms);
}

/* Keeps o in keep[0..*n) (at most cap): once an origin, the best of the two; the worst
 * goes when full. */
static void keep_best(origin_t *keep, size_t *n, size_t cap, const origin_t *o) {
    size_t worst = 0;
    for (size_t i = 0; i < *n; i++) {
        if (keep[i].origin == o->origin) {
            if (better(o, &keep[i]))
                keep[i] = *o;
            return;
        }
        if (better(&keep[worst], &keep[i]))
            worst = i;
    }
    if (*n < cap)
        keep[(*n)++] = *o;
    else if (*n && better(o, &keep[worst]))
        keep[worst] = *o;
}

static int origin_cmp(const void *x, const void *y) {
    const origin_t *a = x, *b = y;
    if (better(a, b))
        return -1;
    if (better(b, a))
        return 1;
    return a->origin < b->origin ? -1 : a->origin > b->origin;
}

/* Appends one origin to buf at *at; 0, or -1 when it does not fit. */
static int origin_put(char *buf, size_t len, size_t *at, const origin_t *o, int64_t now_ms) {
    char tmp[HASH_CHARS + 1 + 16], age36[16];
    size_t k = 0, a = 0;
    for (int i = HASH_CHARS - 1; i >= 0; i--)
        tmp[k++] = B64[(o->origin >> (6 * i)) & 63];
    tmp[k++] = (char)('0' + o->hops);
    int64_t age = now_ms - o->start_ms;
    do {
        int d = (int)(age % 36);
        age36[a++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        age /= 36;
    } while (age > 0);
    while (a)
        tmp[k++] = age36[--a];
    size_t sep = *at ? 1 : 0;
    if (*at + sep + k + 1 > len)
        return -1;
    if (sep)
        buf[(*at)++] = ',';
    memcpy(buf + *at, tmp, k);
    *at += k;
    buf[*at] = 0;
    return 0;
}

/* What the receiver's window keeps of this transfer: the sender, and the origins of the
 * sender's window one transfer further, all short of closing a cycle at max_hops. */
static int cycle_relay(const void *state, const rw_input_t *in, char *buf, size_t len) {
    const cycle_state_t *st = state;
    uint64_t from, to;
    if (parties(st, in->event, &from, &to) != 0)
        return RW_DECLINED;
    origin_t keep[MAX_ORIGINS], o;
    size_t n = 0;
    FOR_ORIGINS(st, in, o) {
        if (o.origin != to && o.origin != from && o.hops + 1 < st->max_hops) {
            o.hops++;
            keep_best(keep + 1, &n, (size_t)st->max_origins - 1, &o);
        }
    }
    keep[0] = (origin_t){from, 1, in->ts_ms};
    n++;
    size_t at = 0;
    buf[0] = 0;
    qsort(keep, n, sizeof(*keep), origin_cmp);
    for (size_t i = 0; i < n; i++)
        if (origin_put(buf, len, &at, &keep[i], in->ts_ms) != 0)
            break;
    return RW_OK;
}

const rw_module_t rw_builtin_cycle = {
    RW_MODULE_HEADER,
    .name = "cycle",
    .summary = "transfers of the shortest cycle this transfer closes: money back at its origin "
               "within `within`",
    .params = cycle_params,
    .state_size = sizeof(cycle_state_t),
    .init = cycle_init,
    .measure = cycle_measure,
};
