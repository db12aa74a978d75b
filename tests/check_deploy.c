/* The deploy/ files, which cannot run here, parsed and cross-checked: YAML
 * parses (python3-yaml), the systemd unit verifies (systemd-analyze, where it
 * exists), example configs load, the dashboard and the alerting rules name only
 * metrics the engine exports, the topics match the engine's, and the compose
 * file and Kubernetes manifests agree with the configs they carry. */
#include "config.h"
#include "harness.h"

#include <check.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static char *slurp(const char *path) {
    rw_error_t err;
    rw_error_clear(&err);
    size_t len;
    char *text = rw_file_read(path, &len, &err);
    ck_assert_msg(text != NULL, "%s: %s", path, err.text);
    return text;
}

/* A YAML file's documents as a JSON array (python3 -c yaml.safe_load_all). */
static json_t *yaml_docs(const char *path) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import json, sys, yaml; "
             "print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))' %s 2>&1",
             path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    rw_buf_t b;
    rw_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        rw_buf_append(&b, chunk, n);
    int rc = pclose(p);
    json_error_t je;
    json_t *docs = rc == 0 ? json_loads(rw_buf_cstr(&b), 0, &je) : NULL;
    ck_assert_msg(json_is_array(docs), "%s does not parse as YAML: %s", path, rw_buf_cstr(&b));
    rw_buf_fini(&b);
    return docs;
}

static json_t *yaml_doc(const char *path) {
    json_t *docs = yaml_docs(path);
    ck_assert_uint_eq(json_array_size(docs), 1);
    json_t *d = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return d;
}

/* The value at a slash-separated path of keys and array indexes, or NULL. */
static json_t *at(json_t *v, const char *path) {
    char part[128];
    while (v && *path) {
        size_t n = strcspn(path, "/");
        snprintf(part, sizeof(part), "%.*s", (int)n, path);
        v = json_is_array(v) ? json_array_get(v, strtoul(part, NULL, 10))
                             : json_object_get(v, part);
        path += n + (path[n] == '/');
    }
    return v;
}

static const char *at_str(json_t *v, const char *path) { return json_string_value(at(v, path)); }

/* Whether engine/metrics.c, which declares every metric the engine exports,
 * names it: as a whole word, or as a histogram's _bucket, _sum or _count. */
static bool metric_exported(const char *name) {
    static char *text;
    if (!text)
        text = slurp("engine/metrics.c");
    size_t len = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p++) {
        char after = p[len], before = p > text ? p[-1] : ' ';
        if (!(after == '_' || (after >= 'a' && after <= 'z')) && before != '_')
            return true;
    }
    static const char *const suffix[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(suffix[i]);
        char declared[160];
        snprintf(declared, sizeof(declared), "{\"%.*s\", \"histogram\"", (int)(len - sl), name);
        if (len > sl && !strcmp(name + len - sl, suffix[i]) && strstr(text, declared))
            return true;
    }
    return false;
}

/* Every riskwarn_* metric an expression names is exported; returns how many it names. */
static int check_expr(const char *where, const char *expr) {
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "riskwarn_[a-z_]+", REG_EXTENDED), 0);
    regmatch_t m;
    int n = 0;
    for (const char *p = expr; regexec(&re, p, 1, &m, 0) == 0; p += m.rm_eo, n++) {
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(m.rm_eo - m.rm_so), p + m.rm_so);
        ck_assert_msg(metric_exported(name),
                      "%s: \"%s\" names %s, which the engine does not export", where, expr, name);
    }
    regfree(&re);
    return n;
}

/* Loads an engine config (text) with the secrets its *_file keys name given
 * through the environment instead (the files exist only where it is deployed). */
