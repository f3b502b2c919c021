/* dev/impair_spec.c — parse impairment specs ("loss=1%,delay=20ms,...")
 * into struct ns_link_params. See ns_link_params_parse in
 * include/netsock/dev.h for the grammar.
 *
 * Units follow tc(8) so a spec reads like a netem command line: rates in
 * bit (x1000 prefixes) or bps (bytes/s), sizes with k/m (x1024). Numbers
 * are parsed with strtod/strtoull and then checked whole: "20msx", "1e400"
 * or "-1%" are errors, never silently something else.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netsock/dev.h"

#define SPEC_KEY_MAX 32
#define SPEC_VAL_MAX 64
#define REORDER_DELAY_DEFAULT_US 10000u

struct spec_err {
    char *buf;
    size_t len;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct spec_err *e, const char *fmt, ...)
{
    if (e->buf && e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* A finite non-negative decimal number at the start of s; *end after it. */
static bool parse_number(const char *s, double *v, const char **end)
{
    if (!(*s >= '0' && *s <= '9') && *s != '.')
        return false; /* no sign, no "inf"/"nan", no hex floats */
    char *e;
    errno = 0;
    double d = strtod(s, &e);
    if (e == s || errno == ERANGE || !isfinite(d) || d < 0)
        return false;
    *v = d;
    *end = e;
    return true;
}

static int parse_prob(const char *key, const char *val, double *out, struct spec_err *e)
{
    double v;
    const char *end;
    if (!parse_number(val, &v, &end))
        return fail(e, "%s=%s: not a probability (write 1%% or 0.01)", key, val);
    if (!strcmp(end, "%")) {
        if (v > 100)
            return fail(e, "%s=%s: a percentage must be at most 100%%", key, val);
        *out = v / 100.0;
        return 0;
    }
    if (*end)
        return fail(e, "%s=%s: unexpected \"%s\" (write 1%% or 0.01)", key, val, end);
    if (v > 1)
        return fail(e, "%s=%s: a fraction must be in [0, 1]; write %s%% for a percentage", key,
                    val, val);
    *out = v;
    return 0;
}

static int parse_time(const char *key, const char *val, uint64_t *out_us, struct spec_err *e)
{
    double v;
    const char *end;
    if (!parse_number(val, &v, &end))
        return fail(e, "%s=%s: not a time (write e.g. 20ms, 500us or 1s)", key, val);
    double mult;
    if (!strcmp(end, "us"))
        mult = 1;
    else if (!strcmp(end, "ms"))
        mult = 1e3;
    else if (!strcmp(end, "s"))
        mult = 1e6;
    else if (!*end && v == 0)
        mult = 0;
    else if (!*end)
        return fail(e, "%s=%s: missing unit (us, ms or s)", key, val);
    else
        return fail(e, "%s=%s: unknown unit \"%s\" (us, ms or s)", key, val, end);
    double us = v * mult;
    if (us > 1e15) /* about 31 years: a typo, not a delay */
        return fail(e, "%s=%s: too large", key, val);
    *out_us = (uint64_t)llround(us);
    return 0;
}

static int parse_rate(const char *key, const char *val, uint64_t *out_bps, struct spec_err *e)
{
    static const struct {
        const char *unit;
        double bits;
    } units[] = {
        {"bit", 1},  {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9},
        {"bps", 8},  {"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9},
    };
    double v;
    const char *end;
    if (!parse_number(val, &v, &end))
        return fail(e, "%s=%s: not a rate (write e.g. 100mbit)", key, val);
    if (!*end && v == 0) {
        *out_bps = 0;
        return 0;
    }
    if (!*end)
        return fail(e, "%s=%s: missing unit (bit, kbit, mbit, gbit, or bps, kbps, mbps, gbps "
                       "for bytes/s)", key, val);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].unit))
            continue;
        double bps = v * units[i].bits;
        if (bps > 1e15)
            return fail(e, "%s=%s: too large", key, val);
        if (bps < 1)
            return fail(e, "%s=%s: below 1 bit/s (use 0 for unlimited)", key, val);
        *out_bps = (uint64_t)llround(bps);
        return 0;
    }
    return fail(e, "%s=%s: unknown unit \"%s\" (bit, kbit, mbit, gbit, bps, kbps, mbps, gbps)",
                key, val, end);
}

/* A whole unsigned integer (decimal, or 0x hex when hex is allowed). */
static bool parse_uint(const char *s, bool hex, uint64_t *v, const char **end)
{
    if (!(*s >= '0' && *s <= '9'))
        return false;
    char *e;
    errno = 0;
    unsigned long long x = strtoull(s, &e, hex ? 0 : 10);
    if (e == s || errno == ERANGE)
        return false;
    *v = x;
    *end = e;
    return true;
}

