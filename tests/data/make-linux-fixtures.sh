#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Rebuild the hand-made Linux fixture trees tests/data/linux-*/ from the data
# below. The thread names, command lines, /proc/interrupts lines and IRQ
# affinities are copied from a real Xen 4.17 / Linux 6.1 dom0, the Xen lab's
# (docs/xen-lab.md): its `ps -eLo pid,tid,psr,...`, `cat /proc/interrupts`
# and the `xl save du1` run (the lab's own captures are the
# tests/data/xen-dom0-* trees); stat fields we do not read are filler. The odd cases
# (vanished threads, nameless IRQs, 512 CPUs, cgroup v1) are made up.
#
# Usage: tests/data/make-linux-fixtures.sh   (from anywhere; rewrites the trees)
set -eu
cd "$(dirname "$0")"

KFLAGS=2129984   # 0x208040: PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC
UFLAGS=4194560   # 0x400100: PF_RANDOMIZE | PF_SUPERPRIV
ALLOWED=         # Cpus_allowed_list of new threads' status files ("" = no status file)

# thread ROOT PID TID PSR k|u PPID COMM START UTIME STIME
thread() {
        d=$1/proc/$2/task/$3
        mkdir -p "$d"
        if [ "$5" = k ]; then fl=$KFLAGS; else fl=$UFLAGS; fi
        printf '%s\n' "$7" > "$d/comm"
        printf '%s (%s) S %s %s %s 0 -1 %s 0 0 0 0 %s %s 0 0 20 0 1 0 %s 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 %s 0 0 0 0 0\n' \
                "$3" "$7" "$6" "$2" "$2" "$fl" "$9" "${10}" "$8" "$4" > "$d/stat"
        if [ -n "$ALLOWED" ]; then
                printf 'Name:\t%s\nState:\tS (sleeping)\nTgid:\t%s\nPid:\t%s\nPPid:\t%s\nCpus_allowed:\tf\nCpus_allowed_list:\t%s\nvoluntary_ctxt_switches:\t10\n' \
                        "$7" "$2" "$3" "$6" "$ALLOWED" > "$d/status"
        fi
        if [ "$2" = "$3" ]; then
                cp "$d/comm" "$d/stat" "$1/proc/$2/"
                [ -z "$ALLOWED" ] || cp "$d/status" "$1/proc/$2/"
                : > "$1/proc/$2/cmdline"
        fi
}

# pinned ROOT PID TID CPULIST: a thread placed by sched_setaffinity
pinned() {
        sed "s/^Cpus_allowed_list:.*/Cpus_allowed_list:\t$4/" "$1/proc/$2/task/$3/status" > "$1/proc/$2/task/$3/status.new"
        mv "$1/proc/$2/task/$3/status.new" "$1/proc/$2/task/$3/status"
}

# cmdline ROOT PID ARG...: NUL-separated, as the kernel prints it
cmdline() {
        r=$1; p=$2; shift 2
        : > "$r/proc/$p/cmdline"
        for a in "$@"; do
                printf '%s\0' "$a" >> "$r/proc/$p/cmdline"
        done
        for t in "$r"/proc/"$p"/task/*; do
                cp "$r/proc/$p/cmdline" "$t/cmdline"
        done
}

# owner ROOT PID UID FD1: the Uid: line of a process's status files and its
# fd 1 (a symlink to what the kernel's readlink shows), as closer reads them
# for xl processes
owner() {
        for f in "$1/proc/$2/status" "$1"/proc/"$2"/task/*/status; do
                printf 'Uid:\t%s\t%s\t%s\t%s\n' "$3" "$3" "$3" "$3" >> "$f"
        done
        mkdir -p "$1/proc/$2/fd"
        ln -sfn "$4" "$1/proc/$2/fd/1"
}

# affinity ROOT IRQ SMP_LIST EFFECTIVE_LIST
affinity() {
        mkdir -p "$1/proc/irq/$2"
        printf '%s\n' "$3" > "$1/proc/irq/$2/smp_affinity_list"
        printf '%s\n' "$4" > "$1/proc/irq/$2/effective_affinity_list"
}

