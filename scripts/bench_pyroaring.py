#!/usr/bin/env python3
"""The audience operations of `tagflow bench bitmaps`, timed with pyroaring (CRoaring).

Usage: bench_pyroaring.py DIR REPEATS
DIR holds the bitmaps Tagflow wrote in the portable Roaring format (a1, a10, b10, c10, d10, e10, a50,
b50, runs10 .roaring). Prints one JSON object: operation name -> best time in microseconds.
"""
import json
import os
import sys
import time

from pyroaring import BitMap


def best(repeats, work):
    fastest = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest * 1e6


def main():
    directory, repeats = sys.argv[1], int(sys.argv[2])
    b = {}
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), "rb") as f:
            b[name.removesuffix(".roaring")] = BitMap.deserialize(f.read())
    a1, a10, b10, c10, d10, e10 = b["a1"], b["a10"], b["b10"], b["c10"], b["d10"], b["e10"]
    a50, b50, runs10 = b["a50"], b["b50"], b["runs10"]
    operations = {
        "and_count_10x10": lambda: a10.intersection_cardinality(b10),
        "and_10x10": lambda: a10 & b10,
        "or_count_10x10": lambda: a10.union_cardinality(b10),
        "or_10x10": lambda: a10 | b10,
        "andnot_count_10x10": lambda: a10.difference_cardinality(b10),
        "andnot_10x10": lambda: a10 - b10,
        "and_count_1x50": lambda: a1.intersection_cardinality(a50),
        "and_1x50": lambda: a1 & a50,
        "or_50x50": lambda: a50 | b50,
        "and_clustered_x10": lambda: runs10 & a10,
        "and_5_tags": lambda: BitMap.intersection(a10, b10, c10, d10, e10),
        "expression": lambda: ((a10 & b10) - c10) | (d10 & e10),
    }
    print(json.dumps({name: best(repeats, work) for name, work in operations.items()}))


if __name__ == "__main__":
    main()
