#!/usr/bin/env bash
# A real single-node SLURM on this machine, for the cluster tests (docs/cluster.md).
#
#   .ci/slurm.sh start    install if needed, configure, start munged/slurmctld/slurmd, and wait
#                         until the node is idle and `srun -N1 hostname` works (idempotent)
#   .ci/slurm.sh stop     cancel the jobs, then stop exactly the daemons `start` started, by PID
#   .ci/slurm.sh status   the recorded daemons and `sinfo`; exit 0 only if SLURM runs jobs
#
# Follows ../shared/design/CLUSTER.md (what was seen working on these machines: Debian's
# packages, munge auth, SlurmUser=root, no cgroup enforcement). Needs root. On failure it
# prints one line starting with "slurm.sh: error:" and exits non-zero.
#
# Environment: STABILITY_SLURM_PIDS (where the started daemons' PIDs are recorded, default
# /run/stability-slurm.pids), STABILITY_SLURM_WAIT (seconds to wait for the node, default 60).
set -uo pipefail

PIDS_FILE="${STABILITY_SLURM_PIDS:-/run/stability-slurm.pids}"
WAIT_S="${STABILITY_SLURM_WAIT:-60}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
CGROUP_CONF="$CONF_DIR/cgroup.conf"
MARKER="# Written by stability .ci/slurm.sh"
LOG_DIR=/var/log/slurm
CTLD_PIDFILE=/run/slurmctld.pid
SLURMD_PIDFILE=/run/slurmd.pid
MUNGE_PIDFILE=/run/munge/munged.pid
PARTITION=debug

die() { echo "slurm.sh: error: $*" >&2; exit 1; }
say() { echo "slurm.sh: $*"; }

# The last non-empty line of a log, to make a one-line failure message useful.
last_log_line() { [ -r "$1" ] && grep -v '^\s*$' "$1" | tail -n 1 | cut -c1-200; }

# PID from a pid file if that process is alive and is the named program (not a reused PID).
live_pid() { # name pidfile
    local pid
    [ -r "$2" ] || return 1
    pid=$(tr -dc '0-9' <"$2")
    [ -n "$pid" ] && is_prog "$pid" "$1" && echo "$pid"
}

is_prog() { # pid name
    [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

record() { # name pid
    grep -qs "^$1 $2\$" "$PIDS_FILE" || echo "$1 $2" >>"$PIDS_FILE"
}

node_state() {
    timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1
}

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (installs packages and starts system daemons)"
}

install_packages() {
    local missing=0 p
    for p in munged slurmctld slurmd sinfo srun sbatch; do
        command -v "$p" >/dev/null 2>&1 || missing=1
    done
    [ "$missing" -eq 0 ] && return 0
    say "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    # apt-get update only when the package lists don't know the packages (fresh image).
    if ! apt-cache show slurmctld >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1 || die "apt-get update failed"
    fi
    if ! apt-get install -y -q slurmctld slurmd slurm-client munge >/tmp/stability-slurm-apt.log 2>&1
    then
        apt-get update -q >/dev/null 2>&1 || die "apt-get update failed"
        apt-get install -y -q slurmctld slurmd slurm-client munge >/tmp/stability-slurm-apt.log 2>&1 \
            || die "apt-get install failed: $(last_log_line /tmp/stability-slurm-apt.log)"
    fi
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_ok; then
        return 0
    fi
    install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
    install -d -o munge -g munge -m 0711 /var/lib/munge
    install -d -o munge -g munge -m 0755 /run/munge
    # Keep an existing key (the package may have made one); otherwise 1024 random bytes.
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none \
            || die "cannot write /etc/munge/munge.key"
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    rm -f "$MUNGE_PIDFILE"
    runuser -u munge -- munged --force >/dev/null 2>&1 \
        || die "munged did not start: $(last_log_line /var/log/munge/munged.log)"
    local i pid=""
    for i in $(seq 50); do
        pid=$(live_pid munged "$MUNGE_PIDFILE") && munge_ok && break
        sleep 0.1
    done
    [ -n "$pid" ] && munge_ok \
        || die "munge does not work: $(last_log_line /var/log/munge/munged.log)"
    record munged "$pid"
}

write_config() {
    local cpus mem_mb tmp
    cpus=$(nproc)
    # RealMemory a bit under the machine's: slurmd drains a node that has less than configured.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)
    install -d -m 0755 "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
    if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
        say "warning: $CONF was not written by this script; using it as it is"
        return 0
    fi
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
$MARKER: a single-node test cluster.
ClusterName=stability
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PIDFILE
SlurmdPidFile=$SLURMD_PIDFILE
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    if ! cmp -s "$tmp" "$CONF"; then
        install -m 0644 "$tmp" "$CONF"
        CONFIG_CHANGED=1
    fi
    rm -f "$tmp"
    if [ ! -e "$CGROUP_CONF" ] || grep -qF "$MARKER" "$CGROUP_CONF"; then
        # slurmd refuses to start without it; CgroupPlugin=disabled is not a plugin in 22.05.
        cat >"$CGROUP_CONF" <<EOF
$MARKER.
CgroupPlugin=cgroup/v1
IgnoreSystemd=yes
ConstrainCores=no
ConstrainRAMSpace=no
EOF
    fi
}

start_daemon() { # name pidfile log
    local name=$1 pidfile=$2 log=$3 pid i
    if pid=$(live_pid "$name" "$pidfile"); then
        if [ "${CONFIG_CHANGED:-0}" -eq 1 ]; then
            say "warning: $CONF changed while $name (PID $pid) runs; 'stop' then 'start' to apply"
        fi
        return 0
    fi
    rm -f "$pidfile"
    "$name" >/dev/null 2>&1 || die "$name did not start: $(last_log_line "$log")"
    for i in $(seq 100); do
        pid=$(live_pid "$name" "$pidfile") && break
        sleep 0.1
    done
    [ -n "$pid" ] || die "$name exited after starting: $(last_log_line "$log")"
    record "$name" "$pid"
}

wait_ready() {
    local deadline state resumed=0
    deadline=$((SECONDS + WAIT_S))
    while :; do
        state=$(node_state)
        case "$state" in
            idle | mixed | allocated | completing) break ;;
            down* | drain* | fail*)
                # A node that was down (e.g. after an earlier stop) comes back on request.
                if [ "$resumed" -eq 0 ]; then
                    scontrol update nodename="$NODE" state=resume >/dev/null 2>&1
                    resumed=1
                fi
                ;;
        esac
        [ "$SECONDS" -lt "$deadline" ] \
            || die "node $NODE not idle after ${WAIT_S}s (state '${state:-none}'):" \
                "$(last_log_line "$LOG_DIR/slurmd.log")"
        sleep 1
    done
    local out
    out=$(timeout 30 srun -N1 -t 1 hostname 2>&1) \
        || die "'srun -N1 hostname' failed: $(echo "$out" | tail -n 1)"
}

