/*
 * Standalone check of the candidate-search core of pprl/compare/_kernel.c, without
 * Python: every kernel path this CPU supports must return exactly the pairs and
 * scores of a brute-force reference (all pairs, top-k, dedupe, resumed with tiny
 * output buffers), on random clustered filters of several widths.
 *
 * Used by tests/test_kernel_native.py natively, and cross-compiled for AArch64 and
 * run under qemu-aarch64 to test the NEON path:
 *   aarch64-linux-gnu-gcc -O2 -std=c11 -static -o h tests/native/kernel_harness.c
 *   qemu-aarch64 ./h
 * Prints one "ok PATH ..." line per path; exit status 0 when all agree.
 */
#define PPRL_NO_PYTHON 1
#include "../../pprl/compare/_kernel.c"

#include <stdio.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

typedef struct { int64_t q, r; double s; } trip_t;
static int cmp_trip(const void *a, const void *b)
{
    const trip_t *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    return 0;
}

typedef struct { uint32_t pop; int64_t idx; } key_t_;
static int cmp_key(const void *a, const void *b)
{
    const key_t_ *x = a, *y = b;
    if (x->pop != y->pop) return x->pop < y->pop ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static uint32_t pop_row(const uint64_t *x, Py_ssize_t words)
{
    uint32_t c = 0;
    for (Py_ssize_t w = 0; w < words; w++) c += (uint32_t)__builtin_popcountll(x[w]);
    return c;
}

/* Everything the kernel needs, laid out as pprl.compare.scan.prepare_refs does. */
typedef struct {
    Py_ssize_t n, words, bits, nblocks;
    uint64_t *rblk;
    uint32_t *rpop;
    double *rpopd;
    int64_t *rid, *start;
} prep_t;

static void prepare(prep_t *p, const uint64_t *refs, Py_ssize_t n, Py_ssize_t words)
{
    key_t_ *k = malloc((size_t)n * sizeof(*k));
    for (Py_ssize_t i = 0; i < n; i++) { k[i].pop = pop_row(refs + i * words, words); k[i].idx = i; }
    qsort(k, (size_t)n, sizeof(*k), cmp_key);
    p->n = n; p->words = words; p->bits = words * 64;
    p->nblocks = (n + LANES - 1) / LANES;
    Py_ssize_t np_ = p->nblocks * LANES;
    p->rblk = calloc((size_t)(np_ * words), sizeof(uint64_t));
    p->rpop = calloc((size_t)np_, sizeof(uint32_t));
    p->rpopd = calloc((size_t)(2 * np_), sizeof(double));
    p->rid = malloc((size_t)n * sizeof(int64_t));
    p->start = malloc((size_t)(p->bits + 2) * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint64_t *row = refs + k[i].idx * words;
        Py_ssize_t b = i / LANES, l = i % LANES;
        for (Py_ssize_t w = 0; w < words; w++) p->rblk[(b * words + w) * LANES + l] = row[w];
        p->rpop[i] = k[i].pop;
        p->rpopd[i] = (double)k[i].pop;
        if (words > 1) p->rpopd[np_ + i] = (double)pop_row(row + words / 2, words - words / 2);
        p->rid[i] = k[i].idx;
    }
    for (Py_ssize_t v = 0, i = 0; v < p->bits + 2; v++) {
        while (i < n && p->rpop[i] < (uint32_t)v) i++;
        p->start[v] = i;
    }
    free(k);
}

static void free_prep(prep_t *p)
{
    free(p->rblk); free(p->rpop); free(p->rpopd); free(p->rid); free(p->start);
}

static double ref_score(const uint64_t *a, const uint64_t *b, Py_ssize_t words)
{
    uint64_t in = 0;
    for (Py_ssize_t w = 0; w < words; w++) in += (uint64_t)__builtin_popcountll(a[w] & b[w]);
    return dice_score(in, pop_row(a, words), pop_row(b, words));
}

/* Brute force: all pairs >= t (dedupe: i < j of one file), or each query's k best. */
static Py_ssize_t brute(const uint64_t *q, Py_ssize_t nq, const uint64_t *r, Py_ssize_t nr,
                        Py_ssize_t words, double t, Py_ssize_t top_k, int dedupe, trip_t *out)
{
    Py_ssize_t n = 0;
    trip_t *row = malloc((size_t)(nr ? nr : 1) * sizeof(trip_t));
    for (Py_ssize_t i = 0; i < nq; i++) {
        Py_ssize_t m = 0;
        if (t > 0 && pop_row(q + i * words, words) == 0) continue;
        for (Py_ssize_t j = dedupe ? i + 1 : 0; j < nr; j++) {
            double s = ref_score(q + i * words, r + j * words, words);
            if (s >= t) row[m++] = (trip_t){i, j, s};
        }
        if (top_k) {  /* best k: score desc, then lower ref */
            for (Py_ssize_t x = 0; x < m && x < top_k; x++)
                for (Py_ssize_t y = x + 1; y < m; y++)
                    if (row[y].s > row[x].s || (row[y].s == row[x].s && row[y].r < row[x].r)) {
                        trip_t tmp = row[x]; row[x] = row[y]; row[y] = tmp;
                    }
            if (m > top_k) m = top_k;
        }
        for (Py_ssize_t x = 0; x < m; x++) out[n++] = row[x];
    }
    free(row);
    qsort(out, (size_t)n, sizeof(trip_t), cmp_trip);
    return n;
}

/* Run path `path` over all queries with output buffers of `cap` entries, resuming. */
static Py_ssize_t run_path(int path, const prep_t *p, const uint64_t *q, Py_ssize_t nq,
                           double t, Py_ssize_t top_k, int dedupe, Py_ssize_t cap, trip_t *out)
{
    /* queries sorted by popcount, as the Python side passes them */
    key_t_ *k = malloc((size_t)nq * sizeof(*k));
    uint64_t *qs = malloc((size_t)(nq * p->words) * sizeof(uint64_t));
    uint32_t *qpop = malloc((size_t)nq * sizeof(uint32_t));
    int64_t *qid = malloc((size_t)nq * sizeof(int64_t));
    if (dedupe) {   /* the queries are the refs in sorted order */
        for (Py_ssize_t i = 0; i < nq; i++) { k[i].idx = p->rid[i]; k[i].pop = p->rpop[i]; }
    } else {
        for (Py_ssize_t i = 0; i < nq; i++) { k[i].pop = pop_row(q + i * p->words, p->words); k[i].idx = i; }
        qsort(k, (size_t)nq, sizeof(*k), cmp_key);
    }
    for (Py_ssize_t i = 0; i < nq; i++) {
        memcpy(qs + i * p->words, q + k[i].idx * p->words, (size_t)p->words * sizeof(uint64_t));
        qpop[i] = k[i].pop;
        qid[i] = k[i].idx;
    }
    search_t s;
    memset(&s, 0, sizeof(s));
    s.q = qs; s.qpop = qpop; s.qid = qid; s.nq = nq;
    s.rblk = p->rblk; s.rpop = p->rpop; s.rpopd = p->rpopd; s.rrestd = p->rpopd + p->nblocks * LANES;
    s.rid = p->rid; s.start = p->start; s.nr = p->n; s.words = p->words; s.bits = p->bits;
    s.threshold = t; s.dedupe = dedupe; s.q_base = 0; s.top_k = top_k;
    s.heaps = malloc((size_t)(top_k ? top_k : 1) * G * sizeof(cand_t));
    s.scratch = malloc((size_t)p->words * G * sizeof(uint64_t));
    int64_t *oq = malloc((size_t)cap * sizeof(int64_t)), *orr = malloc((size_t)cap * sizeof(int64_t));
    double *os = malloc((size_t)cap * sizeof(double));
    Py_ssize_t n = 0;
    s.qpos = 0; s.rpos = -1;
    active_path = path;
    while (s.qpos < s.nq) {
        s.oq = oq; s.orr = orr; s.os = os; s.cap = cap; s.count = 0;
        run_search(&s);
        for (Py_ssize_t i = 0; i < s.count; i++) out[n++] = (trip_t){oq[i], orr[i], os[i]};
    }
    free(k); free(qs); free(qpop); free(qid); free(s.heaps); free(s.scratch);
    free(oq); free(orr); free(os);
    qsort(out, (size_t)n, sizeof(trip_t), cmp_trip);
    return n;
}

/* Random filters: a few base patterns, thinned and perturbed, some exact copies and empties. */
static void fill(uint64_t *x, Py_ssize_t n, Py_ssize_t words, const uint64_t *base, int nbase)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint64_t *b = base + (next_u64() % (uint64_t)nbase) * words;
        int mode = (int)(next_u64() % 8);
        for (Py_ssize_t w = 0; w < words; w++) {
            uint64_t v = b[w];
            if (mode >= 2) v &= next_u64() | next_u64();           /* thin */
            if (mode >= 5) v ^= next_u64() & next_u64() & next_u64(); /* perturb */
            x[i * words + w] = mode == 7 && i % 11 == 0 ? 0 : v;
        }
    }
}

