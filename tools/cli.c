/* tools/cli.c — the command-line conventions of cli.h: one-line errors
 * naming the bad argument and the expected range, exit status 2. */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help_pointer(const char *prog)
{
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    help_pointer(prog);
    return CLI_EXIT_USAGE;
}

int cli_bad_value(const char *prog, const char *opt, const char *v, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: invalid %s value '%s': expected ", prog, opt, v ? v : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    help_pointer(prog);
    return -1;
}

int cli_uint(const char *prog, const char *opt, const char *v, uint64_t lo, uint64_t hi,
             uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    /* strtoull skips white space and takes a sign ("-1" becomes 2^64-1):
     * only digits are a number here. */
    bool shape_ok = v && v[0] >= '0' && v[0] <= '9';
    unsigned long long n = shape_ok ? strtoull(v, &end, 10) : 0;
    if (!shape_ok || *end || errno || n < lo || n > hi)
        return cli_bad_value(prog, opt, v, "an integer from %llu to %llu",
                             (unsigned long long)lo, (unsigned long long)hi);
    *out = n;
    return 0;
}

int cli_num(const char *prog, const char *opt, const char *v, double lo, double hi,
            const char *unit, double *out)
{
    char *end = NULL;
    errno = 0;
    bool shape_ok = v && *v && (v[0] == '.' || (v[0] >= '0' && v[0] <= '9') ||
                                (v[0] == '-' && lo < 0));
    double d = shape_ok ? strtod(v, &end) : 0;
    if (!shape_ok || *end || errno || !isfinite(d) || d < lo || d > hi)
        return cli_bad_value(prog, opt, v, "a number%s%s from %.10g to %.10g", unit ? " of " : "",
                             unit ? unit : "", lo, hi);
    *out = d;
    return 0;
}

int cli_port(const char *prog, const char *opt, const char *v, int lo, uint16_t *out)
{
    char *end = NULL;
    errno = 0;
    bool shape_ok = v && v[0] >= '0' && v[0] <= '9';
    long n = shape_ok ? strtol(v, &end, 10) : -1;
    if (!shape_ok || *end || errno || n < lo || n > 65535)
        return cli_bad_value(prog, opt, v, "a port number from %d to 65535", lo);
    *out = (uint16_t)n;
    return 0;
}

int cli_ipv4(const char *prog, const char *opt, const char *v, struct in_addr *out)
{
    if (!v || inet_pton(AF_INET, v, out) != 1)
        return cli_bad_value(prog, opt, v,
                             "an IPv4 address A.B.C.D (names are not resolved)");
    return 0;
}

int cli_ip(const char *prog, const char *opt, const char *v, union ns_sockaddr *out)
{
    memset(out, 0, sizeof(*out));
    if (v && inet_pton(AF_INET, v, &out->sin.sin_addr) == 1) {
        out->sin.sin_family = AF_INET;
        return 0;
    }
    if (v && inet_pton(AF_INET6, v, &out->sin6.sin6_addr) == 1) {
        out->sin6.sin6_family = AF_INET6;
        return 0;
    }
    return cli_bad_value(prog, opt, v,
                         "an IPv4 address A.B.C.D or an IPv6 address (names are not resolved)");
}

int cli_getopt_error(const char *prog, int c, char **argv, const char *shortopts)
{
    /* glibc has moved optind past a long option, and past a bundle of
     * short ones when the bad one is its last character. */
    const char *arg = optind > 0 ? argv[optind - 1] : NULL;
    bool long_form = arg && arg[0] == '-' && arg[1] == '-';
    int n = long_form ? (int)strcspn(arg, "=") : 0;
    if (c == ':') {
        /* A missing value is always at the end of argv. */
        if (long_form)
            return cli_usage_error(prog, "option '%.*s' needs a value", n, arg);
        return cli_usage_error(prog, "option '-%c' needs a value", optopt);
    }
    if (optopt == 0)
        return cli_usage_error(prog, "unknown or ambiguous option '%.*s'", long_form ? n : 0,
                               long_form ? arg : "");
    bool known_short = optopt > 0 && optopt < 128 && optopt != ':' && strchr(shortopts, optopt);
    if (known_short || optopt >= 128) /* a known option, given a value it does not take */
        return cli_usage_error(prog, "option '%.*s' takes no value", long_form ? n : 0,
                               long_form ? arg : "");
    return cli_usage_error(prog, "unknown option '-%c'", optopt);
}

void cli_getopt_reset(void)
{
    optind = 0; /* glibc: 0 re-initialises getopt completely */
    opterr = 0; /* our own messages (cli_getopt_error) */
}
