/* tools/run.c — `netsock run`: an unmodified program on netsock.
 *
 *   netsock run --link tap:ns0 --addr 192.0.2.2/24 --gw 192.0.2.1 -- curl http://192.0.2.1/
 *
 * This process is the stack process: it runs the netsock stack over the
 * link (one thread, the real-time loop), serves the program's sockets
 * (run_stack.c) and starts PROGRAM with the interposition library
 * (preload/) in LD_PRELOAD, which turns the program's socket calls into
 * requests to us and its sockets into kernel socket pairs we hold the
 * other end of. Children and exec'd programs inherit both. The exit
 * status is the program's (128 + N when signal N killed it, as the
 * shell reports it). docs/run.md has the design.
 *
 * When the program is gone and no process holds a netsock socket any
 * more, what TCP still has to send is given up to --drain seconds to be
 * acknowledged (close on Linux goes on sending after the process exits;
 * a process that exits has to wait for that here), then we exit.
 *
 * Signals: SIGTERM and SIGHUP are passed on to the program (netsock run
 * is what a supervisor signals); SIGINT and SIGQUIT come from the
 * terminal to the whole process group, so the program has them already
 * and we only keep running until it exits, as a shell does. Once the
 * program is gone, any of them ends the drain.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "link.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "run_proto.h"
#include "run_stack.h"
#include "tools.h"

#ifndef NS_PRELOAD_PATH
#define NS_PRELOAD_PATH "/usr/local/lib/netsock/libnetsock-preload.so"
#endif
#define RUN_PRELOAD_NAME "libnetsock-preload.so"
#define RUN_ADDR_MAX 8
#define RUN_DRAIN_DEFAULT_S 10

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock run --link tap:NAME|tun:NAME|packet:IFNAME --addr A.B.C.D/N [options]\n"
            "                   -- PROGRAM [ARGS...]\n"
            "\n"
            "Run PROGRAM (and whatever it starts) with netsock as its network stack: its\n"
            "AF_INET and AF_INET6 sockets are netsock's, on the given link; AF_UNIX and\n"
            "AF_NETLINK sockets stay the kernel's. The exit status is PROGRAM's.\n"
            "\n"
            "  --drain SECONDS    after the program is gone, how long TCP may still take\n"
            "                     to have its last data acknowledged (default %d)\n"
            "  -q, --quiet        print nothing but errors\n"
            "  -h, --help         this text\n"
            "%s"
            "  --addr may be given up to %d times with IPv4 addresses and %d times with\n"
            "  IPv6 prefixes (2001:db8::2/64); the first IPv4 one is required.\n"
            "\n"
            "'netsock stat' shows the stack's sockets, as for 'netsock host'.\n",
            RUN_DRAIN_DEFAULT_S, link_usage(), RUN_ADDR_MAX, LINK_ADDR6_MAX);
}

/* ---- signals: a self-pipe on the loop ---- */

static int sig_pipe_w = -1;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe_w, &b, 1) < 0) {
        /* full: a signal is pending already */
    }
    errno = saved;
}

struct run_state {
    struct ns_stack *st;
    pid_t child;
    int pidfd;
    bool child_done;
    int status;    /* wait status */
    bool stop;     /* a signal after the program was gone */
    int sig_pipe_r;
};

static void on_sig_pipe(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct run_state *rs = ctx;
    unsigned char b[64];
    ssize_t n;
    while ((n = read(fd, b, sizeof(b))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            int sig = b[i];
            if (rs->child_done)
                rs->stop = true;
            else if (sig == SIGTERM || sig == SIGHUP)
                kill(rs->child, sig);
        }
    }
}

static void on_child(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    struct run_state *rs = ctx;
    int status;
    if (waitpid(rs->child, &status, WNOHANG) == rs->child) {
        rs->child_done = true;
        rs->status = status;
    }
}

/* ---- starting the program ---- */

/* Where the interposition library is: $NETSOCK_PRELOAD, beside this
 * executable (the build tree), or where `make install` puts it. */
static int find_preload(char *out, size_t n)
{
    const char *env = getenv("NETSOCK_PRELOAD");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            if (snprintf(out, n, "%s/%s", exe, RUN_PRELOAD_NAME) < (int)n && access(out, R_OK) == 0)
                return 0;
        }
    }
    snprintf(out, n, "%s", NS_PRELOAD_PATH);
    return access(out, R_OK) == 0 ? 0 : -1;
}

/* Mark every descriptor opened since `inherited` was taken close-on-exec:
 * the program gets what we were given (stdin, stdout, stderr, whatever
 * the caller passed on), never the TAP device or our sockets. */
static void cloexec_ours(const bool *inherited, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || fd < 0 || fd == dirfd(d))
            continue;
        if (fd < max && inherited[fd])
            continue;
        int fl = fcntl((int)fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
            fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
    }
    closedir(d);
}

