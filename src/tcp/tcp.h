/* tcp/tcp.h — TCP's control block and the interfaces between its files.
 *
 * Split the BSD way (STYLE §4):
 *   tcp_subr.c    create/destroy, the 4-tuple and listener tables, ISNs,
 *                 ephemeral ports, sending RSTs, the one state-change door
 *   tcp_input.c   segment arrival (RFC 9293 §3.10.7)
 *   tcp_output.c  deciding what to send and building segments
 *   tcp_timer.c   retransmission, persist, keepalive, delayed ACK, 2MSL
 *   tcp_reass.c   the out-of-order queue
 *   tcp_sack.c    SACK: the blocks we report (RFC 2018, D-SACK RFC 2883)
 *                 and the sender's scoreboard of what was sent (RFC 6675)
 *   tcp_recovery.c loss detection and recovery with SACK: RACK-TLP
 *                 (RFC 8985), RFC 6675 recovery, PRR (RFC 6937)
 *   tcp_txwait.c  waiting for a full device queue (transmit backpressure)
 *   tcp_mem.c     the stack-wide memory limit on TCP's buffers (Linux tcp_mem)
 *   tcp_syncache.c half-open connections as small entries, SYN cookies
 *   tcp_usrreq.c  the socket operations: the only file socket/ calls
 *   cc/newreno.c  congestion control behind struct tcp_cc_ops
 *   cc/cubic.c    (CUBIC, the default), cc/hystart.c (RFC 9406 slow start)
 *
 * Read first: RFC 9293 (the whole of §3), RFC 5961, RFC 6298, RFC 5681,
 * RFC 6582, RFC 1122 §4.2, RFC 6528, RFC 6056, RFC 6191, RFC 7323 (window
 * scale, timestamps, PAWS), RFC 2018 and RFC 2883 (SACK, D-SACK), RFC 6675
 * (SACK-based recovery), RFC 8985 (RACK-TLP), RFC 6937 (PRR).
 */
#ifndef NS_TCP_TCP_H
#define NS_TCP_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/ring.h"
#include "base/siphash.h"
#include "base/stack.h"
#include "net/net.h"
#include "socket/sock.h"
#include "tcp/cc/hystart.h"
#include "tcp/tcp_seq.h"
#include "tcp/tcp_syncache.h"
#include "wire/wire.h"

/* RFC 9293 §3.3.2 states, ordered as FreeBSD tcp_fsm.h so that "has
 * been established" and "has received FIN" are comparisons. */
enum tcp_state {
    TCPS_CLOSED = 0,
    TCPS_LISTEN,
    TCPS_SYN_SENT,
    TCPS_SYN_RECEIVED,
    TCPS_ESTABLISHED,
    TCPS_CLOSE_WAIT,
    TCPS_FIN_WAIT_1,
    TCPS_CLOSING,
    TCPS_LAST_ACK,
    TCPS_FIN_WAIT_2,
    TCPS_TIME_WAIT,
};
#define TCPS_HAVEESTABLISHED(s) ((s) >= TCPS_ESTABLISHED)
#define TCPS_HAVERCVDFIN(s)                                                     \
    ((s) == TCPS_CLOSE_WAIT || (s) == TCPS_CLOSING || (s) == TCPS_LAST_ACK ||   \
     (s) == TCPS_TIME_WAIT)
/* We have sent (or are sending) our FIN. */
#define TCPS_SENTFIN(s) ((s) >= TCPS_FIN_WAIT_1 || (s) == TCPS_LAST_ACK)

extern const char *const tcp_state_names[];

/* tcpcb flags */
#define TF_ACKNOW 0x0001u      /* send an ACK at once */
#define TF_DELACK 0x0002u      /* an ACK is owed, delayed */
#define TF_NODELAY 0x0004u     /* TCP_NODELAY: Nagle off */
#define TF_NEEDFIN 0x0008u     /* send FIN once the data is out */
#define TF_SENTFIN 0x0010u     /* FIN has been sent (snd_max covers it) */
#define TF_CORK 0x0020u        /* TCP_CORK */
#define TF_FASTRECOVERY 0x0040u /* in NewReno fast recovery */
#define TF_RTT_TIMING 0x0080u  /* timing a segment (rtt_seq) */
#define TF_ORPHAN 0x0100u      /* the socket was closed */
#define TF_KEEPALIVE 0x0200u
#define TF_QUICKACK 0x0400u
#define TF_WASIDLE 0x0800u
#define TF_PROBE 0x1000u       /* persist timer: send a one-byte window probe */
/* RFC 7323 negotiation (FreeBSD's names): we offer / the peer's SYN carried. */
#define TF_REQ_SCALE 0x2000u
#define TF_RCVD_SCALE 0x4000u
#define TF_REQ_TSTMP 0x8000u
#define TF_RCVD_TSTMP 0x10000u
/* RFC 2018 §2: we offer SACK-permitted / the peer's SYN carried it. */
#define TF_REQ_SACK 0x20000u
#define TF_RCVD_SACK 0x40000u
#define TF_OPT_MASK                                                             \
    (TF_REQ_SCALE | TF_RCVD_SCALE | TF_REQ_TSTMP | TF_RCVD_TSTMP | TF_REQ_SACK | TF_RCVD_SACK)
#define TF_LOSS 0x80000u        /* SACK: after an RTO, until SND.UNA passes `recover` */
#define TF_TLP 0x100000u        /* RFC 8985 §7: a tail loss probe is outstanding */
#define TF_TLP_RETRANS 0x200000u /* ... and it was a retransmission */
#define TF_PRR_FORCE 0x400000u  /* RFC 6937: the fast retransmit goes out whatever cwnd says */
#define TF_TLP_SEND 0x800000u   /* sending the probe: new data may pass cwnd */
#define TF_NR_PARTIAL 0x8000000u /* NewReno: this recovery saw a partial ACK */
#define TF_CORK_FLUSH 0x4000000u /* send what the cork holds (its 200 ms ceiling, TCP_NODELAY) */
/* The user set SO_RCVBUF / SO_SNDBUF: no autotuning (Linux SOCK_*BUF_LOCK). */
/* bind() named an address (Linux SOCK_BINDADDR_LOCK): a disconnect keeps it. */
#define TF_BINDADDR_LOCK 0x10000000u
/* The send being queued said MSG_MORE: its tcp_output holds a tail
 * smaller than a segment as TCP_CORK does (set only around that call). */
#define TF_MORE 0x20000000u
#define TF_RCVBUF_LOCK 0x1000000u
#define TF_SNDBUF_LOCK 0x2000000u
#define TF_BUF_LOCKS (TF_RCVBUF_LOCK | TF_SNDBUF_LOCK)
/* NS_TCP_DEFER_SYNACK on a listener: a SYN makes a held connection on the
 * accept queue, answered only by the application's verdict. */
#define TF_DEFER_SYNACK 0x80000000u
/* A held connection: in SYN-RECEIVED, our SYN,ACK not sent yet
 * (NS_TCP_SYNACK_VERDICT decides; docs/tcp.md "Deferred SYN,ACK"). */
