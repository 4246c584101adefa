#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gmemvm benchmarks (docs/performance.md): start-up, exits and conversions, each beside
the bare kernel cost measured in the same run by gmemvm-floor (bench/floor.c).

Every figure is the median of --runs repetitions, with the spread (min..max).
Prints a table, writes JSON (--json) and with --plot an SVG of conversion cost
against the number of separately shared regions (gnuplot). --smoke runs each
measurement once with small counts: a check that the programs work, for CI.
Speed is never asserted here; the targets are printed beside the numbers.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PAGE = 4096
RANGE_2M = 2 << 20
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import counts  # noqa: E402  (bench/counts.py, beside this file)


def spawn(argv, stdout=os.devnull):
    """Runs argv with its stdout to a file; returns (CLOCK_MONOTONIC ns just
    before the spawn, exit status). posix_spawn, so little of Python's own
    cost counts. (Its rusage is no use for peak memory: ru_maxrss keeps the
    RSS of the vfork'ed Python; gmemvm and the floor report VmHWM instead.)"""
    started = time.monotonic_ns()
    output = [(os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=output)
    _, status = os.waitpid(pid, 0)
    return started, os.waitstatus_to_exitcode(status)


class NotRun(Exception):
    """A figure this kernel cannot give (the lab's 6.12 cannot run coco-inplace):
    outside the lab it ends the benchmark, with the reason."""


def summary(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1],
            "runs": len(values)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="gmemvm-bench-")
        self.report = os.path.join(self.work, "report.json")
        self.results = {}

    def gmemvm_argv(self, config, *sets):
        argv = [self.args.gmemvm, "run", "-q", os.path.join(BENCH_DIR, config),
                "--report", self.report]
        for item in sets:
            argv += ["--set", item]
        return argv

    def probe(self):
        """What the floors depend on: the host's kind and which paths are
        native (gmemvm probe --json)."""
        probed = subprocess.run([self.args.gmemvm, "probe", "--json"], capture_output=True,
                                text=True)
        answers = json.loads(probed.stdout) if probed.stdout.strip() else {"features": []}
        self.native = {f["name"]: f["status"] == "native" for f in answers["features"]}
        self.host_kind = answers.get("host_kind", "unknown")
        self.results["host_kind"] = self.host_kind
        # How gmemvm's guest asks for a conversion here, which the floor's copies.
        self.exit_kind = "call" if self.native.get("KVM_HC_MAP_GPA_RANGE exit") else "port"

    def gmemvm(self, config, *sets, repeat=None):
        """Runs a scenario repeat times; returns [(spawn ns, its JSON report)]."""
        argv = self.gmemvm_argv(config, *sets)
        out = []
        for _ in range(repeat or self.args.runs):
            if os.path.exists(self.report):
                os.unlink(self.report)
            started, status = spawn(argv)
            if not os.path.exists(self.report):
                raise NotRun("%s %s: gmemvm exited with %d before its report "
                             "(its message is above)" % (config, " ".join(sets), status))
            with open(self.report) as f:
                report = json.load(f)
            if status != 0 or not report["matched"]:
                raise NotRun("%s %s did not run as expected: %s" %
                             (config, " ".join(sets), report["mismatch"] or report["message"]))
            out.append((started, report))
        return out

    def floor(self, *argv, repeat=None):
        """Runs gmemvm-floor repeat times; returns [(spawn ns, its JSON)]."""
        out = []
        output = os.path.join(self.work, "floor.json")
        for _ in range(repeat or self.args.runs):
            started, status = spawn([self.args.floor] + [str(a) for a in argv], output)
            if status != 0:
                raise NotRun("gmemvm-floor %s exited with %d (its message is above)"
                             % (" ".join(str(a) for a in argv), status))
            with open(output) as f:
                out.append((started, json.load(f)))
        return out

    # 1. Start-up and footprint.
    def startup(self):
        runs = self.gmemvm("shared-startup.ini")
        def since_spawn(started, report, key):
            return (report["process_start_monotonic_ns"] - started) / 1e6 + report["time_ms"][key]
        entry = summary([since_spawn(s, r, "guest_entry") for s, r in runs])
        # Where the time goes, phase by phase (each the median of its own span).
        marks = ["probed", "setup", "vcpu_thread", "sandboxed", "guest_entry", "guest_status"]
        phases = {"exec and dynamic linking (spawn to main)":
                  summary([(r["process_start_monotonic_ns"] - s) / 1e6 for s, r in runs])}
        names = ["probe (main to its answers)", "set-up (guest_memfd, memslots, vCPUs, device "
                 "tree)", "vCPU thread start", "sandbox (vCPU 0's seccomp filter)",
                 "first KVM_RUN to the guest's first device write", "the guest's run to its status"]
        begin = [0.0] * len(runs)
        for name, mark in zip(names, marks):
            phases[name] = summary([r["time_ms"][mark] - b for b, (_, r) in zip(begin, runs)])
            begin = [r["time_ms"][mark] for _, r in runs]
        self.results["startup_phases_ms"] = phases
        status = summary([since_spawn(s, r, "guest_status") for s, r in runs])
        setup = summary([r["time_ms"]["setup"] for _, r in runs])
        # The floor's guest does nothing but exit: its first instruction is its status.
        floor_runs = self.floor("startup")
        floor = summary([(f["first_exit_monotonic_ns"] - s) / 1e6 for s, f in floor_runs])
        self.results["startup_ms"] = {"to_first_instruction": entry, "to_guest_status": status,
                                      "vmm_setup": setup, "floor_to_first_exit": floor}
        memory = {}
        for size in ("64M", "1G"):
            memory[size] = summary([r["peak_resident_kib"] for _, r in
                                    self.gmemvm("shared-startup.ini", "vm.memory=" + size)])
        memory["floor"] = summary([f["peak_resident_kib"] for _, f in floor_runs])
        self.results["peak_rss_kib"] = memory

    # 2. Exit round trip.
    def exits(self):
        rounds = self.args.pio_rounds
        runs = self.gmemvm("pio-exits.ini", "steps.step1=pio %d" % rounds,
                           "expect.exits.io=>=%d" % (2 * rounds))
        # Less a run of one round trip: what is left is the loop, as in the floor.
        base = self.gmemvm("pio-exits.ini", "steps.step1=pio 1", "expect.exits.io=>=2")
        rate = summary([(r["exits"]["io"] - b["exits"]["io"]) /
                        ((r["time_ms"]["run"] - b["time_ms"]["run"]) / 1e3)
                        for (_, r), (_, b) in zip(runs, base)])
        floor = summary([f["exits"] / f["seconds"] for _, f in self.floor("pio", rounds)])
        self.results["port_io_exits_per_second"] = {"gmemvm": rate, "floor": floor}

    # 3. Conversions: through faults and explicit requests, both CoCo modes, 1 and 4 vCPUs.
    def conversion_sets(self, mode, kind, size, vcpus, rounds=None):
        """The --set overrides of one conversion scenario, and its conversion count."""
        all_vcpus = " vcpu=all" if vcpus > 1 else ""
        # Faults start from private pages (INIT_PRIVATE), flips from shared ones.
        flags = "support_shared" + (", init_private" if kind == "fault" else "")
        sets = ["vm.mode=" + ("coco-inplace" if mode == "inplace" else "coco-legacy"),
                "gmem.flags=" + (flags if mode == "inplace" else "none"),
                "vm.vcpus=%d" % vcpus]
        if kind == "fault":
            pages = self.args.fault_pages // vcpus
            span = "0x400000 %dK" % (pages * PAGE // 1024)
            # coco-inplace starts private (INIT_PRIVATE); coco-legacy starts
            # shared, as KVM's memory attributes do: fault the other way first.
            first, second = ("view=shared", "") if mode == "inplace" else ("", "view=shared")
            sets += ["steps.step1=touch %s 0x1 %s%s" % (span, first, all_vcpus),
                     "steps.step2=touch %s 0x2 %s%s" % (span, second, all_vcpus),
                     "expect.memory-faults=%d" % (2 * pages * vcpus),
                     "expect.conversions.by-fault=%d" % (2 * pages * vcpus)]
            return sets, 2 * pages * vcpus
        if rounds is None:
            rounds = (self.args.flip_rounds if size == PAGE else self.args.flip_rounds_2m)
        rounds //= vcpus
        sets += ["steps.step1=flip 0x400000 %d %d%s" % (size, rounds, all_vcpus),
                 "expect.conversions.by-hypercall=%d" % (2 * rounds * vcpus)]
        return sets, 2 * rounds * vcpus

    def conversion_floor(self, mode, kind, size, vcpus):
        """The floor of this conversion path on this host: (a function of the
        conversion count giving gmemvm-floor's arguments, its name, the target
        ratio), or (None, why not, None)."""
        if self.host_kind == "served-from-userspace-addr":
            # PVM: a conversion is an mmap of the views (bench/floor.c).
            if kind == "fault":
                return (lambda n: ("fault", mode, n // vcpus // 2, vcpus)), "views", 3.0
            return (lambda n: ("explicit", mode, size, n // vcpus // 2, vcpus)), "views", 1.3
        if kind != "explicit" or vcpus != 1:
            return None, "the floors of this kernel ask explicitly, on one vCPU", None
        if mode == "legacy":
            if not self.native.get("private memory (VM type)"):
                return None, "no software-protected VM type here", None
            # Use case (a): what QEMU does, one alias, attributes and a punch.
            return (lambda n: ("attributes", size, n // 2, self.exit_kind)), "attributes", 1.15
        if self.native.get("KVM_SET_MEMORY_ATTRIBUTES2"):
            return None, "in-place conversion is the kernel's here: no floor for it yet", None
        # The in-place model: the memslot changes of its two views.
        return (lambda n: ("memslots", size, n // 2, self.exit_kind)), "memslots", 1.3

    def conversions(self):
        rows = []
        for mode in ("inplace", "legacy"):
            for vcpus in (1, 4):
                for kind, size in (("fault", PAGE), ("explicit", PAGE), ("explicit", RANGE_2M)):
                    sets, count = self.conversion_sets(mode, kind, size, vcpus)
                    config = "fault-pages.ini" if kind == "fault" else "flip-pages.ini"
                    try:
                        runs = self.gmemvm(config, *sets)
                    except NotRun as why:
                        if not self.args.lab:
                            raise
                        rows.append({"mode": "coco-" + mode, "kind": kind, "size": size,
                                     "vcpus": vcpus, "not_run": str(why)})
                        continue
                    # Over the window from the first conversion to the last, so
                    # the guest's boot does not count (vmm/conversion.h).
                    per_second = summary([count / (r["conversions"]["window_ns"] / 1e9)
                                          for _, r in runs])
                    host_us = summary([r["conversions"]["host_ns"] / count / 1e3
                                       for _, r in runs])
                    floor_argv, floor_name, target = self.conversion_floor(mode, kind, size,
                                                                           vcpus)
                    floor = floor_kernel_us = None
                    if floor_argv:
                        floor_runs = self.floor(*floor_argv(count))
                        floor = summary([f["conversions"] / f["seconds"] for _, f in floor_runs])
                        floor_kernel_us = summary([f["kernel_ns"] / f["conversions"] / 1e3
                                                   for _, f in floor_runs])
                    row = {"mode": "coco-" + mode, "kind": kind, "size": size, "vcpus": vcpus,
                           "per_second": per_second, "host_us": host_us,
                           "floor_per_second": floor, "floor_kernel_us": floor_kernel_us,
                           "floor": floor_name, "target": target}
                    rows.append(row)
                    if kind == "fault":
                        # KVM reports a fault per page: a 2 MiB range takes 512 of them.
                        scale = RANGE_2M // PAGE
                        rows.append(dict(row, size=RANGE_2M, faults_per_range=scale,
                                         per_second=scaled(per_second, 1 / scale),
                                         floor_per_second=floor and scaled(floor, 1 / scale)))
        self.results["conversions"] = rows

    # 3b. Cost per conversion as the separately shared regions grow.
    def regions(self):
        rows = []
        rounds = self.args.region_rounds
        for regions in self.args.regions:
            memory = "%dM" % ((4 * 2**20 + 2 * PAGE * (regions + 2)) // 2**21 * 2 + 8)
            middle = 0x400000 + 2 * PAGE * (regions // 2)
            base = ["vm.memory=" + memory, "steps.step1=scatter 0x400000 %d" % regions,
                    "expect.conversions.by-hypercall=%d" % regions]
            only = self.gmemvm("regions.ini", *base)
            both = self.gmemvm("regions.ini", *base[:2],
                               "steps.step2=flip %#x 4K %d" % (middle, rounds),
                               "expect.conversions.by-hypercall=%d" % (regions + 2 * rounds))
            def per_conversion(figure):
                # Runs pair up in order: each difference is rounds x 2 conversions' worth.
                return summary([(figure(b) - figure(a)) / (2 * rounds)
                                for (_, a), (_, b) in zip(only, both)])
            # In the lab a conversion also rebinds memslots, which the floor's
            # (PVM's mmap of the views) does not: no floor there.
            pvm = self.host_kind == "served-from-userspace-addr"
            floor_runs = self.floor("regions", regions, 2 * rounds) if pvm else []
            rows.append({"regions": regions,
                         "peak_rss_kib": summary([r["peak_resident_kib"] for _, r in only]),
                         "host_us": per_conversion(lambda r: r["conversions"]["host_ns"] / 1e3),
                         "end_to_end_us": per_conversion(lambda r: r["time_ms"]["run"] * 1e3),
                         "floor_kernel_us": floor_runs and summary(
                             [f["kernel_ns"] / f["conversions"] / 1e3 for _, f in floor_runs])})
        self.results["regions"] = rows


    # 4. Counts that do not depend on the machine's load (bench/counts.py).
    def counts(self):
        missing = [tool for tool in ("strace", "valgrind") if not shutil.which(tool)]
        if missing:
            raise NotRun("%s missing (apt-get install %s)" % (" and ".join(missing),
                                                             " ".join(missing)))
        counter = counts.CountRunner(self)
        rounds = self.args.count_rounds
        out = {"syscalls_per_conversion": {}, "instructions_per_conversion": {}}
        self.results["counts"] = out
        def attempt(key, measure):
            # A part this kernel cannot run says why; the others go on.
            try:
                return measure()
            except (RuntimeError, NotRun) as why:
                out.setdefault("not_run", {})[key] = str(why)
                return None
        out["syscalls_per_exit"] = attempt("syscalls_per_exit", lambda: counter.exits(rounds))
        out["instructions_per_exit"] = attempt("instructions_per_exit",
                                               lambda: counter.exit_instructions(rounds * 16))
        for mode in ("legacy", "inplace"):
            floor_argv, floor_name, _ = self.conversion_floor(mode, "explicit", PAGE, 1)
            def sets_of(n, mode=mode):
                return self.conversion_sets(mode, "explicit", PAGE, 1, n)[0]
            path = "coco-" + mode
            calls = attempt(path, lambda: counter.conversion(
                sets_of, floor_argv and (lambda r: floor_argv(2 * r)), rounds))
            if calls is None:
                continue
            out["syscalls_per_conversion"][path] = dict(calls, floor_name=floor_name)
            out["instructions_per_conversion"][path] = attempt(
                path + " instructions", lambda: counter.conversion_instructions(
                    *self.conversion_sets(mode, "explicit", PAGE, 1, rounds)))
        out["startup_instructions"] = attempt("startup_instructions",
                                              counter.startup_instructions)


def scaled(figure, factor):
    return {k: (v * factor if k != "runs" else v) for k, v in figure.items()}


def spread(figure, fmt="%.1f"):
    return (fmt + " (" + fmt + "..." + fmt + ")") % (figure["median"], figure["min"], figure["max"])


def print_table(results, machine):
    out = []
    add = out.append
    results = dict(results)  # the parts not run are filled in for the table only
    for part, why in results.get("not_run", {}).items():
        add("%s: not run here: %s" % (part, why))
        results.setdefault(part, [] if part in ("conversions", "regions") else None)
    add("gmemvm benchmarks on %s; median (min...max) of %d runs" % (machine, results["runs"]))
    if results.get("startup_ms"):
        s = results["startup_ms"]
        floor = s["floor_to_first_exit"]["median"]
        add("\nStart-up, mode shared, from spawn            gmemvm ms              floor ms   ratio  target")
        add("  to the guest's first instruction           %-22s %-10s %5.1fx" %
            (spread(s["to_first_instruction"], "%.2f"), "%.2f" % floor,
             s["to_first_instruction"]["median"] / floor))
        ratio = s["to_guest_status"]["median"] / floor
        add("  to the guest's final status                %-22s %-10s %5.1fx  <= 2.0x: %s" %
            (spread(s["to_guest_status"], "%.2f"), "%.2f" % floor, ratio, verdict(ratio <= 2.0)))
        add("  of which VMM set-up (main to vCPU start)   %s" % spread(s["vmm_setup"], "%.2f"))
        for name, figure in results.get("startup_phases_ms", {}).items():
            add("    %-46s %s" % (name, spread(figure, "%.2f")))
        rss = results["peak_rss_kib"]
        for size in ("64M", "1G"):
            add("  peak resident memory, %-4s guest          %-22s %-10.0f %5.1fx" %
                (size, spread(rss[size], "%.0f") + " KiB", rss["floor"]["median"],
                 rss[size]["median"] / rss["floor"]["median"]))
    if results.get("port_io_exits_per_second"):
        e = results["port_io_exits_per_second"]
        ratio = e["floor"]["median"] / e["gmemvm"]["median"]
        add("\nExit round trip                              gmemvm /s              floor /s")
        add("  port-IO exits per second                   %-22s %-10.0f %5.2fx  <= 1.1x: %s" %
            (spread(e["gmemvm"], "%.0f"), e["floor"]["median"], ratio, verdict(ratio <= 1.1)))
    if results.get("conversions") is not None:
        add("\nConversions                          vCPUs  gmemvm per second         us each  host us  "
            "floor /s   floor kernel us  ratio")
        for row in results["conversions"]:
            label = "%s %s %s" % (row["mode"], row["kind"], "4K" if row["size"] == PAGE else "2M")
            if row.get("faults_per_range"):
                label += " (512 faults)"
            if row.get("not_run"):
                add("  %-36s %d    not run here: %s" % (label, row["vcpus"], row["not_run"][:120]))
                continue
            each = 1e6 / row["per_second"]["median"]
            if not row["floor_per_second"]:
                add("  %-36s %d    %-24s %7.1f  %7.1f  (no floor: %s)" %
                    (label, row["vcpus"], spread(row["per_second"], "%.0f"), each,
                     row["host_us"]["median"] * (row.get("faults_per_range") or 1), row["floor"]))
                continue
            label += " [%s]" % row["floor"]
            floor_each = 1e6 / row["floor_per_second"]["median"]
            add("  %-36s %d    %-24s %7.1f  %7.1f  %-10.0f %-16.1f %5.2fx%s" %
                (label, row["vcpus"], spread(row["per_second"], "%.0f"), each,
                 row["host_us"]["median"] * (row.get("faults_per_range") or 1),
                 row["floor_per_second"]["median"],
                 row["floor_kernel_us"]["median"] * (row.get("faults_per_range") or 1),
                 each / floor_each,
                 "  <= %gx: %s" % (row["target"], verdict(each / floor_each <= row["target"]))))
        add("  (us each: 1 / rate, over the window from the first conversion to the last; host us:\n"
            "   time in gmemvm's conversion path, with 4 vCPUs including the wait for the memory\n"
            "   map's lock; [floor]: views (PVM: mmap of the views, punch for legacy), attributes\n"
            "   (KVM_SET_MEMORY_ATTRIBUTES and a punch) or memslots (the model's memslot changes);\n"
            "   floor kernel us: the floor's kernel calls; ratio: us each against the floor's)")
    if results.get("regions") is not None:
        add("\nCost per conversion (4K flip in coco-inplace) by separately shared regions")
        add("  regions  end to end us          host us             floor kernel us  host/floor")
        for row in results["regions"]:
            if not row["floor_kernel_us"]:
                add("  %-8d %-22s %-19s (no floor here)" %
                    (row["regions"], spread(row["end_to_end_us"]), spread(row["host_us"])))
                continue
            add("  %-8d %-22s %-19s %-16.1f %5.2fx" %
                (row["regions"], spread(row["end_to_end_us"]), spread(row["host_us"]),
                 row["floor_kernel_us"]["median"],
                 row["host_us"]["median"] / row["floor_kernel_us"]["median"]))
        if len(results["regions"]) >= 2:
            first, last = results["regions"][0], results["regions"][-1]
            growth = last["host_us"]["median"] / first["host_us"]["median"]
            add("  host cost grows %.2fx for %dx the regions: %s" %
                (growth, last["regions"] // first["regions"],
                 "not linear" if growth < last["regions"] / first["regions"] / 4 else "LINEAR-ISH"))
            if first.get("peak_rss_kib") and last.get("peak_rss_kib"):
                per_region = ((last["peak_rss_kib"]["median"] - first["peak_rss_kib"]["median"]) *
                              1024 / (last["regions"] - first["regions"]))
                add("  VMM memory: %.0f KiB with %d regions, %.0f KiB with %d: %.0f bytes per region" %
                    (first["peak_rss_kib"]["median"], first["regions"],
                     last["peak_rss_kib"]["median"], last["regions"], per_region))
    if results.get("counts"):
        out.extend(counts_table(results["counts"]))
    return "\n".join(out)


def counts_table(c):
    """The counts as lines: system calls of the vCPU thread per exit and per
    conversion beside the floor's, and callgrind's instructions."""
    def calls(counted):
        return ", ".join("%s %g" % (name.replace("ioctl ", ""), value)
                         for name, value in sorted(counted.items())) or "none"
    lines = ["\nSystem calls of the vCPU thread (strace; the difference of two runs, divided)"]
    for part, why in c.get("not_run", {}).items():
        lines.append("  %s: not run here: %s" % (part, why[:160]))
    e = c.get("syscalls_per_exit")
    if e:
        lines.append("  per port-IO exit       gmemvm: %s" % calls(e["gmemvm"]))
        lines.append("                         floor:  %s" % calls(e["floor"]))
    for path, row in c["syscalls_per_conversion"].items():
        lines.append("  per conversion, %-13s gmemvm: %s  (%g besides KVM_RUN)" %
                     (path, calls(row["gmemvm"]), counts.total_calls(row["gmemvm"])))
        if "floor" in row:
            extra = counts.total_calls(row["gmemvm"]) - counts.total_calls(row["floor"])
            lines.append("  %-29s floor [%s]: %s  (gmemvm: %+g)" %
                         ("", row["floor_name"], calls(row["floor"]), extra))
        else:
            lines.append("  %-29s no floor: %s" % ("", row["floor_name"]))
    lines.append("\nInstructions in gmemvm's user space (callgrind)")
    if c.get("startup_instructions"):
        lines.append("  exec to the first KVM_RUN, mode shared   %d (without the sandbox, which "
                     "valgrind cannot run under)" % c["startup_instructions"])
    if c.get("instructions_per_exit"):
        lines.append("  per port-IO exit (exit_dispatch)         %d" % c["instructions_per_exit"])
    for path, value in c["instructions_per_conversion"].items():
        if value:
            lines.append("  per conversion, %-24s %d" % (path, value))
    return lines


def check_results(results):
    """Every figure present, its median above zero (a figure taken as the
    difference of two runs may have a noisy minimum): what --smoke asserts."""
    figures = []
    def walk(node, where):
        if isinstance(node, dict):
            if "median" in node:
                figures.append((where, node))
            for key, value in node.items():
                walk(value, where + "." + str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, "%s[%d]" % (where, i))
    walk(results, "results")
    # start-up 4, peak RSS 3, exits 2, conversions 16 rows x 4, regions 4 a row
    expected = 9 + 16 * 4 + 4 * len(results["regions"])
    bad = [where for where, f in figures
           if not all(isinstance(f[k], (int, float)) for k in ("median", "min", "max"))
           or not f["median"] > 0]
    if bad or len(figures) < expected:
        sys.exit("gmemvm-bench: %d figures (want %d); not positive numbers: %s" %
                 (len(figures), expected, ", ".join(bad) or "none"))


def verdict(met):
    return "met" if met else "MISSED"


def plot(results, path):
    data = path + ".dat"
    with open(data, "w") as f:
        f.write("# regions end_to_end_us host_us floor_kernel_us\n")
        for row in results["regions"]:
            f.write("%d %f %f %f\n" % (row["regions"], row["end_to_end_us"]["median"],
                                       row["host_us"]["median"], row["floor_kernel_us"]["median"]))
    script = """set terminal svg size 720,420 dynamic
set output '%s'
set logscale x
set xlabel 'separately shared regions'
set ylabel 'microseconds per conversion'
set yrange [0:*]
set key top left
set title 'gmemvm: cost of one 4 KiB conversion against region count'
plot '%s' using 1:2 with linespoints title 'gmemvm, end to end', \\
     '%s' using 1:3 with linespoints title 'gmemvm, VMM conversion path', \\
     '%s' using 1:4 with linespoints title 'floor: kernel calls'
""" % (path, data, data, data)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gmemvm", required=True)
    parser.add_argument("--floor", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", default="bench.json")
    parser.add_argument("--plot", metavar="FILE.svg")
    parser.add_argument("--smoke", action="store_true",
                        help="one run each with small counts: checks that it all works")
    parser.add_argument("--lab", action="store_true",
                        help="inside the lab's kernel (scripts/bench --lab): counts an "
                        "emulator gets through, no floor for conversions, and a figure the "
                        "kernel cannot give is reported, not fatal")
    parser.add_argument("--counts-only", action="store_true",
                        help="only the system-call and instruction counts")
    parser.add_argument("--check", metavar="THRESHOLDS.json",
                        help="fail when a count regressed against these thresholds")
    args = parser.parse_args()
    if not os.path.exists("/dev/kvm"):
        # 77: meson's skip, for the smoke test on a host without KVM.
        print("gmemvm-bench: skipped: /dev/kvm is missing, so nothing can be measured here "
              "(load kvm or use a KVM host; scripts/bench --lab measures conversions inside "
              "the lab's kernel)")
        sys.exit(77 if args.smoke else 3)
    # Every benchmark runs mode shared or the in-place model: both need a
    # guest_memfd the host can mmap, and a KVM whose guests run. (--lab
    # reports what each kernel cannot give, figure by figure.)
    need = subprocess.run([args.gmemvm, "probe", "--require", "guests-run,mmap-shared"],
                          capture_output=True, text=True)
    if need.returncode != 0 and not args.lab:
        why = need.stderr.strip().removeprefix("gmemvm: ")
        print(f"gmemvm-bench: skipped: {why}")
        sys.exit(77 if args.smoke and need.returncode == 5 else 3)
    args.pio_rounds, args.fault_pages = 100000, 4096
    args.flip_rounds, args.flip_rounds_2m = 5000, 2000
    args.regions, args.region_rounds = [100, 1000, 10000], 5000
    if args.smoke:
        # Large enough that the figures taken as differences of two runs
        # (exits, regions) stand well above run-to-run noise.
        args.runs, args.pio_rounds, args.fault_pages = 1, 2000, 64
        args.flip_rounds = args.flip_rounds_2m = 8
        args.regions, args.region_rounds = [4, 16], 100
    if args.lab:
        args.pio_rounds, args.fault_pages = 2000, 64
        args.flip_rounds, args.flip_rounds_2m = 64, 32
        args.regions, args.region_rounds = [100, 1000], 256
    args.count_rounds = 4 if args.smoke else 16
    bench = Bench(args)
    bench.results["runs"] = args.runs
    bench.probe()
    parts = (("startup_ms", bench.startup), ("port_io_exits_per_second", bench.exits),
             ("conversions", bench.conversions), ("regions", bench.regions),
             ("counts", bench.counts))
    if args.counts_only:
        parts = parts[-1:]
    for part, measure in parts:
        try:
            measure()
        except NotRun as why:
            if not args.lab:
                sys.exit("gmemvm-bench: %s" % why)
            bench.results.setdefault("not_run", {})[part] = str(why)
    machine = "%s, %d CPUs, kernel %s, host kind %s" % (
        os.uname().nodename, os.cpu_count(), os.uname().release, bench.host_kind)
    if args.lab:
        machine = ("the lab's kernel %s under QEMU's emulator, host kind %s (compare ratios, "
                   "not times)" % (os.uname().release, bench.host_kind))
    bench.results["machine"] = machine
    bench.results["kernel"] = os.uname().release
    if not args.lab and not args.counts_only:
        check_results(bench.results)
    print(print_table(bench.results, machine))
    with open(args.json, "w") as f:
        json.dump(bench.results, f, indent=1)
    print("\nJSON: %s" % args.json)
    if args.check:
        # The regression check CI runs (bench/thresholds.json).
        if "counts" not in bench.results:
            sys.exit("gmemvm-bench: the counts could not be taken: %s" %
                     bench.results.get("not_run", {}).get("counts"))
        problems, notes = counts.check(bench.results["counts"],
                                       counts.load_thresholds(args.check))
        for note in notes:
            print("note: " + note)
        for problem in problems:
            print("REGRESSION: " + problem)
        if problems:
            sys.exit("gmemvm-bench: %d regression(s) against %s" % (len(problems), args.check))
        c = bench.results["counts"]
        checked = [key for key in ("syscalls_per_exit", "startup_instructions") if c.get(key)]
        checked += sorted(c["syscalls_per_conversion"])
        if not checked:
            # 77: the test's skip; the lab runs it on kernels that have the paths.
            why = next(iter(c.get("not_run", {}).values()), "no reason given")
            print("skipped: nothing to count on this kernel: %s" % why)
            sys.exit(77)
        print("counts within %s (%s): no system call added to a conversion or an exit, "
              "start-up within its margin" % (os.path.relpath(args.check, BENCH_DIR + "/.."),
                                              ", ".join(checked)))
    if args.plot:
        plot(bench.results, args.plot)
        print("plot: %s" % args.plot)


if __name__ == "__main__":
    main()
