#!/usr/bin/env bash
# Installs letta[postgres,server,redis]==<version> into a cached virtualenv outside the clone and prints its
# path on the last stdout line. Idempotent: a venv whose stamp matches the version and constraints is reused.
# Fails loudly (non-zero, reason on stderr) when Python or pip cannot do it.
set -euo pipefail

version="${1:?usage: letta-venv.sh <letta version, e.g. 0.16.7>}"
cache="${LETTA_MEMFS_E2E_CACHE:-$HOME/.cache/letta-memfs-hooks}"
venv="$cache/venv-$version"
here="$(cd "$(dirname "$0")" && pwd)"
constraints="$here/constraints.txt"
python="${LETTA_E2E_PYTHON:-python3}"

fail() { echo "letta-venv.sh: $*" >&2; exit 1; }

want="letta==$version constraints=$(sha256sum "$constraints" | cut -c1-16)"
stamp="$venv/.letta-memfs-hooks-stamp"
# Reuse checks the installed version without importing letta (the import, checked once at install below, takes about
# a minute on a loaded 2-core machine and would be paid by every test file that asks for the venv).
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("letta") != sys.argv[1])' "$version" >/dev/null 2>&1; then
  echo "letta-venv.sh: reusing $venv" >&2
  echo "$venv"
  exit 0
fi

command -v "$python" >/dev/null || fail "$python not found (fix: install Python 3.11-3.13, or set LETTA_E2E_PYTHON)"
"$python" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' \
  || fail "letta $version needs Python >=3.11,<3.14; $python is $("$python" -V 2>&1) (fix: set LETTA_E2E_PYTHON)"

mkdir -p "$cache"
rm -rf "$venv"
start=$(date +%s)
"$python" -m venv "$venv" || fail "'$python -m venv' failed (fix: apt-get install python3-venv)"
log="$cache/install-$version.log"
# The pip bundled with Python 3.11 (23.x) crashes resolving letta's lxml[html-clean] extra
# ("Candidate is not for this requirement"); a current pip resolves it.
"$venv/bin/python" -m pip install -q -U pip >"$log" 2>&1 || { tail -n 20 "$log" >&2; fail "could not upgrade pip in $venv (log: $log)"; }
# Extras as in the facts: postgres (asyncpg, psycopg2, pgvector), server (uvicorn, fastapi), redis.
if ! "$venv/bin/python" -m pip install -q -c "$constraints" "letta[postgres,server,redis]==$version" >>"$log" 2>&1; then
  grep -v '^WARNING: Location' "$log" | tail -n 30 >&2
  fail "pip could not install letta[postgres,server,redis]==$version (full log: $log)"
fi
"$venv/bin/python" - "$version" <<'PY' || fail "letta $version installed but does not import (see above)"
import importlib.metadata as m, sys
import letta  # noqa: F401  (the import itself is the check: loose upstream pins have broken it before)
got = m.version("letta")
sys.exit(0 if got == sys.argv[1] else f"installed letta is {got}, wanted {sys.argv[1]}")
PY
echo "$want" >"$stamp"
echo "letta-venv.sh: installed letta $version into $venv in $(( $(date +%s) - start ))s" >&2
echo "$venv"
