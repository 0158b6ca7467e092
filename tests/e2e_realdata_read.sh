#!/bin/sh
# e2e_realdata_read.sh - `stepstone conns` reads every real capture in
# $REALDATA and $REALDATA/linktypes (pcap and pcapng, several link types)
# without an error or a warning, alone and all merged in one run; the small
# link-type captures also run under valgrind when it is installed.
. "$top_srcdir/tests/lib.sh"

need_realdata
"$STEPSTONE" conns --help >/dev/null 2>&1 || skip "'stepstone conns' is not available"
tmpdir_make

VG=
if command -v valgrind >/dev/null 2>&1; then
    VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
fi

n=0
for f in "$REALDATA"/*.pcap "$REALDATA"/*.pcapng "$REALDATA"/linktypes/*.pcap "$REALDATA"/linktypes/*.pcapng; do
    [ -f "$f" ] || continue
    case "$f" in
        */linktypes/*) vg=$VG ;;
        *) vg= ;;
    esac
    rc=0
    $vg "$STEPSTONE" conns "$f" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$TMPD/err" >&2; fail "$f: exit $rc"; }
    if grep -q -i "error\|warning\|truncated" "$TMPD/err"; then
        cat "$TMPD/err" >&2
        fail "$f: unexpected message"
    fi
    n=$((n + 1))
done
[ "$n" -gt 0 ] || skip "no capture found in $REALDATA"

# All at once: one merged timeline.
rc=0
"$STEPSTONE" conns "$REALDATA"/*.pcap* "$REALDATA"/linktypes/*.pcap >"$TMPD/out" 2>"$TMPD/err" || rc=$?
[ "$rc" -eq 0 ] || { cat "$TMPD/err" >&2; fail "all captures merged: exit $rc"; }
[ -s "$TMPD/out" ] || fail "all captures merged: nothing printed"
echo "ok: $n real captures read, alone and merged"
exit 0
