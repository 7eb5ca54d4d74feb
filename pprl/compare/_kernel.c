/*
 * pprl.compare._kernel -- popcount / Dice kernels for packed CLKs.
 *
 * Data layout
 *   queries: row-major uint64[nq][words]
 *   refs:    "blocked" uint64[nblocks][words][8]: 8 reference filters per
 *            block, word-major, so one 512-bit load holds word w of 8 refs and
 *            no horizontal sums are needed.  Refs are sorted by popcount so a
 *            query only touches the blocks inside its popcount window.
 *
 * Three code paths, chosen at import (or via select()), sharing one driver
 * (GROUPED_SEARCH: 4 queries x 8 references per step, half-way early exit):
 *   "avx512-vpopcntdq"  VPOPCNTQ on 512-bit vectors
 *   "avx2"              pshufb nibble-LUT popcount + vpsadbw on 256-bit vectors
 *   "neon"              vcntq_u8 byte popcount on 128-bit vectors (AArch64)
 *   "portable"          __builtin_popcountll, no target flags
 * All paths compute the same integers and the same IEEE double
 * score = 2.0 * inter / (pa + pb), so results are identical.
 *
 * The search releases the GIL; Python runs it from several threads.
 */
#ifndef PPRL_NO_PYTHON
#define PY_SSIZE_T_CLEAN
#include <Python.h>     /* first: it sets feature macros for the system headers */
#else   /* standalone build of the search core (tests/native/kernel_harness.c) */
#include <stddef.h>
#include <stdint.h>
typedef ptrdiff_t Py_ssize_t;
#define PY_SSIZE_T_MAX PTRDIFF_MAX
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define PPRL_X86 1
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#define PPRL_NEON 1         /* Advanced SIMD is part of the AArch64 baseline */
#include <arm_neon.h>
#endif

#define LANES 8

enum { PATH_PORTABLE = 0, PATH_AVX2 = 1, PATH_AVX512 = 2, PATH_NEON = 3, NPATHS = 4 };
static int active_path = PATH_PORTABLE;
static const char *path_names[] = {"portable", "avx2", "avx512-vpopcntdq", "neon"};

#define G 4                 /* queries per group: each reference load is reused G times */
#define AI __attribute__((always_inline))

#ifdef PPRL_X86
#define T_AVX2 __attribute__((target("avx2,popcnt")))
#define T_AVX512 __attribute__((target("avx512f,avx512vpopcntdq,avx512bw,avx512dq,popcnt")))
#endif

/* ------------------------------------------------------------------ */
/* Candidate search                                                    */
/* ------------------------------------------------------------------ */

typedef struct {
    double score;
    int64_t rid;
} cand_t;

typedef struct {
    /* inputs */
    const uint64_t *q;      /* nq x words */
    const uint32_t *qpop;   /* nq */
    const int64_t *qid;     /* nq */
    Py_ssize_t nq;
    const uint64_t *rblk;   /* nblocks x words x 8 */
    const uint32_t *rpop;   /* nblocks*8, sorted ascending (padding: 0) */
    const double *rpopd;    /* same as double */
    const double *rrestd;   /* popcount of words [words/2, words) per sorted ref, double */
    const int64_t *rid;     /* nr */
    const int64_t *start;   /* bits + 2 entries: first sorted pos with popcount >= v */
    Py_ssize_t nr, words, bits;
    double threshold;
    int dedupe;             /* query i is sorted ref q_base + i: only refs after it */
    Py_ssize_t q_base;
    Py_ssize_t top_k;       /* 0: all candidates */
    /* outputs */
    int64_t *oq, *orr;
    double *os;
    Py_ssize_t cap, count;
    /* resumable state */
    Py_ssize_t qpos, rpos;  /* rpos: next ref position in current group, -1 = start */
    cand_t *heaps;          /* G heaps of top_k entries */
    Py_ssize_t heap_ns[G];
    int kslot;              /* which heap emit/flush use */
    uint64_t *scratch;      /* G x words: per-group query words prepared by a path (avx2: q >> 4) */
} search_t;

/* Popcount window [lo, hi) of sorted ref positions a query must visit. */
static void
query_window(const search_t *s, uint32_t p, Py_ssize_t qi, Py_ssize_t *lo, Py_ssize_t *hi)
{
    Py_ssize_t a = 0, b = s->nr;
    if (s->threshold > 0) {
        /* Same (truncating) bound as anonlink: |p - p_ref| <= 2p(1/t - 1). */
        double d = (double)(2u * p) * (1.0 / s->threshold - 1.0);
        Py_ssize_t delta = d >= (double)s->bits ? s->bits : (Py_ssize_t)(uint32_t)d;
        Py_ssize_t vlo = (Py_ssize_t)p - delta, vhi = (Py_ssize_t)p + delta + 1;
        /* Refs below p can only reach t if p_ref >= p t / (2 - t); the -1 keeps a
         * margin far above rounding error, so the result set is unchanged. */
        if (s->threshold < 2.0) {
            double tight = (double)p * s->threshold / (2.0 - s->threshold) - 1.0;
            if (tight > (double)vlo) vlo = (Py_ssize_t)tight;
        }
        if (vlo < 0) vlo = 0;
        if (vhi > s->bits + 1) vhi = s->bits + 1;
        a = s->start[vlo];
        b = s->start[vhi];
    }
    if (s->dedupe && a < s->q_base + qi + 1)
        a = s->q_base + qi + 1;
    *lo = a;
    *hi = b;
}

/* heap of the top_k best candidates; root = worst (lowest score, then highest rid) */
static inline int
worse(const cand_t *x, const cand_t *y)
{
    return x->score < y->score || (x->score == y->score && x->rid > y->rid);
}

