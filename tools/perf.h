/* tools/perf.h — the iperf3 protocol as `netsock perf` speaks it: message
 * codes, limits, and the pure pieces of the wire format (the cookie, the
 * JSON parameter and result exchanges, the UDP datagram header, the
 * receiver's loss and jitter accounting, iperf3's number formats). No
 * sockets, no clock: tools/perf.c does the I/O; tests/unit/test_perf_proto.c
 * tests these.
 *
 * The protocol (iperf3 3.x, as 3.12 speaks it; docs/perf.md has the whole
 * sequence):
 *   control  TCP to the server's port: the client's 37-byte cookie, then
 *            one signed byte per state change either way; the parameters
 *            (client to server) and the results (both ways) are JSON
 *            objects, each after its length as a 4-byte big-endian count.
 *   TCP data one connection per stream to the same port, opened with the
 *            cookie; then the sender writes blocks of `len` bytes.
 *   UDP data one socket per stream to the same port: the client sends a
 *            4-byte hello, the server answers 4 bytes from the socket it
 *            connected to the client; then datagrams of `len` bytes, each
 *            starting with seconds, microseconds and a sequence number.
 */
#ifndef NS_TOOLS_PERF_H
#define NS_TOOLS_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* State bytes on the control connection (iperf3's iperf_api.h values). */
enum perf_state {
    PERF_TEST_START = 1,
    PERF_TEST_RUNNING = 2,
    PERF_TEST_END = 4,
    PERF_PARAM_EXCHANGE = 9,
    PERF_CREATE_STREAMS = 10,
    PERF_SERVER_TERMINATE = 11,
    PERF_CLIENT_TERMINATE = 12,
    PERF_EXCHANGE_RESULTS = 13,
    PERF_DISPLAY_RESULTS = 14,
    PERF_IPERF_START = 15,
    PERF_IPERF_DONE = 16,
    PERF_ACCESS_DENIED = -1,
    PERF_SERVER_ERROR = -2,
};

/* iperf3's error numbers that cross the wire after SERVER_ERROR (the
 * client prints its own text for them). */
enum {
    PERF_IE_UNIMP = 13,         /* not implemented */
    PERF_IE_RECVPARAMS = 114,   /* unable to receive parameters */
    PERF_IE_STREAMLISTEN = 202, /* unable to start the stream listener */
};

/* iperf3's text for the error numbers a client may hear (and for a few
 * others), "" for one it does not know. */
const char *perf_strerror(int ie);

#define PERF_COOKIE_SIZE 37 /* 36 characters and a NUL, as sent */
#define PERF_DEFAULT_PORT 5201
#define PERF_DEFAULT_TCP_LEN (128 * 1024)
#define PERF_DEFAULT_UDP_LEN 1460 /* when the control connection's MSS is unknown */
#define PERF_DEFAULT_UDP_RATE (1024 * 1024) /* bits/s, iperf3's UDP_RATE */
#define PERF_DEFAULT_TIME 10

/* Limits (iperf3's MAX_* where it has them). A peer's value outside them
 * is refused, never trusted: each one sizes a buffer, a loop or a table. */
#define PERF_MAX_STREAMS 128
#define PERF_MAX_TIME 86400        /* seconds */
#define PERF_MAX_OMIT 600          /* seconds */
#define PERF_MAX_LEN (1024 * 1024) /* bytes per TCP read/write */
#define PERF_MAX_UDP_LEN 65507     /* the largest IPv4 UDP payload */
#define PERF_MIN_UDP_LEN 16        /* room for the 64-bit-counter header */
#define PERF_MAX_JSON (256 * 1024) /* one parameter or result message */

/* UDP stream set-up datagrams (4 bytes, in the sender's byte order).
 * iperf3 before 3.13 sent 123456789 and answered 987654321; later ones
 * send "6789"/"9876" as ints. Any 4 bytes open a stream at a server;
 * a client accepts either answer. */
#define PERF_UDP_CONNECT_MSG 0x36373839u
#define PERF_UDP_CONNECT_REPLY 0x39383736u
#define PERF_UDP_LEGACY_CONNECT_MSG 123456789u
#define PERF_UDP_LEGACY_CONNECT_REPLY 987654321u

/* Fill cookie[PERF_COOKIE_SIZE] from 36 random bytes: 36 characters of
 * iperf3's alphabet (a-z, 2-7) and a NUL. */
void perf_cookie_make(const uint8_t random[PERF_COOKIE_SIZE - 1], char cookie[PERF_COOKIE_SIZE]);

/* True when the 37 bytes received are a cookie as perf_cookie_make makes
 * them (NUL-terminated, every character from the alphabet). */
bool perf_cookie_valid(const char cookie[PERF_COOKIE_SIZE]);

/* The test parameters: what the client sends in PARAM_EXCHANGE. */
struct perf_params {
    bool udp;            /* "udp" (else "tcp") */
    bool sctp;           /* "sctp": refused */
    bool reverse;        /* "reverse": the server sends */
    bool bidir;          /* "bidirectional": refused */
    bool nodelay;        /* "nodelay": TCP_NODELAY */
    bool udp64;          /* "udp_counters_64bit" */
    bool server_output;  /* "get_server_output": refused */
    int omit;            /* seconds left out of the results at the start */
    int duration;        /* "time", seconds (0: until num/blockcount) */
    uint64_t bytes;      /* "num": stop after this many bytes (0: no) */
    uint64_t blocks;     /* "blockcount" */
    int mss;             /* "MSS": TCP_MAXSEG (0: default) */
    int parallel;        /* streams */
    int window;          /* "window": SO_SNDBUF/SO_RCVBUF (0: default) */
    int len;             /* block / datagram size */
    uint64_t rate;       /* "bandwidth", bits/s (0: unlimited) */
    int pacing_timer;    /* microseconds between rate checks */
    int tos;             /* "TOS" */
    char congestion[16]; /* "congestion": TCP_CONGESTION ("" none) */
    char client_version[32];
};

