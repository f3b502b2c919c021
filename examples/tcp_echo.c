/* examples/tcp_echo.c — a TCP echo server and its client on two simulated
 * hosts:
 *
 *     client 192.0.2.1 ─── 10 ms, 10 Mbit/s, 10% loss each way ─── server 192.0.2.2:7
 *
 * The client is written as any BSD sockets client is: a blocking connect,
 * then send a message and recv until the whole echo is back, for each
 * message. The server is event-driven: a non-blocking listening socket,
 * non-blocking connections and ns_poll. Both run in this one thread, on
 * virtual time, so the run is the same for the same seed.
 *
 * How the two take turns: a blocking call on the client's stack calls the
 * stack's *driver* (ns_stack_set_driver) until it can complete. The driver
 * installed here first lets the server handle whatever is ready on its
 * sockets, then advances the simulation by one event (a frame arriving, a
 * timer firing). Without it the server's application code would not run
 * while the client waits (the simulator's own driver only moves the
 * stacks).
 *
 * Build: `make` (build/examples/tcp_echo), or against an installed netsock:
 *   cc -o tcp_echo tcp_echo.c $(pkg-config --cflags --libs netsock)
 * Run:   build/examples/tcp_echo [seed]     (default 4: a seed that loses frames)
 * Exit status 0 when every echo came back intact, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netsock/netsock.h>
#include <netsock/sim.h>
#include <netsock/socket.h>

#define ECHO_PORT 7
#define MAX_CONNS 8

/* The server: a listening socket and up to MAX_CONNS connections, each
 * with the bytes it still has to send back. */
struct server {
    struct ns_stack *st;
    int lfd;
    struct conn {
        int fd;              /* -1: free slot */
        char pending[4096];  /* received, not yet echoed */
        size_t len;
    } conns[MAX_CONNS];
    unsigned accepted;
    uint64_t echoed;
};

struct world {
    struct ns_sim *sim;
    struct server srv;
};

