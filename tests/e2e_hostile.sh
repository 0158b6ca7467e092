#!/bin/sh
# e2e_hostile.sh - hostile inputs end to end: model files with out-of-range
# values, unknown keys, impossible sizes or 200,000 keys are refused with a
# one-line message naming the key and exit 1 by every command that loads a
# model; a FIFO with no writer given as a model, labels file or capture is
# refused within seconds instead of hanging (with a writer it is read); input
# bytes in error messages are escaped (no terminal control sequence gets
# through); SIGTERM or SIGINT during `conns -o OUT` leaves no OUT.tmp.* behind.
. "$top_srcdir/tests/lib.sh"
tmpdir_make
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY not found"
sample="$top_srcdir/datasets/samples/synth-small.pcap"
labels="$top_srcdir/datasets/samples/synth-small.csv"

# ---- model files ----
"$STEPSTONE" train calibrate --target-fpr 0.5 -o "$TMPD/good.model" --data "$sample:$labels" \
    2>"$TMPD/err" || fail "train calibrate exited $?: $(cat "$TMPD/err")"
"$PY" - "$TMPD" <<'PYEOF' || fail "could not write the hostile models"
import struct, sys
d = sys.argv[1]
good = open(d + "/good.model", "rb").read()
assert good[-9] == 0xcf
body = good[:-9]

def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h

def seal(b):
    return b + b"\xcf" + struct.pack(">Q", fnv(b))

def patch(b, after, new):
    k = b.index(after) + len(after)
    return b[:k] + new + b[k + len(new):]

def write(name, b):
    open(d + "/" + name, "wb").write(b)

thr = b"\xa9threshold\xcb"
for name, v in [("thr-neg", -1.0), ("thr-big", 1.5), ("thr-2p31", 2.0 ** 31),
                ("thr-nan", float("nan"))]:
    write(name + ".model", seal(patch(body, thr, struct.pack(">d", v))))
for arr, name, v in [(b"\xa3std\x96\xca", "std-nan", float("nan")),
                     (b"\xa3std\x96\xca", "std-inf", float("inf")),
                     (b"\xa3std\x96\xca", "std-zero", 0.0),
                     (b"\xa4mean\x96\xca", "mean-inf", float("-inf"))]:
    write(name + ".model", seal(patch(body, arr, struct.pack(">f", v))))
# one more config key: the fixmap header of config counts it
k = body.index(b"\xa6config") + 7
n = body[k] & 0x0f
assert body[k] & 0xf0 == 0x80 and n < 15
def with_key(key, val):
    return seal(body[:k] + bytes([0x80 | (n + 1)]) + key + val + body[k + 1:])
write("unknown-key.model", with_key(b"\xa3foo", b"\x01"))
write("esc-key.model", with_key(b"\xa7\x1b]0;pw\x07", b"\x01"))
# 200,000 config keys (2.4 MB): refused by the key count, at once
many = b"".join(b"\xa7" + b"k%06d" % i + b"\x01" for i in range(200000))
write("many-keys.model", seal(body[:k] + b"\xdf" + struct.pack(">I", n + 200000) + many
                              + body[k + 1:]))
# 5 bytes declaring a map of 2^32 - 1 pairs
write("huge-map.model", b"\xdf\xff\xff\xff\xff")
PYEOF

# check_refused MODEL PATTERN CMD...: CMD exits 1 within the time limit with
# one line naming what is wrong, and no raw control byte
check_refused() {
    what=$1 want=$2
    shift 2
    timeout 20 "$@" >/dev/null 2>"$TMPD/err" </dev/null
    rc=$?
    [ $rc -eq 1 ] || fail "$what: '$*' exited $rc, want 1: $(cat "$TMPD/err")"
    [ "$(wc -l <"$TMPD/err")" -eq 1 ] || fail "$what: not one line: $(cat "$TMPD/err")"
    grep -q -- "$want" "$TMPD/err" || fail "$what: message lacks '$want': $(cat "$TMPD/err")"
    if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$TMPD/err"; then
        fail "$what: raw control bytes in the message: $(od -c "$TMPD/err" | head -5)"
    fi
}

