#!/bin/sh
# e2e_badinput.sh - bad captures given to `stepstone conns`: a garbage file,
# an empty file and a nonexistent file are fatal (one-line error naming the
# file, non-zero exit); a capture truncated mid-frame is read up to the damage
# (warning naming the file, exit 0, the frames before it are used). Each run
# goes under valgrind when it is installed.
. "$top_srcdir/tests/lib.sh"

"$STEPSTONE" conns --help >/dev/null 2>&1 || skip "'stepstone conns' is not available"
command -v /usr/bin/python3 >/dev/null 2>&1 || skip "/usr/bin/python3 is needed to write the test captures"
tmpdir_make

VG=
if command -v valgrind >/dev/null 2>&1; then
    VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
fi

# run FILE...: runs conns, leaving stdout, stderr and the status in $TMPD.
run() {
    rc=0
    $VG "$STEPSTONE" conns "$@" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
    [ "$rc" -ne 99 ] || { cat "$TMPD/err" >&2; fail "valgrind found errors on: $*"; }
}

# expect_fatal FILE: non-zero exit, exactly one stderr line, naming FILE.
expect_fatal() {
    run "$1"
    [ "$rc" -ne 0 ] || fail "$1: exit 0, expected an error"
    n=$(wc -l <"$TMPD/err")
    [ "$n" -eq 1 ] || { cat "$TMPD/err" >&2; fail "$1: $n lines on stderr, expected one"; }
    grep -F -q "$1" "$TMPD/err" || { cat "$TMPD/err" >&2; fail "$1: error does not name the file"; }
    echo "ok: $(cat "$TMPD/err")"
}

# Captures written here: 4 Ethernet/IPv4/TCP frames, each of a different
# connection (10.0.0.1:1000+k -> 10.0.0.2:22, one SYN each).
/usr/bin/python3 - "$TMPD" <<'PY' || fail "cannot write the test captures"
import struct, sys
d = sys.argv[1]
def frame(k):
    tcp = struct.pack("!HHIIBBHHH", 1000 + k, 22, 1, 0, 5 << 4, 0x02, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), k, 0, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return b"\x00\x01\x02\x03\x04\x05\x00\x01\x02\x03\x04\x06\x08\x00" + ip + tcp
def pcap(name, n):
    with open(f"{d}/{name}", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for k in range(n):
            b = frame(k)
            f.write(struct.pack("<IIII", 1700000000 + k, 0, len(b), len(b)) + b)
pcap("three.pcap", 3)
pcap("four.pcap", 4)
PY

printf 'this is not a capture, just text\n' >"$TMPD/garbage.pcap"
expect_fatal "$TMPD/garbage.pcap"
: >"$TMPD/empty.pcap"
expect_fatal "$TMPD/empty.pcap"
expect_fatal "$TMPD/does-not-exist.pcap"

# Truncated: four.pcap cut 10 bytes into its last frame's 54.
size=$(wc -c <"$TMPD/four.pcap")
head -c $((size - 44)) "$TMPD/four.pcap" >"$TMPD/cut.pcap"
run "$TMPD/cut.pcap"
[ "$rc" -eq 0 ] || { cat "$TMPD/err" >&2; fail "truncated capture: exit $rc, expected 0"; }
grep -F "$TMPD/cut.pcap" "$TMPD/err" | grep -q "truncated after 3 frames" ||
    { cat "$TMPD/err" >&2; fail "truncated capture: no warning naming the file"; }
warning=$(grep -F "$TMPD/cut.pcap" "$TMPD/err")
sed "s|$TMPD/cut.pcap|CAPTURE|g" "$TMPD/out" >"$TMPD/out.cut"
[ -s "$TMPD/out.cut" ] || fail "truncated capture: nothing printed"
# What came before the damage is what a clean 3-frame capture gives.
run "$TMPD/three.pcap"
[ "$rc" -eq 0 ] || fail "three.pcap: exit $rc"
sed "s|$TMPD/three.pcap|CAPTURE|g" "$TMPD/out" >"$TMPD/out.three"
cmp -s "$TMPD/out.three" "$TMPD/out.cut" ||
    { diff "$TMPD/out.three" "$TMPD/out.cut" >&2; fail "truncated capture: output differs from its first 3 frames"; }
echo "ok: truncated capture read up to the damage: $warning"
exit 0
