"""Depthwise and pointwise (1x1) convolution as small Theano C ops.

These are the layers of a MobileNet-style block (EfficientNet-Lite): a 1x1
expansion, a depthwise convolution, a 1x1 projection, each with a bias and
most with ReLU6.

Depthwise. Theano's ``T.nnet.conv2d(x, w, num_groups=C)`` runs a depthwise
convolution as C separate tiny GEMMs (one per channel, after an im2col copy
each). On EfficientNet-Lite0 that is about half of a whole step for 9% of
its multiply-adds. The ops here do the same arithmetic with direct loops
that the compiler vectorises (see the comment on the C code). Measured with
``bench/depthwise_bench.py`` at EfficientNet-Lite0's eight kinds of
depthwise layer (2 Zen 4 cores, single-threaded OpenBLAS for conv2d):
forward 6.6-19x and forward + input gradient 6.4-14x faster than the
grouped conv2d; summed over the eight, 15.2 -> 1.3 ms and 33.7 -> 3.4 ms.

Pointwise. A 1x1 convolution is one GEMM per image. Theano's ``CorrMM``
copies the input into its im2col buffer first (and its input gradient goes
through a col2im buffer); the op here calls GEMM on the tensors themselves.

Both fuse what follows a convolution in these networks: zero padding
(depthwise; independent top, bottom, left and right widths, as TensorFlow's
"SAME" needs at stride 2), the bias and the activation (identity or ReLU6).
In Theano those were separate passes over memory: an ``Alloc`` and
``IncSubtensor`` per padded layer, a bias ``add`` and a ``clip`` that could
not be fused (the clip's gradient read the pre-activation). Here the
activation's gradient is computed from the op's *output* (ReLU6 passes the
gradient where ``0 < y < 6``, as PyTorch's ``hardtanh_backward`` does), and
the gradient ops apply that mask while copying the output gradient, so the
forward pass keeps no pre-activation and the backward pass has no separate
mask pass.

The ops, all cross-correlation (no kernel flip):

* :class:`DepthwiseCorrelate`: ``y = act(x_padded (*) w + b)``, one kernel
  per channel, the same stride in both axes.
* :class:`DepthwiseCorrelateGradInput`: the gradient with respect to ``x``
  (the transposed correlation of the masked output gradient, cropped).
* :class:`DepthwiseCorrelateGradWeights`: the gradient with respect to
  ``w`` (a C op as well, so that networks with trainable depthwise weights
  work and ``T.grad`` never needs numpy).
* :class:`PointwiseConv` and :class:`PointwiseConvGradInput`: the 1x1
  convolution ``y = act(w x + b)`` and its input gradient (its weight and
  bias gradients are ordinary Theano expressions).

Stride, padding and activation reach the C code as run-time parameters
(Theano's ``ParamsType``), not as text in it: every layer of a network then
shares one compiled module per op class, which keeps the first (cold)
compile short.

Each op's gradient is expressed with the others (and, for the ReLU6 mask,
elementwise Theano), so second derivatives work too. Each op has a numpy
``perform`` used as the reference in the tests and as the fallback when
Theano runs without a C++ compiler. float32 is the case that matters;
float64 is supported (same code, other element type) so that
``theano.gradient.verify_grad`` can run at double precision.

Use :func:`depthwise_correlate` and :func:`pointwise_conv`.
"""
import zlib

import numpy as np

from ..theano_env import theano, T
from theano.gof import ParamsType
from theano.scalar import int64

from .blas import UsesBlas, blas_support_code, blas_version

__all__ = ['depthwise_correlate', 'pointwise_conv', 'ACTIVATIONS',
           'DepthwiseCorrelate', 'DepthwiseCorrelateGradInput',
           'DepthwiseCorrelateGradWeights', 'PointwiseConv',
           'PointwiseConvGradInput']

#: The activations the ops can apply to their output.
ACTIVATIONS = ('linear', 'relu6')

# Shared by the ops. Theano deduplicates identical support code, so a
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

// ReLU6 as Theano's clip writes it (a NaN stays a NaN).
template <typename F>
static inline F relu6(F v)
{
    v = v < F(0) ? F(0) : v;
    return v > F(6) ? F(6) : v;
}

// The output gradient that reaches the pre-activation of y = relu6(z):
// g where 0 < y < 6, else 0. It reads the output y, so z need not be kept.
// (A bitwise & rather than &&: no branch, so the loops below vectorise.)
template <typename F>
static inline F relu6_pass(F g, F y)
{
    return ((y > F(0)) & (y < F(6))) ? g : F(0);
}

// z = act(z + bias) over n contiguous values; act 1 is ReLU6, 0 the
// identity. The epilogue of every op here, run on what the op has just
// written (a depthwise plane is still in cache): no separate Theano pass.
// (noinline: inlined into its callers, gcc 12 left these loops scalar and
// branchy, 10x slower on random signs; on their own they vectorise.)
template <typename F>
__attribute__((noinline)) static void bias_act(F* __restrict__ z, npy_intp n, F bias, int act)
{
    if (act)
        for (npy_intp q = 0; q < n; ++q) z[q] = relu6<F>(z[q] + bias);
    else
        for (npy_intp q = 0; q < n; ++q) z[q] += bias;
}

// z = relu6_pass(g, y) over n contiguous values.
template <typename F>
__attribute__((noinline)) static void mask_relu6(const F* __restrict__ g, const F* __restrict__ y,
                       F* __restrict__ z, npy_intp n)
{
    for (npy_intp q = 0; q < n; ++q) z[q] = relu6_pass<F>(g[q], y[q]);
}

// Zero padding (top, bottom, left, right) of the input, done plane by plane
// into a small buffer that stays in cache instead of as a padded copy of the
// whole tensor (which cost a separate allocation, fill and copy per layer).
struct Pad {
    npy_intp t, b, l, r;
    bool any() const { return (t | b | l | r) != 0; }
};

// One input plane as the kernels see it: H x W itself, or its padded copy
// (HP x WP) in `buf`, whose border is zero from calloc and never written.
template <typename F>
static inline const F* padded_plane(const F* x, npy_intp H, npy_intp W,
                                    const Pad& pad, F* buf)
{
    if (!pad.any()) return x;
    const npy_intp WP = W + pad.l + pad.r;
    copy_rows<F>(x, W, buf + pad.t * WP + pad.l, WP, H, W);
    return buf;
}