#define TF_HELD 0x40000000u

struct tcpcb;

/* tcpcb.urg_state (Linux's TCP_URG_* in urg_data): no urgent data; a
 * pointer came, its byte not yet; the byte is here, unread (POLLPRI);
 * read apart with MSG_OOB (the mark stays until the stream passes it). */
enum { TCP_URG_NONE, TCP_URG_NOTYET, TCP_URG_VALID, TCP_URG_READ };

/* Congestion control (STYLE §4: cc/ behind an ops table). */
enum tcp_cc_signal { CC_DUPACK3, CC_RTO };
struct tcp_cc_ops {
    const char *name;
    void (*init)(struct tcpcb *tp);
    /* `acked` bytes newly acknowledged outside recovery. */
    void (*ack_received)(struct tcpcb *tp, uint32_t acked);
    void (*cong_signal)(struct tcpcb *tp, enum tcp_cc_signal sig);
    void (*post_recovery)(struct tcpcb *tp);
    /* RFC 5681 §4.1: restart window after an idle period. */
    void (*after_idle)(struct tcpcb *tp);
};
extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;
/* The algorithm called `name` ("newreno"/"reno", "cubic"), or NULL. */
const struct tcp_cc_ops *tcp_cc_find(const char *name);

struct tcp_seg; /* an out-of-order segment (tcp_reass.c) */

/* One segment on the sender's scoreboard (tcp_sack.c): the records tile
 * [SND.UNA, SND.MAX) in sequence order, one per segment as it was sent. */
struct tcp_sendrec {
    uint32_t start, end;         /* sequence space, the FIN included */
    uint64_t xmit_us;            /* when last (re)transmitted (RACK) */
    uint16_t flags;              /* SR_* */
};
#define SR_SACKED 0x01u          /* reported by a SACK block */
#define SR_LOST 0x02u            /* deemed lost (RACK, RTO) */
#define SR_RETRANS 0x04u         /* lost, and the retransmission is in flight */
#define SR_EVER_RETRANS 0x08u    /* retransmitted at least once */
#define SR_FIN 0x10u             /* the record ends with our FIN */

/* The scoreboard: a ring of records, oldest first. */
struct tcp_sendmap {
    struct tcp_sendrec *rec;
    uint32_t cap;                /* a power of two (0: nothing allocated yet) */
    uint32_t head, n;
};

struct tcpcb {
    /* Laid out for size (issue 14: a million of these): within each
     * group the 8-byte fields first, the 4-byte ones in even numbers, the
     * narrow fields of every group together at the end; no holes. */

    /* The connection's socket, embedded (socket/sock.h): its addresses and
     * ports are the connection's 4-tuple, the one copy of it. */
    struct ns_sock sock;
    struct ns_stack *st;
    /* &sock while a descriptor refers to it; NULL while embryonic (not yet
     * accepted) or orphaned (closed by the user, still finishing). */
    struct ns_sock *so;
    struct tcpcb *hnext;         /* 4-tuple or listener hash chain */
    /* While a descriptor refers to it: on tcp_table.socks. */
    struct ns_dlink sock_link;

    /* Listening sockets: embryonic (SYN_RECEIVED) and ready connections. */
    struct tcpcb *listener;      /* for a child: its listener until accepted */
    struct tcpcb *qnext;         /* link in the listener's queues */
    uint32_t flags;
    uint32_t rack_fack;          /* RACK.fack (RFC 8985 §6): highest end delivered (from ISS: tcp_set_iss) */

    /* Send sequence space (RFC 9293 §3.3.1). */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2, snd_up;
    uint32_t snd_wnd;            /* peer's window, scaled */
    uint32_t max_sndwnd;         /* largest window the peer offered */
    uint32_t snd_data;           /* sequence number of sndbuf's first byte */
    uint32_t snd_sml;            /* end of the last small segment sent (Nagle, Minshall) */
    /* Receive sequence space. */
    uint32_t irs, rcv_nxt, rcv_adv;
    /* The most window we offer for now (Linux rcv_ssthresh): the SYN's
     * window at first, grown as data arrives (tcp_rcv_grow_window). */
    uint32_t rcv_ssthresh;
    /* Urgent data received (RFC 9293 §3.8.5, RFC 6093, as Linux
     * tcp_check_urg/tcp_urg): the sequence number of the urgent byte (the
     * one before the urgent pointer); what is known of it and the byte
     * itself are urg_state (TCP_URG_*) and urg_byte below. */
    uint32_t urg_seq;
    /* RFC 7323 §3-§5 timestamps (when TF_REQ_TSTMP and TF_RCVD_TSTMP). */
    uint32_t ts_offset;          /* TSval = ms clock + ts_offset (§5.4: random per connection) */
    uint32_t ts_recent;          /* TS.Recent: the TSval to echo */
    uint32_t last_ack_sent;      /* Last.ACK.sent (§4.3) */
    uint32_t rack_end_seq;       /* RACK.end_seq (RFC 8985 §6) */
    uint64_t ts_recent_age_us;   /* when ts_recent was set (PAWS 24-day rule, §5.5) */
    uint64_t pmtu_expires_us;    /* see pmtu below */

    struct ns_ring sndbuf;
    struct ns_ring rcvbuf;
    struct tcp_seg *reass;       /* out-of-order segments, by sequence */
    struct tcp_seg *reass_last;  /* its last segment */
    uint32_t reass_bytes, reass_segs;
    /* On the stack's list of connections holding out-of-order data
     * (tcp_table.ooo), stalest first: tcp_reass.c. */
    struct ns_dlink ooo_link;
    /* Receive-buffer autotuning (tcp_rcv_space_adjust): bytes the
     * application read in the last measured RTT, and where and when the
     * current measurement began (rcvq_time_us 0: not yet). */
    uint64_t rcvq_time_us;
    uint64_t rcv_rtt_us;         /* receiver's RTT from echoed timestamps (0: none) */
    uint32_t rcvq_space, rcvq_seq;

    /* RFC 6298 round-trip estimation. */
    uint64_t srtt_us, rttvar_us, rto_us;
    uint64_t rtt_start_us;
    uint64_t rxt_start_us;       /* when the oldest unacked data was first sent */
    uint32_t rtt_seq;
    uint32_t last_rtt_us;        /* the latest RTT sample (tcp_rtt_sample) ... */
    uint32_t rtt_samples;        /* ... and how many there have been */
    uint32_t rxt_shift;          /* consecutive timeouts (backoff exponent) */
    uint32_t total_retrans;
    uint32_t dupacks;

    /* Congestion control. */
    const struct tcp_cc_ops *cc;
    uint64_t cc_priv[6];         /* the algorithm's own state (cc/cubic.c) */
    uint32_t cwnd, ssthresh, recover;
    uint32_t bytes_acked;        /* for congestion avoidance (RFC 5681 §3.1 ABC) */
    struct tcp_hystart hystart;  /* RFC 9406 slow start (cc/hystart.c) */

