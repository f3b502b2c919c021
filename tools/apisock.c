/* tools/apisock.c — the API socket: slirp4netns's JSON requests, parsed
 * with cJSON, on a Unix stream socket watched by the real-time loop
 * (apisock.h has the protocol and the contracts). */
#include "apisock.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "netsock/os.h"

/* ---- requests ----------------------------------------------------------------------------- */

/* {"error":{"desc":"bad request: WHAT"}} */
static char *error_reply(const char *verb, const char *what)
{
    char desc[HOSTFWD_ERR_MAX + 64];
    if (verb)
        snprintf(desc, sizeof(desc), "bad request: %s: %s", verb, what);
    else
        snprintf(desc, sizeof(desc), "bad request: %s", what);
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    char *out = err && cJSON_AddStringToObject(err, "desc", desc) ? cJSON_PrintUnformatted(root)
                                                                  : NULL;
    cJSON_Delete(root);
    return out;
}

/* {"return": VALUE}, VALUE taken over. */
static char *return_reply(cJSON *value)
{
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    if (root && value && cJSON_AddItemToObject(root, "return", value)) {
        value = NULL;
        out = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(value);
    cJSON_Delete(root);
    return out;
}

/* An integer member from lo to hi, or -1 when absent or anything else. */
static long long int_member(const cJSON *obj, const char *name, long long lo, long long hi)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return -1;
    return (long long)v->valuedouble;
}

/* A string member; "" when absent or null (slirp4netns's defaults), NULL
 * when of another type. */
static const char *str_member(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return "";
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *do_add(const struct apisock_ops *ops, void *ctx, const cJSON *args)
{
    static const char verb[] = "add_hostfwd";
    struct hostfwd f = {0};
    const char *proto = str_member(args, "proto");
    if (!proto || !(f.proto = hostfwd_proto_parse(proto)))
        return error_reply(verb, "bad arguments.proto");
    const char *host = str_member(args, "host_addr");
    if (!host)
        return error_reply(verb, "bad arguments.host_addr");
    if (!*host)
        host = "0.0.0.0";
    f.host_family = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(f.host_family, host, f.host_addr) != 1)
        return error_reply(verb, "bad arguments.host_addr");
    long long port = int_member(args, "host_port", 1, 65535);
    if (port < 0)
        return error_reply(verb, "bad arguments.host_port");
    f.host_port = (uint16_t)port;
    const char *guest = str_member(args, "guest_addr");
    if (!guest || (*guest && inet_pton(AF_INET, guest, &f.guest_addr) != 1))
        return error_reply(verb, "bad arguments.guest_addr");
    if ((port = int_member(args, "guest_port", 1, 65535)) < 0)
        return error_reply(verb, "bad arguments.guest_port");
    f.guest_port = (uint16_t)port;
    char err[HOSTFWD_ERR_MAX] = "failed";
    int id = ops->add(ctx, &f, err, sizeof(err));
    if (id < 0)
        return error_reply(verb, err);
    cJSON *ret = cJSON_CreateObject();
    if (ret && !cJSON_AddNumberToObject(ret, "id", id)) {
        cJSON_Delete(ret);
        ret = NULL;
    }
    return return_reply(ret);
}

/* One entry of list_hostfwd, as slirp4netns lists them. */
static void list_one(void *arg, const struct hostfwd *f)
{
    cJSON *entries = arg;
    char host[INET6_ADDRSTRLEN] = "", guest[INET_ADDRSTRLEN] = "";
    inet_ntop(f->host_family, f->host_addr, host, sizeof(host));
    inet_ntop(AF_INET, &f->guest_addr, guest, sizeof(guest));
    cJSON *e = cJSON_CreateObject();
    if (!e)
        return;
    cJSON_AddNumberToObject(e, "id", f->id);
    cJSON_AddStringToObject(e, "proto", hostfwd_proto_name(f->proto));
    cJSON_AddStringToObject(e, "host_addr", host);
    cJSON_AddNumberToObject(e, "host_port", f->host_port);
    cJSON_AddStringToObject(e, "guest_addr", guest);
    cJSON_AddNumberToObject(e, "guest_port", f->guest_port);
    cJSON_AddItemToArray(entries, e);
}

static char *do_list(const struct apisock_ops *ops, void *ctx)
{
    cJSON *ret = cJSON_CreateObject();
    cJSON *entries = ret ? cJSON_AddArrayToObject(ret, "entries") : NULL;
    if (!entries) {
        cJSON_Delete(ret);
        return NULL;
    }
    ops->list(ctx, list_one, entries);
    return return_reply(ret);
}

static char *do_remove(const struct apisock_ops *ops, void *ctx, const cJSON *args)
{
    static const char verb[] = "remove_hostfwd";
    long long id = int_member(args, "id", 1, 0x7fffffff);
    if (id < 0)
        return error_reply(verb, "bad arguments.id");
    char err[HOSTFWD_ERR_MAX] = "failed";
    if (ops->remove(ctx, (unsigned)id, err, sizeof(err)) < 0)
        return error_reply(verb, err);
    return return_reply(cJSON_CreateObject());
}

char *apisock_handle(const struct apisock_ops *ops, void *ctx, const char *req, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(req, len);
    char *out;
    if (!root) {
        out = error_reply(NULL, "cannot parse JSON");
    } else if (!cJSON_IsObject(root)) {
        out = error_reply(NULL, "not a JSON object");
    } else {
        const cJSON *exec = cJSON_GetObjectItemCaseSensitive(root, "execute");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "arguments");
        if (!cJSON_IsString(exec))
            out = error_reply(NULL, "no execute found");
        else if (args && !cJSON_IsObject(args))
            out = error_reply(exec->valuestring, "arguments is not an object");
        else if (!strcmp(exec->valuestring, "add_hostfwd"))
            out = do_add(ops, ctx, args);
        else if (!strcmp(exec->valuestring, "list_hostfwd"))
            out = do_list(ops, ctx);
        else if (!strcmp(exec->valuestring, "remove_hostfwd"))
            out = do_remove(ops, ctx, args);
        else
            out = error_reply(NULL, "unknown execute");
    }
    cJSON_Delete(root);
    return out;
}