cmd_start() {
    require_root
    install_packages
    NODE=$(hostname -s)
    CONFIG_CHANGED=0
    touch "$PIDS_FILE" || die "cannot write $PIDS_FILE"
    start_munge
    write_config
    start_daemon slurmctld "$CTLD_PIDFILE" "$LOG_DIR/slurmctld.log"
    start_daemon slurmd "$SLURMD_PIDFILE" "$LOG_DIR/slurmd.log"
    wait_ready
    say "SLURM is up: $(sinfo -h -o 'partition %P, node %N %T, %c CPUs, %m MB' | head -n 1)"
}

cmd_stop() {
    [ -s "$PIDS_FILE" ] || { say "nothing recorded in $PIDS_FILE; nothing to stop"; return 0; }
    require_root
    local name pid i jobs
    # Jobs first: their slurmstepd processes outlive slurmd and would be left behind.
    if grep -q '^slurmctld ' "$PIDS_FILE" && command -v squeue >/dev/null; then
        jobs=$(timeout 10 squeue -h -o '%i' 2>/dev/null | tr '\n' ' ')
        if [ -n "${jobs// /}" ]; then
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs >/dev/null 2>&1
            for i in $(seq 20); do
                [ -z "$(timeout 5 squeue -h -o '%i' 2>/dev/null)" ] && break
                sleep 0.5
            done
        fi
    fi
    # Reverse start order: slurmd, slurmctld, munged. Only PIDs still running that program.
    while read -r name pid; do
        [ -n "$pid" ] && is_prog "$pid" "$name" || continue
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 50); do
            is_prog "$pid" "$name" || break
            sleep 0.1
        done
        if is_prog "$pid" "$name"; then
            kill -KILL "$pid" 2>/dev/null
        fi
        say "stopped $name (PID $pid)"
    done < <(tac "$PIDS_FILE")
    rm -f "$PIDS_FILE"
}

cmd_status() {
    local name pid alive=1
    if [ -s "$PIDS_FILE" ]; then
        while read -r name pid; do
            if is_prog "$pid" "$name"; then
                say "$name PID $pid running"
            else
                say "$name PID $pid not running"
                alive=0
            fi
        done <"$PIDS_FILE"
    else
        say "no daemons recorded in $PIDS_FILE"
    fi
    if ! command -v sinfo >/dev/null 2>&1; then
        say "sinfo not installed"
        return 1
    fi
    local out
    out=$(timeout 10 sinfo 2>&1) || { say "sinfo failed: $(echo "$out" | tail -n 1)"; return 1; }
    echo "$out"
    NODE=$(hostname -s)
    case "$(node_state)" in
        idle | mixed | allocated | completing) [ "$alive" -eq 1 ] ;;
        *) return 1 ;;
    esac
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