    /* RFC 2018 receiver: the blocks to report, most recent first, and a
     * pending RFC 2883 D-SACK block (sent once, first). */
    struct ns_tcp_sack_block rcv_sack[NS_TCP_MAX_SACK];
    struct ns_tcp_sack_block rcv_dsack;
    uint32_t lost_hint;          /* no unretransmitted lost record starts below this */

    /* Sender scoreboard (RFC 6675 §3) and its byte counts: pipe =
     * (SND.MAX - SND.UNA) - sacked - lost + retrans (tcp_pipe). */
    struct tcp_sendmap sm;
    uint32_t sacked_bytes, lost_bytes, retrans_bytes;
    uint32_t sm_rexmit_high;     /* no record above this was ever retransmitted */
    /* RACK (RFC 8985 §6). */
    uint64_t rack_min_rtt_us;    /* RACK.min_RTT (0: none yet) */
    /* A listener never sends data and a connection has no queues of
     * children: the two share these bytes. Zeroed when the socket starts
     * listening (tcp_listen) and when it stops (tcp_state_change). */
    union {
        struct {
            /* Listening sockets: embryonic (SYN_RECEIVED) and ready
             * connections. */
            struct tcpcb *synq;      /* embryonic children (tcpcbs in SYN-RECEIVED) */
            struct tcpcb *acceptq, *acceptq_tail;
            uint64_t last_cookie_us; /* when a SYN cookie was last sent (cookie_sent) */
            /* synq_len: half-open connections, the syncache's entries for
             * this listener and the tcpcbs on synq (Linux's request queue
             * length). */
            uint32_t synq_len, acceptq_len, backlog;
            bool cookie_sent;        /* a SYN cookie was sent, at last_cookie_us */
        };
        struct {
            uint64_t rack_xmit_us;     /* RACK.xmit_ts: latest send time among delivered */
            uint64_t rack_rtt_us;      /* RACK.rtt */
            uint32_t rack_dsack_round; /* RACK.dsack_round (valid when rack_dsack_round_on) */
            uint32_t tlp_end_seq;      /* RFC 8985 §7: TLP.end_seq (when TF_TLP) */
            /* Undoing a recovery that D-SACKs prove spurious (RFC 3708
             * §3, as Linux tcp_try_undo_dsack): the window before it,
             * where it began, and retransmissions not yet reported as
             * duplicates. */
            uint32_t prior_cwnd, prior_ssthresh, undo_marker, undo_retrans;
            /* PRR (RFC 6937 §3). */
            uint32_t prr_delivered, prr_out, recover_fs;
        };
    };

    /* Timers (tcp_timer.c): the deadline of each TT_* timer that is on
     * (a bit of t_on), and one wheel entry at the earliest of them. */
    struct ns_timer t_entry;
    uint64_t t_at[6];
    uint64_t last_rx_us, last_tx_us;
    uint32_t persist_shift;
    uint32_t persist_unanswered; /* window probes since the peer last sent anything */
    int soft_error;              /* ICMP error since data was last acked (Linux sk_err_soft) */
    uint32_t keep_probes;

    /* Options (socket level) */
    uint64_t keep_idle_us, keep_intvl_us, user_timeout_us;
    uint32_t keep_cnt;
    uint32_t notsent_lowat;      /* TCP_NOTSENT_LOWAT; 0: none (Linux's sysctl default, UINT_MAX) */
    int linger_zero;
    uint32_t delack_segs;        /* full-sized segments since the last ACK */

    uint64_t created_us;
    uint64_t last_oow_ack_us;    /* last ACK to an unacceptable segment or challenge ACK */

    /* Transmit backpressure (tcp_txwait.c): waiting for a full device. */
    struct ns_tx_waiter txw;

    uint16_t mss;                /* bytes per segment we send (effective SMSS) */
    uint16_t peer_mss;           /* from the peer's MSS option (536 when absent) */
    uint16_t user_mss;           /* TCP_MAXSEG (0 = none) */
    /* Path MTU from ICMP "fragmentation needed" (RFC 1191), for this
     * connection only (docs/tcp.md): 0 = none; locked: reported below
     * TCP_MIN_PMTU, so segments go without DF; forgotten at
     * pmtu_expires_us. */
    uint16_t pmtu;
    bool pmtu_locked;

    /* The narrow fields, together. */
    uint8_t state;
    uint8_t urg_state;           /* TCP_URG_* */
    /* Urgent mode (RFC 9293 §3.8.5, Linux tcp_urg_mode): a send with
     * MSG_OOB set SND.UP; segments below it carry URG until SND.UNA
     * reaches it. */
    bool urg_mode;
    uint8_t urg_byte;            /* the urgent byte, once TCP_URG_VALID */
    /* RFC 7323 §2: shifts in effect (0 unless both SYNs carried WS); what
     * we offer on our SYN, and what the peer's SYN offered. */
    uint8_t snd_wscale, rcv_wscale;
    uint8_t req_rcv_wscale, peer_wscale;
    bool ooo_listed;             /* on tcp_table.ooo */
    uint8_t rcv_nsack;           /* rcv_sack's blocks */
    bool rcv_dsack_valid;        /* rcv_dsack is pending */
    bool rack_valid;             /* RACK.xmit_ts/end_seq hold a delivered segment */
    bool rack_reord;             /* RACK.reordering_seen */
    uint8_t rack_reo_mult;       /* RACK.reo_wnd_mult */
    uint8_t rack_reo_persist;    /* RACK.reo_wnd_persist */
    bool rack_dsack_round_on;
    bool undo_valid;
    uint8_t rexmt_mode;          /* what TT_REXMT does when it fires: TCPT_* */
    uint8_t t_on;                /* the TT_* timers that are on (bits) */
    bool xmit_nobufs;            /* the last segment tcp_output_one tried had no packet buffer */
    bool rcvd_fin;               /* the peer's FIN arrived (reads find end of file for good) */
    bool done;                   /* the connection (or attempt) ended: both ways shut (Linux tcp_done) */
    bool txw_rexmit;             /* a retransmission of SND.UNA waits too */

    /* TCP_INFO's segment counts (Linux tcpi_segs_in/out, data_segs_in/out):
     * wire segments, a GSO packet counting as the segments it stands for. */
    uint32_t segs_in, segs_out, data_segs_in, data_segs_out;
};
/* Zero the bytes a listener's queues share with a connection's recovery
 * state (the union in struct tcpcb, which ends where t_entry begins). */
static inline void tcp_shared_clear(struct tcpcb *tp)
{
    _Static_assert(offsetof(struct tcpcb, synq) == offsetof(struct tcpcb, rack_xmit_us),
                   "the listener's queues and the recovery state share bytes");
    memset((char *)tp + offsetof(struct tcpcb, synq), 0,
           offsetof(struct tcpcb, t_entry) - offsetof(struct tcpcb, synq));
}

/* ---- per-stack TCP state --------------------------------------------------- */

