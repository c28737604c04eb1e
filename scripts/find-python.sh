#!/bin/sh
# Print the path of a Python 3.11 (the only version Theano 1.0.5 and the
# pinned packages are tested on here): python3.11 on PATH, then pyenv's,
# then uv's, then python3 if it is 3.11. None: one line on how to get one,
# and exit 1. With an argument, only that Python is checked.
#   scripts/find-python.sh [PYTHON]
is311() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }
if [ -n "${1:-}" ]; then
  if is311 "$1"; then echo "$1"; exit 0; fi
  echo "error: $1 is not a Python 3.11; pass PY=/path/to/python3.11, or leave PY out to look for one" >&2
  exit 1
fi
pyenv_py=
prefix=$(pyenv prefix 3.11 2>/dev/null) && [ -n "$prefix" ] && pyenv_py=${prefix%%:*}/bin/python3.11
for py in "$(command -v python3.11 2>/dev/null)" "$pyenv_py" \
          "$(uv python find 3.11 2>/dev/null)" \
          "$(command -v python3 2>/dev/null)"; do
  if is311 "$py"; then echo "$py"; exit 0; fi
done
echo "error: no Python 3.11 found (python3.11, pyenv or uv); get one with 'uv python install 3.11' (https://docs.astral.sh/uv/) or 'pyenv install 3.11', or pass PY=/path/to/python3.11" >&2
exit 1
