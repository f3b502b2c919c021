/* tools/apisock_nojson.c — the API socket in a build without cJSON: the
 * requests are JSON, so there is no API socket and apisock_open says so.
 * Built instead of apisock.c when CMake finds no libcjson
 * (docs/building.md). */
#include <errno.h>
#include <stdlib.h>

#include "apisock.h"


char *apisock_handle(const struct apisock_ops *ops, void *ctx, const char *req, size_t len)
{
    (void)ops, (void)ctx, (void)req, (void)len;
    return NULL;
}

struct apisock *apisock_open(const char *path, struct ns_loop *loop, const struct apisock_ops *ops,
                             void *ctx, int *err)
{
    (void)path, (void)loop, (void)ops, (void)ctx;
    *err = -ENOTSUP; /* built without cJSON: install libcjson-dev and rebuild */
    return NULL;
}

void apisock_get_stats(const struct apisock *a, struct apisock_stats *out)
{
    (void)a;
    *out = (struct apisock_stats){0};
}

void apisock_close(struct apisock *a) { (void)a; }