struct tcp_table {
    struct tcpcb **conn;         /* 4-tuple hash */
    /* While the table doubles (tcp_subr.c conn_grow): the old table, whose
     * buckets below conn_moved have been moved into conn; NULL otherwise. */
    struct tcpcb **conn_old;
    uint32_t conn_old_mask, conn_moved;
    /* Every connection a descriptor refers to (tcp_port_in_use looks at
     * the ones bound but not connected or listening). */
    struct ns_dlist socks;
    uint32_t conn_mask;
    uint32_t nconn;
    struct tcpcb *listen[256];   /* by local port */
    /* The IP_TRANSPARENT listener, if any: it takes every SYN no other
     * listener does, to any address and port. */
    struct tcpcb *transparent;
    uint8_t isn_key[16];         /* RFC 6528 secret */
    uint8_t port_key[16];        /* RFC 6056 secret */
    /* The connection table's hash key (ns_flow_hash), derived from
     * isn_key (tcp_init): no draw from the stack's generator. */
    struct ns_sipkey conn_key;
    uint32_t port_offsets[256];  /* RFC 6056 Algorithm 4 table */
    struct syncache syncache;    /* half-open connections (tcp_syncache.c) */
    /* RFC 5961 §7 stack-wide limiter (cfg.tcp_challenge_ack_limit): the
     * budget left in the current second. */
    uint32_t challenge_budget;
    uint64_t challenge_second;
    bool challenge_budget_valid;
    /* The memory TCP's buffers hold (tcp_mem.c): the receive rings, the
     * send rings and the out-of-order segments each charge their storage
     * to an account, and all three to mem_all. */
    struct ns_mem_acct mem_all, mem_rcv, mem_snd, mem_ooo;
    bool mem_pressure;           /* Linux tcp_memory_pressure (tcp_mem_pressure()) */
    /* Connections holding out-of-order data, the one longest without
     * in-order progress first: the order they are pruned in. */
    struct ns_dlist ooo;
    /* Spare scoreboard arrays of TCP_SM_FIRST_CAP records, linked through
     * their first bytes (tcp_sm_free). */
    void *sm_spare;
    uint32_t sm_nspare;
    /* TEST-ONLY: when set, tcp_new_isn() returns isn_hook(st, isn_hook_ctx)
     * instead of the RFC 6528 value, so unit tests can place ISNs where
     * they need them (e.g. just below 2^32). Never set outside tests: a
     * predictable ISN defeats RFC 6528. */
    uint32_t (*isn_hook)(struct ns_stack *st, void *ctx);
    void *isn_hook_ctx;
};

int tcp_init(struct ns_stack *st);
void tcp_destroy(struct ns_stack *st);

/* The connection of a TCP socket (Linux tcp_sk). */
static inline struct tcpcb *tcp_sk(struct ns_sock *so)
{
    return NS_CONTAINER_OF(so, struct tcpcb, sock);
}
static inline const struct tcpcb *tcp_sk_const(const struct ns_sock *so)
{
    return (const struct tcpcb *)(const void *)((const char *)so - offsetof(struct tcpcb, sock));
}

/* tcp_subr.c */
/* A child of listener l for flow f (local = our end), in CLOSED: the
 * listener's buffers, options and socket settings inherited, what this
 * stack offers on a SYN set (tcp_opts_init). NULL when out of memory. */
struct tcpcb *tcp_child_new(struct tcpcb *l, const struct ns_flow *f);
/* The window a SYN,ACK from a child of l offers, its effective MSS
 * being mss: the receive buffer's size (less under memory pressure,
 * tcp_mem_syn_window), at most 65535 (RFC 7323 §2.2: never scaled). */
uint16_t tcp_syn_window(const struct tcpcb *l, uint32_t mss);
/* RFC 7323 §2.3: the window shift for a receive buffer of `cap` bytes
 * (locked: SO_RCVBUF fixed it; else autotuning may grow it). */
uint8_t tcp_wscale_for(const struct ns_stack *st, uint32_t cap, bool locked);
/* The MSS to announce over device dev (NULL: none known, 1500 assumed). */
uint16_t tcp_mss_for_dev(const struct ns_dev *dev);
/* The MSS to announce to dst through egress eg (decided for dst): over
 * IPv4 tcp_mss_for_dev; over IPv6 the path MTU (ip6_path_mtu: a Packet
 * Too Big's, else the interface's IPv6 MTU) less 60 — the 40-byte IPv6
 * header and TCP's 20 (RFC 8200 §5, RFC 6691). */
uint16_t tcp_mss_for_egress(struct ns_stack *st, const struct ip_egress *eg,
                            const struct ns_addr *dst);
/* The fixed IP header of the flow's family: 20 (IPv4) or 40 (IPv6). */
static inline uint32_t tcp_ip_hlen(const struct ns_flow *f)
{
    return f->remote.family == AF_INET6 ? NS_IP6_HLEN : NS_IP4_HLEN;
}
/* Send the TCP segment pb (header and checksum done) of flow f (local =
 * our end, the source) through eg, decided for f->remote (NULL: decided
 * for this segment alone), with socket so's options (NULL: defaults):
 * over IPv4 IP_TTL, IP_TOS and DF per `df`; over IPv6 IPV6_UNICAST_HOPS,
 * IPV6_TCLASS, the bound interface, and never fragmented (Linux
 * ip6_xmit: larger than the path MTU is -EMSGSIZE). Consumes pb; the
 * network layer's result (-EAGAIN as ip4_output_via). */
int tcp_ip_output(struct ns_stack *st, const struct ip_egress *eg, const struct ns_flow *f,
                  const struct ns_sock *so, bool df, struct ns_pbuf *pb);
/* A new connection in CLOSED, its socket set up (sock_setup); `user`:
 * a descriptor will refer to it (tp->so set, on tcp_table.socks), else
 * it is a listener's child until accepted. NULL when out of memory. */
struct tcpcb *tcp_new(struct ns_stack *st, bool user);
/* A descriptor refers to tp from now on / no longer (tp->so, tcp_table.socks). */
void tcp_sock_attach(struct tcpcb *tp);
void tcp_sock_detach(struct tcpcb *tp);
void tcp_free(struct tcpcb *tp);
void tcp_state_change(struct tcpcb *tp, enum tcp_state to);
void tcp_hash_insert(struct tcpcb *tp);
void tcp_hash_remove(struct tcpcb *tp);
/* Chains of the old table a doubling moves per insertion or removal. */
#define TCP_HASH_MIGRATE 8u
/* Walk every connection in the 4-tuple hash: tp NULL and *pos 0 for the
 * first; NULL after the last. The table must not change during the walk. */
struct tcpcb *tcp_hash_next(const struct tcp_table *t, uint32_t *pos, struct tcpcb *tp);
/* The connection of flow `key` (local = our end), or NULL. */
struct tcpcb *tcp_lookup(struct ns_stack *st, const struct ns_flow *key);
/* The listener for segments to laddr:lport: one bound to laddr itself
 * before one bound to the wildcard; NULL when none. */
struct tcpcb *tcp_lookup_listener(struct ns_stack *st, const struct ns_addr *laddr, uint16_t lport);
void tcp_listen_insert(struct tcpcb *tp);
/* Unhash listener tp (and clear it as st->tcp->transparent). */
void tcp_listen_remove(struct tcpcb *tp);
/* Child tp of listener l is ready: off l's SYN queue (when on it), onto
 * the tail of its accept queue; l's readers are woken. */