/* ---- the socket ----------------------------------------------------------------------------- */

struct api_conn {
    struct apisock *a;
    int fd;
    char req[APISOCK_REQ_MAX];
    size_t req_len;
    char *reply;
    size_t reply_len, reply_off;
    struct api_conn *next; /* newest first */
};

struct apisock {
    int lfd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct ns_loop *loop;
    const struct apisock_ops *ops;
    void *ctx;
    struct api_conn *conns;
    unsigned nconns;
    struct apisock_stats stats;
};

static void conn_drop(struct api_conn *c)
{
    struct apisock *a = c->a;
    ns_loop_del_fd(a->loop, c->fd);
    close(c->fd);
    for (struct api_conn **p = &a->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    a->nconns--;
    free(c->reply);
    free(c);
}

/* Write what is left of the reply; the connection ends when it is all
 * written or the client went away. */
static void conn_write(struct api_conn *c)
{
    while (c->reply_off < c->reply_len) {
        ssize_t n = send(c->fd, c->reply + c->reply_off, c->reply_len - c->reply_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* on_conn is called again when it takes more (EPOLLOUT) */
        if (n <= 0)
            break;
        c->reply_off += (size_t)n;
    }
    conn_drop(c);
}

static void on_conn(void *ctx, int fd, uint32_t events);

/* The request is complete (or never will be): answer it. */
static void conn_answer(struct api_conn *c, bool too_large)
{
    struct apisock *a = c->a;
    a->stats.requests++;
    if (too_large) {
        a->stats.too_large++;
        c->reply = error_reply(NULL, "too large message");
    } else {
        c->reply = apisock_handle(a->ops, a->ctx, c->req, c->req_len);
    }
    if (!c->reply) {
        conn_drop(c);
        return;
    }
    if (!strncmp(c->reply, "{\"error\"", 8))
        a->stats.errors++;
    c->reply_len = strlen(c->reply);
    /* Replies are written from on_conn when the socket takes no more now. */
    ns_loop_del_fd(a->loop, c->fd);
    if (ns_loop_add_fd(a->loop, c->fd, EPOLLOUT, on_conn, c) < 0) {
        conn_drop(c);
        return;
    }
    conn_write(c);
}

static void on_conn(void *ctx, int fd, uint32_t events)
{
    struct api_conn *c = ctx;
    (void)events;
    if (c->reply) {
        conn_write(c);
        return;
    }
    for (;;) {
        ssize_t n = read(fd, c->req + c->req_len, sizeof(c->req) - c->req_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            conn_drop(c);
            return;
        }
        c->req_len += (size_t)n;
        if (c->req_len >= sizeof(c->req)) {
            conn_answer(c, true);
            return;
        }
        /* Complete when it parses (the client need not shut down), or
         * at the end of its data (then an error if it does not). */
        cJSON *probe = n > 0 ? cJSON_ParseWithLength(c->req, c->req_len) : NULL;
        bool done = probe != NULL || n == 0;
        cJSON_Delete(probe);
        if (done) {
            conn_answer(c, false);
            return;
        }
    }
}

static void on_listen(void *ctx, int fd, uint32_t events)
{
    struct apisock *a = ctx;
    (void)events;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        if (a->nconns >= APISOCK_CONNS_MAX) {
            /* Bounded: the oldest connection (the list's last) goes. */
            struct api_conn *old = a->conns;
            while (old->next)
                old = old->next;
            a->stats.conns_dropped++;
            conn_drop(old);
        }
        struct api_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(cfd);
            continue;
        }
        c->a = a;
        c->fd = cfd;
        if (ns_loop_add_fd(a->loop, cfd, EPOLLIN, on_conn, c) < 0) {
            close(cfd);
            free(c);
            continue;
        }
        c->next = a->conns;
        a->conns = c;
        a->nconns++;
    }
}

struct apisock *apisock_open(const char *path, struct ns_loop *loop, const struct apisock_ops *ops,
                             void *ctx, int *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        *err = -ENAMETOOLONG;
        return NULL;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    /* A live server answers on the path: refuse; a dead one's file: replace. */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        close(probe);
        *err = -EADDRINUSE;
        return NULL;
    }
    if (probe >= 0)
        close(probe);
    struct apisock *a = calloc(1, sizeof(*a));
    if (!a) {
        *err = -ENOMEM;
        return NULL;
    }
    memcpy(a->path, sun.sun_path, sizeof(a->path));
    a->loop = loop;
    a->ops = ops;
    a->ctx = ctx;
    unlink(path);
    a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (a->lfd < 0 || bind(a->lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(a->lfd, APISOCK_CONNS_MAX) < 0)
        rc = -errno;
    else
        rc = ns_loop_add_fd(loop, a->lfd, EPOLLIN, on_listen, a);
    if (rc < 0) {
        if (a->lfd >= 0) {
            close(a->lfd);
            unlink(path);
        }
        free(a);
        *err = rc;
        return NULL;
    }
    return a;
}

void apisock_get_stats(const struct apisock *a, struct apisock_stats *out) { *out = a->stats; }

void apisock_close(struct apisock *a)
{
    if (!a)
        return;
    while (a->conns)
        conn_drop(a->conns);
    ns_loop_del_fd(a->loop, a->lfd);
    close(a->lfd);
    unlink(a->path);
    free(a);
}
