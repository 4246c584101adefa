#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts that do not depend on the machine's load (docs/performance.md):

- system calls per conversion and per exit, of the thread that runs the vCPU,
  from strace: two runs that differ only in their number of conversions (or
  exits), the difference divided by it, so set-up and tear-down cancel;
- user-space instructions from exec to the first KVM_RUN, and per
  conversion, from valgrind's callgrind, which counts the same total
  whatever else the machine is doing.

Both gmemvm and the floor (bench/floor.c) are counted the same way.
--check FILE compares gmemvm's counts with the thresholds kept in the
repository (bench/thresholds.json) and fails on a regression.
"""
import collections
import glob
import json
import os
import re
import subprocess
import tempfile

# ioctl request numbers (Linux's kvm.h), so a count names the call; strace
# prints them raw (-e raw=ioctl), whatever its own tables know.
IOCTLS = {
    0xAE80: "KVM_RUN",
    0x40A0AE49: "KVM_SET_USER_MEMORY_REGION2",
    0x4020AED2: "KVM_SET_MEMORY_ATTRIBUTES",
    0xC040AED2: "KVM_SET_MEMORY_ATTRIBUTES2",
}
CALL = re.compile(r"^(\d+)\s+(\w+)\((.*)")


def syscall_name(name, arguments):
    if name != "ioctl":
        return name
    request = arguments.split(",")[1].strip()
    number = int(request, 16) if request.startswith("0x") else None
    return "ioctl " + IOCTLS.get(number, request)


def parse_strace(text):
    """The calls of each thread from its first KVM_RUN on: {tid: Counter(name)}.
    What a thread does before it runs a vCPU is set-up, the same in every
    run but for races (the first thread to enter the sandbox asks the
    kernel's seccomp API level, the other does not). A call interrupted and
    resumed counts once (its '<... resumed>' line is not a new call)."""
    threads = collections.defaultdict(collections.Counter)
    for line in text.splitlines():
        match = CALL.match(line)
        if not match:
            continue
        tid, name = match.group(1), syscall_name(match.group(2), match.group(3))
        if name == "ioctl KVM_RUN" or threads[tid]["ioctl KVM_RUN"]:
            threads[tid][name] += 1
    return threads


def vcpu_thread(threads):
    """The calls of the thread that ran KVM_RUN most: the vCPU's."""
    busiest = max(threads.values(), key=lambda calls: calls["ioctl KVM_RUN"], default=None)
    if not busiest or not busiest["ioctl KVM_RUN"]:
        raise RuntimeError("no thread ran KVM_RUN under strace")
    return busiest


def strace_vcpu_calls(argv, work):
    output = os.path.join(work, "strace.out")
    done = subprocess.run(["strace", "-f", "-qq", "-e", "raw=ioctl", "-e", "signal=none",
                           "-o", output] + argv, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(failure(argv, "strace", done))
    with open(output) as f:
        calls = vcpu_thread(parse_strace(f.read()))
    # futex is a lock's wait or wake: whether the vCPU thread meets the main
    # thread on a lock depends on timing, so it is no count of the path.
    calls.pop("futex", None)
    return calls


def failure(argv, under, done):
    """One line: which program failed under which counter, and its last
    message, which names what this kernel lacks."""
    program = " ".join(os.path.basename(a) for a in argv[:3])
    lines = done.stderr.strip().splitlines() or ["(no message)"]
    return "%s under %s exited with %d: %s" % (program, under, done.returncode, lines[-1])


def per_event(small, large, events):
    """{call: calls per event}, from two runs that differ by events events."""
    names = sorted(set(small) | set(large))
    out = {name: (large[name] - small[name]) / events for name in names}
    return {name: round(value, 2) for name, value in out.items() if value}


def callgrind_instructions(argv, work, options):
    """Instructions counted by callgrind: the totals of its first dump
    (with --dump-before, everything up to the first call of that function)."""
    prefix = os.path.join(work, "callgrind.out")
    for path in glob.glob(prefix + "*"):
        os.unlink(path)
    done = subprocess.run(["valgrind", "--tool=callgrind", "-q",
                           "--callgrind-out-file=" + prefix] + options + argv,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(failure(argv, "callgrind", done))
    parts = sorted(glob.glob(prefix + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    path = parts[0] if parts else prefix
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals in " + path)


class CountRunner:
    """Runs the counts for bench.py's Bench, whose gmemvm_argv and floor
    path it uses."""

    def __init__(self, bench):
        self.bench = bench
        self.work = tempfile.mkdtemp(prefix="gmemvm-counts-")

    def gmemvm_calls(self, config, *sets):
        return strace_vcpu_calls(self.bench.gmemvm_argv(config, *sets), self.work)

    def floor_calls(self, *arguments):
        return strace_vcpu_calls([self.bench.args.floor] + [str(a) for a in arguments],
                                 self.work)

    def exits(self, rounds):
        """System calls per port-IO exit (a round trip is two exits)."""
        def gmemvm(n):
            return self.gmemvm_calls("pio-exits.ini", "steps.step1=pio %d" % n,
                                     "expect.exits.io=>=%d" % (2 * n))
        return {"gmemvm": per_event(gmemvm(rounds), gmemvm(2 * rounds), 2 * rounds),
                "floor": per_event(self.floor_calls("pio", rounds),
                                   self.floor_calls("pio", 2 * rounds), 2 * rounds)}

    def conversion(self, sets_of, floor_argv, rounds):
        """System calls per conversion of gmemvm's flip (sets_of(rounds): its
        --set overrides) and of the floor's (floor_argv(rounds)), each round
        two conversions; the KVM_RUN of the request's exit is counted too."""
        def gmemvm(n):
            return self.gmemvm_calls("flip-pages.ini", *sets_of(n))
        out = {"gmemvm": per_event(gmemvm(rounds), gmemvm(2 * rounds), 2 * rounds)}
        if floor_argv:
            out["floor"] = per_event(self.floor_calls(*floor_argv(rounds)),
                                     self.floor_calls(*floor_argv(2 * rounds)), 2 * rounds)
        return out

    def startup_instructions(self):
        """gmemvm's instructions from exec to its first KVM_RUN (mode shared),
        without the sandbox: valgrind cannot run under a seccomp filter (its
        own system calls would be refused), so the filters' cost is left out
        here and seen in the start-up phases instead."""
        argv = self.bench.gmemvm_argv("shared-startup.ini") + ["--no-sandbox"]
        return callgrind_instructions(argv, self.work, ["--dump-before=kvm_run"])

    def exit_instructions(self, rounds):
        """Instructions in gmemvm's exit handling (exit_dispatch and all it
        calls) per port-IO exit, the run loop's own few left out."""
        argv = self.bench.gmemvm_argv("pio-exits.ini", "steps.step1=pio %d" % rounds,
                                      "expect.exits.io=>=%d" % (2 * rounds)) + ["--no-sandbox"]
        total = callgrind_instructions(argv, self.work, ["--toggle-collect=exit_dispatch"])
        return total // (2 * rounds)

    def conversion_instructions(self, sets, conversions):
        """Instructions in gmemvm's conversion path (the request handler and
        everything it calls) per conversion of a flip run with these --set
        overrides, which makes that many conversions."""
        argv = self.bench.gmemvm_argv("flip-pages.ini", *sets) + ["--no-sandbox"]
        total = callgrind_instructions(argv, self.work,
                                       ["--toggle-collect=conversion_on_request"])
        return total // conversions


def total_calls(calls, without=("ioctl KVM_RUN",)):
    return round(sum(v for k, v in calls.items() if k not in without), 2)


def check(counts, thresholds):
    """(regressions, notes) of counts against thresholds: lists of sentences.
    A conversion path may not gain a system call; start-up may not gain more
    than the margin of instructions. Thresholds are per path and the kernel
    path it took (its floor's name): a path with none here is a note."""
    problems, notes = [], []
    for path, row in counts["syscalls_per_conversion"].items():
        key = "%s/%s" % (path, row.get("floor_name"))
        allowed = thresholds["syscalls_per_conversion"].get(key)
        if allowed is None:
            notes.append("%s: no threshold for this kernel path (%s) in the repository" %
                         (key, row["gmemvm"]))
            continue
        for name, value in row["gmemvm"].items():
            if name != "ioctl KVM_RUN" and value > allowed.get(name, 0) + 0.01:
                problems.append("%s: %s per conversion went from %s to %s" %
                                (key, name, allowed.get(name, 0), value))
    exits = (counts.get("syscalls_per_exit") or {}).get("gmemvm")
    if exits is not None and total_calls(exits, ()) > thresholds["syscalls_per_exit"] + 0.01:
        problems.append("port-IO: %s system calls per exit, at most %s allowed (%s)" %
                        (total_calls(exits, ()), thresholds["syscalls_per_exit"], exits))
    startup = counts.get("startup_instructions")
    if startup is not None:
        limit = thresholds["startup_instructions"] * (1 + thresholds["startup_margin"])
        if startup > limit:
            problems.append("start-up: %d instructions from exec to the first KVM_RUN, over "
                            "%d (%d + %d%%)" % (startup, limit, thresholds["startup_instructions"],
                                                round(100 * thresholds["startup_margin"])))
    return problems, notes


def load_thresholds(path):
    with open(path) as f:
        return json.load(f)
