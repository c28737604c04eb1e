"""Depthwise cross-correlation as small Theano C ops.

Theano's ``T.nnet.conv2d(x, w, num_groups=C)`` runs a depthwise convolution
as C separate tiny GEMMs (one per channel, after an im2col copy each). On
EfficientNet-Lite0 that is about half of a whole step for 9% of its
multiply-adds. The ops here do the same arithmetic with direct loops that
the compiler vectorises (see the comment on the C code). Measured with
``bench/depthwise_bench.py`` at EfficientNet-Lite0's eight kinds of
depthwise layer (2 Zen 4 cores, single-threaded OpenBLAS for conv2d):
forward 6.6-19x and forward + input gradient 6.4-14x faster than the
grouped conv2d; summed over the eight, 15.2 -> 1.3 ms and 33.7 -> 3.4 ms.

Three ops, all ``"valid"`` cross-correlation (no kernel flip) with the same
stride in both axes; the caller pads:

* :class:`DepthwiseCorrelate`: ``y = x (*) w``, the forward pass.
* :class:`DepthwiseCorrelateGradInput`: its transpose, the gradient with
  respect to ``x``.
* :class:`DepthwiseCorrelateGradWeights`: the gradient with respect to
  ``w`` (a C op as well, so that networks with trainable depthwise weights
  work and ``T.grad`` never needs numpy).

Each op's gradient is expressed with the other two, so second derivatives
work too. Each op has a numpy ``perform`` used as the reference in the tests
and as the fallback when Theano runs without a C++ compiler. float32 is the
case that matters; float64 is supported (same code, other element type) so
that ``theano.gradient.verify_grad`` can run at double precision.

Use :func:`depthwise_correlate`.
"""
import zlib

import numpy as np

from ..theano_env import theano, T

__all__ = ['depthwise_correlate', 'DepthwiseCorrelate',
           'DepthwiseCorrelateGradInput', 'DepthwiseCorrelateGradWeights']

