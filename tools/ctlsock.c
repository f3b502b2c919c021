/* tools/ctlsock.c — the control socket's transport: the host's Unix
 * socket server on the real-time loop, and the client `netsock stat`
 * uses (ctl.h has the protocol and the paths). */
#include "ctl.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


#define CTL_CONNS_MAX 16

/* ---- paths ------------------------------------------------------------------------------- */

/* The directories a host may use, in order, with the file-name prefix. */
struct ctl_dir {
    char dir[CTL_PATH_MAX];
    const char *prefix;
};

static int ctl_dirs(struct ctl_dir out[3])
{
    int n = 0;
    const char *env = getenv("NETSOCK_RUN_DIR");
    if (env && *env) {
        snprintf(out[n].dir, sizeof(out[n].dir), "%s", env);
        out[n++].prefix = "";
        return n; /* the override is the only place looked at */
    }
    snprintf(out[n].dir, sizeof(out[n].dir), "/run/netsock");
    out[n++].prefix = "";
    snprintf(out[n].dir, sizeof(out[n].dir), "/tmp");
    out[n++].prefix = "netsock-";
    return n;
}

static int make_path(char out[CTL_PATH_MAX], const struct ctl_dir *d, const char *name,
                     const char *ext)
{
    int n = snprintf(out, CTL_PATH_MAX, "%s/%s%s%s", d->dir, d->prefix, name, ext);
    return n > 0 && n < CTL_PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* Where a new host puts its socket: the first usable directory. */
static const struct ctl_dir *server_dir(struct ctl_dir dirs[3], int n)
{
    for (int i = 0; i < n; i++) {
        if (!strcmp(dirs[i].dir, "/run/netsock"))
            (void)mkdir(dirs[i].dir, 0755); /* works as root; EEXIST is fine */
        if (access(dirs[i].dir, W_OK | X_OK) == 0)
            return &dirs[i];
    }
    return NULL;
}

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* ---- host side ------------------------------------------------------------------------------ */

struct ctl_conn {
    struct ctl_server *srv;
    int fd;
    char req[CTL_REQ_MAX];
    size_t req_len;
    char *reply;
    size_t reply_len, reply_off;
    struct ctl_conn *next;
};

struct ctl_server {
    int lfd;
    char path[CTL_PATH_MAX];
    char pid_path[CTL_PATH_MAX];
    struct ns_loop *loop;
    struct ns_stack *st;
    const struct services *svc;
    struct ctl_conn *conns;
    unsigned nconns;
    const char *extra_verb; /* ctl_server_set_extra */
    ctl_extra_fn extra_fn;
    void *extra_ctx;
};

void ctl_server_set_extra(struct ctl_server *srv, const char *verb, ctl_extra_fn fn, void *ctx)
{
    srv->extra_verb = verb;
    srv->extra_fn = fn;
    srv->extra_ctx = ctx;
}

/* The reply to request: the extra handler's when the request starts with
 * its verb (alone or followed by a space), else ctl_reply's. */
static char *server_reply(struct ctl_server *srv, const char *req, size_t *len)
{
    size_t vl = srv->extra_verb ? strlen(srv->extra_verb) : 0;
    if (vl && !strncmp(req, srv->extra_verb, vl) && (req[vl] == 0 || req[vl] == ' ' ||
                                                     req[vl] == '\n' || req[vl] == '\r'))
        return srv->extra_fn(srv->extra_ctx, req, len);
    return ctl_reply(srv->st, srv->svc, req, len);
}

const char *ctl_server_path(const struct ctl_server *srv) { return srv->path; }

static void conn_drop(struct ctl_conn *c)
{
    struct ctl_server *srv = c->srv;
    ns_loop_del_fd(srv->loop, c->fd);
    close(c->fd);
    for (struct ctl_conn **p = &srv->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    srv->nconns--;
    free(c->reply);
    free(c);
}

static void on_conn(void *ctx, int fd, uint32_t events)
{
    struct ctl_conn *c = ctx;
    (void)events;
    if (!c->reply) {
        for (;;) {
            ssize_t n = read(fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return; /* wait for the rest of the line */
            if (n < 0) {
                conn_drop(c);
                return;
            }
            c->req_len += (size_t)n;
            c->req[c->req_len] = 0;
            if (n == 0 || memchr(c->req, '\n', c->req_len) || c->req_len == sizeof(c->req) - 1)
                break;
        }
        c->reply = server_reply(c->srv, c->req, &c->reply_len);
        if (!c->reply) {
            conn_drop(c);
            return;
        }
    }
    while (c->reply_off < c->reply_len) {
        ssize_t n = send(fd, c->reply + c->reply_off, c->reply_len - c->reply_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* The client reads slowly: wait until it can take more. */
            ns_loop_del_fd(c->srv->loop, fd);
            if (ns_loop_add_fd(c->srv->loop, fd, EPOLLOUT, on_conn, c) < 0)
                conn_drop(c);
            return;
        }
        if (n < 0)
            break;
        c->reply_off += (size_t)n;
    }
    conn_drop(c);
}

static void on_listen(void *ctx, int fd, uint32_t events)
{
    struct ctl_server *srv = ctx;
    (void)events;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        struct ctl_conn *c = srv->nconns < CTL_CONNS_MAX ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(cfd); /* too many at once: the client sees EOF */
            continue;
        }
        c->srv = srv;
        c->fd = cfd;
        if (ns_loop_add_fd(srv->loop, cfd, EPOLLIN, on_conn, c) < 0) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        srv->conns = c;
        srv->nconns++;
    }
}

int ctl_server_open(struct ctl_server **out, const char *name, struct ns_loop *loop,
                    struct ns_stack *st, const struct services *svc)
{
    if (!ctl_name_ok(name)) {
        fprintf(stderr, "control socket: bad host name '%s' (letters, digits, . _ -)\n", name);
        return -EINVAL;
    }
    struct ctl_dir dirs[3];
    int nd = ctl_dirs(dirs);
    const struct ctl_dir *d = server_dir(dirs, nd);
    if (!d) {
        fprintf(stderr, "control socket: no writable directory (/run/netsock, /tmp)\n");
        return -EACCES;
    }
    struct ctl_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->lfd = -1;
    srv->loop = loop;
    srv->st = st;
    srv->svc = svc;
    int rc = make_path(srv->path, d, name, ".sock");
    if (rc == 0)
        rc = make_path(srv->pid_path, d, name, ".pid");
    if (rc < 0) {
        fprintf(stderr, "control socket: path too long for host '%s'\n", name);
        free(srv);
        return rc;
    }
    /* A live host answers on the path: refuse. A dead one left it behind:
     * replace it. */
    int probe = unix_connect(srv->path);
    if (probe >= 0) {
        close(probe);
        fprintf(stderr, "control socket %s: a host named '%s' is already running\n", srv->path,
                name);
        free(srv);
        return -EADDRINUSE;
    }
    unlink(srv->path);
    srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", srv->path);
    if (srv->lfd < 0 || bind(srv->lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(srv->lfd, 16) < 0) {
        rc = -errno;
        fprintf(stderr, "control socket %s: %s\n", srv->path, strerror(errno));
        if (srv->lfd >= 0)
            close(srv->lfd);
        free(srv);
        return rc;
    }
    if ((rc = ns_loop_add_fd(loop, srv->lfd, EPOLLIN, on_listen, srv)) < 0) {
        fprintf(stderr, "control socket: %s\n", strerror(-rc));
        close(srv->lfd);
        unlink(srv->path);
        free(srv);
        return rc;
    }
    FILE *f = fopen(srv->pid_path, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
    } else {
        srv->pid_path[0] = 0; /* stat --pid will not find us; --name still works */
    }
    *out = srv;
    return 0;
}

void ctl_server_close(struct ctl_server *srv)
{
    if (!srv)
        return;
    while (srv->conns)
        conn_drop(srv->conns);
    ns_loop_del_fd(srv->loop, srv->lfd);
    close(srv->lfd);
    unlink(srv->path);
    if (srv->pid_path[0])
        unlink(srv->pid_path);
    free(srv);
}

/* ---- client side ------------------------------------------------------------------------------ */

/* Does this directory entry name a host file with the given extension?
 * Copies the host name out. */
static bool entry_host(const char *entry, const char *prefix, const char *ext, char *name,
                       size_t len)
{
    size_t pl = strlen(prefix), el = strlen(ext), n = strlen(entry);
    if (n <= pl + el || strncmp(entry, prefix, pl) || strcmp(entry + n - el, ext))
        return false;
    snprintf(name, len, "%.*s", (int)(n - pl - el), entry + pl);
    return ctl_name_ok(name);
}

static long read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = -1;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return pid;
}

int ctl_find(const char *name, long pid, char path[CTL_PATH_MAX])
{
    struct ctl_dir dirs[3];
    int nd = ctl_dirs(dirs);
    if (name) {
        if (!ctl_name_ok(name)) {
            fprintf(stderr, "netsock stat: bad host name '%s'\n", name);
            return -1;
        }
        for (int i = 0; i < nd; i++) {
            if (make_path(path, &dirs[i], name, ".sock") < 0)
                continue;
            int fd = unix_connect(path);
            if (fd >= 0) {
                close(fd);
                return 0;
            }
        }
        fprintf(stderr, "netsock stat: no running host named '%s' (looked for %s/%s%s.sock",
                name, dirs[0].dir, dirs[0].prefix, name);
        for (int i = 1; i < nd; i++)
            fprintf(stderr, ", %s/%s%s.sock", dirs[i].dir, dirs[i].prefix, name);
        fprintf(stderr, ")\n");
        return -1;
    }
    /* By pid, or the only live host: scan the directories. */
    int found = 0;
    char first[CTL_PATH_MAX] = "";
    for (int i = 0; i < nd; i++) {
        DIR *dir = opendir(dirs[i].dir);
        if (!dir)
            continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            char host[72], p[CTL_PATH_MAX];
            if (!entry_host(e->d_name, dirs[i].prefix, ".sock", host, sizeof(host)))
                continue;
            if (pid > 0) {
                if (make_path(p, &dirs[i], host, ".pid") < 0 || read_pid(p) != pid)
                    continue;
            }
            if (make_path(p, &dirs[i], host, ".sock") < 0)
                continue;
            int fd = unix_connect(p);
            if (fd < 0)
                continue; /* left behind by a host that died */
            close(fd);
            if (found++ == 0) {
                snprintf(first, sizeof(first), "%s", p);
                continue;
            }
            if (found == 2)
                fprintf(stderr, "  %s\n", first);
            fprintf(stderr, "  %s\n", p);
        }
        closedir(dir);
    }
    if (found == 1) {
        memcpy(path, first, CTL_PATH_MAX);
        return 0;
    }
    if (found == 0 && pid > 0)
        fprintf(stderr, "netsock stat: no running host with pid %ld\n", pid);
    else if (found == 0)
        fprintf(stderr, "netsock stat: no running netsock host found\n");
    else
        fprintf(stderr, "netsock stat: %d hosts are running (above); choose one with --name\n",
                found);
    return -1;
}

int ctl_request(const char *path, const char *request, int out_fd)
{
    int fd = unix_connect(path);
    if (fd < 0) {
        fprintf(stderr, "netsock stat: %s: %s\n", path, strerror(-fd));
        return -1;
    }
    char line[CTL_REQ_MAX];
    int n = snprintf(line, sizeof(line), "%s\n", request);
    if (n <= 0 || (size_t)n >= sizeof(line) || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        fprintf(stderr, "netsock stat: %s: cannot send the request\n", path);
        close(fd);
        return -1;
    }
    shutdown(fd, SHUT_WR);
    char buf[65536];
    int rc = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) == 0) {
            fprintf(stderr, "netsock stat: %s: no answer in 5 s\n", path);
            rc = -1;
            break;
        }
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -1 : 0;
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out_fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                close(fd);
                return -1;
            }
            off += w;
        }
    }
    close(fd);
    return rc;
}
