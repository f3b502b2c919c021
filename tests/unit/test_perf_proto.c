/* tests/unit/test_perf_proto.c — tools/perf_proto.c, the pure pieces of
 * the iperf3 protocol that `netsock perf` speaks: the cookie, the JSON
 * parameter and result messages (against the exact text iperf3 3.12
 * writes), the UDP datagram header (32- and 64-bit counters, byte for
 * byte), the receiver's loss/reordering accounting and RFC 3550 jitter
 * (against values worked out by hand), iperf3's unit formats and the -b /
 * -l parsers. The exchanges with a real iperf3 are tests/interop/test_perf.sh. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "../../tools/perf_proto.c"

static void test_cookie(void **state)
{
    (void)state;
    uint8_t rnd[PERF_COOKIE_SIZE - 1];
    for (int i = 0; i < PERF_COOKIE_SIZE - 1; i++)
        rnd[i] = (uint8_t)(i * 37 + 5);
    char c[PERF_COOKIE_SIZE];
    perf_cookie_make(rnd, c);
    assert_int_equal(strlen(c), 36);
    assert_int_equal(c[36], 0);
    /* Byte b picks symbol b mod 32 of a-z2-7: 5 -> 'f', 42 -> 'k', 255 -> '7'. */
    assert_int_equal(c[0], 'f');
    assert_int_equal(c[1], 'k');
    assert_true(perf_cookie_valid(c));
    rnd[0] = 255;
    perf_cookie_make(rnd, c);
    assert_int_equal(c[0], '7');
    char bad[PERF_COOKIE_SIZE];
    memcpy(bad, c, sizeof(bad));
    bad[36] = 'a'; /* no terminator */
    assert_false(perf_cookie_valid(bad));
    memcpy(bad, c, sizeof(bad));
    bad[10] = '8'; /* not in the alphabet */
    assert_false(perf_cookie_valid(bad));
    memcpy(bad, c, sizeof(bad));
    bad[20] = 0; /* short */
    assert_false(perf_cookie_valid(bad));
}

/* What iperf3 3.12's client sends for `-u -b 1M -P 2 -t 1
 * --udp-counters-64bit` (its -d output, unformatted). */
static const char iperf312_udp_params[] =
    "{\"udp\":true,\"omit\":0,\"time\":1,\"num\":0,\"blockcount\":0,\"parallel\":2,"
    "\"len\":32768,\"bandwidth\":1000000,\"pacing_timer\":1000,\"udp_counters_64bit\":1,"
    "\"client_version\":\"3.12\"}";

static void test_params_parse_iperf3(void **state)
{
    (void)state;
    struct perf_params p;
    char err[128];
    assert_int_equal(perf_params_parse(iperf312_udp_params, strlen(iperf312_udp_params), &p, err,
                                       sizeof(err)),
                     0);
    assert_true(p.udp);
    assert_false(p.reverse);
    assert_true(p.udp64);
    assert_int_equal(p.duration, 1);
    assert_int_equal(p.parallel, 2);
    assert_int_equal(p.len, 32768);
    assert_int_equal(p.rate, 1000000);
    assert_int_equal(p.pacing_timer, 1000);
    assert_int_equal(p.bytes, 0);
    assert_string_equal(p.client_version, "3.12");

    static const char tcp_rev[] = "{\"tcp\":true,\"omit\":2,\"time\":3,\"parallel\":1,"
                                  "\"reverse\":true,\"len\":131072,\"nodelay\":true,\"MSS\":1200,"
                                  "\"window\":262144,\"TOS\":16,\"congestion\":\"reno\"}";
    assert_int_equal(perf_params_parse(tcp_rev, strlen(tcp_rev), &p, err, sizeof(err)), 0);
    assert_false(p.udp);
    assert_true(p.reverse);
    assert_true(p.nodelay);
    assert_int_equal(p.omit, 2);
    assert_int_equal(p.mss, 1200);
    assert_int_equal(p.window, 262144);
    assert_int_equal(p.tos, 16);
    assert_string_equal(p.congestion, "reno");
    assert_false(p.udp64);
}

