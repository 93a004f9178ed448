# closerd on the live dom0: checks 1-5 (sourced by plan-check, bash).
# Needs PAY (closer's programs) and du1 (blkback, io=light) and du2 (qdisk,
# io=idle) running; the ground truth comes from truth-lib.sh, the check
# helpers (fail, wait_for, timing, domid_of, OUT) from plan-lib.sh.
. /xenlab/plan-lib.sh
. /xenlab/truth-lib.sh
#
#   1 placement   every backend thread of each domU in node<N>/vm<domid>,
#                 affinity within that domU's pCPUs
#   4 memory      M - (n*eps + next level's extra) per domU by I/O level, dom0
#                 target = as found + what the VMs gave, balloons follow
#   3 accounting  the ledger's dom0 CPU per domU vs the backend threads' own
#                 CPU times (/proc/TID/stat) over the same window
#   2 admin work  `xl save du1` runs its save helper in du1's container
#   5 kill -9     restart resumes from the state file, no duplicate ledger rows;
#   6 spanning    du5, a vCPU on each node: each queue under its vCPU on its
#                 node, a leaf per node, QEMU at home, M - 2 eps; pinned
#                 onto one node: that leaf goes, M - eps
#   7 SIGTERM     puts back every affinity, cgroup and memory target as
#                 found before the first closerd started

# Where the package and its unit put them (RuntimeDirectory=, StateDirectory=).
CLOSERD_CONF=/etc/closer/closer.conf
CLOSERD_LEDGER=/var/lib/closer/ledger.db
CLOSERD_STATE=/run/closer/state.json
# Lab sizing: this host has 4 pCPUs and du1 is pinned to pCPUs 0-1 (node 0):
# a 2-vCPU main container (the default profile) would take all of node 0,
# leaving du1's backends nowhere on its socket but main, which closer never
# uses. An operator sizes main so that VMs' pCPUs stay outside it; here one
# vCPU. Memory levels are scaled to the lab's 192 MiB domUs and TCG's I/O
# rates (a few ops/s): eps 16 MiB, level 1 from 2 ops/s.
EPS_MIB=16 L1_OPS=2 L1_MIB=16 L2_MIB=48
write_closerd_conf() {
    mkdir -p "$(dirname "$CLOSERD_CONF")"
    cat > "$CLOSERD_CONF" <<EOF
[main]
profile = custom
vcpus = 1
mem_mib = 512
node = 0

[memory]
eps_mib = $EPS_MIB
floor_mib = 64
levels = 0:0, $L1_OPS:$L1_MIB, 1000000:$L2_MIB
hysteresis_pct = 20
EOF
}
# dom0 memory held for a one-socket VM at I/O level L (Algorithm 1): eps at
# level 0; from level 1 on, eps plus the extra of the level above (memory is
# requested one level in advance; the top level's at the top).
hold_kib() {
    case $1 in
        0) echo $((EPS_MIB * 1024)) ;;
        *) echo $(((EPS_MIB + L2_MIB) * 1024)) ;;
    esac
}

# closerd as its systemd unit starts it (this dom0 has no systemd: the
# unit's ExecStart= is run as written, in the directories the unit makes),
# plus the lab's sampling: a 2 s tick (TCG), one ledger interval per tick.
closerd_start() {
    local exec_start=()
    if [ -f /lib/systemd/system/closerd.service ]; then
        read -ra exec_start <<< "$(sed -n 's/^ExecStart=//p' /lib/systemd/system/closerd.service)"
    else
        exec_start=("$PAY/closerd" --hypervisor xen)
    fi
    mkdir -p /run/closer /var/lib/closer
    "${exec_start[@]}" --tick-ms 2000 --ledger-interval 0 --config "$CLOSERD_CONF" \
        --state "$CLOSERD_STATE" --ledger "$CLOSERD_LEDGER" >> "$OUT/closerd.log" 2>&1 &
    cpid=$!
}
# SIGTERM, then at most 30 s for the restore and exit; a closerd still there
# is shown (state, kernel stack) and killed, so the plan never hangs here.
closerd_stop() {
    kill -TERM "$cpid"
    for _ in $(seq 60); do
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$cpid" 2>/dev/null; then
        fail "closerd-stops-on-sigterm: still running 30 s after SIGTERM"
        grep -E '^(State|Threads)' "/proc/$cpid/status"
        cat "/proc/$cpid/wchan" 2>/dev/null; echo
        cat "/proc/$cpid/stack" 2>/dev/null
        kill -9 "$cpid"
    fi
    wait "$cpid"
}
closerd_alive() {
    if kill -0 "$cpid" 2>/dev/null; then return 0; fi
    wait "$cpid"
    fail "closerd-alive ($1): closerd exited $? ($(tail -c 300 "$OUT/closerd.log" | tr '\n' ' '))"
    return 1
}

