// The bilinear resample's two C ops: the bodies of the c_code of
// BilinearSample and BilinearSampleGrad in inception_art/resample.py, which
// reads this file.
//
// Not compiled as is: each section is a Python %-template, filled per apply
// node. Placeholders: %(image)s the (1, C, H, W) image, %(x)s and %(y)s the
// (P,) sample positions in input pixels, %(g)s the (C, P) output gradient,
// %(out)s the output, %(fill)s what a neighbour past the edge contributes,
// %(fail)s Theano's error exit, %(T)s the element type (npy_float32 or
// npy_float64) and %(floor)s its floor; %% is a literal %.
//
// A section is the text between a line "// ==== section: NAME ====" and a
// line "// ==== end: NAME ====", verbatim: resample.py hashes them into the
// compile-cache version, so comments belong outside the sections.
//
// Why C: as a Theano graph the resample is four gathers of the flattened
// image and, backwards, four AdvancedIncSubtensor1 scatters, each with its
// own index and weight arrays the size of the view. Here each is one pass
// over the positions, the four neighbours' weights computed once.
//
// The neighbours of position (x, y) are (x0 + dx, y0 + dy), dx, dy in {0, 1},
// x0 = floor(x), with the weights (1 - fx or fx) * (1 - fy or fy). A
// neighbour outside the image gives its weight to the fill. A position far
// outside (or not a number) sees the fill alone.

// The weights and flat indices of one position's four neighbours, and the
// weight left to the fill; shared by both sections.
// ==== section: support ====
#define RESAMPLE_NEIGHBOURS(T, FLOOR, xv, yv, H, W, wt, idx, rest) do {          \
    const T x_ = (xv), y_ = (yv);                                               \
    (rest) = 1;                                                                 \
    for (int k_ = 0; k_ < 4; ++k_) { (wt)[k_] = 0; (idx)[k_] = 0; }             \
    if (x_ > -2 && x_ < (W) + 1 && y_ > -2 && y_ < (H) + 1) {                   \
        const T xf_ = FLOOR(x_), yf_ = FLOOR(y_);                               \
        const T fx_ = x_ - xf_, fy_ = y_ - yf_;                                 \
        const npy_intp x0_ = (npy_intp) xf_, y0_ = (npy_intp) yf_;              \
        const T w_[4] = {(1 - fy_) * (1 - fx_), (1 - fy_) * fx_,                \
                         fy_ * (1 - fx_), fy_ * fx_};                           \
        for (int k_ = 0; k_ < 4; ++k_) {                                        \
            const npy_intp yy_ = y0_ + (k_ >> 1), xx_ = x0_ + (k_ & 1);         \
            if (xx_ >= 0 && xx_ < (W) && yy_ >= 0 && yy_ < (H)) {               \
                (wt)[k_] = w_[k_];                                              \
                (idx)[k_] = yy_ * (W) + xx_;                                    \
                (rest) -= w_[k_];                                               \
            }                                                                   \
        }                                                                       \
    }                                                                           \
} while (0)
// ==== end: support ====

// forward: out[c, p] = sum_k wt[k] image[0, c, idx[k]] + rest * fill.
// ==== section: forward ====
{
    PyArrayObject* ic = PyArray_GETCONTIGUOUS(%(image)s);
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* yc = PyArray_GETCONTIGUOUS(%(y)s);
    const npy_intp C = PyArray_DIMS(ic)[1], H = PyArray_DIMS(ic)[2], W = PyArray_DIMS(ic)[3];
    const npy_intp P = PyArray_DIMS(xc)[0];
    npy_intp odims[2] = {C, P};
    if (PyArray_DIMS(ic)[0] != 1 || PyArray_DIMS(yc)[0] != P) {
        PyErr_SetString(PyExc_ValueError,
                        "bilinear sample: needs one image and as many y as x positions");
        Py_DECREF(ic); Py_DECREF(xc); Py_DECREF(yc); %(fail)s
    }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 2 || !PyArray_IS_C_CONTIGUOUS(%(out)s)
            || PyArray_TYPE(%(out)s) != PyArray_TYPE(ic)
            || !PyArray_CompareLists(PyArray_DIMS(%(out)s), odims, 2)) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*) PyArray_EMPTY(2, odims, PyArray_TYPE(ic), 0);
        if (!%(out)s) { Py_DECREF(ic); Py_DECREF(xc); Py_DECREF(yc); %(fail)s }
    }
    {
        const %(T)s* im = (const %(T)s*) PyArray_DATA(ic);
        const %(T)s* xs = (const %(T)s*) PyArray_DATA(xc);
        const %(T)s* ys = (const %(T)s*) PyArray_DATA(yc);
        %(T)s* out = (%(T)s*) PyArray_DATA(%(out)s);
        const %(T)s fill = (%(T)s) %(fill)s;
        const npy_intp HW = H * W;
        Py_BEGIN_ALLOW_THREADS
        for (npy_intp p = 0; p < P; ++p) {
            %(T)s wt[4], rest;
            npy_intp idx[4];
            RESAMPLE_NEIGHBOURS(%(T)s, %(floor)s, xs[p], ys[p], H, W, wt, idx, rest);
            for (npy_intp c = 0; c < C; ++c) {
                const %(T)s* plane = im + c * HW;
                out[c * P + p] = rest * fill + wt[0] * plane[idx[0]] + wt[1] * plane[idx[1]]
                                 + wt[2] * plane[idx[2]] + wt[3] * plane[idx[3]];
            }
        }
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(ic); Py_DECREF(xc); Py_DECREF(yc);
}
// ==== end: forward ====

