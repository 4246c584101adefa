#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The benchmarks as the lab's kernels gave them (scripts/bench --lab).

bench/bench.py --lab ran inside each kernel, gmemvm and the floor in the same
boot; this prints its table per kernel from the lab's console logs. Under
QEMU's emulator every time is dominated by
emulation: read the ratios, and compare runs with each other, never with a
host that has KVM. Every kernel's results are kept together in
build/bench-lab.json, from which scripts/docs writes README's Performance
table.
"""
import datetime
import importlib.util
import json
import os
import sys


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    repo = sys.argv[1]
    lab = load(os.path.join(repo, "lab", "run.py"), "lab_run")
    bench = load(os.path.join(repo, "bench", "bench.py"), "bench")
    summary = json.load(open(os.path.join(repo, "build", "lab.json")))
    failed = False
    kept = {}
    for kernel in summary["kernels"]:
        log = os.path.join(repo, "build", "lab", f"console-{kernel}.log")
        if not os.path.exists(log):
            continue
        parsed = lab.parse_console(open(log, errors="replace").read())
        entry = parsed["tests"].get("bench")
        output = entry["output"] if entry else ""
        table, marker, text = output.partition("BENCH-JSON\n")
        print(f"\n=== {kernel} ===")
        if not marker:
            failed = True
            print("the benchmarks did not finish; their output:\n" + output[-3000:])
            continue
        results = json.loads(text)
        kept[kernel] = results
        print(bench.print_table(results, results["machine"]))
    with open(os.path.join(repo, "build", "bench-lab.json"), "w") as out:
        json.dump({"date": datetime.date.today().isoformat(), "machine": machine(),
                   "kernels": kept}, out, indent=1)
    sys.exit(1 if failed else 0)


def machine():
    """The machine the lab ran on, for the table's caption."""
    model = "an unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%d CPUs of %s, %d GiB, host Linux %s" % (
        os.cpu_count(), model,
        round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30), os.uname().release)


if __name__ == "__main__":
    main()