static void
heap_push(search_t *s, double score, int64_t rid)
{
    cand_t c = {score, rid};
    cand_t *h = s->heaps + s->kslot * s->top_k;
    Py_ssize_t n = s->heap_ns[s->kslot];
    if (n == s->top_k) {
        if (!worse(&h[0], &c))
            return;
        /* replace root and sift down */
        Py_ssize_t i = 0;
        for (;;) {
            Py_ssize_t l = 2 * i + 1, r = l + 1, m = i;
            const cand_t *cur = (m == i) ? &c : &h[m];
            if (l < n && worse(&h[l], cur)) { m = l; cur = &h[l]; }
            if (r < n && worse(&h[r], cur)) { m = r; }
            if (m == i) break;
            h[i] = h[m];
            i = m;
        }
        h[i] = c;
        return;
    }
    Py_ssize_t i = n++;
    while (i > 0) {
        Py_ssize_t p = (i - 1) / 2;
        if (!worse(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
    s->heap_ns[s->kslot] = n;
}

static int
cmp_best_first(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (worse(x, y)) return 1;
    if (worse(y, x)) return -1;
    return 0;
}

/* Emit one candidate (all-pairs mode writes out, top-k mode feeds heap kslot). */
static inline void
emit_k(search_t *s, Py_ssize_t qi, Py_ssize_t pos, double score)
{
    int64_t rid = s->rid[pos];
    if (s->top_k) {
        heap_push(s, score, rid);
        return;
    }
    int64_t qid = s->qid[qi];
    if (s->dedupe && rid < qid) {
        int64_t t = rid; rid = qid; qid = t;
    }
    s->oq[s->count] = qid;
    s->orr[s->count] = rid;
    s->os[s->count] = score;
    s->count++;
}

static inline double
dice_score(uint64_t inter, uint32_t pa, uint32_t pb)
{
    uint32_t den = pa + pb;
    return den ? (2.0 * (double)inter) / (double)den : 0.0;
}

/* Finish a query in top-k mode: write the heap best-first. */
static void
flush_heap(search_t *s, Py_ssize_t qi)
{
    cand_t *h = s->heaps + s->kslot * s->top_k;
    Py_ssize_t n = s->heap_ns[s->kslot];
    qsort(h, (size_t)n, sizeof(cand_t), cmp_best_first);
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t qid = s->qid[qi], rid = h[i].rid;
        if (s->dedupe && rid < qid) { int64_t t = rid; rid = qid; qid = t; }
        s->oq[s->count] = qid;
        s->orr[s->count] = rid;
        s->os[s->count] = h[i].score;
        s->count++;
    }
    s->heap_ns[s->kslot] = 0;
}

/* ------------------------------------------------------------------ */
/* One driver, three per-block kernels                                 */
/* ------------------------------------------------------------------ */

/*
 * Queries are sorted by popcount, so G consecutive queries have nearly the same
 * popcount window; they walk the union of their windows together and every
 * block of 8 references is loaded once for all G of them (register blocking
 * over queries x references).
 *
 * Every path computes, per (query, reference), the exact integer intersection
 * count.  A conservative double test `inter >= need` (need = (p + p_ref) * t/2,
 * shaved by 1e-12) preselects lanes; the exact `dice_score(...) >= threshold`
 * then decides, so all paths give the same pairs and bit-identical scores.
 *
 * Early exit after the first half of the words: the final intersection is at
 * most inter_half + min(rest_q, rest_ref), where rest_* are the popcounts of the
 * second halves.  A query whose bound cannot reach `need` in any lane skips the
 * second half of the block.  It only drops pairs the exact test would reject.
 */
typedef struct {
    Py_ssize_t qi[G], lo[G], hi[G];
    uint32_t p[G];
    double qrest[G];        /* popcount of the query's second half of words */
    const uint64_t *qr[G];  /* query rows */
    double ht;              /* threshold / 2, shaved so the double pre-test is conservative */
    Py_ssize_t words, half;
    /* the early exit pays only when it prunes: data with many near pairs (e.g.
     * clkhash schemas with few distinct values) switch it off after a trial */
    int early;
    Py_ssize_t checked, saved;
} group_t;

static inline void
early_note(group_t *g, unsigned live)
{
    g->checked++;
    g->saved += !live;
    if (g->checked == 1024 && g->saved * 2 < g->checked) g->early = 0;
}

/* Emit the lanes in mask m of one query's block (scalar exact test). */
static inline void
emit_masked(search_t *s, const group_t *g, int k, Py_ssize_t pos0, unsigned m,
            const uint64_t inter[LANES])
{
    Py_ssize_t lo = g->lo[k], hi = g->hi[k];
    if (pos0 + LANES <= lo || pos0 >= hi) return;
    if (pos0 < lo) m &= 0xFFu << (lo - pos0);
    if (pos0 + LANES > hi) m &= 0xFFu >> (pos0 + LANES - hi);
    s->kslot = k;
    while (m) {
        int l = __builtin_ctz(m);
        m &= m - 1;
        double sc = dice_score(inter[l], g->p[k], s->rpop[pos0 + l]);
        if (sc >= s->threshold) emit_k(s, g->qi[k], pos0 + l, sc);
    }
}

/*
 * GROUPED_SEARCH(words, PREP, BLOCK): the resumable driver shared by all paths.
 * PREP runs once per group (after g is set up); BLOCK handles block b of the
 * references for the whole group (it may read s, g, b).
 */
#define GROUPED_SEARCH(WORDS, PREP, BLOCK)                                                 \
    group_t g;                                                                             \
    g.words = (WORDS);                                                                     \
    g.half = g.words / 2;                                                                  \
    g.ht = s->threshold * 0.5 * (1.0 - 1e-12);                                             \
    g.early = s->threshold > 0 && g.half > 0;                                              \
    g.checked = g.saved = 0;                                                               \
    for (; s->qpos < s->nq; s->qpos += G, s->rpos = -1) {                                  \
        Py_ssize_t glo = PY_SSIZE_T_MAX, ghi = 0;                                          \
        for (int k = 0; k < G; k++) {                                                      \
            Py_ssize_t qi = s->qpos + k < s->nq ? s->qpos + k : s->nq - 1;                 \
            g.qi[k] = qi;                                                                  \
            g.p[k] = s->qpop[qi];                                                          \
            g.qr[k] = s->q + qi * g.words;                                                 \
            uint32_t rest = 0;                                                             \
            for (Py_ssize_t w = g.half; w < g.words; w++)                                  \
                rest += (uint32_t)__builtin_popcountll(g.qr[k][w]);                        \
            g.qrest[k] = (double)rest;                                                     \
            g.lo[k] = g.hi[k] = 0;                                                         \
            if (s->qpos + k < s->nq && !(s->threshold > 0 && g.p[k] == 0))                 \
                query_window(s, g.p[k], qi, &g.lo[k], &g.hi[k]);                           \
            if (g.lo[k] < g.hi[k]) {                                                       \
                if (g.lo[k] < glo) glo = g.lo[k];                                          \
                if (g.hi[k] > ghi) ghi = g.hi[k];                                          \
            }                                                                              \
        }                                                                                  \
        if (glo >= ghi) continue;                                                          \
        if (s->rpos < 0) {                                                                 \
            if (s->top_k && s->cap - s->count < G * s->top_k) return;                      \
            s->rpos = glo;                                                                 \
        }                                                                                  \
        PREP;                                                                              \
        Py_ssize_t b = s->rpos / LANES, bend = (ghi + LANES - 1) / LANES;                  \
        for (; b < bend; b++) {                                                            \
            if (!s->top_k && s->cap - s->count < G * LANES) {                              \
                s->rpos = b * LANES > glo ? b * LANES : glo;                               \
                if (s->qpos > s->nq) s->qpos = s->nq;                                      \
                return;                                                                    \
            }                                                                              \
            BLOCK;                                                                         \
        }                                                                                  \
        if (s->top_k)                                                                      \
            for (int k = 0; k < G && s->qpos + k < s->nq; k++) {                           \
                s->kslot = k;                                                              \
                flush_heap(s, g.qi[k]);                                                    \
            }                                                                              \
    }                                                                                      \
    if (s->qpos > s->nq) s->qpos = s->nq;

/* need[l] for query k of the group against the block at pos0 (scalar form). */
static inline double
lane_need(const search_t *s, const group_t *g, int k, Py_ssize_t pos)
{
    return s->rpopd[pos] * g->ht + (double)g->p[k] * g->ht;
}

/* ---- portable: __builtin_popcountll, no target flags ---- */

/* inter[k][l] += popcount(q_k & ref_l) over words [w0, w1), for the queries k in `which`. */
typedef void (*count_fn)(const group_t *g, const uint64_t *blk, Py_ssize_t w0, Py_ssize_t w1,
                         unsigned which, uint64_t inter[G][LANES]);

static inline AI void
count_portable(const group_t *g, const uint64_t *blk, Py_ssize_t w0, Py_ssize_t w1,
               unsigned which, uint64_t inter[G][LANES])
{
    for (int k = 0; k < G; k++) {
        if (!(which & (1u << k))) continue;
        const uint64_t *q = g->qr[k];
        for (Py_ssize_t w = w0; w < w1; w++) {
            const uint64_t qw = q[w];
            const uint64_t *r = blk + w * LANES;
            for (int l = 0; l < LANES; l++)
                inter[k][l] += (uint64_t)__builtin_popcountll(qw & r[l]);
        }
    }
}

/* One block for the group with scalar threshold tests; `count` does the popcounts. */
static inline AI void
block_scalar(search_t *s, group_t *g, Py_ssize_t b, count_fn count)
{
    const Py_ssize_t words = g->words, pos0 = b * LANES;
    const uint64_t *blk = s->rblk + b * words * LANES;
    uint64_t inter[G][LANES];
    unsigned live = (1u << G) - 1;
    memset(inter, 0, sizeof(inter));
    count(g, blk, 0, g->half, live, inter);
    if (g->early) {
        live = 0;
        for (int k = 0; k < G; k++)
            for (int l = 0; l < LANES; l++) {
                double rr = s->rrestd[pos0 + l];
                double bound = (double)inter[k][l] + (rr < g->qrest[k] ? rr : g->qrest[k]);
                if (bound >= lane_need(s, g, k, pos0 + l)) { live |= 1u << k; break; }
            }
        early_note(g, live);
    }
    count(g, blk, g->half, words, live, inter);
    for (int k = 0; k < G; k++) {
        if (!(live & (1u << k))) continue;
        unsigned m = 0;
        for (int l = 0; l < LANES; l++)
            if (s->threshold <= 0 || (double)inter[k][l] >= lane_need(s, g, k, pos0 + l))
                m |= 1u << l;
        if (m) emit_masked(s, g, k, pos0, m, inter[k]);
    }
}

static void
search_portable(search_t *s)
{
    GROUPED_SEARCH(s->words, (void)0, block_scalar(s, &g, b, count_portable));
}

#ifdef PPRL_NEON
/* ---- neon: vcntq_u8 byte popcounts, 4 queries x 8 references per word ----
 * Byte counters (at most 8 per word) are widened with pairwise adds every 31 words. */
static inline AI void
count_neon(const group_t *g, const uint64_t *blk, Py_ssize_t w0, Py_ssize_t w1,
           unsigned which, uint64_t inter[G][LANES])
{
    while (w0 < w1) {
        Py_ssize_t stop = w0 + 31 < w1 ? w0 + 31 : w1;
        uint8x16_t c[G][4];
        for (int k = 0; k < G; k++)
            for (int h = 0; h < 4; h++) c[k][h] = vdupq_n_u8(0);
        for (Py_ssize_t w = w0; w < stop; w++) {
            uint64x2_t r[4];
            for (int h = 0; h < 4; h++) r[h] = vld1q_u64(blk + w * LANES + 2 * h);
            for (int k = 0; k < G; k++) {
                if (!(which & (1u << k))) continue;
                uint64x2_t qv = vdupq_n_u64(g->qr[k][w]);
                for (int h = 0; h < 4; h++)
                    c[k][h] = vaddq_u8(c[k][h], vcntq_u8(vreinterpretq_u8_u64(vandq_u64(r[h], qv))));
            }
        }
        for (int k = 0; k < G; k++) {
            if (!(which & (1u << k))) continue;
            for (int h = 0; h < 4; h++) {
                uint64x2_t t = vpaddlq_u32(vpaddlq_u16(vpaddlq_u8(c[k][h])));
                inter[k][2 * h] += vgetq_lane_u64(t, 0);
                inter[k][2 * h + 1] += vgetq_lane_u64(t, 1);
            }
        }
        w0 = stop;
    }
}

static void
search_neon(search_t *s)
{
    GROUPED_SEARCH(s->words, (void)0, block_scalar(s, &g, b, count_neon));
}
#endif

#ifdef PPRL_X86
/* ---- avx2: pshufb nibble popcount, nibble split hoisted out of the query loop ----
 *
 * popcount(q & r) = sum over bytes of lut[lo(q) & lo(r)] + lut[hi(q) & hi(r)].
 * The reference nibbles (r & 0x0f.., (r >> 4) & 0x0f..) are split once per word
 * and reused by the G queries; the query side needs no masking (the reference
 * nibbles already clear the other bits), only q >> 4, precomputed per group.
 * So each (query word x 4 references) costs 2 AND + 2 PSHUFB + 2 ADD, versus
 * AND + 2 AND + SHIFT + 2 PSHUFB + 2 ADD without the split.  Byte counters hold
 * at most 8 per word and are widened (vpsadbw) every 31 words.
 */
static inline AI T_AVX2 __m256i
lut_avx2(void)
{
    return _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
}

/* acc[k][h] (64-bit lanes: refs 4h..4h+3) += popcount(q_k & r) over words [w0, w1),
 * for the queries k in mask `which` (a compile-time constant after inlining). */
static inline AI T_AVX2 void
count_avx2(const group_t *g, const uint64_t *qhi, const uint64_t *blk, Py_ssize_t w0,
           Py_ssize_t w1, unsigned which, __m256i acc[G][2])
{
    const __m256i lut = lut_avx2(), m4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    const Py_ssize_t words = g->words;
    while (w0 < w1) {
        Py_ssize_t stop = w0 + 31 < w1 ? w0 + 31 : w1;
        /* one half-block (4 refs) at a time keeps the G byte counters, the split
         * reference and the LUT in the 16 ymm registers (no spills) */
        for (int h = 0; h < 2; h++) {
            __m256i c[G];
            for (int k = 0; k < G; k++) c[k] = zero;
            for (Py_ssize_t w = w0; w < stop; w++) {
                __m256i r = _mm256_loadu_si256((const __m256i *)(blk + w * LANES + 4 * h));
                __m256i rl = _mm256_and_si256(r, m4);
                __m256i rh = _mm256_and_si256(_mm256_srli_epi16(r, 4), m4);
                for (int k = 0; k < G; k++) {
                    if (!(which & (1u << k))) continue;
                    __m256i ql = _mm256_set1_epi64x((long long)g->qr[k][w]);
                    __m256i qh = _mm256_set1_epi64x((long long)qhi[k * words + w]);
                    __m256i x = _mm256_add_epi8(
                        _mm256_shuffle_epi8(lut, _mm256_and_si256(rl, ql)),
                        _mm256_shuffle_epi8(lut, _mm256_and_si256(rh, qh)));
                    c[k] = _mm256_add_epi8(c[k], x);
                }
            }
            for (int k = 0; k < G; k++)
                if (which & (1u << k))
                    acc[k][h] = _mm256_add_epi64(acc[k][h], _mm256_sad_epu8(c[k], zero));
        }
        w0 = stop;
    }
}

/* int64 lanes (< 2^52) to double, exactly. */
static inline AI T_AVX2 __m256d
i64_to_pd_avx2(__m256i x)
{
    const __m256d magic = _mm256_set1_pd(4503599627370496.0); /* 2^52 */
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, _mm256_castpd_si256(magic))),
                         magic);
}

