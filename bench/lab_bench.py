#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The benchmarks as the lab's kernels gave them (scripts/bench --lab).

bench/bench.py --lab ran inside each kernel, gmemvm and the floor in the same
boot; this prints its table per kernel from the lab's console logs, and then
the VMM's conversion path and the guest-visible window per conversion of the
flip and fault scenarios. Under QEMU's emulator every time is dominated by
emulation: read the ratios, and compare runs with each other, never with a
host that has KVM.
"""
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
        print(bench.print_table(results, results["machine"]))
        print(f"\n{'scenario':14} {'conversions':>11} {'VMM path':>12} {'window':>12}")
        for name, scenario in sorted(parsed["scenarios"].items()):
            conversions = (scenario.get("report") or {}).get("conversions") or {}
            count = conversions.get("by_fault", 0) + conversions.get("by_hypercall", 0)
            if not count:
                print(f"{name:14} {'not run':>11}")
                continue
            print(f"{name:14} {count:11} {conversions['host_ns'] / count / 1000:9.1f} us "
                  f"{conversions['window_ns'] / count / 1000:9.1f} us")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
