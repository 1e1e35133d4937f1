#!/usr/bin/env bash
# Run a command on a PATH without any batch-system command, as on a user's laptop:
#
#   .ci/without-batch-tools.sh python -m pytest -q
#
# Every PATH directory holding a SLURM, PBS or LSF command is replaced by a folder of links to
# everything else in it, so the command sees the machine as it is, less the batch tools,
# whether or not they are installed here. The folder is removed when the command ends.
set -euo pipefail

BATCH_TOOLS="sbatch srun salloc sinfo squeue scontrol scancel sacct sacctmgr sattach sbcast
sdiag sprio sreport sshare sstat strigger sview slurmctld slurmd slurmdbd
qsub qstat qdel qhold qrls qalter qsig pbsnodes pbs_server pbs_mom
bsub bjobs bkill bqueues"

shadow=$(mktemp -d "${TMPDIR:-/tmp}/stability-nobatch-XXXXXX")
trap 'rm -rf "$shadow"' EXIT

new_path=""
k=0
IFS=: read -r -a dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    [ -n "$dir" ] || continue
    hit=0
    for tool in $BATCH_TOOLS; do
        if [ -e "$dir/$tool" ]; then hit=1; break; fi
    done
    if [ "$hit" -eq 1 ]; then
        k=$((k + 1))
        copy="$shadow/$k"
        mkdir "$copy"
        for entry in "$dir"/* "$dir"/.[!.]*; do
            [ -e "$entry" ] || continue
            name=$(basename "$entry")
            case " $(echo $BATCH_TOOLS) " in *" $name "*) continue ;; esac
            ln -s "$entry" "$copy/$name"
        done
        dir="$copy"
    fi
    new_path="${new_path:+$new_path:}$dir"
done

for tool in $BATCH_TOOLS; do
    if PATH="$new_path" command -v "$tool" >/dev/null 2>&1; then
        echo "without-batch-tools.sh: error: $tool is still on PATH" >&2
        exit 1
    fi
done
PATH="$new_path" "$@"
