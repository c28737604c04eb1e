// The C that the ops of inception_art.nets.depthwise and
// inception_art.nets.pointwise share, read by inception_art.nets.c_op.
//
// This file, depthwise.c and pointwise.c are read section by section
// (c_op.c_sections): a section is the text between a line
// "// ==== section: NAME ====" and a line "// ==== end: NAME ====",
// starting with the newline that ends the first and ending with the
// newline before the second; the ops use exactly that text. So comments
// about a section go above it, outside: anything inside becomes part of
// the generated code (and of its cache version).
//
// Sections used as c_code are Python %-templates: %(name)s is filled in by
// the op, %% is a literal %.

// The output array: Theano's, when it is 4-d, C-contiguous and of the
// input's type and the shape odims; else a new one.
// ==== section: output ====
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
// ==== end: output ====
