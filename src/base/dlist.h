/* base/dlist.h — an intrusive doubly linked list: the node is embedded in
 * what is listed (NS_CONTAINER_OF, base/stack.h, finds the owner), so
 * linking and unlinking allocate nothing and take O(1). Used for the ARP
 * cache's recency and holding orders and TCP's out-of-order queues in
 * pruning order. A node is on at most one list at a time; whether it is
 * on one is the owner's business (it knows why it listed it). */
#ifndef NS_BASE_DLIST_H
#define NS_BASE_DLIST_H

#include <stddef.h>

struct ns_dlink {
    struct ns_dlink *prev, *next;
};

struct ns_dlist {
    struct ns_dlink *head, *tail; /* NULL, NULL when empty */
};

static inline void ns_dlist_push_tail(struct ns_dlist *l, struct ns_dlink *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static inline void ns_dlist_push_head(struct ns_dlist *l, struct ns_dlink *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Take n (which is on l) off l. */
static inline void ns_dlist_remove(struct ns_dlist *l, struct ns_dlink *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
}

#endif
