#!/bin/sh
# What `make` needs from the system before it builds .venv: a C++ compiler,
# Python's headers and venv module for the Python it was given, and an
# OpenBLAS. On Debian and Ubuntu the missing packages are installed with apt
# (sudo when not root); elsewhere one line says what is missing and how to
# get it. With --test, also what only the tests use (Debian packages).
#   scripts/system-deps.sh PYTHON [--test]
set -eu
PY=$1
TEST=${2:-}
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

if command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  want="g++ libopenblas-dev"
  # Debian's own Python needs its -venv and -dev packages; a pyenv or uv
  # Python carries both.
  case "$("$PY" -c 'import sys; print(sys.base_prefix)')" in
    /usr) want="$want python$ver-venv python$ver-dev" ;;
  esac
  if [ "$TEST" = --test ]; then
    # Chromium (driven by playwright, which must never download a browser of
    # its own), nginx with the RTMP module and ngircd (real local servers for
    # the live mode's tests), wordnet-base (WordNet 3.0, which the committed
    # WordNet table is checked against).
    want="$want chromium nginx libnginx-mod-rtmp ngircd wordnet-base"
  fi
  missing=
  for p in $want; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    echo "installing$missing (Debian packages)"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    # The tests start their own servers: stop the system services apt may
    # have started (ports 80 and 6667).
    for s in nginx ngircd; do
      case " $missing " in *" $s "*) $SUDO systemctl disable --now $s >/dev/null 2>&1 || true ;; esac
    done
  fi
  exit 0
fi

# Not Debian: check, and say what to install.
missing=
command -v "${CXX:-g++}" >/dev/null 2>&1 || missing="$missing, a C++ compiler (g++)"
"$PY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing="$missing, Python $ver's headers (python$ver-devel)"
"$PY" -c 'import ensurepip' 2>/dev/null || missing="$missing, Python $ver's venv module"
if [ -z "${INCEPTION_ART_BLAS:-}" ]; then
  found=
  for f in /usr/lib64/libopenblas.so /usr/lib/libopenblas.so /usr/local/lib/libopenblas.so \
           /usr/lib/x86_64-linux-gnu/libopenblas.so /usr/lib/aarch64-linux-gnu/libopenblas.so \
           /opt/homebrew/opt/openblas/lib/libopenblas.dylib /usr/local/opt/openblas/lib/libopenblas.dylib; do
    [ -e "$f" ] && found=1
  done
  [ -n "$found" ] || pkg-config --exists openblas 2>/dev/null || missing="$missing, OpenBLAS (openblas-devel)"
fi
if [ -n "$missing" ]; then
  echo "error: missing${missing#,}; install them (Fedora: dnf install gcc-c++ python$ver-devel openblas-devel; Arch: pacman -S gcc openblas; macOS: brew install openblas), or set INCEPTION_ART_BLAS to your BLAS's linker flags (docs/install.md)" >&2
  exit 1
fi
[ "$TEST" != --test ] || echo "note: the tests also use Chromium, nginx with the RTMP module, ngircd and WordNet 3.0; only Debian's packages are installed for you (docs/install.md)" >&2