# Shared by the three ops. Theano deduplicates identical support code, so a
# graph that holds several of these ops compiles it once per module.
#
# Forward and input gradient reduce to one kernel, a stride-1 correlation
# over a whole plane treated as one long row (``corr_fixed``, kernel size as
# template constants so the taps unroll and the loop over outputs
# vectorises). Stride 2 becomes stride 1 by splitting planes into their
# four phases (even/odd rows x even/odd columns); the input gradient becomes
# a correlation of the zero-padded output gradient with flipped (sub-)
# kernels. Measured on 2 Zen 4 cores against a first version that looped
# over output rows with strided loads: the forward 1.1-3x faster on
# EfficientNet-Lite0's late, small planes (14x14, 7x7), the input gradient
# 1.3-3x faster. Sizes other than 3x3 / 5x5 take a generic branch: one
# vectorised multiply-add pass per tap.
_SUPPORT_CODE = r"""
#include <stdlib.h>
#include <string.h>

namespace inception_art_dw {

static inline npy_intp ceil_div(npy_intp a, npy_intp b)
{
    return (a + b - 1) / b;  // callers have a > -b, so this is never < 0
}

// Vector block: 64 bytes, one AVX-512 register (two AVX2 ones).
template <typename F> struct Block { enum { L = 64 / sizeof(F) }; };

// out[q] = f(q) (ACC: out[q] += f(q)) for q in [0, n), in whole blocks of
// L so that each block is one full vector operation. The ragged end is one
// more block that ends at n and overlaps the previous one (recomputing a few
// outputs is harmless when overwriting), so short planes do not pay for a
// slow scalar tail.
template <typename F, bool ACC, class Fn>
static inline void run_blocks(F* __restrict__ out, npy_intp n, const Fn& f)
{
    const int L = Block<F>::L;
    npy_intp q = 0;
    for (; q + L <= n; q += L)
        for (int l = 0; l < L; ++l)
            out[q + l] = (ACC ? out[q + l] : F(0)) + f(q + l);
    if (q == n) return;
    if (!ACC && n >= L) {
        q = n - L;
        for (int l = 0; l < L; ++l) out[q + l] = f(q + l);
    } else {
        for (; q < n; ++q) out[q] = (ACC ? out[q] : F(0)) + f(q);
    }
}

// The main compute kernel, a "flat" stride-1 cross-correlation:
//   out[q] = (ACC ? out[q] : 0) + sum_{u<KH, v<KW} w[u*KW+v] * in[q + u*ld + v]
// for q in [0, n). A plane with row pitch ld is treated as one long row:
// q = r*ld + c is output (r, c), and the columns c >= the valid width are
// junk that the caller drops. That costs (KW-1)/ld extra work but gives the
// loop over q the length of a whole plane instead of one short row (7..112
// columns), so it vectorises with few ragged ends. With the kernel size as
// template constants the tap loops unroll completely; loads are contiguous
// (stride 1), so no gathers.
template <typename F, int KH, int KW, bool ACC>
static void corr_fixed(const F* __restrict__ in, npy_intp ld,
                       const F* __restrict__ w, F* __restrict__ out,
                       npy_intp n)
{
    F wk[KH * KW];  // local copy: the taps can live in registers
    for (int t = 0; t < KH * KW; ++t) wk[t] = w[t];
    run_blocks<F, ACC>(out, n, [&](npy_intp q) {
        F acc = 0;
        for (int u = 0; u < KH; ++u)
            for (int v = 0; v < KW; ++v)
                acc += wk[u * KW + v] * in[q + u * ld + v];
        return acc;
    });
}

// Stride 2, K x K kernel, in one pass over the four phase planes of the
// input (see deinterleave; plane size PS, pitch ld): phase (py, px) meets
// the taps w[py + 2u][px + 2v] at in[(2 py + px) PS + q + u ld + v].
template <typename F, int K>
static void corr_s2_fixed(const F* __restrict__ D, npy_intp PS, npy_intp ld,
                          const F* __restrict__ w, F* __restrict__ out,
                          npy_intp n)
{
    F wk[K * K];
    for (int t = 0; t < K * K; ++t) wk[t] = w[t];
    const F* __restrict__ d00 = D;
    const F* __restrict__ d01 = D + PS;
    const F* __restrict__ d10 = D + 2 * PS;
    const F* __restrict__ d11 = D + 3 * PS;
    run_blocks<F, false>(out, n, [&](npy_intp q) {
        F acc = 0;
        for (int u = 0; 2 * u < K; ++u)
            for (int v = 0; 2 * v < K; ++v)
                acc += wk[2 * u * K + 2 * v] * d00[q + u * ld + v];
        for (int u = 0; 2 * u < K; ++u)
            for (int v = 0; 2 * v + 1 < K; ++v)
                acc += wk[2 * u * K + 2 * v + 1] * d01[q + u * ld + v];
        for (int u = 0; 2 * u + 1 < K; ++u)
            for (int v = 0; 2 * v < K; ++v)
                acc += wk[(2 * u + 1) * K + 2 * v] * d10[q + u * ld + v];
        for (int u = 0; 2 * u + 1 < K; ++u)
            for (int v = 0; 2 * v + 1 < K; ++v)
                acc += wk[(2 * u + 1) * K + 2 * v + 1] * d11[q + u * ld + v];
        return acc;
    });
}

// The same for any kernel size: one vectorised multiply-add pass per tap.
template <typename F>
static void corr_any(const F* __restrict__ in, npy_intp ld,
                     const F* __restrict__ w, F* __restrict__ out,
                     npy_intp n, int kh, int kw, bool acc)
{
    if (!acc)
        for (npy_intp q = 0; q < n; ++q) out[q] = 0;
    for (int u = 0; u < kh; ++u)
        for (int v = 0; v < kw; ++v) {
            const F wt = w[u * kw + v];
            const F* __restrict__ r = in + u * ld + v;
            for (npy_intp q = 0; q < n; ++q) out[q] += wt * r[q];
        }
}

template <typename F, bool ACC>
static void corr_acc(const F* in, npy_intp ld, const F* w, F* out,
                     npy_intp n, int kh, int kw)
{
#define IA_DW_CASE(KH_, KW_) \
    if (kh == KH_ && kw == KW_) { \
        corr_fixed<F, KH_, KW_, ACC>(in, ld, w, out, n); return; }
    // 3x3 and 5x5; the gradient's stride-2 phase sub-kernels (1..3 a side)
    IA_DW_CASE(3, 3) IA_DW_CASE(5, 5) IA_DW_CASE(2, 2) IA_DW_CASE(2, 1)
    IA_DW_CASE(1, 2) IA_DW_CASE(1, 1) IA_DW_CASE(3, 2) IA_DW_CASE(2, 3)
#undef IA_DW_CASE
    corr_any<F>(in, ld, w, out, n, kh, kw, ACC);
}

template <typename F>
static void corr(const F* in, npy_intp ld, const F* w, F* out, npy_intp n,
                 int kh, int kw, bool acc)
{
    if (acc) corr_acc<F, true>(in, ld, w, out, n, kh, kw);
    else corr_acc<F, false>(in, ld, w, out, n, kh, kw);
}

// Copy rows of width `width` from pitch `from_ld` to pitch `to_ld`.
// (memcpy per row measured faster than a plain loop, even for 7 values.)
template <typename F>
static void copy_rows(const F* from, npy_intp from_ld, F* to, npy_intp to_ld,
                      npy_intp rows, npy_intp width)
{
    for (npy_intp r = 0; r < rows; ++r)
        memcpy(to + r * to_ld, from + r * from_ld, width * sizeof(F));
}

// Split an H x W plane into its s*s phases: phase (py, px) is the AH x AW
// plane D[py*s+px][i][j] = x[i*s+py][j*s+px]. Entries past the plane's
// edge are not written (the caller zeroes the buffer once).
template <typename F>
static void deinterleave(const F* x, npy_intp H, npy_intp W, int s, F* D,
                         npy_intp AH, npy_intp AW)
{
    const npy_intp PS = AH * AW;
    for (npy_intp r = 0; r < H; ++r) {
        const F* __restrict__ xr = x + r * W;
        const npy_intp py = r % s, i = r / s;
        if (s == 2) {
            F* __restrict__ e = D + (py * 2) * PS + i * AW;
            F* __restrict__ o = D + (py * 2 + 1) * PS + i * AW;
            const npy_intp half = W / 2;
            for (npy_intp j = 0; j < half; ++j) {
                e[j] = xr[2 * j];
                o[j] = xr[2 * j + 1];
            }
            if (W & 1) e[half] = xr[W - 1];
        } else {
            for (int px = 0; px < s; ++px) {
                F* __restrict__ d = D + (py * s + px) * PS + i * AW;
                const npy_intp nb = ceil_div(W - px, s);
                for (npy_intp j = 0; j < nb; ++j) d[j] = xr[j * s + px];
            }
        }
    }
}

// Forward. x: P planes H x W, w: C kernels kh x kw, y: P planes OH x OW;
// plane p uses kernel p % C. Returns 0, or -1 when out of memory.
//
// Stride 1: one flat correlation per plane. Stride s > 1: split the plane
// into its s*s phases; y = sum over phases (py, px) of the stride-1
// correlation of that phase with the sub-kernel w[py + s*u][px + s*v].
// The loads stay contiguous and the multiply-adds are the same in number.
template <typename F>
static int forward(const F* x, const F* w, F* y, npy_intp P, npy_intp C,
                   npy_intp H, npy_intp W, npy_intp OH, npy_intp OW,
                   int kh, int kw, int s)
{
    if (s == 1) {
        F* tmp = (F*) malloc((size_t)(OH * W) * sizeof(F));
        if (!tmp) return -1;
        const npy_intp n = (OH - 1) * W + OW;
        for (npy_intp p = 0; p < P; ++p) {
            corr<F>(x + p * H * W, W, w + (p % C) * kh * kw, tmp, n,
                    kh, kw, false);
            copy_rows<F>(tmp, W, y + p * OH * OW, OW, OH, OW);
        }
        free(tmp);
        return 0;
    }
    const npy_intp AH = ceil_div(H, s), AW = ceil_div(W, s), PS = AH * AW;
    F* D = (F*) calloc((size_t)(s * s * PS + OH * AW + kh * kw), sizeof(F));
    if (!D) return -1;
    F* tmp = D + s * s * PS;
    F* sub = tmp + OH * AW;
    const npy_intp n = (OH - 1) * AW + OW;
    for (npy_intp p = 0; p < P; ++p) {
        const F* wp = w + (p % C) * kh * kw;
        deinterleave<F>(x + p * H * W, H, W, s, D, AH, AW);
        if (s == 2 && kh == 3 && kw == 3) {
            corr_s2_fixed<F, 3>(D, PS, AW, wp, tmp, n);
        } else if (s == 2 && kh == 5 && kw == 5) {
            corr_s2_fixed<F, 5>(D, PS, AW, wp, tmp, n);
        } else {  // one pass per phase, accumulating
            bool acc = false;
            for (int py = 0; py < s; ++py) {
                const int KHp = (int) ceil_div(kh - py, s);
                for (int px = 0; px < s && KHp > 0; ++px) {
                    const int KWp = (int) ceil_div(kw - px, s);
                    if (KWp <= 0) continue;
                    for (int u = 0; u < KHp; ++u)
                        for (int v = 0; v < KWp; ++v)
                            sub[u * KWp + v] = wp[(py + s * u) * kw
                                                  + px + s * v];
                    corr<F>(D + (py * s + px) * PS, AW, sub, tmp, n,
                            KHp, KWp, acc);
                    acc = true;
                }
            }
        }
        copy_rows<F>(tmp, AW, y + p * OH * OW, OW, OH, OW);
    }
    free(D);
    return 0;
}

// Gradient to the input (the transposed correlation), gathered rather than
// scattered: gx[y][x] = sum_{i,j} w[i][j] gy[(y-i)/s][(x-j)/s] over the
// (i, j) where the division is exact and the index in range. Split gx by
// phase, y = a*s + py and x = b*s + px: then i = py + s*u, row a - u of gy
// (likewise for columns), so each phase is a stride-1 correlation of the
// zero-padded gy with the flipped sub-kernel w[py + s*u][px + s*v]: the
// flat kernel again, and as many multiply-adds as the forward pass.
// Returns 0, or -1 when out of memory.
template <typename F>
static int grad_input(const F* gy, const F* w, F* gx, npy_intp P,
                      npy_intp C, npy_intp H, npy_intp W, npy_intp OH,
                      npy_intp OW, int kh, int kw, int s)
{
    const npy_intp PT = ceil_div(kh, s) - 1, PL = ceil_div(kw, s) - 1;
    const npy_intp AH = ceil_div(H, s), AW = ceil_div(W, s);
    // padded gy: pad[r][c] = gy[r - PT][c - PL], zero outside
    const npy_intp PH = PT + AH, PW = PL + AW;
    F* pad = (F*) calloc((size_t)(PH * PW + s * AH * PW + kh * kw),
                         sizeof(F));
    if (!pad) return -1;
    F* tmp = pad + PH * PW;     // the column phases of one row phase
    F* sub = tmp + s * AH * PW; // the flipped sub-kernel of one phase

    for (npy_intp p = 0; p < P; ++p) {
        const F* wp = w + (p % C) * kh * kw;
        F* xp = gx + p * H * W;
        // the borders stay zero from calloc
        copy_rows<F>(gy + p * OH * OW, OW, pad + PT * PW + PL, PW, OH, OW);
        for (int py = 0; py < s; ++py) {
            const int KHp = (int) ceil_div(kh - py, s);
            const npy_intp NA = ceil_div(H - py, s);  // rows of this phase
            if (NA <= 0) continue;
            for (int px = 0; px < s; ++px) {
                const int KWp = (int) ceil_div(kw - px, s);
                const npy_intp NB = ceil_div(W - px, s);
                F* t = tmp + px * AH * PW;
                if (KHp <= 0 || KWp <= 0) {  // stride > kernel: no taps
                    memset(t, 0, (size_t)(NA * PW) * sizeof(F));
                    continue;
                }
                for (int u = 0; u < KHp; ++u)
                    for (int v = 0; v < KWp; ++v)
                        sub[u * KWp + v] = wp[(py + s * (KHp - 1 - u)) * kw
                                              + px + s * (KWp - 1 - v)];
                corr<F>(pad + (PT - KHp + 1) * PW + (PL - KWp + 1), PW, sub,
                        t, (NA - 1) * PW + NB, KHp, KWp, false);
            }
            // interleave the column phases into gx's rows
            for (npy_intp a = 0; a < NA; ++a) {
                F* __restrict__ xrow = xp + (a * s + py) * W;
                if (s == 1) {
                    memcpy(xrow, tmp + a * PW, W * sizeof(F));
                } else if (s == 2) {
                    const F* __restrict__ e = tmp + a * PW;
                    const F* __restrict__ o = tmp + AH * PW + a * PW;
                    const npy_intp half = W / 2;
                    for (npy_intp b = 0; b < half; ++b) {
                        xrow[2 * b] = e[b];
                        xrow[2 * b + 1] = o[b];
                    }
                    if (W & 1) xrow[W - 1] = e[half];
                } else {
                    for (int px = 0; px < s; ++px) {
                        const npy_intp NB = ceil_div(W - px, s);
                        const F* t = tmp + px * AH * PW + a * PW;
                        for (npy_intp b = 0; b < NB; ++b)
                            xrow[b * s + px] = t[b];
                    }
                }
            }
        }
    }
    free(pad);
    return 0;
}

// Gradient to the weights: gw[c][i][j] = sum_{n,oy,ox} gy[n][c][oy][ox]
// * x[n][c][oy*s+i][ox*s+j]. Summing over ox directly would be a float
// reduction the compiler may not reorder (so not vectorise); instead each
// tap keeps a row of partial sums, updated with a vectorisable multiply-add
// per (n, oy) and summed once at the end (in double).
// x: (N, C, H, W), gy: (N, C, OH, OW), gw: (C, kh, kw). Returns 0 or -1.
template <typename F>
static int grad_weights(const F* x, const F* gy, F* gw, npy_intp N,
                        npy_intp C, npy_intp H, npy_intp W, npy_intp OH,
                        npy_intp OW, int kh, int kw, int s)
{
    const npy_intp K = (npy_intp) kh * kw;
    F* part = (F*) malloc((size_t)(K * OW + 1) * sizeof(F));
    if (!part) return -1;
    for (npy_intp c = 0; c < C; ++c) {
        memset(part, 0, (size_t)(K * OW) * sizeof(F));
        for (npy_intp n = 0; n < N; ++n) {
            const F* xp = x + (n * C + c) * H * W;
            const F* gp = gy + (n * C + c) * OH * OW;
            for (npy_intp oy = 0; oy < OH; ++oy) {
                const F* __restrict__ g = gp + oy * OW;
                for (int i = 0; i < kh; ++i)
                    for (int j = 0; j < kw; ++j) {
                        const F* __restrict__ xr = xp + (oy * s + i) * W + j;
                        F* __restrict__ acc = part + (i * kw + j) * OW;
                        if (s == 1)
                            for (npy_intp b = 0; b < OW; ++b)
                                acc[b] += g[b] * xr[b];
                        else if (s == 2)
                            for (npy_intp b = 0; b < OW; ++b)
                                acc[b] += g[b] * xr[2 * b];
                        else
                            for (npy_intp b = 0; b < OW; ++b)
                                acc[b] += g[b] * xr[b * s];
                    }
            }
        }
        for (npy_intp t = 0; t < K; ++t) {
            double sum = 0;
            for (npy_intp b = 0; b < OW; ++b) sum += part[t * OW + b];
            gw[c * K + t] = (F) sum;
        }
    }
    free(part);
    return 0;
}

}  // namespace inception_art_dw
"""

