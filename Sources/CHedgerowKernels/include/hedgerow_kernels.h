#ifndef HEDGEROW_KERNELS_H
#define HEDGEROW_KERNELS_H
// Element-wise float kernels compiled twice, for baseline x86-64 (SSE2) and for AVX2 with FMA, and picked once per
// process by what the CPU has. Swift cannot compile one function for a wider target than the module, and these
// loops run 4-10 times faster 8 lanes wide with fused multiply-adds. On other architectures the one build is used.
// Every function reads `count` floats from `input` and writes `count` floats to `output`; the two may be the same.
#include <stddef.h>

/// Gelu (exact): 0.5·x·(1 + erf(x/√2)), with erf as a rational function on [-4, 4] (±1 beyond); NaN stays NaN.
void hedgerow_gelu(const float *input, float *output, ptrdiff_t count);

/// erf, as in hedgerow_gelu.
void hedgerow_erf(const float *input, float *output, ptrdiff_t count);

/// tanh as a rational function on [-7.9, 7.9] (±1 beyond, x itself for |x| < 4e-4); NaN stays NaN.
void hedgerow_tanh(const float *input, float *output, ptrdiff_t count);

/// Softmax (or LogSoftmax when `logarithm` is non-zero) of each of `rows` rows of `length` contiguous values.
/// A row holding NaN comes out NaN.
void hedgerow_softmax_rows(const float *input, float *output, ptrdiff_t rows, ptrdiff_t length, int logarithm);

/// C = A·B, or C += A·B when `accumulate` is non-zero: row-major [m, k] by [k, n] into [m, n] with the given leading
/// dimensions, no transposes. Meant for small products (a few hundred thousand multiply-adds), where it avoids
/// OpenBLAS's packing; the sums run over k in order within each lane. Returns 0, having written nothing, when it
/// could not allocate the k·8 + m·8 floats of scratch that n not a multiple of 8 needs; 1 otherwise.
int hedgerow_sgemm_small(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                          float *c, ptrdiff_t ldc, int accumulate);

/// C = A·B where row p of B is the n floats at `rows[p]`, read in place (the rows of an unfolded convolution are
/// shifted views of one padded plane, so nothing is copied): A row-major [m, k], C [m, n] with leading dimension
/// `ldc`. `n` must be a multiple of 8 (callers round up, and make the extra values readable and writable).
void hedgerow_sgemm_small_rows(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, const float *const *rows,
                               float *c, ptrdiff_t ldc);

/// Non-zero when the AVX2/FMA versions run on this CPU (for logs and benchmarks).
int hedgerow_kernels_wide(void);

#endif
