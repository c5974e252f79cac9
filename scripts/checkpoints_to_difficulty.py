#!/usr/bin/env python3
"""Turns a bitcoinj-style checkpoints file (bitcoinj, bitcoincashj, litecoinj: `TXT CHECKPOINTS 1`,
then base64 StoredBlocks: chain work, height, the 80-byte block header) into `difficulty` rows of
rules/difficulty.table: each row is one real block's height, time and nbits, read from its header.

    scripts/checkpoints_to_difficulty.py FILE CHAIN --every N [--from H] [--until H] --source TEXT

Every N-th checkpoint is kept (and the last one), from height H on, before height H.
"""
import argparse
import base64
import datetime
import struct

a = argparse.ArgumentParser()
a.add_argument("file")
a.add_argument("chain")
a.add_argument("--every", type=int, default=1)
a.add_argument("--from", dest="first", type=int, default=0)
a.add_argument("--until", type=int, default=1 << 62)
a.add_argument("--source", required=True)
args = a.parse_args()

lines = open(args.file).read().split("\n")
if not lines[0].startswith("TXT CHECKPOINTS"):
    raise SystemExit(f"{args.file}: not a textual checkpoints file")
signatures = int(lines[1])
count = int(lines[2 + signatures])
blocks = []
for n, line in enumerate(lines[3 + signatures : 3 + signatures + count]):
    raw = base64.b64decode(line)
    if len(raw) not in (96, 116):
        raise SystemExit(f"{args.file}: checkpoint {n + 1} is {len(raw)} bytes, not 96 or 116")
    work = 12 if len(raw) == 96 else 32
    height = struct.unpack(">I", raw[work : work + 4])[0]
    header = raw[work + 4 :]
    time, bits = struct.unpack("<II", header[68:76])
    if args.first <= height < args.until:
        blocks.append((height, time, bits))
kept = blocks[:: args.every]
if blocks and kept[-1] != blocks[-1]:
    kept.append(blocks[-1])
for height, time, bits in kept:
    day = datetime.datetime.fromtimestamp(time, datetime.timezone.utc).date()
    print(f'difficulty {args.chain} height={height} time={time} bits=0x{bits:08x} source="{args.source} ({day})"')
