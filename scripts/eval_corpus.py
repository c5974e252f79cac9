#!/usr/bin/env python3
"""Runs minetap over a labelled corpus and compares its events with the labels.

Usage: scripts/eval_corpus.py CORPUS_DIR [--bin target/release/minetap]

CORPUS_DIR holds `nesfit/` (with FLOWS.tsv: file, client, server, client_methods,
server_methods, label) and `ndpi/` (mining/, crypto-p2p/, benign/ and FLOWS.tsv for mining/).
Prints, per family of labelled mining flows, how many were reported, and every event raised on
benign or crypto-currency node traffic. Exits non-zero if a labelled mining flow was missed or
reported under the wrong protocol or roles, or if anything benign was called mining.
"""
import argparse, json, subprocess, sys
from collections import Counter, defaultdict
from pathlib import Path


FAILED_SCANS = []


def scan(binary, path):
    r = subprocess.run([binary, "scan", "-q", "--no-progress", str(path)],
                       capture_output=True, text=True)
    if r.returncode not in (0,):
        print(f"  ! {path}: exit {r.returncode}: {r.stderr.strip()[:300]}")
        FAILED_SCANS.append(path)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def mining_only(events):
    return [e for e in events if e["event_type"] == "mining"]


# The protocol names minetap may report for what a client was labelled as sending.
FAMILY_PROTOCOLS = {"stratum-v1": ("stratum-v1", "ethereumstratum")}


def norm(ep):
    ep = ep.strip()
    return ep


def family(methods):
    m = methods.lower()
    if "mining." in m:
        return "stratum-v1"
    if "eth_" in m:
        return "ethproxy"
    if "login" in m or m.startswith("submit"):
        return "cryptonote"
    if "getblocktemplate" in m:
        return "getblocktemplate"
    if "getwork" in m:
        return "getwork"
    return "other"


def evaluate_labelled(binary, root, flows_tsv, missed_out):
    rows = [l.rstrip("\n").split("\t") for l in open(flows_tsv)][1:]
    by_file = defaultdict(list)
    for r in rows:
        by_file[r[0]].append(r)
    found = Counter()
    total = Counter()
    fp = []
    pair_hits = []
    for fname, frows in sorted(by_file.items()):
        path = root / fname
        if not path.exists():
            path = next(root.rglob(fname), None)
        events = mining_only(scan(binary, path))
        seen = {}
        for e in events:
            seen[(f"{e['src_ip']}:{e['src_port']}", f"{e['dest_ip']}:{e['dest_port']}")] = e
        labelled = set()
        for _, client, server, cm, sm, label in frows:
            key = (norm(client), norm(server))
            labelled.add(key)
            labelled.add((key[1], key[0]))
            if label != "mining":
                e = seen.get(key) or seen.get((key[1], key[0]))
                if e is not None:
                    m = e.get("mining") or {}
                    src = (m.get("pool") or {}).get("source")
                    if m.get("level") == "likely" and src == "pair":
                        # A known miner's host talking to a pool it mined with: reported by
                        # pair memory, though the client's payload held no mining request.
                        pair_hits.append((fname, client, server))
                    else:
                        fp.append((fname, client, server, label))
                continue
            fam = family(cm)
            total[fam] += 1
            e = seen.get(key)
            if e is not None:
                found[fam] += 1
                if e["mining"]["protocol"] not in FAMILY_PROTOCOLS.get(fam, (fam,)):
                    missed_out.append((fname, client, server, cm, "reported as " + e["mining"]["protocol"]))
            else:
                rev = seen.get((key[1], key[0]))
                missed_out.append((fname, client, server, cm, "reversed roles" if rev else "missed"))
        for k, e in seen.items():
            if k not in labelled:
                fp.append((fname, k[0], k[1], "unlabelled flow"))
    return found, total, fp, pair_hits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--bin", default="target/release/minetap")
    a = ap.parse_args()
    corpus = Path(a.corpus)
    bad = False
    missed = []
    for name in ("nesfit", "ndpi"):
        tsv = corpus / name / "FLOWS.tsv"
        if not tsv.exists():
            continue
        found, total, fp, pair_hits = evaluate_labelled(a.bin, corpus / name, tsv, missed)
        print(f"{name}: labelled mining flows reported, by what the client sent:")
        for fam in sorted(total):
            print(f"  {fam:18} {found[fam]:5} / {total[fam]}")
        if pair_hits:
            print(f"  {len(pair_hits)} flow(s) labelled benign reported as likely by pair memory "
                  "(a confirmed miner's host and its pool):")
            for h in pair_hits:
                print(f"    {h}")
        for f in fp:
            print(f"  FALSE POSITIVE {f}")
            bad = True
    for m in missed:
        print(f"  MISSED or WRONG {m}")
        bad = True
    for group in ("benign", "crypto-p2p"):
        d = corpus / "ndpi" / group
        if not d.exists():
            continue
        files = sorted(p for p in d.iterdir() if p.suffix in (".pcap", ".pcapng", ".cap"))
        hits = 0
        nodes = Counter()
        for p in files:
            for e in scan(a.bin, p):
                if e["event_type"] == "crypto_node":
                    nodes[e["crypto_node"]["protocol"]] += 1
                    continue
                if e["event_type"] != "mining":
                    continue
                hits += 1
                bad = True
                print(f"  FALSE POSITIVE {group}/{p.name}: {e['src_ip']}:{e['src_port']} -> "
                      f"{e['dest_ip']}:{e['dest_port']} {e['mining']['protocol']} {e['mining']['signals'][:3]}")
        extra = ", ".join(f"{n} {p}" for p, n in sorted(nodes.items()))
        print(f"ndpi/{group}: {len(files)} captures, {hits} mining events"
              + (f"; crypto_node events: {extra}" if extra else ""))
    if FAILED_SCANS:
        print(f"{len(FAILED_SCANS)} scan(s) failed: the counts above are not to be trusted")
    sys.exit(1 if bad or FAILED_SCANS else 0)


if __name__ == "__main__":
    main()
