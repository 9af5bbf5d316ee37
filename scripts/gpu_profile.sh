#!/usr/bin/env bash
# The GPU profile on a machine with an accelerator, PyTorch and JAX, but no package registry.
#
#   bash scripts/gpu_profile.sh wheels   # here, with PyPI: download the missing wheels to build/gpu-wheels
#   bash scripts/gpu_profile.sh run      # there: install those wheels, run the benchmark in profile gpu
#
# TensorFlow is too large to carry, so Keras runs on the torch backend there; TensorFlow-only
# cells print a note and skip themselves. The report lands in benchmarks/gpu-<device>.json
# (and in $OUT when that variable names a folder).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS="${WHEELS:-build/gpu-wheels}"
PY_VERSION="${GPU_PYTHON_VERSION:-3.12}"
# What the accelerator image lacks, with their own dependencies (numpy, matplotlib, sympy,
# scikit-learn, tqdm, psutil, rich, h5py, ml-dtypes ... are already there).
PACKAGES=(keras namex optree nbclient nbformat fastjsonschema jsonschema jsonschema-specifications referencing
  rpds-py jupyter-client jupyter-core traitlets pyzmq tornado ipykernel ipython ipython-pygments-lexers comm
  debugpy matplotlib-inline nest-asyncio jedi parso prompt-toolkit wcwidth stack-data executing asttokens
  pure-eval pexpect ptyprocess platformdirs decorator nest-asyncio2 mlxtend)

case "${1:-}" in
  wheels)
    mkdir -p "$WHEELS"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --implementation cp -d "$WHEELS" "${PACKAGES[@]}"
    python3 -m pip wheel --quiet --no-deps -w "$WHEELS" .
    du -sh "$WHEELS" ;;
  run)
    python3 -m pip install --quiet --no-index --find-links "$WHEELS" "${PACKAGES[@]}" course_utils
    export KERAS_BACKEND=torch COURSE_PROFILE=gpu
    python3 -m ipykernel install --user --name python3 >/dev/null
    python3 -m course_utils benchmark --profile gpu --out benchmarks "${@:2}"
    if [ -n "${OUT:-}" ]; then cp benchmarks/gpu-*.json "$OUT"/; fi ;;
  *)
    echo "usage: bash scripts/gpu_profile.sh {wheels|run} [NOTEBOOK ...]" >&2; exit 2 ;;
esac
