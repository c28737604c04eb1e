#!/bin/bash
# Test the install on a clean Debian root: debootstrap a minimal SUITE into
# ROOT, copy this checkout into it and run `make render CLASS=volcano STEPS=8`
# there, as a user of a fresh machine would (docs/install.md, "How the
# install is tested on clean Debian").
#   sudo scripts/test-clean-debian.sh bookworm /var/tmp/bookworm-root
#   sudo scripts/test-clean-debian.sh trixie   /var/tmp/trixie-root
# Expected: bookworm (Python 3.11) installs everything and writes
# renders/volcano.png; trixie (Python 3.13, no python3.11 package) stops with
# one "error: no Python 3.11 found ..." line and makes no .venv. Exit status
# 0 when the run did what is expected for SUITE, 1 when not, 2 on bad usage.
# Needs root, debootstrap, and network access to the Debian mirror (MIRROR,
# default http://deb.debian.org/debian) and to PyPI. ROOT must be absent or
# empty: every run starts from a fresh root (the script never deletes one).
# EXTRA_CA: CA certificate files (PEM, space-separated, globs allowed) to
# trust inside the root, for a network whose HTTPS goes through an
# intercepting proxy; a stock machine on the open internet needs none, e.g.
#   EXTRA_CA='/usr/local/share/ca-certificates/*.crt' scripts/test-clean-debian.sh ...
set -eu

usage() { echo "usage: $0 bookworm|trixie ROOT" >&2; exit 2; }
[ $# -eq 2 ] || usage
SUITE=$1
ROOT=$2
case "$SUITE" in bookworm|trixie) ;; *) usage ;; esac
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SRC=$(cd "$(dirname "$0")/.." && pwd)      # the checkout this script is in
[ "$(id -u)" = 0 ] || { echo "error: run as root (debootstrap, mount, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "error: no debootstrap; apt-get install -y debootstrap" >&2; exit 2; }
if [ -e "$ROOT" ] && [ -n "$(ls -A "$ROOT")" ]; then
  echo "error: $ROOT is not empty; give a new folder (or remove it first)" >&2; exit 2
fi
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
case "$ROOT" in "$SRC"|"$SRC"/*) echo "error: ROOT must be outside the checkout" >&2; exit 2 ;; esac

# 1. A minimal root. minbase is essential packages plus apt; on top, what a
# stock install has (or a user has to have) for `make` to even start:
#   make            - runs the Makefile (not in a stock install; the one
#                     thing the user installs besides the project);
#   git             - how a user gets the project (git clone); make does not
#                     use it, the copy below is plain files;
#   python3         - a stock (standard) install has it (reportbug,
#                     apt-listchanges); bookworm's is 3.11, trixie's 3.13,
#                     which scripts/find-python.sh must refuse;
#   ca-certificates - a stock install has it; HTTPS checks (the PyPI probe
#                     below, pip).
# Everything else (g++, libopenblas-dev, python3.11-venv, python3.11-dev)
# is left for `make` to install (scripts/system-deps.sh).
t0=$(date +%s)
echo "== debootstrap --variant=minbase $SUITE into $ROOT ($MIRROR)"
debootstrap --variant=minbase --include=make,git,python3,ca-certificates \
  "$SUITE" "$ROOT" "$MIRROR"
# The apt sources of a stock install: the suite, its updates and security.
cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"   # name lookups inside the root
t1=$(date +%s)

# 2. The kernel file systems the chroot needs, unmounted again on any exit.
# Bind mounts are made private so nothing mounted here shows up on the host.
MOUNTED=
cleanup() {
  for m in $MOUNTED; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mnt() {  # mnt TARGET MOUNT-ARGS...: mount, remember for cleanup (newest first)
  t=$1; shift
  mount "$@" "$t"
  MOUNTED="$t $MOUNTED"
}
mnt "$ROOT/proc" -t proc proc
mnt "$ROOT/sys" -t sysfs sysfs
mnt "$ROOT/dev" --bind /dev;         mount --make-private "$ROOT/dev"
mnt "$ROOT/dev/pts" --bind /dev/pts; mount --make-private "$ROOT/dev/pts"
mnt "$ROOT/dev/shm" -t tmpfs shm     # POSIX semaphores (multiprocessing)

# 3. The project: the files git lists (tracked and untracked-not-ignored, as
# they are in the working tree; files deleted there are skipped), copied to
# /root/inception_art. No .venv, .cache or renders come along.
DEST=/root/inception_art
mkdir -p "$ROOT$DEST"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$ROOT$DEST"
echo "== copied $(find "$ROOT$DEST" -type f | wc -l) files of $SRC to $DEST"

# Run a command in the root with a clean environment (nothing of this
# machine's PIP_*, proxies or PATH leaks in).
in_root() {
  env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    chroot "$ROOT" /bin/sh -c "$1"
}
# This network's extra CAs, if any (not the project's need: see EXTRA_CA).
if [ -n "${EXTRA_CA:-}" ]; then
  for f in $EXTRA_CA; do
    cp "$f" "$ROOT/usr/local/share/ca-certificates/extra-$(basename "${f%.*}").crt"
    echo "== trusting this network's CA $f inside the root (EXTRA_CA)"
  done
  in_root 'update-ca-certificates >/dev/null 2>&1'
fi
echo "== root: Debian $(cat "$ROOT/etc/debian_version"), $(in_root 'python3 --version' 2>&1)," \
     "$(in_root 'make --version | head -1')"
# Is PyPI reachable from inside? (pip in the root has no configuration.)
if err=$(in_root "python3 -c 'import urllib.request as u; u.urlopen(\"https://pypi.org/simple/pip/\", timeout=30)'" 2>&1); then
  echo "== PyPI reachable from the root: yes"
else
  echo "== PyPI reachable from the root: NO ($(echo "$err" | tail -1)); a failing pip install below is then not the project's fault"
fi

# 4. The test itself.
LOG=$ROOT/root/make-render.log
echo "== make render CLASS=volcano STEPS=8 (log: $LOG)"
t2=$(date +%s)
set +e
in_root "cd $DEST && make render CLASS=volcano STEPS=8" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
t3=$(date +%s)

# 5. The result.
echo "== result ($SUITE)"
echo "exit status of make: $rc"
echo "debootstrap: $((t1 - t0)) s; make: $((t3 - t2)) s"
png=no; [ -s "$ROOT$DEST/renders/volcano.png" ] && png=yes
echo "renders/volcano.png exists: $png"
venv_py=
if [ -e "$ROOT$DEST/.venv/bin/python" ]; then
  venv_py=$(in_root "$DEST/.venv/bin/python --version" 2>&1 || true)
  echo ".venv/bin/python: $venv_py"
else
  echo ".venv/bin/python: none$( [ -e "$ROOT$DEST/.venv" ] && echo ' (but .venv exists)')"
fi
errors=$(grep -c '^error:' "$LOG" || true)
grep '^error:' "$LOG" | sed 's/^/error line: /' || true

ok=1
case "$SUITE" in
  bookworm)  # must install and render
    [ "$rc" = 0 ] && [ "$png" = yes ] || ok=0 ;;
  trixie)    # must stop with one error line naming the way out, and no .venv
    [ "$rc" != 0 ] && [ "$errors" = 1 ] && [ ! -e "$ROOT$DEST/.venv" ] &&
      grep -q '^error: no Python 3.11 found' "$LOG" || ok=0 ;;
esac
if [ "$ok" = 1 ]; then echo "PASS: $SUITE behaved as expected"; exit 0; fi
echo "FAIL: $SUITE did not behave as expected"
exit 1
