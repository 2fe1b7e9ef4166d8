#!/usr/bin/env python3
"""Where a 200-job run's time goes, parity against just, from the kernel's
process tracepoints.

    bench/phases.py [--runs N] PARITY [PARITY...]

Each binary runs the per-step benchmark's pipeline (200 jobs of `true`,
`--jobs 1`, run directories in their steady state), just runs its 200
recipes, all taking turns at going first, under
`perf record -e sched:sched_process_{fork,exec,exit}` (root, linux-perf).
For each runner it prints the medians over the runs of: parity's start to
the first shell's fork, the sums over the 200 shells of fork to `exec`,
`exec` to exit and exit to the next fork, and the last exit to the runner's
own exit. See bench/README.md ("At `b5fc904`").
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

JOBS = 200
EVENT = re.compile(r"\s*(\S.*?)\s+(\d+)\s+([\d.]+):\s+sched:(\w+): (.*)")


def inputs(work):
    """The pipeline and the justfile of bench/run.sh's steps benchmark."""
    with open(os.path.join(work, "parity.toml"), "w") as toml:
        toml.write("version = 1\n")
        for i in range(1, JOBS + 1):
            toml.write(f'\n[jobs.j{i:03d}]\nrun = "true"\n')
    names = " ".join(f"j{i:03d}" for i in range(1, JOBS + 1))
    with open(os.path.join(work, "justfile"), "w") as just:
        just.write('set shell := ["bash", "-eo", "pipefail", "-c"]\n\n')
        just.write(f"default: {names}\n")
        for i in range(1, JOBS + 1):
            just.write(f"\nj{i:03d}:\n    true\n")


def record(work, commands, runs):
    """Runs the commands in turns under perf; the events as text."""
    script = os.path.join(work, "turns.sh")
    with open(script, "w") as out:
        out.write(f"cd {work}\n")
        for n in range(runs):
            for k in range(len(commands)):
                out.write(commands[(n + k) % len(commands)] + " >/dev/null 2>&1\n")
    data = os.path.join(work, "perf.data")
    events = "sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit"
    subprocess.run(
        ["perf", "record", "-q", "-a", "-e", events, "-o", data, "--", "bash", script],
        check=True,
    )
    return subprocess.run(
        ["perf", "script", "-i", data, "-F", "comm,tid,time,event,trace"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def phases(text, runners):
    """Per runner, one row of phase durations (ms) per run."""
    events = [m.groups() for m in map(EVENT.match, text.splitlines()) if m]
    rows = {}
    i = 0
    while i < len(events):
        comm, tid, ts, event, trace = events[i]
        runner = trace.split()[0].rsplit("/", 1)[-1] if event == "sched_process_exec" else ""
        if runner not in runners:
            i += 1
            continue
        pid, start = tid, float(ts)
        forks, execs, exits, order, end = {}, {}, {}, [], None
        j = i
        for j in range(i + 1, len(events)):
            comm, tid, ts, event, trace = events[j]
            if event == "sched_process_fork":
                forks[re.search(r"child_pid=(\d+)", trace).group(1)] = float(ts)
            elif event == "sched_process_exec" and "bash" in trace and tid in forks:
                execs[tid] = float(ts)
                order.append(tid)
            elif event == "sched_process_exit" and comm == "bash" and tid in execs:
                exits[tid] = float(ts)
            elif event == "sched_process_exit" and tid == pid:
                end = float(ts)
                break
        i = j + 1
        if end is None or len(order) != JOBS or any(p not in exits for p in order):
            continue
        rows.setdefault(runner, []).append(
            [
                forks[order[0]] - start,
                sum(execs[p] - forks[p] for p in order),
                sum(exits[p] - execs[p] for p in order),
                sum(forks[b] - exits[a] for a, b in zip(order, order[1:])),
                end - exits[order[-1]],
                end - start,
            ]
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("parity", nargs="+", help="parity binaries to compare")
    args = parser.parse_args()
    just = shutil.which("just") or os.path.expanduser("~/.cargo/bin/just")
    for tool in (just, shutil.which("perf")):
        if not tool or not os.access(tool, os.X_OK):
            sys.exit("phases: needs just (cargo install just) and perf (apt-get install linux-perf)")
    binaries = [os.path.abspath(p) for p in args.parity]
    names = [os.path.basename(p) for p in binaries]
    if len(set(names)) != len(names):
        sys.exit("phases: give the binaries different file names; the table tells them apart by name")
    with tempfile.TemporaryDirectory(prefix="parity-phases.") as work:
        inputs(work)
        for binary in binaries:
            # The steady state: the kept runs stop growing after 50 (PARITY_KEEP_RUNS).
            for _ in range(52 // len(binaries) + 1):
                subprocess.run([binary, "run", "--jobs", "1"], cwd=work, check=True,
                               stdout=subprocess.DEVNULL)
        commands = [f"{just} -f {work}/justfile"] + [f"{b} run --jobs 1" for b in binaries]
        rows = phases(record(work, commands, args.runs), {"just", *names})
    print("| | start to first fork | forks to `exec`s | `exec`s to exits "
          "| exits to next forks | last exit to the end | total |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    just_total = None
    for name in ["just", *names]:
        if name not in rows:
            continue
        medians = [statistics.median(col) * 1000 for col in zip(*rows[name])]
        just_total = just_total or medians[-1]
        cells = " | ".join(f"{m:.2f} ms" if k in (0, 4) else f"{m:.1f} ms"
                           for k, m in enumerate(medians))
        print(f"| {name} | {cells} ({medians[-1] / just_total:.2f}×) |")


if __name__ == "__main__":
    main()
