/* A portable random generator: xoshiro256** seeded through splitmix64 (Vigna's reference
 * constants), so a seed gives the same numbers on every machine and compiler. */
#include "frontend.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void hb_rng_seed(hb_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hb_rng_next(hb_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float hb_rng_uniform(hb_rng *rng) { return (float)(hb_rng_next(rng) >> 40) * 0x1p-24f; }

float hb_rng_normal(hb_rng *rng)
{
    /* Box-Muller in double; u1 is in (0, 1] so the log is finite. */
    double u1 = ((double)(hb_rng_next(rng) >> 11) + 1.0) * 0x1p-53;
    double u2 = (double)(hb_rng_next(rng) >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static _Thread_local hb_rng default_rng;
static _Thread_local bool default_seeded;

hb_rng *hb_default_rng(void)
{
    if (!default_seeded) {
        hb_rng_seed(&default_rng, 0);
        default_seeded = true;
    }
    return &default_rng;
}

void hb_seed(uint64_t seed)
{
    hb_rng_seed(&default_rng, seed);
    default_seeded = true;
}
