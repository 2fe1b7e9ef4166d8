#!/usr/bin/env python3
"""Commands timed in rounds, taking turns at going first.

    bench/turns.py ROUNDS DIR COMMAND [COMMAND...]

Each round runs every command once in DIR (through `sh -c`, output
discarded), the order rotating by one each round, and times each from its
spawn to its exit. Prints, per command, the median time and the median of
its per-round ratios to the first command, with quartiles. Rounds keep a
slow spell of a shared machine from landing on one command only, which
hyperfine's back-to-back runs cannot. See bench/README.md ("At `29c309a`").
"""

import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    rounds, where, commands = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    times = [[] for _ in commands]
    for n in range(rounds):
        turn = n % len(commands)
        for i in list(range(turn, len(commands))) + list(range(turn)):
            start = time.perf_counter()
            subprocess.run(commands[i], shell=True, cwd=where,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[i].append(time.perf_counter() - start)
    for command, taken in zip(commands, times):
        ratios = sorted(t / b for t, b in zip(taken, times[0]))
        q = len(ratios) // 4
        print(f"{statistics.median(taken) * 1000:8.1f} ms  {statistics.median(ratios):.3f}× "
              f"({ratios[q]:.3f}–{ratios[-q - 1]:.3f})  {command}")


if __name__ == "__main__":
    main()
