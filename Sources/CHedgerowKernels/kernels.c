#include "hedgerow_kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The bodies are static inline functions with no target of their own, so each is inlined (and vectorized) into a
// baseline loop and into an AVX2/FMA loop below.

static inline __attribute__((always_inline)) float clampf(float x, float low, float high) { return x < low ? low : (x > high ? high : x); }

// Eigen's generic_fast_erf_float coefficients: largest relative error 3.8e-7 against double erf over [-6, 6].
static inline __attribute__((always_inline)) float erf_body(float value) {
    float x = clampf(value, -4.0f, 4.0f), x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return value != value ? value : x * p / q;
}

// Eigen's generic_fast_tanh_float: a 13/6 rational function on [-7.905, 7.905] (±1 beyond), x itself below 4e-4.
static inline __attribute__((always_inline)) float tanh_body(float value) {
    float x = clampf(value, -7.90531110763549805f, 7.90531110763549805f), x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float small = value < 0.0004f && value > -0.0004f;
    float r = small ? value : x * p / q;
    // Beyond the clamp tanh is 1 to float precision: say so exactly.
    return value != value ? value : (value >= 7.90531110763549805f ? 1.0f : (value <= -7.90531110763549805f ? -1.0f : r));
}

static inline __attribute__((always_inline)) float gelu_body(float x) { return 0.5f * x * (1.0f + erf_body(x * 0.70710678118654752f)); }

// e^x as Swift's FastMath.exp: Cephes' polynomial on x − n·ln 2, 2^n from exponent bits, 0 below -87.3.
static inline __attribute__((always_inline)) float exp_body(float value) {
    float x = clampf(value, -87.3f, 88.3f);
    const float shifter = 12582912.0f;  // 1.5·2^23
    float t = x * 1.442695040888963f + shifter;
    float n = t - shifter;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * r * r + r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + (uint32_t)(127 - 0x4B400000)) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return value != value ? value : (value < -87.3f ? 0.0f : er * scale);
}

static inline __attribute__((always_inline)) void softmax_row(const float *x, float *y, ptrdiff_t length, int logarithm) {
    // Eight partial maxima and sums: the compiler keeps them in one vector register.
    float lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    ptrdiff_t i = 0;
    for (; i + 8 <= length; i += 8)
        for (int j = 0; j < 8; j++) lanes[j] = x[i + j] > lanes[j] ? x[i + j] : lanes[j];
    float m = lanes[0];
    for (int j = 1; j < 8; j++) m = lanes[j] > m ? lanes[j] : m;
    for (; i < length; i++) m = x[i] > m ? x[i] : m;
    for (i = 0; i < length; i++) y[i] = exp_body(x[i] - m);
    float sums[8] = {0};
    for (i = 0; i + 8 <= length; i += 8)
        for (int j = 0; j < 8; j++) sums[j] += y[i + j];
    float sum = 0;
    for (int j = 0; j < 8; j++) sum += sums[j];
    for (; i < length; i++) sum += y[i];
    if (logarithm) {
        float shift = m + logf(sum);
        for (i = 0; i < length; i++) y[i] = x[i] - shift;
    } else {
        float inverse = 1.0f / sum;
        for (i = 0; i < length; i++) y[i] *= inverse;
    }
}

// C = A·B (+ C when `accumulate`), row-major, no transposes, for the small GEMMs of batch-1 and small-batch serving,
// where OpenBLAS spends much of the call packing both operands. Columns go sixteen at a time (two eight-lane
// accumulators per row, four rows at once, so each load of B feeds eight fused multiply-adds), then eight, then the
// last one to seven through a zero-padded copy of those columns of B. Each sum runs over k in order.
typedef float v8 __attribute__((vector_size(32)));

// Macros, not functions: a function that takes or returns `v8` outside the AVX-compiled copies has an ABI of its own.
#define load8(p) ({ v8 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store8(p, v) do { v8 s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)
#define splat8(x) ({ float x_ = (x); (v8){x_, x_, x_, x_, x_, x_, x_, x_}; })

// C[:, 0 ..< 8·halves] for halves 1 or 2 (a constant at every call, so the loops over h unroll).
// Row p of B is at `b + p·ldb`, or at `rows[p] + column` when `rows` is not NULL (a literal NULL at the strided
// calls, so the choice folds away).
static inline __attribute__((always_inline)) void gemm_columns(int halves, ptrdiff_t m, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                                               const float *b, ptrdiff_t ldb, const float *const *rows, ptrdiff_t column,
                                                               float *c, ptrdiff_t ldc, int accumulate) {
    ptrdiff_t i = 0;
    for (; i + 4 <= m; i += 4) {
        v8 acc[4][2];
        for (int r = 0; r < 4; r++)
            for (int h = 0; h < halves; h++) acc[r][h] = accumulate ? load8(c + (i + r) * ldc + 8 * h) : splat8(0.0f);
        for (ptrdiff_t p = 0; p < k; p++) {
            v8 bv[2];
            const float *row = rows ? rows[p] + column : b + p * ldb;
            for (int h = 0; h < halves; h++) bv[h] = load8(row + 8 * h);
            for (int r = 0; r < 4; r++) {
                v8 x = splat8(a[(i + r) * lda + p]);
                for (int h = 0; h < halves; h++) acc[r][h] += x * bv[h];
            }
        }
        for (int r = 0; r < 4; r++)
            for (int h = 0; h < halves; h++) store8(c + (i + r) * ldc + 8 * h, acc[r][h]);
    }
    for (; i < m; i++) {
        v8 acc[2];
        for (int h = 0; h < halves; h++) acc[h] = accumulate ? load8(c + i * ldc + 8 * h) : splat8(0.0f);
        for (ptrdiff_t p = 0; p < k; p++) {
            v8 x = splat8(a[i * lda + p]);
            const float *row = rows ? rows[p] + column : b + p * ldb;
            for (int h = 0; h < halves; h++) acc[h] += x * load8(row + 8 * h);
        }
        for (int h = 0; h < halves; h++) store8(c + i * ldc + 8 * h, acc[h]);
    }
}

