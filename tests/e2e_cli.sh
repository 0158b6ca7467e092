#!/bin/sh
# e2e_cli.sh - what every subcommand shares (src/cli/cliutil.h): outputs
# (-o, --dot, --roc, embed's file, model files) are written atomically with
# the mode an ordinary write would give (a new file: 0666 less the umask; an
# existing file keeps its mode), a FIFO is written and never replaced, an
# error names the user's path and leaves nothing behind; option values take
# the same forms everywhere (--threads N or auto); a failed write to stdout
# is reported.
. "$top_srcdir/tests/lib.sh"
[ -x "$STEPSTONE" ] || fail "stepstone binary not found at $STEPSTONE"
tmpdir_make
S="$top_srcdir/datasets/samples/synth-small.pcap"
L="$top_srcdir/datasets/samples/synth-small.csv"
[ -f "$S" ] || skip "sample capture $S not found"

mode() { stat -c %a "$1"; }

# every kind of output, written to $1 (a path); $2 names the case
outputs() { # dir
    d=$1
    "$STEPSTONE" conns -o "$d/conns.tsv" "$S" 2>/dev/null || fail "conns -o"
    "$STEPSTONE" chains --threads 1 -o "$d/chains.txt" --dot "$d/chains.dot" "$S" 2>/dev/null \
        || fail "chains -o --dot"
    "$STEPSTONE" score --threads 1 -o "$d/score.tsv" "$S" 2>/dev/null || fail "score -o"
    "$STEPSTONE" eval --method zhang-paxson --labels "$L" -o "$d/eval.txt" --roc "$d/roc.csv" "$S" \
        2>/dev/null || fail "eval -o --roc"
    "$STEPSTONE" embed --threads 1 -o "$d/embed.msgpack" "$S" 2>/dev/null || fail "embed -o"
    "$STEPSTONE" train calibrate -q --threads 1 --target-fpr 0.5 -o "$d/cal.model" \
        --data "$S:$L" 2>/dev/null || fail "train calibrate -o"
}
FILES="conns.tsv chains.txt chains.dot score.tsv eval.txt roc.csv embed.msgpack cal.model"

# --- new files get 0666 & ~umask (mkstemp's 0600 was kept before) ---------
mkdir "$TMPD/new"
(umask 022 && outputs "$TMPD/new") || exit 1
for f in $FILES; do
    [ "$(mode "$TMPD/new/$f")" = 644 ] || fail "umask 022: $f is $(mode "$TMPD/new/$f"), want 644"
done
mkdir "$TMPD/new2"
(umask 077 && outputs "$TMPD/new2") || exit 1
for f in $FILES; do
    [ "$(mode "$TMPD/new2/$f")" = 600 ] || fail "umask 077: $f is $(mode "$TMPD/new2/$f"), want 600"
done

# --- an existing file keeps its mode ----------------------------------------
mkdir "$TMPD/old"
for f in $FILES; do
    echo old >"$TMPD/old/$f"
    chmod 640 "$TMPD/old/$f"
done
(umask 022 && outputs "$TMPD/old") || exit 1
for f in $FILES; do
    [ "$(mode "$TMPD/old/$f")" = 640 ] || fail "existing 0640 $f became $(mode "$TMPD/old/$f")"
    cmp -s "$TMPD/old/$f" "$TMPD/new/$f" || [ "$f" = cal.model ] || fail "$f: other content"
done
ls "$TMPD/new" "$TMPD/new2" "$TMPD/old" | grep -q '\.tmp\.\|\.part\.' && fail "temporary files left"

# --- a FIFO is written, not replaced ------------------------------------------
mkfifo "$TMPD/fifo"
cat "$TMPD/fifo" >"$TMPD/fifo.out" &
reader=$!
"$STEPSTONE" conns -o "$TMPD/fifo" "$S" 2>/dev/null || fail "conns -o FIFO exited $?"
wait "$reader"
[ -p "$TMPD/fifo" ] || fail "the FIFO was replaced"
cmp -s "$TMPD/fifo.out" "$TMPD/new/conns.tsv" || fail "the FIFO did not get the output"
"$STEPSTONE" chains --threads 1 -o /dev/null "$S" 2>/dev/null || fail "chains -o /dev/null"
[ -c /dev/null ] || fail "/dev/null was replaced"

