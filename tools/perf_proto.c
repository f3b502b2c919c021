/* tools/perf_proto.c — the pure pieces of the iperf3 protocol: cookie,
 * parameter and result JSON (cJSON), UDP header, loss and jitter
 * accounting, iperf3's number formats. See tools/perf.h. */
#include "perf.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cookie_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

void perf_cookie_make(const uint8_t random[PERF_COOKIE_SIZE - 1], char cookie[PERF_COOKIE_SIZE])
{
    for (int i = 0; i < PERF_COOKIE_SIZE - 1; i++)
        cookie[i] = cookie_alphabet[random[i] % 32]; /* 32 symbols: no bias */
    cookie[PERF_COOKIE_SIZE - 1] = 0;
}

bool perf_cookie_valid(const char cookie[PERF_COOKIE_SIZE])
{
    if (cookie[PERF_COOKIE_SIZE - 1] != 0)
        return false;
    for (int i = 0; i < PERF_COOKIE_SIZE - 1; i++)
        if (!cookie[i] || !strchr(cookie_alphabet, cookie[i]))
            return false;
    return true;
}

const char *perf_strerror(int ie)
{
    switch (ie) {
    case PERF_IE_UNIMP: return "an option you are trying to set is not implemented yet";
    case PERF_IE_RECVPARAMS: return "unable to receive parameters from client";
    case 119: return "the client has terminated";
    case 120: return "the server has terminated";
    case 121: return "the server is busy running a test. try again later";
    case 131: return "protocol does not exist";
    case PERF_IE_STREAMLISTEN: return "unable to start stream listener";
    case 203: return "unable to connect stream";
    case 204: return "unable to accept stream connection";
    case 208: return "stream has an invalid id";
    default: return "";
    }
}

void perf_params_default(struct perf_params *p)
{
    memset(p, 0, sizeof(*p));
    p->duration = PERF_DEFAULT_TIME;
    p->parallel = 1;
    p->len = PERF_DEFAULT_TCP_LEN;
    p->pacing_timer = 1000;
}

char *perf_params_json(const struct perf_params *p)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    /* Members in the order the iperf3 client writes them (send_parameters). */
    cJSON_AddTrueToObject(j, p->udp ? "udp" : "tcp");
    cJSON_AddNumberToObject(j, "omit", p->omit);
    cJSON_AddNumberToObject(j, "time", p->duration);
    if (p->bytes)
        cJSON_AddNumberToObject(j, "num", (double)p->bytes);
    if (p->blocks)
        cJSON_AddNumberToObject(j, "blockcount", (double)p->blocks);
    if (p->mss)
        cJSON_AddNumberToObject(j, "MSS", p->mss);
    if (p->nodelay)
        cJSON_AddTrueToObject(j, "nodelay");
    cJSON_AddNumberToObject(j, "parallel", p->parallel);
    if (p->reverse)
        cJSON_AddTrueToObject(j, "reverse");
    if (p->window)
        cJSON_AddNumberToObject(j, "window", p->window);
    if (p->len)
        cJSON_AddNumberToObject(j, "len", p->len);
    if (p->rate)
        cJSON_AddNumberToObject(j, "bandwidth", (double)p->rate);
    if (p->pacing_timer)
        cJSON_AddNumberToObject(j, "pacing_timer", p->pacing_timer);
    if (p->tos)
        cJSON_AddNumberToObject(j, "TOS", p->tos);
    if (p->congestion[0])
        cJSON_AddStringToObject(j, "congestion", p->congestion);
    if (p->udp64)
        cJSON_AddNumberToObject(j, "udp_counters_64bit", 1);
    cJSON_AddStringToObject(j, "client_version", p->client_version[0] ? p->client_version : "3.12");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* A number member in [lo, hi]: 0 (absent: *out untouched), 1 (set), -1
 * (not a number or out of range; err filled). */