xs_target() { xenstore-read "/local/domain/$1/memory/target" 2>/dev/null; }
# Current size in KiB (Xen's tot_pages), from xl list's MiB.
actual_kib() { xl list "$1" 2>/dev/null | awk 'NR == 2 { print $3 * 1024 }'; }
# targets_are DOMID KIB [DOMID KIB...]: each domain's balloon target is KIB.
targets_are() {
    while [ $# -gt 1 ]; do
        [ "$(xs_target "$1")" = "$2" ] || return 1
        shift 2
    done
}
# targets_traced TRACE DOMID KIB [DOMID KIB...]: targets_are, and each poll's
# targets appended to TRACE as "UPTIME T1 T2 ..." (a failed wait then shows
# what the targets were over the window, not only at its end).
targets_traced() {
    local trace=$1 line d; shift
    line=$(up)
    for d in $(printf '%s\n' "$@" | awk 'NR % 2'); do line="$line $(xs_target "$d")"; done
    echo "$line" >> "$trace"
    targets_are "$@"
}
# trace_changes TRACE: the polls at which the targets changed.
trace_changes() { awk '{ k = $0; sub(/^[^ ]* /, "", k) } k != last { print "  uptime " $0; last = k }' "$1"; }
# sizes_near TOL_KIB DOMID KIB [DOMID KIB...]: each domain's size within TOL.
sizes_near() {
    local tol=$1 a; shift
    while [ $# -gt 1 ]; do
        a=$(actual_kib "$1")
        [ -n "$a" ] && [ $((a - $2)) -le "$tol" ] && [ $(($2 - a)) -le "$tol" ] || return 1
        shift 2
    done
}
# balloons_follow DU1_KIB DU2_KIB DOM0_KIB: the domUs within 2 MiB, dom0
# within 4 MiB (xl list rounds to MiB).
balloons_follow() { sizes_near 2048 "$du1" "$1" "$du2" "$2" && sizes_near 4096 0 "$3"; }
# cpus_within CPULIST "SET": every CPU of the list is in the space-separated set.
cpus_within() {
    local c
    for c in $(expand_cpus "$1"); do
        case " $2 " in *" $c "*) ;; *) return 1 ;; esac
    done
}

# has_backends DOMID: its blkback thread and a netback thread are there.
has_backends() {
    local th
    th=$(truth_t3 | awk -v d="$1" '$2 == d')
    grep -q . <<< "$th" && [ -n "$(truth_vif_irqs | awk -v d="$1" '$2 == d')" ] &&
        grep -qx "$1.xvda-[0-9]*" /proc/[0-9]*/comm
}
# check_placement LABEL DOMID...: the T3 threads of these domains.
check_placement() {
    local label=$1 t d a cg c want bad=0 n=0; shift
    local doms=" $* "
    # each domain's pCPUs once (every command is dear on this emulated dom0)
    local -A pcpus=()
    for d in "$@"; do pcpus[$d]=$(domain_pcpus "$d" | tr '\n' ' '); done
    while read -r t d; do
        [ -n "$t" ] || continue
        case $doms in *" $d "*) ;; *) continue ;; esac
        n=$((n + 1))
        want=${pcpus[$d]}
        a=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$t/status" 2>/dev/null) || continue
        cg=$(sed -n 's/^0:://p' "/proc/$t/cgroup" 2>/dev/null)
        cpus_within "$a" "$want" || { echo "  thread $t (domain $d): affinity $a not within domain $d's pCPUs $want"; bad=$((bad + 1)); }
        for c in $(expand_cpus "$a"); do
            case " $MAIN_CPUS " in *" $c "*) echo "  thread $t (domain $d): affinity $a includes main's CPU $c"; bad=$((bad + 1)); break ;; esac
        done
        # (under systemd's units a whole process is in its container's scope)
        case $cg in */node[0-9]*/vm"$d"|/closer.slice/closer-node[0-9]*-vm"$d".scope) ;; *) echo "  thread $t (domain $d): cgroup $cg, not .../node<N>/vm$d"; bad=$((bad + 1)) ;; esac
    done <<< "$(truth_t3)"
    # netback IRQs: bound to one dom0 CPU under the domain's vCPUs, not main's
    local irq q m=0
    while read -r irq d q; do
        [ -n "$irq" ] || continue
        case $doms in *" $d "*) ;; *) continue ;; esac
        m=$((m + 1))
        want=${pcpus[$d]}
        a=$(cat "/proc/irq/$irq/smp_affinity_list" 2>/dev/null)
        if [ "$(expand_cpus "$a" | wc -l)" -ne 1 ]; then
            echo "  IRQ $irq (domain $d queue $q): affinity $a, not one CPU"; bad=$((bad + 1)); continue
        fi
        cpus_within "$a" "$want" || { echo "  IRQ $irq (domain $d queue $q): CPU $a not under domain $d's vCPUs ($want)"; bad=$((bad + 1)); }
        case " $MAIN_CPUS " in *" $a "*) echo "  IRQ $irq (domain $d): on main's CPU $a"; bad=$((bad + 1)) ;; esac
    done <<< "$(truth_vif_irqs)"
    n="$n threads, $m IRQs"
    if [ "${n%% *}" -gt 0 ] && [ $bad -eq 0 ]; then pass "closerd-places-$label ($n)"; else fail "closerd-places-$label: $bad problems over $n"; fi
}

# What closerd sees: each domain's I/O rate and level (its last snapshot).
io_levels() {
    "$PAY/closerctl" snapshot 2>/dev/null | jq -c '.domains[] | {domid, io_ops_per_s, io_level, mem_kib}' 2>/dev/null
}
# wait_memory LABEL LEVEL1 LEVEL2 SECONDS: du1 at I/O level LEVEL1, du2 at
# LEVEL2 -> the exact targets Algorithm 1 gives, then the balloons follow.
wait_memory() {
    local label=$1 l1=$2 l2=$3 limit=$4 follow=${5:-follow} h1 h2 w1 w2 w0 t0
    h1=$(hold_kib "$l1"); h2=$(hold_kib "$l2")
    w1=$((M1 - h1)); w2=$((M2 - h2)); w0=$((D0 + h1 + h2))
    t0=$(now)
    local trace="$OUT/targets-$label"
    : > "$trace"
    if wait_for "$limit" targets_traced "$trace" "$du1" "$w1" "$du2" "$w2" 0 "$w0"; then
        pass "closerd-memory-targets-$label (du1 $w1, du2 $w2, dom0 $w0 KiB after $(since "$t0") s)"
    else
        fail "closerd-memory-targets-$label: want du1 $w1 du2 $w2 dom0 $w0 KiB, have du1 $(xs_target "$du1") du2 $(xs_target "$du2") dom0 $(xs_target 0)"
        echo "targets (du1 du2 dom0) over the wait, $(wc -l < "$trace") polls, where they changed:"
        trace_changes "$trace"
        io_levels
        return 1
    fi
    local sum=$(($(xs_target "$du1") + $(xs_target "$du2") + $(xs_target 0)))
    if [ "$sum" -eq $((M1 + M2 + D0)) ]; then
        pass "closerd-memory-conserved-$label ($sum KiB)"
    else
        fail "closerd-memory-conserved-$label: targets sum to $sum KiB, found $((M1 + M2 + D0))"
    fi
    [ "$follow" = follow ] || return 0
    # The guests' and dom0's balloons follow (xl list rounds to MiB).
    if wait_for 60 balloons_follow "$w1" "$w2" "$w0"; then
        pass "closerd-memory-balloons-follow-$label"
    else
        fail "closerd-memory-balloons-follow-$label: actual du1 $(actual_kib "$du1") du2 $(actual_kib "$du2") dom0 $(actual_kib 0) KiB"
    fi
}