void tcp_acceptq_add(struct tcpcb *l, struct tcpcb *tp);
/* Would a socket (self, NULL for none) bound to laddr:lport clash with
 * another (inet_csk_bind_conflict, simplified)? */
bool tcp_port_in_use(struct ns_stack *st, const struct ns_addr *laddr, uint16_t lport,
                     const struct ns_sock *self);
/* RFC 6528 ISN of the connection of flow f at this time. */
uint32_t tcp_new_isn(struct ns_stack *st, const struct ns_flow *f);
/* Choose the connection's ISS (tcp_new_isn) and start the send sequence
 * space there: SND.UNA = SND.NXT = SND.MAX = ISS, data from ISS+1, and
 * RACK.fack = ISS (RFC 8985 §6.2: nothing above it delivered yet). */
void tcp_set_iss(struct tcpcb *tp);
/* RFC 6056 ephemeral port for a connection from f->local to
 * f->remote:f->rport (f->lport is ignored): the port, or -EADDRNOTAVAIL. */
int tcp_pick_port(struct ns_stack *st, const struct ns_flow *f);
/* Send a bare control segment (RST, ACK) on flow f (from f->local), not
 * tied to a tcpcb's output. */
void tcp_respond(struct ns_stack *st, const struct ns_flow *f, uint32_t seq, uint32_t ack,
                 uint8_t flags, uint16_t win);
/* RFC 9293 §3.10.7.1: the RST answering segment `th` (len payload bytes)
 * that arrived on flow `in` (local = its destination). */
void tcp_reset_for(struct ns_stack *st, const struct ns_flow *in, const struct ns_tcp_repr *th,
                   uint32_t len);
/* Abort: send RST if synchronized, report err to the socket, close. */
void tcp_drop(struct tcpcb *tp, int err);
/* Close the connection for good (unhash, stop timers, free when orphaned). */
void tcp_close(struct tcpcb *tp);
/* Report an error to the socket (SO_ERROR) if there is one. */
void tcp_set_error(struct tcpcb *tp, int err);
/* RFC 9293 §3.7.1, RFC 6691: the MSS to announce: the MTU of the
 * connection's route less the fixed IP and TCP headers
 * (tcp_mss_for_egress). */
uint16_t tcp_mss_for_route(struct tcpcb *tp);
/* The MTU of the connection's path: the route's, or less as learned from
 * ICMP (tp->pmtu). */
uint32_t tcp_path_mtu(struct tcpcb *tp);
/* The MSS segments carry: the path MTU's, the peer's, TCP_MAXSEG's,
 * whichever is least, less the options on every segment. */
uint16_t tcp_effective_mss(struct tcpcb *tp);
/* Forget a learned path MTU once it expired (and take the MSS back up). */
void tcp_pmtu_check(struct tcpcb *tp);
/* The connection's egress (net/net.h): decided once, again only after
 * routes, addresses or interfaces changed. */
static inline const struct ip_egress *tcp_egress(struct tcpcb *tp)
{
    return ip_egress_for(tp->st, &tp->sock.egress, &tp->sock.flow.remote,
                         tp->sock.bound_ifindex);
}
/* The device the connection's segments leave through (the loopback for
 * our own addresses), or NULL without a route: its MTU and offloads. */
struct ns_dev *tcp_route_dev(struct tcpcb *tp);
uint32_t tcp_rcv_window(const struct tcpcb *tp);
/* The most the receive ring may hold now: its cap, or more when an edge
 * advertised lies past it (RFC 7323 §2.4: every byte inside any window
 * advertised is taken; tcp_select_window bounds how far). */
uint32_t tcp_rcv_ring_limit(const struct tcpcb *tp);
/* The largest window the buffer can offer: its size, capped to what the
 * window field says at the connection's scale (Linux window_clamp). */
uint32_t tcp_rcv_window_max(const struct tcpcb *tp);
/* In-order data of len bytes arrived: let the window offered grow, by
 * twice the data (at least 2 MSS), up to what the buffer has free (Linux
 * tcp_grow_window). */
void tcp_rcv_grow_window(struct tcpcb *tp, uint32_t len);
/* Receive-buffer autotuning (Linux tcp_rcv_space_adjust): called after the
 * application read; grows rcvbuf to about twice what was read per RTT. */
void tcp_rcv_space_adjust(struct tcpcb *tp);
/* Send-buffer growth (Linux tcp_sndbuf_expand): room for about two
 * congestion windows. Called when the application writes. */
void tcp_sndbuf_expand(struct tcpcb *tp);
/* RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)) — also RFC 5681 §4.1's
 * restart window. Shared by every congestion-control algorithm. */
uint32_t tcp_initial_window(const struct tcpcb *tp);
/* RFC 7323: set up what this connection offers on its SYN (from the
 * stack's switches and the receive buffer), forgetting any earlier
 * negotiation. Called before a SYN is sent or a SYN is answered. */
void tcp_opts_init(struct tcpcb *tp);
/* RFC 7323 §5.4: the timestamp clock offset of the connection of flow f. */
uint32_t tcp_ts_offset(struct ns_stack *st, const struct ns_flow *f);
/* Both SYNs carried the option. */
static inline bool tcp_ts_on(const struct tcpcb *tp)
{
    return (tp->flags & (TF_REQ_TSTMP | TF_RCVD_TSTMP)) == (TF_REQ_TSTMP | TF_RCVD_TSTMP);
}
static inline bool tcp_ws_on(const struct tcpcb *tp)
{
    return (tp->flags & (TF_REQ_SCALE | TF_RCVD_SCALE)) == (TF_REQ_SCALE | TF_RCVD_SCALE);
}
/* SACK was negotiated (RFC 2018 §2: both SYNs carried SACK-permitted). */
static inline bool tcp_sack_on(const struct tcpcb *tp)
{
    return (tp->flags & (TF_REQ_SACK | TF_RCVD_SACK)) == (TF_REQ_SACK | TF_RCVD_SACK);
}
/* Loss recovery runs on the scoreboard (RACK-TLP, RFC 6675, PRR) rather
 * than on duplicate ACKs (NewReno): SACK negotiated and synchronized. */
static inline bool tcp_sack_active(const struct tcpcb *tp)
{
    return tcp_sack_on(tp) && TCPS_HAVEESTABLISHED(tp->state);
}
/* Bytes of options on every non-SYN segment (RFC 7323 §3: NOP NOP TS). */
static inline uint32_t tcp_opts_hdr_len(const struct tcpcb *tp) { return tcp_ts_on(tp) ? 12u : 0u; }
/* Our timestamp clock: milliseconds plus the connection's offset. */
static inline uint32_t tcp_ts_now(const struct tcpcb *tp)
{
    return (uint32_t)(tp->st->now_us / 1000) + tp->ts_offset;
}

/* tcp_input.c */
void tcp_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip4_repr *ip,
               struct ns_pbuf *pb);
