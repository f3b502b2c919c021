/* tools/link_stub.c — TEMPORARY: stands in for tools/link.c and
 * src/platform/ (being written on another branch) so that the netsock
 * tool links. Delete when they land. */
#include <errno.h>
#include <stdio.h>

#include "link.h"

int link_parse_opt(struct link_opts *o, int argc, char **argv, int *i)
{
    (void)o, (void)argc, (void)argv, (void)i;
    return 0;
}
const char *link_usage(void) { return ""; }
int link_host_open(struct link_host *h, const struct link_opts *o)
{
    (void)h, (void)o;
    fprintf(stderr, "netsock: real links are not built in yet\n");
    return -1;
}
void link_host_close(struct link_host *h) { (void)h; }
void link_print_counters(struct ns_stack *st, FILE *f) { (void)st, (void)f; }
uint64_t ns_clock_now_us(void) { return 0; }
int ns_loop_add_fd(struct ns_loop *l, int fd, uint32_t ev, ns_loop_fd_fn cb, void *ctx)
{
    (void)l, (void)fd, (void)ev, (void)cb, (void)ctx;
    return -ENOSYS;
}
int ns_loop_del_fd(struct ns_loop *l, int fd)
{
    (void)l, (void)fd;
    return -ENOSYS;
}
int ns_loop_stopped(const struct ns_loop *l)
{
    (void)l;
    return 1;
}
int ns_loop_run_once(struct ns_loop *l, uint64_t deadline_us)
{
    (void)l, (void)deadline_us;
    return -EINTR;
}
