/* netsock/pbuf.h — packet buffers: headroom, reference counts, pools.
 *
 * A pbuf is one contiguous frame or packet. Data lives in
 * buf[off .. off+len); the bytes before `off` are headroom so each layer on
 * the way down prepends its header with ns_pbuf_push() without copying.
 *
 * Small buffers (capacity NS_PBUF_SIZE) come from a fixed pool created with
 * the stack: no malloc on the packet path, and an empty pool is a counted
 * drop (pbuf_alloc_fail), never a crash. Larger buffers (reassembled
 * datagrams and GSO packets, up to 64 KiB) come from the heap, bounded by
 * the pool's `heap_max_bytes`.
 *
 * Ownership: whoever holds a pbuf pointer holds one reference. Functions
 * documented as "consuming" the pbuf take that reference over; the caller
 * must not touch the pbuf afterwards. ns_pbuf_ref() adds a reference (for
 * example to keep a frame for retransmission while a device sends it);
 * ns_pbuf_free() drops one, and the last drop returns the buffer.
 *
 * Offload metadata (docs/links.md "Offloads"). A pbuf may carry work left
 * for the device, as Linux's sk_buff does (CHECKSUM_PARTIAL, gso_size):
 *   - NS_PBUF_F_CSUM_PARTIAL: the transport checksum is not computed yet;
 *     its field holds the folded pseudo-header sum (not complemented), and
 *     whoever finishes it sums buf[csum_start .. end of data) and stores
 *     the complement at buf[csum_start + csum_offset] (ns_pbuf_csum_finish
 *     in dev.h does it in software);
 *   - gso_size > 0: a GSO packet, one TCP segment larger than the link MTU
 *     that stands for several wire segments of gso_size payload bytes each
 *     (ns_gso_segment in dev.h cuts it in software). Always CSUM_PARTIAL.
 * csum_start is an offset in buf, not from the data start, so it stays
 * right while headers are pushed and pulled. On input,
 * NS_PBUF_F_CSUM_OK says the transport checksum needs no verification (the
 * device verified it, or the packet never crossed a wire).
 *
 * Not thread-safe: a pool belongs to one stack, driven by one thread.
 */
#ifndef NETSOCK_PBUF_H
#define NETSOCK_PBUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes reserved in front of the data of a freshly allocated pbuf: enough
 * for Ethernet (14) + IPv4 with options (60) + TCP with options (60), plus
 * room for a virtio-net header later. */
#define NS_PBUF_HEADROOM 160u
/* Total storage of a pooled buffer (headroom included). Holds a 1500-byte
 * MTU frame, or a 9000-byte jumbo frame does not: those use the heap. */
#define NS_PBUF_SIZE 2048u

struct ns_pbuf_pool;

struct ns_pbuf {
    struct ns_pbuf *next;       /* queue link, free for the holder to use */
    struct ns_pbuf_pool *pool;  /* where it returns; never NULL */
    uint8_t *buf;               /* start of storage */
    uint32_t cap;               /* storage size in bytes */
    uint32_t off;               /* start of data within buf */
    uint32_t len;               /* data length in bytes */
    uint32_t refcnt;
    uint32_t ifindex;           /* receiving interface (input path) */
    uint16_t l3_off;            /* input path: offset of the IP header in buf */
    uint16_t l4_off;            /* input path: offset of the transport header in buf */
    uint32_t flags;             /* NS_PBUF_F_* */
    uint16_t csum_start;        /* CSUM_PARTIAL: start of the checksummed span, offset in buf */
    uint16_t csum_offset;       /* CSUM_PARTIAL: checksum field, offset from csum_start */
    uint16_t gso_size;          /* > 0: GSO packet of wire segments with this much payload */
    uint8_t gso_type;           /* NS_GSO_* when gso_size > 0 */
    uint64_t time_us;           /* free for the holder: e.g. due time in a delay queue */
};

#define NS_PBUF_F_HEAP 0x1u         /* storage from the heap, not the pool */
#define NS_PBUF_F_L2_BCAST 0x2u     /* arrived as a link-layer broadcast/multicast */
#define NS_PBUF_F_CSUM_PARTIAL 0x4u /* transport checksum left to finish (see above) */
#define NS_PBUF_F_CSUM_OK 0x8u      /* input: transport checksum needs no verification */

#define NS_PBUF_F_TX_DEFER 0x10u   /* output path: if a full device queue refuses it, its
                                     sender keeps the data and sends it again (TCP) */
#define NS_PBUF_F_NONLOCAL 0x20u   /* input: addressed to no address of this host, taken
                                     for a transparent socket (IP_TRANSPARENT) */

/* GSO packet types (gso_type). */
#define NS_GSO_TCPV4 1u /* TCP over IPv4 */
#define NS_GSO_TCPV6 2u /* TCP over IPv6 (no extension headers) */

struct ns_pbuf_pool_stats {
    uint32_t pool_total;     /* pooled buffers created */
    uint32_t pool_free;      /* pooled buffers free now */
    uint64_t heap_bytes;     /* heap buffer bytes in use now */
    uint64_t alloc_fail;     /* allocations refused (pool empty or heap cap) */
};

/* Create a pool of `count` buffers of NS_PBUF_SIZE bytes, allowing up to
 * `heap_max_bytes` of larger heap buffers in use at once. Returns NULL on
 * allocation failure. */
