/* tools/cli.h — command-line conventions shared by every netsock
 * subcommand (man/netsock-*.1 document them for users):
 *
 *   - options are parsed with getopt_long: bundled flags (-qn), values
 *     attached or not (-c1, -c 1, --count=1, --count 1), `--` ends them;
 *   - a bad argument gets ONE line on stderr naming it and what was
 *     expected, e.g.
 *         netsock ping: invalid -c value 'abc': expected an integer from 1 to 2147483647
 *     followed by a pointer to --help (never the whole usage text);
 *   - exit status 2 for usage errors (CLI_EXIT_USAGE), 1 for failures at
 *     run time (CLI_EXIT_FAIL), 0 for success.
 *
 * Every parser returns 0 with the value stored, or -1 after printing the
 * error line; `prog` is the command's name as the user sees it ("netsock
 * ping") and `opt` the option as typed ("-c", "--http-port").
 */
#ifndef NS_TOOLS_CLI_H
#define NS_TOOLS_CLI_H

#include <getopt.h>
#include <netinet/in.h>
#include <netsock/socket.h>
#include <stdbool.h>
#include <stdint.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Print "PROG: MESSAGE" and the --help pointer to stderr; returns
 * CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "PROG: invalid OPT value 'V': expected WHAT" and the --help
 * pointer. Returns -1. */
int cli_bad_value(const char *prog, const char *opt, const char *v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A decimal integer in [lo, hi]: digits only (no sign, no white space,
 * nothing after them), no overflow. */
int cli_uint(const char *prog, const char *opt, const char *v, uint64_t lo, uint64_t hi,
             uint64_t *out);

/* A decimal number (fractions allowed: "0.2", "1e-3") in [lo, hi];
 * `unit` ("seconds", "percent" or NULL) names what it counts in the error. */
int cli_num(const char *prog, const char *opt, const char *v, double lo, double hi,
            const char *unit, double *out);

/* A port number from `lo` (0 or 1) to 65535. */
int cli_port(const char *prog, const char *opt, const char *v, int lo, uint16_t *out);

/* A dotted-quad IPv4 address (no names: nothing is resolved). */
int cli_ipv4(const char *prog, const char *opt, const char *v, struct in_addr *out);
/* An IPv4 or IPv6 address in numeric form into out (family set, port 0),
 * or the usage error (CLI_EXIT_USAGE's caller returns it) as cli_ipv4. */
int cli_ip(const char *prog, const char *opt, const char *v, union ns_sockaddr *out);

/* The option getopt_long could not take, as the user typed it: "-x" for
 * a short option (also inside a bundle such as "-qx"), "--bogus" for a
 * long one. `c` is getopt_long's return ('?' or ':'), with ':' first in
 * `shortopts` (the option string given to getopt_long) so that a missing
 * value is told apart. Prints
 *     PROG: unknown option '-x'
 *     PROG: option '-c' needs a value
 * with the --help pointer; returns CLI_EXIT_USAGE. */
int cli_getopt_error(const char *prog, int c, char **argv, const char *shortopts);

/* Reset getopt_long before a parse (each subcommand parses once, but the
 * tests' helpers may run several in one process). */
void cli_getopt_reset(void);

#endif
