#!/usr/bin/env bash
# Set up a bare Debian machine (as root) and run citybrain.
#   bash scripts/dev.sh demo   install everything, then run the live demo (citybrain up)
#   bash scripts/dev.sh test   install everything, then run lint, types and the whole test suite
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs npm)
[ -d /usr/share/fonts/opentype/noto ] || need_apt+=(fonts-noto-cjk)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need_apt[*]} (run as root, or install them first)" >&2
    exit 1
  fi
  echo "==> apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.citybrain-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> pip install -e .[test]"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi

vendor_stamp=web/static/vendor/.installed
if [ ! -f "$vendor_stamp" ] || [ web/frontend/package-lock.json -nt "$vendor_stamp" ]; then
  echo "==> npm ci (front-end libraries, served locally)"
  npm ci --prefix web/frontend --no-audit --no-fund --loglevel=error
  touch "$vendor_stamp"
fi

case "${1:-}" in
  demo)
    shift
    exec .venv/bin/citybrain up "$@"
    ;;
  test)
    shift
    echo "==> ruff"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    echo "==> mypy"
    .venv/bin/mypy
    echo "==> lint-imports (layers; no I/O in the pure core)"
    .venv/bin/lint-imports
    if [ $# -gt 0 ]; then
      echo "==> pytest $*"
      exec .venv/bin/pytest "$@"
    fi
    # The unit layer on every core; then the layers that start real processes (broker,
    # redis-server, workers, web servers, Chromium), one test at a time.
    echo "==> pytest tests/unit (parallel)"
    .venv/bin/pytest -n auto tests/unit
    echo "==> pytest tests/agent tests/e2e tests/browser"
    exec .venv/bin/pytest --durations=25 tests/agent tests/e2e tests/browser
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test" >&2
    exit 2
    ;;
esac
