/* tests/unit/test_apisock.c — the API socket (tools/apisock.c) in
 * slirp4netns's request shapes, over a real Unix socket driven by the
 * real-time loop, with the forward table (apisock_table_ops) behind it.
 *
 * Checked, every reply byte for byte: add_hostfwd (with and without
 * host_addr and guest_addr, IPv6 host addresses) returning ids 1, 2, ...;
 * list_hostfwd listing them in slirp4netns's fields; remove_hostfwd; a
 * duplicate refused with the conflicting forward named; every bad argument
 * (proto, addresses, ports out of range or not integers, id); malformed
 * JSON, a non-object, no execute, an unknown execute; a request of 4096
 * bytes refused; a client that never shuts down its side still answered;
 * more clients than APISOCK_CONNS_MAX at once (the oldest dropped). The
 * ops really are called through: a second ops table records the calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"

#include "../../tools/apisock.c"
#include "../../tools/apisock_table.c"
#include "../../tools/hostfwd.c"

struct world {
    struct ns_loop *loop;
    struct hostfwd_table table;
    struct apisock *api;
    char path[108];
};

static void world_up(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->loop = ns_loop_new();
    assert_non_null(w->loop);
    hostfwd_table_init(&w->table, 4);
    snprintf(w->path, sizeof(w->path), "/tmp/netsock-test-apisock-%d.sock", (int)getpid());
    int err = 0;
    w->api = apisock_open(w->path, w->loop, &apisock_table_ops, &w->table, &err);
    assert_non_null(w->api);
}

static void world_down(struct world *w)
{
    apisock_close(w->api);
    assert_int_equal(access(w->path, F_OK), -1); /* the file is removed */
    hostfwd_table_destroy(&w->table);
    ns_loop_free(w->loop);
}

static int client_connect(const struct world *w)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", w->path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/* Run the loop until fd has the whole reply (the server closes after it). */
static char *client_reply(struct world *w, int fd)
{
    static char buf[65536];
    size_t len = 0;
    struct timeval tv = {0, 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (int spins = 0; spins < 20000; spins++) {
        ns_loop_run_once(w->loop, ns_clock_now_us() + 1000);
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        /* The end: EOF, or a reset when the server closed on bytes it
         * did not read (a request too large), after the reply. */
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            close(fd);
            buf[len] = 0;
            return buf;
        }
        if (n > 0)
            len += (size_t)n;
    }
    fail_msg("no reply");
    return NULL;
}

/* One request as slirp4netns's clients send it: write, SHUT_WR, read. */
static char *ask(struct world *w, const char *req)
{
    int fd = client_connect(w);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    shutdown(fd, SHUT_WR);
    return client_reply(w, fd);
}

#define ASK(w, req, want) assert_string_equal(ask(w, req), want)

static void test_add_list_remove(void **state)
{
    (void)state;
    struct world w;
    world_up(&w);
    ASK(&w, "{\"execute\": \"list_hostfwd\"}", "{\"return\":{\"entries\":[]}}");
    ASK(&w,
        "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"tcp\", \"host_addr\": "
        "\"0.0.0.0\", \"host_port\": 8080, \"guest_addr\": \"10.0.2.100\", \"guest_port\": 80}}",
        "{\"return\":{\"id\":1}}");
    /* host_addr absent: 0.0.0.0; guest_addr absent: the default (0 here). */
    ASK(&w,
        "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"udp\",\"host_port\":5353,"
        "\"guest_port\":53}}",
        "{\"return\":{\"id\":2}}");
    ASK(&w,
        "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"::1\","
        "\"host_port\":8080,\"guest_addr\":\"\",\"guest_port\":80}}",
        "{\"return\":{\"id\":3}}");
    ASK(&w, "{\"execute\": \"list_hostfwd\"}",
        "{\"return\":{\"entries\":["
        "{\"id\":1,\"proto\":\"tcp\",\"host_addr\":\"0.0.0.0\",\"host_port\":8080,"
        "\"guest_addr\":\"10.0.2.100\",\"guest_port\":80},"
        "{\"id\":2,\"proto\":\"udp\",\"host_addr\":\"0.0.0.0\",\"host_port\":5353,"
        "\"guest_addr\":\"0.0.0.0\",\"guest_port\":53},"
        "{\"id\":3,\"proto\":\"tcp\",\"host_addr\":\"::1\",\"host_port\":8080,"
        "\"guest_addr\":\"0.0.0.0\",\"guest_port\":80}]}}");
    /* The same host port again: refused, naming forward 1. */
    ASK(&w,
        "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":"
        "\"127.0.0.1\",\"host_port\":8080,\"guest_port\":81}}",
        "{\"error\":{\"desc\":\"bad request: add_hostfwd: tcp:127.0.0.1:8080:81 conflicts with "
        "forward 1 (tcp:0.0.0.0:8080:10.0.2.100:80)\"}}");
    ASK(&w, "{\"execute\": \"remove_hostfwd\", \"arguments\": {\"id\": 1}}", "{\"return\":{}}");
    ASK(&w, "{\"execute\": \"remove_hostfwd\", \"arguments\": {\"id\": 1}}",
        "{\"error\":{\"desc\":\"bad request: remove_hostfwd: no forward with id 1\"}}");
    assert_int_equal(w.table.n, 2);
    assert_int_equal(w.table.e[0].id, 2);
    /* Table full (4): the fifth is refused with the table's message. */
    ASK(&w, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":1,"
            "\"guest_port\":1}}",
        "{\"return\":{\"id\":4}}");
    ASK(&w, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":2,"
            "\"guest_port\":1}}",
        "{\"return\":{\"id\":5}}");
    ASK(&w, "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":3,"
            "\"guest_port\":1}}",
        "{\"error\":{\"desc\":\"bad request: add_hostfwd: the forward table is full (4 "
        "forwards)\"}}");
    struct apisock_stats st;
    apisock_get_stats(w.api, &st);
    assert_int_equal(st.requests, 11);
    assert_int_equal(st.errors, 3);
    world_down(&w);
}

