/* tests/unit/test_impair_spec.c — ns_link_params_parse: the --impair
 * grammar. Valid specs with every key and unit, keys left alone, the
 * reorder hold-back default, and errors that name what is wrong without
 * changing the output. */
#include <errno.h>
#include <string.h>

#include "testutil.h"

#include "netsock/dev.h"

static struct ns_link_params parse_ok(const char *spec, uint64_t *seed)
{
    struct ns_link_params p;
    ns_link_params_default(&p);
    char err[256];
    int rc = ns_link_params_parse(spec, &p, seed, err, sizeof(err));
    if (rc != 0)
        fail_msg("\"%s\": %s", spec, err);
    assert_string_equal(err, "");
    return p;
}

/* Parse must fail with a message containing `want`, leaving p and seed. */
static void parse_bad(const char *spec, const char *want)
{
    struct ns_link_params p, before;
    ns_link_params_default(&p);
    p.delay_us = 4242;
    before = p;
    uint64_t seed = 99;
    char err[256];
    assert_int_equal(ns_link_params_parse(spec, &p, &seed, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("\"%s\": message \"%s\" does not contain \"%s\"", spec, err, want);
    assert_memory_equal(&p, &before, sizeof(p));
    assert_int_equal(seed, 99);
}

static void test_full_spec(void **state)
{
    (void)state;
    uint64_t seed = 0;
    struct ns_link_params p = parse_ok(
        "loss=1%,delay=20ms,jitter=1ms,reorder=1%,dup=0.1%,corrupt=0.01,rate=100mbit,"
        "queue=64k,mtu=1400,seed=7",
        &seed);
    assert_true(p.loss > 0.00999 && p.loss < 0.01001);
    assert_true(p.dup > 0.000999 && p.dup < 0.001001);
    assert_true(p.reorder > 0.00999 && p.reorder < 0.01001);
    assert_true(p.corrupt > 0.00999 && p.corrupt < 0.01001);
    assert_int_equal(p.delay_us, 20000);
    assert_int_equal(p.jitter_us, 1000);
    assert_int_equal(p.reorder_delay_us, 10000); /* default hold-back with reorder */
    assert_int_equal(p.rate_bps, 100000000);
    assert_int_equal(p.queue_bytes, 65536);
    assert_int_equal(p.mtu, 1400);
    assert_int_equal(seed, 7);
}

static void test_empty_and_untouched(void **state)
{
    (void)state;
    struct ns_link_params p, d;
    ns_link_params_default(&d);
    p = parse_ok("", NULL);
    assert_memory_equal(&p, &d, sizeof(p));

    /* Keys not given keep their values. */
    ns_link_params_default(&p);
    p.delay_us = 123;
    p.rate_bps = 5;
    assert_int_equal(ns_link_params_parse("loss=0.5", &p, NULL, NULL, 0), 0);
    assert_int_equal(p.delay_us, 123);
    assert_int_equal(p.rate_bps, 5);
    assert_true(p.loss == 0.5);
    assert_int_equal(p.mtu, 1500);

    /* Last one wins. */
    p = parse_ok("delay=1ms,delay=2ms", NULL);
    assert_int_equal(p.delay_us, 2000);
}

static void test_probabilities(void **state)
{
    (void)state;
    struct ns_link_params p = parse_ok("loss=100%", NULL);
    assert_true(p.loss == 1.0);
    p = parse_ok("loss=0%", NULL);
    assert_true(p.loss == 0.0);
    p = parse_ok("loss=1", NULL);
    assert_true(p.loss == 1.0);
    p = parse_ok("loss=.25", NULL);
    assert_true(p.loss == 0.25);
    p = parse_ok("dup=2.5%", NULL);
    assert_true(p.dup > 0.02499 && p.dup < 0.02501);
}

static void test_time_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("delay=250us", NULL).delay_us, 250);
    assert_int_equal(parse_ok("delay=20ms", NULL).delay_us, 20000);
    assert_int_equal(parse_ok("delay=1.5ms", NULL).delay_us, 1500);
    assert_int_equal(parse_ok("delay=2s", NULL).delay_us, 2000000);
    assert_int_equal(parse_ok("delay=0", NULL).delay_us, 0);
    assert_int_equal(parse_ok("jitter=3ms", NULL).jitter_us, 3000);
    struct ns_link_params p = parse_ok("reorder=5%,reorder_delay=2ms", NULL);
    assert_int_equal(p.reorder_delay_us, 2000);
    /* An explicit 0 hold-back is kept (the caller asked for it). */
    assert_int_equal(parse_ok("reorder=5%,reorder_delay=0", NULL).reorder_delay_us, 0);
}