static void config_loads(const char *what, const char *text, rw_config_t *c) {
    const char *path = h_tmpfile(".json", text);
    static const char *const secrets[][2] = {
        {"redis/password_file", "RISKWARN_REDIS_PASSWORD"},
        {"kafka/sasl_password_file", "RISKWARN_KAFKA_SASL_PASSWORD"},
        {"webhook/secret_file", "RISKWARN_WEBHOOK_SECRET"},
        {"webhook/token_file", "RISKWARN_WEBHOOK_TOKEN"}};
    json_t *root = json_loads(text, 0, NULL);
    for (size_t i = 0; i < 4; i++)
        if (at_str(root, secrets[i][0]))
            setenv(secrets[i][1], "from-env", 1);
    json_decref(root);
    rw_config_init(c);
    rw_error_t err;
    rw_error_clear(&err);
    int rc = rw_config_load(c, path, &err);
    char line[1024];
    rw_error_format(&err, line, sizeof(line));
    for (size_t i = 0; i < 4; i++)
        unsetenv(secrets[i][1]);
    ck_assert_msg(rc == 0, "%s does not load: %s", what, line);
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(test_deploy_yaml_parses) {
    FILE *p = popen("find deploy -name '*.yml' -o -name '*.yaml' | sort", "r");
    ck_assert_ptr_nonnull(p);
    char path[512];
    int files = 0;
    while (fgets(path, sizeof(path), p)) {
        path[strcspn(path, "\n")] = 0;
        json_t *docs = yaml_docs(path);
        ck_assert_msg(json_array_size(docs) >= 1, "%s: no document", path);
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d) ck_assert_msg(json_is_object(d),
                                                     "%s: document %zu is not "
                                                     "a mapping",
                                                     path, i);
        json_decref(docs);
        files++;
    }
    pclose(p);
    ck_assert_int_ge(files, 12);
}
END_TEST

/* Every engine config under deploy/ loads: keys known, values valid. */
START_TEST(test_deploy_example_configs_load) {
    rw_config_t c;
    char *text = slurp("deploy/engine.example.json");
    config_loads("deploy/engine.example.json", text, &c);
    rw_config_fini(&c);
    free(text);
    text = slurp("deploy/compose/engine.json");
    config_loads("deploy/compose/engine.json", text, &c);
    ck_assert_str_eq(c.metrics_listen, "0.0.0.0:9464");
    ck_assert_str_eq(c.redis_password, "from-env");
    rw_config_fini(&c);
    free(text);
    json_t *cm = yaml_doc("deploy/kubernetes/configmap.yaml");
    config_loads("deploy/kubernetes/configmap.yaml engine.json", at_str(cm, "data/engine.json"),
                 &c);
    ck_assert_str_eq(c.metrics_listen, "0.0.0.0:9464");
    ck_assert_str_eq(json_string_value(json_object_get(c.properties, "sasl.password")), "from-env");
    ck_assert_ptr_nonnull(c.webhook_url);
    rw_config_fini(&c);
    json_decref(cm);
}
END_TEST

/* Provisioned from files: no import inputs, the provisioned datasource's uid on
 * every panel and query, job and instance variables, a panel on `up` for an
 * engine that is down, and only metrics the engine exports. */
