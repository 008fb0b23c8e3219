"""Runs a command and prints its wall time and the peak of the summed resident memory of its
whole process tree (sampled every 50 ms from /proc), for programs that fork, like PySpark's
Python driver, its JVM and its Python workers. `/usr/bin/time` reports only the largest single
process, which would flatter them.

usage: tree_peak_memory.py OUTPUT_FILE COMMAND [ARGS...]   (OUTPUT_FILE gets "SECONDS PEAK_KB")
"""

import os
import subprocess
import sys
import time


def children_of():
    parents = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                # The command name is in parentheses and may hold spaces: split after it.
                fields = stat.read().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(pid))
        except (OSError, IndexError):
            continue
    return parents


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root):
    parents, total, stack = children_of(), 0, [root]
    while stack:
        pid = stack.pop()
        total += rss_kb(pid)
        stack.extend(parents.get(pid, []))
    return total


output, command = sys.argv[1], sys.argv[2:]
started = time.time()
process = subprocess.Popen(command)
peak = 0
while process.poll() is None:
    peak = max(peak, tree_rss_kb(process.pid))
    time.sleep(0.05)
seconds = time.time() - started
with open(output, "w") as out:
    out.write(f"{seconds:.2f} {peak}\n")
sys.exit(process.returncode)
