/* tools/apisock_table.c — apisock_table_ops: the API socket's requests
 * applied to a struct hostfwd_table and nothing else (built with and
 * without cJSON). */
#include "apisock.h"

static int table_add(void *ctx, const struct hostfwd *f, char *err, size_t errlen)
{
    return hostfwd_add(ctx, f, err, errlen);
}

static int table_remove(void *ctx, unsigned id, char *err, size_t errlen)
{
    return hostfwd_remove(ctx, id, err, errlen);
}

static void table_list(void *ctx, void (*each)(void *arg, const struct hostfwd *f), void *arg)
{
    const struct hostfwd_table *t = ctx;
    for (unsigned i = 0; i < t->n; i++)
        each(arg, &t->e[i]);
}

const struct apisock_ops apisock_table_ops = {
    .add = table_add,
    .remove = table_remove,
    .list = table_list,
};