# Common C prologue/epilogue pieces (Python %-templates; %% is a literal %).
# Inputs are made C-contiguous first: the kernels index planes directly.
_C_OUTPUT = r"""
    if (!%(out)s || PyArray_NDIM(%(out)s) != 4
        || !PyArray_IS_C_CONTIGUOUS(%(out)s)
        || PyArray_TYPE(%(out)s) != PyArray_TYPE(%(ref)s)
        || PyArray_DIMS(%(out)s)[0] != odims[0]
        || PyArray_DIMS(%(out)s)[1] != odims[1]
        || PyArray_DIMS(%(out)s)[2] != odims[2]
        || PyArray_DIMS(%(out)s)[3] != odims[3]) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*) PyArray_EMPTY(4, odims,
                                                 PyArray_TYPE(%(ref)s), 0);
        if (!%(out)s) { %(cleanup)s %(fail)s }
    }
"""

_C_FORWARD = r"""
{
    const int s = %(stride)d;
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
    if (!xc || !wc) { Py_XDECREF(xc); Py_XDECREF(wc); %(fail)s }
    const npy_intp* xd = PyArray_DIMS(xc);
    const npy_intp* wd = PyArray_DIMS(wc);
    if (wd[0] != xd[1] || wd[1] != 1 || wd[2] < 1 || wd[3] < 1
        || wd[2] > xd[2] || wd[3] > xd[3]) {
        PyErr_Format(PyExc_ValueError,
            "depthwise_correlate: input (%%lld, %%lld, %%lld, %%lld) and "
            "kernels (%%lld, %%lld, %%lld, %%lld) do not fit: kernels must "
            "be (C, 1, kh, kw) with kh <= H and kw <= W",
            (long long) xd[0], (long long) xd[1], (long long) xd[2],
            (long long) xd[3], (long long) wd[0], (long long) wd[1],
            (long long) wd[2], (long long) wd[3]);
        Py_DECREF(xc); Py_DECREF(wc); %(fail)s
    }
    npy_intp odims[4] = {xd[0], xd[1], (xd[2] - wd[2]) / s + 1,
                         (xd[3] - wd[3]) / s + 1};
    %(output)s
    int ia_err;
    Py_BEGIN_ALLOW_THREADS  // plain C on arrays: let other threads run
    ia_err = inception_art_dw::forward<dtype_%(x)s>(
        (const dtype_%(x)s*) PyArray_DATA(xc),
        (const dtype_%(x)s*) PyArray_DATA(wc),
        (dtype_%(x)s*) PyArray_DATA(%(y)s),
        xd[0] * xd[1], xd[1], xd[2], xd[3], odims[2], odims[3],
        (int) wd[2], (int) wd[3], s);
    Py_END_ALLOW_THREADS
    if (ia_err != 0) {
        PyErr_NoMemory();
        Py_DECREF(xc); Py_DECREF(wc); %(fail)s
    }
    Py_DECREF(xc); Py_DECREF(wc);
}
"""

