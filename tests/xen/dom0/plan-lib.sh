# Helpers for the dom0 test plans (sourced, bash). Every line meant for the
# host starts with "XENLAB: " so tests/xen/run can pick it out of the serial log.
# Sourced once: a second source (closerd-checks.sh names what it needs)
# must not reset the failure count.
[ -n "${XENLAB_PLAN_LIB:-}" ] && return 0
XENLAB_PLAN_LIB=1
# XENLAB_HOME: where the lab's files are (/xenlab in dom0; tests/xen's own
# test of these helpers points it elsewhere).
XENLAB_HOME=${XENLAB_HOME:-/xenlab}
OUT=$XENLAB_HOME/out
mkdir -p "$OUT"
# fd 7: the plan's console, for notes from a step whose output goes to a file.
exec 7>&1
XENLAB_FAILS=0

up() { cut -d' ' -f1 /proc/uptime; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
section() { printf '\n==================== %s (dom0 uptime %s)\n' "$*" "$(up)"; }
# Show a command and its exit code, transcript style.
run() { echo "### \$ $*"; "$@"; local rc=$?; echo "### rc=$rc"; return $rc; }
pass() { echo "XENLAB: CHECK $1 PASS"; }
fail() { echo "XENLAB: FAIL $*"; XENLAB_FAILS=$((XENLAB_FAILS + 1)); }
# check NAME COMMAND...: a named check, PASS or FAIL with the command shown.
check() {
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name (command: $*)"; fi
}
timing() { echo "XENLAB: TIME $1 $2"; echo "$1 $2" >> "$OUT/timings"; }

# wait_for SECONDS COMMAND...: poll every 0.5 s until the command succeeds.
wait_for() {
    local limit=$1 t0; shift
    t0=$(now)
    while ! "$@" >/dev/null 2>&1; do
        awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && return 1
        sleep 0.5
    done
}

# bounded SECONDS COMMAND...: run COMMAND (a program or a function), and
# when it has not finished after SECONDS say what dom0 is doing
# (stall-report) and stop it (TERM, KILL 10 s later). Returns COMMAND's exit
# code, 124 when it was stopped. For the steps whose hang would otherwise
# eat the plan's whole time (xl create/save/restore, scans, gather).
bounded() {
    local limit=$1 pid wd rc; shift
    "$@" &
    pid=$!
    # (its stderr nowhere: bash says "Terminated" when its sleep is stopped)
    ( exec 2>/dev/null
      sleep "$limit"
      kill -0 "$pid" 2>/dev/null || exit 0
      "$XENLAB_HOME/stall-report" "'$*' has not finished after $limit s: stopping it" >&7 2>&1
      touch "$OUT/.bounded-$pid"
      kill -TERM "$pid" 2>/dev/null; sleep 10; kill -KILL "$pid" 2>/dev/null ) &
    wd=$!
    wait "$pid"; rc=$?
    # (out of the job table first: no "Terminated" line from this shell)
    disown "$wd" 2>/dev/null; pkill -P "$wd" 2>/dev/null; kill "$wd" 2>/dev/null
    if [ -e "$OUT/.bounded-$pid" ]; then
        rm -f "$OUT/.bounded-$pid"
        echo "XENLAB: NOTE stopped after $limit s: $*" >&7
        rc=124
    fi
    return $rc
}

domid_of() { xl domid "$1" 2>/dev/null; }
domu_ready() { grep -q "READY" "/var/log/xen/console/guest-$1.log" 2>/dev/null; }

# create_domu NAME [xl key=value...]: create from /xenlab/NAME.cfg, time the
# create and the boot to READY (disk written and read, dom0 pinged).
# libxl gives a qdisk QEMU 10 s per QMP command; under TCG on a loaded host
# that can run out (rc=-9, "Post DM startup configs failed"), so one retry.
create_domu() {
    start_domu "$@" && wait_domu "$1"
}
# start_domu NAME [xl key=value...]: only the `xl create` (one retry);
# wait_domu NAME then waits for its READY. Starting the next domU before
# waiting overlaps the boots.
declare -A DOMU_T0
start_domu() {
    local name=$1 t0; shift
    section "create $name"
    t0=$(now)
    if ! run bounded 300 xl create "/xenlab/$name.cfg" "$@"; then
        echo "XENLAB: NOTE xl create $name failed once after $(since "$t0") s; retrying"
        xl destroy "$name" >/dev/null 2>&1
        sleep 2
        t0=$(now)
        if ! run bounded 300 xl create "/xenlab/$name.cfg" "$@"; then
            fail "xl create $name (twice)"
            # what the toolstack and its hotplug scripts said, for the host
            cp /var/log/xen/*.log "$OUT/" 2>/dev/null
            tail -n 30 /var/log/xen/xen-hotplug.log 2>/dev/null
            ps -eo pid,ppid,stat,wchan:20,etime,args | grep -v '\[.*\]$' | tail -n 40
            return 1
        fi
    fi
    timing "create_$name" "$(since "$t0")"
    DOMU_T0[$name]=$t0
}
wait_domu() {
    local name=$1
    # A quiet host needs ~20 s; a host shared with compilers several times that.
    if wait_for 400 domu_ready "$name"; then
        timing "create_to_ready_$name" "$(since "${DOMU_T0[$name]}")"
    else
        fail "$name did not print READY within 400 s"
        tail -n 20 "/var/log/xen/console/guest-$name.log"
        return 1
    fi
}

# Disk images: du1 through a loop device (kernel blkback), du2 as a file
# (qdisk backend in a QEMU process).
prepare_disks() {
    truncate -s 256M /var/lib/xen/images/du1.img /var/lib/xen/images/du2.img
    losetup /dev/loop0 /var/lib/xen/images/du1.img || fail "losetup du1"
}

plan_end() {
    section "plan end: $XENLAB_FAILS failed checks"
    [ "$XENLAB_FAILS" -eq 0 ]
}
