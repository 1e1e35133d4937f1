#!/bin/bash
# A whole stability run inside one SLURM allocation (docs/cluster.md, "The runner inside one
# batch allocation"): the runner and its worker processes share this job's cores.
#
#   sbatch configs/sbatch_stability.sh
#   sbatch --export=ALL,CONFIG=configs/quickstart.toml,OUT="$PWD/results/quickstart.zarr" \
#       configs/sbatch_stability.sh
#
# If the job hits its walltime or is pre-empted, submit the same command again: --resume
# computes only the missing tasks, and the finished dataset is identical to an uninterrupted
# run. On the first submission there is nothing to resume and --resume starts a fresh run; once
# the store is complete, a resubmission only reports it.
#
# Variables (set them here or with sbatch --export=ALL,NAME=value):
#   CONFIG           the experiment config (TOML)
#   OUT              the results store: on a filesystem that outlives the job, not $TMPDIR
#   STABILITY_VENV   the virtual environment with stability installed
#   STABILITY_NUMBA_CACHE_DIR   Numba's compile cache; by default a fresh folder on the node's
#                    local disk for this job (never one shared over NFS: docs/cluster.md)
#
#SBATCH --job-name=stability
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=32
#SBATCH --mem=32G
#SBATCH --time=12:00:00
#SBATCH --output=stability-%j.out
set -euo pipefail

CONFIG="${CONFIG:-configs/polarity_doctrine.toml}"
OUT="${OUT:-$PWD/results/polarity_doctrine.zarr}"
STABILITY_VENV="${STABILITY_VENV:-$HOME/venvs/stability}"

# shellcheck disable=SC1091
source "$STABILITY_VENV/bin/activate"

# One level of parallelism: one task per worker process, no Numba or BLAS threads.
export NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export NUMBA_CACHE_DIR="${STABILITY_NUMBA_CACHE_DIR:-${TMPDIR:-/tmp}/stability-numba-$SLURM_JOB_ID}"

# --workers explicitly: without CPU binding (no cgroups) a process sees every core of the
# node, not only the ones it was given. exec: SLURM's SIGTERM at the walltime reaches the
# runner itself, which stops its workers and leaves the finished tasks for --resume.
exec stability run "$CONFIG" --out "$OUT" --workers "${SLURM_CPUS_PER_TASK:-1}" --resume