static int get_num(const cJSON *j, const char *name, double lo, double hi, double *out, char *err,
                   size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || isnan(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        snprintf(err, errlen, "\"%s\" is not a number in [%.0f, %.0f]", name, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 1;
}

/* A flag: present (whatever its value, as iperf3 reads it) or not. */
static bool has(const cJSON *j, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(j, name) != NULL;
}

static void get_str(const cJSON *j, const char *name, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (cJSON_IsString(v) && v->valuestring)
        snprintf(out, n, "%s", v->valuestring);
}

static cJSON *parse_object(const char *json, size_t len, char *err, size_t errlen)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j || !cJSON_IsObject(j)) {
        snprintf(err, errlen, "not a JSON object");
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

int perf_params_parse(const char *json, size_t len, struct perf_params *p, char *err,
                      size_t errlen)
{
    perf_params_default(p);
    cJSON *j = parse_object(json, len, err, errlen);
    if (!j)
        return -1;
    p->udp = has(j, "udp");
    p->sctp = has(j, "sctp");
    p->reverse = has(j, "reverse");
    p->bidir = has(j, "bidirectional");
    p->nodelay = has(j, "nodelay");
    p->udp64 = has(j, "udp_counters_64bit");
    p->server_output = has(j, "get_server_output");
    struct {
        const char *name;
        double lo, hi;
        int *i;
        uint64_t *u;
    } nums[] = {
        {"omit", 0, PERF_MAX_OMIT, &p->omit, NULL},
        {"time", 0, PERF_MAX_TIME, &p->duration, NULL},
        {"num", 0, 9007199254740992.0, NULL, &p->bytes},
        {"blockcount", 0, 9007199254740992.0, NULL, &p->blocks},
        {"MSS", 0, 9216, &p->mss, NULL},
        {"parallel", 1, PERF_MAX_STREAMS, &p->parallel, NULL},
        {"window", 0, 1 << 30, &p->window, NULL},
        {"len", 1, PERF_MAX_LEN, &p->len, NULL},
        {"bandwidth", 0, 1e15, NULL, &p->rate},
        {"pacing_timer", 0, 1000000, &p->pacing_timer, NULL},
        {"TOS", 0, 255, &p->tos, NULL},
    };
    int rc = 0;
    for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]) && rc == 0; k++) {
        double v;
        int r = get_num(j, nums[k].name, nums[k].lo, nums[k].hi, &v, err, errlen);
        if (r < 0)
            rc = -1;
        else if (r > 0 && nums[k].i)
            *nums[k].i = (int)v;
        else if (r > 0)
            *nums[k].u = (uint64_t)v;
    }
    get_str(j, "congestion", p->congestion, sizeof(p->congestion));
    get_str(j, "client_version", p->client_version, sizeof(p->client_version));
    if (rc == 0 && p->udp && (p->len < PERF_MIN_UDP_LEN || p->len > PERF_MAX_UDP_LEN)) {
        snprintf(err, errlen, "UDP \"len\" %d outside [%d, %d]", p->len, PERF_MIN_UDP_LEN,
                 PERF_MAX_UDP_LEN);
        rc = -1;
    }
    cJSON_Delete(j);
    return rc;
}

char *perf_results_json(const struct perf_results *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "cpu_util_total", r->cpu_total);
    cJSON_AddNumberToObject(j, "cpu_util_user", r->cpu_user);
    cJSON_AddNumberToObject(j, "cpu_util_system", r->cpu_system);
    cJSON_AddNumberToObject(j, "sender_has_retransmits", r->sender_has_retransmits);
    if (r->congestion_used[0])
        cJSON_AddStringToObject(j, "congestion_used", r->congestion_used);
    cJSON *a = cJSON_AddArrayToObject(j, "streams");
    for (int i = 0; a && i < r->nstreams; i++) {
        const struct perf_stream_result *s = &r->streams[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            a = NULL;
            break;
        }
        cJSON_AddNumberToObject(o, "id", s->id);
        cJSON_AddNumberToObject(o, "bytes", (double)s->bytes);
        cJSON_AddNumberToObject(o, "retransmits", (double)s->retransmits);
        cJSON_AddNumberToObject(o, "jitter", s->jitter_s);
        cJSON_AddNumberToObject(o, "errors", (double)s->errors);
        cJSON_AddNumberToObject(o, "omitted_errors", (double)s->omitted_errors);
        cJSON_AddNumberToObject(o, "packets", (double)s->packets);
        cJSON_AddNumberToObject(o, "omitted_packets", (double)s->omitted_packets);
        cJSON_AddNumberToObject(o, "start_time", s->start_time);
        cJSON_AddNumberToObject(o, "end_time", s->end_time);
    }
    char *out = a ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return out;
}