static inline AI T_AVX2 void
block_avx2(search_t *s, group_t *g, Py_ssize_t b)
{
    const Py_ssize_t words = g->words, pos0 = b * LANES;
    const uint64_t *blk = s->rblk + b * words * LANES;
    const uint64_t *qhi = s->scratch;
    __m256i acc[G][2];
    __m256d need[G][2];
    const __m256d htv = _mm256_set1_pd(g->ht);
    const __m256d rp0 = _mm256_loadu_pd(s->rpopd + pos0), rp1 = _mm256_loadu_pd(s->rpopd + pos0 + 4);
    for (int k = 0; k < G; k++) {
        acc[k][0] = acc[k][1] = _mm256_setzero_si256();
        __m256d pk = _mm256_set1_pd((double)g->p[k] * g->ht);
        need[k][0] = _mm256_add_pd(_mm256_mul_pd(rp0, htv), pk);
        need[k][1] = _mm256_add_pd(_mm256_mul_pd(rp1, htv), pk);
    }
    unsigned live = (1u << G) - 1;
    count_avx2(g, qhi, blk, 0, g->half, live, acc);
    if (g->early) {
        const __m256d rr0 = _mm256_loadu_pd(s->rrestd + pos0), rr1 = _mm256_loadu_pd(s->rrestd + pos0 + 4);
        live = 0;
        for (int k = 0; k < G; k++) {
            __m256d qr = _mm256_set1_pd(g->qrest[k]);
            __m256d b0 = _mm256_add_pd(i64_to_pd_avx2(acc[k][0]), _mm256_min_pd(rr0, qr));
            __m256d b1 = _mm256_add_pd(i64_to_pd_avx2(acc[k][1]), _mm256_min_pd(rr1, qr));
            if (_mm256_movemask_pd(_mm256_cmp_pd(b0, need[k][0], _CMP_GE_OQ)) |
                _mm256_movemask_pd(_mm256_cmp_pd(b1, need[k][1], _CMP_GE_OQ)))
                live |= 1u << k;
        }
        early_note(g, live);
        if (!live) return;
    }
    if (live == (1u << G) - 1) {
        count_avx2(g, qhi, blk, g->half, words, (1u << G) - 1, acc);
    } else {  /* finish only the queries that can still pass */
        for (int k = 0; k < G; k++)
            if (live & (1u << k)) count_avx2(g, qhi, blk, g->half, words, 1u << k, acc);
    }
    for (int k = 0; k < G; k++) {
        if (!(live & (1u << k))) continue;
        unsigned m;
        if (s->threshold <= 0) {
            m = 0xFFu;
        } else {
            m = (unsigned)_mm256_movemask_pd(
                    _mm256_cmp_pd(i64_to_pd_avx2(acc[k][0]), need[k][0], _CMP_GE_OQ)) |
                (unsigned)_mm256_movemask_pd(
                    _mm256_cmp_pd(i64_to_pd_avx2(acc[k][1]), need[k][1], _CMP_GE_OQ)) << 4;
            if (__builtin_expect(!m, 1)) continue;
        }
        uint64_t inter[LANES];
        _mm256_storeu_si256((__m256i *)inter, acc[k][0]);
        _mm256_storeu_si256((__m256i *)(inter + 4), acc[k][1]);
        emit_masked(s, g, k, pos0, m, inter);
    }
}

