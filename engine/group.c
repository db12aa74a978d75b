#include "group.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct peer {
    char *engine, *sha, *version;
    int64_t seen;         /* monotonic ms of its last heartbeat */
    int64_t differ_since; /* when it was first found running another ruleset; 0: it agrees */
} peer_t;

struct rw_group {
    char *self;
    peer_t *v;
    size_t n, cap;
};

rw_group_t *rw_group_new(const char *self) {
    rw_group_t *g = rw_calloc(1, sizeof(*g));
    g->self = rw_strdup(self);
    return g;
}

static void peer_free(peer_t *p) {
    free(p->engine);
    free(p->sha);
    free(p->version);
}

void rw_group_destroy(rw_group_t *g) {
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        peer_free(&g->v[i]);
    free(g->v);
    free(g->self);
    free(g);
}

void rw_group_note(rw_group_t *g, const char *engine, const char *sha, const char *version,
                   int64_t now) {
    if (strcmp(engine, g->self) == 0)
        return;
    size_t i = 0;
    while (i < g->n && strcmp(g->v[i].engine, engine) != 0)
        i++;
    if (!sha) { /* stopped */
        if (i < g->n) {
            peer_free(&g->v[i]);
            g->v[i] = g->v[--g->n];
        }
        return;
    }
    if (i == g->n) {
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 8;
            g->v = rw_realloc(g->v, g->cap * sizeof(*g->v));
        }
        memset(&g->v[g->n], 0, sizeof(peer_t));
        g->v[g->n++].engine = rw_strdup(engine);
    }
    peer_t *p = &g->v[i];
    if (!p->sha || strcmp(p->sha, sha) != 0) {
        free(p->sha);
        free(p->version);
        p->sha = rw_strdup(sha);
        p->version = rw_strdup(version ? version : "");
        p->differ_since = 0;
    }
    p->seen = now;
}

size_t rw_group_disagreeing(rw_group_t *g, const char *sha, int64_t now, int64_t stale_ms,
                            int64_t grace_ms, char *why, size_t whylen) {
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++) {
        peer_t *p = &g->v[i];
        if (now - p->seen > stale_ms || strcmp(p->sha, sha) == 0) {
            p->differ_since = 0;
            continue;
        }
        if (!p->differ_since)
            p->differ_since = now;
        if (now - p->differ_since <= grace_ms)
            continue;
        if (n++ == 0)
            snprintf(why, whylen, "engine %s runs ruleset version %s (sha256 %.12s), not %.12s",
                     p->engine, p->version, p->sha, sha);
    }
    return n;
}
