#!/usr/bin/env python3
"""Conversion cost inside the lab's kernels (scripts/bench --lab).

Where this machine has no /dev/kvm the conversion benchmarks can only run
inside the lab's nested kernels. This prints, per kernel and scenario, the
VMM's conversion path per conversion (the report's host_ns) and the
guest-visible cost (its conversion window), read from the lab's console
logs. Under QEMU's emulator both are dominated by emulation: compare them
with each other, not with figures from a host with KVM.
"""
import importlib.util
import json
import os
import sys


def load_lab_parser(repo):
    spec = importlib.util.spec_from_file_location("lab_run", os.path.join(repo, "lab", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    repo = sys.argv[1]
    lab = load_lab_parser(repo)
    summary = json.load(open(os.path.join(repo, "build", "lab.json")))
    print(f"{'kernel':10} {'scenario':14} {'conversions':>11} {'VMM path':>12} {'window':>12}")
    for kernel, result in summary["kernels"].items():
        log = os.path.join(repo, "build", "lab", f"console-{kernel}.log")
        if not result.get("scenarios") or not os.path.exists(log):
            continue
        parsed = lab.parse_console(open(log, errors="replace").read())
        for name, entry in sorted(parsed["scenarios"].items()):
            report = entry.get("report") or {}
            conversions = report.get("conversions") or {}
            count = conversions.get("by_fault", 0) + conversions.get("by_hypercall", 0)
            if not count:
                print(f"{kernel:10} {name:14} {'not run':>11}")
                continue
            path_us = conversions["host_ns"] / count / 1000
            window_us = conversions["window_ns"] / count / 1000
            print(f"{kernel:10} {name:14} {count:11} {path_us:9.1f} us {window_us:9.1f} us")


if __name__ == "__main__":
    main()