static void test_params_round_trip(void **state)
{
    (void)state;
    struct perf_params a, b;
    perf_params_default(&a);
    a.udp = true;
    a.reverse = true;
    a.udp64 = true;
    a.duration = 3;
    a.parallel = 7;
    a.len = 1448;
    a.rate = 2500000000ull; /* above 2^31: iperf3 3.12 itself reads it as an int */
    char *js = perf_params_json(&a);
    assert_non_null(js);
    /* As iperf3 writes it: the protocol first, the version last. */
    assert_non_null(strstr(js, "{\"udp\":true,\"omit\":0,\"time\":3,"));
    assert_non_null(strstr(js, "\"client_version\":\"3.12\"}"));
    char err[128];
    assert_int_equal(perf_params_parse(js, strlen(js), &b, err, sizeof(err)), 0);
    free(js);
    assert_true(b.udp && b.reverse && b.udp64);
    assert_int_equal(b.duration, 3);
    assert_int_equal(b.parallel, 7);
    assert_int_equal(b.len, 1448);
    assert_true(b.rate == 2500000000ull);
    /* Defaults leave out what iperf3 leaves out. */
    perf_params_default(&a);
    js = perf_params_json(&a);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"tcp\":true"));
    assert_null(strstr(js, "reverse"));
    assert_null(strstr(js, "bandwidth"));
    assert_null(strstr(js, "udp_counters_64bit"));
    free(js);
}

static void expect_params_refused(const char *js, const char *why)
{
    struct perf_params p;
    char err[128] = "";
    assert_int_equal(perf_params_parse(js, strlen(js), &p, err, sizeof(err)), -1);
    if (!strstr(err, why))
        fail_msg("'%s': error '%s' does not mention '%s'", js, err, why);
}

static void test_params_refused(void **state)
{
    (void)state;
    expect_params_refused("[1,2]", "not a JSON object");
    expect_params_refused("{\"tcp\":true", "not a JSON object");
    expect_params_refused("", "not a JSON object");
    expect_params_refused("{\"parallel\":129}", "parallel");
    expect_params_refused("{\"parallel\":0}", "parallel");
    expect_params_refused("{\"parallel\":\"2\"}", "parallel");
    expect_params_refused("{\"len\":0}", "len");
    expect_params_refused("{\"len\":1048577}", "len");
    expect_params_refused("{\"time\":86401}", "time");
    expect_params_refused("{\"time\":-1}", "time");
    expect_params_refused("{\"udp\":true,\"len\":8}", "UDP");
    expect_params_refused("{\"udp\":true,\"len\":65508}", "UDP");
    expect_params_refused("{\"bandwidth\":-5}", "bandwidth");
    /* Not refused by the parser, but flagged for the server to refuse. */
    struct perf_params p;
    char err[128];
    const char *bidir = "{\"tcp\":true,\"bidirectional\":true,\"get_server_output\":1}";
    assert_int_equal(perf_params_parse(bidir, strlen(bidir), &p, err, sizeof(err)), 0);
    assert_true(p.bidir);
    assert_true(p.server_output);
    /* A string longer than the field is cut, not overflowed. */
    const char *longcc = "{\"congestion\":\"abcdefghijklmnopqrstuvwxyz\"}";
    assert_int_equal(perf_params_parse(longcc, strlen(longcc), &p, err, sizeof(err)), 0);
    assert_int_equal(strlen(p.congestion), sizeof(p.congestion) - 1);
}

/* iperf3 3.12's results for that UDP test (-d output, unformatted): note
 * "retransmits" = -1 as an unsigned 64-bit number, and ids 1 and 3. */
static const char iperf312_results[] =
    "{\"cpu_util_total\":2.0123945687618914,\"cpu_util_user\":2.012494444416701,"
    "\"cpu_util_system\":0,\"sender_has_retransmits\":0,\"streams\":["
    "{\"id\":1,\"bytes\":131072,\"retransmits\":18446744073709551615,\"jitter\":0,"
    "\"errors\":0,\"packets\":4,\"start_time\":0,\"end_time\":1.000163},"
    "{\"id\":3,\"bytes\":131072,\"retransmits\":18446744073709551615,\"jitter\":0,"
    "\"errors\":0,\"packets\":4,\"start_time\":0,\"end_time\":1.000165}]}";

