#!/usr/bin/env bash
# `make test-wheel`: mmtlsi as a downstream project meets it. Builds the
# wheel and the sdist, installs the wheel (not editable) into a fresh
# virtual environment with the pinned stack and mim, and from a temporary
# folder outside the clone: checks that the wheel and the sdist hold every
# file of the clone they should, inherits every shipped config as
# 'mmtlsi::...', trains a config inheriting 'mmtlsi::demo/...' for 2
# iterations with `mim train`, tests it (table printed) with
# `python -m mmtlsi.tools.test` and `mim test`, runs `mim run` and
# `mim search`, and checks that a checkpoint that does not fit is refused.
#   usage: .ci/test_wheel.sh PYTHON "TORCH_PINS"
set -euo pipefail
PYTHON=${1:-python3}
TORCH_PINS=${2:-torch==2.14.1 torchvision==0.29.1}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d -t mmtlsi-wheel.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
start=$(date +%s)
step() { echo "== [$(( $(date +%s) - start )) s] $*"; }
pipq() {   # pip install, quiet; its output shown only when it fails
    "$TMP/venv/bin/pip" install -q "$@" > "$TMP/pip.log" 2>&1 \
        || { grep -v '^WARNING: Location' "$TMP/pip.log"; return 1; }
}

step "build wheel and sdist"
$PYTHON -m venv "$TMP/venv"
pipq --upgrade "pip>=23" "setuptools>=77.0.3,<81" wheel
rm -rf "$REPO/build"          # stale files there would go into the wheel
(cd "$REPO" && "$TMP/venv/bin/pip" wheel -q --no-deps --no-build-isolation \
    -w "$TMP/dist" . > "$TMP/pip.log" 2>&1) \
    || { grep -v '^WARNING: Location' "$TMP/pip.log"; exit 1; }
(cd "$REPO" && "$TMP/venv/bin/python" -c \
    "from setuptools import build_meta as b; b.build_sdist('$TMP/dist')" \
    > "$TMP/sdist.log" 2>&1) || { cat "$TMP/sdist.log"; exit 1; }
rm -rf "$REPO/build"
WHEEL=$(ls "$TMP"/dist/mmtlsi-*.whl)
SDIST=$(ls "$TMP"/dist/mmtlsi-*.tar.gz)

step "fresh environment: $TORCH_PINS, requirements/pinned.txt, mim"
# shellcheck disable=SC2086
pipq $TORCH_PINS
pipq -r "$REPO/requirements/pinned.txt"
pipq --no-deps openmim==0.3.9
pipq -r "$REPO/requirements/mim.txt"
pipq --no-deps "$WHEEL"

mkdir -p "$TMP/project/configs"
cp "$REPO/.ci/downstream/my_tiny.py" "$TMP/project/configs/"
cd "$TMP/project"
unset PYTHONPATH
export PATH="$TMP/venv/bin:$PATH" OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore
PY="$TMP/venv/bin/python"

step "files: installed wheel and sdist against the clone"
$PY "$REPO/.ci/check_installed.py" "$REPO"
$PY "$REPO/.ci/check_installed.py" "$REPO" --sdist "$SDIST"
$PY "$REPO/.ci/downstream/inherit_all.py"

step "mim search mmtlsi"
mim search mmtlsi > search.txt
grep -q 'config id: mtlsi_swin-t_nyud' search.txt
echo "mim search lists $(grep -c 'config id' search.txt) configs"

step "mim train mmtlsi configs/my_tiny.py (2 iterations)"
mim train mmtlsi configs/my_tiny.py --work-dir work_dirs/my_tiny > train.log 2>&1 \
    || { tail -40 train.log; exit 1; }
CKPT=work_dirs/my_tiny/iter_2.pth
test -f "$CKPT"

step "python -m mmtlsi.tools.test (the table)"
$PY -m mmtlsi.tools.test configs/my_tiny.py "$CKPT" --work-dir work_dirs/test \
    > test.log 2>&1 || { tail -40 test.log; exit 1; }
grep -A4 'Seg. mIoU' test.log

step "mim test / mim run print_config, check_dataset, get_flops"
mim test mmtlsi configs/my_tiny.py --checkpoint "$CKPT" --no-flops \
    --work-dir work_dirs/mimtest > mimtest.log 2>&1 \
    || { tail -40 mimtest.log; exit 1; }
grep -q 'Seg. mIoU' mimtest.log
mim run mmtlsi print_config configs/my_tiny.py > print.log 2>&1
grep -q "mmtlsi::demo/mtlsi_tiny_synthetic-nyud.py\|MTLSIHead" print.log
mim run mmtlsi check_dataset configs/my_tiny.py > check.log 2>&1 \
    || { tail -20 check.log; exit 1; }
mim run mmtlsi get_flops configs/my_tiny.py > flops.log 2>&1 \
    || { tail -20 flops.log; exit 1; }

step "a checkpoint that does not fit is refused"
if mmtlsi-test configs/my_tiny.py "$CKPT" --no-flops \
        --cfg-options model.decode_head.channels=64 > bad.log 2>&1; then
    echo "mmtlsi-test accepted a checkpoint of another model"; exit 1
fi
grep -q "does not fit" bad.log && grep -q "$CKPT" bad.log
tail -3 bad.log
step "wheel test passed in $(( $(date +%s) - start )) s"
