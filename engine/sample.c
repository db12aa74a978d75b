#include "sample.h"

#include "eval.h"
#include "expr.h"
#include "match.h"
#include "store.h"
#include "suggest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_BATCH 256
#define KINDS 6 /* number, string, boolean, null, object, list */
static const char *const kind_names[KINDS] = {"number", "string", "boolean",
                                              "null",   "object", "list"};

static int kind_of(const json_t *v) {
    return json_is_number(v)    ? 0
           : json_is_string(v)  ? 1
           : json_is_boolean(v) ? 2
           : json_is_null(v)    ? 3
           : json_is_object(v)  ? 4
                                : 5;
}

/* What one field of one rule looked like in the sample. */
typedef struct fstat {
    const rw_field_t *f;
    bool in_match;     /* counted over every event; else over the events the rule matched */
    long long present; /* events that have it */
    long long kinds[KINDS];
} fstat_t;

typedef struct rstat {
    long long matched, levels[RW_LEVELS], skips[RW_SKIP_REASONS];
    fstat_t *fields;
    size_t n_fields;
} rstat_t;

/* Every field path the sample has (up to three levels deep), for "did you mean". */
typedef struct paths {
    char **items;
    size_t n, cap;
    char **tab; /* open addressing, cap * 2 slots */
} paths_t;

static void paths_add(paths_t *p, const char *path) {
    if (p->n >= 4096)
        return;
    if (p->n * 2 >= p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        char **tab = rw_calloc(cap * 2, sizeof(char *));
        for (size_t i = 0; i < p->cap * 2; i++)
            if (p->tab[i]) {
                size_t s = (size_t)rw_hash64(p->tab[i], strlen(p->tab[i])) & (cap * 2 - 1);
                while (tab[s])
                    s = (s + 1) & (cap * 2 - 1);
                tab[s] = p->tab[i];
            }
        free(p->tab);
        p->tab = tab;
        p->cap = cap;
        p->items = rw_realloc(p->items, cap * sizeof(char *));
    }
    size_t s = (size_t)rw_hash64(path, strlen(path)) & (p->cap * 2 - 1);
    for (; p->tab[s]; s = (s + 1) & (p->cap * 2 - 1))
        if (strcmp(p->tab[s], path) == 0)
            return;
    p->tab[s] = p->items[p->n++] = rw_strdup(path);
}

static bool paths_has(const paths_t *p, const char *path) {
    if (!p->cap)
        return false;
    size_t s = (size_t)rw_hash64(path, strlen(path)) & (p->cap * 2 - 1);
    for (; p->tab[s]; s = (s + 1) & (p->cap * 2 - 1))
        if (strcmp(p->tab[s], path) == 0)
            return true;
    return false;
}

static void paths_walk(paths_t *p, const json_t *obj, const char *prefix, int depth) {
    const char *k;
    json_t *v;
    json_object_foreach(RW_UNCONST(json_t *, obj), k, v) {
        char path[512];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k);
        paths_add(p, path);
        if (json_is_object(v) && depth < 3)
            paths_walk(p, v, path, depth + 1);
    }
}

static void paths_free(paths_t *p) {
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i]);
    free(p->items);
    free(p->tab);
}

static void stats_init(rstat_t *st, const rw_rule_t *r) {
    memset(st, 0, sizeof(*st));
    for (const rw_field_t *f = r->fields; f && f != r->fields_end; f = f->next)
        st->n_fields++;
    st->fields = rw_calloc(st->n_fields ? st->n_fields : 1, sizeof(*st->fields));
    size_t i = st->n_fields;
    bool in_match = false;
    /* The list runs newest first: fill from the end, so that fields read in file order. */
    for (const rw_field_t *f = r->fields; f && f != r->fields_end; f = f->next) {
        if (f == r->match_fields)
            in_match = true;
        st->fields[--i] = (fstat_t){f, in_match, 0, {0}};
    }
}

/* Counts one event's fields into the rule's stats. */
static void stats_event(rstat_t *st, const json_t *ev, bool matched) {
    if (matched)
        st->matched++;
    for (size_t i = 0; i < st->n_fields; i++) {
        fstat_t *fs = &st->fields[i];
        if (fs->f->n_subs || (!fs->in_match && !matched))
            continue;
        const json_t *v = rw_field_get(ev, fs->f);
        if (v) {
            fs->present++;
            fs->kinds[kind_of(v)]++;
        }
    }
}

static void batch_run(rw_batch_t *b, rw_store_t *st, const rw_ruleset_t *rs, rstat_t *stats,
                      long long *dead) {
    rw_batch_plan(b);
    st->load(st, b, NULL);
    rw_batch_evaluate(b);
    st->apply(st, b, NULL);
    for (size_t k = 0; k < b->n_skips && k / RW_SKIP_REASONS < rs->n_rules; k++)
        stats[k / RW_SKIP_REASONS].skips[k % RW_SKIP_REASONS] += (long long)b->skips[k];
    for (size_t i = 0; i < b->n_items; i++) {
        const rw_item_t *it = &b->items[i];
        if (!it->event) {
            (*dead)++;
            continue;
        }
        const json_t *ev = rw_batch_event(b, it);
        for (size_t r = 0; r < rs->n_rules; r++)
            stats_event(&stats[r], ev, rw_match_eval(&rs->rules[r].match, ev));
        for (size_t h = it->hit_off; h < it->hit_off + it->n_hits; h++)
            stats[b->hits[h].rule].levels[b->hits[h].level]++;
    }
    for (size_t i = 0; i < b->n_case_alerts; i++)
        stats[b->case_alerts[i].kase->rule].levels[b->case_alerts[i].level]++;
    rw_batch_reset(b, rs);
}