/* After the application read: queued data that was in order but did not
 * fit the ring (memory limit) moves in now, with a FIN it reaches, and
 * the ACK goes out. */
void tcp_input_pull(struct tcpcb *tp);
void tcp_icmp_err(struct ns_stack *st, uint32_t from, uint8_t type, uint8_t code, uint32_t info,
                  const struct ns_ip4_repr *inner, const uint8_t *payload, size_t payload_len);
/* An IPv6 segment for us (ip_protocol.input6) and ICMPv6 errors about
 * ours (err6), as tcp_input and tcp_icmp_err. */
void tcp_input6(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                struct ns_pbuf *pb);
void tcp_icmp6_err(struct ns_stack *st, const struct ns_ip6_addr *from, uint8_t type, uint8_t code,
                   uint32_t info, const struct ns_ip6_repr *inner, const uint8_t *payload,
                   size_t payload_len);

/* tcp_output.c */
int tcp_output(struct tcpcb *tp);
/* The window field of the next non-RST segment (syn: a SYN's, unscaled):
 * the free receive space rounded down to the scale, zero while it is a
 * silly window, never moving an advertised right edge left unless that
 * would commit more than tcp_rcv_overcommit_max past the buffer. Does not
 * change RCV.ADV (tcp_xmit does, once the segment is built). */
uint16_t tcp_select_window(struct tcpcb *tp, bool syn);
/* Sequence number one past the last byte the receive buffer holds: where
 * the window ends while nobody reads. */
uint32_t tcp_rcv_buf_end(const struct tcpcb *tp);
/* The most the receive ring may hold past its cap to honour an edge that
 * window-scale rounding put there (0 without scaling): a granule, or a
 * sixteenth of the buffer if more. */
uint32_t tcp_rcv_overcommit_max(const struct tcpcb *tp);
/* Retransmit from snd_una (after RTO or for fast retransmit): one segment. */
void tcp_retransmit_one(struct tcpcb *tp);
void tcp_send_ack_now(struct tcpcb *tp);
/* The application read from the receive buffer: send a window update if
 * the receiver-side rules ask for one (Linux tcp_cleanup_rbuf), then
 * whatever else is due (tcp_output). */
void tcp_rcvd(struct tcpcb *tp);

/* The sequence number of the first byte the application has not read
 * (Linux copied_seq): RCV.NXT less what the ring holds and the FIN. */
uint32_t tcp_copied_seq(const struct tcpcb *tp);

/* RFC 9293 §3.10.7.4 "sixth, check the URG bit", as Linux tcp_urg: a
 * segment at `seq` whose in-window payload `data`/`len` (trimmed to the
 * window, starting at `start`) arrived with urgent pointer `up` (the
 * sequence number after the urgent byte: RFC 6093 §3); urg says whether
 * the URG flag was set. Records the newest urgent byte and captures it
 * from whichever segment carries it. */
void tcp_urg(struct tcpcb *tp, bool urg, uint32_t up, uint32_t start, const uint8_t *data,
             uint32_t len);
/* A keepalive probe: SEG.SEQ = SND.UNA - 1, no data (RFC 1122 §4.2.3.6). */
void tcp_send_keepalive(struct tcpcb *tp);
uint32_t tcp_flight_size(const struct tcpcb *tp);
/* Payload bytes the next segment may carry: the MSS less the SACK
 * blocks it will carry. */
uint32_t tcp_cur_mss(const struct tcpcb *tp);

/* tcp_txwait.c — transmit backpressure (docs/architecture.md) */
/* tcp_xmit's answer when IP returned -EAGAIN (a full device queue refused
 * the segment; nothing was sent): an ACK it carried is owed again, and the
 * connection waits for the device. Returns -EAGAIN. */
int tcp_tx_refused(struct tcpcb *tp, uint8_t flags);
/* Is the connection waiting for a full device? Then nothing may be sent
 * until it is woken (tcp_output runs then); `rexmit_una`: the caller wanted
 * to retransmit SND.UNA (tcp_retransmit_one), which is done first on
 * waking. */
static inline bool tcp_tx_waiting(struct tcpcb *tp, bool rexmit_una)
{
    if (!ns_tx_waiting(&tp->txw))
        return false;
    if (rexmit_una)
        tp->txw_rexmit = true;
    return true;
}

/* tcp_timer.c */
/* A connection's timers. */
enum tcp_timer_kind {
    TT_REXMT,   /* retransmission (RFC 6298), or the tail loss probe (rexmt_mode) */
    TT_PERSIST, /* zero-window probe (RFC 9293 §3.8.6.1), cork ceiling, resource probe */
    TT_KEEP,    /* keep-alive (RFC 1122 §4.2.3.6) */
    TT_DELACK,  /* delayed ACK (RFC 1122 §4.2.3.2) */
    TT_2MSL,    /* TIME_WAIT (RFC 9293 §3.6.1), an orphan's FIN_WAIT_2 timeout */
    TT_RACK,    /* RFC 8985 §6.3 reordering timer */
    TT_NKINDS
};
/* Set up the timers (all off) / turn them all off. */
void tcp_timers_init(struct tcpcb *tp);
void tcp_timers_cancel(struct tcpcb *tp);
/* Turn timer `kind` on at `at` (us; at or before now: due at the next
 * advance of the wheel), moving it if it was on. */
void tcp_timer_arm(struct tcpcb *tp, unsigned kind, uint64_t at);
/* Turn timer `kind` off; harmless when it is. */
void tcp_timer_cancel(struct tcpcb *tp, unsigned kind);
static inline bool tcp_timer_pending(const struct tcpcb *tp, unsigned kind)
{
    return (tp->t_on >> kind) & 1u;
}
void tcp_arm_rexmt(struct tcpcb *tp);
void tcp_arm_keep(struct tcpcb *tp);
void tcp_arm_delack(struct tcpcb *tp);
void tcp_enter_time_wait(struct tcpcb *tp);
void tcp_rtt_sample(struct tcpcb *tp, uint64_t rtt_us);
/* What t_rexmt does when it fires. */
enum { TCPT_RTO = 0, TCPT_TLP = 1 };
/* Arm t_rexmt as the tail loss probe at `at` (not beyond the RTO). */
void tcp_arm_tlp(struct tcpcb *tp, uint64_t at);
/* When the RTO would fire if armed now, or if armed at `since`. */
uint64_t tcp_rto_deadline(const struct tcpcb *tp);
uint64_t tcp_rto_deadline_since(const struct tcpcb *tp, uint64_t since);

/* tcp_reass.c */
/* Queue an out-of-order segment (data starting at seq). False when it did
 * not fit the bounds (counted). */
bool tcp_reass_insert(struct tcpcb *tp, uint32_t seq, const uint8_t *data, uint32_t len, bool fin);
/* Memory a queued segment of len bytes holds (header and data). */
uint32_t tcp_reass_seg_mem(uint32_t len);
/* Free at least `goal` bytes of the segments that start at or above
 * `from`, the highest first (Linux tcp_prune_ofo_queue), and forget the
 * SACK blocks (they may name pruned data). Counted in tcp_ooo_pruned.
 * When they hold less than goal: all of them if `partial`, else none.
 * Returns the bytes freed. */
