/* base/rng.h — seeded pseudo-random numbers (xoshiro256**, seeded through
 * splitmix64). Every stack, link and fault wrapper owns one; nothing reads
 * a global or OS random source, so runs replay from their seed. Not for
 * secrets: RFC 6528 ISNs key a hash with it, which is enough for a
 * simulator and documented as a limit for real deployments. */
#ifndef NS_BASE_RNG_H
#define NS_BASE_RNG_H

#include <stdint.h>

struct ns_rng {
    uint64_t s[4];
};

/* Seed the generator; any seed (including 0) gives a usable state. */
void ns_rng_seed(struct ns_rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t ns_rng_next(struct ns_rng *r);
/* Uniform in [0, bound) (bound > 0), without modulo bias. */
uint64_t ns_rng_below(struct ns_rng *r, uint64_t bound);
/* Uniform double in [0, 1). */
double ns_rng_double(struct ns_rng *r);
/* True with probability p (p <= 0: never, p >= 1: always). */
int ns_rng_chance(struct ns_rng *r, double p);
/* splitmix64 step: derive independent seeds from one (x updated). */
uint64_t ns_rng_splitmix(uint64_t *x);

#endif