static int parse_bytes(const char *key, const char *val, uint32_t *out, struct spec_err *e)
{
    uint64_t v;
    const char *end;
    if (!parse_uint(val, false, &v, &end))
        return fail(e, "%s=%s: not a size in bytes (write e.g. 65536 or 64k)", key, val);
    uint64_t mult = 1;
    if (!strcasecmp(end, "k") || !strcasecmp(end, "kb"))
        mult = 1024;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb"))
        mult = 1024 * 1024;
    else if (*end && strcasecmp(end, "b"))
        return fail(e, "%s=%s: unknown unit \"%s\" (none, b, k or m)", key, val, end);
    if (v > UINT32_MAX / mult)
        return fail(e, "%s=%s: too large (at most 4 GiB)", key, val);
    *out = (uint32_t)(v * mult);
    return 0;
}

static int parse_mtu(const char *key, const char *val, uint32_t *out, struct spec_err *e)
{
    uint64_t v;
    const char *end;
    if (!parse_uint(val, false, &v, &end) || *end)
        return fail(e, "%s=%s: not a number of bytes", key, val);
    if (v != 0 && (v < 68 || v > 65535)) /* RFC 791: every link carries 68 */
        return fail(e, "%s=%s: must be 0 (no limit) or 68..65535", key, val);
    *out = (uint32_t)v;
    return 0;
}

static int parse_seed(const char *key, const char *val, uint64_t *out, struct spec_err *e)
{
    uint64_t v;
    const char *end;
    if (!parse_uint(val, true, &v, &end) || *end)
        return fail(e, "%s=%s: not an unsigned integer", key, val);
    *out = v;
    return 0;
}

int ns_link_params_parse(const char *spec, struct ns_link_params *out, uint64_t *seed,
                         char *errbuf, size_t errlen)
{
    struct spec_err e = {errbuf, errlen};
    if (errbuf && errlen)
        errbuf[0] = 0;
    if (!spec || !out)
        return fail(&e, "no spec");
    struct ns_link_params p = *out;
    uint64_t s = seed ? *seed : 0;
    bool reorder_delay_given = false;

    const char *item = spec;
    while (*item) {
        const char *comma = strchr(item, ',');
        size_t item_len = comma ? (size_t)(comma - item) : strlen(item);
        const char *eq = memchr(item, '=', item_len);
        if (item_len == 0)
            return fail(&e, "empty item in \"%s\"", spec);
        if (!eq)
            return fail(&e, "\"%.*s\": expected key=value", (int)item_len, item);
        size_t klen = (size_t)(eq - item), vlen = item_len - klen - 1;
        if (klen == 0)
            return fail(&e, "\"%.*s\": missing key", (int)item_len, item);
        if (klen >= SPEC_KEY_MAX || vlen >= SPEC_VAL_MAX)
            return fail(&e, "\"%.*s\": too long", (int)item_len, item);
        if (vlen == 0)
            return fail(&e, "%.*s: missing value", (int)klen, item);
        char key[SPEC_KEY_MAX], val[SPEC_VAL_MAX];
        memcpy(key, item, klen);
        key[klen] = 0;
        memcpy(val, eq + 1, vlen);
        val[vlen] = 0;

        int rc;
        if (!strcmp(key, "loss"))
            rc = parse_prob(key, val, &p.loss, &e);
        else if (!strcmp(key, "dup"))
            rc = parse_prob(key, val, &p.dup, &e);
        else if (!strcmp(key, "reorder"))
            rc = parse_prob(key, val, &p.reorder, &e);
        else if (!strcmp(key, "corrupt"))
            rc = parse_prob(key, val, &p.corrupt, &e);
        else if (!strcmp(key, "delay"))
            rc = parse_time(key, val, &p.delay_us, &e);
        else if (!strcmp(key, "jitter"))
            rc = parse_time(key, val, &p.jitter_us, &e);
        else if (!strcmp(key, "reorder_delay")) {
            rc = parse_time(key, val, &p.reorder_delay_us, &e);
            reorder_delay_given = true;
        } else if (!strcmp(key, "rate"))
            rc = parse_rate(key, val, &p.rate_bps, &e);
        else if (!strcmp(key, "queue"))
            rc = parse_bytes(key, val, &p.queue_bytes, &e);
        else if (!strcmp(key, "mtu"))
            rc = parse_mtu(key, val, &p.mtu, &e);
        else if (!strcmp(key, "seed")) {
            if (!seed)
                return fail(&e, "seed=%s: no seed accepted here", val);
            rc = parse_seed(key, val, &s, &e);
        } else
            return fail(&e, "unknown key \"%s\" (loss, dup, reorder, corrupt, delay, jitter, "
                            "reorder_delay, rate, queue, mtu, seed)", key);
        if (rc < 0)
            return rc;
        if (!comma)
            break;
        item = comma + 1;
        if (!*item)
            return fail(&e, "trailing comma in \"%s\"", spec);
    }
    /* Reordering needs a hold-back time to mean anything. */
    if (p.reorder > 0 && !reorder_delay_given && p.reorder_delay_us == 0)
        p.reorder_delay_us = REORDER_DELAY_DEFAULT_US;
    *out = p;
    if (seed)
        *seed = s;
    return 0;
}