static void test_results_parse_iperf3(void **state)
{
    (void)state;
    struct perf_results *r = malloc(sizeof(*r));
    assert_non_null(r);
    char err[128];
    assert_int_equal(perf_results_parse(iperf312_results, strlen(iperf312_results), r, err,
                                        sizeof(err)),
                     0);
    assert_int_equal(r->sender_has_retransmits, 0);
    assert_true(fabs(r->cpu_total - 2.0123945687618914) < 1e-12);
    assert_int_equal(r->nstreams, 2);
    assert_int_equal(r->streams[0].id, 1);
    assert_int_equal(r->streams[1].id, 3);
    assert_int_equal(r->streams[0].bytes, 131072);
    assert_int_equal(r->streams[0].retransmits, -1); /* "unknown", not a huge count */
    assert_int_equal(r->streams[1].packets, 4);
    assert_true(fabs(r->streams[1].end_time - 1.000165) < 1e-9);
    free(r);
}

static void test_results_round_trip_and_refusals(void **state)
{
    (void)state;
    struct perf_results *a = calloc(1, sizeof(*a)), *b = malloc(sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    a->cpu_total = 12.5;
    a->cpu_user = 2.5;
    a->cpu_system = 10;
    a->sender_has_retransmits = 1;
    snprintf(a->congestion_used, sizeof(a->congestion_used), "cubic");
    a->nstreams = 3;
    for (int i = 0; i < 3; i++) {
        a->streams[i].id = i == 0 ? 1 : i + 2;
        a->streams[i].bytes = 5000000000ull + (uint64_t)i; /* above 2^32 */
        a->streams[i].retransmits = 17 * i;
        a->streams[i].jitter_s = 0.000125 * i;
        a->streams[i].errors = i;
        a->streams[i].packets = 1000 + i;
        a->streams[i].end_time = 3.000421;
    }
    char *js = perf_results_json(a);
    assert_non_null(js);
    char err[128];
    assert_int_equal(perf_results_parse(js, strlen(js), b, err, sizeof(err)), 0);
    free(js);
    assert_int_equal(b->nstreams, 3);
    assert_int_equal(b->sender_has_retransmits, 1);
    assert_string_equal(b->congestion_used, "cubic");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b->streams[i].id, a->streams[i].id);
        assert_true(b->streams[i].bytes == a->streams[i].bytes);
        assert_int_equal(b->streams[i].retransmits, a->streams[i].retransmits);
        assert_true(fabs(b->streams[i].jitter_s - a->streams[i].jitter_s) < 1e-15);
        assert_int_equal(b->streams[i].packets, a->streams[i].packets);
    }
    /* iperf3's get_results requires these members. */
    static const char *const refused[] = {
        "{\"cpu_util_user\":0,\"cpu_util_system\":0,\"sender_has_retransmits\":0,\"streams\":[]}",
        "{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,"
        "\"sender_has_retransmits\":0}",
        "{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,"
        "\"sender_has_retransmits\":0,\"streams\":[{\"id\":1,\"bytes\":5}]}",
        "null",
    };
    for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++)
        assert_int_equal(perf_results_parse(refused[k], strlen(refused[k]), b, err, sizeof(err)),
                         -1);
    /* More streams than a test can have: refused, nothing overflows. */
    size_t cap = 64 + 200 * (PERF_MAX_STREAMS + 1);
    char *many = malloc(cap);
    assert_non_null(many);
    size_t off = (size_t)snprintf(many, cap, "{\"cpu_util_total\":0,\"cpu_util_user\":0,"
                                             "\"cpu_util_system\":0,\"sender_has_retransmits\":0,"
                                             "\"streams\":[");
    for (int i = 0; i <= PERF_MAX_STREAMS; i++)
        off += (size_t)snprintf(many + off, cap - off,
                                "%s{\"id\":%d,\"bytes\":1,\"retransmits\":0,\"jitter\":0,"
                                "\"errors\":0,\"packets\":0}",
                                i ? "," : "", i + 1);
    snprintf(many + off, cap - off, "]}");
    assert_int_equal(perf_results_parse(many, strlen(many), b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than"));
    free(many);
    free(a);
    free(b);
}

static void test_udp_header(void **state)
{
    (void)state;
    uint8_t buf[16];
    struct perf_udp_hdr h = {.sec = 0x01020304, .usec = 999999, .seq = 0x1122334455667788ull};
    perf_udp_hdr_encode(buf, &h, false);
    static const uint8_t w32[12] = {1, 2, 3, 4, 0x00, 0x0f, 0x42, 0x3f, 0x55, 0x66, 0x77, 0x88};
    assert_memory_equal(buf, w32, 12);
    perf_udp_hdr_encode(buf, &h, true);
    static const uint8_t w64[16] = {1,    2,    3,    4,    0x00, 0x0f, 0x42, 0x3f,
                                    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    assert_memory_equal(buf, w64, 16);
    struct perf_udp_hdr d;
    assert_int_equal(perf_udp_hdr_decode(buf, 16, true, &d), 0);
    assert_int_equal(d.sec, h.sec);
    assert_int_equal(d.usec, h.usec);
    assert_true(d.seq == h.seq);
    /* The same bytes read with 32-bit counters: the high half of the
     * 64-bit sequence. */
    assert_int_equal(perf_udp_hdr_decode(buf, 16, false, &d), 0);
    assert_true(d.seq == 0x11223344u);
    assert_int_equal(perf_udp_hdr_decode(buf, 11, false, &d), -1);
    assert_int_equal(perf_udp_hdr_decode(buf, 12, false, &d), 0);
    assert_int_equal(perf_udp_hdr_decode(buf, 15, true, &d), -1);
    assert_int_equal(perf_udp_hdr_len(false), 12);
    assert_int_equal(perf_udp_hdr_len(true), 16);
}

static struct perf_udp_hdr hdr_at(uint64_t seq, uint64_t sent_us)
{
    return (struct perf_udp_hdr){.sec = (uint32_t)(sent_us / 1000000u),
                                 .usec = (uint32_t)(sent_us % 1000000u),
                                 .seq = seq};
}

static void test_udp_loss_and_reordering(void **state)
{
    (void)state;
    struct perf_udp_rx rx;
    memset(&rx, 0, sizeof(rx));
    uint64_t seqs[] = {1, 2, 4, 3, 3, 10, 11};
    /* after:   lost   ooo   highest */
    static const uint64_t lost[] = {0, 0, 1, 0, 0, 5, 5};
    static const uint64_t ooo[] = {0, 0, 0, 1, 2, 2, 2};
    static const uint64_t high[] = {1, 2, 4, 4, 4, 10, 11};
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        struct perf_udp_hdr h = hdr_at(seqs[i], 1000 * i);
        perf_udp_rx_datagram(&rx, &h, 1000 * i + 500);
        assert_true(rx.cnt_error == lost[i]);
        assert_true(rx.outoforder == ooo[i]);
        assert_true(rx.packet_count == high[i]);
    }
    assert_true(rx.datagrams == 7);
    /* Constant transit: no jitter at all. */
    assert_true(rx.jitter_s == 0.0);
}

static void test_udp_jitter_rfc3550(void **state)
{
    (void)state;
    struct perf_udp_rx rx;
    memset(&rx, 0, sizeof(rx));
    /* Sent every 10 ms; the clocks are 1000 s apart (only differences of
     * transit count). Transits: 5, 7, 4, 4, 9 ms. By RFC 3550 §6.4.1,
     * J += (|D| - J)/16 with D the change in transit:
     *   D = 2 ms: J = 2/16             = 0.125 ms
     *   D = 3 ms: J = 0.125 + (3 - 0.125)/16 = 0.3046875 ms
     *   D = 0:    J = 0.3046875 * 15/16      = 0.28564453125 ms
     *   D = 5 ms: J = 0.28564453125 + (5 - 0.28564453125)/16 = 0.580291748046875 ms */
    static const uint64_t transit_us[] = {5000, 7000, 4000, 4000, 9000};
    static const double want_ms[] = {0, 0.125, 0.3046875, 0.28564453125, 0.580291748046875};
    const uint64_t offset = 1000000000ull; /* the receiver's clock is 1000 s ahead */
    for (int i = 0; i < 5; i++) {
        uint64_t sent = 10000u * (uint64_t)i;
        struct perf_udp_hdr h = hdr_at((uint64_t)i + 1, sent);
        perf_udp_rx_datagram(&rx, &h, offset + sent + transit_us[i]);
        if (fabs(rx.jitter_s * 1000.0 - want_ms[i]) > 1e-6)
            fail_msg("datagram %d: jitter %.9f ms, want %.9f ms", i, rx.jitter_s * 1000.0,
                     want_ms[i]);
    }
    /* The first datagram only sets the reference: a large transit on the
     * first datagram is not jitter. */
    memset(&rx, 0, sizeof(rx));
    struct perf_udp_hdr h = hdr_at(1, 0);
    perf_udp_rx_datagram(&rx, &h, 123456789);
    assert_true(rx.jitter_s == 0.0);
}

static void test_units(void **state)
{
    (void)state;
    char b[32];
    /* iperf3 3.12 prints these counts so (units.c: four places, 1024 for bytes, 1000 for bits). */
    perf_fmt_bytes(b, sizeof(b), 2454978560.0);
    assert_string_equal(b, "2.29 GBytes");
    perf_fmt_bytes(b, sizeof(b), 767.0 * 1024);
    assert_string_equal(b, " 767 KBytes");
    perf_fmt_bytes(b, sizeof(b), 1023.0 * 1024);
    assert_string_equal(b, "1023 KBytes");
    perf_fmt_bytes(b, sizeof(b), 1277952.0);
    assert_string_equal(b, "1.22 MBytes");
    perf_fmt_bytes(b, sizeof(b), 0);
    assert_string_equal(b, "0.00 Bytes");
    perf_fmt_bytes(b, sizeof(b), 25.0 * 1048576);
    assert_string_equal(b, "25.0 MBytes");
    perf_fmt_rate(b, sizeof(b), 19637824574.484837 / 8);
    assert_string_equal(b, "19.6 Gbits/sec");
    perf_fmt_rate(b, sizeof(b), 10222225.595369779 / 8);
    assert_string_equal(b, "10.2 Mbits/sec");
    perf_fmt_rate(b, sizeof(b), 9960000.0 / 8);
    assert_string_equal(b, "9.96 Mbits/sec");
    perf_fmt_rate(b, sizeof(b), 100e6 / 8);
    assert_string_equal(b, " 100 Mbits/sec");
    perf_fmt_rate(b, sizeof(b), 0);
    assert_string_equal(b, "0.00 bits/sec");
}

static void test_parse_rate_size(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(perf_parse_rate("10M", &v), 0);
    assert_true(v == 10000000u);
    assert_int_equal(perf_parse_rate("1.5G", &v), 0);
    assert_true(v == 1500000000u);
    assert_int_equal(perf_parse_rate("100k", &v), 0);
    assert_true(v == 100000u);
    assert_int_equal(perf_parse_rate("0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(perf_parse_size("128K", &v), 0);
    assert_true(v == 131072u);
    assert_int_equal(perf_parse_size("1M", &v), 0);
    assert_true(v == 1048576u);
    assert_int_equal(perf_parse_size("1448", &v), 0);
    assert_true(v == 1448u);
    static const char *const bad[] = {"", "x", "-1", "10Q", "10MM", " 5", "nan", "1e30"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (perf_parse_rate(bad[i], &v) == 0)
            fail_msg("rate '%s' accepted", bad[i]);
        if (perf_parse_size(bad[i], &v) == 0)
            fail_msg("size '%s' accepted", bad[i]);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_params_parse_iperf3),
        cmocka_unit_test(test_params_round_trip),
        cmocka_unit_test(test_params_refused),
        cmocka_unit_test(test_results_parse_iperf3),
        cmocka_unit_test(test_results_round_trip_and_refusals),
        cmocka_unit_test(test_udp_header),
        cmocka_unit_test(test_udp_loss_and_reordering),
        cmocka_unit_test(test_udp_jitter_rfc3550),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_parse_rate_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