START_TEST(test_deploy_dashboard_provisioned) {
    char *text = slurp("deploy/grafana/riskwarn-dashboard.json");
    ck_assert_msg(strstr(text, "${DS_") == NULL && strstr(text, "__inputs") == NULL,
                  "the dashboard still needs the UI import");
    json_error_t je;
    json_t *d = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(d != NULL, "%s", je.text);
    json_t *ds = yaml_doc("deploy/grafana/provisioning/datasources/prometheus.yml");
    const char *uid = at_str(ds, "datasources/0/uid");
    ck_assert_ptr_nonnull(uid);
    ck_assert_str_eq(at_str(ds, "datasources/0/type"), "prometheus");
    size_t i, j;
    json_t *panel, *t;
    int metrics = 0;
    bool up_panel = false;
    json_array_foreach(json_object_get(d, "panels"), i, panel) {
        const char *title = at_str(panel, "title");
        ck_assert_msg(at_str(panel, "datasource/uid") &&
                          !strcmp(at_str(panel, "datasource/uid"), uid),
                      "panel \"%s\": datasource uid is not \"%s\"", title, uid);
        json_array_foreach(json_object_get(panel, "targets"), j, t) {
            const char *expr = at_str(t, "expr");
            ck_assert_ptr_nonnull(expr);
            ck_assert_str_eq(at_str(t, "datasource/uid"), uid);
            ck_assert_msg(strstr(expr, "$instance"), "panel \"%s\": %s ignores $instance", title,
                          expr);
            metrics += check_expr(title, expr);
            up_panel = up_panel || !strncmp(expr, "up{", 3);
        }
    }
    ck_assert_int_ge(metrics, 15);
    ck_assert_msg(up_panel, "no panel shows `up`: an engine that is down would not show");
    bool job = false, instance = false;
    json_array_foreach(at(d, "templating/list"), i, t) {
        job = job || !strcmp(at_str(t, "name"), "job");
        instance = instance || !strcmp(at_str(t, "name"), "instance");
        ck_assert_str_eq(at_str(t, "datasource/uid"), uid);
    }
    ck_assert(job && instance);
    /* The dashboard provider reads the directory compose mounts the file into. */
    json_t *prov = yaml_doc("deploy/grafana/provisioning/dashboards/riskwarn.yml");
    json_t *compose = yaml_doc("deploy/compose/compose.yaml");
    const char *dir = at_str(prov, "providers/0/options/path");
    ck_assert_ptr_nonnull(dir);
    bool mounted = false;
    json_array_foreach(at(compose, "services/grafana/volumes"), i, t) {
        const char *v = json_string_value(t);
        const char *colon = strchr(v, ':');
        mounted = mounted ||
                  (strstr(v, "riskwarn-dashboard.json") && !strncmp(colon + 1, dir, strlen(dir)));
    }
    ck_assert_msg(mounted, "compose does not mount the dashboard under %s", dir);
    json_decref(prov);
    json_decref(compose);
    json_decref(ds);
    json_decref(d);
    free(text);
}
END_TEST

/* The alerting rules name exported metrics, one of them watches `up`, and the
 * scrape config loads them and scrapes each engine of the compose file. */
START_TEST(test_deploy_prometheus_rules) {
    json_t *prom = yaml_doc("deploy/prometheus/prometheus.yml");
    const char *rules = at_str(prom, "rule_files/0");
    ck_assert_ptr_nonnull(rules);
    char path[256];
    snprintf(path, sizeof(path), "deploy/prometheus/%s", rules);
    json_t *r = yaml_doc(path);
    size_t i, j;
    json_t *g, *rule;
    int n = 0;
    bool up = false;
    json_array_foreach(at(r, "groups"), i, g) json_array_foreach(at(g, "rules"), j, rule) {
        const char *expr = at_str(rule, "expr");
        ck_assert_ptr_nonnull(at_str(rule, "alert"));
        ck_assert_ptr_nonnull(expr);
        check_expr(at_str(rule, "alert"), expr);
        up = up || !strncmp(expr, "up{", 3);
        n++;
    }
    ck_assert_int_ge(n, 5);
    ck_assert(up);
    json_t *compose = yaml_doc("deploy/compose/compose.yaml");
    json_t *svc;
    const char *name;
    int engines = 0;
    json_object_foreach(at(compose, "services"), name, svc) {
        if (!at_str(svc, "image") || strncmp(at_str(svc, "image"), "riskwarn:", 9))
            continue;
        engines++;
        char target[128];
        snprintf(target, sizeof(target), "%s:9464", name);
        bool scraped = false;
        json_t *t;
        json_array_foreach(at(prom, "scrape_configs/0/static_configs/0/targets"), j, t) scraped =
            scraped || !strcmp(json_string_value(t), target);
        ck_assert_msg(scraped, "prometheus.yml does not scrape %s", target);
    }
    ck_assert_int_ge(engines, 2);
    json_decref(compose);
    json_decref(r);
    json_decref(prom);
}
END_TEST

/* Compose: Kafka in KRaft mode, Redis with the persistence deploy/README.md
 * asks for, two engines with their own group.instance.id, files that exist. */
