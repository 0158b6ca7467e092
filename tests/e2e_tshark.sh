#!/bin/sh
# e2e_tshark.sh - per-connection packet counts of `stepstone conns` agree with
# tshark's conversation tables (-z conv,tcp and -z conv,udp) on every real
# capture in $REALDATA and $REALDATA/linktypes.
#
# Both sides are reduced to "proto endpointA endpointB total_frames", with the
# two endpoints ("addr:port") sorted, and summed per 5-tuple (so a 5-tuple that
# stepstone splits in two because of port reuse or a timeout still compares
# with tshark's rows for it).
#
# Principled differences that are excluded:
#   - IP fragments: stepstone skips fragments (decode reports them as
#     "fragment"), tshark reassembles them and counts the datagram in a
#     conversation. In captures where decode skipped fragments, stepstone may
#     miss packets (or whole 5-tuples), so there it is only checked that on
#     every 5-tuple both report, stepstone never counts more than tshark.
#   - Frames decode reports as truncated or malformed are not in stepstone's
#     counts; tshark may still count a conversation from what it could parse.
#     Same treatment as fragments.
. "$top_srcdir/tests/lib.sh"
need_realdata
command -v tshark >/dev/null 2>&1 || skip "tshark not installed"
[ -x "$STEPSTONE" ] || fail "stepstone binary not found at $STEPSTONE"
tmpdir_make

# tshark conv rows -> "proto a b frames"
tshark_rows() { # proto file
    tshark -r "$2" -q -z "conv,$1" 2>/dev/null | awk -v proto="$1" '
        $2 == "<->" {
            a = $1; b = $3; fr = $10; gsub(",", "", fr)
            if (b < a) { t = a; a = b; b = t }
            n[a " " b] += fr
        }
        END { for (k in n) print proto, k, n[k] }'
}

# stepstone TSV -> "proto a b frames"
stepstone_rows() { # tsv
    awk -F '\t' '
        /^#/ { next }
        $7 == "tcp" || $7 == "udp" {
            a = $3 ":" $4; b = $5 ":" $6
            if (b < a) { t = a; a = b; b = t }
            n[$7 " " a " " b] += $12 + $13
        }
        END { for (k in n) print k, n[k] }' "$1"
}

checked=0
for f in "$REALDATA"/*.pcap "$REALDATA"/*.pcapng "$REALDATA"/linktypes/*.pcap "$REALDATA"/linktypes/*.pcapng; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    if ! "$STEPSTONE" conns "$f" >"$TMPD/ss.tsv" 2>"$TMPD/ss.err"; then
        fail "$name: stepstone conns failed: $(cat "$TMPD/ss.err")"
    fi
    { tshark_rows tcp "$f"; tshark_rows udp "$f"; } | sort >"$TMPD/ts.rows"
    stepstone_rows "$TMPD/ss.tsv" | sort >"$TMPD/ss.rows"
    lossy=0
    grep -Eq 'fragment|truncated|malformed' "$TMPD/ss.err" && lossy=1
    if [ "$lossy" = 0 ]; then
        if ! cmp -s "$TMPD/ts.rows" "$TMPD/ss.rows"; then
            echo "$name: packet counts differ (< tshark, > stepstone):" >&2
            diff "$TMPD/ts.rows" "$TMPD/ss.rows" | head -20 >&2
            fail "$name: stepstone and tshark disagree"
        fi
    else
        # compare the 5-tuples both report; count tshark's extra frames
        awk '{print $1"|"$2"|"$3, $4}' "$TMPD/ts.rows" | sort >"$TMPD/ts.k"
        awk '{print $1"|"$2"|"$3, $4}' "$TMPD/ss.rows" | sort >"$TMPD/ss.k"
        join -j1 -o 1.2,2.2 "$TMPD/ts.k" "$TMPD/ss.k" >"$TMPD/both" || true
        bad=$(awk '$1 < $2' "$TMPD/both" | wc -l)
        [ "$bad" -eq 0 ] || fail "$name: stepstone counts more packets than tshark on $bad tuples"
        echo "$name: lossy decode (fragments/truncated), compared $(wc -l <"$TMPD/both") shared tuples" >&2
    fi
    checked=$((checked + 1))
done
[ "$checked" -gt 0 ] || skip "no captures in $REALDATA"
echo "e2e_tshark: $checked captures agree with tshark"
