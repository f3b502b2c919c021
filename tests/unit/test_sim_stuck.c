/* tests/unit/test_sim_stuck.c — the simulator's "no progress" path: a
 * device that always reports work due now but never delivers any (as one
 * with an exhausted pool would) must not spin the loop forever, and the
 * library must say so only through the host's log hook, never on the
 * process's stderr (library code does not print).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "testutil.h"

/* A device with work always due (deadline 0) and nothing to give. */
static int stuck_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    (void)now_us;
    return ns_dev_tx_done(dev, pb, pb->len, 0);
}
static struct ns_pbuf *stuck_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    (void)dev, (void)pool, (void)now_us;
    return NULL;
}
static uint64_t stuck_deadline(struct ns_dev *dev)
{
    (void)dev;
    return 0;
}
static void stuck_close(struct ns_dev *dev) { free(dev); }
static const struct ns_dev_ops stuck_ops = {
    .xmit = stuck_xmit, .recv = stuck_recv, .next_deadline = stuck_deadline, .close = stuck_close};

struct log_rec {
    unsigned lines, no_progress;
    int level;
    char host[32], last[256];
};

static void on_log(void *ctx, const char *stack_name, int level, uint64_t now_us, const char *msg)
{
    (void)now_us;
    struct log_rec *r = ctx;
    r->lines++;
    if (strstr(msg, "no progress")) {
        r->no_progress++;
        r->level = level;
        snprintf(r->host, sizeof(r->host), "%s", stack_name);
        snprintf(r->last, sizeof(r->last), "%s", msg);
    }
}

static void test_no_progress_goes_to_the_log_hook(void **state)
{
    (void)state;
    struct log_rec rec = {0};
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.log_fn = on_log;
    cfg.log_ctx = &rec;
    cfg.log_level = NS_LOG_WARN;

    struct ns_sim *sim = ns_sim_new(1);
    assert_non_null(sim);
    struct ns_stack *quiet = ns_sim_add_host(sim, "quiet", &cfg);
    struct ns_stack *stuck = ns_sim_add_host(sim, "stuck", &cfg);
    assert_non_null(quiet);
    assert_non_null(stuck);
    struct ns_dev *dev = calloc(1, sizeof(*dev));
    assert_non_null(dev);
    dev->ops = &stuck_ops;
    snprintf(dev->name, sizeof(dev->name), "stuck0");
    dev->link = NS_LINK_IP;
    dev->mtu = 1500;
    assert_true(ns_if_add(stuck, dev) > 0);

    /* Everything the library might write to stderr lands in a file. */
    fflush(stderr);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(cap), 2) >= 0);

    /* Each nudge moves time by 1 us after 100000 steps that could not. */
    uint64_t t0 = ns_sim_now(sim);
    unsigned steps = 0;
    while (ns_sim_now(sim) < t0 + 2 && steps < 1000000 && ns_sim_step(sim, t0 + 10))
        steps++;

    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    long printed = ftell(cap);
    assert_true(printed >= 0);
    char buf[512] = "";
    rewind(cap);
    size_t n = fread(buf, 1, sizeof(buf) - 1, cap);
    buf[n] = '\0';
    fclose(cap);

    if (printed != 0)
        fail_msg("the library printed to stderr: %s", buf);
    assert_true(ns_sim_now(sim) >= t0 + 2); /* time was nudged, the loop did not spin */
    assert_int_equal(rec.no_progress, 2);   /* once per nudge */
    assert_int_equal(rec.level, NS_LOG_WARN);
    assert_string_equal(rec.host, "stuck"); /* the host whose device is stuck */
    assert_non_null(strstr(rec.last, "advancing 1 us"));
    ns_sim_free(sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_progress_goes_to_the_log_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