// Forward. x: P planes H x W, w: C kernels kh x kw, b: C biases (or NULL),
// y: P planes OH x OW; plane p uses kernel p % C. y = act(corr(pad(x), w)
// + b). Returns 0, or -1 when out of memory.
//
// Stride 1: one flat correlation per (padded) plane. Stride s > 1: split
// the plane into its s*s phases; y = sum over phases (py, px) of the
// stride-1 correlation of that phase with the sub-kernel
// w[py + s*u][px + s*v]. The loads stay contiguous and the multiply-adds
// are the same in number.
template <typename F>
static int forward(const F* x, const F* w, const F* b, F* y, npy_intp P,
                   npy_intp C, npy_intp H, npy_intp W, npy_intp OH,
                   npy_intp OW, int kh, int kw, int s, const Pad& pad, int act)
{
    const npy_intp HP = H + pad.t + pad.b, WP = W + pad.l + pad.r;
    const npy_intp XP = pad.any() ? HP * WP : 0;  // padded plane buffer
    if (s == 1) {
        F* buf = (F*) calloc((size_t)(XP + OH * WP), sizeof(F));
        if (!buf) return -1;
        F* tmp = buf + XP;
        const npy_intp n = (OH - 1) * WP + OW;
        for (npy_intp p = 0; p < P; ++p) {
            const F* xp = padded_plane<F>(x + p * H * W, H, W, pad, buf);
            corr<F>(xp, WP, w + (p % C) * kh * kw, tmp, n, kh, kw, false);
            if (b || act) bias_act<F>(tmp, n, b ? b[p % C] : F(0), act);
            copy_rows<F>(tmp, WP, y + p * OH * OW, OW, OH, OW);
        }
        free(buf);
        return 0;
    }
    const npy_intp AH = ceil_div(HP, s), AW = ceil_div(WP, s), PS = AH * AW;
    F* D = (F*) calloc((size_t)(s * s * PS + OH * AW + kh * kw + XP),
                       sizeof(F));
    if (!D) return -1;
    F* tmp = D + s * s * PS;
    F* sub = tmp + OH * AW;
    F* buf = sub + kh * kw;
    const npy_intp n = (OH - 1) * AW + OW;
    for (npy_intp p = 0; p < P; ++p) {
        const F* wp = w + (p % C) * kh * kw;
        deinterleave<F>(padded_plane<F>(x + p * H * W, H, W, pad, buf),
                        HP, WP, s, D, AH, AW);
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
        if (b || act) bias_act<F>(tmp, n, b ? b[p % C] : F(0), act);
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
// With ym (the forward's ReLU6 output) gy is masked by it on the way into
// the buffer; with padding the gradient of the padded plane is computed and
// its interior copied out (the gradient of padding is a crop).
// Returns 0, or -1 when out of memory.
template <typename F>
static int grad_input(const F* gy, const F* ym, const F* w, F* gx,
                      npy_intp P, npy_intp C, npy_intp H, npy_intp W,
                      npy_intp OH, npy_intp OW, int kh, int kw, int s,
                      const Pad& pad)
{
    const npy_intp HP = H + pad.t + pad.b, WP = W + pad.l + pad.r;
    const npy_intp XP = pad.any() ? HP * WP : 0;
    const npy_intp PT = ceil_div(kh, s) - 1, PL = ceil_div(kw, s) - 1;
    const npy_intp AH = ceil_div(HP, s), AW = ceil_div(WP, s);
    // padded gy: pbuf[r][c] = gy[r - PT][c - PL], zero outside
    const npy_intp PH = PT + AH, PW = PL + AW;
    const npy_intp MP = ym ? OH * OW : 0;
    F* pbuf = (F*) calloc((size_t)(PH * PW + s * AH * PW + kh * kw + XP + MP),
                          sizeof(F));
    if (!pbuf) return -1;
    F* tmp = pbuf + PH * PW;    // the column phases of one row phase
    F* sub = tmp + s * AH * PW; // the flipped sub-kernel of one phase
    F* gxp = sub + kh * kw;     // the padded plane's gradient, when padded
    F* gm = gxp + XP;           // the masked output gradient, with ym

    for (npy_intp p = 0; p < P; ++p) {
        const F* wp = w + (p % C) * kh * kw;
        F* xp = XP ? gxp : gx + p * H * W;
        // the borders stay zero from calloc
        const F* g = gy + p * OH * OW;
        if (ym) {
            mask_relu6<F>(g, ym + p * OH * OW, gm, OH * OW);
            g = gm;
        }
        copy_rows<F>(g, OW, pbuf + PT * PW + PL, PW, OH, OW);
        if (s == 1) {
            // Only x's own rows and columns: start the flat correlation at
            // (pad.t, pad.l) of the padded plane's gradient and copy its
            // rows straight into gx. (Computing the whole padded plane and
            // cropping it did 2.5x the work on Lite0's 7x7 planes.)
            for (int u = 0; u < kh; ++u)
                for (int v = 0; v < kw; ++v)
                    sub[u * kw + v] = wp[(kh - 1 - u) * kw + kw - 1 - v];
            corr<F>(pbuf + pad.t * PW + pad.l, PW, sub, tmp,
                    (H - 1) * PW + W, kh, kw, false);
            copy_rows<F>(tmp, PW, gx + p * H * W, W, H, W);
            continue;
        }
        for (int py = 0; py < s; ++py) {
            const int KHp = (int) ceil_div(kh - py, s);
            const npy_intp NA = ceil_div(HP - py, s);  // rows of this phase
            if (NA <= 0) continue;
            for (int px = 0; px < s; ++px) {
                const int KWp = (int) ceil_div(kw - px, s);
                const npy_intp NB = ceil_div(WP - px, s);
                F* t = tmp + px * AH * PW;
                if (KHp <= 0 || KWp <= 0) {  // stride > kernel: no taps
                    memset(t, 0, (size_t)(NA * PW) * sizeof(F));
                    continue;
                }
                for (int u = 0; u < KHp; ++u)
                    for (int v = 0; v < KWp; ++v)
                        sub[u * KWp + v] = wp[(py + s * (KHp - 1 - u)) * kw
                                              + px + s * (KWp - 1 - v)];
                corr<F>(pbuf + (PT - KHp + 1) * PW + (PL - KWp + 1), PW, sub,
                        t, (NA - 1) * PW + NB, KHp, KWp, false);
            }
            // interleave the column phases into the rows of xp
            for (npy_intp a = 0; a < NA; ++a) {
                F* __restrict__ xrow = xp + (a * s + py) * WP;
                if (s == 1) {
                    memcpy(xrow, tmp + a * PW, WP * sizeof(F));
                } else if (s == 2) {
                    const F* __restrict__ e = tmp + a * PW;
                    const F* __restrict__ o = tmp + AH * PW + a * PW;
                    const npy_intp half = WP / 2;
                    for (npy_intp b = 0; b < half; ++b) {
                        xrow[2 * b] = e[b];
                        xrow[2 * b + 1] = o[b];
                    }
                    if (WP & 1) xrow[WP - 1] = e[half];
                } else {
                    for (int px = 0; px < s; ++px) {
                        const npy_intp NB = ceil_div(WP - px, s);
                        const F* t = tmp + px * AH * PW + a * PW;
                        for (npy_intp b = 0; b < NB; ++b)
                            xrow[b * s + px] = t[b];
                    }
                }
            }
        }
        if (XP)
            copy_rows<F>(gxp + pad.t * WP + pad.l, WP, gx + p * H * W, W,
                         H, W);
    }
    free(pbuf);
    return 0;
}

// Gradient to the weights: gw[c][i][j] = sum_{n,oy,ox} gy[n][c][oy][ox]
// * xpad[n][c][oy*s+i][ox*s+j]. Summing over ox directly would be a float
// reduction the compiler may not reorder (so not vectorise); instead each
// tap keeps a row of partial sums, updated with a vectorisable multiply-add
// per (n, oy) and summed once at the end (in double).
// x: (N, C, H, W), gy: (N, C, OH, OW), gw: (C, kh, kw). Returns 0 or -1.
template <typename F>
static int grad_weights(const F* x, const F* gy, F* gw, npy_intp N,
                        npy_intp C, npy_intp H, npy_intp W, npy_intp OH,
                        npy_intp OW, int kh, int kw, int s, const Pad& pad)
{
    const npy_intp HP = H + pad.t + pad.b, WP = W + pad.l + pad.r;
    const npy_intp XP = pad.any() ? HP * WP : 0;
    const npy_intp K = (npy_intp) kh * kw;
    F* part = (F*) calloc((size_t)(K * OW + XP + 1), sizeof(F));
    if (!part) return -1;
    F* buf = part + K * OW;
    for (npy_intp c = 0; c < C; ++c) {
        memset(part, 0, (size_t)(K * OW) * sizeof(F));
        for (npy_intp n = 0; n < N; ++n) {
            const F* xp = padded_plane<F>(x + (n * C + c) * H * W, H, W,
                                          pad, buf);
            const F* gp = gy + (n * C + c) * OH * OW;
            for (npy_intp oy = 0; oy < OH; ++oy) {
                const F* __restrict__ g = gp + oy * OW;
                for (int i = 0; i < kh; ++i)
                    for (int j = 0; j < kw; ++j) {
                        const F* __restrict__ xr = xp + (oy * s + i) * WP + j;
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

_SUPPORT_CODE_PW = r"""
namespace inception_art_pw {

// Fortran BLAS GEMM (declared by Theano's BLAS header), column-major:
// C (m x n) = op(A) (m x k) op(B) (k x n).
static inline void gemm(char ta, char tb, int m, int n, int k, const float* A,
                        int lda, const float* B, int ldb, float* Cm, int ldc)
{
    const float one = 1, zero = 0;
    sgemm_(&ta, &tb, &m, &n, &k, &one, A, &lda, B, &ldb, &zero, Cm, &ldc);
}

static inline void gemm(char ta, char tb, int m, int n, int k,
                        const double* A, int lda, const double* B, int ldb,
                        double* Cm, int ldc)
{
    const double one = 1, zero = 0;
    dgemm_(&ta, &tb, &m, &n, &k, &one, A, &lda, B, &ldb, &zero, Cm, &ldc);
}

// Forward: per image n, Y (Co x HW) = W (Co x Ci) X (Ci x HW), all
// row-major, i.e. column-major Y^T = X^T W^T: GEMM "N", "N" with
// m = pixels, n = Co, k = Ci. Then y = act(y + b), channel row by row.
// (Measured on Lite0's step: GEMMs over blocks of 2048-8192 pixels, each
// finished while in cache, were no faster than one GEMM over the image.)
template <typename F>
static void forward(const F* x, const F* w, const F* b, F* y, npy_intp N,
                    npy_intp Ci, npy_intp Co, npy_intp HW, int act)
{
    for (npy_intp n = 0; n < N; ++n) {
        F* yn = y + n * Co * HW;
        gemm('N', 'N', (int) HW, (int) Co, (int) Ci, x + n * Ci * HW,
             (int) HW, w, (int) Ci, yn, (int) HW);
        if (b || act)
            for (npy_intp c = 0; c < Co; ++c)
                inception_art_dw::bias_act<F>(yn + c * HW, HW,
                                              b ? b[c] : F(0), act);
    }
}

// Gradient to the input: per image, GX (Ci x HW) = W^T (Ci x Co) G (Co x HW)
// with G the output gradient, masked by the ReLU6 output ym when given:
// column-major GX^T = G^T W, GEMM "N", "T" with m = pixels, n = Ci, k = Co.
// Returns 0, or -1 when out of memory.
template <typename F>
static int grad_input(const F* gy, const F* ym, const F* w, F* gx, npy_intp N,
                      npy_intp Ci, npy_intp Co, npy_intp HW)
{
    F* tmp = NULL;
    if (ym) {
        tmp = (F*) malloc((size_t)(Co * HW + 1) * sizeof(F));
        if (!tmp) return -1;
    }
    for (npy_intp n = 0; n < N; ++n) {
        const F* g = gy + n * Co * HW;
        if (ym) {
            inception_art_dw::mask_relu6<F>(g, ym + n * Co * HW, tmp, Co * HW);
            g = tmp;
        }
        gemm('N', 'T', (int) HW, (int) Ci, (int) Co, g, (int) HW, w,
             (int) Ci, gx + n * Ci * HW, (int) HW);
    }
    free(tmp);
    return 0;
}

}  // namespace inception_art_pw
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

# The run-time parameters of the depthwise ops (see _DepthwiseOp).
_C_PARAMS = r"""
    const int s = (int) %(params)s->stride;
    const inception_art_dw::Pad pad = {
        (npy_intp) %(params)s->pad_top, (npy_intp) %(params)s->pad_bottom,
        (npy_intp) %(params)s->pad_left, (npy_intp) %(params)s->pad_right};
    const int act = (int) %(params)s->relu6;
    const npy_intp kernel_h = (npy_intp) %(params)s->kernel_h;
    const npy_intp kernel_w = (npy_intp) %(params)s->kernel_w;
"""

# An optional input (a bias, a ReLU6 output) as a contiguous array or NULL.
_C_OPTIONAL = 'PyArray_GETCONTIGUOUS(%s)'

_C_FORWARD = r"""
{
    %(c_params)s
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
    PyArrayObject* bc = %(b)s;
    if (!xc || !wc || (%(has_b)d && !bc)) { %(cleanup)s %(fail)s }
    const npy_intp* xd = PyArray_DIMS(xc);
    const npy_intp* wd = PyArray_DIMS(wc);
    const npy_intp HP = xd[2] + pad.t + pad.b, WP = xd[3] + pad.l + pad.r;
    if (wd[0] != xd[1] || wd[1] != 1 || wd[2] < 1 || wd[3] < 1
        || wd[2] > HP || wd[3] > WP
        || (kernel_h && (wd[2] != kernel_h || wd[3] != kernel_w))
        || (bc && (PyArray_NDIM(bc) != 1 || PyArray_DIMS(bc)[0] != xd[1]))) {
        PyErr_Format(PyExc_ValueError,
            "depthwise_correlate: input (%%lld, %%lld, %%lld, %%lld) padded "
            "to %%lld x %%lld, kernels (%%lld, %%lld, %%lld, %%lld) and bias "
            "do not fit: kernels must be (C, 1, kh, kw) with kh, kw no larger "
            "than the padded input (and the op's kernel size if it has one), "
            "the bias (C,)",
            (long long) xd[0], (long long) xd[1], (long long) xd[2],
            (long long) xd[3], (long long) HP, (long long) WP,
            (long long) wd[0], (long long) wd[1], (long long) wd[2],
            (long long) wd[3]);
        %(cleanup)s %(fail)s
    }
    npy_intp odims[4] = {xd[0], xd[1], (HP - wd[2]) / s + 1,
                         (WP - wd[3]) / s + 1};
    %(output)s
    int ia_err;
    Py_BEGIN_ALLOW_THREADS  // plain C on arrays: let other threads run
    ia_err = inception_art_dw::forward<dtype_%(x)s>(
        (const dtype_%(x)s*) PyArray_DATA(xc),
        (const dtype_%(x)s*) PyArray_DATA(wc),
        bc ? (const dtype_%(x)s*) PyArray_DATA(bc) : NULL,
        (dtype_%(x)s*) PyArray_DATA(%(y)s),
        xd[0] * xd[1], xd[1], xd[2], xd[3], odims[2], odims[3],
        (int) wd[2], (int) wd[3], s, pad, act);
    Py_END_ALLOW_THREADS
    if (ia_err != 0) {
        PyErr_NoMemory();
        %(cleanup)s %(fail)s
    }
    %(cleanup)s
}
"""

_C_GRAD_INPUT = r"""
{
    %(c_params)s
    (void) act;  // the mask is there or not: the ReLU6 output is an input
    PyArrayObject* gc = PyArray_GETCONTIGUOUS(%(gy)s);
    PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
    PyArrayObject* yc = %(y)s;
    if (!gc || !wc || (%(has_y)d && !yc)) { %(cleanup)s %(fail)s }
    const npy_intp* gd = PyArray_DIMS(gc);
    const npy_intp* wd = PyArray_DIMS(wc);
    const npy_intp H = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 0);
    const npy_intp W = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 1);
    const npy_intp HP = H + pad.t + pad.b, WP = W + pad.l + pad.r;
    if (PyArray_DIMS(%(shape)s)[0] != 2 || wd[0] != gd[1] || wd[1] != 1
        || wd[2] < 1 || wd[3] < 1 || H < 0 || W < 0 || HP < wd[2]
        || WP < wd[3] || (HP - wd[2]) / s + 1 != gd[2]
        || (WP - wd[3]) / s + 1 != gd[3]
        || (yc && !PyArray_SAMESHAPE(yc, gc))) {
        PyErr_Format(PyExc_ValueError,
            "DepthwiseCorrelateGradInput: output gradient (%%lld, %%lld, "
            "%%lld, %%lld), kernels (%%lld, %%lld, %%lld, %%lld), input "
            "size %%lld x %%lld padded to %%lld x %%lld (and the output, if "
            "given) do not fit",
            (long long) gd[0], (long long) gd[1], (long long) gd[2],
            (long long) gd[3], (long long) wd[0], (long long) wd[1],
            (long long) wd[2], (long long) wd[3], (long long) H,
            (long long) W, (long long) HP, (long long) WP);
        %(cleanup)s %(fail)s
    }
    npy_intp odims[4] = {gd[0], gd[1], H, W};
    %(output)s
    int ia_err;
    Py_BEGIN_ALLOW_THREADS  // plain C on arrays: let other threads run
    ia_err = inception_art_dw::grad_input<dtype_%(gy)s>(
        (const dtype_%(gy)s*) PyArray_DATA(gc),
        yc ? (const dtype_%(gy)s*) PyArray_DATA(yc) : NULL,
        (const dtype_%(gy)s*) PyArray_DATA(wc),
        (dtype_%(gy)s*) PyArray_DATA(%(gx)s),
        gd[0] * gd[1], gd[1], H, W, gd[2], gd[3],
        (int) wd[2], (int) wd[3], s, pad);
    Py_END_ALLOW_THREADS
    if (ia_err != 0) {
        PyErr_NoMemory();
        %(cleanup)s %(fail)s
    }
    %(cleanup)s
}
"""

_C_GRAD_WEIGHTS = r"""
{
    %(c_params)s
    (void) act;
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* gc = PyArray_GETCONTIGUOUS(%(gy)s);
    if (!xc || !gc) { %(cleanup)s %(fail)s }
    const npy_intp* xd = PyArray_DIMS(xc);
    const npy_intp* gd = PyArray_DIMS(gc);
    const npy_intp kh = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 0);
    const npy_intp kw = *(npy_int64*) PyArray_GETPTR1(%(shape)s, 1);
    const npy_intp HP = xd[2] + pad.t + pad.b, WP = xd[3] + pad.l + pad.r;
    if (PyArray_DIMS(%(shape)s)[0] != 2 || xd[0] != gd[0]
        || xd[1] != gd[1] || kh < 1 || kw < 1 || kh > HP || kw > WP
        || (HP - kh) / s + 1 != gd[2] || (WP - kw) / s + 1 != gd[3]) {
        PyErr_Format(PyExc_ValueError,
            "DepthwiseCorrelateGradWeights: input (%%lld, %%lld, %%lld, "
            "%%lld) padded to %%lld x %%lld, output gradient (%%lld, %%lld, "
            "%%lld, %%lld) and kernel size %%lld x %%lld do not fit",
            (long long) xd[0], (long long) xd[1], (long long) xd[2],
            (long long) xd[3], (long long) HP, (long long) WP,
            (long long) gd[0], (long long) gd[1], (long long) gd[2],
            (long long) gd[3], (long long) kh, (long long) kw);
        %(cleanup)s %(fail)s
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
        (int) kh, (int) kw, s, pad);
    Py_END_ALLOW_THREADS
    if (ia_err != 0) {
        PyErr_NoMemory();
        %(cleanup)s %(fail)s
    }
    %(cleanup)s
}
"""

_C_PW_FORWARD = r"""
{
    const int act = (int) %(params)s->relu6;
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
    PyArrayObject* bc = %(b)s;
    if (!xc || !wc || (%(has_b)d && !bc)) { %(cleanup)s %(fail)s }
    const npy_intp* xd = PyArray_DIMS(xc);
    const npy_intp* wd = PyArray_DIMS(wc);
    const npy_intp HW = xd[2] * xd[3];
    if (wd[1] != xd[1] || wd[2] != 1 || wd[3] != 1
        || (bc && (PyArray_NDIM(bc) != 1 || PyArray_DIMS(bc)[0] != wd[0]))
        || HW > INT_MAX || wd[0] > INT_MAX || wd[1] > INT_MAX) {
        PyErr_Format(PyExc_ValueError,
            "pointwise_conv: input (%%lld, %%lld, %%lld, %%lld), kernels "
            "(%%lld, %%lld, %%lld, %%lld) and bias do not fit: kernels must "
            "be (out, in, 1, 1), the bias (out,)",
            (long long) xd[0], (long long) xd[1], (long long) xd[2],
            (long long) xd[3], (long long) wd[0], (long long) wd[1],
            (long long) wd[2], (long long) wd[3]);
        %(cleanup)s %(fail)s
    }
    npy_intp odims[4] = {xd[0], wd[0], xd[2], xd[3]};
    %(output)s
    Py_BEGIN_ALLOW_THREADS
    inception_art_pw::forward<dtype_%(x)s>(
        (const dtype_%(x)s*) PyArray_DATA(xc),
        (const dtype_%(x)s*) PyArray_DATA(wc),
        bc ? (const dtype_%(x)s*) PyArray_DATA(bc) : NULL,
        (dtype_%(x)s*) PyArray_DATA(%(y)s),
        xd[0], xd[1], wd[0], HW, act);
    Py_END_ALLOW_THREADS
    %(cleanup)s
}
"""

_C_PW_GRAD_INPUT = r"""
{
    PyArrayObject* gc = PyArray_GETCONTIGUOUS(%(gy)s);
    PyArrayObject* wc = PyArray_GETCONTIGUOUS(%(w)s);
    PyArrayObject* yc = %(y)s;
    if (!gc || !wc || (%(has_y)d && !yc)) { %(cleanup)s %(fail)s }
    const npy_intp* gd = PyArray_DIMS(gc);
    const npy_intp* wd = PyArray_DIMS(wc);
    const npy_intp HW = gd[2] * gd[3];
    if (wd[0] != gd[1] || wd[2] != 1 || wd[3] != 1
        || (yc && !PyArray_SAMESHAPE(yc, gc))
        || HW > INT_MAX || wd[0] > INT_MAX || wd[1] > INT_MAX) {
        PyErr_Format(PyExc_ValueError,
            "PointwiseConvGradInput: output gradient (%%lld, %%lld, %%lld, "
            "%%lld) and kernels (%%lld, %%lld, %%lld, %%lld) (and the "
            "output, if given) do not fit",
            (long long) gd[0], (long long) gd[1], (long long) gd[2],
            (long long) gd[3], (long long) wd[0], (long long) wd[1],
            (long long) wd[2], (long long) wd[3]);
        %(cleanup)s %(fail)s
    }
    npy_intp odims[4] = {gd[0], wd[1], gd[2], gd[3]};
    %(output)s
    int ia_err;
    Py_BEGIN_ALLOW_THREADS
    ia_err = inception_art_pw::grad_input<dtype_%(gy)s>(
        (const dtype_%(gy)s*) PyArray_DATA(gc),
        yc ? (const dtype_%(gy)s*) PyArray_DATA(yc) : NULL,
        (const dtype_%(gy)s*) PyArray_DATA(wc),
        (dtype_%(gy)s*) PyArray_DATA(%(gx)s),
        gd[0], wd[1], wd[0], HW);
    Py_END_ALLOW_THREADS
    if (ia_err != 0) {
        PyErr_NoMemory();
        %(cleanup)s %(fail)s
    }
    %(cleanup)s
}
"""

# Theano keys its on-disk cache on c_code_cache_version alone, not on the
# source: derive the version from the C text so an edit can never pick up a
# stale compiled module.
_C_VERSION = (2, zlib.crc32((
    _SUPPORT_CODE + _SUPPORT_CODE_PW + _C_OUTPUT + _C_PARAMS + _C_FORWARD
    + _C_GRAD_INPUT + _C_GRAD_WEIGHTS + _C_PW_FORWARD + _C_PW_GRAD_INPUT
    ).encode()))

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


def _check_pad(pad):
    """``pad``: an int (all sides) or (top, bottom, left, right)."""
    if isinstance(pad, (tuple, list)):
        if len(pad) != 4:
            raise ValueError('pad must be an int or (top, bottom, left, '
                             'right), got %r' % (pad,))
        pad = tuple(int(p) for p in pad)
    else:
        pad = (int(pad),) * 4
    if min(pad) < 0:
        raise ValueError('padding must be >= 0, got %r' % (pad,))
    return pad


def _check_kernel(kernel):
    kernel = tuple(int(k) for k in kernel)
    if len(kernel) != 2 or min(kernel) < 1:
        raise ValueError('kernel must be (kh, kw), got %r' % (kernel,))
    return kernel


def _check_act(act):
    act = 'linear' if act is None else act
    if act not in ACTIVATIONS:
        raise ValueError('activation must be one of %s, got %r'
                         % (', '.join(ACTIVATIONS), act))
    return act


def _as_float(var, name, ndim):
    var = T.as_tensor_variable(var)
    if var.ndim != ndim:
        raise TypeError('%s must be %d-d, got %d-d' % (name, ndim, var.ndim))
    if var.dtype not in _FLOAT_DTYPES:
        raise TypeError('%s must be float32 or float64, got %s'
                        % (name, var.dtype))
    return var


def _as_4d_float(var, name):
    return _as_float(var, name, 4)


def _same_dtype(ref, var, names):
    if var.dtype != ref.dtype:
        raise TypeError('%s must have the same dtype, got %s and %s'
                        % (names, ref.dtype, var.dtype))


def _as_shape(var):
    var = T.as_tensor_variable(var)
    if var.ndim != 1:
        raise TypeError('a shape must be a vector, got %d-d' % var.ndim)
    if var.dtype != 'int64':
        var = T.cast(var, 'int64')
    return var


def _out_size(size, kernel, stride):
    return (size - kernel) // stride + 1


def relu6_mask(y):
    """Where ReLU6 passes its gradient, read off its output ``y``:
    ``0 < y < 6`` (PyTorch's ``hardtanh_backward`` likewise)."""
    return T.and_(T.gt(y, 0), T.lt(y, 6))


def _np_act(z, act):
    # as Theano's clip: a NaN stays a NaN
    return np.where(z < 0, 0, np.where(z > 6, 6, z)).astype(z.dtype) \
        if act == 'relu6' else z


def _np_mask(y):
    return (y > 0) & (y < 6)


def _np_pad(x, pad):
    t, b, l, r = pad
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))


def _optional(names, key, flag):
    """Put an optional input's C expression and its presence flag into
    ``names``."""
    present = key in names
    names[key] = _C_OPTIONAL % names[key] if present else 'NULL'
    names[flag] = int(present)


class _CodeOp(theano.gof.Op):
    """What the C ops here share: C code assembly and versioning."""

    _c_template = None
    _c_locals = ()

    def c_support_code(self):
        return _SUPPORT_CODE

    def c_code_cache_version(self):
        return _C_VERSION

    def _c(self, sub, names, out, ref):
        names = dict(names, fail=sub['fail'], params=sub['params'])
        cleanup = ' '.join('Py_XDECREF(%s);' % v for v in self._c_locals)
        names['cleanup'] = cleanup
        names['c_params'] = _C_PARAMS % names
        names['output'] = _C_OUTPUT % dict(out=names[out], ref=names[ref],
                                           fail=sub['fail'], cleanup=cleanup)
        return self._c_template % names


class _ForwardOp:
    """What the two forward ops share: inputs ``x``, ``w`` and an optional
    bias ``b``, output ``y = act(conv(x, w) + b)``. A subclass's ``_grads``
    gives the input and weight gradients; ``y`` is passed when the
    activation is ReLU6, whose gradient the backward ops apply themselves."""

    def _grads(self, x, w, y, gy, gz):
        raise NotImplementedError

    def L_op(self, inputs, outputs, output_grads):
        x, w = inputs[:2]
        y, = outputs
        gy, = output_grads
        relu6 = self.act == 'relu6'
        gz = gy * relu6_mask(y) if relu6 else gy  # the pre-activation's
        gx, gw = self._grads(x, w, y if relu6 else None, gy, gz)
        grads = [T.patternbroadcast(gx, x.broadcastable),
                 T.patternbroadcast(gw, w.broadcastable)]
        if len(inputs) > 2:
            grads.append(gz.sum(axis=(0, 2, 3)))
        return grads

    def c_code(self, node, name, inp, out, sub):
        names = dict(x=inp[0], w=inp[1], y=out[0])
        if len(inp) > 2:
            names['b'] = inp[2]
        _optional(names, 'b', 'has_b')
        return self._c(sub, names, 'y', 'x')


class _DepthwiseOp(_CodeOp):
    """The depthwise ops' parameters: stride, padding, activation and (a
    shape hint, used by the forward op) the kernel size.

    They reach the C code through ``params`` (a struct filled at run time),
    so one compiled module serves every layer.
    """

    __props__ = ('stride', 'pad', 'act', 'kernel')
    params_type = ParamsType(stride=int64, pad_top=int64, pad_bottom=int64,
                             pad_left=int64, pad_right=int64, relu6=int64,
                             kernel_h=int64, kernel_w=int64)

    def __init__(self, stride=1, pad=0, act='linear', kernel=None):
        self.stride = _check_stride(stride)
        self.pad = _check_pad(pad)
        self.act = _check_act(act)
        self.kernel = None if kernel is None else _check_kernel(kernel)

    pad_top = property(lambda self: self.pad[0])
    pad_bottom = property(lambda self: self.pad[1])
    pad_left = property(lambda self: self.pad[2])
    pad_right = property(lambda self: self.pad[3])
    relu6 = property(lambda self: int(self.act == 'relu6'))
    kernel_h = property(lambda self: (self.kernel or (0, 0))[0])
    kernel_w = property(lambda self: (self.kernel or (0, 0))[1])

    def _padded(self, h, w):
        t, b, l, r = self.pad
        return h + t + b, w + l + r


class DepthwiseCorrelate(_ForwardOp, _DepthwiseOp):
    """Depthwise cross-correlation, one kernel per channel, with zero
    padding, bias and activation.

    Parameters
    ----------
    stride : int
        The same stride in both axes (1 and 2 are the tuned cases; any
        positive stride works).
    pad : int or (top, bottom, left, right)
        Zero padding of the input.
    act : {'linear', 'relu6'}
        The activation applied to ``correlation + bias``.
    kernel : (kh, kw), optional
        The kernel size, when known while building the graph (checked at
        run time). Like the ``kshp`` of Theano's own convolutions: with it,
        output shapes are constants to Theano (when the input's are), so
        the compiled step holds no shape arithmetic.

    Notes
    -----
    Inputs ``x`` (N, C, H, W), ``w`` (C, 1, kh, kw) and optionally ``b``
    (C,), all float32 (or all float64); output ``y`` (N, C, (H + top +
    bottom - kh) // s + 1, (W + left + right - kw) // s + 1) with
    ``y[n, c, i, j] = act(b[c] + sum_{u, v} w[c, 0, u, v] * xp[n, c, i*s +
    u, j*s + v])``, ``xp`` the padded input. With no padding, bias or
    activation this equals ``T.nnet.conv2d(x, w, num_groups=C,
    filter_flip=False, subsample=(s, s))``. Gradients: to ``x`` by
    :class:`DepthwiseCorrelateGradInput` (which reads ``y`` for the ReLU6
    mask), to ``w`` by :class:`DepthwiseCorrelateGradWeights`, to ``b`` a
    sum.
    """

    _c_template = _C_FORWARD
    _c_locals = ('xc', 'wc', 'bc')

    def make_node(self, x, w, b=None):
        x = _as_4d_float(x, 'x')
        w = _as_4d_float(w, 'w')
        _same_dtype(x, w, 'x and w')
        inputs = [x, w]
        if b is not None:
            b = _as_float(b, 'b', 1)
            _same_dtype(x, b, 'x and b')
            inputs.append(b)
        out = T.TensorType(x.dtype, x.broadcastable[:2] + (False, False))
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        x, w = inputs[:2]
        s = self.stride
        n, c = x.shape[:2]
        h, wd = self._padded(*x.shape[2:])
        kh, kw = w.shape[2:]
        if w.shape[:2] != (c, 1) or kh > h or kw > wd or (
                len(inputs) > 2 and inputs[2].shape != (c,)) or (
                self.kernel not in (None, (kh, kw))):
            raise ValueError('depthwise_correlate: input %s, kernels %s and '
                             'bias do not fit' % (x.shape, w.shape))
        xp = _np_pad(x, self.pad)
        oh, ow = _out_size(h, kh, s), _out_size(wd, kw, s)
        y = np.zeros((n, c, oh, ow), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                y += (w[None, :, 0, u, v, None, None]
                      * xp[:, :, u:u + s * (oh - 1) + 1:s,
                           v:v + s * (ow - 1) + 1:s])
        if len(inputs) > 2:
            y += inputs[2][None, :, None, None]
        outputs[0][0] = _np_act(y, self.act)

    def infer_shape(self, node, shapes):
        (n, c, h, w), (_, _, kh, kw) = shapes[:2]
        if self.kernel is not None:
            kh, kw = self.kernel
        s = self.stride
        h, w = self._padded(h, w)
        return [(n, c, _out_size(h, kh, s), _out_size(w, kw, s))]

    def _grads(self, x, w, y, gy, gz):
        gx = DepthwiseCorrelateGradInput(self.stride, self.pad, self.act)(
            gy, w, x.shape[2:], *([] if y is None else [y]))
        gw = DepthwiseCorrelateGradWeights(self.stride, self.pad)(
            x, gz, self.kernel or w.shape[2:])
        return gx, gw


class DepthwiseCorrelateGradInput(_DepthwiseOp):
    """The gradient of :class:`DepthwiseCorrelate` with respect to its input.

    Parameters
    ----------
    stride, pad, act
        The forward op's.

    Notes
    -----
    Inputs: the output gradient ``gy`` (N, C, OH, OW), the kernels ``w``
    (C, 1, kh, kw), the input's spatial size ``(H, W)`` (an int64 vector:
    with a stride, H is not fixed by OH) and, with ``act='relu6'``, the
    forward output ``y`` (N, C, OH, OW): ``gy`` counts only where
    ``0 < y < 6``. Output ``gx`` (N, C, H, W), the transposed correlation:
    each (masked) ``gy`` value spread over the ``kh x kw`` window it came
    from, cropped to the unpadded input. The C code gathers instead of
    scattering (per output phase modulo the stride, a stride-1 correlation
    with a flipped sub-kernel), so every ``gx`` element is written once and
    the inner loops vectorise like the forward pass.
    """

    _c_template = _C_GRAD_INPUT
    _c_locals = ('gc', 'wc', 'yc')

    def make_node(self, gy, w, shape, y=None):
        gy = _as_4d_float(gy, 'gy')
        w = _as_4d_float(w, 'w')
        shape = _as_shape(shape)
        _same_dtype(gy, w, 'gy and w')
        inputs = [gy, w, shape]
        if (y is not None) != (self.act == 'relu6'):
            raise TypeError('DepthwiseCorrelateGradInput: the forward output '
                            'y is needed with act="relu6" and only then')
        if y is not None:
            y = _as_4d_float(y, 'y')
            _same_dtype(gy, y, 'gy and y')
            inputs.append(y)
        out = T.TensorType(gy.dtype, gy.broadcastable[:2] + (False, False))
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        gy, w, shape = inputs[:3]
        s = self.stride
        t, _, l, _ = self.pad
        h0, w0 = int(shape[0]), int(shape[1])
        h, wd = self._padded(h0, w0)
        n, c, oh, ow = gy.shape
        kh, kw = w.shape[2:]
        if (w.shape[:2] != (c, 1) or kh > h or kw > wd
                or (_out_size(h, kh, s), _out_size(wd, kw, s)) != (oh, ow)
                or (len(inputs) > 3 and inputs[3].shape != gy.shape)):
            raise ValueError('DepthwiseCorrelateGradInput: gy %s, w %s and '
                             'input size %s do not fit'
                             % (gy.shape, w.shape, (h0, w0)))
        if len(inputs) > 3:
            gy = gy * _np_mask(inputs[3])
        gx = np.zeros((n, c, h, wd), dtype=gy.dtype)
        for u in range(kh):
            for v in range(kw):
                gx[:, :, u:u + s * (oh - 1) + 1:s,
                   v:v + s * (ow - 1) + 1:s] += (w[None, :, 0, u, v, None, None]
                                                  * gy)
        outputs[0][0] = np.ascontiguousarray(gx[:, :, t:t + h0, l:l + w0])

    def infer_shape(self, node, shapes):
        n, c = shapes[0][:2]
        shape = node.inputs[2]
        return [(n, c, shape[0], shape[1])]

    def connection_pattern(self, node):
        # the ReLU6 mask is piecewise constant in y: no gradient flows to y
        return [[True], [True], [False]] + [[False]] * (len(node.inputs) - 3)

    def grad(self, inputs, output_grads):
        # gx = F^T(gy * m), F the linear padded correlation with w, m the
        # mask: L = <G, gx> = <m * F(G), gy> = <gradweights(G, gy * m), w>.
        gy, w = inputs[:2]
        g, = output_grads
        ggy = DepthwiseCorrelate(self.stride, self.pad)(g, w)
        gz = gy
        if len(inputs) > 3:
            mask = relu6_mask(inputs[3])
            ggy, gz = ggy * mask, gy * mask
        gw = DepthwiseCorrelateGradWeights(self.stride, self.pad)(
            g, gz, w.shape[2:])
        disconnected = [theano.gradient.DisconnectedType()()
                        for _ in inputs[2:]]
        return [T.patternbroadcast(ggy, gy.broadcastable),
                T.patternbroadcast(gw, w.broadcastable)] + disconnected

    def c_code(self, node, name, inp, out, sub):
        names = dict(gy=inp[0], w=inp[1], shape=inp[2], gx=out[0])
        if len(inp) > 3:
            names['y'] = inp[3]
        _optional(names, 'y', 'has_y')
        return self._c(sub, names, 'gx', 'gy')


class DepthwiseCorrelateGradWeights(_DepthwiseOp):
    """The gradient of :class:`DepthwiseCorrelate` with respect to its kernels.

    Parameters
    ----------
    stride, pad
        The forward op's. (The activation's mask is applied by the caller:
        ``gy`` here is the gradient of the pre-activation.)

    Notes
    -----
    Inputs: the forward input ``x`` (N, C, H, W), the output gradient ``gy``
    (N, C, OH, OW) and the kernel size ``(kh, kw)`` (an int64 vector).
    Output ``gw`` (C, 1, kh, kw), ``gw[c, 0, u, v] = sum_{n, i, j}
    gy[n, c, i, j] * xp[n, c, i*s + u, j*s + v]``, ``xp`` the padded input.
    The C code keeps a row of partial sums per tap (vectorisable
    multiply-adds) and adds each row up once, in double precision.
    """

    _c_template = _C_GRAD_WEIGHTS
    _c_locals = ('xc', 'gc')

    def __init__(self, stride=1, pad=0):
        super().__init__(stride, pad)

    def make_node(self, x, gy, shape):
        x = _as_4d_float(x, 'x')
        gy = _as_4d_float(gy, 'gy')
        shape = _as_shape(shape)
        _same_dtype(x, gy, 'x and gy')
        out = T.TensorType(x.dtype, (x.broadcastable[1], True, False, False))
        return theano.Apply(self, [x, gy, shape], [out()])

    def perform(self, node, inputs, outputs, params=None):
        x, gy, shape = inputs
        s = self.stride
        kh, kw = int(shape[0]), int(shape[1])
        n, c = x.shape[:2]
        h, wd = self._padded(*x.shape[2:])
        oh, ow = gy.shape[2:]
        if (gy.shape[:2] != (n, c) or not 1 <= kh <= h or not 1 <= kw <= wd
                or (_out_size(h, kh, s), _out_size(wd, kw, s)) != (oh, ow)):
            raise ValueError('DepthwiseCorrelateGradWeights: x %s, gy %s and '
                             'kernel size %s do not fit'
                             % (x.shape, gy.shape, (kh, kw)))
        xp = _np_pad(x, self.pad)
        gw = np.empty((c, 1, kh, kw), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                window = xp[:, :, u:u + s * (oh - 1) + 1:s,
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
        gx = DepthwiseCorrelateGradInput(self.stride, self.pad)(
            gy, g, x.shape[2:])
        ggy = DepthwiseCorrelate(self.stride, self.pad)(x, g)
        return [T.patternbroadcast(gx, x.broadcastable),
                T.patternbroadcast(ggy, gy.broadcastable),
                theano.gradient.DisconnectedType()()]

    def c_code(self, node, name, inp, out, sub):
        return self._c(sub, dict(x=inp[0], gy=inp[1], shape=inp[2],
                                 gw=out[0]), 'gw', 'x')


class _PointwiseOp(UsesBlas, _CodeOp):
    """The pointwise ops: GEMM through Theano's BLAS (``blas.ldflags``),
    the activation as a run-time parameter."""

    __props__ = ('act',)
    params_type = ParamsType(relu6=int64)

    def __init__(self, act='linear'):
        self.act = _check_act(act)

    relu6 = property(lambda self: int(self.act == 'relu6'))

    def c_support_code(self):
        return blas_support_code() + _SUPPORT_CODE + _SUPPORT_CODE_PW

    def c_code_cache_version(self):
        return _C_VERSION + blas_version()


class PointwiseConv(_ForwardOp, _PointwiseOp):
    """A 1x1 convolution with bias and activation: ``y = act(w x + b)``.

    Parameters
    ----------
    act : {'linear', 'relu6'}

    Notes
    -----
    Inputs ``x`` (N, Ci, H, W), ``w`` (Co, Ci, 1, 1) and optionally ``b``
    (Co,), all float32 (or all float64); output ``y`` (N, Co, H, W), equal
    to ``act(T.nnet.conv2d(x, w) + b)``: one GEMM per image, then the bias
    and activation in one vectorised pass.
    Gradients: to ``x`` by :class:`PointwiseConvGradInput`, to ``w`` and
    ``b`` as Theano expressions.
    """

    _c_template = _C_PW_FORWARD
    _c_locals = ('xc', 'wc', 'bc')

    def make_node(self, x, w, b=None):
        x = _as_4d_float(x, 'x')
        w = _as_4d_float(w, 'w')
        _same_dtype(x, w, 'x and w')
        inputs = [x, w]
        if b is not None:
            b = _as_float(b, 'b', 1)
            _same_dtype(x, b, 'x and b')
            inputs.append(b)
        out = T.TensorType(x.dtype, (x.broadcastable[0], False)
                           + x.broadcastable[2:])
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        x, w = inputs[:2]
        if w.shape[1:] != (x.shape[1], 1, 1) or (
                len(inputs) > 2 and inputs[2].shape != w.shape[:1]):
            raise ValueError('pointwise_conv: input %s, kernels %s and bias '
                             'do not fit' % (x.shape, w.shape))
        y = np.einsum('oi,nihw->nohw', w[:, :, 0, 0], x)
        if len(inputs) > 2:
            y += inputs[2][None, :, None, None]
        outputs[0][0] = _np_act(y.astype(x.dtype), self.act)

    def infer_shape(self, node, shapes):
        (n, _, h, w), (co, _, _, _) = shapes[:2]
        return [(n, co, h, w)]

    def _grads(self, x, w, y, gy, gz):
        gx = PointwiseConvGradInput(self.act)(gy, w, *([] if y is None else [y]))
        gw = T.tensordot(gz, x, axes=[[0, 2, 3], [0, 2, 3]])
        return gx, gw.dimshuffle(0, 1, 'x', 'x')


class PointwiseConvGradInput(_PointwiseOp):
    """The gradient of :class:`PointwiseConv` with respect to its input.

    Parameters
    ----------
    act
        The forward op's.

    Notes
    -----
    Inputs: the output gradient ``gy`` (N, Co, H, W), the kernels ``w``
    (Co, Ci, 1, 1) and, with ``act='relu6'``, the forward output ``y``
    (the mask ``0 < y < 6`` is applied to ``gy`` in one vectorised pass on
    its way into the GEMM). Output ``gx`` (N, Ci, H, W) = ``w^T (gy *
    mask)``.
    """

    _c_template = _C_PW_GRAD_INPUT
    _c_locals = ('gc', 'wc', 'yc')

    def make_node(self, gy, w, y=None):
        gy = _as_4d_float(gy, 'gy')
        w = _as_4d_float(w, 'w')
        _same_dtype(gy, w, 'gy and w')
        inputs = [gy, w]
        if (y is not None) != (self.act == 'relu6'):
            raise TypeError('PointwiseConvGradInput: the forward output y is '
                            'needed with act="relu6" and only then')
        if y is not None:
            y = _as_4d_float(y, 'y')
            _same_dtype(gy, y, 'gy and y')
            inputs.append(y)
        out = T.TensorType(gy.dtype, (gy.broadcastable[0], False)
                           + gy.broadcastable[2:])
        return theano.Apply(self, inputs, [out()])

    def perform(self, node, inputs, outputs, params=None):
        gy, w = inputs[:2]
        if w.shape[0] != gy.shape[1] or w.shape[2:] != (1, 1) or (
                len(inputs) > 2 and inputs[2].shape != gy.shape):
            raise ValueError('PointwiseConvGradInput: gy %s and kernels %s do '
                             'not fit' % (gy.shape, w.shape))
        if len(inputs) > 2:
            gy = gy * _np_mask(inputs[2])
        gx = np.einsum('oi,nohw->nihw', w[:, :, 0, 0], gy)
        outputs[0][0] = gx.astype(gy.dtype)

    def infer_shape(self, node, shapes):
        (n, _, h, w), (_, ci, _, _) = shapes[:2]
        return [(n, ci, h, w)]

    def connection_pattern(self, node):
        return [[True], [True]] + [[False]] * (len(node.inputs) - 2)

    def grad(self, inputs, output_grads):
        # gx = w^T (gy * m): L = <G, gx> = <m * (w G), gy>, and
        # dL/dw[o, i] = sum (gy * m)[n, o, p] G[n, i, p].
        gy, w = inputs[:2]
        g, = output_grads
        ggy = PointwiseConv()(g, w)
        gz = gy
        if len(inputs) > 2:
            mask = relu6_mask(inputs[2])
            ggy, gz = ggy * mask, gy * mask
        gw = T.tensordot(gz, g, axes=[[0, 2, 3], [0, 2, 3]])
        disconnected = [theano.gradient.DisconnectedType()()
                        for _ in inputs[2:]]
        return [T.patternbroadcast(ggy, gy.broadcastable),
                T.patternbroadcast(gw.dimshuffle(0, 1, 'x', 'x'),
                                   w.broadcastable)] + disconnected

    def c_code(self, node, name, inp, out, sub):
        names = dict(gy=inp[0], w=inp[1], gx=out[0])
        if len(inp) > 2:
            names['y'] = inp[2]
        _optional(names, 'y', 'has_y')
        return self._c(sub, names, 'gx', 'gy')


def _as_weights(w, like):
    if isinstance(w, np.ndarray):
        w = w.astype(like.dtype, copy=False)
    return w


def depthwise_correlate(x, w, stride=1, pad=0, b=None, act='linear',
                        kernel=None):
    """Depthwise cross-correlation of ``x`` with ``w``, then ``act(. + b)``.

    Parameters
    ----------
    x : Theano 4-d tensor, (N, C, H, W), float32 (or float64)
    w : Theano 4-d tensor or array, (C, 1, kh, kw)
        One kernel per channel in torch's depthwise layout, used as a
        cross-correlation (not flipped). A numpy array is cast to ``x``'s
        dtype (likewise ``b``).
    stride : int or (s, s)
        The same stride in both axes.
    pad : int or (top, bottom, left, right)
        Zero padding of ``x``, done inside the op.
    b : Theano vector or array, (C,), optional
        A bias per channel.
    act : {'linear', 'relu6'}
        Activation of the output.
    kernel : (kh, kw), optional
        The kernel size, if known while building (a shape hint, checked at
        run time); taken from ``w`` when it is a numpy array.

    Returns
    -------
    Theano 4-d tensor, (N, C, (H + top + bottom - kh) // stride + 1,
    (W + left + right - kw) // stride + 1)
        With no padding, bias or activation, equal to ``T.nnet.conv2d(x, w,
        num_groups=C, filter_flip=False, subsample=(stride, stride))``,
        computed by the C op :class:`DepthwiseCorrelate`; differentiable in
        ``x``, ``w`` and ``b``.
    """
    x = T.as_tensor_variable(x)
    if kernel is None and isinstance(w, np.ndarray):
        kernel = w.shape[2:]
    inputs = [x, _as_weights(w, x)]
    if b is not None:
        inputs.append(_as_weights(b, x))
    return DepthwiseCorrelate(stride, pad, act, kernel)(*inputs)


def pointwise_conv(x, w, b=None, act='linear'):
    """The 1x1 convolution ``act(w x + b)`` by the C op :class:`PointwiseConv`.

    ``x`` (N, Ci, H, W); ``w`` (Co, Ci, 1, 1); ``b`` (Co,) or None; numpy
    arrays are cast to ``x``'s dtype. Equal to ``act(T.nnet.conv2d(x, w) +
    b)``; differentiable in ``x``, ``w`` and ``b``.
    """
    x = T.as_tensor_variable(x)
    inputs = [x, _as_weights(w, x)]
    if b is not None:
        inputs.append(_as_weights(b, x))
    return PointwiseConv(act)(*inputs)
