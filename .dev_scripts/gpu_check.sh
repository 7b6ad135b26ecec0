#!/usr/bin/env bash
# GPU check (.dev_scripts/gpu_check.py), one command: fp32 and bf16 matmul
# peaks, training throughput, memory and share of the peak of Swin-T NYUDv2
# (fp32, bf16, bf16 compiled) and Swin-L PASCAL-Context, the fusion sweep and
# multi-GPU DDP, on synthetic data; then the tests marked `gpu`. Writes
# gpu_check.md (a fragment for docs/results.md), gpu_check.json and
# gpu_tests.log into $OUT or work_dirs/gpu_check.
#
#   bash .dev_scripts/gpu_check.sh --download-wheels   # with network
#   bash .dev_scripts/gpu_check.sh [gpu_check.py options]
#   bash .dev_scripts/gpu_check.sh --dry-run           # CPU check
#
# A machine without the OpenMMLab packages and without network gets them from
# the pure-Python wheels in .whl/ (installed into /tmp/site, nothing else is
# touched): download them once, on a machine with network, with
# --download-wheels (Python 3.12, Linux x86_64 wheels). PYTHON selects the
# interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS="mmengine==0.10.7 mmcv-lite==2.1.0 mmsegmentation==1.2.2
  mmpretrain==1.2.0 addict yapf platformdirs termcolor prettytable wcwidth
  mat4py modelindex model-index ordered-set importlib-metadata zipp
  lazy-importer ftfy"

if [[ "${1:-}" == "--download-wheels" ]]; then
  mkdir -p .whl
  # shellcheck disable=SC2086
  "$PY" -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl $WHEELS
  du -sh .whl
  exit 0
fi

if ! "$PY" -c 'import mmengine, mmseg, mmpretrain' 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "mmengine / mmseg / mmpretrain are not installed and .whl/ holds" \
         "no wheels: run '$0 --download-wheels' where there is network" >&2
    exit 1
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
out=${OUT:-work_dirs/gpu_check}
status=0
"$PY" .dev_scripts/gpu_check.py --out-dir "$out" "$@" || status=$?
# the tests marked `gpu` (skipped without a CUDA device, as in a dry run)
mapfile -t gpu_tests < <(grep -rl --include='test_*.py' 'pytest.mark.gpu' tests)
MMTLSI_TEST_GPU=1 "$PY" -m pytest -q -n 0 -m gpu -p no:cacheprovider \
  "${gpu_tests[@]}" 2>&1 | tee "$out/gpu_tests.log" || status=$?
exit $status
