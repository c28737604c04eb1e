// Winograd F(2x2, 3x3) convolution for inception_art.nets.winograd.
//
// Support code of the Theano op Winograd3x3: Theano puts it after
// Python.h, numpy's headers and its BLAS header (which declares sgemm_ and
// dgemm_), and the op's c_code calls inception_art_wg::run<F>().
//
// y[n, k] = sum_c x[n, c] (*) g[k, c] (cross-correlation, zero padding 1,
// stride 1, output as large as the input), where g is w (K, C, 3, 3), or
// with `transposed` w (C', K', 3, 3) read as g[k, c] = w[c, k] flipped in
// both axes (the input gradient of the forward correlation).
//
// Winograd F(2x2, 3x3) (Lavin & Gray 2015), per 2x2 output tile:
//   U = G g G^T (4x4 per kernel), V = B^T d B (4x4 per 4x4 input tile,
//   tiles overlapping by 2), M = U . V elementwise, summed over channels,
//   Y = A^T M A (2x2). The channel sums for each of the 16 positions xi of
// the 4x4 are one GEMM, M[xi] (K x P) = U[xi] (K x C) V[xi] (C x P), 16
// multiplies per tile instead of 36 for the direct convolution.
//
// The tiles are processed a block of tile rows at a time, so that V and M
// (16 C and 16 K floats per tile) stay in the last-level cache between the
// transform that writes them and the GEMM that reads them, and memory stays
// bounded however large the image is.

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