static void server_close(struct server *s, struct conn *c)
{
    ns_close(s->st, c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Send what connection c still owes the client, as far as its send
 * buffer takes it. */
static void server_flush(struct server *s, struct conn *c)
{
    ssize_t n = ns_send(s->st, c->fd, c->pending, c->len, 0);
    if (n > 0) {
        memmove(c->pending, c->pending + n, c->len - (size_t)n);
        c->len -= (size_t)n;
        s->echoed += (uint64_t)n;
    } else if (errno != EAGAIN) {
        server_close(s, c);
    }
}

/* One pass over the server's sockets: accept, read, echo. Never blocks.
 * Returns the number of sockets that had something to do. */
static int server_poll(struct server *s)
{
    struct pollfd pfd[1 + MAX_CONNS];
    pfd[0] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
    for (int i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &s->conns[i];
        /* Negative descriptors are skipped, as by poll(2). */
        pfd[1 + i] = (struct pollfd){.fd = c->fd, .events = c->len ? POLLOUT : POLLIN};
    }
    int ready = ns_poll(s->st, pfd, 1 + MAX_CONNS, 0);
    if (ready <= 0)
        return 0;
    if (pfd[0].revents & POLLIN) {
        int fd = ns_accept4(s->st, s->lfd, NULL, NULL, SOCK_NONBLOCK);
        for (int i = 0; fd >= 0 && i < MAX_CONNS; i++) {
            if (s->conns[i].fd < 0) {
                s->conns[i].fd = fd;
                s->accepted++;
                fd = -1;
            }
        }
        if (fd >= 0)
            ns_close(s->st, fd); /* full: refuse */
    }
    for (int i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &s->conns[i];
        short ev = pfd[1 + i].revents;
        if (c->fd < 0 || !ev)
            continue;
        if (c->len == 0) {
            ssize_t n = ns_recv(s->st, c->fd, c->pending, sizeof(c->pending), 0);
            if (n > 0) {
                c->len = (size_t)n;
                server_flush(s, c); /* echo at once, not at the next event */
            } else if (n == 0 || errno != EAGAIN) {
                server_close(s, c); /* the client closed (or reset) */
            }
        } else {
            server_flush(s, c);
        }
    }
    return ready;
}

/* The client's driver: serve the server, then one step of the simulation
 * (or a jump to the call's deadline when nothing happens before it). */
static int client_drive(void *ctx, uint64_t deadline_us)
{
    struct world *w = ctx;
    if (server_poll(&w->srv) > 0)
        return 0; /* the client's call looks again before time moves */
    if (ns_sim_step(w->sim, deadline_us))
        return 0;
    if (deadline_us == NS_TIME_NEVER)
        return -EDEADLK; /* nothing pending anywhere: it would wait forever */
    ns_sim_run_until(w->sim, deadline_us);
    return 0;
}

static struct ns_stack *add_host(struct ns_sim *sim, const char *name)
{
    struct ns_stack *st = ns_sim_add_host(sim, name, NULL);
    if (!st) {
        fprintf(stderr, "tcp_echo: cannot create host %s\n", name);
        exit(1);
    }
    return st;
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 4;
    static const char *messages[] = {
        "hello, server",
        "TCP retransmits what the 10% loss takes away",
        "every byte comes back once and in order",
        "bye",
    };
    const unsigned nmsg = sizeof(messages) / sizeof(messages[0]);

    struct world w = {.sim = ns_sim_new(seed)};
    if (!w.sim)
        return 1;
    struct ns_stack *cli = add_host(w.sim, "client");
    w.srv.st = add_host(w.sim, "server");
    struct ns_link_params link;
    ns_link_params_default(&link);
    link.delay_us = 10000;
    link.rate_bps = 10000000;
    link.loss = 0.1;
    int ic, is;
    struct ns_simlink *wire = ns_sim_connect(w.sim, cli, w.srv.st, &link, &ic, &is);
    if (!wire) {
        fprintf(stderr, "tcp_echo: cannot create the link\n");
        return 1;
    }
    struct in_addr cli_ip, srv_ip;
    inet_pton(AF_INET, "192.0.2.1", &cli_ip);
    inet_pton(AF_INET, "192.0.2.2", &srv_ip);
    ns_if_addr_add(cli, ic, AF_INET, &cli_ip, 24);
    ns_if_addr_add(w.srv.st, is, AF_INET, &srv_ip, 24);

    /* The server listens. */
    for (int i = 0; i < MAX_CONNS; i++)
        w.srv.conns[i].fd = -1;
    w.srv.lfd = ns_socket(w.srv.st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(ECHO_PORT)};
    if (w.srv.lfd < 0 || ns_bind(w.srv.st, w.srv.lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        ns_listen(w.srv.st, w.srv.lfd, 16) < 0) {
        perror("tcp_echo: server");
        return 1;
    }
    printf("server: listening on 192.0.2.2:%d\n", ECHO_PORT);

    /* The client: ordinary blocking calls. */
    ns_stack_set_driver(cli, client_drive, &w);
    int fd = ns_socket(cli, AF_INET, SOCK_STREAM, 0);
    sin.sin_addr = srv_ip;
    if (fd < 0 || ns_connect(cli, fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        perror("tcp_echo: connect");
        return 1;
    }
    printf("client: connected at t=%.3f ms\n", (double)ns_sim_now(w.sim) / 1000.0);

    unsigned ok = 0;
    for (unsigned i = 0; i < nmsg; i++) {
        size_t len = strlen(messages[i]);
        char back[256];
        uint64_t t0 = ns_sim_now(w.sim);
        if (ns_send(cli, fd, messages[i], len, 0) != (ssize_t)len) {
            perror("tcp_echo: send");
            break;
        }
        /* MSG_WAITALL: wait until all len bytes are back (a stream has no
         * message boundaries: the echo may come in pieces). */
        ssize_t n = ns_recv(cli, fd, back, len, MSG_WAITALL);
        if (n != (ssize_t)len || memcmp(back, messages[i], len) != 0) {
            fprintf(stderr, "tcp_echo: echo %u: got %zd bytes, want %zu\n", i + 1, n, len);
            break;
        }
        printf("client: echo %u of %u, %zu bytes, after %.3f ms: \"%.*s\"\n", i + 1, nmsg, len,
               (double)(ns_sim_now(w.sim) - t0) / 1000.0, (int)n, back);
        ok++;
    }
    ns_close(cli, fd); /* FIN; the server sees end of file and closes too */
    for (int i = 0; i < 100 && w.srv.conns[0].fd >= 0; i++)
        client_drive(&w, ns_sim_now(w.sim) + 100000);

    struct ns_impair_stats to_srv, to_cli;
    ns_simlink_stats(wire, 0, &to_srv);
    ns_simlink_stats(wire, 1, &to_cli);
    printf("server: %u connection, %" PRIu64 " bytes echoed, connection closed: %s\n",
           w.srv.accepted, w.srv.echoed, w.srv.conns[0].fd < 0 ? "yes" : "no");
    printf("link: %" PRIu64 " of %" PRIu64 " frames lost; the client retransmitted %" PRIu64
           ", the server %" PRIu64 "\n",
           to_srv.lost + to_cli.lost, to_srv.frames + to_cli.frames,
           ns_stack_counter(cli, NS_CTR_tcp_retrans_segs),
           ns_stack_counter(w.srv.st, NS_CTR_tcp_retrans_segs));
    printf("%s: %u of %u echoes intact (seed %" PRIu64 ")\n", ok == nmsg ? "PASS" : "FAIL", ok,
           nmsg, seed);
    ns_close(w.srv.st, w.srv.lfd);
    ns_sim_free(w.sim);
    return ok == nmsg ? 0 : 1;
}
