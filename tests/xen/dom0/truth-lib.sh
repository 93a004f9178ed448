# Ground truth for the checks of closer on the live dom0 (sourced by
# plan-check and closerd-checks.sh, bash): what the host says, read here
# from /proc, /proc/interrupts and xl without closer, and how to compare
# closer's answer with it. Needs plan-lib.sh (pass, fail).
[ -n "${XENLAB_TRUTH_LIB:-}" ] && return 0
XENLAB_TRUTH_LIB=1

# "TID DOMID" for every backend kernel thread: blkback
# "<domid>.<vdev>-<ring>", netback "vif<domid>.<dev>-q<q>-{guest-rx,dealloc}".
truth_t3_kthreads() {
    local t c
    for t in /proc/[0-9]*/task/[0-9]*; do
        read -r c < "$t/comm" 2>/dev/null || continue
        if [[ $c =~ ^([0-9]+)\.xvd[a-z]+-[0-9]+$ ]] || [[ $c =~ ^vif([0-9]+)\.[0-9]+-q[0-9]+-(guest-rx|dealloc)$ ]]; then
            echo "${t##*/} ${BASH_REMATCH[1]}"
        fi
    done
}
# "PID DOMID" for every QEMU started with -xen-domid D (D > 0; dom0's own
# QEMU is admin work).
truth_qemu_pids() {
    local pid
    for pid in $(pgrep -f '^/usr/libexec/xen-qemu-system-i386 -xen-domid [1-9]'); do
        echo "$pid $(tr '\0' ' ' < "/proc/$pid/cmdline" | sed -n 's/.*-xen-domid \([0-9]*\) .*/\1/p')"
    done
}
# "TID DOMID" for every backend thread: the kernel ones and every thread of
# those QEMUs.
truth_t3() {
    local pid d t
    truth_t3_kthreads
    while read -r pid d; do
        [ -n "$pid" ] || continue
        for t in /proc/"$pid"/task/[0-9]*; do echo "${t##*/} $d"; done
    done <<< "$(truth_qemu_pids)"
}
# "IRQ DOMID QUEUE" for every netback event channel in /proc/interrupts.
truth_vif_irqs() {
    sed -n 's/^ *\([0-9]*\):.* vif\([0-9]*\)\.[0-9]*-q\([0-9]*\)-[rt]x$/\1 \2 \3/p' /proc/interrupts
}
live_domids() { xl list | awk 'NR > 2 { print $2 }' | sort -n; }

scan_t3() { jq -r '.threads[] | select(.class == "T3") | "\(.tid) \(.domid)"' "$1"; }
scan_vif_irqs() { jq -r '.irqs[] | select(.name | test("^vif")) | "\(.irq) \(.domid) \(.queue)"' "$1"; }

# same_threads NAME BEFORE AFTER ACTUAL: threads come and go while closer
# reads /proc (a qdisk QEMU's worker threads exit after 10 idle seconds), so
# the host truth is taken just before and just after closer's read: every
# thread in both must be in closer's set, and closer's set must hold nothing
# that was in neither.
same_threads() {
    local name=$1 b a c stable union missed extra
    b=$(sort -u <<< "$2" | sed '/^$/d'); a=$(sort -u <<< "$3" | sed '/^$/d'); c=$(sort -u <<< "$4" | sed '/^$/d')
    stable=$(comm -12 <(echo "$b") <(echo "$a") | sed '/^$/d')
    union=$(sort -u <(echo "$b") <(echo "$a") | sed '/^$/d')
    missed=$(comm -23 <(echo "$stable") <(echo "$c") | sed '/^$/d')
    extra=$(comm -13 <(echo "$union") <(echo "$c") | sed '/^$/d')
    if [ -z "$stable" ]; then
        fail "$name: nothing to compare (ground truth empty)"
    elif [ -z "$missed" ] && [ -z "$extra" ]; then
        pass "$name ($(wc -l <<< "$stable") items)"
    else
        fail "$name: closer differs from the host"
        [ -z "$missed" ] || sed -n 's/^/  host only:   /p' <<< "$missed" | head -n 10
        [ -z "$extra" ] || sed -n 's/^/  closer only: /p' <<< "$extra" | head -n 10
    fi
}

