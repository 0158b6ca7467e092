#!/usr/bin/python3
"""delayrelay.py - a TCP relay that delays every chunk in user space (the kernel has no netem).

usage: delayrelay.py LISTEN_IP LISTEN_PORT DST_IP DST_PORT [--delay MS] [--jitter MS] [--seed N]

Accepts connections on LISTEN_IP:LISTEN_PORT; for each, connects to DST_IP:DST_PORT and copies
both ways. Every chunk read is written after a delay drawn from a normal law (mean --delay,
standard deviation --jitter, at least 0), keeping order within a direction (a chunk is never
sent before the previous one). Runs until killed. Standard library only.
"""
import argparse
import heapq
import random
import socket
import sys
import threading
import time


def pump(src, dst, delay, jitter, rng, lock):
    """Copy src to dst, each chunk delayed; close dst's write side at EOF."""
    queue = []
    cond = threading.Condition()
    done = []

    def writer():
        while True:
            with cond:
                while not queue and not done:
                    cond.wait()
                if not queue and done:
                    break
                due, seq, data = heapq.heappop(queue)
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            try:
                dst.sendall(data)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    prev_due, seq = 0.0, 0
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            break
        with lock:
            d = max(0.0, rng.gauss(delay, jitter)) / 1000.0
        due = max(time.monotonic() + d, prev_due)
        prev_due = due
        seq += 1
        with cond:
            heapq.heappush(queue, (due, seq, data))
            cond.notify()
    with cond:
        done.append(1)
        cond.notify()
    w.join()


def serve(conn, dst_addr, delay, jitter, rng, lock):
    try:
        out = socket.create_connection(dst_addr, timeout=10)
        out.settimeout(None)
    except OSError as e:
        print("delayrelay: cannot connect to %s:%d: %s" % (dst_addr[0], dst_addr[1], e),
              file=sys.stderr)
        conn.close()
        return
    a = threading.Thread(target=pump, args=(conn, out, delay, jitter, rng, lock), daemon=True)
    b = threading.Thread(target=pump, args=(out, conn, delay, jitter, rng, lock), daemon=True)
    a.start()
    b.start()
    a.join()
    b.join()
    conn.close()
    out.close()


def main():
    ap = argparse.ArgumentParser(description="TCP relay delaying each chunk")
    ap.add_argument("listen_ip")
    ap.add_argument("listen_port", type=int)
    ap.add_argument("dst_ip")
    ap.add_argument("dst_port", type=int)
    ap.add_argument("--delay", type=float, default=40.0, help="mean delay, ms")
    ap.add_argument("--jitter", type=float, default=15.0, help="standard deviation, ms")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    lock = threading.Lock()
    try:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((a.listen_ip, a.listen_port))
        srv.listen(16)
    except OSError as e:
        print("delayrelay: cannot listen on %s:%d: %s" % (a.listen_ip, a.listen_port, e),
              file=sys.stderr)
        return 1
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, (a.dst_ip, a.dst_port), a.delay, a.jitter,
                                             rng, lock), daemon=True).start()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