namespace inception_art_wg {

// Fortran BLAS GEMM, column-major: C (m x n) = A (m x k) B (k x n).
static inline void gemm(int m, int n, int k, const float* A, int lda,
                        const float* B, int ldb, float* C, int ldc)
{
    char no = 'N';  // not const: Theano's header declares char*
    const float one = 1, zero = 0;
    sgemm_(&no, &no, &m, &n, &k, &one, A, &lda, B, &ldb, &zero, C, &ldc);
}

static inline void gemm(int m, int n, int k, const double* A, int lda,
                        const double* B, int ldb, double* C, int ldc)
{
    char no = 'N';  // not const: Theano's header declares char*
    const double one = 1, zero = 0;
    dgemm_(&no, &no, &m, &n, &k, &one, A, &lda, B, &ldb, &zero, C, &ldc);
}

// Bytes of V plus M per block of tiles (per thread). 6 MiB keeps both in
// the 32 MiB L3 next to U (up to 16 MiB for 512 x 512 kernels); measured on
// 2 Zen 4 cores (a noisy, shared machine), 2 and 6 MiB ran alike, 16 MiB
// slower at 64 channels.
static const size_t BLOCK_BYTES = (size_t) 6 << 20;
// ... but at least this many tiles, or the GEMMs of the 512-channel
// layers get too few columns to run at full speed.
static const npy_intp MIN_BLOCK_TILES = 256;

// The distance between two of the 16 matrices of U, V or M (in elements):
// n rounded up to 4 KiB, plus one cache line. The transforms read or write
// all 16 at once; at a distance that is a multiple of 4 KiB (K C = 512 x
// 512, say) they map to the same L1 cache sets and evict each other
// (measured: the kernel transform of 512 x 512 kernels 3-4 times slower).
template <typename F>
static inline npy_intp plane_stride(npy_intp n)
{
    const npy_intp page = 4096 / sizeof(F), line = 64 / sizeof(F);
    return (n + page - 1) / page * page + line;
}

// U[xi][k][c] = (G g G^T)[xi] for the kernels g[k, c] with k0 <= k < k1
// (U is K x C per xi, the row-major (= column-major C x K) right-hand side
// of the GEMM).
// A run of up to CB kernels of one k at a time: their taps are gathered into
// g[tap][c] first, so that the transform itself is vectorised over c and
// writes 16 contiguous runs.
template <typename F>
static void filter_transform(const F* w, F* U, npy_intp K, npy_intp C,
                             bool transposed, npy_intp k0, npy_intp k1)
{
    enum { CB = 64 };
    const npy_intp KC = plane_stride<F>(K * C);
    F g[9][CB], t[12][CB];
    for (npy_intp k = k0; k < k1; ++k)
        for (npy_intp c0 = 0; c0 < C; c0 += CB) {
            const npy_intp n = C - c0 < CB ? C - c0 : CB;
            for (npy_intp c = 0; c < n; ++c) {
                if (transposed) {  // g[k, c][a][b] = w[c][k][2 - a][2 - b]
                    const F* s = w + ((c0 + c) * K + k) * 9;
                    for (int tap = 0; tap < 9; ++tap) g[tap][c] = s[8 - tap];
                } else {
                    const F* s = w + (k * C + c0 + c) * 9;
                    for (int tap = 0; tap < 9; ++tap) g[tap][c] = s[tap];
                }
            }
            // G g (4x3, row a column b at t[3a + b]): rows g0,
            // (g0+g1+g2)/2, (g0-g1+g2)/2, g2
            for (int b = 0; b < 3; ++b)
                for (npy_intp c = 0; c < n; ++c) {
                    const F g0 = g[b][c], g1 = g[3 + b][c], g2 = g[6 + b][c];
                    t[b][c] = g0;
                    t[3 + b][c] = F(0.5) * (g0 + g1 + g2);
                    t[6 + b][c] = F(0.5) * (g0 - g1 + g2);
                    t[9 + b][c] = g2;
                }
            F* u = U + k * C + c0;
            for (int a = 0; a < 4; ++a) {  // (G g) G^T, the same on columns
                F* __restrict__ u0 = u + (4 * a + 0) * KC;
                F* __restrict__ u1 = u + (4 * a + 1) * KC;
                F* __restrict__ u2 = u + (4 * a + 2) * KC;
                F* __restrict__ u3 = u + (4 * a + 3) * KC;
                for (npy_intp c = 0; c < n; ++c) {
                    const F t0 = t[3 * a][c], t1 = t[3 * a + 1][c],
                            t2 = t[3 * a + 2][c];
                    u0[c] = t0;
                    u1[c] = F(0.5) * (t0 + t1 + t2);
                    u2[c] = F(0.5) * (t0 - t1 + t2);
                    u3[c] = t2;
                }
            }
        }
}

// V[xi][c][p] for the tiles of tile rows [ty0, ty1) of one image x (C, H, W),
// p = (ty - ty0) * TW + tx. Tile (ty, tx) reads input rows 2ty-1 .. 2ty+2
// and columns 2tx-1 .. 2tx+2 (outside the image: zeros).
//
// B^T d B is done as B^T on the four rows first, on whole (zero-padded)
// rows at once, so that it vectorises (`rows`: 8 row buffers of WP), then
// B on the columns of each tile, writing 16 streams that are contiguous in
// p.
template <typename F>
static void input_transform(const F* x, F* V, npy_intp C, npy_intp H,
                            npy_intp W, npy_intp TW, npy_intp ty0,
                            npy_intp ty1, F* rows)
{
    const npy_intp WP = 2 * TW + 2, P = (ty1 - ty0) * TW;
    const npy_intp CP = plane_stride<F>(C * P);
    F* d[4] = {rows, rows + WP, rows + 2 * WP, rows + 3 * WP};
    F* t[4] = {rows + 4 * WP, rows + 5 * WP, rows + 6 * WP, rows + 7 * WP};
    for (int i = 0; i < 4; ++i) {  // the padding columns stay zero
        memset(d[i], 0, sizeof(F) * WP);
    }
    for (npy_intp c = 0; c < C; ++c) {
        const F* xc = x + c * H * W;
        for (npy_intp ty = ty0; ty < ty1; ++ty) {
            for (int i = 0; i < 4; ++i) {
                const npy_intp r = 2 * ty - 1 + i;
                if (r >= 0 && r < H)
                    memcpy(d[i] + 1, xc + r * W, sizeof(F) * W);
                else
                    memset(d[i] + 1, 0, sizeof(F) * W);
            }
            {
                const F* __restrict__ d0 = d[0];
                const F* __restrict__ d1 = d[1];
                const F* __restrict__ d2 = d[2];
                const F* __restrict__ d3 = d[3];
                F* __restrict__ t0 = t[0];
                F* __restrict__ t1 = t[1];
                F* __restrict__ t2 = t[2];
                F* __restrict__ t3 = t[3];
                for (npy_intp q = 0; q < WP; ++q) {
                    t0[q] = d0[q] - d2[q];
                    t1[q] = d1[q] + d2[q];
                    t2[q] = d2[q] - d1[q];
                    t3[q] = d1[q] - d3[q];
                }
            }
            F* v = V + c * P + (ty - ty0) * TW;
            for (int i = 0; i < 4; ++i) {
                const F* __restrict__ s = t[i];
                F* __restrict__ v0 = v + (4 * i + 0) * CP;
                F* __restrict__ v1 = v + (4 * i + 1) * CP;
                F* __restrict__ v2 = v + (4 * i + 2) * CP;
                F* __restrict__ v3 = v + (4 * i + 3) * CP;
                for (npy_intp tx = 0; tx < TW; ++tx) {
                    const F a = s[2 * tx], b = s[2 * tx + 1],
                            e = s[2 * tx + 2], f = s[2 * tx + 3];
                    v0[tx] = a - e;
                    v1[tx] = b + e;
                    v2[tx] = e - b;
                    v3[tx] = b - f;
                }
            }
        }
    }
}

// y (K, H, W) of one image, tile rows [ty0, ty1), from M[xi][k][p]:
// Y = A^T m A, A^T = [1 1 1 0; 0 1 -1 -1]. Computed a tile row at a time
// into four contiguous buffers (vectorised), then interleaved into the two
// output rows (the last ones cropped when H or W is odd).
template <typename F>
static void output_transform(const F* M, F* y, npy_intp K, npy_intp H,
                             npy_intp W, npy_intp TW, npy_intp ty0,
                             npy_intp ty1, F* rows)
{
    const npy_intp P = (ty1 - ty0) * TW, KP = plane_stride<F>(K * P);
    F* __restrict__ o00 = rows;
    F* __restrict__ o01 = rows + TW;
    F* __restrict__ o10 = rows + 2 * TW;
    F* __restrict__ o11 = rows + 3 * TW;
    for (npy_intp k = 0; k < K; ++k) {
        F* yk = y + k * H * W;
        for (npy_intp ty = ty0; ty < ty1; ++ty) {
            const F* m = M + k * P + (ty - ty0) * TW;
            const F* __restrict__ m0 = m;
            const F* __restrict__ m1 = m + 1 * KP;
            const F* __restrict__ m2 = m + 2 * KP;
            const F* __restrict__ m3 = m + 3 * KP;
            const F* __restrict__ m4 = m + 4 * KP;
            const F* __restrict__ m5 = m + 5 * KP;
            const F* __restrict__ m6 = m + 6 * KP;
            const F* __restrict__ m7 = m + 7 * KP;
            const F* __restrict__ m8 = m + 8 * KP;
            const F* __restrict__ m9 = m + 9 * KP;
            const F* __restrict__ m10 = m + 10 * KP;
            const F* __restrict__ m11 = m + 11 * KP;
            const F* __restrict__ m12 = m + 12 * KP;
            const F* __restrict__ m13 = m + 13 * KP;
            const F* __restrict__ m14 = m + 14 * KP;
            const F* __restrict__ m15 = m + 15 * KP;
            for (npy_intp tx = 0; tx < TW; ++tx) {
                // A^T on the rows of the 4x4 (row i: m[4i .. 4i+3])
                const F s00 = m0[tx] + m4[tx] + m8[tx];
                const F s01 = m1[tx] + m5[tx] + m9[tx];
                const F s02 = m2[tx] + m6[tx] + m10[tx];
                const F s03 = m3[tx] + m7[tx] + m11[tx];
                const F s10 = m4[tx] - m8[tx] - m12[tx];
                const F s11 = m5[tx] - m9[tx] - m13[tx];
                const F s12 = m6[tx] - m10[tx] - m14[tx];
                const F s13 = m7[tx] - m11[tx] - m15[tx];
                // ... then on the columns
                o00[tx] = s00 + s01 + s02;
                o01[tx] = s01 - s02 - s03;
                o10[tx] = s10 + s11 + s12;
                o11[tx] = s11 - s12 - s13;
            }
            const npy_intp r = 2 * ty;
            const npy_intp full = W / 2;  // tiles whose 2 columns fit
            F* __restrict__ y0 = yk + r * W;
            for (npy_intp tx = 0; tx < full; ++tx) {
                y0[2 * tx] = o00[tx];
                y0[2 * tx + 1] = o01[tx];
            }
            if (W & 1) y0[W - 1] = o00[full];
            if (r + 1 < H) {
                F* __restrict__ y1 = yk + (r + 1) * W;
                for (npy_intp tx = 0; tx < full; ++tx) {
                    y1[2 * tx] = o10[tx];
                    y1[2 * tx + 1] = o11[tx];
                }
                if (W & 1) y1[W - 1] = o10[full];
            }
        }
    }
}

// The kernels' transform kept between calls (the op's keep_kernels), for
// kernels that do not change: a network's weights while it is visualised.
// U is recomputed when the kernel array is another one (its address or
// shape) or its values changed (a fingerprint of an even sample of them:
// an in-place update moves nearly every weight). One per node of a
// compiled function (Theano's per-node struct); freed with it.
struct KernelCache {
    void* U;
    size_t bytes;
    const void* data;
    npy_intp K, C;
    double print;
};

template <typename F>
static double fingerprint(const F* w, npy_intp n)
{
    enum { SAMPLES = 257 };
    double s = 0;
    for (npy_intp i = 0; i < SAMPLES && n; ++i)
        s += (double) (i + 1) * (double) w[i * n / SAMPLES];
    return s;
}

// Threads. The transforms are memory-bound loops that one core runs at a
// time, between GEMMs that OpenBLAS spreads over all cores; with 2 cores
// that left one idle for a fifth of the time, and OpenBLAS's own threads
// synchronise at every one of the 16 small GEMMs of a block. So when the
// BLAS is OpenBLAS, the op runs one thread per OpenBLAS thread, each
// transforming and multiplying whole blocks of tiles of its own with
// single-threaded GEMMs, and sets OpenBLAS back afterwards. (Weak symbols:
// with another BLAS they are NULL and everything runs in the caller.)
extern "C" {
int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));
}

