#!/usr/bin/env bash
# Set up everything on a fresh Debian machine with Python 3.11, then do the work.
#   bash scripts/course.sh book    build the HTML book (executes every notebook, with a cache)
#   bash scripts/course.sh test    run the whole test suite in the smoke profile
#   bash scripts/course.sh setup   only set up
#   bash scripts/course.sh publish [--remote R] [--branch B]
#                                  push the built book to gh-pages (default remote: _config.yml's
#                                  repository.url); refuses a build that failed, warned or is stale
# Environment: VENV (default .venv), PYTHON (default python3), COURSE_PROFILE (book: default full).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
PYTHON="${PYTHON:-python3}"

log() { printf '\n== %s\n' "$*"; }

system_packages() {
  # Fashion-MNIST as IDX files, Chromium for the browser test, bubblewrap for the grader's
  # sandbox, Node.js for the book's math (KaTeX renders it at build time). Optional for the
  # notebooks: the course works without them (the loader explains how to get the data; the
  # browser test is skipped; the grader refuses untrusted work without a sandbox); the book
  # build needs Node.js.
  local want=(dataset-fashion-mnist chromium chromium-driver bubblewrap nodejs npm)
  local missing=()
  for pkg in "${want[@]}"; do
    case "$pkg" in  # a Node.js from elsewhere (NodeSource's package carries its own npm) will do
      nodejs) command -v node >/dev/null && continue ;;
      npm) command -v npm >/dev/null && continue ;;
    esac
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "Not root and no sudo: skipping apt-get install ${missing[*]}"; return 0; fi
  fi
  if command -v apt-get >/dev/null; then
    log "apt-get install ${missing[*]}"
    $sudo apt-get update -qq || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
      || echo "apt-get could not install ${missing[*]}; continuing without them"
  fi
}

python_packages() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed"
  if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    log "pip install -r requirements.txt"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements.txt
    "$VENV/bin/python" -m pip install --quiet --no-deps -e .
    touch "$stamp"
  fi
  # JupyterLab in this environment opens the paired .md files as notebooks (Jupytext's viewer)
  mkdir -p "$VENV/etc/jupyter/labconfig"
  cp jupyter-config/labconfig/default_setting_overrides.json "$VENV/etc/jupyter/labconfig/"
}

node_packages() {
  # KaTeX (the book's math, rendered at build time) and axe-core (the browser test's
  # accessibility check), at the versions of package-lock.json, into node_modules/. Once
  # installed nothing is fetched again, so later builds work offline.
  if ! command -v npm >/dev/null; then
    echo "npm not found: the book build needs Node.js 18 or later (apt-get install nodejs npm)"; return 0
  fi
  local stamp="node_modules/.installed"
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    log "npm ci (KaTeX, axe-core)"
    npm ci --no-audit --no-fund --prefer-offline
    touch "$stamp"
  fi
}

setup() {
  system_packages
  python_packages
  node_packages
  export PATH="$VENV/bin:$PATH"
}

case "${1:-}" in
  setup)
    setup ;;
  book)
    setup
    log "building the book (profile ${COURSE_PROFILE:=full})"
    eval "$(python -m course_utils env --shell --profile "$COURSE_PROFILE")"  # what every kernel gets
    # The stamp _build/build-info.json records the inputs before and the outcome after the
    # build; `publish` reads it.
    python -m course_utils build-info start
    status=0
    jupyter-book build . -W -n --keep-going 2>&1 | tee _build/build.log || status=$?
    python -m course_utils build-info finish --status "$status" --log _build/build.log
    [ "$status" -eq 0 ] || exit "$status"
    echo "Open _build/html/index.html" ;;
  test)
    setup
    log "running the tests (profile smoke)"
    # what every kernel gets: one thread. Three test workers on two cores: parts of the suite
    # wait (sandboxes and kernels starting, time limits running out), and a third worker fills
    # those gaps (both cores 96-97 % busy; a fourth gained nothing). Modules are handed out in the order
    # tests/conftest.py gives them, the slow ones first. nbval runs the lectures; the solution
    # and exercise notebooks run in tests/grading/test_every_chapter.py (in the grader's sandbox)
    # and tests/course/test_exercise_notebooks.py
    eval "$(python -m course_utils env --shell --profile smoke --threads 1)"
    ruff check course_utils tests scripts
    python -m course_utils sync --check
    python -m pytest -n 3 --dist loadscope --no-loadscope-reorder --nbval --nbval-current-env \
      --nbval-cell-timeout=900 tests book "${@:2}" ;;
  publish)
    # Publishes what `book` built, with the environment it built it in: no set-up here.
    if [ ! -x "$VENV/bin/python" ]; then
      echo "No environment in $VENV: build the book first (bash scripts/course.sh book)" >&2; exit 1
    fi
    export PATH="$VENV/bin:$PATH"
    python -m course_utils publish "${@:2}" ;;
  *)
    echo "usage: bash scripts/course.sh {book|test|setup|publish}" >&2; exit 2 ;;
esac
