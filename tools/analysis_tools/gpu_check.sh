#!/usr/bin/env bash
# GPU check (tools/analysis_tools/gpu_check.py): training throughput, memory
# and FLOP utilisation of Swin-T NYUDv2 and Swin-L PASCAL-Context, the fusion
# sweep and multi-GPU DDP, on synthetic data; writes gpu_check.md (a fragment
# for docs/results.md) and gpu_check.json into $OUT or work_dirs/gpu_check.
#
#   bash tools/analysis_tools/gpu_check.sh --download-wheels   # with network
#   bash tools/analysis_tools/gpu_check.sh [gpu_check.py options]
#   bash tools/analysis_tools/gpu_check.sh --dry-run           # CPU check
#
# A machine without the OpenMMLab packages and without network gets them from
# the pure-Python wheels in .whl/ (installed into /tmp/site, nothing else is
# touched): download them once, on a machine with network, with
# --download-wheels (Python 3.12, Linux x86_64 wheels). PYTHON selects the
# interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
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
exec "$PY" tools/analysis_tools/gpu_check.py --out-dir "${OUT:-work_dirs/gpu_check}" "$@"