static void test_rate_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("rate=9600bit", NULL).rate_bps, 9600);
    assert_int_equal(parse_ok("rate=64kbit", NULL).rate_bps, 64000);
    assert_int_equal(parse_ok("rate=100mbit", NULL).rate_bps, 100000000);
    assert_int_equal(parse_ok("rate=10Mbit", NULL).rate_bps, 10000000);
    assert_int_equal(parse_ok("rate=1gbit", NULL).rate_bps, 1000000000);
    assert_int_equal(parse_ok("rate=1.5mbit", NULL).rate_bps, 1500000);
    /* bps is bytes per second, as tc(8). */
    assert_int_equal(parse_ok("rate=1000bps", NULL).rate_bps, 8000);
    assert_int_equal(parse_ok("rate=1kbps", NULL).rate_bps, 8000);
    assert_int_equal(parse_ok("rate=1mbps", NULL).rate_bps, 8000000);
    assert_int_equal(parse_ok("rate=1gbps", NULL).rate_bps, 8000000000ull);
    assert_int_equal(parse_ok("rate=0", NULL).rate_bps, 0);
}

static void test_sizes_mtu_seed(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("queue=1500", NULL).queue_bytes, 1500);
    assert_int_equal(parse_ok("queue=1500b", NULL).queue_bytes, 1500);
    assert_int_equal(parse_ok("queue=64k", NULL).queue_bytes, 65536);
    assert_int_equal(parse_ok("queue=64kb", NULL).queue_bytes, 65536);
    assert_int_equal(parse_ok("queue=2m", NULL).queue_bytes, 2u << 20);
    assert_int_equal(parse_ok("queue=0", NULL).queue_bytes, 0);
    assert_int_equal(parse_ok("mtu=68", NULL).mtu, 68);
    assert_int_equal(parse_ok("mtu=9000", NULL).mtu, 9000);
    assert_int_equal(parse_ok("mtu=0", NULL).mtu, 0);
    uint64_t seed = 1;
    parse_ok("seed=0x10", &seed);
    assert_int_equal(seed, 16);
    parse_ok("seed=18446744073709551615", &seed);
    assert_true(seed == UINT64_MAX);
    seed = 5;
    parse_ok("loss=1%", &seed);
    assert_int_equal(seed, 5); /* untouched without a seed key */
}

static void test_errors(void **state)
{
    (void)state;
    parse_bad("bogus=1", "unknown key \"bogus\"");
    parse_bad("loss", "\"loss\": expected key=value");
    parse_bad("loss=", "loss: missing value");
    parse_bad("=1%", "missing key");
    parse_bad("loss=1%,,delay=1ms", "empty item");
    parse_bad("loss=1%,", "trailing comma");
    parse_bad("loss=abc", "loss=abc: not a probability");
    parse_bad("loss=5", "write 5% for a percentage");
    parse_bad("loss=101%", "at most 100%");
    parse_bad("loss=-1%", "not a probability");
    parse_bad("loss=1%%", "unexpected \"%%\"");
    parse_bad("loss=nan", "not a probability");
    parse_bad("delay=20", "delay=20: missing unit (us, ms or s)");
    parse_bad("delay=20min", "unknown unit \"min\"");
    parse_bad("delay=ms", "not a time");
    parse_bad("jitter=1e300s", "too large");
    parse_bad("rate=100", "rate=100: missing unit");
    parse_bad("rate=100mbits", "unknown unit \"mbits\"");
    parse_bad("rate=0.1bit", "below 1 bit/s");
    parse_bad("queue=64q", "unknown unit \"q\"");
    parse_bad("queue=-1", "not a size");
    parse_bad("queue=5000m", "too large");
    parse_bad("mtu=67", "68..65535");
    parse_bad("mtu=65536", "68..65535");
    parse_bad("mtu=1500b", "not a number");
    parse_bad("seed=x", "seed=x: not an unsigned integer");
    parse_bad("seed=99999999999999999999", "not an unsigned integer");
    parse_bad("delay=1ms,loss=2", "loss=2"); /* earlier keys not applied either */

    /* A seed key where no seed is taken. */
    struct ns_link_params p;
    ns_link_params_default(&p);
    char err[128];
    assert_int_equal(ns_link_params_parse("seed=1", &p, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no seed accepted"));
    /* No error buffer, and a tiny one, are fine. */
    assert_int_equal(ns_link_params_parse("nope=1", &p, NULL, NULL, 0), -EINVAL);
    assert_int_equal(ns_link_params_parse("nope=1", &p, NULL, err, 4), -EINVAL);
    assert_int_equal(strlen(err), 3);
    assert_int_equal(ns_link_params_parse(NULL, &p, NULL, err, sizeof(err)), -EINVAL);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec),
        cmocka_unit_test(test_empty_and_untouched),
        cmocka_unit_test(test_probabilities),
        cmocka_unit_test(test_time_units),
        cmocka_unit_test(test_rate_units),
        cmocka_unit_test(test_sizes_mtu_seed),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