# The utime+stime of each domU's backends, as "KEY DOMID TICKS" lines for
# cpu_delta: a backend kernel thread by its own times (task/TID/stat; the
# /proc/TID/stat of a thread that is not its process's leader sums the
# whole process), a QEMU backend by its process's times (KEY p<PID>), which
# include its threads that exited meanwhile (a qdisk QEMU's workers come and
# go: per thread, the work of one that exits inside the window was lost).
cpu_sample() {
    local t pid d
    while read -r t d; do
        [ -n "$t" ] || continue
        awk -v k="$t" -v d="$d" '{ sub(/^.*\) /, ""); print k, d, $12 + $13 }' "/proc/$t/task/$t/stat" 2>/dev/null
    done <<< "$(truth_t3_kthreads)"
    while read -r pid d; do
        [ -n "$pid" ] && [ -n "$d" ] || continue
        awk -v k="p$pid" -v d="$d" '{ sub(/^.*\) /, ""); print k, d, $12 + $13 }' "/proc/$pid/stat" 2>/dev/null
    done <<< "$(truth_qemu_pids)"
}
# cpu_delta A B: per domid, CPU ns between two samples (threads and
# processes born in between count from 0; kernel threads gone by B are not
# counted).
cpu_delta() {
    awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { a[$1] = $3; next }
        { d[$2] += $3 - ($1 in a ? a[$1] : 0) }
        END { for (k in d) printf "%s %.0f\n", k, d[k] * 1e9 / hz }' "$1" "$2"
}
# CPU time of the waited-for children (cutime + cstime) of the shell running
# closerd_checks (CHECKS_PID: it runs in a subshell, and $(...) is another).
CLK_TCK=$(getconf CLK_TCK)
children_ns() {
    awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.0f\n", ($14 + $15) * 1e9 / hz }' "/proc/${CHECKS_PID:-$$}/stat"
}
# ledger_cpu DOMID T_A T_B: dom0 CPU ns the ledger billed DOMID in the rows
# overlapping [T_A, T_B] (wall ns).
ledger_cpu() {
    jq -r --argjson d "$1" --argjson a "$2" --argjson b "$3" \
        '[.rows[] | select(.domid == $d and .wall_end_ns > $a and .wall_start_ns < $b) | .dom0_cpu_ns] | add // 0' "$OUT/ledger.json"
}

# ledger_span DOMID T_A T_B: wall ns from the first start to the last end of
# those rows.
ledger_span() {
    jq -r --argjson d "$1" --argjson a "$2" --argjson b "$3" \
        '[.rows[] | select(.domid == $d and .wall_end_ns > $a and .wall_start_ns < $b)] | if length == 0 then 0 else (map(.wall_end_ns) | max) - (map(.wall_start_ns) | min) end' "$OUT/ledger.json"
}

