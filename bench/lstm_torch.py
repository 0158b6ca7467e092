#!/usr/bin/python3
"""PyTorch peer of bench/lstm_bench.c (run by lstm_bench.sh with Debian's python3).

usage: /usr/bin/python3 bench/lstm_torch.py THREADS [MIN_SECONDS]

Same shapes as the C bench: nn.LSTM(H, H), one layer, one direction,
batch_first, float32, every sequence of full length T (no packing), H in
{64,128}, T in {64,128}, B in {1,32,256}. Forward runs under
torch.inference_mode(); a training step is forward + backward of
sum(out * R) with input gradients, as the C bench does. Each figure is from
the fastest call among those made within MIN_SECONDS. Prints lines:
  torch THREADS H T B fwd_seq_per_s train_seq_per_s
"""
import sys
import time

import torch


def time_per_call(fn, min_s):
    """Seconds of the fastest call among repeats lasting min_s, after a warm-up."""
    fn()
    n = 0
    best = float("inf")
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        n += 1
        if time.perf_counter() - start >= min_s and n >= 3:
            return best


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: lstm_torch.py THREADS [MIN_SECONDS]")
    threads = int(sys.argv[1])
    min_s = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    print("# impl\tthreads\tH\tT\tB\tfwd_seq_s\ttrain_seq_s")
    for H in (64, 128):
        for T in (64, 128):
            for B in (1, 32, 256):
                lstm = torch.nn.LSTM(H, H, batch_first=True)
                x = torch.rand(B, T, H) * 2 - 1
                r = torch.rand(B, T, H) * 2 - 1

                def fwd():
                    with torch.inference_mode():
                        lstm(x)

                xg = x.clone().requires_grad_(True)

                def train():
                    out, _ = lstm(xg)
                    (out * r).sum().backward()

                tf = time_per_call(fwd, min_s)
                tt = time_per_call(train, min_s)
                print("torch\t%d\t%d\t%d\t%d\t%.1f\t%.1f" % (torch.get_num_threads(), H, T, B,
                                                          B / tf, B / tt), flush=True)


if __name__ == "__main__":
    main()
