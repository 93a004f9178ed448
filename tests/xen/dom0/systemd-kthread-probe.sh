#!/bin/bash
# Sourced by plan-systemd after closerd is stopped: a measurement, not a
# gate. Question: may closer put its kernel-thread leaves (blkback rings,
# netback queues) inside a systemd unit's delegated cgroup (Delegate=yes),
# as it may its processes? systemd assumes kernel threads live in the root
# cgroup only (it cannot signal them), so a unit holding one may never look
# empty. Measured on the same Debian systemd that runs closerd's unit:
#   control: a Delegate=yes service with Restart=on-failure, its main
#            process killed with SIGKILL (closerd crashing): seconds until
#            a new main process is active;
#   probe:   the same with one of du1's backend kernel threads moved into a
#            child cgroup of the service; then `systemctl stop` with the
#            thread still there.
# Prints XENLAB: TIME lines and what systemd said; the thread is put back
# in the root cgroup whatever happened (checked).
# Needs plan-lib.sh (now, since, timing, wait_for, run, check) and du1.

kt_unit_restarted() { # UNIT OLDPID: a new main PID, unit active
    local p
    p=$(systemctl show -p MainPID --value "$1")
    [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$2" ] && [ "$(systemctl is-active "$1")" = active ]
}

# kt_run NAME KTHREAD_TID(or empty): one service, killed, maybe restarted, stopped.
kt_run() {
    local name=$1 ktid=$2 unit="kt-$1" cg p0 t0 rc
    systemctl reset-failed "$unit" 2>/dev/null
    run systemd-run --quiet --unit="$unit" -p Delegate=yes -p Restart=on-failure -p RestartSec=1 \
        -p TimeoutStopSec=15 /bin/sleep 3600 || return 1
    wait_for 10 test "$(systemctl is-active "$unit")" = active || return 1
    cg=/sys/fs/cgroup$(systemctl show -p ControlGroup --value "$unit")
    if [ -n "$ktid" ]; then
        mkdir "$cg/kthreads" || return 1
        if echo "$ktid" > "$cg/kthreads/cgroup.procs"; then
            echo "kernel thread $ktid ($(cat "/proc/$ktid/comm")) now in $(cut -d: -f3 "/proc/$ktid/cgroup")"
        else
            echo "kernel thread $ktid: the kernel refused the move"; return 1
        fi
    fi
    p0=$(systemctl show -p MainPID --value "$unit")
    t0=$(now)
    kill -KILL "$p0"
    if wait_for 90 kt_unit_restarted "$unit" "$p0"; then
        timing "kthread_probe_${name}_restart" "$(since "$t0")"
    else
        echo "XENLAB: TIME kthread_probe_${name}_restart >90 (state $(systemctl is-active "$unit"), $(systemctl show -p SubState --value "$unit"))"
    fi
    t0=$(now)
    timeout 60 systemctl stop "$unit"; rc=$?
    timing "kthread_probe_${name}_stop" "$(since "$t0")"
    echo "stop rc=$rc; $(systemctl show "$unit" -p ActiveState -p SubState -p Result | tr '\n' ' ')"
    journalctl -u "$unit" --no-pager -o cat | tail -n 12
    if [ -n "$ktid" ]; then
        echo "$ktid" > /sys/fs/cgroup/cgroup.procs
        rmdir "$cg/kthreads" 2>/dev/null
    fi
    systemctl reset-failed "$unit" 2>/dev/null
    timeout 30 systemctl stop "$unit" 2>/dev/null
    return 0
}

section "measure: a kernel thread inside a systemd unit's delegated cgroup"
kt_tid=$(truth_t3_kthreads | awk -v d="$du1" '$2 == d { print $1; exit }')
kt_found=$(cut -d: -f3 "/proc/$kt_tid/cgroup" 2>/dev/null)
if [ -z "$kt_tid" ]; then
    echo "no backend kernel thread of du1 found: nothing to measure"
else
    echo "du1's backend kernel thread $kt_tid, in cgroup '$kt_found'"
    kt_run control ""
    kt_run probe "$kt_tid"
    check kthread-probe-thread-put-back test "$(cut -d: -f3 "/proc/$kt_tid/cgroup")" = "$kt_found"
fi