closerd_checks() {
    local rc t0 a b
    CHECKS_PID=$BASHPID
    section "closerd on the live dom0 (checks 1-5)"
    [ -x "$PAY/closerd" ] || { echo "no closerd built: skipped"; return 0; }
    write_closerd_conf
    cat "$CLOSERD_CONF"
    # As found, before any closerd: thread and IRQ affinities, cgroups of
    # du2's backends, memory targets (dom0 may have none yet: nothing writes
    # it before an `xl mem-set 0`; its size is its target then, as for libxl).
    all_affinities | sort > "$OUT/aff-before"
    truth_t3 | sort > "$OUT/truth-t3-before"
    irq_affinities > "$OUT/irq-before"
    irq_names | sort > "$OUT/irq-names-before"
    while read -r t d; do
        [ "$d" = "$du2" ] && echo "$t $(sed -n 's/^0:://p' "/proc/$t/cgroup")"
    done <<< "$(truth_t3)" | sort > "$OUT/cg-before-du2"
    du1_first=$du1
    DU1_PCPUS=$(domain_pcpus "$du1" | tr '\n' ' ')     # static: cpus= in du1.cfg
    M1=$(xs_target "$du1"); M2=$(xs_target "$du2"); D0=$(xs_target 0)
    D0_WAS_SET=1
    [ -n "$D0" ] || { D0=$(actual_kib 0); D0_WAS_SET=0; }
    echo "as found: du1 $M1 KiB, du2 $M2 KiB, dom0 $D0 KiB (xenstore target set: $D0_WAS_SET)"

    closerd_start
    sleep 16
    closerd_alive "after start" || return 1
    pass closerd-running
    MAIN_CPUS=$("$PAY/closerctl" status --json | jq -r '.main.dom0_cpus // empty')
    MAIN_CPUS=$(expand_cpus "$MAIN_CPUS" | tr '\n' ' ')
    check closerd-status-main-cpus test -n "$MAIN_CPUS"
    echo "main container: dom0 CPUs $MAIN_CPUS"
    check_placement start "$du1" "$du2"
    if grep -q 'container: .*Invalid argument' "$OUT/closerd.log"; then
        fail "closerd-containers-made: $(grep -m1 'container: ' "$OUT/closerd.log")"
    else
        pass closerd-containers-made
    fi

    # --- 4: memory levels (du1 doing I/O -> level 1; paused -> level 0) ---
    section "closerd: memory by I/O level"
    # dom0's size as found is in pages; xl list rounds to MiB: closerd's own
    # record must agree within that, and is what the exact checks use.
    local d0c
    d0c=$(jq -r '.dom0_target_kib // empty' "$CLOSERD_STATE" 2>/dev/null)
    if [ -n "$d0c" ] && [ $((d0c - D0)) -le 1024 ] && [ $((D0 - d0c)) -le 1024 ]; then
        pass "closerd-dom0-target-as-found ($d0c KiB)"
        D0=$d0c
    else
        fail "closerd-dom0-target-as-found: closerd recorded '${d0c}', dom0 had $D0 KiB"
    fi
    wait_memory du1-busy 1 0 60
    io_levels
    # Paused, du1 drops to level 0: its target goes back up at once, but a
    # paused guest's balloon cannot follow. closerd must notice (after its
    # 30 s grace), give du1 its memory as found back and stop counting it in
    # dom0's share.
    xl pause du1
    wait_memory du1-paused 0 0 60 no-follow
    io_levels
    local w0s=$((D0 + $(hold_kib 0)))
    t0=$(now)
    if wait_for 90 targets_are "$du1" "$M1" 0 "$w0s"; then
        pass "closerd-stuck-balloon-put-back (du1 $M1, dom0 $w0s KiB after $(since "$t0") s)"
    else
        fail "closerd-stuck-balloon-put-back: want du1 $M1 dom0 $w0s KiB, have du1 $(xs_target "$du1") dom0 $(xs_target 0)"
    fi
    grep -m1 'balloon does not follow' "$OUT/closerd.log"
    closerd_alive "after memory" || return 1

    # --- 3: accounting. du1 is paused at both ends of the window, so that its
    # backends are idle while the two samples and closerd's ticks straddle
    # the edges; in between it does its I/O for 40 s. du2 stays idle. ---
    section "closerd: ledger vs the threads' own CPU time"
    sleep 5
    # The ledger bills whole ticks: its rows overlapping [a, b] start up to
    # a tick before a and end up to a tick after b. So the truth is taken
    # twice: inside (samples within [a, b], which take seconds each here)
    # and outside (samples more than a tick before a and after b). The
    # ledger must lie between the two, give or take 5 % + 30 ms: idle du2's
    # QEMU answers closerd's QMP poll every 10 s, and whether a poll falls
    # in the rows' overhang decides whether the ledger shows it.
    cpu_sample > "$OUT/cpu-a0"
    sleep 3
    a=$(date +%s%N)
    cpu_sample > "$OUT/cpu-a"
    # The xl pause/unpause inside the window are admin work for du1 and
    # billed to it as far as closerd's ticks see them: their CPU (the plan's
    # children's time) bounds what the ledger may add to du1's backends.
    local c0 c1 c2 c3
    c0=$(children_ns); xl unpause du1; c1=$(children_ns)
    sleep 40
    c2=$(children_ns); xl pause du1; c3=$(children_ns)
    XL_NS=$((c1 - c0 + c3 - c2))
    sleep 6
    cpu_sample > "$OUT/cpu-b"
    b=$(date +%s%N)
    sleep 3
    cpu_sample > "$OUT/cpu-b0"
    xl unpause du1
    if "$PAY/closerctl" accounting --json > "$OUT/ledger.json" 2> "$OUT/ledger.err"; then
        pass closerctl-accounting
    else
        fail "closerctl-accounting: $(head -c 300 "$OUT/ledger.err")"
    fi
    cpu_delta "$OUT/cpu-a" "$OUT/cpu-b" > "$OUT/cpu-truth"
    cpu_delta "$OUT/cpu-a0" "$OUT/cpu-b0" > "$OUT/cpu-truth-outer"
    local t1 t2 o1 o2 l1 l2
    t1=$(awk -v d="$du1" '$1 == d { print $2 }' "$OUT/cpu-truth"); t1=${t1:-0}
    t2=$(awk -v d="$du2" '$1 == d { print $2 }' "$OUT/cpu-truth"); t2=${t2:-0}
    o1=$(awk -v d="$du1" '$1 == d { print $2 }' "$OUT/cpu-truth-outer"); o1=${o1:-0}
    o2=$(awk -v d="$du2" '$1 == d { print $2 }' "$OUT/cpu-truth-outer"); o2=${o2:-0}
    l1=$(ledger_cpu "$du1" "$a" "$b"); l2=$(ledger_cpu "$du2" "$a" "$b")
    local span
    span=$(ledger_span "$du2" "$a" "$b")
    echo "dom0 CPU, window $(((b - a) / 1000000)) ms (ledger rows $((span / 1000000)) ms): du1 backends $t1 ns inside, $o1 ns outside, ledger $l1 ns; du2 backends $t2 ns inside, $o2 ns outside, ledger $l2 ns"
    echo "XENLAB: NOTE accounting window_ms=$(((b - a) / 1000000)) rows_span_ms=$((span / 1000000)) du1 inner_ns=$t1 outer_ns=$o1 xl_ns=$XL_NS ledger_ns=$l1 du2 inner_ns=$t2 outer_ns=$o2 ledger_ns=$l2"
    # between LOW and HIGH, 5 % (+ 30 ms: the clock-tick granularity of
    # /proc/TID/stat over a few threads) outside them allowed
    between() { awk -v l="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(l >= lo - 0.05 * lo - 30e6 && l <= hi + 0.05 * hi + 30e6) }'; }
    echo "xl unpause + pause du1 inside the window: $XL_NS ns of CPU"
    if [ "$t1" -gt 0 ] && between "$l1" "$t1" "$((o1 + XL_NS))"; then
        pass "closerd-ledger-matches-threads-du1 (ledger $l1 ns; backends $t1-$o1 ns + xl up to $XL_NS ns)"
    else
        fail "closerd-ledger-matches-threads-du1: ledger $l1 ns, backends $t1 ns inside, $o1 ns outside the window (+ xl admin work up to $XL_NS ns)"
    fi
    if between "$l2" "$t2" "$o2"; then
        pass "closerd-ledger-matches-threads-du2 (ledger $l2 ns; backends $t2-$o2 ns)"
    else
        fail "closerd-ledger-matches-threads-du2: ledger $l2 ns, backends $t2 ns inside, $o2 ns outside the window"
    fi
    # (idle du2 is not at zero: its qdisk QEMU answers closerd's QMP poll
    # for block counters every 10 s, and that work is billed to du2)
    if [ "$l1" -gt 0 ] && [ $((l2 * 2)) -lt "$l1" ]; then
        pass "closerd-busy-pays-more (du1 $l1 ns vs idle du2 $l2 ns)"
    else
        fail "closerd-busy-pays-more: du1 (I/O) $l1 ns, du2 (idle) $l2 ns"
    fi
    closerd_alive "after accounting" || return 1
    # What closerd's own ticks cost on this dom0, by phase (not a check:
    # the figure for the benchmark notes; TCG makes every syscall dear).
    "$PAY/closerctl" status | grep '^own CPU' || true
    echo "XENLAB: NOTE closerd_own_cpu $("$PAY/closerctl" status --json | jq -c '{ticks, tick_cpu_ns}' 2>/dev/null)"

    # --- 2: admin work: xl save of du1 while closerd runs ---
    section "closerd: xl save du1 runs in du1's container"
    local helper cg aff want=$DU1_PCPUS ok=0
    t0=$(now)
    xl save du1 /var/lib/xen/du1-closerd.save > "$OUT/save-closerd.log" 2>&1 &
    local spid=$!
    if wait_for 30 pgrep -f libxl-save-helper; then
        helper=$(pgrep -f libxl-save-helper | head -n1)
        # closerd places it on the exec event, or at the next tick at most
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            cg=$(sed -n 's/^0:://p' "/proc/$helper/cgroup" 2>/dev/null)
            case $cg in */vm"$du1"|/closer.slice/closer-node[0-9]*-vm"$du1".scope) ok=1; break ;; esac
            sleep 0.5
        done
        aff=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$helper/status" 2>/dev/null)
        echo "save helper $helper: cgroup $cg, affinity $aff (du1's pCPUs: $want)"
        if [ $ok = 1 ]; then pass "closerd-save-helper-in-du1-container ($cg)"; else fail "closerd-save-helper-in-du1-container: cgroup ${cg:-gone}"; fi
        if [ -n "$aff" ] && cpus_within "$aff" "$want"; then pass "closerd-save-helper-on-du1-cpus ($aff)"; else fail "closerd-save-helper-on-du1-cpus: $aff not within $want"; fi
    else
        fail "closerd-save-helper-seen: no libxl-save-helper within 30 s"
    fi
    wait $spid; rc=$?
    if [ $rc -eq 0 ]; then timing save_du1_closerd "$(since "$t0")"; pass xl-save-under-closerd; else fail "xl save du1 under closerd rc=$rc"; cat "$OUT/save-closerd.log"; fi
    t0=$(now)
    if xl restore /var/lib/xen/du1-closerd.save > "$OUT/restore-closerd.log" 2>&1; then
        timing restore_du1_closerd "$(since "$t0")"
        # xl restore can return before the domain has its name back
        # (du1--incoming): wait for it.
        wait_for 30 sh -c 'xl domid du1 | grep -qx "[0-9][0-9]*"'
        du1=$(domid_of du1)
        [ -n "$du1" ] || { fail "closerd-restored-domid: no domain du1 30 s after xl restore"; return 1; }
        # Backends come up as the restored kernel reconnects (tens of
        # seconds under TCG); then closerd has a few ticks to place them.
        if wait_for 120 has_backends "$du1"; then
            sleep 6
            check_placement restored "$du1"
        else
            fail "closerd-places-restored: no backend thread of du1 ($du1) within 120 s of its restore"
        fi
    else
        fail "xl restore du1 under closerd"; cat "$OUT/restore-closerd.log"
        du1=$(domid_of du1)
    fi
    rm -f /var/lib/xen/du1-closerd.save
    closerd_alive "after save/restore" || return 1

    # --- 5: kill -9, restart, then SIGTERM puts everything back ---
    section "closerd: kill -9, restart, SIGTERM"
    kill -9 "$cpid"; wait "$cpid" 2>/dev/null
    check closerd-state-file-kept sh -c "jq -e '.format == \"closer-state/1\"' '$CLOSERD_STATE' >/dev/null"
    closerd_start
    sleep 12
    closerd_alive "after restart" || return 1
    pass closerd-restarted
    if "$PAY/closerctl" accounting --json > "$OUT/ledger-2.json" 2>> "$OUT/ledger.err"; then
        local dups overlaps
        dups=$(jq -r '.rows[] | "\(.boot_id) \(.start_ns) \(.uuid)"' "$OUT/ledger-2.json" | sort | uniq -d | wc -l)
        overlaps=$(jq -r '[.rows[]] | group_by(.uuid)[] | sort_by(.start_ns) | . as $r | range(1; length) | select($r[.].start_ns < $r[. - 1].end_ns) | $r[.].uuid' "$OUT/ledger-2.json" | wc -l)
        echo "ledger after kill -9 + restart: $(jq '.rows | length' "$OUT/ledger-2.json") rows, $dups duplicates, $overlaps overlaps"
        if [ "$dups" -eq 0 ] && [ "$overlaps" -eq 0 ]; then pass closerd-ledger-no-duplicates-after-kill; else fail "closerd-ledger-no-duplicates-after-kill: $dups duplicate rows, $overlaps overlapping intervals"; fi
    else
        fail "closerctl accounting after restart: $(tail -c 300 "$OUT/ledger.err")"
    fi
    check_placement resumed "$du1" "$du2"
    closerd_span_checks
    closerd_alive "after the spanning VM" || { span_cleanup; return 1; }
    closerd_stop
    rc=$?
    if [ $rc -eq 0 ]; then pass closerd-sigterm-exit-0; else fail "closerd-sigterm-exit-0: exit $rc"; fi

    affinities_restored closerd-affinity-restored "$OUT/aff-before" "$OUT/truth-t3-before" " after SIGTERM"
    # IRQs: those with the same name before and after, du1's excluded (its
    # IRQs were torn down by the save and made anew by the restore, and
    # blkback's are all named alike: du1 is the only blkback domain here).
    irq_affinities > "$OUT/irq-after"
    irq_names | sort > "$OUT/irq-names-after"
    local same bad_irq
    same=$(join "$OUT/irq-names-before" "$OUT/irq-names-after" | awk '$2 == $3 && $2 !~ re { print $1 }' re="^(blkif|vif($du1_first|$du1)\\.)")
    bad_irq=$(for i in $same; do join <(grep "^$i " "$OUT/irq-before") <(grep "^$i " "$OUT/irq-after") | awk '$2 != $3'; done)
    if [ -n "$same" ] && [ -z "$bad_irq" ]; then pass "closerd-irq-affinity-restored ($(wc -w <<< "$same") IRQs)"; else fail "closerd-irq-affinity-restored: $(echo "$bad_irq" | head -n 5 | tr '\n' ';')"; fi
    local cg_bad
    cg_bad=$(while read -r t c; do
        now_cg=$(sed -n 's/^0:://p' "/proc/$t/cgroup" 2>/dev/null) || continue
        [ -n "$now_cg" ] && [ "$now_cg" != "$c" ] && echo "tid $t: $c before, $now_cg after"
    done < "$OUT/cg-before-du2")
    if [ -s "$OUT/cg-before-du2" ] && [ -z "$cg_bad" ]; then pass "closerd-cgroups-restored ($(wc -l < "$OUT/cg-before-du2") du2 threads)"; else fail "closerd-cgroups-restored: $(echo "$cg_bad" | head -n 3 | tr '\n' ';')"; fi
    check closerd-cgroup-subtree-removed test ! -d /sys/fs/cgroup/closer
    local d0now
    d0now=$(xs_target 0)
    if [ -n "${SPAN_DOMID:-}" ]; then
        check closerd-memory-restored-du5 test "$(xs_target "$SPAN_DOMID")" = "$SPAN_M"
    fi
    span_cleanup
    if [ "$(xs_target "$du2")" = "$M2" ] && [ -n "$d0now" ] && [ $((d0now - D0)) -le 1024 ] && [ $((D0 - d0now)) -le 1024 ]; then
        pass "closerd-memory-restored (du2 $M2, dom0 $d0now KiB)"
    else
        fail "closerd-memory-restored: du2 $(xs_target "$du2") (found $M2), dom0 $d0now (found $D0) KiB"
    fi
    tail -n 30 "$OUT/closerd.log"
}