_C_GRAD_INPUT = r"""
{
    const int s = %(stride)d;
    PyArrayObject* gc = PyArray_GETCONTIGUOUS(%(gy)s);
    PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
    if (!gc || !wc) { Py_XDECREF(gc); Py_XDECREF(wc); %(fail)s }
    const npy_intp* gd = PyArray_DIMS(gc);
    const npy_intp* wd = PyArray_DIMS(wc);
    const npy_intp H = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 0);
    const npy_intp W = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 1);
    if (PyArray_DIMS(%(shape)s)[0] != 2 || wd[0] != gd[1] || wd[1] != 1
        || wd[2] < 1 || wd[3] < 1 || H < wd[2] || W < wd[3]
        || (H - wd[2]) / s + 1 != gd[2] || (W - wd[3]) / s + 1 != gd[3]) {
        PyErr_Format(PyExc_ValueError,
            "DepthwiseCorrelateGradInput: output gradient (%%lld, %%lld, "
            "%%lld, %%lld), kernels (%%lld, %%lld, %%lld, %%lld) and input "
            "size %%lld x %%lld do not fit",
            (long long) gd[0], (long long) gd[1], (long long) gd[2],
            (long long) gd[3], (long long) wd[0], (long long) wd[1],
            (long long) wd[2], (long long) wd[3], (long long) H,
            (long long) W);
        Py_DECREF(gc); Py_DECREF(wc); %(fail)s
    }
    npy_intp odims[4] = {gd[0], gd[1], H, W};
    %(output)s
    int ia_err;
    Py_BEGIN_ALLOW_THREADS  // plain C on arrays: let other threads run
    ia_err = inception_art_dw::grad_input<dtype_%(gy)s>(
        (const dtype_%(gy)s*) PyArray_DATA(gc),
        (const dtype_%(gy)s*) PyArray_DATA(wc),
        (dtype_%(gy)s*) PyArray_DATA(%(gx)s),
        gd[0] * gd[1], gd[1], H, W, gd[2], gd[3],
        (int) wd[2], (int) wd[3], s);
    Py_END_ALLOW_THREADS
    if (ia_err != 0) {
        PyErr_NoMemory();
        Py_DECREF(gc); Py_DECREF(wc); %(fail)s
    }
    Py_DECREF(gc); Py_DECREF(wc);
}
"""

