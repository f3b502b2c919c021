/* base/rng.c — xoshiro256** (Blackman & Vigna, public domain algorithm),
 * seeded through splitmix64. See rng.h. */
#include "base/rng.h"

uint64_t ns_rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ns_rng_seed(struct ns_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = ns_rng_splitmix(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ns_rng_next(struct ns_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t ns_rng_below(struct ns_rng *r, uint64_t bound)
{
    /* Rejection sampling: discard the top partial range. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    uint64_t x;
    do
        x = ns_rng_next(r);
    while (x >= limit);
    return x % bound;
}

double ns_rng_double(struct ns_rng *r) { return (double)(ns_rng_next(r) >> 11) * 0x1.0p-53; }

int ns_rng_chance(struct ns_rng *r, double p)
{
    if (p <= 0.0)
        return 0;
    if (p >= 1.0)
        return 1;
    return ns_rng_double(r) < p;
}
