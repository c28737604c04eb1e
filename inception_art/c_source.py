"""C code kept in ``.c`` files beside the Theano ops that compile it.

An op's C is several pieces (support code, the body of ``c_code`` as a
Python %-template...), kept in one file as sections::

    // ==== section: forward ====
    ...the text, verbatim...
    // ==== end: forward ====

Lines outside sections are comments for the reader and are compiled
nowhere. A section's text starts with the newline that ends its first
marker line and ends with the newline before the second, exactly as
written: the ops hash it into their compile-cache version.
"""
import re
from pathlib import Path

_SECTION = re.compile(r'^// ==== section: (\w+) ====$(.*?)^// ==== end: \1 ====$',
                      re.M | re.S)


def sections(path):
    """The sections of the C file at ``path``: ``{name: text}``."""
    return {m[1]: m[2] for m in _SECTION.finditer(Path(path).read_text())}
