#!/usr/bin/python3
# A reproducer, not a test of closer (run by plan-stress, XENLAB_STRESS_MODE=
# vector): what failed in this TCG-emulated dom0 under load was vector code
# (xl's XZ decompression in liblzma, glibc's AVX2 string functions inside
# malloc). Each worker decompresses the same XZ stream (liblzma), hashes
# the result (OpenSSL's SHA-256) and compares it with the original (memcmp),
# over and over, crowded with the others on one CPU, and counts every
# answer that differs from the one computed once before the workers start.
#   stress-vector.py SECONDS WORKERS FILE
import hashlib
import lzma
import os
import sys
import time

secs, workers, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "rb") as f:
    data = f.read(4 << 20)
want = hashlib.sha256(data).hexdigest()
# The reference itself is computed under the same conditions: check it
# (a bad one would fail every round of every worker), and count the retries.
ref_bad = 0
for attempt in range(5):
    comp = lzma.compress(data, preset=1)
    try:
        if lzma.decompress(comp) == data and hashlib.sha256(data).hexdigest() == want:
            break
    except lzma.LZMAError:
        pass
    ref_bad += 1
    print(f"XENLAB: NOTE stress-vector reference attempt {attempt + 1} wrong", file=sys.stderr, flush=True)

pids = []
for w in range(workers):
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {0})
        rounds = bad = 0
        end = time.monotonic() + secs
        while time.monotonic() < end:
            rounds += 1
            try:
                got = lzma.decompress(comp)
            except lzma.LZMAError as e:
                bad += 1
                print(f"XENLAB: NOTE stress-vector worker {w} round {rounds}: lzma: {e}", file=sys.stderr, flush=True)
                continue
            if got != data or hashlib.sha256(got).hexdigest() != want:
                bad += 1
                print(f"XENLAB: NOTE stress-vector worker {w} round {rounds}: wrong result", file=sys.stderr, flush=True)
            # big copies (glibc's memmove keeps the first vector in a
            # register across its loop: garbage there is garbage at the head)
            for size in (65536, 1 << 20):
                copy = bytearray(data[:size])
                if copy[:64] != data[:64] or copy != data[:size]:
                    bad += 1
                    print(f"XENLAB: NOTE stress-vector worker {w} round {rounds}: copy of {size} bytes wrong", file=sys.stderr, flush=True)
        with open(f"/tmp/stress-vector-{w}", "w") as f:
            f.write(f"{rounds} {bad}\n")
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
rounds = bad = 0
for w in range(workers):
    try:
        with open(f"/tmp/stress-vector-{w}") as f:
            r, b = f.read().split()
            rounds, bad = rounds + int(r), bad + int(b)
    except OSError:
        bad += 1    # a worker died before writing: count it
print(f"{rounds} {bad + ref_bad}")