template <typename F>
struct Job {
    // shared
    const F* x; const F* w; F* y; F* U;
    npy_intp N, C, H, W, K, TH, TW, block_rows, blocks_per_image;
    bool transposed;
    int threads;
    // this thread's
    int id;
    F *V, *M, *rows;
};

// Phase 1: this thread's share of the kernels (a range of k).
template <typename F>
static void* filter_part(void* arg)
{
    Job<F>* j = (Job<F>*) arg;
    const npy_intp k0 = j->K * j->id / j->threads,
                   k1 = j->K * (j->id + 1) / j->threads;
    if (k1 > k0)
        filter_transform<F>(j->w, j->U, j->K, j->C, j->transposed, k0, k1);
    return NULL;
}

// Phase 2: blocks id, id + threads, ... of all images.
template <typename F>
static void* blocks_part(void* arg)
{
    Job<F>* j = (Job<F>*) arg;
    const npy_intp C = j->C, K = j->K, H = j->H, W = j->W, TW = j->TW;
    const npy_intp us = plane_stride<F>(K * C);
    for (npy_intp b = j->id; b < j->N * j->blocks_per_image; b += j->threads) {
        const npy_intp n = b / j->blocks_per_image;
        const npy_intp ty0 = (b % j->blocks_per_image) * j->block_rows;
        if (ty0 >= j->TH) continue;
        const npy_intp ty1 = ty0 + j->block_rows < j->TH ? ty0 + j->block_rows
                                                        : j->TH;
        const npy_intp Pb = (ty1 - ty0) * TW;
        const F* xn = j->x + n * C * H * W;
        F* yn = j->y + n * K * H * W;
        input_transform<F>(xn, j->V, C, H, W, TW, ty0, ty1, j->rows);
        // M[xi] (K x Pb, row-major) = U[xi] (K x C) V[xi] (C x Pb):
        // column-major M^T (Pb x K) = V^T (Pb x C) U^T (C x K).
        const npy_intp vs = plane_stride<F>(C * Pb), ms = plane_stride<F>(K * Pb);
        for (int xi = 0; xi < 16; ++xi)
            gemm((int) Pb, (int) K, (int) C, j->V + xi * vs, (int) Pb,
                 j->U + xi * us, (int) C, j->M + xi * ms, (int) Pb);
        output_transform<F>(j->M, yn, K, H, W, TW, ty0, ty1, j->rows);
    }
    return NULL;
}

