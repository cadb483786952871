#!/usr/bin/env python3
"""Prints a hyperfine JSON export as ratios of medians within that one run (issue 24 item 4):
each command's median, min and max, CPU time (user+sys, mean) and its median over the first
command's (or over the command numbered by --base, counting from 0). Times from different runs
are never compared: only the ratios within one run mean something on a busy machine.

    python3 benches/ratios.py H.JSON [--base N] [--strip PREFIX]
"""
import json
import sys

args = sys.argv[1:]
path = args.pop(0)
base, strip = 0, None
while args:
    flag = args.pop(0)
    if flag == "--base":
        base = int(args.pop(0))
    elif flag == "--strip":
        strip = args.pop(0)
results = json.load(open(path))["results"]
den = results[base]
for r in results:
    command = r["command"].replace(strip, "") if strip else r["command"]
    print(
        f'  median {r["median"] * 1000:9.3f} ms (min {r["min"] * 1000:8.3f}, max {r["max"] * 1000:9.3f})'
        f'  cpu {(r["user"] + r["system"]) * 1000:8.3f} ms'
        f'  {r["median"] / den["median"]:6.2f}x median, {(r["user"] + r["system"]) / (den["user"] + den["system"]):6.2f}x cpu'
        f'  {command}'
    )
