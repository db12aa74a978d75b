#include "proc.h"

#include "store.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int rw_proc_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int ping(int port, const char *password) {
    rw_error_t err;
    rw_error_clear(&err);
    rw_redis_opts_t o = {"127.0.0.1", port, NULL, password, 0, "rw:", "x", 500, 0};
    redisContext *c = rw_store_redis_connect(&o, &err);
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return ok ? 0 : -1;
}

int rw_proc_redis_start(rw_redis_server_t *s, const char *password, int timeout_ms,
                        rw_error_t *err) {
    return rw_proc_redis_start_args(s, password, NULL, timeout_ms, err);
}

int rw_proc_redis_start_args(rw_redis_server_t *s, const char *password, const char *const *extra,
                             int timeout_ms, rw_error_t *err) {
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "/tmp/riskwarn-redis-XXXXXX");
    if (!mkdtemp(s->dir))
        return rw_error_fail(err, RW_ERR_IO, "mkdtemp: %s", strerror(errno));
    for (int attempt = 0; attempt < 5; attempt++) {
        s->port = rw_proc_free_port();
        if (s->port < 0)
            return rw_error_fail(err, RW_ERR_IO, "no free port");
        char port[16];
        snprintf(port, sizeof(port), "%d", s->port);
        pid_t pid = fork();
        if (pid < 0)
            return rw_error_fail(err, RW_ERR_FAIL, "fork: %s", strerror(errno));
        if (pid == 0) {
            if (chdir(s->dir) != 0)
                _exit(127);
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            const char *argv[64] = {"redis-server", "--port",      port, "--bind",
                                    "127.0.0.1",    "--save",      "",   "--appendonly",
                                    "no",           "--daemonize", "no"};
            size_t n = 11;
            if (password) {
                argv[n++] = "--requirepass";
                argv[n++] = password;
            }
            for (size_t i = 0; extra && extra[i] && n < 63; i++)
                argv[n++] = extra[i];
            argv[n] = NULL;
            execvp("redis-server", RW_UNCONST(char *const *, argv));
            _exit(127);
        }
        s->pid = pid;
        int64_t deadline = rw_monotonic_ms() + timeout_ms;
        while (rw_monotonic_ms() < deadline) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                s->pid = 0;
                if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                    return rw_error_fail(err, RW_ERR_FAIL,
                                         "cannot run redis-server (is it installed? "
                                         "scripts/deps.sh installs it)");
                break; /* port taken: try another */
            }
            if (ping(s->port, password) == 0)
                return 0;
            usleep(20 * 1000);
        }
        if (s->pid) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->pid = 0;
        }
    }
    return rw_error_fail(err, RW_ERR_TIMEOUT, "redis-server did not answer");
}

void rw_proc_redis_stop(rw_redis_server_t *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int64_t deadline = rw_monotonic_ms() + 5000;
        int status;
        while (waitpid(s->pid, &status, WNOHANG) == 0) {
            if (rw_monotonic_ms() > deadline) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
                break;
            }
            usleep(10 * 1000);
        }
        s->pid = 0;
    }
    if (s->dir[0]) {
        char path[300];
        snprintf(path, sizeof(path), "%s/dump.rdb", s->dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/nodes.conf", s->dir); /* a cluster node's */
        unlink(path);
        rmdir(s->dir);
        s->dir[0] = 0;
    }
}