START_TEST(test_deploy_compose) {
    json_t *c = yaml_doc("deploy/compose/compose.yaml");
    json_t *kafka = at(c, "services/kafka");
    ck_assert_ptr_nonnull(strstr(at_str(kafka, "environment/KAFKA_PROCESS_ROLES"), "controller"));
    char *all = json_dumps(c, 0);
    ck_assert_ptr_null(strstr(all, "zookeeper")); /* KRaft: no ZooKeeper */
    free(all);
    json_t *redis_cmd = at(c, "services/redis/command");
    char *cmd = json_dumps(redis_cmd, 0);
    ck_assert_ptr_nonnull(strstr(cmd, "--appendonly yes --appendfsync always"));
    ck_assert_ptr_nonnull(strstr(cmd, "--maxmemory-policy noeviction"));
    free(cmd);
    const char *name;
    json_t *svc;
    char ids[4][64];
    int engines = 0;
    json_object_foreach(at(c, "services"), name, svc) {
        size_t i;
        json_t *v;
        json_array_foreach(at(svc, "volumes"), i, v) {
            const char *src = json_string_value(v);
            if (src[0] != '.')
                continue; /* a named volume */
            char path[256];
            snprintf(path, sizeof(path), "deploy/compose/%.*s", (int)strcspn(src, ":"), src);
            ck_assert_msg(access(path, R_OK) == 0, "%s mounts %s, which is missing", name, path);
        }
        if (!at_str(svc, "image") || strncmp(at_str(svc, "image"), "riskwarn:", 9))
            continue;
        const char *id = at_str(svc, "environment/RISKWARN_KAFKA_GROUP_INSTANCE_ID");
        ck_assert_msg(id != NULL, "%s has no group.instance.id", name);
        for (int k = 0; k < engines; k++)
            ck_assert_str_ne(ids[k], id);
        snprintf(ids[engines++], sizeof(ids[0]), "%s", id);
        /* Every variable it sets is one the engine knows. */
        const char *var;
        json_t *val;
        json_object_foreach(at(svc, "environment"), var, val)
            setenv(var, json_string_value(val), 1);
        rw_config_t cfg;
        char *text = slurp("deploy/compose/engine.json");
        config_loads(name, text, &cfg);
        ck_assert_str_eq(json_string_value(json_object_get(cfg.properties, "group.instance.id")),
                         id);
        rw_config_fini(&cfg);
        free(text);
        json_object_foreach(at(svc, "environment"), var, val) unsetenv(var);
    }
    ck_assert_int_eq(engines, 2);
    json_decref(c);
}
END_TEST

/* Kubernetes: probes on /healthz at the metrics port, group.instance.id from the
 * pod's name, the ConfigMaps and Secret the config's paths need, non-root. */