static void test_bad_requests(void **state)
{
    (void)state;
    struct world w;
    world_up(&w);
    static const struct {
        const char *req, *desc;
    } bad[] = {
        {"", "cannot parse JSON"},
        {"{\"execute\": \"list_hostfwd\"", "cannot parse JSON"},
        {"not json", "cannot parse JSON"},
        {"[1, 2]", "not a JSON object"},
        {"42", "not a JSON object"},
        {"{}", "no execute found"},
        {"{\"execute\": 7}", "no execute found"},
        {"{\"execute\": \"reboot\"}", "unknown execute"},
        {"{\"execute\": \"add_hostfwd\", \"arguments\": [1]}",
         "add_hostfwd: arguments is not an object"},
        {"{\"execute\": \"add_hostfwd\"}", "add_hostfwd: bad arguments.proto"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"sctp\",\"host_port\":1,"
         "\"guest_port\":1}}",
         "add_hostfwd: bad arguments.proto"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":1,\"host_port\":1,"
         "\"guest_port\":1}}",
         "add_hostfwd: bad arguments.proto"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"x\","
         "\"host_port\":1,\"guest_port\":1}}",
         "add_hostfwd: bad arguments.host_addr"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":5,"
         "\"host_port\":1,\"guest_port\":1}}",
         "add_hostfwd: bad arguments.host_addr"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"guest_port\":1}}",
         "add_hostfwd: bad arguments.host_port"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":0,"
         "\"guest_port\":1}}",
         "add_hostfwd: bad arguments.host_port"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":65536,"
         "\"guest_port\":1}}",
         "add_hostfwd: bad arguments.host_port"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":80.5,"
         "\"guest_port\":1}}",
         "add_hostfwd: bad arguments.host_port"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":\"80\","
         "\"guest_port\":1}}",
         "add_hostfwd: bad arguments.host_port"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":80,"
         "\"guest_addr\":\"::1\",\"guest_port\":1}}",
         "add_hostfwd: bad arguments.guest_addr"},
        {"{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_port\":80,"
         "\"guest_port\":-1}}",
         "add_hostfwd: bad arguments.guest_port"},
        {"{\"execute\":\"remove_hostfwd\"}", "remove_hostfwd: bad arguments.id"},
        {"{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":\"1\"}}",
         "remove_hostfwd: bad arguments.id"},
        {"{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":0}}",
         "remove_hostfwd: bad arguments.id"},
    };
    char want[512];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(want, sizeof(want), "{\"error\":{\"desc\":\"bad request: %s\"}}", bad[i].desc);
        const char *got = ask(&w, bad[i].req);
        if (strcmp(got, want))
            fail_msg("request %s: got %s, want %s", bad[i].req, got, want);
    }
    assert_int_equal(w.table.n, 0);

    /* 4096 bytes or more: refused as slirp4netns does. */
    char *big = malloc(5000);
    memset(big, ' ', 4999);
    big[4999] = 0;
    big[0] = '{';
    ASK(&w, big, "{\"error\":{\"desc\":\"bad request: too large message\"}}");
    free(big);
    struct apisock_stats st;
    apisock_get_stats(w.api, &st);
    assert_int_equal(st.too_large, 1);
    assert_int_equal(st.errors, st.requests);
    world_down(&w);
}

/* A client that sends its request and waits without shutting down (nc
 * without -N): answered once the bytes parse. Many clients at once: the
 * oldest are closed to stay within APISOCK_CONNS_MAX. */
static void test_no_shutdown_and_bound(void **state)
{
    (void)state;
    struct world w;
    world_up(&w);
    int fd = client_connect(&w);
    const char *req = "{\"execute\": \"list_hostfwd\"}";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    assert_string_equal(client_reply(&w, fd), "{\"return\":{\"entries\":[]}}");

    int idle[APISOCK_CONNS_MAX + 4];
    for (unsigned i = 0; i < APISOCK_CONNS_MAX + 4; i++) {
        idle[i] = client_connect(&w);
        assert_int_equal(write(idle[i], "{", 1), 1); /* never finished */
        for (int k = 0; k < 5; k++)
            ns_loop_run_once(w.loop, ns_clock_now_us() + 1000);
    }
    struct apisock_stats st;
    apisock_get_stats(w.api, &st);
    assert_int_equal(st.conns_dropped, 4);
    /* The oldest four see EOF; a new request is still served. */
    char c;
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(recv(idle[i], &c, 1, MSG_DONTWAIT), 0);
    ASK(&w, req, "{\"return\":{\"entries\":[]}}");
    for (unsigned i = 0; i < APISOCK_CONNS_MAX + 4; i++)
        close(idle[i]);
    world_down(&w);
}

