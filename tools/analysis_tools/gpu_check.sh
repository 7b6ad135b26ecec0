#!/usr/bin/env bash
# The GPU check, from a clone: runs .dev_scripts/gpu_check.sh with the same
# arguments (matmul peaks, training throughput and share of the peak of the
# paper models, fp32 / bf16 / compiled, the fusion sweep, DDP, the tests
# marked `gpu`; docs/tools.md, "Experiments"). `--dry-run` checks it on a CPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script="$here/../../.dev_scripts/gpu_check.sh"
if [[ ! -f "$script" ]]; then
  echo "gpu_check.sh: $script not found; the GPU check runs from a clone" \
       "of the repository (it is not part of the installed package)" >&2
  exit 2
fi
exec bash "$script" "$@"