struct ns_pbuf_pool *ns_pbuf_pool_new(uint32_t count, uint64_t heap_max_bytes);

/* Destroy a pool. Every pbuf must have been freed (asserted in debug
 * builds: a leak is a bug). */
void ns_pbuf_pool_free(struct ns_pbuf_pool *pool);

void ns_pbuf_pool_stats(const struct ns_pbuf_pool *pool, struct ns_pbuf_pool_stats *out);

/* Allocate a pbuf able to hold `len` data bytes after `headroom` bytes of
 * headroom; its len is set to `len` (contents uninitialised). Uses the pool
 * when headroom+len <= NS_PBUF_SIZE, else the heap. Returns NULL when the
 * pool is empty or the heap cap would be exceeded. refcnt starts at 1. */
struct ns_pbuf *ns_pbuf_alloc(struct ns_pbuf_pool *pool, uint32_t headroom, uint32_t len);

/* Allocate and copy `len` bytes of `data` in, with NS_PBUF_HEADROOM. */
struct ns_pbuf *ns_pbuf_from(struct ns_pbuf_pool *pool, const void *data, uint32_t len);

/* Allocate a new pbuf holding a copy of pb's data (same headroom). */
struct ns_pbuf *ns_pbuf_clone(const struct ns_pbuf *pb);
/* The same from another pool: a copy of pb's data and metadata (offload
 * fields, flags, header offsets) in a buffer of `pool`, or NULL when that
 * pool has none. Only reads pb, so a frame can move to a pool of another
 * owner (platform/iothread.c hands frames between threads this way). */
struct ns_pbuf *ns_pbuf_clone_to(struct ns_pbuf_pool *pool, const struct ns_pbuf *pb);
/* Make pb a copy of src (data at the same headroom, metadata as
 * ns_pbuf_clone); pb keeps its own storage, pool, reference count and
 * queue link. Returns 0, or -1 when src's headroom and data do not fit in
 * pb's storage (pb unchanged). */
int ns_pbuf_copy(struct ns_pbuf *pb, const struct ns_pbuf *src);
/* The same, the copy also holding the bytes from buffer offset `from`
 * (<= pb->off) up to the data: headers already pulled off, e.g. the IPv6
 * header at l3_off in front of a datagram handed up at its upper layer. */
struct ns_pbuf *ns_pbuf_clone_from(const struct ns_pbuf *pb, uint32_t from);

/* Add one reference. */
static inline struct ns_pbuf *ns_pbuf_ref(struct ns_pbuf *pb) { pb->refcnt++; return pb; }

/* Drop one reference; the last one returns the storage. NULL is ignored. */
void ns_pbuf_free(struct ns_pbuf *pb);

/* Free a whole `next`-linked chain. */
void ns_pbuf_free_chain(struct ns_pbuf *pb);

static inline uint8_t *ns_pbuf_data(const struct ns_pbuf *pb) { return pb->buf + pb->off; }
static inline uint32_t ns_pbuf_headroom(const struct ns_pbuf *pb) { return pb->off; }
static inline uint32_t ns_pbuf_tailroom(const struct ns_pbuf *pb) { return pb->cap - pb->off - pb->len; }

/* Mark pb's transport checksum as left to finish: the span starts at the
 * data offset `start` (from the current data start) and the field sits
 * `offset` bytes into it. The caller has stored the folded pseudo-header
 * sum in the field. */
static inline void ns_pbuf_csum_partial(struct ns_pbuf *pb, uint32_t start, uint16_t offset)
{
    pb->flags |= NS_PBUF_F_CSUM_PARTIAL;
    pb->csum_start = (uint16_t)(pb->off + start);
    pb->csum_offset = offset;
}

/* Prepend n bytes (into the headroom); returns the new data start, or NULL
 * when headroom < n (nothing changes then). */
uint8_t *ns_pbuf_push(struct ns_pbuf *pb, uint32_t n);

/* Remove n bytes from the front; returns the new data start, or NULL when
 * len < n (nothing changes then). */
uint8_t *ns_pbuf_pull(struct ns_pbuf *pb, uint32_t n);

/* Shorten the data to `len` bytes (no-op if already shorter). */
void ns_pbuf_trim(struct ns_pbuf *pb, uint32_t len);

/* Append n bytes at the tail; returns a pointer to them or NULL when the
 * tailroom is too small. */
uint8_t *ns_pbuf_put(struct ns_pbuf *pb, uint32_t n);

/* A FIFO of pbufs linked through `next`. `bytes` sums the lengths at push
 * time: do not change a queued pbuf's len. */
struct ns_pbuf_queue {
    struct ns_pbuf *head, *tail;
    uint32_t count;
    uint64_t bytes;
};

static inline void ns_pbuf_queue_init(struct ns_pbuf_queue *q) { q->head = q->tail = NULL; q->count = 0; q->bytes = 0; }
void ns_pbuf_queue_push(struct ns_pbuf_queue *q, struct ns_pbuf *pb);
struct ns_pbuf *ns_pbuf_queue_pop(struct ns_pbuf_queue *q);
/* Free every pbuf in the queue. */
void ns_pbuf_queue_purge(struct ns_pbuf_queue *q);

#ifdef __cplusplus
}
#endif
#endif