uint64_t tcp_reass_prune(struct tcpcb *tp, uint32_t from, uint64_t goal, bool partial);
/* Move data now in order (starting at rcv_nxt) into the receive buffer,
 * as much as the buffer's space and the memory limit let it take (the
 * rest stays queued). Returns bytes moved; *fin set when an in-order FIN
 * was reached. Call it when RCV.NXT advanced (or tcp_reass_ready). */
uint32_t tcp_reass_pull(struct tcpcb *tp, bool *fin);
/* Queued data starts at or below RCV.NXT: there is something to pull. */
bool tcp_reass_ready(const struct tcpcb *tp);
void tcp_reass_flush(struct tcpcb *tp);
/* Sequence number after the last queued byte (RCV.NXT when empty). */
uint32_t tcp_reass_end(const struct tcpcb *tp);
/* Widen [*l, *r) to the contiguous run of queued data holding it. */
void tcp_reass_span(const struct tcpcb *tp, uint32_t *l, uint32_t *r);

/* tcp_subr.c: a receiver-side RTT sample (µs) from the TSecr of arriving
 * data (Linux tcp_rcv_rtt_measure_ts), for receive-buffer autotuning. */
void tcp_rcv_rtt_sample(struct tcpcb *tp, uint64_t rtt_us);

/* tcp_sack.c — receiver side */
/* Data [seq, end) was queued out of order: make its block (merged with
 * its queued neighbours) the first to report (RFC 2018 §4). */
void tcp_sack_rcv_add(struct tcpcb *tp, uint32_t seq, uint32_t end);
/* RCV.NXT advanced: drop or trim blocks it covers. */
void tcp_sack_rcv_prune(struct tcpcb *tp);
/* RFC 2883: report [seq, end) as a duplicate in the next ACK. */
void tcp_sack_rcv_dup(struct tcpcb *tp, uint32_t seq, uint32_t end);
/* Fill th's SACK blocks for an outgoing ACK; the D-SACK block is consumed. */
void tcp_sack_fill(struct tcpcb *tp, struct ns_tcp_repr *th);
/* Option bytes the SACK blocks of the next segment will take. */
uint32_t tcp_sack_opt_len(const struct tcpcb *tp);

/* tcp_sack.c — sender scoreboard */
/* Give the scoreboard back (to the stack's spares when it has its first
 * size); the byte counts are zeroed. Called when the last record leaves
 * and when the connection no longer sends. */
void tcp_sm_free(struct tcpcb *tp);
/* Free the stack's spare scoreboard arrays (tcp_destroy). */
void tcp_sm_spares_free(struct tcp_table *t);
/* Records in a scoreboard's first array, and such arrays kept spare per
 * stack (tcp_sm_free). */
#define TCP_SM_FIRST_CAP 16u
#define TCP_SM_SPARES 16u
/* A segment [seq, seq+len) (FIN included in len when fin) went out now. */
void tcp_sm_sent(struct tcpcb *tp, uint32_t seq, uint32_t len, bool fin);
/* Records wholly below `ack` leave (RACK sees them delivered); a record
 * `ack` cuts is trimmed. */
void tcp_sm_ack(struct tcpcb *tp, uint32_t ack);
/* Mark the records the SACK blocks cover; true for an RFC 2883 D-SACK. */
bool tcp_sm_sack(struct tcpcb *tp, const struct ns_tcp_repr *th);
/* Mark every record not SACKed as lost (RTO, PMTU); `forget_sacks`
 * first clears the SACK marks (the receiver reneged, RFC 2018 §8). */
void tcp_sm_mark_all_lost(struct tcpcb *tp, bool forget_sacks);
void tcp_sm_mark_lost(struct tcpcb *tp, struct tcp_sendrec *r);
/* The i-th record (0 = the oldest) and the number of records. */
static inline struct tcp_sendrec *tcp_sm_at(const struct tcpcb *tp, uint32_t i)
{
    return &tp->sm.rec[(tp->sm.head + i) & (tp->sm.cap - 1)];
}
/* Index of the record holding seq (SND.UNA <= seq < SND.MAX), or sm.n. */
uint32_t tcp_sm_find(const struct tcpcb *tp, uint32_t seq);
/* Split record i at seq so that a new record starts there. False when
 * out of memory. */
bool tcp_sm_split(struct tcpcb *tp, uint32_t i, uint32_t seq);
/* The first lost record whose retransmission is not in flight, or NULL. */
struct tcp_sendrec *tcp_sm_next_lost(struct tcpcb *tp);
/* Debug builds: assert the records tile [SND.UNA, SND.MAX) and the
 * byte counts match the marks. */
void tcp_sm_check(const struct tcpcb *tp);
/* RFC 6675 §2 "pipe": bytes the sender believes are in the network. */
static inline uint32_t tcp_pipe(const struct tcpcb *tp)
{
    return tp->snd_max - tp->snd_una - tp->sacked_bytes - tp->lost_bytes + tp->retrans_bytes;
}

/* tcp_recovery.c */
/* An acceptable ACK arrived on a connection with SACK active (after
 * tcp_ack_new advanced SND.UNA, when it acknowledged new data): mark
 * SACKs, detect losses (RACK), enter or leave recovery, set cwnd (PRR),
 * grow cwnd outside recovery, re-arm the tail loss probe. prior_una and
 * prior_sacked: SND.UNA and sacked_bytes before this ACK. */
void tcp_rec_ack(struct tcpcb *tp, const struct ns_tcp_repr *th, uint32_t prior_una,
                 uint32_t prior_sacked);
/* len bytes were sent (PRR's prr_out; a retransmission may later be
 * proved needless by a D-SACK). */
void tcp_rec_sent(struct tcpcb *tp, uint32_t len, bool retransmission);
/* RFC 8985 §7.2: arm the tail loss probe when it applies. */
void tcp_tlp_arm(struct tcpcb *tp);
/* The probe timeout fired: send the probe (§7.3; tcp_output.c). */
void tcp_tlp_fire(struct tcpcb *tp);
/* RTO with SACK active: everything not SACKed is lost (RFC 6675 §5.1). */
void tcp_rec_rto(struct tcpcb *tp);
/* RACK.min_RTT and friends, from an RTT sample. */
void tcp_rec_rtt(struct tcpcb *tp, uint64_t rtt_us);
void tcp_rack_timeout(struct tcpcb *tp);
/* RFC 8985 §6.2 steps 1-3: segment r was just delivered (ACKed or SACKed). */
void tcp_rack_delivered(struct tcpcb *tp, const struct tcp_sendrec *r);

/* tcp_mem.c — the stack-wide limit on what TCP's buffers hold (Linux
 * tcp_mem), in bytes of storage: cfg.tcp_mem_low, _pressure, _high. */