_C_GRAD_WEIGHTS = r"""
{
    const int s = %(stride)d;
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* gc = PyArray_GETCONTIGUOUS(%(gy)s);
    if (!xc || !gc) { Py_XDECREF(xc); Py_XDECREF(gc); %(fail)s }
    const npy_intp* xd = PyArray_DIMS(xc);
    const npy_intp* gd = PyArray_DIMS(gc);
    const npy_intp kh = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 0);
    const npy_intp kw = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 1);
    if (PyArray_DIMS(%(shape)s)[0] != 2 || xd[0] != gd[0]
        || xd[1] != gd[1] || kh < 1 || kw < 1 || kh > xd[2] || kw > xd[3]
        || (xd[2] - kh) / s + 1 != gd[2] || (xd[3] - kw) / s + 1 != gd[3]) {
        PyErr_Format(PyExc_ValueError,
            "DepthwiseCorrelateGradWeights: input (%%lld, %%lld, %%lld, "
            "%%lld), output gradient (%%lld, %%lld, %%lld, %%lld) and kernel "
            "size %%lld x %%lld do not fit",
            (long long) xd[0], (long long) xd[1], (long long) xd[2],
            (long long) xd[3], (long long) gd[0], (long long) gd[1],
            (long long) gd[2], (long long) gd[3], (long long) kh,
            (long long) kw);
        Py_DECREF(xc); Py_DECREF(gc); %(fail)s
    }
    npy_intp odims[4] = {xd[1], 1, kh, kw};
    %(output)s
    int ia_err;
    Py_BEGIN_ALLOW_THREADS  // plain C on arrays: let other threads run
    ia_err = inception_art_dw::grad_weights<dtype_%(x)s>(
        (const dtype_%(x)s*) PyArray_DATA(xc),
        (const dtype_%(x)s*) PyArray_DATA(gc),
        (dtype_%(x)s*) PyArray_DATA(%(gw)s),
        xd[0], xd[1], xd[2], xd[3], gd[2], gd[3],
        (int) kh, (int) kw, s);
    Py_END_ALLOW_THREADS
    if (ia_err != 0) {
        PyErr_NoMemory();
        Py_DECREF(xc); Py_DECREF(gc); %(fail)s
    }
    Py_DECREF(xc); Py_DECREF(gc);
}
"""

