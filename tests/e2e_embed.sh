#!/bin/sh
# e2e_embed.sh - `stepstone embed` end to end: on the bundled samples and a
# generated capture (several embedding batches), the msgpack file loads into
# numpy as the README shows, every vector has unit length, first_window /
# n_windows tile `windows` exactly, each window's connection index and bounds
# agree with its connection, each connection has the windows the window rule
# gives (from the grid window holding its start to the one holding its end, at
# most --max-windows, fewer only when its stored first 4096 packets end
# early), connections come in the connection table's emission order (that of
# `stepstone conns`, TCP only), and the msgpack vectors equal the JSON lines
# ones. Failures (unwritable output, a write error part-way, a bad capture or
# model) exit 1 with one line, leave no file behind and keep an existing
# output.
. "$top_srcdir/tests/lib.sh"
tmpdir_make
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not found"
"$PY" -c 'import msgpack, numpy' 2>/dev/null || skip "python3-msgpack or python3-numpy missing"
samples="$top_srcdir/datasets/samples"

"$STEPSTONE" synth --duration 120 --background 20 -o "$TMPD/gen.pcap" --labels "$TMPD/gen.csv" \
    -q || fail "synth exited $?"
# one long TCP connection: 6000 payload packets 10 ms apart, more than the
# 4096 a record keeps, and a short one; raw-IP pcap
"$PY" - "$TMPD/long.pcap" <<'PYEOF' || fail "could not write long.pcap"
import struct, sys
f = open(sys.argv[1], "wb")
f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
def pkt(t_us, src, dst, sp, dp, flags, seq, ack, n):
    tcp = struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + b"x" * n
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0,
                     bytes(src), bytes(dst)) + tcp
    f.write(struct.pack("<IIII", t_us // 1000000, t_us % 1000000, len(ip), len(ip)) + ip)
def conn(t, a, b, sp, n, gap_us):
    pkt(t, a, b, sp, 22, 0x02, 1000, 0, 0)
    pkt(t + 1000, b, a, 22, sp, 0x12, 5000, 1001, 0)
    pkt(t + 2000, a, b, sp, 22, 0x10, 1001, 5001, 0)
    seq = 1001
    for k in range(n):
        t += gap_us
        pkt(t, a, b, sp, 22, 0x18, seq, 5001, 40)
        seq += 40
    return t
A, B, C = [10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3]
conn(1700000001000000, A, B, 40000, 12, 250000)
conn(1700000002500000, B, C, 40001, 6000, 10000)
PYEOF

# check NAME CAPTURE MAXW: embeds CAPTURE both ways and checks the outputs
check() {
    name=$1 cap=$2 maxw=$3
    "$STEPSTONE" embed --max-windows "$maxw" -o "$TMPD/$name.msgpack" "$cap" 2>"$TMPD/err" ||
        fail "$name: embed exited $?: $(cat "$TMPD/err")"
    grep -Eq '^stepstone embed: [1-9][0-9]* connections, [1-9][0-9]* windows' "$TMPD/err" ||
        fail "$name: no summary line: $(cat "$TMPD/err")"
    "$STEPSTONE" embed --max-windows "$maxw" --format jsonl -o "$TMPD/$name.jsonl" "$cap" \
        2>"$TMPD/err" || fail "$name: embed --format jsonl exited $?: $(cat "$TMPD/err")"
    "$STEPSTONE" conns --json --packets --max-pkts 4096 "$cap" >"$TMPD/$name.conns" \
        2>"$TMPD/err" ||
        fail "$name: conns exited $?: $(cat "$TMPD/err")"
    "$PY" - "$TMPD/$name.msgpack" "$TMPD/$name.jsonl" "$TMPD/$name.conns" "$maxw" \
        >"$TMPD/py.out" 2>&1 <<'PYEOF' || fail "$name: $(cat "$TMPD/py.out")"
import json, sys
import msgpack, numpy as np
mp, jl, cl, maxw = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
MAX_PKTS = 4096

# the README's three lines
d = msgpack.unpackb(open(mp, "rb").read())
X = np.frombuffer(d["vectors"], dtype="<f4").reshape(-1, d["dim"])

def us(t):
    return int(round(t * 1e6))

assert d["format"] == "stepstone-embeddings" and d["version"] == 2, (d["format"], d["version"])
m = d["model"]
W, S = us(m["window"]), us(m["stride"])
assert 0 < S <= W and d["dim"] > 0 and len(m["id"]) == 16, m
conns, wins = d["connections"], d["windows"]
assert X.shape == (len(wins), d["dim"]), (X.shape, len(wins))
assert len(wins) > 0

# unit length
norms = np.linalg.norm(X.astype(np.float64), axis=1)
assert np.all(np.abs(norms - 1) < 1e-4), "vector norms %g..%g" % (norms.min(), norms.max())

# first_window / n_windows tile the windows exactly, in order
k = 0
for ci, c in enumerate(conns):
    assert c["first_window"] == k, (ci, c["first_window"], k)
    k += c["n_windows"]
assert k == len(wins), (k, len(wins))

# each window points at its connection, its bounds are its connection's grid
# windows from the one holding its start, consecutive
for ci, c in enumerate(conns):
    g0 = us(c["start"]) // S
    for j in range(c["n_windows"]):
        conn, w0, w1, nd = wins[c["first_window"] + j]
        assert conn == ci, (ci, j, conn)
        assert us(w0) == (g0 + j) * S and us(w1) - us(w0) == W, (c["uid"], j, w0, w1)
        assert us(w0) <= us(c["end"]) and nd >= 0, (c["uid"], j, w0, c["end"], nd)

# the window rule, and the order: that of the connection table (`conns`)
# (conns --packets --max-pkts 4096 gives each record's stored packets)
tab = [o for o in map(json.loads, open(cl)) if o["proto"] == "tcp"]
assert [o["uid"] for o in tab] == [c["uid"] for c in conns], "not in the table's order"
truncated = 0
for o, c in zip(tab, conns):
    assert c["orig_p"] == o["id.orig_p"] and c["resp_p"] == o["id.resp_p"], (c, o)
    assert c["orig_h"] == o["id.orig_h"] and c["resp_h"] == o["id.resp_h"], (c, o)
    start = us(c["start"])
    g0, g1 = start // S, us(c["end"]) // S
    stored, total = o["packets"], o["orig_pkts"] + o["resp_pkts"]
    assert len(stored) == min(total, MAX_PKTS), (c["uid"], len(stored), total)
    truncated += len(stored) < total
    n = 0
    for g in range(g0, g1 + 1):
        if n == maxw:
            break
        if len(stored) < total and start + stored[-1][0] < g * S + W:
            break  # the stored packets end before this window does
        n += 1
    assert c["n_windows"] == n, (c["uid"], c["n_windows"], n, g1 - g0 + 1)

# JSON lines: same model, same windows in the same order, same vectors
lines = [json.loads(l) for l in open(jl)]
head, jw = lines[0], lines[1:]
assert head["type"] == "model" and head["version"] == 2, head
assert head["model_id"] == m["id"] and head["dim"] == d["dim"], (head, m)
assert len(jw) == len(wins), (len(jw), len(wins))
bykey = {(c["uid"], us(w[1])): (w[0], k) for c in conns
         for k, w in ((c["first_window"] + j, wins[c["first_window"] + j])
                      for j in range(c["n_windows"]))}
assert len(bykey) == len(wins), "a (uid, window start) appears twice"
worst = 0.0
for w in jw:
    conn, k = bykey[(w["uid"], us(w["window_start"]))]
    assert w["conn"] == conn and w["n_data"] == wins[k][3], (w["uid"], w["conn"], conn)
    worst = max(worst, float(np.max(np.abs(np.array(w["vector"]) - X[k]))))
assert worst < 1e-6, "msgpack and jsonl vectors differ by %g" % worst
print("%d connections (%d truncated), %d windows, largest msgpack/jsonl difference %g"
      % (len(conns), truncated, len(wins), worst))
PYEOF
    echo "$name: $(cat "$TMPD/py.out")"
}

check synth-small "$samples/synth-small.pcap" 64
check netns-small "$samples/netns-small.pcap" 64
check generated "$TMPD/gen.pcap" 64
check generated-max3 "$TMPD/gen.pcap" 3
check long "$TMPD/long.pcap" 64
grep -q '(1 truncated)' "$TMPD/py.out" || fail "long.pcap: the long connection is not truncated"

# failures: exit 1, one line, nothing left behind, an existing output kept
sample="$samples/synth-small.pcap"
mkdir "$TMPD/out"
listing() { ls -A "$TMPD/out"; }
expect_fail() { # WHAT ARGS...: the command must fail with exit 1 and one line
    what=$1
    shift
    "$STEPSTONE" embed "$@" >/dev/null 2>"$TMPD/err"
    rc=$?
    [ $rc -eq 1 ] || fail "$what: exit $rc, want 1 ($(cat "$TMPD/err"))"
    [ "$(wc -l <"$TMPD/err")" -eq 1 ] || fail "$what: not one line: $(cat "$TMPD/err")"
    [ "$(listing)" = "$want" ] || fail "$what: left files behind: $(listing)"
}
want=""
expect_fail "unwritable output (no such folder)" -o "$TMPD/out/nodir/e.msgpack" "$sample"
grep -q 'nodir' "$TMPD/err" || fail "unwritable output: message names no path: $(cat "$TMPD/err")"
: >"$TMPD/out/file"
want=file
expect_fail "unwritable output (under a file)" -o "$TMPD/out/file/e.msgpack" "$sample"
rm -f "$TMPD/out/file"
printf 'keep me\n' >"$TMPD/out/e.msgpack"
want=e.msgpack
printf 'not a capture, just text\n' >"$TMPD/bad.pcap"
expect_fail "bad capture" -o "$TMPD/out/e.msgpack" "$TMPD/bad.pcap"
expect_fail "missing capture" -o "$TMPD/out/e.msgpack" "$TMPD/missing.pcap"
printf 'not a model\n' >"$TMPD/bad.model"
expect_fail "bad model" --model "$TMPD/bad.model" -o "$TMPD/out/e.msgpack" "$sample"
# a write error part-way (file size limit; the signal ignored so writes fail)
for fmt in msgpack jsonl; do
    (trap '' XFSZ; ulimit -f 16 && exec "$STEPSTONE" embed --format $fmt \
        -o "$TMPD/out/e.msgpack" "$sample") >/dev/null 2>"$TMPD/err"
    rc=$?
    [ $rc -eq 1 ] || fail "$fmt write error: exit $rc, want 1 ($(cat "$TMPD/err"))"
    grep -q 'cannot write' "$TMPD/err" || fail "$fmt write error: $(cat "$TMPD/err")"
    [ "$(wc -l <"$TMPD/err")" -eq 1 ] || fail "$fmt write error: not one line: $(cat "$TMPD/err")"
    [ "$(listing)" = "$want" ] || fail "$fmt write error: left files behind: $(listing)"
done
[ "$(cat "$TMPD/out/e.msgpack")" = "keep me" ] || fail "a failed embed changed the existing output"
"$STEPSTONE" embed -o "$TMPD/out/e.msgpack" "$sample" 2>/dev/null || fail "embed over a file failed"
[ "$(listing)" = "$want" ] || fail "embed left files behind: $(listing)"
cmp -s "$TMPD/out/e.msgpack" "$TMPD/synth-small.msgpack" || fail "embed did not replace the file"
exit 0
