#!/usr/bin/env python3
"""Two commands run alternately, N times each (A B, then B A, ...), and the ratio of their wall
medians, printed as a row of benches/hot_paths.sh. For "after / before" on a busy machine:
hyperfine runs each command's runs in one block, so a burst of disk or CPU load during one block
lands on one side only; alternating puts both sides under the same load, run by run. Each
command must keep its own state (e.g. its own copy of a keychain folder), since the other one
runs in between. Prints the row, then the medians and the CPU ratio on a short line.

    python3 benches/interleaved.py N LABEL COMMAND_A COMMAND_B
"""
import resource
import shlex
import statistics
import subprocess
import sys
import time

n, label = int(sys.argv[1]), sys.argv[2]
commands = [shlex.split(c) for c in sys.argv[3:5]]
wall, cpu = ([], []), ([], [])


def run(i):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(commands[i], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall[i].append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu[i].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


for _ in range(5):  # warm-up, not kept
    for i in (0, 1):
        run(i)
for side in wall + cpu:
    side.clear()
for k in range(n):
    for i in (0, 1) if k % 2 == 0 else (1, 0):
        run(i)
a, b = statistics.median(wall[0]), statistics.median(wall[1])
print(f"  {label:58s} {a / b:8.3f}x  (no goal)")
print(f"    {a * 1000:.3f} / {b * 1000:.3f} ms; cpu {sum(cpu[0]) / sum(cpu[1]):.3f}x")