// Returns 0 when the scratch for the last columns could not be allocated (nothing is written then).
static inline __attribute__((always_inline)) int gemm_body(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                                           const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    ptrdiff_t last = n % 8, full = n - last;
    float *panel = NULL, *tile = NULL;
    if (last > 0) {
        panel = calloc((size_t)k * 8, sizeof(float));
        tile = malloc((size_t)m * 8 * sizeof(float));
        if (!panel || !tile) {
            free(panel);
            free(tile);
            return 0;
        }
    }
    ptrdiff_t j = 0;
    for (; j + 16 <= full; j += 16) gemm_columns(2, m, k, a, lda, b + j, ldb, NULL, 0, c + j, ldc, accumulate);
    if (j < full) gemm_columns(1, m, k, a, lda, b + j, ldb, NULL, 0, c + j, ldc, accumulate);
    if (last > 0) {
        for (ptrdiff_t p = 0; p < k; p++) memcpy(panel + p * 8, b + p * ldb + full, (size_t)last * sizeof(float));
        for (ptrdiff_t i = 0; i < m; i++) {
            for (ptrdiff_t q = 0; q < 8; q++) tile[i * 8 + q] = accumulate && q < last ? c[i * ldc + full + q] : 0.0f;
        }
        gemm_columns(1, m, k, a, lda, panel, 8, NULL, 0, tile, 8, 1);
        for (ptrdiff_t i = 0; i < m; i++) memcpy(c + i * ldc + full, tile + i * 8, (size_t)last * sizeof(float));
        free(panel);
        free(tile);
    }
    return 1;
}

// C = A·B over B's rows in place (`rows[p]`), n a multiple of 8.
static inline __attribute__((always_inline)) void gemm_rows_body(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                                                 const float *const *rows, float *c, ptrdiff_t ldc) {
    ptrdiff_t j = 0;
    for (; j + 16 <= n; j += 16) gemm_columns(2, m, k, a, lda, NULL, 0, rows, j, c + j, ldc, 0);
    if (j < n) gemm_columns(1, m, k, a, lda, NULL, 0, rows, j, c + j, ldc, 0);
}

#define DEFINE_KERNELS(suffix, attributes)                                                                          \
    attributes static void gelu_##suffix(const float *x, float *y, ptrdiff_t n) {                                   \
        for (ptrdiff_t i = 0; i < n; i++) y[i] = gelu_body(x[i]);                                                   \
    }                                                                                                               \
    attributes static int gemm_##suffix(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,        \
                                        const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {   \
        return gemm_body(m, n, k, a, lda, b, ldb, c, ldc, accumulate);                                              \
    }                                                                                                               \
    attributes static void gemm_rows_##suffix(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,  \
                                              const float *const *rows, float *c, ptrdiff_t ldc) {                  \
        gemm_rows_body(m, n, k, a, lda, rows, c, ldc);                                                              \
    }                                                                                                               \
    attributes static void tanh_##suffix(const float *x, float *y, ptrdiff_t n) {                                   \
        for (ptrdiff_t i = 0; i < n; i++) y[i] = tanh_body(x[i]);                                                   \
    }                                                                                                               \
    attributes static void erf_##suffix(const float *x, float *y, ptrdiff_t n) {                                    \
        for (ptrdiff_t i = 0; i < n; i++) y[i] = erf_body(x[i]);                                                    \
    }                                                                                                               \
    attributes static void softmax_##suffix(const float *x, float *y, ptrdiff_t rows, ptrdiff_t length, int lg) {   \
        for (ptrdiff_t r = 0; r < rows; r++) softmax_row(x + r * length, y + r * length, length, lg);              \
    }

DEFINE_KERNELS(baseline, )

#if defined(__x86_64__) && defined(__clang__)
DEFINE_KERNELS(wide, __attribute__((target("avx2,fma"))))


static int wide_state;

// Decided once, before main, so every call after reads a constant.
__attribute__((constructor)) static void detect_wide(void) {
    __builtin_cpu_init();
    wide_state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int hedgerow_kernels_wide(void) { return wide_state; }
#define PICK(name, ...) (hedgerow_kernels_wide() ? name##_wide(__VA_ARGS__) : name##_baseline(__VA_ARGS__))
#else
int hedgerow_kernels_wide(void) { return 0; }
#define PICK(name, ...) name##_baseline(__VA_ARGS__)
#endif

void hedgerow_gelu(const float *input, float *output, ptrdiff_t count) { PICK(gelu, input, output, count); }
void hedgerow_erf(const float *input, float *output, ptrdiff_t count) { PICK(erf, input, output, count); }
void hedgerow_tanh(const float *input, float *output, ptrdiff_t count) { PICK(tanh, input, output, count); }
int hedgerow_sgemm_small(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                         float *c, ptrdiff_t ldc, int accumulate) {
    return PICK(gemm, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
void hedgerow_sgemm_small_rows(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, const float *const *rows,
                               float *c, ptrdiff_t ldc) {
    PICK(gemm_rows, m, n, k, a, lda, rows, c, ldc);
}
void hedgerow_softmax_rows(const float *input, float *output, ptrdiff_t rows, ptrdiff_t length, int logarithm) {
    PICK(softmax, input, output, rows, length, logarithm);
}