enum tcp_mem_use { TCP_MEM_RCV, TCP_MEM_SND, TCP_MEM_OOO };
/* Spare ring blocks kept per kind of buffer (send, receive) per stack. */
#define TCP_RING_SPARES 16u
/* Set up the accounts (tcp_init). */
void tcp_mem_init(struct tcp_table *t);
/* Free the spare ring blocks tcp_mem_init allowed (tcp_destroy). */
void tcp_mem_destroy(struct tcp_table *t);
/* Linux tcp_under_memory_pressure: true from the moment the stack holds
 * more than cfg.tcp_mem_pressure (counted in tcp_mem_pressures) until it
 * holds cfg.tcp_mem_low or less. Refreshed by every call. */
bool tcp_mem_pressure(struct ns_stack *st);
/* May tp take `cost` more bytes of storage for `use`? Out-of-order data
 * goes first: above cfg.tcp_mem_pressure, an out-of-order segment is
 * admitted only after this queue's segments at or above `seq` made room
 * below it; ring storage only after other connections' out-of-order data
 * (the stalest first; never tp's own, which its caller may be walking)
 * made what room it could, and up to cfg.tcp_mem_high. */
bool tcp_mem_admit(struct tcpcb *tp, uint64_t cost, enum tcp_mem_use use, uint32_t seq);
/* How many of len bytes (at most the room below `max`, the most the ring
 * may hold: its cap, or tcp_rcv_ring_limit for the receive ring) the
 * receive or send ring r of tp may take now: all when its storage holds
 * them or may grow (tcp_mem_admit), else what the storage already has
 * room for; a ring without storage always gets its first
 * NS_RING_MIN_STORAGE (Linux guarantees every socket tcp_rmem[0] /
 * tcp_wmem[0]). */
uint32_t tcp_mem_ring_take(struct tcpcb *tp, struct ns_ring *r, enum tcp_mem_use use,
                           uint32_t len, uint32_t max);
/* Whether send() would take a byte now (POLLOUT): the memory side. */
bool tcp_mem_snd_writable(struct tcpcb *tp);

/* Bytes written and not sent yet (Linux write_seq - snd_nxt). */
static inline uint32_t tcp_notsent(const struct tcpcb *tp)
{
    uint32_t sent = tp->snd_nxt - tp->snd_una;
    return tp->sndbuf.len > sent ? tp->sndbuf.len - sent : 0;
}

/* Whether poll reports POLLOUT for an established stream (Linux
 * __sk_stream_is_writeable with wake = 1): a third of the send buffer
 * free, the stack-wide memory limit not holding it back, and with
 * TCP_NOTSENT_LOWAT twice the unsent bytes below the mark. */
bool tcp_stream_writable(struct tcpcb *tp);

/* Linux tcp_check_space / sk_stream_write_space: a writer that found no
 * room (SO_F_NOSPACE) is woken once tcp_stream_writable holds again —
 * after an ACK freed buffer space, or after output sent unsent bytes
 * under TCP_NOTSENT_LOWAT; not at every ACK. */
void tcp_check_space(struct tcpcb *tp);
/* The receive window the memory allows, given the buffer's free space:
 * all of it below pressure; under pressure what the ring's storage has
 * free plus 4 segments (Linux tcp_adjust_rcv_ssthresh: 4 * advmss), and
 * above cfg.tcp_mem_high only the storage's free room. */
uint32_t tcp_mem_rcv_window(const struct tcpcb *tp, uint32_t space);
/* The window a new connection's SYN,ACK may offer with a receive
 * buffer of cap bytes and an effective MSS of mss: tcp_mem_rcv_window
 * for a ring that has no storage yet. */
uint32_t tcp_mem_syn_window(struct ns_stack *st, uint32_t cap, uint32_t mss);
/* Give back the storage of tp's rings that are empty (Linux
 * sk_mem_reclaim once the skbs are freed): storage that is still the
 * first allocation (NS_RING_MIN_STORAGE, or the cap if smaller) always,
 * storage that grew only under memory pressure. Call when a ring drains
 * (read to the end, or everything sent acknowledged); a ring allocates
 * again on its next byte. */
void tcp_mem_reclaim(struct tcpcb *tp);
/* The TCP part of ns_stack_usage(). */
void tcp_mem_usage(const struct ns_stack *st, struct ns_stack_usage *out);

/* tcp_usrreq.c */
extern const struct ns_sock_ops tcp_sock_ops;
extern const struct ns_protosw tcp_protosw, tcp6_protosw;
/* Wake-ups are implicit: sockets are polled. Called when a child becomes
 * ready on a listener. */

/* Defaults (Linux's observable values unless noted). */
#define TCP_MSS_NOOPT 536u          /* RFC 9293 §3.7.1 when no option */
#define TCP_RTO_INITIAL_US 1000000u   /* RFC 6298 §2.1 */
#define TCP_RTO_MAX_US 120000000u     /* Linux TCP_RTO_MAX, RFC 6298 §2.5 allows */
#define TCP_SYN_RETRIES 6u            /* Linux tcp_syn_retries */
#define TCP_SYNACK_RETRIES 5u         /* Linux tcp_synack_retries */
#define TCP_RETRIES2 15u              /* Linux tcp_retries2 */
#define TCP_ORPHAN_RETRIES 8u         /* Linux tcp_orphan_retries (0 means 8) */
#define TCP_DELACK_US 40000u          /* Linux TCP_DELACK_MIN; RFC 1122 max 500 ms */
#define TCP_KEEPIDLE_US 7200000000ull /* 2 h, RFC 1122 §4.2.3.6 */
#define TCP_KEEPINTVL_US 75000000ull
#define TCP_KEEPCNT_DEFAULT 9u
#define TCP_FIN_TIMEOUT_US 60000000ull /* Linux tcp_fin_timeout */
#define TCP_PERSIST_MIN_US 200000u
#define TCP_CORK_CEILING_US 200000u   /* tcp(7) TCP_CORK: at most 200 ms */
#define TCP_PERSIST_MAX_US 120000000u
#define TCP_RESOURCE_PROBE_US 500000u /* Linux TCP_RESOURCE_PROBE_INTERVAL: a probe with no buffer */
#define TCP_REASS_MAX_SEGS 256u     /* ... or one per 512 bytes of receive buffer, if more */
#define TCP_OOW_ACK_US 500000u      /* Linux tcp_invalid_ratelimit: 500 ms */
#define TCP_WSCALE_MAX 14u          /* RFC 7323 §2.3 */
#define TCP_DUPTHRESH 3u            /* RFC 5681 §3.2, RFC 6675 §2 DupThresh */
#define TCP_WCDELACK_US 200000u     /* RFC 8985 §7.2 WCDelAckT */
#define TCP_PTO_MIN_US 2000u        /* Linux TCP_TIMEOUT_MIN (2 jiffies at HZ=1000) */
#define TCP_REO_PERSIST 16u         /* RFC 8985 §6.2 step 4: recoveries */
#define TCP_MIN_PMTU 552u           /* Linux net.ipv4.route.min_pmtu */
#define TCP_PMTU_EXPIRES_US 600000000ull /* Linux net.ipv4.route.mtu_expires: 10 min */
#define TCP_PAWS_IDLE_US (24ull * 24 * 3600 * 1000000) /* RFC 7323 §5.5: 24 days */

#endif
