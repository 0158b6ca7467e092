#!/bin/sh
# e2e_capture_layer.sh - the capture reader's fuzz target, built from the
# capture layer's sources alone (no libFuzzer: tests/fuzz_replay.c drives it),
# replays the bundled sample captures and truncated copies of one; the
# target traps when an invariant of the reader breaks.
. "$top_srcdir/tests/lib.sh"
REPLAY="$top_builddir/tests/fuzz_pcapsrc_replay"
[ -x "$REPLAY" ] || fail "tests/fuzz_pcapsrc_replay was not built"
tmpdir_make
s="$top_srcdir/datasets/samples"
head -c 5000 "$s/netns-small.pcap" > "$TMPD/cut.pcap"
head -c 23 "$s/netns-small.pcap" > "$TMPD/header.pcap"
: > "$TMPD/empty.pcap"
"$REPLAY" "$s"/*.pcap "$TMPD/cut.pcap" "$TMPD/header.pcap" "$TMPD/empty.pcap" > "$TMPD/out" ||
    fail "the capture reader's fuzz target failed: $(tail -n 3 "$TMPD/out")"
n=$(grep -c 'bytes replayed' "$TMPD/out")
[ "$n" -ge 7 ] || fail "only $n files replayed"
echo "PASS: $n captures replayed through the capture-layer fuzz target"