# Theano keys its on-disk cache on c_code_cache_version alone, not on the
# source: derive the version from the C text so an edit can never pick up a
# stale compiled module.
_C_VERSION = (1, zlib.crc32((_SUPPORT_CODE + _C_OUTPUT + _C_FORWARD
                             + _C_GRAD_INPUT + _C_GRAD_WEIGHTS).encode()))

_FLOAT_DTYPES = ('float32', 'float64')


def _check_stride(stride):
    if isinstance(stride, (tuple, list)):
        if len(stride) != 2 or stride[0] != stride[1]:
            raise ValueError('depthwise ops take one stride for both axes, '
                             'got %r' % (stride,))
        stride = stride[0]
    stride = int(stride)
    if stride < 1:
        raise ValueError('stride must be >= 1, got %d' % stride)
    return stride


def _as_4d_float(var, name):
    var = T.as_tensor_variable(var)
    if var.ndim != 4:
        raise TypeError('%s must be 4-d, got %d-d' % (name, var.ndim))
    if var.dtype not in _FLOAT_DTYPES:
        raise TypeError('%s must be float32 or float64, got %s'
                        % (name, var.dtype))
    return var


def _as_shape(var):
    var = T.as_tensor_variable(var)
    if var.ndim != 1:
        raise TypeError('a shape must be a vector, got %d-d' % var.ndim)
    if var.dtype != 'int64':
        var = T.cast(var, 'int64')
    return var


def _out_size(size, kernel, stride):
    return (size - kernel) // stride + 1


class _DepthwiseOp(theano.gof.Op):
    """What the three depthwise ops share: the stride, C code, versioning."""

    __props__ = ('stride',)
    _c_template = None

    def __init__(self, stride=1):
        self.stride = _check_stride(stride)

    def c_support_code(self):
        return _SUPPORT_CODE

    def c_code_cache_version(self):
        return _C_VERSION

    def _c(self, sub, names, out, ref):
        names = dict(names, fail=sub['fail'], stride=self.stride)
        cleanup = ' '.join('Py_XDECREF(%s);' % v for v in self._c_locals)
        names['output'] = _C_OUTPUT % dict(out=names[out], ref=names[ref],
                                           fail=sub['fail'], cleanup=cleanup)
        return self._c_template % names