/* q >> 4 of every word of the group's queries, for count_avx2. */
static inline AI void
prep_qhi(search_t *s, const group_t *g)
{
    for (int k = 0; k < G; k++)
        for (Py_ssize_t w = 0; w < g->words; w++) s->scratch[k * g->words + w] = g->qr[k][w] >> 4;
}

static T_AVX2 void search_avx2_w16(search_t *s)
{
    GROUPED_SEARCH(16, prep_qhi(s, &g), block_avx2(s, &g, b));
}
static T_AVX2 void search_avx2_any(search_t *s)
{
    GROUPED_SEARCH(s->words, prep_qhi(s, &g), block_avx2(s, &g, b));
}

/* ---- avx512-vpopcntdq: VPOPCNTQ on 512-bit vectors (8 refs per vector) ---- */

/* r AND broadcast(*q) with the broadcast folded into the instruction (one uop);
 * compilers otherwise emit a separate vpbroadcastq per use. */
static inline AI T_AVX512 __m512i
and_bcast(__m512i r, const uint64_t *q)
{
    __m512i x;
    __asm__("vpandq %1%{1to8%}, %2, %0" : "=v"(x) : "m"(*q), "v"(r));
    return x;
}

/* Intersections of G=4 queries with one block over words [w0, w1). */
static inline AI T_AVX512 void
block4_avx512(const uint64_t *const qr[G], const uint64_t *blk, Py_ssize_t w0, Py_ssize_t w1,
              __m512i acc[G])
{
    __m512i a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (Py_ssize_t w = w0; w < w1; w++) {
        __m512i r = _mm512_loadu_si512(blk + w * LANES);
        a0 = _mm512_add_epi64(a0, _mm512_popcnt_epi64(and_bcast(r, qr[0] + w)));
        a1 = _mm512_add_epi64(a1, _mm512_popcnt_epi64(and_bcast(r, qr[1] + w)));
        a2 = _mm512_add_epi64(a2, _mm512_popcnt_epi64(and_bcast(r, qr[2] + w)));
        a3 = _mm512_add_epi64(a3, _mm512_popcnt_epi64(and_bcast(r, qr[3] + w)));
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}

/* Words [w0, w1) of one query against one block, added to acc. */
static inline AI T_AVX512 __m512i
block1_avx512(const uint64_t *q, const uint64_t *blk, Py_ssize_t w0, Py_ssize_t w1, __m512i acc)
{
    __m512i a1 = _mm512_setzero_si512();
    Py_ssize_t w = w0;
    for (; w + 2 <= w1; w += 2) {
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(and_bcast(_mm512_loadu_si512(blk + w * LANES), q + w)));
        a1 = _mm512_add_epi64(a1, _mm512_popcnt_epi64(and_bcast(_mm512_loadu_si512(blk + (w + 1) * LANES), q + w + 1)));
    }
    if (w < w1)
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(and_bcast(_mm512_loadu_si512(blk + w * LANES), q + w)));
    return _mm512_add_epi64(acc, a1);
}

