/* gram.c - sums of products over frames, 8 lanes at a time.
 *
 * A frame is two 4-lane vectors, channels 0..3 and 4..7 (native width of
 * SSE2 and NEON: no shuffle crosses registers).  Rotating a vector by k
 * lanes lines channel c up with c + k, so products with rotations 0..2
 * within each half and 0..3 across give every pair of channels.  GCC's
 * vector extensions keep it portable.  Blocks of 32 frames are summed in
 * float, then added in double.
 */
#include "pq/gram.h"

#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

#define BLOCK 32

/* rot(v, k): lane c takes lane (c + k) % 4.  One shufps on SSE2. */
#if defined(__clang__)
#define ROT(v, k)                                                            \
    __builtin_shufflevector((v), (v), (k) % 4, ((k) + 1) % 4, ((k) + 2) % 4, \
                            ((k) + 3) % 4)
#else
#define ROT(v, k) \
    __builtin_shuffle((v), (v4i){(k) % 4, ((k) + 1) % 4, ((k) + 2) % 4, ((k) + 3) % 4})
#endif

/* Block sums, lane c:
 *   ll[k]: x_c x_{(c+k)%4}         (channels 0..3 among themselves)
 *   hh[k]: x_{4+c} x_{4+(c+k)%4}   (channels 4..7)
 *   lh[k]: x_c x_{4+(c+k)%4}       (across)          */
struct block {
    v4f ll[3], hh[3], lh[4];
};

void pq_gram_zero(struct pq_gram *gm)
{
    memset(gm, 0, sizeof(*gm));
}

static void add_pair(struct pq_gram *gm, int a, int b, double v)
{
    gm->g[a][b] += v;
    if (a != b) {
        gm->g[b][a] += v;
    }
}

static void flush(struct pq_gram *gm, const struct block *bl)
{
    for (int c = 0; c < 4; c++) {
        for (int k = 0; k < 3; k++) {
            if (k == 2 && c >= 2) {
                continue; /* (c, c + 2) comes twice */
            }
            add_pair(gm, c, (c + k) % 4, bl->ll[k][c]);
            add_pair(gm, 4 + c, 4 + (c + k) % 4, bl->hh[k][c]);
        }
        for (int k = 0; k < 4; k++) {
            add_pair(gm, c, 4 + (c + k) % 4, bl->lh[k][c]);
        }
    }
}

static v4f vmax_abs(v4f pk, v4f v)
{
    v4f a = (v4f) ((v4i) v & 0x7fffffff); /* |v|: clear the sign bits */
    v4i more = a > pk;                    /* -1 where a lane grew */

    return (v4f) (((v4i) a & more) | ((v4i) pk & ~more));
}

void pq_gram_add(struct pq_gram *gm, const float *x, size_t nch, size_t n)
{
    v4f pk_lo = {0, 0, 0, 0}, pk_hi = {0, 0, 0, 0};

    while (n > 0) {
        size_t m = n < BLOCK ? n : BLOCK;
        struct block bl;

        memset(&bl, 0, sizeof(bl));
        for (size_t f = 0; f < m; f++, x += nch) {
            v4f lo, hi, h1;

            memcpy(&lo, x, sizeof(lo));
            memcpy(&hi, x + 4, sizeof(hi));
            pk_lo = vmax_abs(pk_lo, lo);
            pk_hi = vmax_abs(pk_hi, hi);
            h1 = ROT(hi, 1);
            bl.ll[0] += lo * lo;
            bl.ll[1] += lo * ROT(lo, 1);
            bl.ll[2] += lo * ROT(lo, 2);
            bl.hh[0] += hi * hi;
            bl.hh[1] += hi * h1;
            bl.hh[2] += hi * ROT(hi, 2);
            bl.lh[0] += lo * hi;
            bl.lh[1] += lo * h1;
            bl.lh[2] += lo * ROT(hi, 2);
            bl.lh[3] += lo * ROT(hi, 3);
        }
        flush(gm, &bl);
        n -= m;
    }
    for (int c = 0; c < 4; c++) {
        gm->peak[c] = pk_lo[c] > gm->peak[c] ? pk_lo[c] : gm->peak[c];
        gm->peak[4 + c] = pk_hi[c] > gm->peak[4 + c] ? pk_hi[c] : gm->peak[4 + c];
    }
}
