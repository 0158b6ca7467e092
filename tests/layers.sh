#!/bin/sh
# The layer rule (docs/design.md, "Layers"): tests/layers.py on the tree must
# pass, and must fail on copies of the tree with one upward include and with
# one include circle added (so the check itself can fail).
set -u
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not found"; exit 77; }
python3 "$top/tests/layers.py" "$top" || { echo "FAIL: the tree breaks the layer rule"; exit 1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
copy() { # a fresh copy of the layered folders' sources in $tmp/$1
    for d in src encoders correlate datasets src/cli; do
        mkdir -p "$tmp/$1/$d" && cp "$top/$d"/*.[ch] "$tmp/$1/$d/" || exit 1
    done
}
copy up
printf '#include "correlator.h"\n' >> "$tmp/up/src/conntab.c"
if python3 "$top/tests/layers.py" "$tmp/up" >"$tmp/up.out"; then
    echo "FAIL: an upward include (src/conntab.c -> correlate/correlator.h) was not reported"; exit 1
fi
grep -q 'src/conntab.c:.*includes correlate/correlator.h' "$tmp/up.out" ||
    { echo "FAIL: the upward include was not named:"; cat "$tmp/up.out"; exit 1; }
copy circle
printf '#include "pcapsrc.h"\n' >> "$tmp/circle/src/decode.c"
if python3 "$top/tests/layers.py" "$tmp/circle" >"$tmp/circle.out"; then
    echo "FAIL: an include circle (decode -> pcapsrc -> decode) was not reported"; exit 1
fi
grep -q 'include circle between modules: .*src/decode <-> src/pcapsrc' "$tmp/circle.out" ||
    { echo "FAIL: the circle was not named:"; cat "$tmp/circle.out"; exit 1; }
echo "PASS: layer rule holds; an upward include and a circle are both reported"