static double num_or(const cJSON *o, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && !isnan(v->valuedouble) ? v->valuedouble : dflt;
}

/* A count that fits int64_t, else dflt: iperf3 3.12 writes "not known"
 * retransmits as -1 cast to unsigned 64 bits (18446744073709551615), and
 * converting a double outside the range of the type is undefined in C. */
static int64_t count_or(const cJSON *o, const char *name, int64_t dflt)
{
    double v = num_or(o, name, (double)dflt);
    return v >= -9.2e18 && v <= 9.2e18 ? (int64_t)v : dflt;
}

int perf_results_parse(const char *json, size_t len, struct perf_results *r, char *err,
                       size_t errlen)
{
    memset(r, 0, sizeof(*r));
    cJSON *j = parse_object(json, len, err, errlen);
    if (!j)
        return -1;
    int rc = -1;
    /* The members iperf3's get_results requires. */
    static const char *const top[] = {"cpu_util_total", "cpu_util_user", "cpu_util_system",
                                      "sender_has_retransmits"};
    for (size_t k = 0; k < sizeof(top) / sizeof(top[0]); k++) {
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, top[k]))) {
            snprintf(err, errlen, "no \"%s\"", top[k]);
            goto out;
        }
    }
    r->cpu_total = num_or(j, "cpu_util_total", 0);
    r->cpu_user = num_or(j, "cpu_util_user", 0);
    r->cpu_system = num_or(j, "cpu_util_system", 0);
    r->sender_has_retransmits = (int)count_or(j, "sender_has_retransmits", -1);
    get_str(j, "congestion_used", r->congestion_used, sizeof(r->congestion_used));
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "streams");
    if (!cJSON_IsArray(a)) {
        snprintf(err, errlen, "no \"streams\" array");
        goto out;
    }
    if (cJSON_GetArraySize(a) > PERF_MAX_STREAMS) {
        snprintf(err, errlen, "more than %d streams", PERF_MAX_STREAMS);
        goto out;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, a)
    {
        static const char *const req[] = {"id", "bytes", "retransmits", "jitter", "errors",
                                          "packets"};
        for (size_t k = 0; k < sizeof(req) / sizeof(req[0]); k++) {
            if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, req[k]))) {
                snprintf(err, errlen, "stream %d: no \"%s\"", r->nstreams, req[k]);
                goto out;
            }
        }
        struct perf_stream_result *s = &r->streams[r->nstreams++];
        double bytes = num_or(o, "bytes", 0);
        s->id = (int)count_or(o, "id", 0);
        s->bytes = bytes > 0 && bytes < 1.8e19 ? (uint64_t)bytes : 0;
        s->retransmits = count_or(o, "retransmits", -1);
        s->jitter_s = num_or(o, "jitter", 0);
        s->errors = count_or(o, "errors", 0);
        s->omitted_errors = count_or(o, "omitted_errors", 0);
        s->packets = count_or(o, "packets", 0);
        s->omitted_packets = count_or(o, "omitted_packets", 0);
        /* Servers before 3.2 sent no times: 0 then means "unknown". */
        s->start_time = num_or(o, "start_time", 0);
        s->end_time = num_or(o, "end_time", 0);
    }
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void perf_udp_hdr_encode(uint8_t *buf, const struct perf_udp_hdr *h, bool c64)
{
    put_be32(buf, h->sec);
    put_be32(buf + 4, h->usec);
    if (c64) {
        put_be32(buf + 8, (uint32_t)(h->seq >> 32));
        put_be32(buf + 12, (uint32_t)h->seq);
    } else {
        put_be32(buf + 8, (uint32_t)h->seq);
    }
}