static inline AI T_AVX512 void
block_avx512(search_t *s, group_t *g, Py_ssize_t b)
{
    const Py_ssize_t words = g->words, pos0 = b * LANES;
    const uint64_t *blk = s->rblk + b * words * LANES;
    __m512i iv[G];
    __m512d need[G];
    const __m512d rp = _mm512_loadu_pd(s->rpopd + pos0);
    for (int k = 0; k < G; k++) {
        iv[k] = _mm512_setzero_si512();
        need[k] = _mm512_fmadd_pd(rp, _mm512_set1_pd(g->ht), _mm512_set1_pd((double)g->p[k] * g->ht));
    }
    block4_avx512(g->qr, blk, 0, g->half, iv);
    unsigned live = (1u << G) - 1;
    if (g->early) {
        const __m512d rrest = _mm512_loadu_pd(s->rrestd + pos0);
        live = 0;
        for (int k = 0; k < G; k++) {
            __m512d bound = _mm512_add_pd(_mm512_cvtepi64_pd(iv[k]),
                                          _mm512_min_pd(rrest, _mm512_set1_pd(g->qrest[k])));
            if (_mm512_cmp_pd_mask(bound, need[k], _CMP_GE_OQ)) live |= 1u << k;
        }
        early_note(g, live);
        if (!live) return;
    }
    if (live == (1u << G) - 1) {
        block4_avx512(g->qr, blk, g->half, words, iv);
    } else {   /* finish only the queries that can still pass */
        for (int k = 0; k < G; k++)
            if (live & (1u << k)) iv[k] = block1_avx512(g->qr[k], blk, g->half, words, iv[k]);
    }
    for (int k = 0; k < G; k++) {
        if (!(live & (1u << k))) continue;
        unsigned m;
        if (s->threshold <= 0) {
            m = 0xFFu;
        } else {
            m = (unsigned)_mm512_cmp_pd_mask(_mm512_cvtepi64_pd(iv[k]), need[k], _CMP_GE_OQ);
            if (__builtin_expect(!m, 1)) continue;
        }
        uint64_t inter[LANES];
        _mm512_storeu_si512(inter, iv[k]);
        emit_masked(s, g, k, pos0, m, inter);
    }
}

static T_AVX512 void search_avx512_w16(search_t *s)
{
    GROUPED_SEARCH(16, (void)0, block_avx512(s, &g, b));
}
static T_AVX512 void search_avx512_any(search_t *s)
{
    GROUPED_SEARCH(s->words, (void)0, block_avx512(s, &g, b));
}
#endif

/* Run the active path on s (GIL released by the caller). */
static void
run_search(search_t *s)
{
#ifdef PPRL_X86
    if (active_path == PATH_AVX512) {
        if (s->words == 16) search_avx512_w16(s);
        else search_avx512_any(s);
        return;
    }
    if (active_path == PATH_AVX2) {
        if (s->words == 16) search_avx2_w16(s);
        else search_avx2_any(s);
        return;
    }
#endif
#ifdef PPRL_NEON
    if (active_path == PATH_NEON) {
        search_neon(s);
        return;
    }
#endif
    search_portable(s);
}

/* Whether this CPU can run path p. */
static int
path_supported(int p)
{
    switch (p) {
    case PATH_PORTABLE:
        return 1;
#ifdef PPRL_X86
    case PATH_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case PATH_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vpopcntdq");
#endif
#ifdef PPRL_NEON
    case PATH_NEON:
        return 1;
#endif
    default:
        return 0;
    }
}