# Field 20 of stat (num_threads) as the kernel would show it: the number of
# entries in the process's task directory. Run once a tree is complete.
fix_nthreads() {
        for p in "$1"/proc/[0-9]*; do
                [ -d "$p/task" ] || continue
                n=$(ls "$p/task" | wc -l)
                for f in "$p/stat" "$p"/task/*/stat; do
                        [ -f "$f" ] || continue
                        awk -v n="$n" '{
                                i = match($0, /\)[^)]*$/)
                                if (i == 0) { print; next }
                                nf = split(substr($0, i + 1), a, " ")
                                if (nf < 20) { printf "%s", $0; next }
                                a[18] = n
                                out = substr($0, 1, i)
                                for (k = 1; k <= nf; k++) out = out " " a[k]
                                print out
                        }' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
                done
        done
}

cgroup2() {
        mkdir -p "$1/proc/self" "$1/sys/fs/cgroup"
        cat > "$1/proc/self/mountinfo" <<'MI'
22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
23 28 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
28 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
35 23 0:30 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 none rw
MI
        echo "cpuset cpu io memory hugetlb pids rdma misc" > "$1/sys/fs/cgroup/cgroup.controllers"
        echo "cpuset cpu io memory pids" > "$1/sys/fs/cgroup/cgroup.subtree_control"
        : > "$1/sys/fs/cgroup/cgroup.procs"
}

# counters ROOT DIR NAME=VALUE...
counters() {
        r=$1; d=$2; shift 2
        mkdir -p "$r/$d"
        for kv in "$@"; do
                printf '%s\n' "${kv#*=}" > "$r/$d/${kv%%=*}"
        done
}

cpus() {
        mkdir -p "$1/sys/devices/system/cpu"
        echo "$2" > "$1/sys/devices/system/cpu/online"
        echo "$2" > "$1/sys/devices/system/cpu/possible"
}

backends() {
        r=$1; shift
        for b in "$@"; do
                # a file in each, as in sysfs (and so that git keeps the directory)
                mkdir -p "$r/sys/bus/xen-backend/devices/$b"
                : > "$r/sys/bus/xen-backend/devices/$b/uevent"
        done
}

QEMU_DU2='/usr/libexec/xen-qemu-system-i386 -xen-domid 2 -no-shutdown -chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-2,server=on,wait=off -mon chardev=libxl-cmd,mode=control -chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-2,server=on,wait=off -mon chardev=libxenstat-cmd,mode=control -nodefaults -no-user-config -xen-attach -name du2 -vnc none -display none -nographic -machine xenpv -m 192'
QEMU_DOM0='/usr/libexec/xen-qemu-system-i386 -xen-domid 0 -xen-attach -name dom0 -nographic -M xenpv -daemonize -monitor none -serial none -parallel none -pidfile /run/qemu-dom0.pid'

# ---------------------------------------------------------------------------
# linux-xen-dom0: the transcript's dom0 with du1 (domid 1: blkback + netback)
# and du2 (domid 2: qdisk QEMU + netback), during `xl save du1`.
R=linux-xen-dom0
ALLOWED=0-3
rm -rf "$R"; mkdir -p "$R"
thread $R 1 1 0 u 0 init 10 50 30
cmdline $R 1 /sbin/init
thread $R 2 2 0 k 0 kthreadd 2 0 1
thread $R 35 35 3 k 2 kworker/u8:1-loop0 120 0 40
thread $R 40 40 0 k 2 xenbus 130 0 12
thread $R 41 41 3 k 2 xenwatch 131 0 9
thread $R 52 52 3 k 2 xen-balloon 140 0 3
thread $R 184 184 0 u 1 oxenstored 900 80 40
cmdline $R 184 /usr/lib/xen-4.17/bin/oxenstored --pid-file /run/xenstore.pid
thread $R 190 190 1 u 1 xenconsoled 910 4 2
thread $R 190 192 0 u 1 xenconsoled 911 1 1
cmdline $R 190 /usr/lib/xen-4.17/bin/xenconsoled --log=guest --pid-file /run/xenconsoled.pid
for t in 197:3 198:1 199:3 200:2; do
        thread $R 197 "${t%:*}" "${t#*:}" u 1 xen-qemu-system 950 10 5
done
# shellcheck disable=SC2086
cmdline $R 197 $QEMU_DOM0
thread $R 368 368 2 k 2 1.xvda-0 3400 0 800
thread $R 369 369 0 k 2 1.xvda-1 3401 0 700
for t in 371:3:vif1.0-q0-guest-rx 372:3:vif1.0-q0-dealloc 373:2:vif1.0-q1-guest-rx 374:0:vif1.0-q1-dealloc; do
        tid=${t%%:*}; rest=${t#*:}
        thread $R "$tid" "$tid" "${rest%%:*}" k 2 "${rest#*:}" 3500 0 20
done
for t in 387:0 388:0 389:2 390:3 391:2 392:2 393:3 394:3 452:1 459:1 460:2 461:0 462:1 463:0 464:1 465:0 \
         466:2 467:0 469:1 470:0 471:0 472:1 473:0 474:1 475:1 476:1 477:0 478:1; do
        thread $R 387 "${t%:*}" "${t#*:}" u 1 xen-qemu-system 5200 30 60
done
# shellcheck disable=SC2086
cmdline $R 387 $QEMU_DU2
thread $R 428 428 1 k 2 kworker/u8:3-loop0 5100 0 10
for t in 454:1:vif2.0-q0-guest-rx 455:0:vif2.0-q0-dealloc 456:0:vif2.0-q1-guest-rx 457:0:vif2.0-q1-dealloc; do
        tid=${t%%:*}; rest=${t#*:}
        thread $R "$tid" "$tid" "${rest%%:*}" k 2 "${rest#*:}" 5600 0 15
done
thread $R 983 983 1 u 700 timeout 9000 0 0
cmdline $R 983 timeout 120 xl save du1 /var/lib/xen/du1.save
thread $R 984 984 2 u 983 xl 9001 3 5
cmdline $R 984 /usr/lib/xen-4.17/bin/xl save du1 /var/lib/xen/du1.save
thread $R 985 985 2 u 984 libxl-save-help 9002 40 90
cmdline $R 985 /usr/lib/xen-4.17/bin/libxl-save-helper --save-domain 14 11 1 0 136 0
thread $R 986 986 3 u 700 xl 9003 1 1
cmdline $R 986 /usr/lib/xen-4.17/bin/xl destroy 2
# the monitor `xl create /etc/xen/du2.cfg` left for du2 (daemonized: ppid 1,
# fds 1 and 2 on the log xl opened for it; 2 threads, as in the capture
# xen-dom0-20261126), and a user's process posing as one (its uid is not 0)
thread $R 301 301 1 u 1 xl 3000 2 3
thread $R 301 302 2 u 1 xl 3001 0 0
cmdline $R 301 /usr/lib/xen-4.17/bin/xl create /etc/xen/du2.cfg
owner $R 301 0 /var/log/xen/xl-du2.log
thread $R 990 990 0 u 700 xl 9010 0 0
cmdline $R 990 xl create /etc/xen/du2.cfg
owner $R 990 1000 /var/log/xen/xl-du2.log
cat > $R/proc/interrupts <<'IRQ'
           CPU0       CPU1       CPU2       CPU3       
  1:          0          0          9          0  xen-pirq    -ioapic-edge  i8042
  8:          0          0          0          0  xen-pirq    -ioapic-edge  rtc0
  9:          0          0          0          0  xen-pirq    -ioapic-level  acpi
 12:          0          3          0          0  xen-pirq    -ioapic-edge  i8042
 24:      12413          0          0          0  xen-percpu    -virq      timer0
 25:          0          0          0          0  xen-percpu    -ipi       spinlock0
 26:        205          0          0          0  xen-percpu    -ipi       resched0
 30:          0      12760          0          0  xen-percpu    -virq      timer1
 36:          0          0      13140          0  xen-percpu    -virq      timer2
 42:          0          0          0      11535  xen-percpu    -virq      timer3
 48:          0        882          0          0   xen-dyn    -event     xenbus
 49:          0          0          0          0   xen-dyn    -virq      xen-pcpu
 51:          0          0          0          0   xen-dyn    -virq      hvc_console
 52:          0          0          0          0  xen-pirq    -msi-x     virtio0-config
 53:          0          0        243          0  xen-pirq    -msi-x     virtio0-req.0
 57:          0          0          0          0  xen-dyn-lateeoi    -event     evtchn:oxenstored
 58:          1          0          0        333  xen-dyn-lateeoi    -event     evtchn:oxenstored
 59:        128          0          0          0  xen-dyn-lateeoi    -event     evtchn:oxenstored
 60:          1        109          0          0  xen-dyn-lateeoi    -event     evtchn:xenconsoled
 61:          1          0       1854          0  xen-dyn-lateeoi    -event     blkif-backend
 62:          1          0          0       3255  xen-dyn-lateeoi    -event     blkif-backend
 63:         12          0          0          0  xen-dyn-lateeoi    -event     vif1.0-q0-tx
 64:          1          0          0          0  xen-dyn-lateeoi    -event     vif1.0-q0-rx
 65:          0          0         50          0  xen-dyn-lateeoi    -event     vif1.0-q1-tx
 66:          0          0          0          1  xen-dyn-lateeoi    -event     vif1.0-q1-rx
 67:        123          0          0          0  xen-dyn-lateeoi    -event     evtchn:oxenstored
 68:          1        123          0          0  xen-dyn-lateeoi    -event     evtchn:xenconsoled
 69:          1          0       1673          0  xen-dyn-lateeoi    -event     evtchn:xen-qemu-system
 70:          0          0          0         28  xen-dyn-lateeoi    -event     vif2.0-q0-tx
 71:          1          0          0          0  xen-dyn-lateeoi    -event     vif2.0-q0-rx
 72:          1          6          0          0  xen-dyn-lateeoi    -event     vif2.0-q1-tx
 73:          1          0          0          0  xen-dyn-lateeoi    -event     vif2.0-q1-rx
NMI:          0          0          0          0   Non-maskable interrupts
LOC:          0          0          0          0   Local timer interrupts
ERR:          0
MIS:          0
IRQ
for i in 61:0-3:2 62:0-3:3 63:0-3:0 64:0-3:1 65:0-3:2 66:0-3:3 70:0-3:3 71:0-3:0 72:0-3:1 73:0-3:2; do
        irq=${i%%:*}; rest=${i#*:}
        affinity $R "$irq" "${rest%%:*}" "${rest#*:}"
done
affinity $R 24 0 0
cgroup2 $R
cpus $R 0-3
backends $R console-1-0 console-2-0 qdisk-2-51712 vbd-1-51712 vif-1-0 vif-2-0
pinned $R 368 368 2             # as closer would place du1's ring 0 (under its vCPU 0)
pinned $R 371 371 2-3
# I/O counters as xentop showed them for du1 / du2 (VBD_RD/WR, RSECT/WSECT, NET k)
counters $R sys/bus/xen-backend/devices/vbd-1-51712/statistics rd_req=10243 wr_req=512 rd_sect=1376280 \
        wr_sect=131072 oo_req=0 f_req=3
counters $R sys/class/net/vif1.0/statistics rx_bytes=10240 tx_bytes=8192 rx_packets=120 tx_packets=96
counters $R sys/class/net/vif2.0/statistics rx_bytes=7168 tx_bytes=5120 rx_packets=80 tx_packets=60
fix_nthreads $R

# ---------------------------------------------------------------------------
# linux-odd: threads that vanish mid-scan, a process without a task dir, a
# stat torn by a rename, IRQs with no name, an offline CPU column, garbage
# names that must not be taken for backends.
R=linux-odd
ALLOWED=
rm -rf "$R"; mkdir -p "$R"
thread $R 1 1 0 u 0 init 10 1 1
cmdline $R 1 /sbin/init
thread $R 500 500 0 u 1 worker 100 1 1
cmdline $R 500 /usr/bin/worker
mkdir -p $R/proc/500/task/501          # vanished: its directory is there, its files are gone
printf 'worker\n' > $R/proc/500/task/501/comm
mkdir -p $R/proc/600                   # vanished process: no task directory any more
printf '700 (half' > "$R/proc/600/stat"
thread $R 700 700 1 u 1 torn 100 1 1
printf '700 (torn) S' > $R/proc/700/task/700/stat   # cut short: treated as vanished
printf '700 (torn) S' > $R/proc/700/stat
thread $R 800 800 1 u 1 '1.xvda-0' 100 1 1          # a user process posing as blkback
cmdline $R 800 ./1.xvda-0
thread $R 801 801 1 k 2 'vif99999.0-q0-guest-rx' 100 0 1   # domid out of range
thread $R 802 802 1 k 2 'a) S 1 (b' 100 0 1                # comm with ') S ' inside
thread $R 805 805 0 u 1 "$(printf 'evil\033]0;pwn\a')" 100 0 1   # terminal escapes in a name
cmdline $R 805 evil
thread $R 803 803 0 u 1 xl 100 0 1
cmdline $R 803 xl shutdown 7                               # no such live domain: not resolved
thread $R 804 804 0 u 1 qemu-system-x86 100 0 1
cmdline $R 804 qemu-system-x86_64 -enable-kvm -m 512       # not a Xen QEMU
cat > $R/proc/interrupts <<'IRQ'
           CPU0       CPU2
  0:         40          0   IO-APIC   2-edge      timer
  7:          0          0   IO-APIC   7-edge
 90:          5          6  xen-dyn-lateeoi    -event
 91:          5          6  xen-dyn-lateeoi    -event     vif3.0-q0-tx
 92:          1          2  xen-dyn-lateeoi    -event     vif3.0-tx
 93:          1          2  xen-dyn-lateeoi    -event     vif3.0
 94:          1          2  xen-dyn-lateeoi    -event     vif3.0-q1-rx, extra name
 95:          1          2  xen-dyn-lateeoi    -event     blkif-backend
NMI:          0          0   Non-maskable interrupts
ERR:          0
IRQ
affinity $R 91 0,2 0
mkdir -p $R/proc/irq/92; printf 'garbage\n' > $R/proc/irq/92/smp_affinity_list
cgroup2 $R
cpus $R 0,2
backends $R vif-3-0 vbd-0-1 vif-x-0 vbd-3-51712
counters $R sys/bus/xen-backend/devices/vbd-3-51712/statistics rd_req=garbage wr_req=7 rd_sect=-1 wr_sect=8
fix_nthreads $R

# ---------------------------------------------------------------------------
# linux-512cpu: /proc/interrupts with 512 CPU columns.
R=linux-512cpu
ALLOWED=0-511
rm -rf "$R"; mkdir -p "$R"
thread $R 1 1 511 u 0 init 10 1 1
cmdline $R 1 /sbin/init
thread $R 1200 1200 300 k 2 5.xvdb-3 100 0 7
awk 'BEGIN {
        printf "     ";
        for (c = 0; c < 512; c++) printf "  CPU%-7d", c;
        printf "\n";
        n = 0;
        for (irq = 100; irq < 104; irq++) {
                printf "%4d:", irq;
                for (c = 0; c < 512; c++) printf " %10d", (c == irq - 100 + 300 ? 77 : 0);
                if (irq == 100) printf "  xen-dyn-lateeoi    -event     vif5.0-q%d-tx\n", irq - 100;
                else if (irq == 101) printf "  xen-dyn-lateeoi    -event     vif5.0-q0-rx\n";
                else if (irq == 102) printf "  xen-percpu    -virq      timer511\n";
                else printf "  xen-dyn-lateeoi    -event\n";
        }
}' > $R/proc/interrupts
affinity $R 100 0-511 300
cgroup2 $R
cpus $R 0-511
backends $R vbd-5-51728 vif-5-0

# ---------------------------------------------------------------------------
# linux-cgroup1: a host with only cgroup v1 mounted (closer needs v2).
R=linux-cgroup1
ALLOWED=
rm -rf "$R"; mkdir -p "$R/proc/self" "$R/sys/fs/cgroup/cpuset" "$R/sys/fs/cgroup/cpu,cpuacct"
: > "$R/sys/fs/cgroup/cpuset/tasks"
: > "$R/sys/fs/cgroup/cpu,cpuacct/tasks"
thread $R 1 1 0 u 0 init 10 1 1
cmdline $R 1 /sbin/init
cat > $R/proc/self/mountinfo <<'MI'
22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
28 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 23 0:25 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
31 30 0:26 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup rw,cpuset
32 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,cpu,cpuacct
MI
cat > $R/proc/interrupts <<'IRQ'
           CPU0
  0:         40   IO-APIC   2-edge      timer
IRQ
cpus $R 0
echo "fixtures rebuilt: $(ls -d linux-*/ | tr '\n' ' ')"
