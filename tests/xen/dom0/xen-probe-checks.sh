# Checks of closer's Xen adapter on the live lab host (sourced by a dom0 test
# plan after plan-lib.sh, with du1 and du2 running; bash). closer-xen-probe
# prints what read_host, read_io and map_irqs see as closer-snapshot/1; every
# check compares it with what xl, xenstore and /proc say on the same host.
# Usage: xen_probe_checks /path/to/closer-xen-probe [/path/to/closerctl]

# "0-1,3" -> one CPU per line
xp_expand() {
    local p parts
    IFS=, read -ra parts <<< "$1"
    for p in "${parts[@]}"; do
        if [[ $p == *-* ]]; then seq "${p%-*}" "${p#*-}"; else echo "$p"; fi
    done
}

# same_set NAME EXPECTED ACTUAL (plan-check has one; keep a local one so the
# file also works from other plans)
xp_same() {
    local name=$1 e a
    e=$(sort -u <<< "$2" | sed '/^$/d'); a=$(sort -u <<< "$3" | sed '/^$/d')
    if [ -z "$e" ]; then
        fail "$name: nothing to compare (ground truth empty)"
    elif [ "$e" = "$a" ]; then
        pass "$name ($(wc -l <<< "$e") items)"
    else
        fail "$name: the Xen adapter differs from the host"
        diff <(echo "$e") <(echo "$a") | sed -n 's/^</  host only:   /p; s/^>/  closer only: /p' | head -n 20
    fi
}

