// Pointwise (1x1) convolution for inception_art.nets.pointwise, read there
// section by section (the file format: see c_op.c).
//
// support: the support code. It comes after Theano's BLAS header (which
// declares sgemm_ and dgemm_) and after depthwise.c's support code, whose
// bias_act and mask_relu6 it uses.
// ==== section: support ====
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
// ==== end: support ====

// The rest are the ops' c_code, Python %-templates (%% is a literal %).
// Inputs are made C-contiguous first: GEMM reads the tensors themselves.

// PointwiseConv.
// ==== section: forward ====
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
// ==== end: forward ====

// PointwiseConvGradInput.
// ==== section: grad_input ====
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
// ==== end: grad_input ====
