#include "CSortedArrays.h"

/// One merge: `a[i..<end_a]` against `b[j..<end_b]`.
typedef struct {
    size_t i, j, end_a, end_b;
} merge;

/// The values left, one at a time (on x86-64, those the block steps leave: fewer than eight on one side).
static size_t finish(merge *g, const uint16_t *a, const uint16_t *b) {
    size_t shared = 0;
    while (g->i < g->end_a && g->j < g->end_b) {
        uint16_t x = a[g->i], y = b[g->j];
        shared += x == y;
        g->i += x <= y;
        g->j += y <= x;
    }
    return shared;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

// PCMPISTRM with "equal any" over 16-bit lanes: lane k of the result is all ones when lane k of the second
// operand equals some lane of the first. Its strings end at a zero lane; in a sorted array only the first
// value can be zero, and the arrays are stripped of it first.
#define ANY_EQUAL (_SIDD_UWORD_OPS | _SIDD_CMP_EQUAL_ANY | _SIDD_UNIT_MASK)

/// The position of the first value of `b` not below `value`: halving the range with a select, not a
/// branch (which the values would mispredict half the time).
static size_t first_not_below(uint16_t value, const uint16_t *b, size_t m) {
    if (m == 0) return 0;
    const uint16_t *base = b;
    size_t length = m;
    while (length > 1) {
        size_t half = length / 2;
        base = base[half] < value ? base + half : base;
        length -= half;
    }
    return (size_t)(base - b) + (*base < value);
}

/// Steps left before either side of `g` has fewer than eight values.
static inline size_t safe_steps(const merge *g) {
    size_t left_a = g->end_a - g->i, left_b = g->end_b - g->j;
    return (left_a < left_b ? left_a : left_b) / 8;
}

/// Compares the next eight values of each side all against all, counting the matches in `matches`, and
/// moves past the block whose last value is the smaller (both when equal): blocks that can share a value
/// meet exactly once. A lane gains one at most a step, and two arrays of distinct 16-bit values take 16,384
/// steps at most: a signed 16-bit lane holds the count. The moves are branches, not selects: their pattern
/// is regular enough to predict, and a predicted move lets the next loads start before this comparison is
/// done (with selects each step waited for the last: 1.5 against 0.9 µs for two arrays of ~3,900 values).
/// The matches stay in a vector: taking each step's count out to a register cost a fifth of the time.
__attribute__((target("sse4.2")))
static inline void step(merge *g, const uint16_t *a, const uint16_t *b, __m128i *matches) {
    __m128i x = _mm_loadu_si128((const __m128i *)(a + g->i));
    __m128i y = _mm_loadu_si128((const __m128i *)(b + g->j));
    *matches = _mm_sub_epi16(*matches, _mm_cmpistrm(x, y, ANY_EQUAL));
    uint16_t last_a = a[g->i + 7], last_b = b[g->j + 7];
    if (last_a <= last_b) g->i += 8;
    if (last_b <= last_a) g->j += 8;
}

/// The sum of the lanes.
__attribute__((target("sse4.2")))
static inline size_t total(__m128i matches) {
    __m128i sums = _mm_madd_epi16(matches, _mm_set1_epi16(1));
    sums = _mm_add_epi32(sums, _mm_shuffle_epi32(sums, 0x4E));
    sums = _mm_add_epi32(sums, _mm_shuffle_epi32(sums, 0xB1));
    return (size_t)(uint32_t)_mm_cvtsi128_si32(sums);
}

__attribute__((target("sse4.2")))
size_t tagflow_shared_count_u16(const uint16_t *a, size_t n, const uint16_t *b, size_t m) {
    size_t shared = 0;
    if (n == 0 || m == 0) return 0;
    if (a[0] == 0 && b[0] == 0) shared = 1;
    if (a[0] == 0) { a++; n--; }
    if (b[0] == 0) { b++; m--; }
    __m128i matches = _mm_setzero_si128();
    if (n < 64 || m < 64) {
        merge g = {0, 0, n, m};
        while (safe_steps(&g) > 0) step(&g, a, b, &matches);
        return shared + total(matches) + finish(&g, a, b);
    }
    // Four merges over the quarters of `a` (each with the part of `b` in the same range of values), stepped
    // in turn: while one waits for its loads, the others work.
    merge g[4];
    for (int k = 0; k < 4; k++) {
        size_t from = n * (size_t)k / 4, to = n * (size_t)(k + 1) / 4;
        g[k].i = from;
        g[k].end_a = to;
        g[k].j = k == 0 ? 0 : first_not_below(a[from], b, m);
        g[k].end_b = k == 3 ? m : first_not_below(a[to], b, m);
    }
    merge g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];  // in registers, not through memory
    for (;;) {
        // As many rounds as surely leave eight values on both sides of every merge: no checks within.
        size_t rounds = safe_steps(&g0), r;
        if ((r = safe_steps(&g1)) < rounds) rounds = r;
        if ((r = safe_steps(&g2)) < rounds) rounds = r;
        if ((r = safe_steps(&g3)) < rounds) rounds = r;
        if (rounds == 0) break;
        for (size_t round = 0; round < rounds; round++) {
            step(&g0, a, b, &matches);
            step(&g1, a, b, &matches);
            step(&g2, a, b, &matches);
            step(&g3, a, b, &matches);
        }
    }
    while (safe_steps(&g0) > 0) step(&g0, a, b, &matches);
    while (safe_steps(&g1) > 0) step(&g1, a, b, &matches);
    while (safe_steps(&g2) > 0) step(&g2, a, b, &matches);
    while (safe_steps(&g3) > 0) step(&g3, a, b, &matches);
    return shared + total(matches) + finish(&g0, a, b) + finish(&g1, a, b) + finish(&g2, a, b) + finish(&g3, a, b);
}

#else

size_t tagflow_shared_count_u16(const uint16_t *a, size_t n, const uint16_t *b, size_t m) {
    merge g = {0, 0, n, m};
    return finish(&g, a, b);
}

#endif
