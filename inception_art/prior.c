// The natural-image prior's two fused C ops: the bodies of the c_code of
// _Penalty and _PenaltyGrad in inception_art/prior.py, which reads this file.
//
// Not compiled as is: each section is a Python %-template, filled per
// apply node by _PenaltyOp._code. Placeholders: %(z)s the (N, C, H, W)
// whitened coefficients, %(p)s the (3, C) parameters (mu, (nu+1)/2,
// 1/(nu s^2)), %(g)s the output gradient (a scalar), %(out)s the output,
// %(fail)s Theano's error exit, %(student)d 1 for the Student-t and 0 for
// the Gaussian, %(T)s the element type (npy_float32 or npy_float64) and
// %(log)s its log (logf or log); %% is a literal %.
//
// A section is the text between a line "// ==== section: NAME ====" and a
// line "// ==== end: NAME ====", starting with the newline that ends the
// first and ending with the newline before the second, verbatim: prior.py
// hashes the two into _C_VERSION, Theano's compile-cache key, so any byte
// changed in a section recompiles the ops (which is what an edit of the C
// should do), and comments belong outside the sections.
//
// Why C: the penalty is elementwise work on a large array (192 x 441 x 245
// at 448x252). As Theano elementwise graphs it took longer than the
// convolution itself (a separate pass for the mean, float log1p computed in
// double, the mean's shape products per element). Each op is one pass over
// the coefficients, per channel plane, in a loop the compiler vectorises
// (-ffast-math, set in prior.py, lets gcc use glibc's vector logf and
// reorder the per-block float sums).

// penalty: the sum over z of the penalty of d = z - mu[c], into a 0-d
// output: Gaussian d^2, Student-t a log(1 + iv d^2) with a = (nu+1)/2 and
// iv = 1/(nu s^2). The sums are float within blocks of 4096 elements and
// double across the blocks and planes, so that float32 keeps its precision
// over millions of terms.
// ==== section: penalty ====
{
    PyArrayObject* zc = PyArray_GETCONTIGUOUS(%(z)s);
    PyArrayObject* pc = PyArray_GETCONTIGUOUS(%(p)s);
    const int student = %(student)d;
    npy_intp N = PyArray_DIMS(zc)[0], C = PyArray_DIMS(zc)[1];
    npy_intp HW = PyArray_DIMS(zc)[2] * PyArray_DIMS(zc)[3];
    double total = 0.0;
    if (PyArray_DIMS(pc)[0] != 3 || PyArray_DIMS(pc)[1] != C) {
        PyErr_SetString(PyExc_ValueError, "prior penalty: parameters do not match the channels");
        Py_DECREF(zc); Py_DECREF(pc); %(fail)s
    }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 0 || PyArray_TYPE(%(out)s) != PyArray_TYPE(zc)) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*) PyArray_EMPTY(0, NULL, PyArray_TYPE(zc), 0);
        if (!%(out)s) { Py_DECREF(zc); Py_DECREF(pc); %(fail)s }
    }
    {
        const %(T)s* z = (const %(T)s*) PyArray_DATA(zc);
        const %(T)s* p = (const %(T)s*) PyArray_DATA(pc);
        Py_BEGIN_ALLOW_THREADS
        for (npy_intp nk = 0; nk < N * C; ++nk) {
            const npy_intp k = nk %% C;
            const %(T)s m = p[k], a = p[C + k], iv = p[2 * C + k];
            const %(T)s* zz = z + nk * HW;
            double plane = 0.0;
            for (npy_intp i0 = 0; i0 < HW; i0 += 4096) {
                const npy_intp i1 = i0 + 4096 < HW ? i0 + 4096 : HW;
                %(T)s acc = 0;
                if (student) {
                    for (npy_intp i = i0; i < i1; ++i) {
                        const %(T)s d = zz[i] - m;
                        acc += %(log)s((%(T)s) 1 + iv * d * d);
                    }
                } else {
                    for (npy_intp i = i0; i < i1; ++i) {
                        const %(T)s d = zz[i] - m;
                        acc += d * d;
                    }
                }
                plane += acc;
            }
            total += student ? a * plane : plane;
        }
        Py_END_ALLOW_THREADS
    }
    *(%(T)s*) PyArray_DATA(%(out)s) = (%(T)s) total;
    Py_DECREF(zc); Py_DECREF(pc);
}
// ==== end: penalty ====

// penalty_grad: g times the derivative of the penalty with respect to z,
// into an output of z's shape (reused when its shape and type match):
// Gaussian 2 g d, Student-t 2 a iv g d / (1 + iv d^2).
// ==== section: penalty_grad ====
{
    PyArrayObject* zc = PyArray_GETCONTIGUOUS(%(z)s);
    PyArrayObject* pc = PyArray_GETCONTIGUOUS(%(p)s);
    const int student = %(student)d;
    npy_intp N = PyArray_DIMS(zc)[0], C = PyArray_DIMS(zc)[1];
    npy_intp HW = PyArray_DIMS(zc)[2] * PyArray_DIMS(zc)[3];
    const %(T)s g = *(const %(T)s*) PyArray_DATA(%(g)s);
    if (PyArray_DIMS(pc)[0] != 3 || PyArray_DIMS(pc)[1] != C) {
        PyErr_SetString(PyExc_ValueError, "prior penalty: parameters do not match the channels");
        Py_DECREF(zc); Py_DECREF(pc); %(fail)s
    }
    if (!%(out)s || PyArray_NDIM(%(out)s) != 4 || !PyArray_IS_C_CONTIGUOUS(%(out)s)
            || PyArray_TYPE(%(out)s) != PyArray_TYPE(zc)
            || !PyArray_CompareLists(PyArray_DIMS(%(out)s), PyArray_DIMS(zc), 4)) {
        Py_XDECREF(%(out)s);
        %(out)s = (PyArrayObject*) PyArray_EMPTY(4, PyArray_DIMS(zc), PyArray_TYPE(zc), 0);
        if (!%(out)s) { Py_DECREF(zc); Py_DECREF(pc); %(fail)s }
    }
    {
        const %(T)s* z = (const %(T)s*) PyArray_DATA(zc);
        const %(T)s* p = (const %(T)s*) PyArray_DATA(pc);
        %(T)s* out = (%(T)s*) PyArray_DATA(%(out)s);
        Py_BEGIN_ALLOW_THREADS
        for (npy_intp nk = 0; nk < N * C; ++nk) {
            const npy_intp k = nk %% C;
            const %(T)s m = p[k], a = p[C + k], iv = p[2 * C + k];
            const %(T)s* zz = z + nk * HW;
            %(T)s* oo = out + nk * HW;
            if (student) {
                const %(T)s coef = 2 * a * iv * g;
                for (npy_intp i = 0; i < HW; ++i) {
                    const %(T)s d = zz[i] - m;
                    oo[i] = coef * d / ((%(T)s) 1 + iv * d * d);
                }
            } else {
                const %(T)s coef = 2 * g;
                for (npy_intp i = 0; i < HW; ++i)
                    oo[i] = coef * (zz[i] - m);
            }
        }
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(zc); Py_DECREF(pc);
}
// ==== end: penalty_grad ====
