#!/bin/sh
# Set up .venv with a Python >= 3.12 found on this machine, and install redoubt with pinned versions.
# Usage: scripts/bootstrap.sh   (idempotent: does nothing when .venv is current)
set -eu
cd "$(dirname "$0")/.."
VENV=.venv
STAMP=$VENV/.redoubt-installed
# CI (CI=true, as .ci/run sets it) also needs Debian's Chromium for the browser test of the page; on a
# user's machine that test skips with a reason instead.
if [ -n "${CI:-}" ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "redoubt: installing Debian's chromium for the browser test (CI)" >&2
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null; }
fi
want=$(cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c 'import redoubt' 2>/dev/null; then
  exit 0
fi

works() {  # a candidate counts only if it really runs and is >= 3.12 with venv
  "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}
PY=""
for c in ${PYTHON:-} python3.13 python3.12 python3 python; do
  if command -v "$c" >/dev/null 2>&1 && works "$c"; then PY=$(command -v "$c"); break; fi
done
if [ -z "$PY" ]; then  # pyenv's versions are installed but not active: use their binaries directly
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for c in $(ls -d "$root"/versions/3.* 2>/dev/null | sort -t. -k2,2nr -k3,3nr); do
    if works "$c/bin/python"; then PY="$c/bin/python"; break; fi
  done
fi
if [ -z "$PY" ]; then
  echo "redoubt needs Python 3.12 or newer and none was found (tried PATH and pyenv)." >&2
  echo "Install one, e.g. 'pyenv install 3.12', 'apt-get install python3.12', or from python.org," >&2
  echo "or point PYTHON=/path/to/python3.12 at it, then run this again." >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ] || ! works "$VENV/bin/python"; then
  echo "redoubt: creating $VENV with $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
echo "redoubt: installing pinned dependencies into $VENV (once)" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[all]"
# The model's compiled kernels (numba) are built on their first call and cached beside their module: build them
# here, once, rather than in the first command a user runs (or in each of the test workers at once). The model
# says so itself when its kernels are not in the cache yet (fused.tell_if_compiling).
"$VENV/bin/python" -c 'from redoubt import ValleyModel; ValleyModel(rng=0).run()'
echo "$want" > "$STAMP"
