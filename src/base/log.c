/* base/log.c — the stack's log: messages go to the hook in the stack's
 * configuration (cfg.log_fn), never to stdout or stderr (the library
 * writes nothing itself; tests/scripts/test_library_quiet.sh checks). */
#include <stdarg.h>
#include <stdio.h>

#include "base/stack.h"

void ns_log(struct ns_stack *st, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->cfg.log_fn(st->cfg.log_ctx, st->name, level, st->now_us, msg);
}