// Runs fn on jobs[0 .. n) (jobs[0] in the caller); a job whose thread
// could not be started is run in the caller afterwards.
template <typename F>
static void run_threads(void* (*fn)(void*), Job<F>* jobs, int n)
{
    pthread_t tid[64];
    bool started[64];
    for (int t = 1; t < n; ++t)
        started[t] = pthread_create(&tid[t], NULL, fn, &jobs[t]) == 0;
    fn(&jobs[0]);
    for (int t = 1; t < n; ++t) {
        if (started[t]) pthread_join(tid[t], NULL);
        else fn(&jobs[t]);
    }
}

// The whole convolution: x (N, C, H, W), w (K, C, 3, 3) (transposed: w is
// (C, K, 3, 3)), y (N, K, H, W). Returns 0, or -1 when out of memory.
// Plain C on arrays: called without the GIL.
template <typename F>
static int convolve(const F* x, const F* w, F* y, npy_intp N, npy_intp C,
                    npy_intp H, npy_intp W, npy_intp K, bool transposed,
                    KernelCache* cache)
{
    const bool openblas = openblas_get_num_threads && openblas_set_num_threads;
    const int blas_threads = openblas ? openblas_get_num_threads() : 1;
    const int threads = blas_threads < 1 ? 1 : (blas_threads > 64 ? 64
                                                             : blas_threads);
    const npy_intp TH = (H + 1) / 2, TW = (W + 1) / 2;
    npy_intp block = (npy_intp)(BLOCK_BYTES / sizeof(F)) / (16 * (C + K));
    if (block < MIN_BLOCK_TILES) block = MIN_BLOCK_TILES;
    // Blocks of whole tile rows, as many per image as a multiple of the
    // thread count, equal but for the last one.
    npy_intp blocks = (TH * TW + block - 1) / block;
    if (blocks > TH) blocks = TH;
    if (N == 1 || blocks > 1)
        blocks = (blocks + threads - 1) / threads * threads;
    if (blocks > TH) blocks = TH;
    const npy_intp block_rows = (TH + blocks - 1) / blocks;
    const npy_intp blocks_per_image = (TH + block_rows - 1) / block_rows;
    const npy_intp P = block_rows * TW;

    Job<F> jobs[64];
    const size_t u_bytes = sizeof(F) * 16 * plane_stride<F>(K * C);
    const double print = cache ? fingerprint<F>(w, K * C * 9) : 0;
    const bool kept = cache && cache->U && cache->data == (const void*) w
                      && cache->K == K && cache->C == C && cache->print == print;
    if (cache && !kept && cache->bytes != u_bytes) {
        free(cache->U);
        cache->U = malloc(u_bytes);
        cache->bytes = cache->U ? u_bytes : 0;
    }
    F* U = cache ? (F*) cache->U : (F*) malloc(u_bytes);
    bool ok = U != NULL;
    for (int t = 0; t < threads; ++t) {
        Job<F> j = {x, w, y, U, N, C, H, W, K, TH, TW, block_rows,
                    blocks_per_image, transposed, threads, t, NULL, NULL, NULL};
        j.V = (F*) malloc(sizeof(F) * 16 * plane_stride<F>(C * P));
        j.M = (F*) malloc(sizeof(F) * 16 * plane_stride<F>(K * P));
        j.rows = (F*) malloc(sizeof(F) * 8 * (2 * TW + 2));
        ok = ok && j.V && j.M && j.rows;
        jobs[t] = j;
    }
    if (ok) {
        if (threads > 1) openblas_set_num_threads(1);
        if (!kept) run_threads<F>(filter_part<F>, jobs, threads);
        run_threads<F>(blocks_part<F>, jobs, threads);
        if (threads > 1) openblas_set_num_threads(blas_threads);
        if (cache && !kept) {
            cache->data = w; cache->K = K; cache->C = C; cache->print = print;
        }
    }
    if (!cache) free(U);
    else if (!ok && !kept) cache->data = NULL;   // U may be half made
    for (int t = 0; t < threads; ++t) {
        free(jobs[t].V); free(jobs[t].M); free(jobs[t].rows);
    }
    return ok ? 0 : -1;
}