int perf_udp_hdr_decode(const uint8_t *buf, size_t len, bool c64, struct perf_udp_hdr *h)
{
    if (len < perf_udp_hdr_len(c64))
        return -1;
    h->sec = get_be32(buf);
    h->usec = get_be32(buf + 4);
    h->seq = c64 ? (uint64_t)get_be32(buf + 8) << 32 | get_be32(buf + 12) : get_be32(buf + 8);
    return 0;
}

void perf_udp_rx_datagram(struct perf_udp_rx *rx, const struct perf_udp_hdr *h,
                          uint64_t arrival_us)
{
    if (h->seq >= rx->packet_count + 1) {
        if (h->seq > rx->packet_count + 1)
            rx->cnt_error += h->seq - 1 - rx->packet_count;
        rx->packet_count = h->seq;
    } else {
        rx->outoforder++;
        if (rx->cnt_error > 0)
            rx->cnt_error--; /* it was counted lost when the gap opened */
    }
    /* RFC 3550 §6.4.1: the relative transit time R - S in the same units
     * for both; the offset between the clocks cancels in the difference.
     * In whole microseconds, so that equal transits give D = 0 exactly
     * (wrapping arithmetic: the clocks may be any distance apart). */
    uint64_t sent_us = (uint64_t)h->sec * 1000000u + h->usec;
    int64_t transit = (int64_t)(arrival_us - sent_us);
    if (rx->datagrams == 0)
        rx->prev_transit_us = transit;
    uint64_t d = transit >= rx->prev_transit_us ? (uint64_t)transit - (uint64_t)rx->prev_transit_us
                                                : (uint64_t)rx->prev_transit_us - (uint64_t)transit;
    rx->prev_transit_us = transit;
    rx->jitter_s += ((double)d / 1e6 - rx->jitter_s) / 16.0;
    rx->datagrams++;
}

/* Scale v by `base` until it is below base (at most to tera) and print it
 * in four places: 9.99, 99.9, 999 (1000-1023 for bytes print as 4 digits). */
static void fmt_units(char *out, size_t n, double v, double base, const char *const units[5],
                      const char *tail)
{
    int u = 0;
    while (v >= base && u < 4) {
        v /= base;
        u++;
    }
    int prec = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
    snprintf(out, n, "%4.*f %s%s", prec, v, units[u], tail);
}

void perf_fmt_bytes(char *out, size_t n, double bytes)
{
    static const char *const units[5] = {"Bytes", "KBytes", "MBytes", "GBytes", "TBytes"};
    fmt_units(out, n, bytes, 1024.0, units, "");
}

void perf_fmt_rate(char *out, size_t n, double bytes_per_s)
{
    static const char *const units[5] = {"bits", "Kbits", "Mbits", "Gbits", "Tbits"};
    fmt_units(out, n, bytes_per_s * 8, 1000.0, units, "/sec");
}

static int parse_scaled(const char *s, double base, uint64_t *out)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    double v = strtod(s, &end);
    if (end == s || isnan(v) || v < 0)
        return -1;
    switch (*end) {
    case 't': case 'T': v *= base; /* fall through */
    case 'g': case 'G': v *= base; /* fall through */
    case 'm': case 'M': v *= base; /* fall through */
    case 'k': case 'K': v *= base; end++; break;
    default: break;
    }
    if (*end || v >= 1.8e19)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int perf_parse_rate(const char *s, uint64_t *bps)
{
    return parse_scaled(s, 1000.0, bps);
}

int perf_parse_size(const char *s, uint64_t *bytes)
{
    return parse_scaled(s, 1024.0, bytes);
}
