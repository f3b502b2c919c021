/* bench/bench_threads.c — do stacks on several threads scale? 1-byte TCP
 * request/response over loopback, one connection per thread, with one
 * thread and then with two, each on a stack of its own (netsock) or on
 * the kernel's loopback (Linux), and the rate with two over the rate with
 * one: 2.0 when two threads do twice the work (no state shared between
 * the stacks, nothing serialising them), 1.0 when they only share it.
 *
 * netsock: each thread has its own stack on its own ns_loop (so the
 * stack lock is taken, docs/architecture.md "Threads") and makes blocking
 * calls, which drive that loop on the calling thread. Linux: each thread
 * has its own pair of loopback sockets and makes blocking calls.
 *
 * Each configuration runs for SECONDS (default 2), in alternating rounds
 * (netsock 1, 2, Linux 1, 2, twice) so a burst of load from elsewhere hits
 * both. Prints one ROW (bench_util.h): requests per second with 1 and 2
 * threads, and the ratio 2/1, for each side.
 *
 * Usage: bench_threads [SECONDS]
 */
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "netsock/os.h"

#define MAX_THREADS 2

struct worker {
    bool kernel;
    atomic_bool *stop;
    _Atomic uint64_t rounds; /* read by the measuring thread */
    bool failed;
};

/* netsock: a stack on a loop of its own; connect, accept, then round trips. */
static void *ns_worker(void *arg)
{
    struct worker *w = arg;
    struct ns_stack *st = ns_stack_new(NULL, ns_clock_now_us());
    struct ns_loop *loop = ns_loop_new();
    if (!st || !loop || ns_loop_add(loop, st) != 0) {
        w->failed = true;
        return NULL;
    }
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5100)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int l = ns_socket(st, AF_INET, SOCK_STREAM, 0);
    int c = ns_socket(st, AF_INET, SOCK_STREAM, 0);
    if (ns_bind(st, l, (struct sockaddr *)&a, sizeof(a)) || ns_listen(st, l, 1) ||
        ns_connect(st, c, (struct sockaddr *)&a, sizeof(a))) {
        w->failed = true;
        return NULL;
    }
    int s = ns_accept(st, l, NULL, NULL);
    ns_setsockopt(st, c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ns_setsockopt(st, s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char b;
    while (!atomic_load(w->stop)) {
        if (ns_send(st, c, "q", 1, 0) != 1 || ns_recv(st, s, &b, 1, 0) != 1 ||
            ns_send(st, s, "a", 1, 0) != 1 || ns_recv(st, c, &b, 1, 0) != 1) {
            w->failed = true;
            break;
        }
        atomic_store_explicit(&w->rounds, atomic_load_explicit(&w->rounds, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    }
    ns_close(st, c);
    ns_close(st, s);
    ns_close(st, l);
    ns_stack_free(st);
    ns_loop_free(loop);
    return NULL;
}

/* Linux: a loopback pair of this thread's own. */
static void *lx_worker(void *arg)
{
    struct worker *w = arg;
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len) ||
        connect(c, (struct sockaddr *)&a, sizeof(a))) {
        w->failed = true;
        return NULL;
    }
    int s = accept(l, NULL, NULL);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char b;
    while (!atomic_load(w->stop)) {
        if (send(c, "q", 1, 0) != 1 || recv(s, &b, 1, 0) != 1 || send(s, "a", 1, 0) != 1 ||
            recv(c, &b, 1, 0) != 1) {
            w->failed = true;
            break;
        }
        atomic_store_explicit(&w->rounds, atomic_load_explicit(&w->rounds, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    }
    close(c);
    close(s);
    close(l);
    return NULL;
}

/* Round trips per second of n threads together, over `seconds`; < 0 on failure. */
static double run(bool kernel, int n, double seconds)
{
    atomic_bool stop = false;
    struct worker w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < n; i++) {
        w[i] = (struct worker){.kernel = kernel, .stop = &stop};
        if (pthread_create(&t[i], NULL, kernel ? lx_worker : ns_worker, &w[i]) != 0)
            return -1;
    }
    /* The set-up (a connection per thread) is not measured: the counts
     * are taken over the window alone. */
    usleep(100000);
    uint64_t before = 0, after = 0;
    for (int i = 0; i < n; i++)
        before += atomic_load_explicit(&w[i].rounds, memory_order_relaxed);
    uint64_t t0 = bench_now_ns();
    usleep((useconds_t)(seconds * 1e6));
    for (int i = 0; i < n; i++)
        after += atomic_load_explicit(&w[i].rounds, memory_order_relaxed);
    uint64_t t1 = bench_now_ns();
    atomic_store(&stop, true);
    bool failed = false;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        failed |= w[i].failed;
    }
    return failed ? -1 : (double)(after - before) / ((double)(t1 - t0) / 1e9);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    double per = seconds / 2; /* two rounds of each configuration */
    double rate[2][2] = {{0}}; /* [kernel][threads - 1] */
    bool failed[2] = {false, false};
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 2; k++)
            for (int n = 1; n <= 2; n++) {
                double r = run(k, n, per);
                if (r < 0)
                    failed[k] = true;
                rate[k][n - 1] += r / 2;
            }
    char vals[2][128];
    for (int k = 0; k < 2; k++) {
        if (failed[k])
            snprintf(vals[k], sizeof(vals[k]), "-,-,-");
        else
            snprintf(vals[k], sizeof(vals[k]), "%.0f,%.0f,%.2f", rate[k][0], rate[k][1],
                     rate[k][1] / rate[k][0]);
        fprintf(stderr, "bench_threads %s: 1 thread %.0f/s, 2 threads %.0f/s\n",
                k ? "linux" : "netsock", rate[k][0], rate[k][1]);
    }
    bench_row("stacks_2_threads", "TCP RR 1 B over loopback, 2 stacks on 2 threads vs 1 (scaling)",
              "higher", "rr_per_s_1_thread,rr_per_s_2_threads,ratio_2_over_1", vals[0], vals[1]);
    return failed[0] || failed[1];
}
