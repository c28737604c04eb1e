// Depthwise convolution for inception_art.nets.depthwise, read there section
// by section (the file format: see c_op.c).
//
// support: the support code, shared by the three ops (and used by the
// pointwise ops' support code, pointwise.c). Theano deduplicates identical
// support code, so a graph that holds several of these ops compiles it once
// per module.
//
// Forward and input gradient reduce to one kernel, a stride-1 correlation
// over a whole plane treated as one long row (corr_fixed, kernel size as
// template constants so the taps unroll and the loop over outputs
// vectorises). Stride 2 becomes stride 1 by splitting planes into their
// four phases (even/odd rows x even/odd columns); the input gradient becomes
// a correlation of the zero-padded output gradient with flipped (sub-)
// kernels. Measured on 2 Zen 4 cores against a first version that looped
// over output rows with strided loads: the forward 1.1-3x faster on
// EfficientNet-Lite0's late, small planes (14x14, 7x7), the input gradient
// 1.3-3x faster. Sizes other than 3x3 / 5x5 take a generic branch: one
// vectorised multiply-add pass per tap.
// ==== section: support ====
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
// ==== end: support ====

// The rest are the ops' c_code, Python %-templates (%% is a literal %).
// Inputs are made C-contiguous first: the kernels index planes directly.

// params: the run-time parameters of the depthwise ops (see _DepthwiseOp),
// the %(c_params)s of the three templates below.
// ==== section: params ====
    const int s = (int) %(params)s->stride;
    const inception_art_dw::Pad pad = {
        (npy_intp) %(params)s->pad_top, (npy_intp) %(params)s->pad_bottom,
        (npy_intp) %(params)s->pad_left, (npy_intp) %(params)s->pad_right};
    const int act = (int) %(params)s->relu6;
    const npy_intp kernel_h = (npy_intp) %(params)s->kernel_h;
    const npy_intp kernel_w = (npy_intp) %(params)s->kernel_w;
// ==== end: params ====

// DepthwiseCorrelate.
// ==== section: forward ====
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
// ==== end: forward ====

// DepthwiseCorrelateGradInput.
// ==== section: grad_input ====
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
// ==== end: grad_input ====

// DepthwiseCorrelateGradWeights.
// ==== section: grad_weights ====
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
// ==== end: grad_weights ====