/* Best path this CPU supports. */
static int
best_path(void)
{
    static const int fastest_first[] = {PATH_AVX512, PATH_NEON, PATH_AVX2};
    for (size_t i = 0; i < sizeof(fastest_first) / sizeof(*fastest_first); i++)
        if (path_supported(fastest_first[i])) return fastest_first[i];
    return PATH_PORTABLE;
}

#ifndef PPRL_NO_PYTHON
/* ------------------------------------------------------------------ */
/* Python bindings                                                     */
/* ------------------------------------------------------------------ */

/* Check a buffer holds at least n items of itemsize bytes. */
static int
need(Py_buffer *b, Py_ssize_t n, Py_ssize_t itemsize, const char *what)
{
    if (b->len < n * itemsize) {
        PyErr_Format(PyExc_ValueError, "buffer '%s' too small (%zd bytes, need %zd)", what,
                     b->len, n * itemsize);
        return -1;
    }
    return 0;
}

static const char search_doc[] =
    "search(q, qpop, qid, rblk, rpop, rpopd, rid, start, words, bits, threshold, dedupe,\n"
    "       q_base, top_k, oq, or_, os, qpos, rpos) -> (count, qpos, rpos)\n\n"
    "Candidate search of queries q against blocked, popcount-sorted refs. Writes up to\n"
    "len(os) candidates into (oq, or_, os) and returns how many, plus the resume state\n"
    "(qpos == nq when done). Releases the GIL.";

static PyObject *
py_search(PyObject *self, PyObject *args)
{
    Py_buffer bq, bqpop, bqid, brblk, brpop, brpopd, brid, bstart, boq, bor, bos;
    Py_ssize_t words, bits, q_base, top_k, qpos, rpos;
    double threshold;
    int dedupe;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*nndpnnw*w*w*nn", &bq, &bqpop, &bqid, &brblk,
                          &brpop, &brpopd, &brid, &bstart, &words, &bits, &threshold, &dedupe,
                          &q_base, &top_k, &boq, &bor, &bos, &qpos, &rpos))
        return NULL;
    PyObject *result = NULL;
    search_t s;
    memset(&s, 0, sizeof(s));
    s.nq = bqpop.len / 4;
    s.nr = brid.len / 8;
    Py_ssize_t nblocks = (s.nr + LANES - 1) / LANES;
    s.cap = bos.len / 8;
    if (words <= 0 || need(&bq, s.nq * words, 8, "q") || need(&bqid, s.nq, 8, "qid") ||
        need(&brblk, nblocks * words * LANES, 8, "rblk") || need(&brpop, nblocks * LANES, 4, "rpop") ||
        need(&brpopd, 2 * nblocks * LANES, 8, "rpopd") || need(&bstart, bits + 2, 8, "start") ||
        need(&boq, s.cap, 8, "oq") || need(&bor, s.cap, 8, "or_"))
        goto done;
    if (top_k < 0 || (top_k > 0 && s.cap < G * top_k) || (top_k == 0 && s.cap < G * LANES)) {
        PyErr_SetString(PyExc_ValueError, "output buffers too small");
        goto done;
    }
    s.q = bq.buf; s.qpop = bqpop.buf; s.qid = bqid.buf;
    s.rblk = brblk.buf; s.rpop = brpop.buf; s.rpopd = brpopd.buf;
    s.rrestd = s.rpopd + nblocks * LANES; s.rid = brid.buf;
    s.start = bstart.buf;
    s.words = words; s.bits = bits; s.threshold = threshold; s.dedupe = dedupe;
    s.q_base = q_base; s.top_k = top_k;
    s.oq = boq.buf; s.orr = bor.buf; s.os = bos.buf;
    s.qpos = qpos; s.rpos = rpos;
    s.heaps = top_k ? malloc((size_t)top_k * G * sizeof(cand_t)) : NULL;
    s.scratch = malloc((size_t)words * G * sizeof(uint64_t));
    if ((top_k && !s.heaps) || !s.scratch) {
        free(s.heaps);
        free(s.scratch);
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    run_search(&s);
    Py_END_ALLOW_THREADS
    free(s.heaps);
    free(s.scratch);
    result = Py_BuildValue("nnn", s.count, s.qpos, s.rpos);
done:
    PyBuffer_Release(&bq); PyBuffer_Release(&bqpop); PyBuffer_Release(&bqid);
    PyBuffer_Release(&brblk); PyBuffer_Release(&brpop); PyBuffer_Release(&brpopd);
    PyBuffer_Release(&brid); PyBuffer_Release(&bstart); PyBuffer_Release(&boq);
    PyBuffer_Release(&bor); PyBuffer_Release(&bos);
    return result;
}

/* Row popcounts; scalar popcnt is plenty for O(n) work. */
static void
popcount_rows_portable(const uint64_t *x, Py_ssize_t n, Py_ssize_t words, uint32_t *out)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t c = 0;
        for (Py_ssize_t w = 0; w < words; w++) c += (uint32_t)__builtin_popcountll(x[i * words + w]);
        out[i] = c;
    }
}
#ifdef PPRL_X86
static T_AVX2 void
popcount_rows_hw(const uint64_t *x, Py_ssize_t n, Py_ssize_t words, uint32_t *out)
{
    popcount_rows_portable(x, n, words, out);
}
#endif

static void
popcount_rows(const uint64_t *x, Py_ssize_t n, Py_ssize_t words, uint32_t *out)
{
#ifdef PPRL_X86
    if (active_path != PATH_PORTABLE) { popcount_rows_hw(x, n, words, out); return; }
#endif
    popcount_rows_portable(x, n, words, out);
}

static PyObject *
py_popcount(PyObject *self, PyObject *args)
{
    Py_buffer bx, bo;
    Py_ssize_t words;
    if (!PyArg_ParseTuple(args, "y*nw*", &bx, &words, &bo)) return NULL;
    PyObject *res = NULL;
    Py_ssize_t n = bo.len / 4;
    if (words > 0 && need(&bx, n * words, 8, "x") == 0) {
        Py_BEGIN_ALLOW_THREADS
        popcount_rows(bx.buf, n, words, bo.buf);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&bx); PyBuffer_Release(&bo);
    return res;
}

