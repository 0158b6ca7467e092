#!/bin/sh
# mkmodel.sh - trains the default correlator on synthetic captures (run by
# `make model`; see docs/encoder.md).
#
#   mkmodel.sh STEPSTONE WORKDIR MODEL [extra 'train correlate' options]
#
# Writes training sets with `stepstone synth`, seeds 1..NTRAIN, and
# validation sets, seeds 900.., all below 1000 (evaluation uses seeds >= 1000),
# varying relay kinds, chaff, jitter, network delay and chain lengths widely
# so the model does not learn one setting, and background traffic from light
# to heavy (the validation sets are heavy, about 3000 negative pairs each, so
# the best epoch is chosen at FPR 1e-3 on about
# 2.5 10^4 negatives). Then trains MODEL and recalibrates its threshold
# (`stepstone train calibrate`, per-pair FPR 1e-4) on calibration sets,
# seeds 500.., with about 1.2 10^5 negative pairs. Training runs on one
# thread, so the model is the same on any machine. WORKDIR keeps the captures
# (about 18 GB with the defaults); delete it afterwards.
# NTRAIN, NVAL and NCAL in the environment change the number of sets.
set -eu
[ $# -ge 3 ] || { echo "usage: mkmodel.sh STEPSTONE WORKDIR MODEL [train options]" >&2; exit 2; }
ss=$1; work=$2; model=$3; shift 3
ntrain=${NTRAIN:-48}
nval=${NVAL:-8}
ncal=${NCAL:-16}
mkdir -p "$work"

kinds="ssh plain mix mix"
chaffs="0 0 0.5 1 2 3 4"
jitters="0 0 0.05 0.2 0.5 1 1.5"
delays="0.0005 0.001 0.004 0.004 0.02 0.06 0.15"
hops="2-3 2-4 2-6 2-8"
backs="60 150 300 600 1000"
outputs="20000 200000 2000000"
cbacks="300 1000 2000 3000"
pick() { # pick INDEX WORDS...: the INDEX-th word (mod count)
    i=$1; shift; n=$#; i=$(( i % n + 1 )); eval "echo \${$i}"
}
gen() { # gen SEED NAME [BACKGROUND [DURATION]]
    s=$1
    k=$(pick $(( s * 7 + 1 )) $kinds); c=$(pick $(( s * 5 + 2 )) $chaffs)
    j=$(pick $(( s * 11 + 3 )) $jitters); d=$(pick $(( s * 3 )) $delays)
    h=$(pick $(( s * 13 )) $hops); b=${3:-$(pick $(( s * 17 + 4 )) $backs)}
    m=$(pick $(( s * 19 + 5 )) $outputs)
    [ -s "$work/$2.pcap" ] && [ -s "$work/$2.csv" ] && return 0
    "$ss" synth -q -o "$work/$2.pcap" --labels "$work/$2.csv" --seed "$s" --duration "${4:-400}" \
        --chains 10 --background "$b" --kind "$k" --chaff "$c" \
        --jitter "$j" --delay "$d" --hops "$h" --max-output "$m"
}
set --  "$@"
data=""
s=1
while [ $s -le "$ntrain" ]; do
    gen $s "train$s"; data="$data --data $work/train$s.pcap:$work/train$s.csv"; s=$(( s + 1 ))
done
s=900
while [ $s -lt $(( 900 + nval )) ]; do
    gen $s "val$s" 1000; data="$data --val $work/val$s.pcap:$work/val$s.csv"; s=$(( s + 1 ))
done
# calibration sets, seeds 500..: light to very heavy background (10^5
# negative pairs in all), used only for the final threshold
calib=""
s=500
while [ $s -lt $(( 500 + ncal )) ]; do
    gen $s "cal$s" "$(pick $s $cbacks)" 600
    calib="$calib --data $work/cal$s.pcap:$work/cal$s.csv"; s=$(( s + 1 ))
done
# one OpenBLAS thread: training is deterministic for a thread count, so this
# gives the same model byte for byte on any machine (options after it, e.g.
# --threads 2, override it)
# shellcheck disable=SC2086
"$ss" train correlate -o "$model" $data --threads 1 "$@"
# shellcheck disable=SC2086
"$ss" train calibrate --model "$model" -o "$model" $calib
