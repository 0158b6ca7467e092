#!/bin/sh
# e2e_mutated.sh - damaged captures through the streaming commands: the four
# samples with random bytes changed (timestamps that leap or go back, lengths,
# addresses, flags) and cut short, 30 of them (fixed seed), each given to
# `chains --json`, `score` and `embed`. Each run must end (60 s at most) with
# status 0 or 1 and no sanitizer report. In a sanitizer build (configure
# CFLAGS="-O1 -g -fsanitize=address,undefined" LDFLAGS="-fsanitize=address,undefined")
# this catches memory errors and leaks; in a plain build, crashes and hangs.
. "$top_srcdir/tests/lib.sh"

command -v /usr/bin/python3 >/dev/null 2>&1 || skip "/usr/bin/python3 is needed to mutate the captures"
tmpdir_make
STEPSTONE="$STEPSTONE" TMPD="$TMPD" SAMPLES="$top_srcdir/datasets/samples" \
    /usr/bin/python3 - <<'PY' || fail "a damaged capture crashed or hung a command (above)"
import os, random, subprocess, sys
ss, tmpd, samples = os.environ["STEPSTONE"], os.environ["TMPD"], os.environ["SAMPLES"]
names = ["synth-small", "netns-small", "synth-chaff", "netns-full"]
rng = random.Random(20261128)
bad = 0
for i in range(30):
    data = bytearray(open(os.path.join(samples, rng.choice(names) + ".pcap"), "rb").read())
    for _ in range(rng.choice([1, 4, 16, 64])):
        k = rng.randrange(24, len(data))
        if rng.random() < 0.5:
            data[k] ^= 1 << rng.randrange(8)
        else:
            data[k] = rng.randrange(256)
    if rng.random() < 0.2:
        data = data[:rng.randrange(24, len(data))]
    path = os.path.join(tmpd, "m%d.pcap" % i)
    open(path, "wb").write(data)
    for cmd in (["chains", "--json"], ["score"], ["embed", "-o", os.path.join(tmpd, "e.msgpack")]):
        try:
            r = subprocess.run([ss] + cmd + [path], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            print("hang: stepstone %s on mutation %d" % (cmd[0], i), file=sys.stderr)
            bad += 1
            continue
        if r.returncode not in (0, 1) or "Sanitizer" in r.stderr or "runtime error" in r.stderr:
            print("stepstone %s on mutation %d: status %d\n%s" % (cmd[0], i, r.returncode,
                  r.stderr[-1500:]), file=sys.stderr)
            bad += 1
print("30 damaged captures x 3 commands: %d failures" % bad)
sys.exit(1 if bad else 0)
PY
