# shellcheck shell=bash
# Daemon helpers shared by `up` and `down` (sourced, never run).
#
# Why not `pidof`/`pkill -f`/globs on /run/slurmd*.pid: "slurmdbd" starts with "slurmd" and
# /run/slurmd*.pid also matches slurmdbd.pid, and a pid file left by a daemon killed in an
# earlier session may now name an unrelated process. So a pid counts only when
# /proc/PID/comm equals the daemon's name exactly.

log() { printf 'local-slurm: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Each daemon: name (= its /proc comm), pid file, log file.
pidfile_of() {
    case "$1" in
        munged) echo /run/munge/munged.pid ;;
        slurmdbd) echo /run/slurmdbd.pid ;;
        slurmctld) echo /run/slurmctld.pid ;;
        slurmd) echo /run/slurmd.pid ;;
        *) die "unknown daemon $1" ;;
    esac
}

logfile_of() {
    case "$1" in
        munged) echo /var/log/munge/munged.log ;;
        slurmdbd) echo /var/log/slurm/slurmdbd.log ;;
        slurmctld) echo /var/log/slurm/slurmctld.log ;;
        slurmd) echo /var/log/slurm/slurmd.log ;;
        *) die "unknown daemon $1" ;;
    esac
}

# What the start command itself printed (before the daemon opened its log).
startlog_of() { echo "/run/local-slurm.$1.out"; }

# True when PID is alive and its comm is exactly NAME. A zombie does not count: here init
# reaps orphans only after a second or two, and a kill -9'ed daemon lingers meanwhile as a
# zombie that still shows its comm.
pid_is() {
    local pid=$1 name=$2 comm stat state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # `read`, not `cat`: daemon_pid may scan every process, and a fork each adds up.
    read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
    [[ $comm == "$name" ]] || return 1
    read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    state=${stat##*) }
    state=${state%% *}
    [[ $state != Z && $state != X ]]
}

# Print the pid of the running daemon NAME, or nothing. Trusts the pid file only after the
# comm check; falls back to scanning /proc, so a daemon whose pid file was lost is still found
# (and never started twice).
daemon_pid() {
    local name=$1 pidfile pid comm_file
    pidfile=$(pidfile_of "$name")
    if [[ -r $pidfile ]]; then
        pid=$(tr -dc '0-9' <"$pidfile")
        if pid_is "$pid" "$name"; then
            echo "$pid"
            return 0
        fi
    fi
    for comm_file in /proc/[0-9]*/comm; do
        pid=${comm_file#/proc/}
        pid=${pid%/comm}
        if pid_is "$pid" "$name"; then
            echo "$pid"
            return 0
        fi
    done
    return 0
}

# True when NAME is not running, judged twice 0.5 s apart. Once is not enough: a daemonizing
# process forks its final pid and exits, and a /proc scan that started before the fork sees
# neither the new process nor (by the time it gets there) the old one.
daemon_gone() {
    [[ -z $(daemon_pid "$1") ]] || return 1
    sleep 0.5
    [[ -z $(daemon_pid "$1") ]]
}

# Remove the pid file when it names no live daemon of that name (left by kill -9 or a crash),
# so the daemon's own start-up check cannot trip over it.
clear_stale_pidfile() {
    local name=$1 pidfile pid
    pidfile=$(pidfile_of "$name")
    [[ -e $pidfile ]] || return 0
    pid=$(tr -dc '0-9' <"$pidfile" 2>/dev/null || true)
    if ! pid_is "$pid" "$name"; then
        log "removing stale $pidfile (pid '${pid}' is not $name)"
        rm -f "$pidfile"
    fi
}

# Stop NAME: SIGTERM (slurmctld saves its state on it), wait up to 30 s, then SIGKILL.
stop_daemon() {
    local name=$1 pid i
    pid=$(daemon_pid "$name")
    if [[ -z $pid ]]; then
        clear_stale_pidfile "$name"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        pid_is "$pid" "$name" || break
        sleep 0.1
    done
    if pid_is "$pid" "$name"; then
        log "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            pid_is "$pid" "$name" || break
            sleep 0.1
        done
    fi
    pid_is "$pid" "$name" && die "$name (pid $pid) survived SIGKILL"
    clear_stale_pidfile "$name"
}

# Explain why NAME did not come up, with the tail of its log, and exit.
fail_with_log() {
    local name=$1 what=$2 logfile
    logfile=$(logfile_of "$name")
    log "ERROR: $name $what"
    if [[ -r $logfile ]]; then
        log "last lines of $logfile:"
        tail -n 25 "$logfile" | sed 's/^/    /' >&2
    else
        log "no log file at $logfile"
    fi
    if [[ -s $(startlog_of "$name") ]]; then
        log "output of its start command ($(startlog_of "$name")):"
        sed 's/^/    /' "$(startlog_of "$name")" >&2
    fi
    exit 1
}

# Run CMD... every 0.2 s until it succeeds or SECONDS_MAX pass; status 1 on timeout.
wait_for() {
    local seconds_max=$1 deadline
    shift
    deadline=$((SECONDS + seconds_max))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}
