#!/usr/bin/python3
"""checklabels.py - check a relay labels.csv against the capture(s) it describes.

usage: checklabels.py [--stats] [--slack S] LABELS.csv CAPTURE [CAPTURE...]

For every row (one relay hop pair) both connections, inbound (in_src -> in_dst) and outbound
(out_src -> out_dst), must exist in the capture as TCP connections with packets in both
directions, overlapping the row's [start_time, end_time] (give or take --slack seconds, default 2).
The header must be exactly the label format's. relay_host_ip must be the inbound destination and
the outbound source (a relay behind address translation breaks this: it is reported as a warning).
--stats also prints capture counts (packets, TCP connections, labelled rows, chains, relays).

Exit status: 0 all rows check, 1 some row does not, 2 unreadable input. Standard library only.
"""
import csv
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapfile  # noqa: E402

HEADER = ["chain_id", "kind", "relay_host_ip", "in_src_ip", "in_src_port", "in_dst_ip",
          "in_dst_port", "out_src_ip", "out_src_port", "out_dst_ip", "out_dst_port",
          "start_time", "end_time"]


def read_labels(path):
    """Return the rows of a labels.csv as dicts; raise ValueError with a message on bad input."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != HEADER:
        raise ValueError("%s: header is not the label format (%s)" % (path, ",".join(HEADER)))
    out = []
    for n, r in enumerate(rows[1:], start=2):
        if not r:
            continue
        if len(r) != len(HEADER):
            raise ValueError("%s:%d: %d fields, expected %d" % (path, n, len(r), len(HEADER)))
        d = dict(zip(HEADER, r))
        try:
            for k in ("in_src_port", "in_dst_port", "out_src_port", "out_dst_port"):
                d[k] = int(d[k])
                if not 0 < d[k] < 65536:
                    raise ValueError("port out of range")
            d["start_time"] = float(d["start_time"])
            d["end_time"] = float(d["end_time"])
        except ValueError as e:
            raise ValueError("%s:%d: bad number (%s)" % (path, n, e))
        if d["end_time"] < d["start_time"]:
            raise ValueError("%s:%d: end_time before start_time" % (path, n))
        d["line"] = n
        out.append(d)
    return out


def main(argv):
    args = argv[1:]
    stats = False
    slack = 2.0
    while args and args[0].startswith("--"):
        if args[0] == "--stats":
            stats = True
            args = args[1:]
        elif args[0] == "--slack" and len(args) > 1:
            slack = float(args[1])
            args = args[2:]
        else:
            print(__doc__.strip().splitlines()[2], file=sys.stderr)
            return 2
    if len(args) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        labels = read_labels(args[0])
        table, total = pcapfile.connections(args[1:])
    except (OSError, ValueError, pcapfile.PcapError) as e:
        print("checklabels: %s" % e, file=sys.stderr)
        return 2

    bad = 0
    for d in labels:
        problems = []
        if d["relay_host_ip"] != d["in_dst_ip"] or d["relay_host_ip"] != d["out_src_ip"]:
            print("checklabels: warning: line %d: relay_host_ip %s is not both in_dst_ip and "
                  "out_src_ip" % (d["line"], d["relay_host_ip"]), file=sys.stderr)
        for side in ("in", "out"):
            src = (d[side + "_src_ip"], d[side + "_src_port"])
            dst = (d[side + "_dst_ip"], d[side + "_dst_port"])
            c = pcapfile.find(table, "tcp", src, dst, d["start_time"], d["end_time"], slack)
            if c is None:
                problems.append("%s connection %s:%d -> %s:%d not in the capture during "
                                "[%.6f, %.6f]" % (side, src[0], src[1], dst[0], dst[1],
                                                  d["start_time"], d["end_time"]))
            elif c.pkts_ab == 0 or c.pkts_ba == 0:
                problems.append("%s connection %s:%d -> %s:%d has packets one way only "
                                "(%d/%d)" % (side, src[0], src[1], dst[0], dst[1],
                                             c.pkts_ab, c.pkts_ba))
        if problems:
            bad += 1
            for p in problems:
                print("checklabels: line %d (chain %s, %s): %s"
                      % (d["line"], d["chain_id"], d["kind"], p), file=sys.stderr)
    ntcp = sum(len(v) for k, v in table.items() if k[0] == "tcp")
    if stats:
        chains = len({d["chain_id"] for d in labels})
        relays = len({d["relay_host_ip"] for d in labels})
        kinds = {}
        for d in labels:
            kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        hosts = set()
        for k, v in table.items():
            for c in v:
                hosts.add(c.a[0])
                hosts.add(c.b[0])
        print("packets=%d tcp_connections=%d hosts=%d rows=%d chains=%d relay_hosts=%d kinds=%s"
              % (total, ntcp, len(hosts), len(labels), chains, relays,
                 ",".join("%s:%d" % kv for kv in sorted(kinds.items()))))
    print("checklabels: %d of %d labelled hop pairs found in the capture with packets both ways"
          % (len(labels) - bad, len(labels)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