class DepthwiseCorrelate(_DepthwiseOp):
    """Depthwise "valid" cross-correlation, one kernel per channel.

    Parameters
    ----------
    stride : int
        The same stride in both axes (1 and 2 are the tuned cases; any
        positive stride works).

    Notes
    -----
    Inputs ``x`` (N, C, H, W) and ``w`` (C, 1, kh, kw), both float32 (or
    both float64); output ``y`` (N, C, (H - kh) // s + 1, (W - kw) // s + 1)
    with ``y[n, c, i, j] = sum_{u, v} w[c, 0, u, v] * x[n, c, i*s + u,
    j*s + v]``. This equals ``T.nnet.conv2d(x, w, num_groups=C,
    filter_flip=False, subsample=(s, s))``. Gradients: to ``x`` by
    :class:`DepthwiseCorrelateGradInput`, to ``w`` by
    :class:`DepthwiseCorrelateGradWeights`.
    """

    _c_template = _C_FORWARD
    _c_locals = ('xc', 'wc')

    def make_node(self, x, w):
        x = _as_4d_float(x, 'x')
        w = _as_4d_float(w, 'w')
        if w.dtype != x.dtype:
            raise TypeError('x and w must have the same dtype, got %s and %s'
                            % (x.dtype, w.dtype))
        out = T.TensorType(x.dtype, x.broadcastable[:2] + (False, False))
        return theano.Apply(self, [x, w], [out()])

    def perform(self, node, inputs, outputs):
        x, w = inputs
        s = self.stride
        n, c, h, wd = x.shape
        kh, kw = w.shape[2:]
        if w.shape[:2] != (c, 1) or kh > h or kw > wd:
            raise ValueError('depthwise_correlate: input %s and kernels %s do '
                             'not fit' % (x.shape, w.shape))
        oh, ow = _out_size(h, kh, s), _out_size(wd, kw, s)
        y = np.zeros((n, c, oh, ow), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                y += (w[None, :, 0, u, v, None, None]
                      * x[:, :, u:u + s * (oh - 1) + 1:s,
                          v:v + s * (ow - 1) + 1:s])
        outputs[0][0] = y

    def infer_shape(self, node, shapes):
        (n, c, h, w), (_, _, kh, kw) = shapes
        s = self.stride
        return [(n, c, _out_size(h, kh, s), _out_size(w, kw, s))]

    def grad(self, inputs, output_grads):
        x, w = inputs
        gy, = output_grads
        gx = DepthwiseCorrelateGradInput(self.stride)(gy, w, x.shape[2:])
        gw = DepthwiseCorrelateGradWeights(self.stride)(x, gy, w.shape[2:])
        return [T.patternbroadcast(gx, x.broadcastable),
                T.patternbroadcast(gw, w.broadcastable)]

    def c_code(self, node, name, inp, out, sub):
        return self._c(sub, dict(x=inp[0], w=inp[1], y=out[0]), 'y', 'x')


class DepthwiseCorrelateGradInput(_DepthwiseOp):
    """The gradient of :class:`DepthwiseCorrelate` with respect to its input.

    Parameters
    ----------
    stride : int
        The forward op's stride.

    Notes
    -----
    Inputs: the output gradient ``gy`` (N, C, OH, OW), the kernels ``w``
    (C, 1, kh, kw) and the input's spatial size ``(H, W)`` (an int64
    vector: with a stride, H is not fixed by OH). Output ``gx`` (N, C, H,
    W), the transposed correlation: each ``gy`` value spread over the
    ``kh x kw`` window it came from. The C code gathers instead of
    scattering (per output phase modulo the stride, a stride-1 correlation
    with a flipped sub-kernel), so every ``gx`` element is written once and
    the inner loops vectorise like the forward pass.
    """

    _c_template = _C_GRAD_INPUT
    _c_locals = ('gc', 'wc')

    def make_node(self, gy, w, shape):
        gy = _as_4d_float(gy, 'gy')
        w = _as_4d_float(w, 'w')
        shape = _as_shape(shape)
        if w.dtype != gy.dtype:
            raise TypeError('gy and w must have the same dtype, got %s and %s'
                            % (gy.dtype, w.dtype))
        out = T.TensorType(gy.dtype, gy.broadcastable[:2] + (False, False))
        return theano.Apply(self, [gy, w, shape], [out()])

    def perform(self, node, inputs, outputs):
        gy, w, shape = inputs
        s = self.stride
        h, wd = int(shape[0]), int(shape[1])
        n, c, oh, ow = gy.shape
        kh, kw = w.shape[2:]
        if (w.shape[:2] != (c, 1) or kh > h or kw > wd
                or (_out_size(h, kh, s), _out_size(wd, kw, s)) != (oh, ow)):
            raise ValueError('DepthwiseCorrelateGradInput: gy %s, w %s and '
                             'input size %s do not fit'
                             % (gy.shape, w.shape, (h, wd)))
        gx = np.zeros((n, c, h, wd), dtype=gy.dtype)
        for u in range(kh):
            for v in range(kw):
                gx[:, :, u:u + s * (oh - 1) + 1:s,
                   v:v + s * (ow - 1) + 1:s] += (w[None, :, 0, u, v, None, None]
                                                  * gy)
        outputs[0][0] = gx

    def infer_shape(self, node, shapes):
        n, c = shapes[0][:2]
        shape = node.inputs[2]
        return [(n, c, shape[0], shape[1])]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def grad(self, inputs, output_grads):
        # gx is linear in gy and in w: L = <G, gx> = <forward(G, w), gy>
        # = <gradweights(G, gy), w>.
        gy, w, shape = inputs
        g, = output_grads
        ggy = DepthwiseCorrelate(self.stride)(g, w)
        gw = DepthwiseCorrelateGradWeights(self.stride)(g, gy, w.shape[2:])
        return [T.patternbroadcast(ggy, gy.broadcastable),
                T.patternbroadcast(gw, w.broadcastable),
                theano.gradient.DisconnectedType()()]

    def c_code(self, node, name, inp, out, sub):
        return self._c(sub, dict(gy=inp[0], w=inp[1], shape=inp[2],
                                 gx=out[0]), 'gx', 'gy')


class DepthwiseCorrelateGradWeights(_DepthwiseOp):
    """The gradient of :class:`DepthwiseCorrelate` with respect to its kernels.

    Parameters
    ----------
    stride : int
        The forward op's stride.

    Notes
    -----
    Inputs: the forward input ``x`` (N, C, H, W), the output gradient ``gy``
    (N, C, OH, OW) and the kernel size ``(kh, kw)`` (an int64 vector).
    Output ``gw`` (C, 1, kh, kw), ``gw[c, 0, u, v] = sum_{n, i, j}
    gy[n, c, i, j] * x[n, c, i*s + u, j*s + v]``. The C code keeps a row of
    partial sums per tap (vectorisable multiply-adds) and adds each row up
    once, in double precision.
    """

    _c_template = _C_GRAD_WEIGHTS
    _c_locals = ('xc', 'gc')

    def make_node(self, x, gy, shape):
        x = _as_4d_float(x, 'x')
        gy = _as_4d_float(gy, 'gy')
        shape = _as_shape(shape)
        if gy.dtype != x.dtype:
            raise TypeError('x and gy must have the same dtype, got %s and %s'
                            % (x.dtype, gy.dtype))
        out = T.TensorType(x.dtype, (x.broadcastable[1], True, False, False))
        return theano.Apply(self, [x, gy, shape], [out()])

    def perform(self, node, inputs, outputs):
        x, gy, shape = inputs
        s = self.stride
        kh, kw = int(shape[0]), int(shape[1])
        n, c, h, wd = x.shape
        oh, ow = gy.shape[2:]
        if (gy.shape[:2] != (n, c) or not 1 <= kh <= h or not 1 <= kw <= wd
                or (_out_size(h, kh, s), _out_size(wd, kw, s)) != (oh, ow)):
            raise ValueError('DepthwiseCorrelateGradWeights: x %s, gy %s and '
                             'kernel size %s do not fit'
                             % (x.shape, gy.shape, (kh, kw)))
        gw = np.empty((c, 1, kh, kw), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                window = x[:, :, u:u + s * (oh - 1) + 1:s,
                           v:v + s * (ow - 1) + 1:s]
                gw[:, 0, u, v] = np.einsum('ncij,ncij->c', window, gy)
        outputs[0][0] = gw

    def infer_shape(self, node, shapes):
        c = shapes[0][1]
        shape = node.inputs[2]
        return [(c, 1, shape[0], shape[1])]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def grad(self, inputs, output_grads):
        # gw is linear in x and in gy: L = <G, gw> = <gradinput(gy, G), x>
        # = <forward(x, G), gy>.
        x, gy, shape = inputs
        g, = output_grads
        gx = DepthwiseCorrelateGradInput(self.stride)(gy, g, x.shape[2:])
        ggy = DepthwiseCorrelate(self.stride)(x, g)
        return [T.patternbroadcast(gx, x.broadcastable),
                T.patternbroadcast(ggy, gy.broadcastable),
                theano.gradient.DisconnectedType()()]

    def c_code(self, node, name, inp, out, sub):
        return self._c(sub, dict(x=inp[0], gy=inp[1], shape=inp[2],
                                 gw=out[0]), 'gw', 'x')


def depthwise_correlate(x, w, stride=1):
    """Depthwise "valid" cross-correlation of ``x`` with ``w``.

    Parameters
    ----------
    x : Theano 4-d tensor, (N, C, H, W), float32 (or float64)
        The input, already padded as the layer needs.
    w : Theano 4-d tensor or array, (C, 1, kh, kw)
        One kernel per channel in torch's depthwise layout, used as a
        cross-correlation (not flipped). A numpy array is cast to ``x``'s
        dtype.
    stride : int or (s, s)
        The same stride in both axes.

    Returns
    -------
    Theano 4-d tensor, (N, C, (H - kh) // stride + 1, (W - kw) // stride + 1)
        Equal to ``T.nnet.conv2d(x, w, num_groups=C, filter_flip=False,
        subsample=(stride, stride))``, computed by the C op
        :class:`DepthwiseCorrelate`; differentiable in ``x`` and ``w``.
    """
    x = T.as_tensor_variable(x)
    if isinstance(w, np.ndarray):
        w = w.astype(x.dtype, copy=False)
    return DepthwiseCorrelate(stride)(x, w)
