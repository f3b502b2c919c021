/* preload/preload.h — what the parts of the interposition library share
 * (preload.c: the socket calls; resolv.c: getaddrinfo and friends).
 * Nothing here is exported: the library's only interface is the libc
 * functions it defines in place of glibc's (docs/run.md lists them). */
#ifndef NS_PRELOAD_H
#define NS_PRELOAD_H

#include <stdbool.h>

#define PRELOAD_HIDDEN __attribute__((visibility("hidden")))

/* True inside a program started by `netsock run` (its environment names
 * the control socket); false elsewhere, and then every function passes
 * straight to glibc's. */
PRELOAD_HIDDEN bool preload_active(void);

/* Resolve glibc's own `name` (the next definition after ours); aborts
 * with a message when there is none. */
PRELOAD_HIDDEN void *preload_next(const char *name);

#endif