xen_probe_checks() {
    local probe=$1 ctl=${2:-} j=$OUT/xen-probe.json t0 d n
    section "closer-xen-probe: the Xen adapter's view against xl, xenstore and /proc"
    if [ ! -x "$probe" ]; then
        fail "xen-probe-present: no $probe"
        return 1
    fi
    for d in /proc/irq/[0-9]*; do echo "${d##*/} $(cat "$d/smp_affinity_list" 2>/dev/null)"; done > "$OUT/irq-aff-before"
    t0=$(now)
    if bounded 180 "$probe" --timings --io-interval-ms 3000 > "$j" 2> "$OUT/xen-probe.err"; then
        timing xen_probe "$(since "$t0")"
        pass xen-probe-exit-0
    else
        fail "xen-probe exited $? ($(head -c 300 "$OUT/xen-probe.err"))"
        return 1
    fi
    for d in /proc/irq/[0-9]*; do echo "${d##*/} $(cat "$d/smp_affinity_list" 2>/dev/null)"; done > "$OUT/irq-aff-after"
    cat "$OUT/xen-probe.err"
    check xen-probe-irq-affinity-restored cmp -s "$OUT/irq-aff-before" "$OUT/irq-aff-after"
    check xen-probe-format test "$(jq -r .format "$j")" = closer-snapshot/1
    [ -n "$ctl" ] && check xen-probe-snapshot-plannable sh -c "'$ctl' plan --snapshot '$j' >/dev/null"
    run xl info -n > "$OUT/xl-info-n.txt"

    # topology: "cpu node", "node memsize_mib", "node distances"
    xp_same xen-probe-cpu-nodes \
        "$(awk '/^cpu_topology/ { t = 1; next } t && /^cpu:/ { next } t && /^ *[0-9]+:/ { sub(":", "", $1); print $1, $4; next } { t = 0 }' "$OUT/xl-info-n.txt")" \
        "$(jq -r '.host.nodes[] | "\(.id) \(.cpus)"' "$j" | while read -r n c; do xp_expand "$c" | sed "s/\$/ $n/"; done)"
    xp_same xen-probe-node-memsize \
        "$(awk '/^numa_info/ { t = 1; next } t && /^node:/ { next } t && /^ *[0-9]+:/ { sub(":", "", $1); print $1, $2; next } { t = 0 }' "$OUT/xl-info-n.txt")" \
        "$(jq -r '.host.nodes[] | "\(.id) \(.mem_kib / 1024 | floor)"' "$j")"
    xp_same xen-probe-node-distances \
        "$(awk '/^numa_info/ { t = 1; next } t && /^node:/ { next } t && /^ *[0-9]+:/ { sub(":", "", $1); print $1, $4; next } { t = 0 }' "$OUT/xl-info-n.txt")" \
        "$(jq -r '.host.nodes[] | "\(.id) \(.distances | map(tostring) | join(","))"' "$j")"

    # dom0's vCPUs: where each runs and its hard affinity (xl vcpu-list 0)
    run xl vcpu-list > "$OUT/xl-vcpu-list.txt"
    xp_same xen-probe-dom0-vcpus \
        "$(awk '$2 == 0 && $3 ~ /^[0-9]+$/ { print $3, $4, $7 }' "$OUT/xl-vcpu-list.txt")" \
        "$(jq -r '.dom0.vcpus[] | "\(.id) \(.pcpu) \(.affinity)"' "$j")"

    # domains: domid and name (xl list), vCPU hard affinity (xl vcpu-list)
    xp_same xen-probe-domains \
        "$(xl list | awk 'NR > 2 && $2 != 0 { print $2, $1 }')" \
        "$(jq -r '.domains[] | "\(.domid) \(.name)"' "$j")"
    xp_same xen-probe-domu-affinity \
        "$(awk 'NR > 1 && $2 != 0 && $3 ~ /^[0-9]+$/ { print $2, $3, $7 }' "$OUT/xl-vcpu-list.txt")" \
        "$(jq -r '.domains[] | .domid as $d | .vcpus[] | "\($d) \(.id) \(.affinity)"' "$j")"
    # every vCPU runs inside its hard affinity, as Xen's scheduler must
    check xen-probe-domu-pcpu-in-affinity test -z "$(jq -r '.domains[] | .vcpus[] | "\(.pcpu) \(.affinity)"' "$j" |
        while read -r p a; do xp_expand "$a" | grep -qx "$p" || echo bad; done)"
    # mem_kib: the toolstack's maximum (xl list's Mem is the current size)
    check xen-probe-domu-mem test -z "$(xl list | awk 'NR > 2 && $2 != 0 { print $2, $3 }' | while read -r id mib; do
        kib=$(jq -r --argjson d "$id" '.domains[] | select(.domid == $d) | .mem_kib' "$j")
        [ -n "$kib" ] && [ "$kib" != null ] && [ $((kib / 1024)) -ge "$mib" ] && [ $((kib / 1024)) -le $((mib + 8)) ] || echo "$id $mib $kib"
    done)"

    # per-node memory: the estimate (node affinity) puts each domU on the
    # node Xen's 'u' dump says holds most of it; --exact-numa gives the dump
    run xl debug-keys u
    xl dmesg > "$OUT/xl-dmesg-u.txt"
    local dump
    dump=$(awk '/Memory location of each domain:/ { delete p; t = 1; next }
                t && /Domain [0-9]+ \(total/ { d = $3; next }
                t && /Node [0-9]+:/ { n = $3; sub(":", "", n); p[d " " n] = $4; next }
                END { for (k in p) print k, p[k] }' "$OUT/xl-dmesg-u.txt" | sort)
    xp_same xen-probe-domu-main-node \
        "$(awk '$1 != 0 { if ($3 > m[$1] || !($1 in m)) { m[$1] = $3; b[$1] = $2 } } END { for (d in b) print d, b[d] }' <<< "$dump")" \
        "$(jq -r '.domains[] | "\(.domid) \(.mem_kib_by_node | to_entries | max_by(.value) | .key)"' "$j")"
    if bounded 180 "$probe" --exact-numa --io-interval-ms 0 --no-irqs > "$OUT/xen-probe-exact.json" 2>> "$OUT/xen-probe.err"; then
        pass xen-probe-exact-numa-exit-0
        xp_same xen-probe-exact-numa \
            "$(awk '$1 != 0 && $3 > 0 { print $1, $2, $3 * 4 }' <<< "$dump")" \
            "$(jq -r '.domains[] | .domid as $d | .mem_kib_by_node | to_entries[] | select(.value > 0) | "\($d) \(.key) \(.value)"' "$OUT/xen-probe-exact.json")"
    else
        fail "xen-probe --exact-numa: $(tail -c 300 "$OUT/xen-probe.err")"
    fi

    # blkif-backend IRQs: domain and queue from the event-channel probe,
    # against blkback's ring threads "<domid>.xvda-<ring>" (one IRQ per ring)
    xp_same xen-probe-blkif-irqs \
        "$(for t in /proc/[0-9]*/comm; do read -r c < "$t" 2>/dev/null || continue
               [[ $c =~ ^([0-9]+)\.xvd[a-z]+-([0-9]+)$ ]] && echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"; done)" \
        "$(jq -r '.irqs[] | select(.name == "blkif-backend") | "\(.domid) \(.queue)"' "$j")"
    # qdisk: QEMU's event channels of each domain's disk rings, against the
    # frontend's queue-N/event-channel keys in xenstore
    local qd
    qd=$(jq -r '.irqs[] | select(.name == "evtchn:xen-qemu-system" and .queue != null) | "\(.domid) \(.queue)"' "$j")
    echo "qdisk IRQs mapped (domid queue):" $qd
    for d in $(jq -r '.domains[].domid' "$j"); do
        pgrep -f "^/usr/libexec/xen-qemu-system-i386 -xen-domid $d " >/dev/null || continue
        n=0
        for v in $(xenstore-list "/local/domain/$d/device/vbd" 2>/dev/null); do
            q=$(xenstore-list "/local/domain/$d/device/vbd/$v" 2>/dev/null | grep -c '^queue-')
            [ "$q" -eq 0 ] && q=1
            n=$((n + q))
        done
        check "xen-probe-qdisk-irqs-dom$d" test "$(grep -c "^$d " <<< "$qd")" -eq "$n"
    done

    # I/O: du1 (blkback, io=light) does some I/O every 2 s
    local du1
    du1=$(xl domid du1 2>/dev/null)
    [ -n "$du1" ] && check xen-probe-io-du1 jq -e --argjson d "$du1" '.domains[] | select(.domid == $d) | .io.ops_per_s > 0' "$j"
    jq -c '.domains[] | {domid, name, mem_kib, mem_kib_by_node, io}' "$j"
    jq -c '.irqs[] | select(.domid != null) | {irq, name, domid, queue, kind}' "$j"
}
