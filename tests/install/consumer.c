/* tests/install/consumer.c — a program as a user of netsock writes it, built
 * against the installed package (tests/scripts/test_install.sh: pkg-config,
 * pkg-config --static, CMake find_package) and as a subproject
 * (tests/scripts/test_subproject.sh). Only public headers, included as an
 * installed library's are.
 *
 * 64 KiB over TCP between two simulated hosts on a lossy link (CUBIC, so
 * a static link needs libm), checked byte for byte; prints
 * "consumer: netsock VERSION: 65536 bytes intact" and exits 0.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <netsock/netsock.h>
#include <netsock/os.h>
#include <netsock/sim.h>
#include <netsock/socket.h>

#define LEN 65536

int main(void)
{
    static unsigned char out[LEN], in[LEN];
    for (size_t i = 0; i < LEN; i++)
        out[i] = (unsigned char)(i * 7 + (i >> 8));

    struct ns_sim *sim = ns_sim_new(3);
    struct ns_stack *a = ns_sim_add_host(sim, "a", NULL);
    struct ns_stack *b = ns_sim_add_host(sim, "b", NULL);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 5000;
    p.loss = 0.02;
    int ia, ib;
    if (!ns_sim_connect(sim, a, b, &p, &ia, &ib))
        return 1;
    struct in_addr aa, ba;
    inet_pton(AF_INET, "192.0.2.1", &aa);
    inet_pton(AF_INET, "192.0.2.2", &ba);
    ns_if_addr_add(a, ia, AF_INET, &aa, 24);
    ns_if_addr_add(b, ib, AF_INET, &ba, 24);

    int l = ns_socket(b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5001)};
    if (ns_bind(b, l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || ns_listen(b, l, 1) < 0)
        return 1;
    int c = ns_socket(a, AF_INET, SOCK_STREAM, 0);
    sin.sin_addr = ba;
    if (ns_connect(a, c, (struct sockaddr *)&sin, sizeof(sin)) < 0) /* blocks: the handshake */
        return 1;
    /* Fits b's receive buffer, so the blocking send completes while b's
     * application is not reading yet. */
    if (ns_send(a, c, out, LEN, 0) != LEN)
        return 1;
    int s = ns_accept(b, l, NULL, NULL);
    ssize_t n = ns_recv(b, s, in, LEN, MSG_WAITALL);
    int ok = n == LEN && memcmp(in, out, LEN) == 0 && ns_clock_now_us() > 0;
    printf("consumer: netsock %s: %zd bytes %s\n", NS_VERSION, n, ok ? "intact" : "WRONG");
    ns_sim_free(sim);
    return ok ? 0 : 1;
}
