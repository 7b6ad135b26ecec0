#!/usr/bin/env bash
# Usage: [GPUS=8] tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options]
#
# Long runs (docs/cluster.md): Slurm sends SIGUSR1 SIGNAL_LEAD seconds
# (default 120) before the time limit (srun --signal); a preempted job gets
# SIGTERM. Either way the run saves the checkpoint of the iteration it is in
# and exits 75. Every start passes --resume, so a started-again job
# continues from the work dir's last checkpoint (RESUME=0: do not).
# - Inside an sbatch job (sbatch --requeue ... tools/slurm_train.sh ...):
#   exit 75 makes the script requeue the job (scontrol requeue); the
#   requeued job runs this script again and resumes.
# - Outside (srun allocates the job): the script starts srun again, up to
#   REQUEUES times (default 10).
# A rank that dies ends the step (--kill-on-bad-exit=1).
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
SIGNAL_LEAD=${SIGNAL_LEAD:-120}
REQUEUES=${REQUEUES:-10}
PREEMPTED=75
PY_ARGS=("${@:4}")
if [ "${RESUME:-1}" != 0 ]; then
    PY_ARGS=(--resume "${PY_ARGS[@]}")
fi

run() {
    # shellcheck disable=SC2086
    PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
    srun -p "${PARTITION}" \
        --job-name="${JOB_NAME}" \
        --gres=gpu:"${GPUS_PER_NODE}" \
        --ntasks="${GPUS}" \
        --ntasks-per-node="${GPUS_PER_NODE}" \
        --cpus-per-task="${CPUS_PER_TASK}" \
        --kill-on-bad-exit=1 \
        --signal=USR1@"${SIGNAL_LEAD}" \
        ${SRUN_ARGS} \
        python -u "$(dirname "$0")/train.py" "${CONFIG}" --launcher slurm \
        "${PY_ARGS[@]}"
}

if [ -n "${SLURM_JOB_ID}" ] && [ -z "${SLURM_STEP_ID}" ]; then
    # the batch script of an sbatch job
    run
    rc=$?
    if [ "$rc" -eq "$PREEMPTED" ]; then
        scontrol requeue "${SLURM_JOB_ID}"
    fi
    exit "$rc"
fi

attempt=0
while true; do
    run
    rc=$?
    if [ "$rc" -ne "$PREEMPTED" ] || [ "$attempt" -ge "$REQUEUES" ]; then
        exit "$rc"
    fi
    attempt=$((attempt + 1))
    echo "preempted (exit $rc): starting again with --resume" \
         "($attempt of at most $REQUEUES)"
done