// The op's C code: checks the shapes, (re)allocates *out, runs convolve()
// without the GIL. x and w must be C-contiguous arrays of type F; cache is
// the node's KernelCache, or NULL to transform the kernels every call.
// Returns 0, or -1 with a Python exception set.
template <typename F>
static int run(PyArrayObject* x, PyArrayObject* w, PyArrayObject** out,
               bool transposed, KernelCache* cache)
{
    const npy_intp* xd = PyArray_DIMS(x);
    const npy_intp* wd = PyArray_DIMS(w);
    const npy_intp K = transposed ? wd[1] : wd[0];
    const npy_intp C = transposed ? wd[0] : wd[1];
    if (PyArray_NDIM(x) != 4 || PyArray_NDIM(w) != 4 || C != xd[1]
        || wd[2] != 3 || wd[3] != 3) {
        PyErr_Format(PyExc_ValueError,
            "Winograd3x3%s: input (%lld, %lld, %lld, %lld) and kernels "
            "(%lld, %lld, %lld, %lld) do not fit: kernels must be %s",
            transposed ? " (transposed)" : "",
            (long long) xd[0], (long long) xd[1], (long long) xd[2],
            (long long) xd[3], (long long) wd[0], (long long) wd[1],
            (long long) wd[2], (long long) wd[3],
            transposed ? "(C, K, 3, 3)" : "(K, C, 3, 3)");
        return -1;
    }
    // GEMM sizes are Fortran ints: the largest is 16 x (C or K) x a block
    // of tiles, far below INT_MAX for any image that fits in memory, but
    // the channel counts and a tile row are checked.
    if (K > INT_MAX / 16 || C > INT_MAX / 16 || xd[3] > INT_MAX / 16) {
        PyErr_SetString(PyExc_ValueError, "Winograd3x3: too many channels "
                                          "or too wide an image");
        return -1;
    }
    npy_intp odims[4] = {xd[0], K, xd[2], xd[3]};
    PyArrayObject* y = *out;
    if (!y || PyArray_NDIM(y) != 4 || !PyArray_IS_C_CONTIGUOUS(y)
        || PyArray_TYPE(y) != PyArray_TYPE(x)
        || PyArray_DIMS(y)[0] != odims[0] || PyArray_DIMS(y)[1] != odims[1]
        || PyArray_DIMS(y)[2] != odims[2] || PyArray_DIMS(y)[3] != odims[3]) {
        Py_XDECREF(y);
        y = *out = (PyArrayObject*) PyArray_EMPTY(4, odims, PyArray_TYPE(x),
                                                  0);
        if (!y) return -1;
    }
    if (PyArray_SIZE(y) == 0) return 0;
    if (C == 0) {  // an empty sum
        memset(PyArray_DATA(y), 0, PyArray_NBYTES(y));
        return 0;
    }
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = convolve<F>((const F*) PyArray_DATA(x), (const F*) PyArray_DATA(w),
                      (F*) PyArray_DATA(y), xd[0], C, xd[2], xd[3], K,
                      transposed, cache);
    Py_END_ALLOW_THREADS
    if (err) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

}  // namespace inception_art_wg