/* Defaults as the iperf3 client starts from (TCP, 10 s, one stream). */
void perf_params_default(struct perf_params *p);

/* The JSON object for p (malloc'd, caller frees), as the iperf3 client
 * writes it; NULL when out of memory. */
char *perf_params_json(const struct perf_params *p);

/* Parse a parameter object (len bytes, not necessarily NUL-terminated)
 * into p (defaults for what is absent). Returns 0, or -1 with a reason in
 * err when it is not a JSON object or a value is out of range. */
int perf_params_parse(const char *json, size_t len, struct perf_params *p, char *err,
                      size_t errlen);

/* One stream's entry in the results exchange. */
struct perf_stream_result {
    int id;
    uint64_t bytes;          /* sent (sender) or received (receiver) */
    int64_t retransmits;     /* -1: not the sender, or not known */
    double jitter_s;         /* UDP receiver: seconds */
    int64_t errors;          /* UDP receiver: datagrams lost */
    int64_t omitted_errors;
    int64_t packets;         /* UDP: sent, or the highest sequence received */
    int64_t omitted_packets;
    double start_time, end_time; /* seconds from the test's start */
};

/* The results object each side sends at EXCHANGE_RESULTS. */
struct perf_results {
    double cpu_total, cpu_user, cpu_system; /* percent */
    int sender_has_retransmits;             /* 1, 0, or -1 (a receiver) */
    char congestion_used[16];               /* "" when none */
    int nstreams;
    struct perf_stream_result streams[PERF_MAX_STREAMS];
};

/* The JSON object for r (malloc'd), NULL when out of memory. */
char *perf_results_json(const struct perf_results *r);

/* Parse a results object. Returns 0, or -1 with a reason in err (not an
 * object, a required member missing, more than PERF_MAX_STREAMS streams). */
int perf_results_parse(const char *json, size_t len, struct perf_results *r, char *err,
                       size_t errlen);

/* The header at the start of every UDP datagram: the send time (seconds
 * and microseconds of the sender's clock) and the sequence number (from
 * 1), all big-endian; the sequence is 32 bits, or 64 when the test
 * negotiated udp_counters_64bit. */
struct perf_udp_hdr {
    uint32_t sec, usec;
    uint64_t seq;
};
#define PERF_UDP_HDR_LEN32 12
#define PERF_UDP_HDR_LEN64 16

static inline size_t perf_udp_hdr_len(bool c64)
{
    return c64 ? PERF_UDP_HDR_LEN64 : PERF_UDP_HDR_LEN32;
}

/* Write h at buf (perf_udp_hdr_len(c64) bytes; a 32-bit sequence keeps
 * the low 32 bits). */
void perf_udp_hdr_encode(uint8_t *buf, const struct perf_udp_hdr *h, bool c64);

/* Read the header of a datagram of len bytes. Returns 0, or -1 when the
 * datagram is too short to hold one. */
int perf_udp_hdr_decode(const uint8_t *buf, size_t len, bool c64, struct perf_udp_hdr *h);

/* The receiver's accounting for one UDP stream. */
struct perf_udp_rx {
    uint64_t packet_count; /* the highest sequence number seen */
    uint64_t cnt_error;    /* datagrams lost (sequence gaps, less late arrivals) */
    uint64_t outoforder;   /* datagrams that arrived after a higher sequence */
    uint64_t datagrams;    /* datagrams counted */
    double jitter_s;       /* RFC 3550 §6.4.1 interarrival jitter, seconds */
    int64_t prev_transit_us; /* arrival minus send time of the last datagram */
};

/* Account for one datagram with header h that arrived at arrival_us (the
 * receiver's clock, microseconds). Loss and reordering as iperf3 counts
 * them: a sequence above the next expected one counts the gap as lost; a
 * sequence at or below the highest seen is out of order and takes one
 * back from the losses. Jitter per RFC 3550 §6.4.1 (RFC 1889 §6.3.1,
 * A.8): D = the difference of the relative transit times of this datagram
 * and the previous one, J += (|D| - J) / 16; the first datagram only
 * sets the reference transit. The clocks need not agree: only the
 * differences of transit times count. */
void perf_udp_rx_datagram(struct perf_udp_rx *rx, const struct perf_udp_hdr *h,
                          uint64_t arrival_us);

/* iperf3's adaptive units, in four significant places: a byte count in
 * powers of 1024 ("2.27 GBytes", "767 KBytes", " 256 Bytes"), a rate in
 * bits per second in powers of 1000 ("19.5 Gbits/sec"). */
void perf_fmt_bytes(char *out, size_t n, double bytes);
void perf_fmt_rate(char *out, size_t n, double bytes_per_s);

/* Parse a rate (bits/s) with an optional K/M/G/T suffix (powers of 1000),
 * or a size with K/M/G (powers of 1024), as iperf3's -b and -l take them.
 * Returns 0 or -1 when s is not a number, is negative, or has junk. */
int perf_parse_rate(const char *s, uint64_t *bps);
int perf_parse_size(const char *s, uint64_t *bytes);

#endif
