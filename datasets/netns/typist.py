#!/usr/bin/python3
"""typist.py - drive an interactive program through a pseudo-terminal like a person.

Spawns COMMAND in a pty and plays a plan (one directive per line) against it:

    expect [SECONDS]     wait until the output received since the last typed line ends with a
                         shell prompt ('# ' or '$ ', optionally followed by spaces); fail after
                         SECONDS (default 20)
    type TEXT            type TEXT key by key (log-normal inter-key delays, rare typos fixed with
                         backspace, longer pauses between words), then Enter
    rawtype TEXT         the same, for programs in raw mode (Enter is sent as '\\r')
    pause SECONDS        think for a log-normal time around SECONDS
    session N [SECONDS]  up to N random commands from the command pool (ls, cat of the generated
                         files, echo, top-like bursts, ps, ...), each followed by 'expect' and a pause;
                         stops early at the --until time, and after SECONDS if given
    sleep SECONDS        plain sleep

The words @FILES@ and @CFG@ in the plan are replaced by --files and --cfg. All randomness comes
from --seed, so a run is repeatable up to the kernel's timing. Output of the program is read and
discarded (kept in --log if given). Exit status: 0 when the plan ran to its end, 1 when an expect
timed out or the program died early, 2 on bad usage. The child is killed on exit.
"""
import argparse
import math
import os
import pty
import random
import re
import select
import signal
import sys
import time

PROMPT_RE = re.compile(rb"[#$] *$")
ANSI_RE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\r")


class Typist:
    """One pty session and the typing model."""

    def __init__(self, argv, rng, log, until):
        self.rng = rng
        self.log = log
        self.until = until
        self.buf = b""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)

    def pump(self, seconds):
        """Read output for up to SECONDS; return False when the child closed the pty."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                return True
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            if self.log:
                self.log.write(data)
            self.buf = (self.buf + data)[-8192:]

    def expect(self, timeout):
        """Wait for a shell prompt at the end of the output seen since the last typed line."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            clean = ANSI_RE.sub(b"", self.buf).rstrip(b"\n")
            if PROMPT_RE.search(clean):
                return True
            if not self.pump(min(0.2, end - time.monotonic())):
                return False
        return False

    def key_delay(self, prev, ch):
        """Log-normal delay before pressing CH: median ~140 ms, longer at word starts."""
        d = self.rng.lognormvariate(math.log(0.14), 0.45)
        if prev == " ":
            d += self.rng.lognormvariate(math.log(0.12), 0.8)
        if self.rng.random() < 0.03:  # a hesitation
            d += self.rng.lognormvariate(math.log(0.8), 0.6)
        return min(d, 4.0)

    def send(self, data):
        os.write(self.fd, data)

    def type_line(self, text, enter=b"\n"):
        self.buf = b""
        prev = ""
        for ch in text:
            if not self.pump(self.key_delay(prev, ch)):
                return False
            if ch.isalpha() and self.rng.random() < 0.02:  # typo, noticed, erased
                self.send(self.rng.choice("asdfghjkl").encode())
                if not self.pump(self.rng.lognormvariate(math.log(0.35), 0.4)):
                    return False
                self.send(b"\x7f")
                if not self.pump(self.rng.lognormvariate(math.log(0.2), 0.4)):
                    return False
            self.send(ch.encode())
            prev = ch
        if not self.pump(self.rng.lognormvariate(math.log(0.25), 0.5)):
            return False
        self.buf = b""
        self.send(enter)
        return True

    def think(self, seconds):
        return self.pump(self.rng.lognormvariate(math.log(max(seconds, 0.05)), 0.5))


def command_pool(files):
    """Commands a person might type, with outputs from a few bytes to tens of kilobytes."""
    return [
        "ls",
        "ls -la /etc | head -n 40",
        "ls -la " + files,
        "cat " + files + "/notes.txt",
        "cat " + files + "/config.ini",
        "head -c 20000 " + files + "/app.log",
        "tail -n 60 " + files + "/app.log",
        "echo hello",
        "echo $((RANDOM * 7))",
        "pwd",
        "id",
        "uname -a",
        "date",
        "uptime",
        "ps aux | head -n 25",
        "top -b -n 2 -d 0.7 | head -n 30",
        "df -h",
        "grep -c ERROR " + files + "/app.log",
        "wc -l " + files + "/app.log",
        "for i in 1 2 3; do date; sleep 1; done",
        "seq 1 400 | tail -n 20",
    ]


def main():
    ap = argparse.ArgumentParser(description="drive an interactive program like a typing person")
    ap.add_argument("--plan", required=True, help="plan file (see the module docstring)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", default="/tmp", help="folder of generated files for @FILES@")
    ap.add_argument("--cfg", default="", help="ssh client config for @CFG@")
    ap.add_argument("--until", type=float, default=0.0,
                    help="epoch seconds after which 'session' types no new command")
    ap.add_argument("--log", default="", help="keep the program's output here")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    argv = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not argv:
        print("typist.py: no command given", file=sys.stderr)
        return 2
    try:
        with open(a.plan) as f:
            plan = [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError as e:
        print("typist.py: cannot read plan: %s" % e, file=sys.stderr)
        return 2

    rng = random.Random(a.seed)
    log = open(a.log, "ab") if a.log else None
    t = Typist(argv, rng, log, a.until)
    pool = command_pool(a.files)
    status = 0
    try:
        for line in plan:
            line = line.replace("@FILES@", a.files).replace("@CFG@", a.cfg)
            op, _, arg = line.partition(" ")
            ok = True
            if op == "expect":
                ok = t.expect(float(arg or 20))
            elif op == "type":
                ok = t.type_line(arg)
            elif op == "rawtype":
                ok = t.type_line(arg, b"\r")
            elif op == "pause":
                ok = t.think(float(arg))
            elif op == "sleep":
                ok = t.pump(float(arg))
            elif op == "session":
                n, _, secs = arg.partition(" ")
                stop_at = time.time() + float(secs) if secs.strip() else 0.0
                for _ in range(int(n)):
                    if a.until and time.time() >= a.until:
                        break
                    if stop_at and time.time() >= stop_at:
                        break
                    ok = t.type_line(rng.choice(pool)) and t.expect(30) and t.think(1.5)
                    if not ok:
                        break
            else:
                print("typist.py: unknown directive %r" % op, file=sys.stderr)
                status = 2
                break
            if not ok:
                print("typist.py: '%s' failed (output ended or no prompt)" % line, file=sys.stderr)
                status = 1
                break
        # let the program finish on its own after the last line (e.g. 'exit')
        end = time.monotonic() + 5
        while time.monotonic() < end and t.pump(0.2):
            pass
    finally:
        try:
            os.kill(t.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(t.pid, 0)
        except ChildProcessError:
            pass
        if log:
            log.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