START_TEST(test_deploy_kubernetes) {
    json_t *ss = yaml_doc("deploy/kubernetes/statefulset.yaml");
    ck_assert_str_eq(at_str(ss, "kind"), "StatefulSet");
    json_t *pod = at(ss, "spec/template/spec");
    json_t *ctr = at(pod, "containers/0");
    ck_assert_str_eq(at_str(ctr, "readinessProbe/httpGet/path"), "/healthz");
    ck_assert_str_eq(at_str(ctr, "livenessProbe/httpGet/path"), "/healthz");
    ck_assert_str_eq(at_str(ctr, "livenessProbe/httpGet/port"), "metrics");
    ck_assert_str_eq(at_str(ctr, "ports/0/name"), "metrics");
    ck_assert_int_eq(json_integer_value(at(ctr, "ports/0/containerPort")), 9464);
    ck_assert(json_is_true(at(pod, "securityContext/runAsNonRoot")));
    ck_assert(json_is_true(at(ctr, "securityContext/readOnlyRootFilesystem")));
    ck_assert(json_is_false(at(ctr, "securityContext/allowPrivilegeEscalation")));
    size_t i;
    json_t *e;
    bool instance_id = false;
    json_array_foreach(at(ctr, "env"), i,
                       e) if (!strcmp(at_str(e, "name"), "RISKWARN_KAFKA_GROUP_INSTANCE_ID")) {
        ck_assert_str_eq(at_str(e, "valueFrom/fieldRef/fieldPath"), "metadata.name");
        instance_id = true;
    }
    ck_assert(instance_id);
    /* Mounts and volumes: where the config's files are. */
    const char *secret_dir = NULL, *rules_dir = NULL, *secret_name = NULL;
    json_t *m, *v;
    json_array_foreach(at(ctr, "volumeMounts"), i, m) {
        const char *mn = at_str(m, "name");
        size_t j;
        json_array_foreach(at(pod, "volumes"), j, v) if (!strcmp(at_str(v, "name"), mn)) {
            if (at_str(v, "secret/secretName")) {
                secret_dir = at_str(m, "mountPath");
                secret_name = at_str(v, "secret/secretName");
            } else if (!strcmp(at_str(v, "configMap/name"), "riskwarn-rules")) {
                rules_dir = at_str(m, "mountPath");
            }
        }
    }
    ck_assert(secret_dir && rules_dir && secret_name);
    json_t *cm = yaml_doc("deploy/kubernetes/configmap.yaml");
    json_t *cfg = json_loads(at_str(cm, "data/engine.json"), 0, NULL);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_msg(!strncmp(at_str(cfg, "rules"), rules_dir, strlen(rules_dir)),
                  "rules %s is not under the rules mount %s", at_str(cfg, "rules"), rules_dir);
    json_t *secret = yaml_doc("deploy/kubernetes/secret.example.yaml");
    ck_assert_str_eq(at_str(secret, "metadata/name"), secret_name);
    const char *files[] = {"redis/password_file", "kafka/sasl_password_file",
                           "webhook/secret_file"};
    for (size_t k = 0; k < 3; k++) {
        const char *f = at_str(cfg, files[k]);
        ck_assert_msg(f && !strncmp(f, secret_dir, strlen(secret_dir)), "%s: %s", files[k], f);
        ck_assert_msg(at(secret, "stringData") &&
                          json_object_get(at(secret, "stringData"), strrchr(f, '/') + 1),
                      "the Secret has no key %s", strrchr(f, '/') + 1);
    }
    /* kustomization lists files that exist. */
    json_t *k = yaml_doc("deploy/kubernetes/kustomization.yaml");
    json_t *r;
    json_array_foreach(at(k, "resources"), i, r) {
        char path[256];
        snprintf(path, sizeof(path), "deploy/kubernetes/%s", json_string_value(r));
        ck_assert_msg(access(path, R_OK) == 0, "kustomization lists %s, which is missing", path);
    }
    json_decref(k);
    json_decref(secret);
    json_decref(cfg);
    json_decref(cm);
    json_decref(ss);
}
END_TEST

/* The unit: reload by SIGHUP, the hardening in place; systemd-analyze verifies it
 * (with ExecStart pointing at the binary built here) and rates it "OK". */
START_TEST(test_deploy_systemd_unit) {
    char *unit = slurp("deploy/systemd/riskwarn.service");
    const char *lines[] = {"ExecReload=/bin/kill -HUP $MAINPID",
                           "NoNewPrivileges=yes",
                           "ProtectSystem=strict",
                           "ProtectHome=yes",
                           "PrivateTmp=yes",
                           "CapabilityBoundingSet=\n",
                           "RestrictAddressFamilies=",
                           "SystemCallFilter=@system-service",
                           "MemoryDenyWriteExecute=yes",
                           "RestartPreventExitStatus=2",
                           "User=riskwarn"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++)
        ck_assert_msg(strstr(unit, lines[i]), "the unit lacks %s", lines[i]);
    if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_deploy_systemd_unit: no systemd-analyze here: verify skipped\n");
        free(unit);
        return;
    }
    char bin[512];
    ck_assert_ptr_nonnull(realpath(h_bin(), bin));
    rw_buf_t b;
    rw_buf_init(&b);
    for (const char *p = unit, *q; *p; p = q) { /* the binary's path, as installed here */
        q = strstr(p, "/usr/local/bin/riskwarn");
        if (!q) {
            rw_buf_puts(&b, p);
            break;
        }
        rw_buf_append(&b, p, (size_t)(q - p));
        rw_buf_puts(&b, bin);
        q += strlen("/usr/local/bin/riskwarn");
    }
    const char *copy = h_path("riskwarn.service");
    FILE *f = fopen(copy, "w");
    ck_assert_ptr_nonnull(f);
    fputs(rw_buf_cstr(&b), f);
    fclose(f);
    rw_buf_fini(&b);
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof(cmd), "systemd-analyze verify %s 2>&1", copy);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    ck_assert_msg(pclose(p) == 0 && n == 0, "systemd-analyze verify:\n%s", out);
    snprintf(cmd, sizeof(cmd), "systemd-analyze security --offline=true %s 2>&1 | tail -1", copy);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    pclose(p);
    const char *lvl = strstr(out, "exposure level for");
    ck_assert_msg(lvl && strchr(lvl, ':'), "%s", out);
    double exposure = strtod(strchr(lvl, ':') + 1, NULL);
    ck_assert_msg(exposure > 0 && exposure <= 2.0, "exposure %.1f: %s", exposure, out);
    free(unit);
}
END_TEST