static void
dice_rows(const uint64_t *a, const uint64_t *b, Py_ssize_t n, Py_ssize_t words, double *out)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t pa = 0, pb = 0, in = 0;
        const uint64_t *x = a + i * words, *y = b + i * words;
        for (Py_ssize_t w = 0; w < words; w++) {
            pa += (uint32_t)__builtin_popcountll(x[w]);
            pb += (uint32_t)__builtin_popcountll(y[w]);
            in += (uint32_t)__builtin_popcountll(x[w] & y[w]);
        }
        out[i] = dice_score(in, pa, pb);
    }
}
#ifdef PPRL_X86
static T_AVX2 void
dice_rows_hw(const uint64_t *a, const uint64_t *b, Py_ssize_t n, Py_ssize_t words, double *out)
{
    dice_rows(a, b, n, words, out);
}
#endif

static PyObject *
py_dice_rows(PyObject *self, PyObject *args)
{
    Py_buffer ba, bb, bo;
    Py_ssize_t words;
    if (!PyArg_ParseTuple(args, "y*y*nw*", &ba, &bb, &words, &bo)) return NULL;
    PyObject *res = NULL;
    Py_ssize_t n = bo.len / 8;
    if (words > 0 && need(&ba, n * words, 8, "a") == 0 && need(&bb, n * words, 8, "b") == 0) {
        Py_BEGIN_ALLOW_THREADS
#ifdef PPRL_X86
        if (active_path != PATH_PORTABLE) dice_rows_hw(ba.buf, bb.buf, n, words, bo.buf);
        else
#endif
            dice_rows(ba.buf, bb.buf, n, words, bo.buf);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&ba); PyBuffer_Release(&bb); PyBuffer_Release(&bo);
    return res;
}

/* Dice of index pairs (a[qi[k]], b[rj[k]]) -- used by blocking for small blocks. */
static void
dice_index(const uint64_t *a, const uint64_t *b, Py_ssize_t words, const int64_t *qi,
           const int64_t *rj, const uint32_t *pa, const uint32_t *pb, Py_ssize_t n, double *out)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const uint64_t *x = a + qi[k] * words, *y = b + rj[k] * words;
        uint32_t in = 0;
        for (Py_ssize_t w = 0; w < words; w++) in += (uint32_t)__builtin_popcountll(x[w] & y[w]);
        out[k] = dice_score(in, pa[qi[k]], pb[rj[k]]);
    }
}
#ifdef PPRL_X86
static T_AVX2 void
dice_index_hw(const uint64_t *a, const uint64_t *b, Py_ssize_t words, const int64_t *qi,
              const int64_t *rj, const uint32_t *pa, const uint32_t *pb, Py_ssize_t n, double *out)
{
    dice_index(a, b, words, qi, rj, pa, pb, n, out);
}
#endif

static PyObject *
py_dice_index(PyObject *self, PyObject *args)
{
    Py_buffer ba, bb, bqi, brj, bpa, bpb, bo;
    Py_ssize_t words;
    if (!PyArg_ParseTuple(args, "y*y*ny*y*y*y*w*", &ba, &bb, &words, &bqi, &brj, &bpa, &bpb, &bo))
        return NULL;
    PyObject *res = NULL;
    Py_ssize_t n = bo.len / 8, na = bpa.len / 4, nb = bpb.len / 4;
    if (words > 0 && need(&bqi, n, 8, "qi") == 0 && need(&brj, n, 8, "rj") == 0 &&
        need(&ba, na * words, 8, "a") == 0 && need(&bb, nb * words, 8, "b") == 0) {
        const int64_t *qi = bqi.buf, *rj = brj.buf;
        for (Py_ssize_t k = 0; k < n; k++) {
            if (qi[k] < 0 || qi[k] >= na || rj[k] < 0 || rj[k] >= nb) {
                PyErr_SetString(PyExc_IndexError, "pair index out of range");
                goto done;
            }
        }
        Py_BEGIN_ALLOW_THREADS
#ifdef PPRL_X86
        if (active_path != PATH_PORTABLE)
            dice_index_hw(ba.buf, bb.buf, words, qi, rj, bpa.buf, bpb.buf, n, bo.buf);
        else
#endif
            dice_index(ba.buf, bb.buf, words, qi, rj, bpa.buf, bpb.buf, n, bo.buf);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
done:
    PyBuffer_Release(&ba); PyBuffer_Release(&bb); PyBuffer_Release(&bqi); PyBuffer_Release(&brj);
    PyBuffer_Release(&bpa); PyBuffer_Release(&bpb); PyBuffer_Release(&bo);
    return res;
}

/* ------------------------------------------------------------------ */
/* Greedy 1:1 solving (anonlink order: score desc, then q asc, r asc)  */
/* ------------------------------------------------------------------ */

typedef struct {
    const int64_t *q, *r;
    const double *s;
} edges_t;

static inline int
edge_before(const edges_t *E, int64_t a, int64_t b)
{
    if (E->s[a] != E->s[b]) return E->s[a] > E->s[b];
    if (E->q[a] != E->q[b]) return E->q[a] < E->q[b];
    if (E->r[a] != E->r[b]) return E->r[a] < E->r[b];
    return a < b;
}

static const edges_t *sort_edges_ctx;
static int
cmp_edges(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return edge_before(sort_edges_ctx, a, b) ? -1 : (edge_before(sort_edges_ctx, b, a) ? 1 : 0);
}

/* Best edge seen so far for one record: score kept next to the edge id so most
 * comparisons need no second random access. */
typedef struct {
    double s;
    int64_t e;
} best_t;

static inline void
offer(const edges_t *E, best_t *b, int64_t e)
{
    double se = E->s[e];
    if (b->e < 0 || se > b->s || (se == b->s && edge_before(E, e, b->e))) {
        b->s = se;
        b->e = e;
    }
}

/* Forget the best edges of the records touched by the alive edges. */
static void
reset_best(const edges_t *E, const int64_t *alive, int64_t na, best_t *bq, int64_t nq,
           best_t *br, int64_t nr)
{
    if (na > (nq + nr) / 4) {  /* dense: one sequential sweep is cheaper */
        memset(bq, 0xFF, (size_t)nq * sizeof(best_t));
        memset(br, 0xFF, (size_t)nr * sizeof(best_t));
        return;
    }
    for (int64_t k = 0; k < na; k++) {
        bq[E->q[alive[k]]].e = -1;
        br[E->r[alive[k]]].e = -1;
    }
}

/*
 * Marks keep[e] = 1 for the edges the sequential greedy algorithm picks.
 * Rounds of "locally dominant" edges (best edge of both its endpoints) give the
 * same matching without a global sort; after max_rounds the rest is sorted and
 * scanned sequentially.  Returns 0, or -1 on OOM.
 */
static int
greedy_match(const edges_t *E, int64_t n, int64_t nq, int64_t nr, uint8_t *keep, int max_rounds)
{
    int64_t *alive = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    best_t *bq = malloc((size_t)(nq ? nq : 1) * sizeof(best_t));
    best_t *br = malloc((size_t)(nr ? nr : 1) * sizeof(best_t));
    uint8_t *usedq = calloc((size_t)(nq ? nq : 1), 1), *usedr = calloc((size_t)(nr ? nr : 1), 1);
    if (!alive || !bq || !br || !usedq || !usedr) {
        free(alive); free(bq); free(br); free(usedq); free(usedr);
        return -1;
    }
    memset(keep, 0, (size_t)n);
    for (int64_t e = 0; e < n; e++) alive[e] = e;
    int64_t na = n;
    for (int round = 0; na > 0 && round < max_rounds; round++) {
        reset_best(E, alive, na, bq, nq, br, nr);
        for (int64_t k = 0; k < na; k++) {
            int64_t e = alive[k];
            offer(E, &bq[E->q[e]], e);
            offer(E, &br[E->r[e]], e);
        }
        for (int64_t k = 0; k < na; k++) {
            int64_t e = alive[k];
            if (bq[E->q[e]].e == e && br[E->r[e]].e == e) {
                keep[e] = 1;
                usedq[E->q[e]] = 1;
                usedr[E->r[e]] = 1;
            }
        }
        int64_t m = 0;
        for (int64_t k = 0; k < na; k++) {
            int64_t e = alive[k];
            if (!usedq[E->q[e]] && !usedr[E->r[e]]) alive[m++] = e;
        }
        na = m;
    }
    if (na > 0) {  /* long chains: finish with the plain sequential algorithm */
        sort_edges_ctx = E;
        qsort(alive, (size_t)na, sizeof(int64_t), cmp_edges);
        for (int64_t k = 0; k < na; k++) {
            int64_t e = alive[k];
            if (usedq[E->q[e]] || usedr[E->r[e]]) continue;
            keep[e] = 1;
            usedq[E->q[e]] = 1;
            usedr[E->r[e]] = 1;
        }
    }
    free(alive); free(bq); free(br); free(usedq); free(usedr);
    return 0;
}

static PyObject *
py_greedy(PyObject *self, PyObject *args)
{
    Py_buffer bq, br, bs, bk;
    Py_ssize_t nq, nr;
    int max_rounds;
    if (!PyArg_ParseTuple(args, "y*y*y*nniw*", &bq, &br, &bs, &nq, &nr, &max_rounds, &bk))
        return NULL;
    PyObject *res = NULL;
    Py_ssize_t n = bk.len;
    if (need(&bq, n, 8, "q") || need(&br, n, 8, "r") || need(&bs, n, 8, "score")) goto done;
    edges_t E = {bq.buf, br.buf, bs.buf};
    for (Py_ssize_t e = 0; e < n; e++) {
        if (E.q[e] < 0 || E.q[e] >= nq || E.r[e] < 0 || E.r[e] >= nr) {
            PyErr_SetString(PyExc_IndexError, "record index out of range");
            goto done;
        }
    }
    int rc;
    /* the qsort fallback uses a static context: keep the GIL held */
    rc = greedy_match(&E, n, nq, nr, bk.buf, max_rounds);
    if (rc) { PyErr_NoMemory(); goto done; }
    res = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&bq); PyBuffer_Release(&br); PyBuffer_Release(&bs); PyBuffer_Release(&bk);
    return res;
}