# same_set NAME EXPECTED ACTUAL: equal as sets, and not empty.
same_set() {
    local name=$1 e a
    e=$(sort -u <<< "$2" | sed '/^$/d'); a=$(sort -u <<< "$3" | sed '/^$/d')
    if [ -z "$e" ]; then
        fail "$name: nothing to compare (ground truth empty)"
    elif [ "$e" = "$a" ]; then
        pass "$name ($(wc -l <<< "$e") items)"
    else
        fail "$name: closer differs from the host"
        diff <(echo "$e") <(echo "$a") | sed -n 's/^</  host only:  /p; s/^>/  closer only:/p' | head -n 20
    fi
}

expand_cpus() {
    local p parts
    IFS=, read -ra parts <<< "$1"
    for p in "${parts[@]}"; do
        if [[ $p == *-* ]]; then seq "${p%-*}" "${p#*-}"; else echo "$p"; fi
    done
}
# "TID Cpus_allowed_list" of every thread, for before/after comparisons.
all_affinities() {
    # one grep over every thread's status, not a sed per thread: threads
    # that exit meanwhile are skipped (grep -s)
    grep -s -H '^Cpus_allowed_list:' /proc/[0-9]*/task/[0-9]*/status |
        sed -n 's|^/proc/[0-9]*/task/\([0-9]*\)/status:Cpus_allowed_list:[[:space:]]*|\1 |p'
}
# "IRQ smp_affinity_list" of every IRQ, sorted, for before/after comparisons.
irq_affinities() {
    grep -H . /proc/irq/[0-9]*/smp_affinity_list 2>/dev/null |
        sed 's|/proc/irq/\([0-9]*\)/smp_affinity_list:| \1 |' | awk '{ print $1, $2 }' | sort
}
# TIDs of the kernel's threads: kthreadd (2) and its children. (Not "an
# empty /proc/TID/cmdline": /proc files have size 0, so `test -s` is false
# for every thread, and reading each cmdline forks per thread.)
kernel_threads() {
    echo 2
    grep -s -H '^PPid:' /proc/[0-9]*/task/[0-9]*/status |
        sed -n 's|^/proc/[0-9]*/task/\([0-9]*\)/status:PPid:[[:space:]]*2$|\1|p'
}
# affinities_restored NAME BEFORE T3_BEFORE [WHEN]: every thread's affinity
# now equals BEFORE's (all_affinities | sort, taken before closerd). Threads
# that exited meanwhile are not compared, nor kernel threads other than the
# backends listed in T3_BEFORE (truth_t3 | sort, taken then: the kernel
# moves e.g. workqueue rescuers on its own): every user thread and every
# backend thread is. WHEN ends the failure's text.
affinities_restored() {
    local name=$1 before=$2 t3=$3 when=${4:-} now kskip cmp
    now=$(all_affinities | sort)
    kskip=$(kernel_threads | sort | join -v1 - <(cut -d' ' -f1 "$t3" | sort))
    cmp=$(join -v1 "$before" <(echo "$kskip") | join - <(echo "$now"))
    if [ -z "$(awk '$2 != $3' <<< "$cmp")" ]; then
        pass "$name ($(grep -c . <<< "$cmp") threads)"
    else
        fail "$name: some thread affinities differ$when"
        awk '$2 != $3 { print "  tid " $1 ": " $2 " before, " $3 " after" }' <<< "$cmp" | head -n 10
    fi
}
# pCPUs domain D's vCPUs may run on (hard affinity, xl vcpu-list); with
# dom0_vcpus_pin dom0 CPU i is pCPU i, so these are also dom0 CPU ids.
domain_pcpus() {
    xl vcpu-list "$1" | awk 'NR > 1 { print $7 }' | while read -r a; do expand_cpus "$a"; done | sort -nu
}