# "IRQ NAME" from /proc/interrupts (the last column).
irq_names() {
    awk 'NR > 1 && $1 ~ /^[0-9]+:$/ { sub(":", "", $1); print $1, $NF }' /proc/interrupts
}

# --- A VM on both sockets (du5: vCPU 0 on pCPU 1, node 0; vCPU 1 on pCPU 3,
# node 1), with closerd running: the thesis §3.3 serves it from the
# secondary container of each socket it runs on, each queue under the vCPU
# using it (§3.3.2), n = 2 in M - n*eps (Algorithm 1), its device model at
# home (the node holding most of its memory). The expectations come from
# Xen (xl vcpu-list, xl info -n, the 'u' key's NUMA dump), the result from
# /proc, the cgroup tree and xenstore. ---

# node_of_pcpu P: Xen's node of pCPU P (xl info -n, cpu_topology).
node_of_pcpu() {
    xl info -n | awk -v p="$1" '/^cpu_topology/ { t = 1; next } /^cpu:/ { next } /^[a-z]/ { t = 0 }
        t && $1 ~ /^[0-9]+:$/ { sub(":", "", $1); if ($1 == p) print $4 }'
}
# xen_home_node D: the node holding most of domain D's pages in Xen's own
# NUMA dump (debug key 'u'; ties: lowest node id, as closer's rule for
# domains with as many vCPUs on each node).
xen_home_node() {
    xl debug-keys u
    sleep 1
    xl dmesg | awk -v d="$1" '
        /Domain [0-9]+ \(total:/ { cur = ($0 ~ ("Domain " d " \\(total:")); if (cur) { n = 0; delete pg } next }
        cur && /Node [0-9]+:/ { k = $0; sub(/.*Node /, "", k); split(k, a, ":"); pg[a[1] + 0] = a[2] + 0; n++; next }
        { cur = 0 }
        END { best = -1; for (i in pg) if (best < 0 || pg[i] > pg[best] || (pg[i] == pg[best] && i + 0 < best + 0)) best = i
              if (best >= 0) { printf "%d", best; for (i in pg) printf " node%d=%d", i, pg[i]; print "" } }'
}
# leaf_nodes D: the node<N> of every cgroup leaf vm<D> under closer's subtree.
leaf_nodes() {
    find /sys/fs/cgroup/closer -type d -name "vm$1" 2>/dev/null | sed -n 's|.*/node\([0-9]*\)/vm[0-9]*$|\1|p' | sort -n | tr '\n' ' '
}
# thread_at TID NODE CPUS D: the thread is in leaf node<NODE>/vm<D> with
# affinity exactly CPUS; else says what it is.
thread_at() {
    local t=$1 node=$2 cpus=$3 d=$4 cg a
    cg=$(sed -n 's/^0:://p' "/proc/$t/cgroup" 2>/dev/null)
    a=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$t/status" 2>/dev/null)
    case $cg in */node"$node"/vm"$d") ;; *) echo "  $(cat "/proc/$t/comm" 2>/dev/null) ($t): cgroup $cg, not .../node$node/vm$d"; return 1 ;; esac
    [ "$a" = "$cpus" ] || { echo "  $(cat "/proc/$t/comm" 2>/dev/null) ($t): affinity $a, not $cpus"; return 1; }
}
# queues_placed D NODE_OF_Q0 CPU_OF_Q0 NODE_OF_Q1 CPU_OF_Q1: every backend
# kernel thread of queue q (blkback ring "<D>.xvda-q", netback
# "vif<D>.0-q<q>-*") in queue q's leaf on queue q's CPU, every VM-initiated
# netback IRQ of queue q ("-tx") on queue q's CPU, the external ones ("-rx")
# on one of the two. Prints what is wrong; returns 1 if anything is.
queues_placed() {
    local d=$1 t c q bad=0 n=0 irq a
    local -a node=("$2" "$4") cpu=("$3" "$5")
    while read -r t _; do
        [ -n "$t" ] || continue
        c=$(cat "/proc/$t/comm" 2>/dev/null) || continue
        if [[ $c =~ ^$d\.xvd[a-z]+-([0-9]+)$ ]] || [[ $c =~ ^vif$d\.[0-9]+-q([0-9]+)- ]]; then
            q=$((BASH_REMATCH[1] % 2)); n=$((n + 1))
            thread_at "$t" "${node[$q]}" "${cpu[$q]}" "$d" || bad=$((bad + 1))
        fi
    done <<< "$(truth_t3_kthreads | awk -v d="$d" '$2 == d')"
    local dir
    while read -r irq q dir; do
        [ -n "$irq" ] || continue
        n=$((n + 1))
        a=$(cat "/proc/irq/$irq/smp_affinity_list" 2>/dev/null)
        if [ "$dir" = tx ]; then
            [ "$a" = "${cpu[$((q % 2))]}" ] || { echo "  IRQ $irq (queue $q tx, VM-initiated): CPU $a, not ${cpu[$((q % 2))]}"; bad=$((bad + 1)); }
        else
            [ "$a" = "${cpu[0]}" ] || [ "$a" = "${cpu[1]}" ] || { echo "  IRQ $irq (queue $q rx, external): CPU $a, not ${cpu[0]} or ${cpu[1]}"; bad=$((bad + 1)); }
        fi
    done <<< "$(sed -n "s/^ *\([0-9]*\):.* vif$d\.[0-9]*-q\([0-9]*\)-\([rt]x\)\$/\1 \2 \3/p" /proc/interrupts)"
    echo "  $n threads and IRQs of domain $d compared"
    [ "$n" -gt 0 ] && [ $bad -eq 0 ]
}
# qemu_at_home D NODE: every thread of D's qdisk QEMU in node<NODE>/vm<D>
# (under systemd's units: in closer-node<NODE>-vm<D>.scope).
qemu_at_home() {
    local d=$1 node=$2 pid t cg n=0 bad=0
    pid=$(truth_qemu_pids | awk -v d="$d" '$2 == d { print $1 }')
    [ -n "$pid" ] || { echo "  no QEMU with -xen-domid $d"; return 1; }
    for t in /proc/"$pid"/task/[0-9]*; do
        cg=$(sed -n 's/^0:://p' "$t/cgroup" 2>/dev/null) || continue
        n=$((n + 1))
        case $cg in */node"$node"/vm"$d"|/closer.slice/closer-node"$node"-vm"$d".scope) ;; *) echo "  QEMU $pid thread ${t##*/}: cgroup $cg"; bad=$((bad + 1)) ;; esac
    done
    echo "  QEMU $pid: $n threads"
    [ $bad -eq 0 ]
}
leaf_gone() { case " $(leaf_nodes "$1")" in *" $2 "*) return 1 ;; esac; }
du5_backends_up() {
    grep -qx "$1.xvda-1" /proc/[0-9]*/comm &&
        [ "$(truth_vif_irqs | awk -v d="$1" '$2 == d && $3 == 1' | wc -l)" -ge 1 ] &&
        [ -n "$(truth_qemu_pids | awk -v d="$1" '$2 == d')" ]
}
queues_placed_quiet() { queues_placed "$@" > /dev/null; }

