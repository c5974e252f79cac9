#!/usr/bin/env python3
"""How far flows are from the behaviour test's thresholds (rules/behaviour.table).

Usage: scripts/behaviour_margins.py [--bin target/release/minetap] CAPTURE_OR_DIR...

Runs minetap with every behaviour threshold relaxed (a temporary rules folder), reads each
opaque flow's measured features from its signals, and checks them against the built-in
thresholds: prints, per flow, the thresholds it fails and by how much (the ratio of the value
to the bound), the closest flows first. A flow failing nothing would be `suspect`.
"""
import argparse, json, re, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELAXED = {"window_s": 0, "min_submits": 0, "min_pushes": 0, "min_answered": 0,
           "max_client_answers": 1e9, "min_submit_bytes": 0, "max_submit_bytes": 1e9,
           "min_ack_bytes": 0, "max_ack_bytes": 1e9, "min_push_bytes": 0, "max_push_bytes": 1e9,
           "max_bulk": 1e9, "max_rate": 1e12, "min_submit_cv": 0, "max_submit_cv": 1e9,
           "min_push_every_s": 0}


def thresholds():
    t = {}
    for line in (ROOT / "rules/behaviour.table").read_text().splitlines():
        m = re.match(r"behaviour (\w+) value=([\d.]+)", line)
        if m:
            t[m.group(1)] = float(m.group(2))
    return t


def features(signals):
    text = " | ".join(signals)
    num = lambda pat: float(re.search(pat, text).group(1)) if re.search(pat, text) else None
    f = {
        "span": num(r"behaviour:(\d+)s in"), "rate": num(r"([\d.]+) B/s"),
        "bulk": num(r"(\d+) bulk"), "starts": num(r"client exchanges (\d+)"),
        "submits": num(r"exchanges \d+, (\d+) answered"),
        "answered": (num(r"answered \((\d+)%\)") or 0) / 100,
        "submit_bytes": num(r"answered \(\d+%\), mean (\d+) B"),
        "submit_cv": num(r"client exchanges .*?\(cv ([\d.]+)\)"),
        "ack": num(r"acknowledgements mean ([\d.]+|NaN) B"),
        "pushes": num(r"server pushes (\d+)"), "push_bytes": num(r"server pushes \d+, mean (\d+) B"),
        "push_every": num(r"server pushes \d+, mean \d+ B every ([\d.]+)s"),
    }
    a = re.search(r"client answers (\d+) of (\d+) messages", text)
    f["client_answers"] = int(a.group(1)) / max(int(a.group(2)), 1) if a else 0
    return f


def failures(f, t):
    """(threshold, value, bound, ratio) for each threshold the flow fails."""
    out = []
    def low(name, v):  # v must be >= t[name]
        if v is None or v != v or v < t[name]:
            out.append((name, v, t[name], (v or 0) / t[name] if t[name] else 0))
    def high(name, v):  # v must be <= t[name]
        if v is not None and v > t[name]:
            out.append((name, v, t[name], v / t[name] if t[name] else float("inf")))
    low("window_s", f["span"]); low("min_submits", f["submits"]); low("min_pushes", f["pushes"])
    low("min_answered", f["answered"]); high("max_client_answers", f["client_answers"])
    low("min_submit_bytes", f["submit_bytes"]); high("max_submit_bytes", f["submit_bytes"])
    low("min_ack_bytes", f["ack"]); high("max_ack_bytes", f["ack"])
    low("min_push_bytes", f["push_bytes"] if f["pushes"] else None)
    high("max_push_bytes", f["push_bytes"]); high("max_bulk", f["bulk"]); high("max_rate", f["rate"])
    low("min_submit_cv", f["submit_cv"]); high("max_submit_cv", f["submit_cv"])
    if f["push_every"] is not None:
        low("min_push_every_s", f["push_every"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target/release/minetap"))
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    t = thresholds()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "relaxed.table").write_text("".join(
            f'behaviour {k} value={v} source="relaxed to measure"\n' for k, v in RELAXED.items()))
        for p in a.paths:
            r = subprocess.run([a.bin, "scan", "-q", "--no-progress", "--rules", d, p],
                               capture_output=True, text=True)
            for line in r.stdout.splitlines():
                e = json.loads(line)
                sig = (e.get("mining") or {}).get("signals", [])
                if not any(s.startswith("behaviour:") for s in sig):
                    continue
                fails = failures(features(sig), t)
                flow = f'{Path(p).name} {e["src_ip"]}:{e["src_port"]} -> {e["dest_ip"]}:{e["dest_port"]}'
                rows.append((len(fails), flow, fails))
    rows.sort(key=lambda r: r[0])
    for n, flow, fails in rows:
        what = "; ".join(f"{k} {(v if v is not None else float('nan')):.3g} vs {b:g}" for k, v, b, _ in fails) if fails else "PASSES (suspect)"
        print(f"{n:2} {flow}: {what}")


if __name__ == "__main__":
    sys.exit(main())