/* The descriptors open now (before we open anything). */
static void note_inherited(bool *inherited, int max)
{
    for (int fd = 0; fd < max; fd++)
        inherited[fd] = fcntl(fd, F_GETFD) >= 0;
}

static int spawn(char **argv, const char *preload, const char *ctl, const sigset_t *mask,
                 const struct rlimit *nofile, pid_t *out)
{
    /* LD_PRELOAD: ours first, then what the caller had. */
    const char *old = getenv("LD_PRELOAD");
    size_t len = strlen(preload) + (old && *old ? strlen(old) + 1 : 0) + 1;
    char *pre = malloc(len);
    if (!pre)
        return -ENOMEM;
    snprintf(pre, len, "%s%s%s", preload, old && *old ? ":" : "", old && *old ? old : "");
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        free(pre);
        return -e;
    }
    if (pid == 0) {
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            signal(sigs[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, mask, NULL);
        setrlimit(RLIMIT_NOFILE, nofile);
        setenv("LD_PRELOAD", pre, 1);
        setenv(RUN_ENV_CTL, ctl, 1);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, "netsock run: %s: %s\n", argv[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    free(pre);
    *out = pid;
    return 0;
}

/* --addr given again: one more IPv4 address on the interface. */
static int add_address(struct link_host *h, const char *spec)
{
    char buf[64];
    const char *slash = strchr(spec, '/');
    if (!slash || (size_t)(slash - spec) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, spec, (size_t)(slash - spec));
    buf[slash - spec] = 0;
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -EINVAL;
    return ns_if_addr_add(h->st, h->ifindex, AF_INET, &a, (unsigned)atoi(slash + 1));
}

int tool_run(int argc, char **argv)
{
    static const char *const prog = "netsock run";
    static const char shortopts[] = "+:qh";
    enum { OPT_DRAIN = 0x100 };
    static const struct option longopts[] = {
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        LINK_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct link_opts lo = {0};
    const char *addrs[RUN_ADDR_MAX];
    int n_addrs = 0;
    double drain_s = RUN_DRAIN_DEFAULT_S;
    bool quiet = false;
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == LINK_OPT_ADDR && !strchr(optarg, ':')) {
            /* IPv4: several (link_opt keeps one); IPv6 prefixes: link_opt's. */
            if (n_addrs == RUN_ADDR_MAX)
                return cli_usage_error(prog, "--addr given more than %d times", RUN_ADDR_MAX);
            struct link_opts tmp = {0};
            if (link_opt(&tmp, prog, c, optarg) < 0)
                return CLI_EXIT_USAGE;
            addrs[n_addrs++] = optarg;
            if (!lo.addr)
                lo.addr = optarg;
            continue;
        }
        int r = link_opt(&lo, prog, c, optarg);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case OPT_DRAIN:
            if (cli_num(prog, "--drain", optarg, 0, 3600, "seconds", &drain_s) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(prog, c, argv, shortopts);
        }
    }
    if (optind >= argc)
        return cli_usage_error(prog, "no program to run (netsock run [options] -- PROGRAM [ARGS...])");
    if (link_opts_check(&lo, prog) < 0)
        return CLI_EXIT_USAGE;
    if (!lo.name) {
        const char *ifname = link_ifname(&lo);
        lo.name = ifname && ctl_name_ok(ifname) ? ifname : "netsock";
    }
    char preload[PATH_MAX];
    if (find_preload(preload, sizeof(preload)) < 0) {
        fprintf(stderr, "%s: cannot find %s (looked at $NETSOCK_PRELOAD, beside the netsock "
                        "binary and in %s)\n", prog, RUN_PRELOAD_NAME, NS_PRELOAD_PATH);
        return CLI_EXIT_FAIL;
    }

    /* What the program is to get: the descriptors, the signal mask and
     * the descriptor limit we were started with. */
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    int max_inherit = nofile.rlim_cur < 65536 ? (int)nofile.rlim_cur : 65536;
    bool *inherited = calloc((size_t)max_inherit, 1);
    if (!inherited)
        return CLI_EXIT_FAIL;
    note_inherited(inherited, max_inherit);
    sigset_t orig_mask;
    sigprocmask(SIG_SETMASK, NULL, &orig_mask);
    /* Every socket is a descriptor here: as many as the hard limit allows. */
    struct rlimit more = {nofile.rlim_max, nofile.rlim_max};
    setrlimit(RLIMIT_NOFILE, &more);

    struct link_host h;
    if (link_host_open(&h, &lo) < 0) {
        free(inherited);
        return CLI_EXIT_FAIL;
    }
    int rc = CLI_EXIT_FAIL;
    struct run_stack *srv = NULL;
    struct ctl_server *ctl = NULL;
    struct run_state rst = {.st = h.st, .pidfd = -1, .sig_pipe_r = -1};
    for (int i = 1; i < n_addrs; i++) {
        int r = add_address(&h, addrs[i]);
        if (r < 0) {
            fprintf(stderr, "%s: --addr %s: %s\n", prog, addrs[i], strerror(-r));
            goto out;
        }
    }
    /* link_host_open had the loop catch SIGINT and SIGTERM (it would stop
     * for good); we want them ourselves, as the self-pipe below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    int pfds[2];
    if (pipe2(pfds, O_NONBLOCK | O_CLOEXEC) < 0) {
        perror(prog);
        goto out;
    }
    rst.sig_pipe_r = pfds[0];
    sig_pipe_w = pfds[1];
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    static const int caught[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
        sigaction(caught[i], &sa, NULL);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN); /* our sends say MSG_NOSIGNAL; writes to a pcap or stderr may not */
    ns_loop_add_fd(h.loop, rst.sig_pipe_r, EPOLLIN, on_sig_pipe, &rst);

    int err = 0;
    srv = run_stack_new(h.st, h.loop, &err);
    if (!srv) {
        fprintf(stderr, "%s: cannot serve sockets: %s\n", prog, strerror(-err));
        goto out;
    }
    if (ctl_server_open(&ctl, lo.name, h.loop, h.st, NULL) < 0)
        goto out;

    cloexec_ours(inherited, max_inherit);
    if (lo.n_addr6)
        setenv(RUN_ENV_INET6, "1", 1); /* getaddrinfo asks for AAAA records too */
    else
        unsetenv(RUN_ENV_INET6);
    err = spawn(argv + optind, preload, run_stack_ctl_name(srv), &orig_mask, &nofile, &rst.child);
    if (err < 0) {
        fprintf(stderr, "%s: cannot start %s: %s\n", prog, argv[optind], strerror(-err));
        goto out;
    }
    rst.pidfd = pidfd_open(rst.child, 0);
    if (rst.pidfd < 0 || ns_loop_add_fd(h.loop, rst.pidfd, EPOLLIN, on_child, &rst) < 0) {
        fprintf(stderr, "%s: cannot watch the program: %s\n", prog, strerror(errno));
        kill(rst.child, SIGKILL);
        waitpid(rst.child, NULL, 0);
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "netsock run %s: %s on %s, pid %ld: %s\n", lo.name, lo.addr, lo.link,
                (long)rst.child, argv[optind]);

    uint64_t drain_until = 0;
    for (;;) {
        bool busy = run_stack_pump(srv);
        uint64_t now = ns_clock_now_us();
        if (rst.child_done && !drain_until && run_stack_busy(srv) == 0)
            drain_until = now + (uint64_t)(drain_s * 1e6);
        if (drain_until) {
            struct ns_stack_usage u;
            ns_stack_usage(h.st, &u);
            if (u.tcp_snd_bytes == 0 || now >= drain_until)
                break;
        }
        if (rst.stop)
            break;
        uint64_t deadline = busy ? now : run_stack_deadline(srv);
        if (drain_until && deadline > now + 10000)
            deadline = now + 10000; /* look at TCP's send rings every 10 ms */
        if (ns_loop_run_once(h.loop, deadline) == -EINTR && ns_loop_stopped(h.loop))
            break;
    }
    if (!rst.child_done) {
        /* Stopped before the program exited (a signal after... cannot
         * happen: only a gone program lets us stop). Collect it. */
        kill(rst.child, SIGKILL);
        waitpid(rst.child, &rst.status, 0);
    }
    rc = WIFEXITED(rst.status) ? WEXITSTATUS(rst.status)
         : WIFSIGNALED(rst.status) ? 128 + WTERMSIG(rst.status)
                                   : CLI_EXIT_FAIL;
    if (lo.verbose) {
        struct run_stack_stats s;
        run_stack_get_stats(srv, &s);
        fprintf(stderr,
                "netsock run %s: program exited (status %d); %llu sockets, %llu requests, "
                "%llu bytes sent, %llu received, %llu/%llu datagrams out/in\n",
                lo.name, rc, (unsigned long long)s.sockets, (unsigned long long)s.requests,
                (unsigned long long)s.bytes_to_net, (unsigned long long)s.bytes_to_prog,
                (unsigned long long)s.dgrams_to_net, (unsigned long long)s.dgrams_to_prog);
        link_print_counters(h.st, stderr);
    }

out:
    if (ctl)
        ctl_server_close(ctl);
    run_stack_free(srv);
    if (rst.pidfd >= 0) {
        ns_loop_del_fd(h.loop, rst.pidfd);
        close(rst.pidfd);
    }
    if (rst.sig_pipe_r >= 0) {
        ns_loop_del_fd(h.loop, rst.sig_pipe_r);
        close(rst.sig_pipe_r);
        close(sig_pipe_w);
        sig_pipe_w = -1;
    }
    ns_stack_poll(h.st, ns_clock_now_us()); /* the last FINs and RSTs out */
    link_host_close(&h);
    free(inherited);
    return rc;
}