// grad: the forward's transpose, gimage[0, c, idx[k]] += wt[k] g[c, p],
// into an output of the image's shape (zeroed first).
// ==== section: grad ====
{
    PyArrayObject* ic = PyArray_GETCONTIGUOUS(%(image)s);
    PyArrayObject* xc = PyArray_GETCONTIGUOUS(%(x)s);
    PyArrayObject* yc = PyArray_GETCONTIGUOUS(%(y)s);
    PyArrayObject* gc = PyArray_GETCONTIGUOUS(%(g)s);
    const npy_intp C = PyArray_DIMS(ic)[1], H = PyArray_DIMS(ic)[2], W = PyArray_DIMS(ic)[3];
    const npy_intp P = PyArray_DIMS(xc)[0];
    if (PyArray_DIMS(ic)[0] != 1 || PyArray_DIMS(yc)[0] != P
            || PyArray_DIMS(gc)[0] != C || PyArray_DIMS(gc)[1] != P) {
        PyErr_SetString(PyExc_ValueError,
                        "bilinear sample gradient: image, positions and gradient do not fit");
        Py_DECREF(ic); Py_DECREF(xc); Py_DECREF(yc); Py_DECREF(gc); %(fail)s
    }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 4 || !PyArray_IS_C_CONTIGUOUS(%(out)s)
            || PyArray_TYPE(%(out)s) != PyArray_TYPE(ic)
            || !PyArray_CompareLists(PyArray_DIMS(%(out)s), PyArray_DIMS(ic), 4)) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*) PyArray_EMPTY(4, PyArray_DIMS(ic), PyArray_TYPE(ic), 0);
        if (!%(out)s) { Py_DECREF(ic); Py_DECREF(xc); Py_DECREF(yc); Py_DECREF(gc); %(fail)s }
    }
    {
        const %(T)s* xs = (const %(T)s*) PyArray_DATA(xc);
        const %(T)s* ys = (const %(T)s*) PyArray_DATA(yc);
        const %(T)s* g = (const %(T)s*) PyArray_DATA(gc);
        %(T)s* out = (%(T)s*) PyArray_DATA(%(out)s);
        const npy_intp HW = H * W;
        Py_BEGIN_ALLOW_THREADS
        memset(out, 0, sizeof(%(T)s) * C * HW);
        for (npy_intp p = 0; p < P; ++p) {
            %(T)s wt[4], rest;
            npy_intp idx[4];
            RESAMPLE_NEIGHBOURS(%(T)s, %(floor)s, xs[p], ys[p], H, W, wt, idx, rest);
            (void) rest;
            for (npy_intp c = 0; c < C; ++c) {
                %(T)s* plane = out + c * HW;
                const %(T)s gp = g[c * P + p];
                plane[idx[0]] += wt[0] * gp;
                plane[idx[1]] += wt[1] * gp;
                plane[idx[2]] += wt[2] * gp;
                plane[idx[3]] += wt[3] * gp;
            }
        }
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(ic); Py_DECREF(xc); Py_DECREF(yc); Py_DECREF(gc);
}
// ==== end: grad ====