static void field_report(FILE *out, const fstat_t *fs, long long of, const paths_t *paths) {
    char kinds[200] = "";
    size_t o = 0;
    int n_kinds = 0;
    for (int k = 0; k < KINDS; k++)
        if (fs->kinds[k]) {
            n_kinds++;
            o += (size_t)snprintf(kinds + o, sizeof(kinds) - o, "%s%s %lld", o ? ", " : "",
                                  kind_names[k], fs->kinds[k]);
            if (o >= sizeof(kinds))
                break;
        }
    const char *where = fs->in_match ? "sample events" : "matched events";
    if (fs->present == 0) {
        char msg[600];
        if (of)
            snprintf(msg, sizeof(msg), "  ! %s%s: never present in the %lld %s", fs->f->path,
                     fs->in_match ? " (match)" : "", of, where);
        else
            snprintf(msg, sizeof(msg), "  ! %s: in no sample event", fs->f->path);
        if (!paths_has(paths, fs->f->path))
            rw_suggest_append(msg, sizeof(msg), fs->f->path, (const char *const *)paths->items,
                              paths->n);
        else
            snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (other events have it)");
        fprintf(out, "%s\n", msg);
        return;
    }
    fprintf(out, "  %s %s%s: in %lld of %lld %s (%s)%s\n", n_kinds > 1 ? "!" : " ", fs->f->path,
            fs->in_match ? " (match)" : "", fs->present, of, where, kinds,
            n_kinds > 1 ? ": more than one type" : "");
}

static void rule_report(FILE *out, const rw_rule_t *r, const rstat_t *st, long long events,
                        const paths_t *paths) {
    long long skipped = 0;
    for (int k = RW_SKIP_NONE + 1; k < RW_SKIP_REASONS; k++)
        skipped += st->skips[k];
    if (r->parts) /* a scorecard matches nothing itself: its parts do */
        fprintf(out, "scorecard %s: reached low %lld, medium %lld, high %lld", r->id, st->levels[1],
                st->levels[2], st->levels[3]);
    else
        fprintf(out,
                "rule %s (%s): matched %lld of %lld events; reached low %lld, medium %lld, "
                "high %lld",
                r->id, r->module->name, st->matched, events, st->levels[1], st->levels[2],
                st->levels[3]);
    if (skipped) {
        fprintf(out, "; skipped %lld (", skipped);
        int first = 1;
        for (int k = RW_SKIP_NONE + 1; k < RW_SKIP_REASONS; k++)
            if (st->skips[k]) {
                fprintf(out, "%s%s %lld", first ? "" : ", ", rw_expr_skip_name(k), st->skips[k]);
                first = 0;
            }
        fprintf(out, ")");
    }
    fprintf(out, "\n");
    for (size_t i = 0; i < st->n_fields; i++) {
        const fstat_t *fs = &st->fields[i];
        if (fs->f->n_subs)
            continue;
        if (fs->in_match || st->matched)
            field_report(out, fs, fs->in_match ? events : st->matched, paths);
        else if (!paths_has(paths, fs->f->path))
            field_report(out, fs, 0, paths); /* in no event at all */
    }
}

int rw_sample_report(const rw_ruleset_t *rs, const struct rw_schema *schema, const char *path,
                     FILE *out, FILE *err) {
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(err, "riskwarn rules check: --sample %s: %s\n", path, strerror(errno));
        return -1;
    }
    rw_batch_t *b = rw_batch_new(1 << 20, RW_STATE_MEMORY);
    b->schema = schema;
    rw_store_t *st = rw_memstore_new();
    rw_batch_reset(b, rs);
    rstat_t *stats = rw_calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*stats));
    for (size_t r = 0; r < rs->n_rules; r++)
        stats_init(&stats[r], &rs->rules[r]);
    paths_t paths = {0};
    char **lines = rw_calloc(SAMPLE_BATCH, sizeof(char *));
    size_t n_lines = 0, cap = 0;
    long long total = 0, dead = 0;
    char *line = NULL;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0)
            continue;
        lines[n_lines] = rw_strndup(line, (size_t)len);
        rw_msg_t m = {"sample", 0, total++, lines[n_lines], (size_t)len, 0, 0, NULL, 0};
        n_lines++;
        rw_batch_add(b, &m);
        json_t *ev = rw_batch_event(b, &b->items[b->n_items - 1]);
        if (ev)
            paths_walk(&paths, ev, "", 1);
        if (n_lines == SAMPLE_BATCH) {
            batch_run(b, st, rs, stats, &dead);
            for (size_t i = 0; i < n_lines; i++)
                free(lines[i]);
            n_lines = 0;
        }
    }
    free(line);
    if (n_lines)
        batch_run(b, st, rs, stats, &dead);
    for (size_t i = 0; i < n_lines; i++)
        free(lines[i]);
    free(lines);
    if (in != stdin)
        fclose(in);
    long long events = total - dead;
    fprintf(out, "sample %s: %lld events", path, events);
    if (dead)
        fprintf(out, " (and %lld lines that are not valid events)", dead);
    fprintf(out, "\n");
    for (size_t r = 0; r < rs->n_rules; r++) {
        rule_report(out, &rs->rules[r], &stats[r], events, &paths);
        free(stats[r].fields);
    }
    free(stats);
    paths_free(&paths);
    st->destroy(st);
    rw_batch_destroy(b);
    return 0;
}