# closerd_span_checks: with closerd running (cpid). Leaves du5 running and
# sets SPAN_DOMID and SPAN_M (its target as found, KiB) for the SIGTERM
# checks; the caller destroys it (span_cleanup).
closerd_span_checks() {
    local d p0 p1 n0 n1 home hn other pin_v pin_p m t0 want nodes
    section "closerd: a VM on both sockets (du5)"
    truncate -s 64M /var/lib/xen/images/du5-xvda.img /var/lib/xen/images/du5.img
    losetup /dev/loop3 /var/lib/xen/images/du5-xvda.img || { fail "losetup du5"; return 1; }
    # idle after its boot: I/O level 0 throughout, so that its target is
    # M - n*eps exactly
    start_domu du5 'extra="console=hvc0 role=domU uid=5 uip=10.99.0.15 io=idle"' || return 1
    wait_domu du5 || return 1
    d=$(domid_of du5)
    SPAN_DOMID=$d
    run xl vcpu-list du5
    p0=$(xl vcpu-list du5 | awk 'NR > 1 && $3 == 0 { print $4 }')
    p1=$(xl vcpu-list du5 | awk 'NR > 1 && $3 == 1 { print $4 }')
    n0=$(node_of_pcpu "$p0"); n1=$(node_of_pcpu "$p1")
    echo "du5 (domain $d): vCPU 0 on pCPU $p0 (node $n0), vCPU 1 on pCPU $p1 (node $n1)"
    check span-du5-on-two-nodes test -n "$n0" -a -n "$n1" -a "$n0" != "$n1"
    [ -n "$n0" ] && [ -n "$n1" ] && [ "$n0" != "$n1" ] || return 1
    # M: what it was created with (closerd may have lowered its target
    # already; libxl's static-max is the configured memory)
    m=$(xenstore-read "/local/domain/$d/memory/static-max")
    SPAN_M=$m
    check span-du5-m-320-mib test "$m" = $((320 * 1024))
    if ! wait_for 90 du5_backends_up "$d"; then
        fail "span-du5-backends: ring 1, netback queue 1 or the qdisk QEMU of domain $d missing after 90 s"
        return 1
    fi
    # closerd's plan for it, as it says (for the log; the checks below read
    # the host, not this)
    "$PAY/closerctl" snapshot > "$OUT/snap-span.json" 2>/dev/null &&
        "$PAY/closerctl" plan --snapshot "$OUT/snap-span.json" --config "$CLOSERD_CONF" --json 2>/dev/null |
        jq -c --argjson d "$d" '.domains[] | select(.domid == $d) | {node, sockets, backend_dom0_cpus, containers, mem_target_kib}'

    # With dom0_vcpus_pin, the dom0 CPU under pCPU p is dom0 CPU p.
    t0=$(now)
    if wait_for 60 queues_placed_quiet "$d" "$n0" "$p0" "$n1" "$p1"; then
        queues_placed "$d" "$n0" "$p0" "$n1" "$p1"
        pass "closerd-span-queues-under-their-vcpus (queue 0 node$n0 CPU $p0, queue 1 node$n1 CPU $p1, after $(since "$t0") s)"
    else
        fail "closerd-span-queues-under-their-vcpus: after 60 s"
        queues_placed "$d" "$n0" "$p0" "$n1" "$p1"
    fi
    nodes=$(leaf_nodes "$d")
    want=$(printf '%s\n' "$n0" "$n1" | sort -n | tr '\n' ' ')
    if [ "$nodes" = "$want" ]; then pass "closerd-span-a-leaf-per-node (node ${nodes% })"; else fail "closerd-span-a-leaf-per-node: leaves vm$d in nodes '$nodes', want '$want'"; fi
    want=$((m - 2 * EPS_MIB * 1024))
    t0=$(now)
    if wait_for 60 targets_are "$d" "$want"; then
        pass "closerd-span-memory-n2 (target $want KiB = $m - 2 x $EPS_MIB MiB, after $(since "$t0") s)"
    else
        fail "closerd-span-memory-n2: target $(xs_target "$d"), want $want KiB ($m - 2 x $EPS_MIB MiB)"
        io_levels
    fi
    # Home: where Xen says most of its pages are, once its balloon has
    # given the 2 eps back (that moves pages); closerd asks Xen for the
    # count at most every 30 s.
    wait_for 60 sizes_near 2048 "$d" "$want"
    home=$(xen_home_node "$d")
    echo "Xen's NUMA dump for domain $d: home node ${home%% *} (${home#* })"
    hn=${home%% *}
    [ -n "$hn" ] || { fail "span-home-node: no 'Domain $d (total:' in Xen's NUMA dump"; return 1; }
    t0=$(now)
    if wait_for 45 qemu_at_home "$d" "$hn"; then
        pass "closerd-span-device-model-at-home (node$hn, after $(since "$t0") s)"
    else
        fail "closerd-span-device-model-at-home: not all in node$hn/vm$d after 45 s"
        qemu_at_home "$d" "$hn"
        "$PAY/closerctl" snapshot 2>/dev/null | jq -c --argjson d "$d" '.domains[] | select(.domid == $d) | .mem_kib_by_node'
    fi

    # Pin the vCPU on the other node onto the home node's pCPU: the VM now
    # runs on one socket, the other leaf goes, n = 1.
    if [ "$n0" = "$hn" ]; then pin_v=1 pin_p=$p0 other=$n1; else pin_v=0 pin_p=$p1 other=$n0; fi
    run xl vcpu-pin du5 "$pin_v" "$pin_p"
    t0=$(now)
    if wait_for 60 leaf_gone "$d" "$other"; then
        pass "closerd-span-leaf-goes-with-its-vcpu (node$other/vm$d gone $(since "$t0") s after xl vcpu-pin)"
    else
        fail "closerd-span-leaf-goes-with-its-vcpu: leaves of vm$d still in nodes $(leaf_nodes "$d")"
    fi
    if wait_for 60 queues_placed_quiet "$d" "$hn" "$pin_p" "$hn" "$pin_p"; then
        pass "closerd-span-queues-follow-the-pin (all on node$hn CPU $pin_p)"
    else
        fail "closerd-span-queues-follow-the-pin"
        queues_placed "$d" "$hn" "$pin_p" "$hn" "$pin_p"
    fi
    want=$((m - EPS_MIB * 1024))
    if wait_for 60 targets_are "$d" "$want"; then
        pass "closerd-span-memory-n1 (target $want KiB after the pin)"
    else
        fail "closerd-span-memory-n1: target $(xs_target "$d"), want $want KiB"
    fi
}
span_cleanup() {
    [ -n "${SPAN_DOMID:-}" ] || return 0
    xl destroy du5 2>/dev/null
    losetup -d /dev/loop3 2>/dev/null
    rm -f /var/lib/xen/images/du5-xvda.img /var/lib/xen/images/du5.img
}
