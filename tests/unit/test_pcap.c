/* tests/unit/test_pcap.c — the pcap capture wrapper around a queue device:
 * both directions captured, file header and records checked byte by byte,
 * LINKTYPE_RAW for IP devices, open and write errors handled; timestamps
 * shifted by ts_offset_us (wall-clock captures); pcapng with its section
 * header, the interface's name and offload comment, and enhanced packet
 * blocks, checked block by block.
 *
 * With NETSOCK_PCAP_OUT=path set, the Ethernet capture is left at `path`,
 * the raw-IP capture at `path.raw`, a wall-clock classic capture at
 * `path.wall.pcap` and a pcapng one at `path.pcapng`, for
 * tests/scripts/test_pcap_tshark.sh to decode with tcpdump/tshark. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "netsock/dev.h"
#include "netsock/netsock.h"

static struct ns_pbuf_pool *g_pool;

static int setup(void **state)
{
    (void)state;
    g_pool = ns_pbuf_pool_new(256, 1 << 20);
    return g_pool ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    struct ns_pbuf_pool_stats ps;
    ns_pbuf_pool_stats(g_pool, &ps);
    assert_int_equal(ps.pool_free, ps.pool_total);
    ns_pbuf_pool_free(g_pool);
    return 0;
}

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x02};

/* ARP request (RFC 826): who-has 192.0.2.2 tell 192.0.2.1, 42 bytes. */
static const uint8_t ARP_REQ[42] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,                   /* Ether/IPv4, request */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192, 0, 2, 1,                 /* sender */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 0, 2, 2,                 /* target */
};

/* Internet checksum (RFC 1071). */
static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IPv4 ICMP echo request 192.0.2.2 -> 192.0.2.1, id 0x1234 seq 1, payload
 * "netsock!", correct checksums. Writes 36 bytes at ip. */