/* The image: two stages on bookworm-slim, built by scripts/deps.sh, run as a
 * non-root user, and every file it copies from the repository exists. */
START_TEST(test_deploy_dockerfile) {
    char *d = slurp("deploy/docker/Dockerfile");
    int froms = 0;
    bool deps = false, user = false;
    for (char *line = strtok(d, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "FROM ", 5)) {
            ck_assert_msg(!strncmp(line, "FROM debian:bookworm-slim", 25), "%s", line);
            froms++;
        }
        deps = deps || (!strncmp(line, "RUN ", 4) && strstr(line, "scripts/deps.sh"));
        if (!strncmp(line, "USER ", 5)) {
            user = strncmp(line + 5, "root", 4) != 0 && strncmp(line + 5, "0", 1) != 0;
        }
        if (!strncmp(line, "COPY ", 5) && strncmp(line, "COPY --from", 11) != 0) {
            char src[256];
            ck_assert_int_eq(sscanf(line + 5, "%255s", src), 1);
            ck_assert_msg(access(src, R_OK) == 0, "COPY %s: missing", src);
        }
    }
    ck_assert_int_eq(froms, 2);
    ck_assert(deps);
    ck_assert_msg(user, "the image runs as root");
    free(d);
}
END_TEST

/* create-topics.sh makes every topic the engine uses, risk.rules with one
 * partition and no compaction, and deploy/README.md lists each. */
START_TEST(test_deploy_topics) {
    char *script = slurp("deploy/kafka/create-topics.sh");
    char *readme = slurp("deploy/README.md");
    rw_config_t c;
    rw_config_init(&c);
    char shadow[128];
    snprintf(shadow, sizeof(shadow), "%s.shadow", c.alert_topic);
    const char *want[] = {
        c.input_topics[0],  c.input_topics[1], c.alert_topic, c.high_alert_topic, shadow,
        c.deadletter_topic, c.control_topic,   c.audit_topic};
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        char line[160], cell[160];
        snprintf(line, sizeof(line), "\ntopic %s ", want[i]);
        const char *at_line = strstr(script, line);
        ck_assert_msg(at_line, "create-topics.sh does not create %s", want[i]);
        snprintf(cell, sizeof(cell), "| `%s` |", want[i]);
        ck_assert_msg(strstr(readme, cell), "deploy/README.md does not list %s", want[i]);
        if (!strcmp(want[i], c.control_topic)) {
            ck_assert_int_eq(atoi(at_line + strlen(line)), 1);
            ck_assert_ptr_nonnull(strstr(at_line, "cleanup.policy=delete"));
            ck_assert_ptr_nonnull(strstr(at_line, "retention.ms=-1"));
        }
    }
    ck_assert_msg(system("sh -n deploy/kafka/create-topics.sh") == 0, "shell syntax");
    rw_config_fini(&c);
    free(readme);
    free(script);
}
END_TEST

static Suite *deploy_suite(void) {
    Suite *s = suite_create("deploy");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_deploy_yaml_parses);
    tcase_add_test(tc, test_deploy_example_configs_load);
    tcase_add_test(tc, test_deploy_dashboard_provisioned);
    tcase_add_test(tc, test_deploy_prometheus_rules);
    tcase_add_test(tc, test_deploy_compose);
    tcase_add_test(tc, test_deploy_kubernetes);
    tcase_add_test(tc, test_deploy_systemd_unit);
    tcase_add_test(tc, test_deploy_dockerfile);
    tcase_add_test(tc, test_deploy_topics);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return h_main(deploy_suite); }