static PyObject *
py_select(PyObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    int want;
    if (!strcmp(name, "auto")) want = best_path();
    else if (!strcmp(name, "portable")) want = PATH_PORTABLE;
    else if (!strcmp(name, "avx2")) want = PATH_AVX2;
    else if (!strcmp(name, "avx512-vpopcntdq") || !strcmp(name, "avx512")) want = PATH_AVX512;
    else if (!strcmp(name, "neon")) want = PATH_NEON;
    else {
        PyErr_Format(PyExc_ValueError, "unknown kernel path '%s'", name);
        return NULL;
    }
    if (!path_supported(want)) {
        PyErr_Format(PyExc_RuntimeError, "kernel path '%s' not supported by this CPU", name);
        return NULL;
    }
    active_path = want;
    return PyUnicode_FromString(path_names[active_path]);
}

static PyObject *
py_info(PyObject *self, PyObject *noargs)
{
    return PyUnicode_FromString(path_names[active_path]);
}

static PyObject *
py_available(PyObject *self, PyObject *noargs)
{
    /* slowest first: portable, then the vector paths of this architecture */
    PyObject *names = PyList_New(0);
    for (int p = 0; names && p < NPATHS; p++) {
        if (!path_supported(p)) continue;
        PyObject *name = PyUnicode_FromString(path_names[p]);
        if (!name || PyList_Append(names, name)) {
            Py_XDECREF(name);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(name);
    }
    if (!names) return NULL;
    PyObject *t = PyList_AsTuple(names);
    Py_DECREF(names);
    return t;
}

static PyMethodDef methods[] = {
    {"search", py_search, METH_VARARGS, search_doc},
    {"popcount", py_popcount, METH_VARARGS, "popcount(x, words, out_uint32): row popcounts."},
    {"dice_rows", py_dice_rows, METH_VARARGS, "dice_rows(a, b, words, out_float64): aligned Dice."},
    {"dice_index", py_dice_index, METH_VARARGS,
     "dice_index(a, b, words, qi, rj, pop_a, pop_b, out): Dice of index pairs."},
    {"greedy", py_greedy, METH_VARARGS,
     "greedy(q, r, score, nq, nr, max_rounds, keep_uint8): mark greedy 1:1 matches."},
    {"select", py_select, METH_VARARGS, "select(name) -> active path name ('auto' = best)."},
    {"info", py_info, METH_NOARGS, "Name of the active kernel path."},
    {"available", py_available, METH_NOARGS, "Kernel paths this CPU supports."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_kernel", "Popcount/Dice kernels for packed CLKs.", -1, methods,
};

PyMODINIT_FUNC
PyInit__kernel(void)
{
    active_path = best_path();
    return PyModule_Create(&moduledef);
}
#endif  /* PPRL_NO_PYTHON */