static void icmp_echo(uint8_t ip[36])
{
    static const uint8_t hdr[20] = {0x45, 0x00, 0x00, 36, 0x00, 0x01, 0x40, 0x00, 64, 1,
                                    0, 0, 192, 0, 2, 2, 192, 0, 2, 1};
    memcpy(ip, hdr, 20);
    uint16_t c = csum(ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint8_t *icmp = ip + 20;
    static const uint8_t echo[16] = {8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01,
                                     'n', 'e', 't', 's', 'o', 'c', 'k', '!'};
    memcpy(icmp, echo, 16);
    c = csum(icmp, 16);
    icmp[2] = (uint8_t)(c >> 8);
    icmp[3] = (uint8_t)c;
}

/* Ethernet frame MAC_B -> MAC_A carrying icmp_echo(): 50 bytes. */
static void icmp_frame(uint8_t f[50])
{
    memcpy(f, MAC_A, 6);
    memcpy(f + 6, MAC_B, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    icmp_echo(f + 14);
}

static int xmit_bytes(struct ns_dev *dev, const void *data, uint32_t len, uint64_t now)
{
    struct ns_pbuf *pb = ns_pbuf_from(g_pool, data, len);
    assert_non_null(pb);
    return dev->ops->xmit(dev, pb, now);
}

/* Through capture device p over queue device q: the ARP request sent at
 * t = 1.5 s, the echo request (icmp_frame, into echo) received at
 * t = 2.000001 s. */
static void arp_out_echo_in(struct ns_dev *p, struct ns_dev *q, uint8_t echo[50])
{
    assert_int_equal(xmit_bytes(p, ARP_REQ, sizeof(ARP_REQ), 1500000), 0);
    icmp_frame(echo);
    assert_int_equal(ns_qdev_inject(q, echo, 50), 0);
    struct ns_pbuf *pb = p->ops->recv(p, g_pool, 2000001);
    assert_non_null(pb);
    ns_pbuf_free(pb);
}

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t rd16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Output path: NETSOCK_PCAP_OUT(+suffix) kept, or a temp file removed by
 * the caller (*keep false). */
static void out_path(char *buf, size_t cap, const char *suffix, int *keep)
{
    const char *env = getenv("NETSOCK_PCAP_OUT");
    if (env && *env) {
        snprintf(buf, cap, "%s%s", env, suffix);
        *keep = 1;
        return;
    }
    snprintf(buf, cap, "/tmp/netsock-test-pcap-XXXXXX");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
    *keep = 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

static void check_file_header(const uint8_t *p, uint32_t linktype)
{
    /* Little-endian, as libpcap writes on x86: d4 c3 b2 a1. */
    static const uint8_t magic[4] = {0xd4, 0xc3, 0xb2, 0xa1};
    assert_memory_equal(p, magic, 4);
    assert_int_equal(rd16le(p + 4), 2);
    assert_int_equal(rd16le(p + 6), 4);
    assert_int_equal(rd32le(p + 8), 0);
    assert_int_equal(rd32le(p + 12), 0);
    assert_int_equal(rd32le(p + 16), 262144);
    assert_int_equal(rd32le(p + 20), linktype);
}

/* Check one record at *off and advance past it. */
static void check_record(const uint8_t *file, size_t flen, size_t *off, uint32_t sec,
                         uint32_t usec, const uint8_t *data, uint32_t len)
{
    const uint8_t *r = file + *off;
    assert_true(*off + 16 + len <= flen);
    assert_int_equal(rd32le(r), sec);
    assert_int_equal(rd32le(r + 4), usec);
    assert_int_equal(rd32le(r + 8), len);
    assert_int_equal(rd32le(r + 12), len);
    assert_memory_equal(r + 16, data, len);
    *off += 16 + len;
}

static void test_ether_capture(void **state)
{
    (void)state;
    char path[512];
    int keep;
    out_path(path, sizeof(path), "", &keep);

    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, MAC_A, 1500);
    int err = 1;
    struct ns_dev *p = ns_pcap_wrap(q, path, &err);
    assert_non_null(p);
    assert_int_equal(err, 0);
    assert_memory_equal(p->hwaddr, MAC_A, 6);
    assert_int_equal(p->mtu, 1500);
    assert_int_equal(ns_pcap_count(p), 0);

    /* tx at t = 1.5 s: captured and passed on. */
    assert_int_equal(xmit_bytes(p, ARP_REQ, sizeof(ARP_REQ), 1500000), 0);
    uint8_t got[64];
    assert_int_equal(ns_qdev_take(q, got, sizeof(got)), sizeof(ARP_REQ));
    assert_memory_equal(got, ARP_REQ, sizeof(ARP_REQ));

    /* rx at t = 2.000001 s. */
    uint8_t echo[50];
    icmp_frame(echo);
    assert_int_equal(ns_qdev_inject(q, echo, sizeof(echo)), 0);
    assert_int_equal(p->ops->next_deadline(p), 0);
    struct ns_pbuf *pb = p->ops->recv(p, g_pool, 2000001);
    assert_non_null(pb);
    assert_memory_equal(ns_pbuf_data(pb), echo, sizeof(echo));
    ns_pbuf_free(pb);
    assert_null(p->ops->recv(p, g_pool, 2000002)); /* nothing: nothing written */

    /* A frame the inner device refuses is still captured (tx point is
     * before the inner device). */
    uint8_t big[1515] = {0};
    memcpy(big, ARP_REQ, 14);
    assert_int_equal(xmit_bytes(p, big, sizeof(big), 3000000), -EMSGSIZE);
    assert_int_equal(p->stats.tx_drop, 1);
    assert_int_equal(ns_pcap_count(p), 3);

    /* After a flush the file is complete while the device stays open. */
    assert_int_equal(ns_pcap_flush(p), 0);
    size_t flen;
    const uint8_t *file = slurp(path, &flen);
    assert_int_equal(flen, 24 + 16 + 42 + 16 + 50 + 16 + 1515);
    check_file_header(file, 1);
    size_t off = 24;
    check_record(file, flen, &off, 1, 500000, ARP_REQ, sizeof(ARP_REQ));
    check_record(file, flen, &off, 2, 1, echo, sizeof(echo));
    check_record(file, flen, &off, 3, 0, big, sizeof(big));
    assert_int_equal(off, flen);

    /* One more frame after the flush reaches the file on close. */
    assert_int_equal(xmit_bytes(p, ARP_REQ, sizeof(ARP_REQ), 4000000), 0);
    assert_int_equal(ns_pcap_count(p), 4);
    ns_dev_close(p); /* closes q (with its untaken frame) too */
    file = slurp(path, &flen);
    assert_int_equal(flen, 24 + 16 + 42 + 16 + 50 + 16 + 1515 + 16 + 42);
    off = 24 + 16 + 42 + 16 + 50 + 16 + 1515;
    check_record(file, flen, &off, 4, 0, ARP_REQ, sizeof(ARP_REQ));

    /* For the tshark script: only the ARP request and the echo request. */
    if (keep) {
        q = ns_qdev_new("q", NS_LINK_ETHER, MAC_A, 1500);
        p = ns_pcap_wrap(q, path, &err);
        assert_non_null(p);
        arp_out_echo_in(p, q, echo);
        ns_dev_close(p);
    } else {
        unlink(path);
    }
}

static void test_raw_ip_capture(void **state)
{
    (void)state;
    char path[512];
    int keep;
    out_path(path, sizeof(path), ".raw", &keep);

    struct ns_dev *q = ns_qdev_new("tun", NS_LINK_IP, NULL, 1500);
    int err;
    struct ns_dev *p = ns_pcap_wrap(q, path, &err);
    assert_non_null(p);
    uint8_t ip[36];
    icmp_echo(ip);
    assert_int_equal(xmit_bytes(p, ip, sizeof(ip), 7), 0);
    assert_int_equal(ns_qdev_pending(q), 1);
    ns_dev_close(p);

    size_t flen;
    const uint8_t *file = slurp(path, &flen);
    check_file_header(file, 101);
    size_t off = 24;
    check_record(file, flen, &off, 0, 7, ip, sizeof(ip));
    assert_int_equal(off, flen);
    if (!keep)
        unlink(path);
}

static void test_errors(void **state)
{
    (void)state;
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    int err = 0;
    assert_null(ns_pcap_wrap(q, "/nonexistent-dir/x.pcap", &err));
    assert_int_equal(err, -ENOENT);
    /* q is still ours and works. */
    assert_int_equal(xmit_bytes(q, ARP_REQ, sizeof(ARP_REQ), 0), 0);
    assert_int_equal(ns_qdev_pending(q), 1);

    assert_int_equal(ns_pcap_flush(q), -EINVAL); /* not a pcap device */
    assert_int_equal(ns_pcap_count(q), 0);

    /* Writes that fail (disk full) are counted and stop the capture, never
     * the traffic. */
    if (access("/dev/full", W_OK) == 0) {
        struct ns_dev *p = ns_pcap_wrap(q, "/dev/full", &err);
        assert_non_null(p);
        uint8_t frame[1000] = {0};
        for (int i = 0; i < 200; i++)
            assert_int_equal(xmit_bytes(p, frame, sizeof(frame), (uint64_t)i), 0);
        assert_int_equal(ns_qdev_pending(q), 201);
        assert_true(ns_pcap_count(p) < 200);
        assert_int_equal(ns_pcap_flush(p), -EIO);
        uint64_t n = ns_pcap_count(p);
        assert_int_equal(xmit_bytes(p, frame, sizeof(frame), 300), 0);
        assert_int_equal(ns_pcap_count(p), n);
        ns_dev_close(p);
    } else {
        ns_dev_close(q);
    }
}

/* 2023-11-14T22:13:20Z in microseconds: the wall-clock offset of the
 * captures below (a real link would use ns_clock_realtime_offset_us()). */
#define WALL_OFFSET_US 1700000000000000ull

static void test_wall_clock_offset(void **state)
{
    (void)state;
    char path[512];
    int keep;
    out_path(path, sizeof(path), ".wall.pcap", &keep);
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, MAC_A, 1500);
    struct ns_pcap_opts o;
    ns_pcap_opts_default(&o);
    assert_int_equal(o.format, NS_PCAP_CLASSIC);
    assert_int_equal(o.ts_offset_us, 0);
    o.ts_offset_us = WALL_OFFSET_US + 123456;
    int err;
    struct ns_dev *p = ns_pcap_wrap_opts(q, path, &o, &err);
    assert_non_null(p);
    uint8_t echo[50];
    arp_out_echo_in(p, q, echo);
    ns_dev_close(p);

    size_t flen;
    const uint8_t *file = slurp(path, &flen);
    check_file_header(file, 1);
    size_t off = 24;
    check_record(file, flen, &off, 1700000001, 623456, ARP_REQ, sizeof(ARP_REQ));
    check_record(file, flen, &off, 1700000002, 123457, echo, sizeof(echo));
    assert_int_equal(off, flen);
    if (!keep)
        unlink(path);
}

/* One pcapng block at *off: its type, body and length, both copies of the
 * length checked; *off moves past it. */
static const uint8_t *ng_block(const uint8_t *file, size_t flen, size_t *off, uint32_t type,
                               uint32_t *body_len)
{
    assert_true(*off + 12 <= flen);
    const uint8_t *b = file + *off;
    assert_int_equal(rd32le(b), type);
    uint32_t total = rd32le(b + 4);
    assert_int_equal(total % 4, 0);
    assert_true(total >= 12 && *off + total <= flen);
    assert_int_equal(rd32le(b + total - 4), total);
    *body_len = total - 12;
    *off += total;
    return b + 8;
}

/* Find option `code` in the options at opt[0..len): its value, or NULL. */
static const uint8_t *ng_option(const uint8_t *opt, uint32_t len, uint16_t code, uint16_t *vlen)
{
    uint32_t i = 0;
    while (i + 4 <= len) {
        uint16_t c = rd16le(opt + i), l = rd16le(opt + i + 2);
        if (c == 0)
            return NULL; /* opt_endofopt */
        assert_true(i + 4 + l <= len);
        if (c == code) {
            *vlen = l;
            return opt + i + 4;
        }
        i += 4 + ((l + 3u) & ~3u);
    }
    fail_msg("options not ended by opt_endofopt");
    return NULL;
}

static void check_epb(const uint8_t *file, size_t flen, size_t *off, uint64_t ts_us,
                      const uint8_t *data, uint32_t len)
{
    uint32_t blen;
    const uint8_t *b = ng_block(file, flen, off, 6, &blen);
    assert_int_equal(blen, 20 + ((len + 3u) & ~3u)); /* no options */
    assert_int_equal(rd32le(b), 0);                  /* interface 0 */
    assert_int_equal(((uint64_t)rd32le(b + 4) << 32) | rd32le(b + 8), ts_us);
    assert_int_equal(rd32le(b + 12), len);
    assert_int_equal(rd32le(b + 16), len);
    assert_memory_equal(b + 20, data, len);
    for (uint32_t i = len; i < ((len + 3u) & ~3u); i++)
        assert_int_equal(b[20 + i], 0); /* padding */
}

static void test_pcapng(void **state)
{
    (void)state;
    char path[512];
    int keep;
    out_path(path, sizeof(path), ".pcapng", &keep);
    /* A device that offers what a TAP with offloads does. */
    struct ns_dev *q = ns_qdev_new("tap7", NS_LINK_ETHER, MAC_A, 1500);
    q->offloads = NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO;
    q->gso_max_size = 65535;
    struct ns_pcap_opts o;
    ns_pcap_opts_default(&o);
    o.format = NS_PCAP_NG;
    o.ts_offset_us = WALL_OFFSET_US;
    int err;
    struct ns_dev *p = ns_pcap_wrap_opts(q, path, &o, &err);
    assert_non_null(p);
    assert_int_equal(p->offloads, q->offloads); /* the wrapper offers what q offers */
    uint8_t echo[50];
    arp_out_echo_in(p, q, echo);
    assert_int_equal(ns_pcap_count(p), 2);
    ns_dev_close(p);

    size_t flen, off = 0;
    const uint8_t *file = slurp(path, &flen);
    uint32_t blen;
    uint16_t vlen;
    /* Section header: byte-order magic, version 1.0, length unknown,
     * the application that wrote it. */
    const uint8_t *shb = ng_block(file, flen, &off, 0x0a0d0d0a, &blen);
    assert_int_equal(rd32le(shb), 0x1a2b3c4d);
    assert_int_equal(rd16le(shb + 4), 1);
    assert_int_equal(rd16le(shb + 6), 0);
    assert_int_equal(rd32le(shb + 8), 0xffffffffu);
    assert_int_equal(rd32le(shb + 12), 0xffffffffu);
    const uint8_t *v = ng_option(shb + 16, blen - 16, 4, &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, strlen("netsock " NS_VERSION));
    assert_memory_equal(v, "netsock " NS_VERSION, vlen);
    /* Interface: Ethernet, the snap length, its name, microseconds, and
     * a comment on the link and its offloads. */
    const uint8_t *idb = ng_block(file, flen, &off, 1, &blen);
    assert_int_equal(rd16le(idb), 1);
    assert_int_equal(rd32le(idb + 4), 262144);
    v = ng_option(idb + 8, blen - 8, 2, &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 4);
    assert_memory_equal(v, "tap7", 4);
    v = ng_option(idb + 8, blen - 8, 9, &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 1);
    assert_int_equal(v[0], 6);
    v = ng_option(idb + 8, blen - 8, 1, &vlen);
    assert_non_null(v);
    char comment[600];
    assert_true(vlen < sizeof(comment));
    memcpy(comment, v, vlen);
    comment[vlen] = '\0';
    assert_non_null(strstr(comment, "ethernet, mtu 1500"));
    assert_non_null(strstr(comment, "offloads: tx-checksum tso(65535 bytes)"));
    assert_non_null(strstr(comment, "checksums may be partial"));
    /* The two frames, on wall-clock time. */
    check_epb(file, flen, &off, WALL_OFFSET_US + 1500000, ARP_REQ, sizeof(ARP_REQ));
    check_epb(file, flen, &off, WALL_OFFSET_US + 2000001, echo, sizeof(echo));
    assert_int_equal(off, flen);
    if (!keep)
        unlink(path);

    /* A TUN-like device without offloads: raw IP, "none"; a name and a
     * comment of the caller's own. */
    out_path(path, sizeof(path), ".raw.pcapng", &keep);
    q = ns_qdev_new("tun0", NS_LINK_IP, NULL, 1400);
    o.if_name = "ns-tun";
    o.comment = "my comment";
    p = ns_pcap_wrap_opts(q, path, &o, &err);
    assert_non_null(p);
    uint8_t ip[36];
    icmp_echo(ip);
    assert_int_equal(xmit_bytes(p, ip, sizeof(ip), 7), 0);
    ns_dev_close(p);
    file = slurp(path, &flen);
    off = 0;
    ng_block(file, flen, &off, 0x0a0d0d0a, &blen);
    idb = ng_block(file, flen, &off, 1, &blen);
    assert_int_equal(rd16le(idb), 101);
    v = ng_option(idb + 8, blen - 8, 2, &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 6);
    assert_memory_equal(v, "ns-tun", 6);
    v = ng_option(idb + 8, blen - 8, 1, &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 10);
    assert_memory_equal(v, "my comment", 10);
    check_epb(file, flen, &off, WALL_OFFSET_US + 7, ip, sizeof(ip));
    assert_int_equal(off, flen);
    unlink(path);

    /* Without a comment of the caller's, a device with no offloads says so. */
    q = ns_qdev_new("tun0", NS_LINK_IP, NULL, 1400);
    o.comment = NULL;
    p = ns_pcap_wrap_opts(q, path, &o, &err);
    assert_non_null(p);
    ns_dev_close(p);
    file = slurp(path, &flen);
    off = 0;
    ng_block(file, flen, &off, 0x0a0d0d0a, &blen);
    idb = ng_block(file, flen, &off, 1, &blen);
    v = ng_option(idb + 8, blen - 8, 1, &vlen);
    assert_non_null(v);
    memcpy(comment, v, vlen);
    comment[vlen] = '\0';
    assert_non_null(strstr(comment, "raw IPv4 (tun), mtu 1400; offloads: none"));
    assert_null(strstr(comment, "partial"));
    assert_int_equal(off, flen);
    unlink(path);

    /* An unknown format is refused; the device stays the caller's. */
    q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    o.format = (enum ns_pcap_format)7;
    err = 0;
    assert_null(ns_pcap_wrap_opts(q, path, &o, &err));
    assert_int_equal(err, -EINVAL);
    assert_int_equal(access(path, F_OK), -1); /* nothing created */
    ns_dev_close(q);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ether_capture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_ip_capture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_clock_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcapng, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