/* The requests go through the ops given, not to a table directly. */
struct rec {
    char last[128];
    int calls;
};

static int rec_add(void *ctx, const struct hostfwd *f, char *err, size_t errlen)
{
    struct rec *r = ctx;
    r->calls++;
    hostfwd_format(f, r->last, sizeof(r->last));
    if (f->host_port == 1) {
        snprintf(err, errlen, "cannot listen on port 1: Permission denied");
        return -EACCES;
    }
    return 41 + r->calls;
}

static int rec_remove(void *ctx, unsigned id, char *err, size_t errlen)
{
    struct rec *r = ctx;
    (void)err, (void)errlen;
    r->calls++;
    snprintf(r->last, sizeof(r->last), "remove %u", id);
    return 0;
}

static void rec_list(void *ctx, void (*each)(void *arg, const struct hostfwd *f), void *arg)
{
    struct rec *r = ctx;
    r->calls++;
    struct hostfwd f = {.id = 9, .proto = IPPROTO_UDP, .host_family = AF_INET, .host_port = 7,
                        .guest_port = 8};
    each(arg, &f);
}

static void test_ops_called(void **state)
{
    (void)state;
    static const struct apisock_ops ops = {.add = rec_add, .remove = rec_remove, .list = rec_list};
    struct rec r = {0};
    char *out = apisock_handle(&ops, &r,
                               "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
                               "\"host_addr\":\"192.0.2.1\",\"host_port\":8080,\"guest_addr\":"
                               "\"192.0.2.100\",\"guest_port\":80}}",
                               strlen("{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":"
                                      "\"tcp\",\"host_addr\":\"192.0.2.1\",\"host_port\":8080,"
                                      "\"guest_addr\":\"192.0.2.100\",\"guest_port\":80}}"));
    assert_string_equal(out, "{\"return\":{\"id\":42}}");
    assert_string_equal(r.last, "tcp:192.0.2.1:8080:192.0.2.100:80");
    free(out);
    const char *req = "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\","
                      "\"host_port\":1,\"guest_port\":80}}";
    out = apisock_handle(&ops, &r, req, strlen(req));
    assert_string_equal(out, "{\"error\":{\"desc\":\"bad request: add_hostfwd: cannot listen on "
                             "port 1: Permission denied\"}}");
    free(out);
    req = "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":42}}";
    out = apisock_handle(&ops, &r, req, strlen(req));
    assert_string_equal(out, "{\"return\":{}}");
    assert_string_equal(r.last, "remove 42");
    free(out);
    req = "{\"execute\":\"list_hostfwd\"}";
    out = apisock_handle(&ops, &r, req, strlen(req));
    assert_string_equal(out, "{\"return\":{\"entries\":[{\"id\":9,\"proto\":\"udp\",\"host_addr\":"
                             "\"0.0.0.0\",\"host_port\":7,\"guest_addr\":\"0.0.0.0\","
                             "\"guest_port\":8}]}}");
    free(out);
    assert_int_equal(r.calls, 4);
    /* The request need not be terminated: only len bytes are read. */
    char buf[64];
    memcpy(buf, "{\"execute\":\"list_hostfwd\"}XXXX", 30);
    out = apisock_handle(&ops, &r, buf, 26);
    assert_string_equal(out, "{\"return\":{\"entries\":[{\"id\":9,\"proto\":\"udp\",\"host_addr\":"
                             "\"0.0.0.0\",\"host_port\":7,\"guest_addr\":\"0.0.0.0\","
                             "\"guest_port\":8}]}}");
    free(out);
}

static void test_path_in_use(void **state)
{
    (void)state;
    struct world w;
    world_up(&w);
    int err = 0;
    struct hostfwd_table t2;
    hostfwd_table_init(&t2, 1);
    assert_null(apisock_open(w.path, w.loop, &apisock_table_ops, &t2, &err));
    assert_int_equal(err, -EADDRINUSE);
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = 0;
    assert_null(apisock_open(longp, w.loop, &apisock_table_ops, &t2, &err));
    assert_int_equal(err, -ENAMETOOLONG);
    world_down(&w);
    /* A file left behind by a dead server is replaced. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", w.path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    world_up(&w);
    ASK(&w, "{\"execute\":\"list_hostfwd\"}", "{\"return\":{\"entries\":[]}}");
    world_down(&w);
    hostfwd_table_destroy(&t2);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_list_remove),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_no_shutdown_and_bound),
        cmocka_unit_test(test_ops_called),
        cmocka_unit_test(test_path_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