for spec in "thr-neg:threshold = -1 is out of range" "thr-big:threshold = 1.5 is out of range" \
            "thr-2p31:threshold = 2.14748e+09 is out of range" "thr-nan:threshold = nan" \
            "std-nan:std\[0\] = nan" "std-inf:std\[0\] = inf" "std-zero:std\[0\] = 0" \
            "mean-inf:mean\[0\] = -inf" "unknown-key:unknown config key 'foo'" \
            'esc-key:config key .\\x1b\]0;pw\\x07. is not a name' \
            "many-keys:200011 config keys, at most 256" \
            "huge-map:a map of 4294967295 entries"; do
    m=${spec%%:*} pat=${spec#*:}
    check_refused "$m" "$pat" "$STEPSTONE" chains --model "$TMPD/$m.model" "$sample"
done
# every command that loads a model
m="$TMPD/thr-big.model" pat="threshold = 1.5"
check_refused "embed --model" "$pat" "$STEPSTONE" embed --model "$m" -o "$TMPD/e.msgpack" "$sample"
check_refused "score --encoder" "$pat" "$STEPSTONE" score --encoder "$m" "$sample"
check_refused "score --model" "expected 'session'" "$STEPSTONE" score --model "$m" "$sample"
check_refused "score --model huge" "a map of 4294967295" \
    "$STEPSTONE" score --model "$TMPD/huge-map.model" "$sample"
check_refused "eval --arg lstm=" "$pat" "$STEPSTONE" eval --labels "$labels" --method lstm \
    --arg "lstm=$m" "$sample"
check_refused "train calibrate --model" "$pat" "$STEPSTONE" train calibrate --model "$m" \
    -o "$TMPD/c.model" --data "$sample:$labels"
[ ! -e "$TMPD/e.msgpack" ] && [ ! -e "$TMPD/c.model" ] || fail "a refused model left an output"

# ---- terminal control bytes in input text ----
{
    head -n 1 "$labels"
    sed -n 2p "$labels" | awk -F, -v OFS=, '{ $2 = "\033]0;owned\007"; print }'
} >"$TMPD/esc.csv"
check_refused "labels kind" 'bad kind .\\x1b\]0;owned\\x07.' \
    "$STEPSTONE" eval --labels "$TMPD/esc.csv" "$sample"
{
    head -n 1 "$labels"
    sed -n 2p "$labels" | awk -F, -v OFS=, '{ $3 = "10.0.0.\377\233"; print }'
} >"$TMPD/utf.csv"
check_refused "labels bytes" 'bad relay_host_ip .10\.0\.0\.\\xff\\x9b.' \
    "$STEPSTONE" eval --labels "$TMPD/utf.csv" "$sample"

# ---- FIFOs ----
mkfifo "$TMPD/fifo"
check_refused "FIFO model" "is a FIFO with no writer" "$STEPSTONE" chains --model "$TMPD/fifo" "$sample"
check_refused "FIFO labels" "is a FIFO with no writer" "$STEPSTONE" eval --labels "$TMPD/fifo" "$sample"
check_refused "FIFO capture" "is a FIFO with no writer" "$STEPSTONE" conns "$TMPD/fifo"
# with a writer, a model and a labels file are read through a FIFO
cat "$TMPD/good.model" >"$TMPD/fifo" &
timeout 20 "$STEPSTONE" chains --model "$TMPD/fifo" "$sample" >/dev/null 2>"$TMPD/err" ||
    fail "chains --model FIFO with a writer exited $?: $(cat "$TMPD/err")"
wait
cat "$labels" >"$TMPD/fifo" &
timeout 20 "$STEPSTONE" eval --method ipd --labels "$TMPD/fifo" "$sample" >/dev/null 2>"$TMPD/err" ||
    fail "eval --labels FIFO with a writer exited $?: $(cat "$TMPD/err")"
wait

# ---- a signal during conns -o: no temporary left ----
"$STEPSTONE" synth --duration 300 --background 500 -o "$TMPD/big.pcap" -l "$TMPD/big.csv" \
    >/dev/null 2>&1 || fail "synth failed"
sigs=TERM defsig=
env --default-signal=INT true 2>/dev/null && sigs="TERM INT" defsig="env --default-signal=INT"
for sig in $sigs; do
    rm -f "$TMPD/out.txt"
    # the same 140 MB ten times: over a second of reading (duplicates dropped)
    b="$TMPD/big.pcap"
    # (a background job starts with SIGINT ignored, which stepstone respects:
    # env puts the default action back)
    $defsig "$STEPSTONE" conns --json --packets -o "$TMPD/out.txt" "$b" "$b" "$b" "$b" "$b" \
        "$b" "$b" "$b" "$b" "$b" 2>/dev/null &
    pid=$!
    tmp=
    i=0
    while [ $i -lt 20000 ]; do
        for t in "$TMPD"/out.txt.tmp.*; do [ -e "$t" ] && tmp=$t; done
        [ -n "$tmp" ] && break
        i=$((i + 1))
    done
    kill -STOP $pid 2>/dev/null || { wait $pid; skip "conns ended before SIG$sig could be sent"; }
    [ -n "$tmp" ] || fail "conns -o made no temporary"
    kill -$sig $pid
    kill -CONT $pid
    wait $pid
    rc=$?
    [ $rc -ne 0 ] || fail "conns after SIG$sig exited 0"
    set -- "$TMPD"/out.txt.tmp.*
    [ ! -e "$1" ] || fail "SIG$sig left $1 behind (exit $rc)"
    [ ! -e "$TMPD/out.txt" ] || fail "SIG$sig left a partial out.txt"
done
echo "PASS: hostile models, FIFOs, escaped messages and signals"
