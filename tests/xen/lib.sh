# Shared by tests/xen/build and tests/xen/run (sourced, bash).
# The cache key is made of the Debian package versions that end up in the lab
# (read from the host's apt index, which is the same archive debootstrap uses)
# plus the build inputs, so a new kernel, Xen or script rebuilds, nothing else.

XENLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XENLAB_CACHE=${CLOSER_XENLAB_CACHE:-/var/cache/closer-xenlab}
XENLAB_MIRROR=${CLOSER_XENLAB_MIRROR:-http://deb.debian.org/debian}
XENLAB_SECURITY=${CLOSER_XENLAB_SECURITY:-http://deb.debian.org/debian-security}
XENLAB_SUITE=bookworm
XENLAB_XEN_PKG=xen-hypervisor-4.17-amd64
# What dom0 runs on top of minbase (docs/xen-lab.md), plus the shared libraries
# closer's binaries link against so host-built binaries run in dom0, and jq
# for the plans to read closer's JSON; systemd for plan-systemd, where it is
# PID 1 (the other plans boot dom0-init as PID 1 and never start it).
XENLAB_DOM0_PKGS="xen-utils-4.17 xenstore-utils qemu-system-xen iproute2 procps
bridge-utils kmod iputils-ping e2fsprogs psmisc util-linux mount bash jq
libjansson4 libinih1 libsqlite3-0 libsystemd0 systemd"
# Built into the shared busybox initramfs: enough for dom0 to find its root
# disk and for the domUs to see their PV disk and network.
XENLAB_INITRD_MODULES="virtio_pci virtio_blk ext4 xen-blkfront xen-netfront"

xenlab_log() { printf 'xenlab: %s\n' "$*" >&2; }
xenlab_die() { printf 'xenlab: error: %s\n' "$*" >&2; exit 1; }

# Sets XENLAB_KVER_PKG (linux-image-6.1.0-N-amd64) and XENLAB_KEY/XENLAB_KEYDIR.
xenlab_compute_key() {
    if ! apt-cache show "$XENLAB_XEN_PKG" >/dev/null 2>&1; then
        xenlab_log "host apt index has no $XENLAB_XEN_PKG; running apt-get update"
        apt-get update -q >&2
    fi
    XENLAB_KVER_PKG=$(apt-cache show --no-all-versions linux-image-amd64 |
        sed -n 's/^Depends: .*\(linux-image-[0-9][^ ,]*-amd64\).*/\1/p' | head -n1)
    [ -n "$XENLAB_KVER_PKG" ] || xenlab_die "cannot resolve linux-image-amd64 in the apt index"
    local v
    # One apt-cache call: each one parses the whole index (seconds on a busy host).
    v=$(apt-cache show --no-all-versions "$XENLAB_KVER_PKG" "$XENLAB_XEN_PKG" xen-utils-4.17 \
            qemu-system-xen busybox-static |
        awk '/^Package: / { p = $2 } /^Version: / { printf "%s=%s ", p, $2 }')
    # What in this file shapes the build is named here; the rest of it (run-time
    # helpers) may change without a rebuild.
    v="$v suite=$XENLAB_SUITE mirror=$XENLAB_MIRROR pkgs=$XENLAB_DOM0_PKGS mods=$XENLAB_INITRD_MODULES"
    v="$v inputs=$(cat "$XENLAB_DIR/build" "$XENLAB_DIR/initramfs-init" | sha256sum | cut -c1-16)"
    XENLAB_KEY_TEXT=$v
    XENLAB_KEY=$(printf '%s' "$v" | sha256sum | cut -c1-16)
    XENLAB_KEYDIR=$XENLAB_CACHE/$XENLAB_KEY
}

# Seconds since the epoch with centiseconds, for timings.
xenlab_now() { date +%s.%N | cut -c1-13; }
xenlab_elapsed() { awk -v a="$1" -v b="$(xenlab_now)" 'BEGIN { printf "%.1f", b - a }'; }