# --- errors name the user's path, leave nothing behind ----------------------------
mkdir "$TMPD/ro"
for cmd in "conns -o $TMPD/ro/x/out $S" "chains --threads 1 --dot $TMPD/ro/x/out $S" \
           "score --threads 1 -o $TMPD/ro/x/out $S" "embed --threads 1 -o $TMPD/ro/x/out $S" \
           "eval --method zhang-paxson --labels $L --roc $TMPD/ro/x/out $S"; do
    # shellcheck disable=SC2086
    "$STEPSTONE" $cmd >/dev/null 2>"$TMPD/err"
    rc=$?
    [ $rc -eq 1 ] || fail "'$cmd': exit $rc, want 1"
    grep -q "^stepstone [a-z]*: cannot create $TMPD/ro/x/out: " "$TMPD/err" \
        || fail "'$cmd': $(cat "$TMPD/err")"
    grep -q '\.tmp' "$TMPD/err" && fail "'$cmd' names the temporary file: $(cat "$TMPD/err")"
done
[ -z "$(ls -A "$TMPD/ro")" ] || fail "a failed output left files: $(ls -A "$TMPD/ro")"

# --- a write error on stdout is reported ---------------------------------------
if [ -w /dev/full ]; then
    for cmd in "conns $S" "chains --threads 1 $S" "score --threads 1 $S"; do
        # shellcheck disable=SC2086
        "$STEPSTONE" $cmd >/dev/full 2>"$TMPD/err"
        rc=$?
        [ $rc -eq 1 ] || fail "'$cmd' >/dev/full: exit $rc, want 1"
        grep -q "cannot write the output: No space left on device" "$TMPD/err" \
            || fail "'$cmd' >/dev/full: $(cat "$TMPD/err")"
    done
fi

# --- option values: the same forms in every subcommand --------------------------
"$STEPSTONE" score --threads auto -o "$TMPD/auto.tsv" "$S" 2>"$TMPD/err" \
    || fail "score --threads auto: $(cat "$TMPD/err")"
cmp -s "$TMPD/auto.tsv" "$TMPD/new/score.tsv" || fail "score --threads auto: other output"
for cmd in chains score embed; do
    "$STEPSTONE" $cmd --threads 0 -o "$TMPD/t0" "$S" >/dev/null 2>"$TMPD/err"
    rc=$?
    [ $rc -eq 2 ] || fail "$cmd --threads 0: exit $rc, want 2"
    grep -qx "stepstone $cmd: --threads needs an integer from 1 to 1024, got '0'" "$TMPD/err" \
        || fail "$cmd --threads 0: $(cat "$TMPD/err")"
done
expect_usage() { # message, args...
    want=$1
    shift
    "$STEPSTONE" "$@" >/dev/null 2>"$TMPD/err"
    rc=$?
    [ $rc -eq 2 ] || fail "'$*': exit $rc, want 2"
    grep -qxF "$want" "$TMPD/err" || fail "'$*': '$(cat "$TMPD/err")', want '$want'"
}
expect_usage "stepstone train: --epochs needs an integer from 1 to 100000, got '1.5'" \
    train correlate -o "$TMPD/m" --epochs 1.5 --labels "$L" "$S"
expect_usage "stepstone train sessions: --seed needs a non-negative integer, got '-1'" \
    train sessions -o "$TMPD/m" --seed -1 "$S"
expect_usage "stepstone eval: --max-lead needs a number of seconds from 0 to 1e+09, got '-1'" \
    eval --labels "$L" --max-lead -1 "$S"
expect_usage "stepstone score: --gap needs a positive number of seconds, got '0'" \
    score --gap 0 "$S"
expect_usage "stepstone synth: --chains needs an integer from 0 to 2147483647, got '-1'" \
    synth -o "$TMPD/x.pcap" -l "$TMPD/x.csv" --chains -1
expect_usage "stepstone score: unknown option '--bogus'; see 'stepstone score --help'" \
    score --bogus "$S"
expect_usage "stepstone train sessions: option '--gap' needs a value" \
    train sessions -o "$TMPD/m" --gap
exit 0
