#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py options]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT in the environment (the
# same MASTER_ADDR:PORT, node 0's address, on every node).
# RESTARTS=N: torchrun restarts the whole group up to N times after a
# worker fails, and every start resumes from the work dir's last checkpoint
# (--resume is added). PYTHON: the interpreter (default: python). See
# docs/cluster.md.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
RESTARTS=${RESTARTS:-0}
PYTHON=${PYTHON:-python}
RESUME=()
if [ "$RESTARTS" -gt 0 ]; then
    RESUME=(--resume)
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node-rank="$NODE_RANK" \
    --nproc-per-node="$GPUS" \
    --max-restarts="$RESTARTS" \
    --rdzv-backend=c10d \
    --rdzv-endpoint="$MASTER_ADDR:$PORT" \
    --rdzv-id="${RDZV_ID:-mmtlsi}" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${RESUME[@]}" "${@:3}"