int main(void)
{
    static const Py_ssize_t widths[] = {1, 3, 16, 17, 40};
    static const double thresholds[] = {0.0, 0.5, 2.0 / 3.0, 0.8, 0.95, 1.0};
    int paths[NPATHS], npaths = 0, failed = 0;
    (void)best_path;
    for (int p = 0; p < NPATHS; p++)
        if (path_supported(p)) paths[npaths++] = p;
    long checks[NPATHS] = {0}, pairs = 0;
    for (size_t wi = 0; wi < sizeof(widths) / sizeof(*widths); wi++) {
        Py_ssize_t words = widths[wi], nq = 37 + (Py_ssize_t)wi * 13, nr = 61 + (Py_ssize_t)wi * 7;
        uint64_t base[4 * 40];
        for (int i = 0; i < 4 * 40; i++) base[i] = next_u64() | next_u64();
        uint64_t *q = malloc((size_t)(nq * words) * sizeof(uint64_t));
        uint64_t *r = malloc((size_t)(nr * words) * sizeof(uint64_t));
        fill(q, nq, words, base, 4);
        fill(r, nr, words, base, 4);
        for (int i = 0; i < 5; i++) memcpy(r + i * words, q + i * words, (size_t)words * 8);
        prep_t pr, pq;
        prepare(&pr, r, nr, words);
        prepare(&pq, q, nq, words);
        trip_t *want = malloc((size_t)(nq * (nq > nr ? nq : nr)) * sizeof(trip_t));
        trip_t *got = malloc((size_t)(nq * (nq > nr ? nq : nr)) * sizeof(trip_t));
        for (size_t ti = 0; ti < sizeof(thresholds) / sizeof(*thresholds); ti++) {
            double t = thresholds[ti];
            for (int mode = 0; mode < 4; mode++) {   /* all pairs, top-1, top-3, dedupe */
                Py_ssize_t top_k = mode == 1 ? 1 : mode == 2 ? 3 : 0;
                int dedupe = mode == 3;
                const prep_t *p = dedupe ? &pq : &pr;
                Py_ssize_t nw = brute(q, nq, dedupe ? q : r, dedupe ? nq : nr, words, t, top_k,
                                      dedupe, want);
                pairs += nw;
                for (int pi = 0; pi < npaths; pi++) {
                    for (int small = 0; small < 2; small++) {
                        Py_ssize_t cap = small ? (top_k ? G * top_k : G * LANES) : nq * (nr > nq ? nr : nq) + 64;
                        Py_ssize_t ng = run_path(paths[pi], p, q, nq, t, top_k, dedupe, cap, got);
                        int same = ng == nw;
                        for (Py_ssize_t i = 0; same && i < nw; i++)
                            same = got[i].q == want[i].q && got[i].r == want[i].r &&
                                   memcmp(&got[i].s, &want[i].s, sizeof(double)) == 0;
                        if (!same) {
                            printf("FAIL %s words=%td t=%g mode=%d cap=%td: %td pairs, want %td\n",
                                   path_names[paths[pi]], words, t, mode, cap, ng, nw);
                            failed = 1;
                        }
                        checks[paths[pi]]++;
                    }
                }
            }
        }
        free(q); free(r); free(want); free(got);
        free_prep(&pr); free_prep(&pq);
    }
    for (int pi = 0; pi < npaths; pi++)
        printf("ok %s %ld checks, %ld reference pairs\n", path_names[paths[pi]], checks[paths[pi]], pairs);
    return failed;
}
