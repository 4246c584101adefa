#!/usr/bin/env python3
"""Boot each lab kernel under QEMU with gmemvm in an initramfs, collect the
probe, every scenario's report and the real-KVM tests, and compare them
across the kernels (and this host, where it has /dev/kvm). docs/lab.md says
what this proves. Called by scripts/lab, which builds the kernels."""

import argparse
import glob
import gzip
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time

# The real-KVM tests (tests/meson.build, suite 'kvm') that the lab runs inside
# each kernel: the behaviour that differs between kernels. valgrind and the
# benchmark smoke test stay on hosts with KVM of their own.
KVM_TESTS = ["test_gmem", "test_memmap", "test_differential", "test_native", "test_conversions"]
KVM_SCRIPTS = {  # name: (script, the program it drives)
    "scenarios.sh": ("scenarios.sh", "vmm/gmemvm"),
    "faults.sh": ("faults.sh", "vmm/gmemvm-fault-injection"),
    "exercises.sh": ("exercises.sh", "vmm/gmemvm"),
}
MAX_BOOTS = 5
# gmemvm's exit status for "this host lacks a feature the scenario needs"
# (gmemvm help): a refusal that names what is missing, never a failure.
UNSUPPORTED = 5
# A boot is ended only when its console has said nothing new for this long
# (lab/init.sh reports each test's progress): a loaded machine is slow, and
# slowness is not a hang. The trial boot of --accel kvm gets less.
STALL_SECONDS = 600
TRIAL_STALL_SECONDS = 30
QEMU = os.environ.get("LAB_QEMU", "qemu-system-x86_64")
QEMU_ARM64 = os.environ.get("LAB_QEMU_ARM64", "qemu-system-aarch64")
# arm64 kernels (scripts/lab's "arm64:" entries): the cross build, the arm64
# busybox and bash that scripts/lab unpacked (never installed: busybox-static:arm64
# would replace the host's), and where the cross toolchain's libraries are.
ARM64_CACHE = os.environ.get("GMEMVM_ARM64_CACHE",
                             os.path.expanduser("~/.cache/gmemvm/arm64"))
ARM64_LIBRARY_DIRS = ["/usr/aarch64-linux-gnu/lib",
                      os.path.join(ARM64_CACHE, "sysroot", "usr", "lib", "aarch64-linux-gnu"),
                      os.path.join(ARM64_CACHE, "sysroot", "lib", "aarch64-linux-gnu")]
USE_CASES = [
    ("coco-legacy", "(a) CoCo, private-only gmem"),
    ("shared", "(b) non-CoCo, all RAM in gmem"),
    ("pkvm", "(c) pKVM-style protected VM"),
    ("coco-inplace", "(d) CoCo, shared+private in gmem"),
]
# Upstream's in-place conversion series for guest_memfd: a kernel whose source
# has it (scripts/lab looks) boots with this, so KVM keeps shared and private
# in the guest_memfd (docs/lab.md).
IN_PLACE_PARAMETER = "kvm.gmem_in_place_conversion=1"


def shared_libraries(binary):
    """The files a dynamically linked binary needs, from ldd."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    paths = []
    for line in out.splitlines():
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            paths.append(match.group(1))
    return paths


def arm64_libraries(binary):
    """The shared libraries an arm64 binary needs (ldd cannot run it): its
    NEEDED entries found in the cross toolchain's and the sysroot's
    directories, recursively, with the dynamic loader; (path, target) pairs."""
    found, todo = {}, [binary]
    while todo:
        dynamic = subprocess.run(["aarch64-linux-gnu-readelf", "-d", todo.pop()],
                                 capture_output=True, text=True).stdout
        for name in re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic):
            if name in found:
                continue
            for directory in ARM64_LIBRARY_DIRS:
                path = os.path.join(directory, name)
                if os.path.exists(path):
                    found[name] = path
                    todo.append(path)
                    break
    pairs = [(path, "/lib/aarch64-linux-gnu/" + name) for name, path in found.items()]
    if found:
        pairs.append(("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
                      "/lib/ld-linux-aarch64.so.1"))
    return pairs


def kernel_arch(kernel_dir):
    """x86_64 or arm64, as scripts/lab wrote it beside the kernel."""
    path = os.path.join(kernel_dir, "arch")
    return open(path).read().strip() if os.path.exists(path) else "x86_64"


# An arm64 kernel boots twice: ordinary KVM (the hypervisor at EL2), and
# pKVM, whose host may create upstream's protected VMs (docs/arm64.md).
ARM64_MODES = {"nvhe": "", "protected": "-pkvm"}
# The pKVM boot runs the probe and the scenarios, not the tests again: the
# tests' VMs are ordinary ones, which the first boot of the same kernel ran.
ARM64_BOOT_EXTRA = {"nvhe": "", "protected": "lab.tests=0"}


def kernel_name(kernel_dir, arm64_mode="nvhe"):
    """The kernel's column: its release, with the architecture for arm64 and
    "-pkvm" for its boot with kvm-arm.mode=protected."""
    release = open(os.path.join(kernel_dir, "release")).read().strip()
    if kernel_arch(kernel_dir) == "x86_64":
        return release
    return f"{release}-arm64{ARM64_MODES[arm64_mode]}"


def copy_into(root, path, target=None):
    destination = root + (target or path)
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copy2(os.path.realpath(path), destination)


def copy_program(root, path):
    """A dynamically linked program with the libraries ldd names."""
    copy_into(root, path)
    for library in shared_libraries(path):
        copy_into(root, library)


STORMS = ["coco-inplace-4vcpu-storm.ini", "coco-inplace-8vcpu-storm.ini"]


def concurrency_checks(repo, build, root):
    """The conversions of many vCPUs at once under the checkers that see what
    a plain run does not (docs/design.md, "Locking"): the 8-thread stress test
    and the vCPU storms in the AddressSanitizer/UBSan build (scripts/test
    builds it before the lab), and the stress test under valgrind's memcheck
    and helgrind (lock order, data races; it needs libc6-dbg's symbols as
    much as memcheck does). Each is left out, saying so, where its build or
    valgrind is missing."""
    commands = {}
    asan = os.path.join(repo, "build-asan")
    stress = "GMEMVM_TEST_ONLY=test_conversion_stress"
    options = ("ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "
               "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
    # LSan's exit-time check ptraces the process, which gmemvm's sandbox
    # forbids (vmm/sandbox.c); gmemvm runs without it, as in scenarios.sh.
    run_options = options.replace("detect_leaks=1", "detect_leaks=0")
    if os.path.exists(os.path.join(asan, "tests", "test_memmap")):
        test = os.path.join(asan, "tests", "test_memmap")
        gmemvm = os.path.join(asan, "vmm", "gmemvm")
        for binary in (test, gmemvm):
            copy_program(root, binary)
        storms = " ".join(os.path.join(repo, "configs", name) for name in STORMS)
        commands["asan-stress"] = f"env {options} {stress} {test}"
        copy_into(root, os.path.join(repo, "lab", "storms.sh"))
        commands["asan-storms"] = (f"env {run_options} /bin/sh "
                                   f"{os.path.join(repo, 'lab', 'storms.sh')} {gmemvm} {storms}")
    else:
        print("lab: no build-asan/: the stress test runs without the sanitizers "
              "(scripts/test builds it)", flush=True)
    # /usr/bin/valgrind is a script around valgrind.bin, which the lab runs.
    valgrind = shutil.which("valgrind.bin") or shutil.which("valgrind")
    if valgrind and os.path.isdir("/usr/libexec/valgrind") and os.path.isdir("/usr/lib/debug"):
        copy_program(root, valgrind)
        for path in glob.glob("/usr/libexec/valgrind/*"):
            if os.path.isfile(path) and "32" not in os.path.basename(path) and \
                    "x86-linux" not in path:
                copy_into(root, path)
        # memcheck needs the dynamic linker's symbols (libc6-dbg).
        for directory, _, files in os.walk("/usr/lib/debug"):  # .build-id/ is hidden
            for name in files:
                copy_into(root, os.path.join(directory, name))
        test = os.path.join(build, "tests", "test_memmap")
        only = f"{stress}/case_inplace"
        commands["valgrind-stress"] = (f"env {only} {valgrind} -q --error-exitcode=99 "
                                       f"--leak-check=full --errors-for-leak-kinds=definite,"
                                       f"indirect {test}")
        commands["helgrind-stress"] = (f"env {only} {valgrind} -q --error-exitcode=99 "
                                       f"--tool=helgrind {test}")
    else:
        print("lab: valgrind or libc6-dbg is missing: the stress test runs without "
              "valgrind (apt-get install valgrind libc6-dbg)", flush=True)
    return commands


PYTHON = "/usr/bin/python3.11"
PYTHON_LIBRARY = "/usr/lib/python3.11"
PYTHON_UNNEEDED = {"test", "idlelib", "tkinter", "lib2to3", "ensurepip", "turtledemo",
                   "pydoc_data", "dist-packages", "site-packages", "distutils"}


def copy_counters(root):
    """strace and valgrind's callgrind, for the counts (bench/counts.py)."""
    for tool in ("strace", "valgrind.bin"):
        path = shutil.which(tool)
        if path:
            copy_program(root, path)
    valgrind = shutil.which("valgrind")
    if valgrind:
        copy_into(root, valgrind)
    for path in glob.glob("/usr/libexec/valgrind/*amd64-linux*") + \
            ["/usr/libexec/valgrind/default.supp"]:
        if os.path.isfile(path):
            copy_into(root, path)


def bench_command(repo, build, root, bench_args):
    """scripts/bench --lab: the benchmarks (bench/bench.py --lab) run inside the
    kernel, with Debian's Python (no site packages) and the floor beside gmemvm,
    so every ratio is taken side by side in one boot; the JSON follows a
    BENCH-JSON line of the test's output (bench/lab_bench.py reads it). The
    counts' strace and callgrind come along. With bench_args None: the
    regression check of the counts against bench/thresholds.json, which
    scripts/test runs in every x86 kernel (CI)."""
    copy_counters(root)
    copy_program(root, PYTHON)
    for directory, subdirectories, files in os.walk(PYTHON_LIBRARY):
        subdirectories[:] = [d for d in subdirectories if d not in PYTHON_UNNEEDED
                             and not d.startswith("config-")]
        for name in files:
            copy_into(root, os.path.join(directory, name))
    floor = os.path.join(build, "bench", "gmemvm-floor")
    copy_program(root, floor)
    for path in glob.glob(os.path.join(repo, "bench", "*")):
        if os.path.isfile(path):
            copy_into(root, path)
    script = os.path.join(repo, "bench", "bench.py")
    gmemvm = os.path.join(build, "vmm", "gmemvm")
    if bench_args is None:
        thresholds = os.path.join(repo, "bench", "thresholds.json")
        return (f"env PATH=/bin:/usr/bin {PYTHON} -S {script} --lab --counts-only "
                f"--gmemvm {gmemvm} --floor {floor} --json /tmp/counts.json --check {thresholds}")
    return (f"/bin/sh -c \"PATH=/bin:/usr/bin {PYTHON} -S {script} --lab --gmemvm {gmemvm} --floor {floor} "
            f"--json /tmp/bench.json {bench_args} && echo BENCH-JSON && cat /tmp/bench.json && echo\"")


def make_initramfs(repo, build, scenarios, work, run_options, tests_wanted, bench_args=None,
                   arch="x86_64"):
    """An initramfs holding busybox, gmemvm, its guest, the scenarios and the
    real-KVM tests, each at the same absolute path as in the build tree, so
    the paths compiled into the tests still hold. For arm64, build is the
    cross build and every program is arm64's."""
    root = os.path.join(work, f"root-{arch}")
    os.makedirs(root)
    for directory in ("bin", "proc", "sys", "dev", "tmp", "lab"):
        os.makedirs(os.path.join(root, directory), exist_ok=True)
    arm64 = arch == "arm64"
    if arm64:
        unpacked = os.path.join(ARM64_CACHE, "lab-root")
        copy_into(root, os.path.join(unpacked, "bin", "busybox"), "/bin/busybox")
        copy_into(root, os.path.join(unpacked, "bin", "bash-static"), "/bin/bash")
    else:
        copy_into(root, "/bin/busybox")
    copy_into(root, os.path.join(repo, "lab", "init.sh"), "/init")
    copy_into(root, os.path.join(repo, "lab", "transcripts.txt"), "/lab/transcripts.txt")
    os.chmod(root + "/init", 0o755)
    gmemvm = os.path.join(build, "vmm", "gmemvm")
    guest = os.path.join(build, "guest", "gmemvm-guest.elf")
    tests = [os.path.join(build, "tests", name) for name in KVM_TESTS if tests_wanted]
    tests = [t for t in tests if os.path.exists(t)]
    programs = [os.path.join(build, program) for _, program in KVM_SCRIPTS.values()]
    for binary in [gmemvm] + ([] if arm64 else ["/bin/bash"]) + tests + programs:
        if arm64:
            copy_into(root, binary)
            for library, target in arm64_libraries(binary):
                copy_into(root, library, target)
        else:
            copy_program(root, binary)
    # One small script per test, so the init runs each the same way.
    os.makedirs(root + "/lab/tests")
    commands = {os.path.basename(t): t for t in tests}
    if tests_wanted:
        for name, (script, program) in KVM_SCRIPTS.items():
            commands[name] = (f"/bin/bash {os.path.join(repo, 'tests', script)} "
                              f"{os.path.join(build, program)} {repo}")
    if tests_wanted and not arm64:  # the sanitizer build and valgrind are x86's
        commands.update(concurrency_checks(repo, build, root))
    if bench_args is not None:
        commands["bench"] = bench_command(repo, build, root, bench_args)
    elif tests_wanted and not arm64:
        # The counts' regression check (bench/thresholds.json): CI's, in every x86 kernel.
        commands["bench-counts"] = bench_command(repo, build, root, None)
    for name, command in commands.items():
        with open(f"{root}/lab/tests/{name}", "w") as wrapper:
            wrapper.write(f"#!/bin/sh\nexec {command}\n")
        os.chmod(f"{root}/lab/tests/{name}", 0o755)
    copy_into(root, guest)
    lab_scenarios = "/lab/configs"
    for ini in sorted(glob.glob(os.path.join(scenarios, "*.ini"))):
        copy_into(root, ini, lab_scenarios + "/" + os.path.basename(ini))
    # The unit tests read fixtures from the source tree.
    for path in glob.glob(os.path.join(repo, "tests", "**"), recursive=True):
        if os.path.isfile(path):
            copy_into(root, path)
    for path in glob.glob(os.path.join(repo, "configs", "*.ini")):
        copy_into(root, path)
    # tests/exercises.sh reads the answers from the page that states them.
    copy_into(root, os.path.join(repo, "docs", "exercises.md"))
    with open(root + "/lab/env", "w") as env:
        env.write(f"GMEMVM={gmemvm}\nGMEMVM_GUEST={guest}\nexport GMEMVM_GUEST\n")
        env.write(f"LAB_SCENARIOS={lab_scenarios}\n")
        env.write(f"LAB_CONFIGS={os.path.join(repo, 'configs')}\n")
        env.write(f"LAB_RUN_OPTIONS='{run_options}'\n")
    listing = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=listing,
                             capture_output=True, check=True).stdout
    path = os.path.join(work, f"initramfs-{arch}.gz")
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(archive)
    return path


def in_place_conversion(kernel_dir):
    """Whether the kernel's source has the in-place conversion series, as
    scripts/lab wrote it ("yes" or "no") beside the kernel."""
    path = os.path.join(kernel_dir, "in-place-conversion")
    return os.path.exists(path) and open(path).read().strip() == "yes"


def in_place_words(in_source):
    if in_source:
        return f"in source, enabled with {IN_PLACE_PARAMETER}"
    return "not in this source"


def in_place_summary(result):
    """For build/lab.json; None for this host, whose source the lab does not see."""
    if "in_place_conversion" not in result:
        return None
    return {"in_source": result["in_place_conversion"],
            "summary": in_place_words(result["in_place_conversion"])}


def qemu_command(kernel_dir, initramfs, accel, trial=False, arm64_mode="nvhe"):
    """The QEMU command line that boots one kernel with the initramfs."""
    extra = "lab.trial=1" if trial else ""
    parameters = os.path.join(kernel_dir, "cmdline")
    if os.path.exists(parameters):
        extra = f"{extra} {open(parameters).read().strip()}"
    if in_place_conversion(kernel_dir):
        extra = f"{IN_PLACE_PARAMETER} {extra}"
    if kernel_arch(kernel_dir) == "arm64":
        # virtualization=on: the kernel boots at EL2, which KVM needs. cortex-a72,
        # not max: it boots about 4 times faster (docs/lab.md). nvhe: ordinary
        # KVM with the hypervisor at EL2; protected: pKVM on the same kernel.
        return [QEMU_ARM64, "-M", "virt,virtualization=on,gic-version=3", "-cpu", "cortex-a72",
                "-m", "2G", "-smp", "2", "-nographic", "-no-reboot",
                "-kernel", os.path.join(kernel_dir, "Image"), "-initrd", initramfs, "-append",
                f"console=ttyAMA0 quiet loglevel=1 panic=-1 rdinit=/init "
                f"kvm-arm.mode={arm64_mode} {ARM64_BOOT_EXTRA[arm64_mode]} {extra}".strip()]
    # svme-addr-chk: KVM then does not intercept #GP (its workaround for an SVM
    # erratum), which QEMU's emulator reports stale after re-injection (docs/lab.md).
    cpu = "max,phys-bits=48,+svme-addr-chk" if accel == "tcg" else "host,phys-bits=48"
    # mitigations=off: with them, a vCPU thread under a seccomp filter never
    # came back from KVM_RUN under QEMU's emulator. tsc=reliable: once the
    # emulated TSC was marked unstable, no software-protected VM ran on 6.12
    # (both measured in the lab, docs/lab.md).
    return [QEMU, "-accel", accel, "-cpu", cpu, "-m", "2G", "-smp", "2",
            "-nographic", "-no-reboot", "-kernel", os.path.join(kernel_dir, "bzImage"),
            "-initrd", initramfs, "-append",
            f"console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init mitigations=off tsc=reliable {extra}".strip()]


def run_until_stalled(command, stall, log_path):
    """Run QEMU, writing its console to log_path as it comes (tail -f it);
    end it once the console has been silent for stall seconds. Returns the
    text (with an @@LAB stalled line when it was ended) and the wall time."""
    started = time.monotonic()
    chunks = []
    stalled = False
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        last_output = time.monotonic()
        while True:
            if selector.select(timeout=1.0):
                data = os.read(process.stdout.fileno(), 65536)
                if not data:
                    break
                chunks.append(data)
                log.write(data)
                log.flush()
                last_output = time.monotonic()
            elif time.monotonic() - last_output > stall:
                stalled = True
                process.kill()
                break
        selector.close()
        process.wait()
        process.stdout.close()
        if stalled:
            note = f"\n@@LAB stalled: no console output for {stall} s, QEMU ended\n"
            chunks.append(note.encode())
            log.write(note.encode())
    text = b"".join(chunks).decode("utf-8", "replace")
    return text.replace("\r", ""), time.monotonic() - started


def boot(kernel_dir, initramfs, accel, stall, log_path, arm64_mode="nvhe"):
    """Boot one kernel; return the console text and the wall time."""
    return run_until_stalled(qemu_command(kernel_dir, initramfs, accel, arm64_mode=arm64_mode),
                             stall, log_path)


def choose_accel(kernel_dir, initramfs, log_path, stall=TRIAL_STALL_SECONDS,
                 kvm_device="/dev/kvm"):
    """KVM where a short trial boot shows QEMU runs the lab kernel with nested
    guests inside it, else QEMU's emulator: (accel, why). A host's KVM may
    not run a standard kernel at all (QEMU then spins without output)."""
    if not os.path.exists(kvm_device):
        return "tcg", f"this machine has no {kvm_device}"
    if not os.access(kvm_device, os.R_OK | os.W_OK):
        return "tcg", f"{kvm_device} is not usable by this user"
    try:
        text, seconds = run_until_stalled(
            qemu_command(kernel_dir, initramfs, "kvm", trial=True), stall, log_path)
    except OSError as error:
        return "tcg", f"QEMU could not start with -accel kvm ({error})"
    match = re.search(r"^@@LAB trial (.*)$", text, re.M)
    if match and match.group(1).strip().endswith("guests-run"):
        return "kvm", f"a trial boot with -accel kvm ran nested guests ({seconds:.0f} s)"
    if match:
        return "tcg", (f"with -accel kvm the lab kernel boots but its nested guests do not "
                       f"run ({match.group(1).strip()})")
    if "@@LAB stalled" in text:
        return "tcg", (f"with -accel kvm QEMU printed nothing for {stall} s (this host's KVM "
                       f"cannot run the lab kernel)")
    return "tcg", f"with -accel kvm the trial boot ended without an answer (log {log_path})"


def parse_console(text):
    """The @@LAB blocks of one boot."""
    result = {"kernel": None, "scenarios": {}, "tests": {}, "probe": "", "probe_json": None,
              "done": "@@LAB done" in text, "param": {}, "timelines": {}, "memmaps": {}}
    match = re.search(r"^@@LAB kernel (\S+)", text, re.M)
    result["kernel"] = match.group(1) if match else None
    match = re.search(r"^@@LAB cmdline (.*)$", text, re.M)
    result["cmdline"] = match.group(1) if match else None
    for name, value in re.findall(r"^@@LAB param (\S+) (\S+)", text, re.M):
        result["param"][name] = value
    match = re.search(r"^@@LAB stalled.*$", text, re.M)
    result["stalled"] = match.group(0)[len("@@LAB "):] if match else None
    match = re.search(r"^@@LAB seconds (\S+) (\S+)", text, re.M)
    if match:
        result["guest_seconds"] = float(match.group(2)) - float(match.group(1))
    blocks = re.finditer(r"^@@LAB begin (\S+)(?: (\S+))?\n(.*?)^@@LAB end rc (\d+)", text,
                         re.M | re.S)
    for block in blocks:
        kind, name, body, rc = block.group(1), block.group(2), block.group(3), int(block.group(4))
        if kind == "probe":
            result["probe"] = body
        elif kind == "probe-json":
            try:
                result["probe_json"] = json.loads(body)
            except ValueError:
                pass
        elif kind == "scenario":
            output, _, report = body.partition("@@LAB report\n")
            entry = {"rc": rc, "output": output.strip(), "report": None}
            try:
                entry["report"] = json.loads(report) if report.strip() else None
            except ValueError:
                entry["report_error"] = report[:2000]
            result["scenarios"][name] = entry
        elif kind == "test":
            summary = re.findall(r"^\[  (PASSED|FAILED|SKIPPED)  \] (\d+) test", body, re.M)
            result["tests"][name] = {"rc": rc, "summary": summary, "output": body}
        elif kind == "transcript":
            result.setdefault("transcripts", {})[name] = {"rc": rc, "text": body}
        elif kind == "timeline":
            # gmemvm run --timeline's SVG, as lab/init.sh printed it; None
            # when the run wrote none (its output follows the block).
            svg = body if body.lstrip().startswith("<?xml") and "</svg>" in body else None
            result["timelines"][name] = {"rc": rc, "svg": svg}
        elif kind == "memmap":
            # gmemvm run --memmap's SVG (lab/init.sh), for scripts/docs.
            svg = body if body.lstrip().startswith("<?xml") and "</svg>" in body else None
            result["memmaps"][name] = {"rc": rc, "svg": svg if rc == 0 else None}
    return result


def save_pictures(result, directory, release, kind="timeline"):
    """Write each picture of one boot as build/lab/KIND-RELEASE-NAME.svg
    (docs/usage.md shows the newest kernel's timeline, docs/memory-map.md
    its memory maps); return the paths written."""
    paths = []
    for name, entry in sorted(result.get(kind + "s", {}).items()):
        entry["path"] = None
        if entry["svg"] is None:
            continue
        path = os.path.join(directory, f"{kind}-{release}-{name}.svg")
        with open(path, "w") as out:
            out.write(entry["svg"])
        entry["path"] = path
        paths.append(path)
    return paths


def run_on_host(build, scenarios):
    """The same scenarios on this machine's own KVM, when it has one."""
    if not os.path.exists("/dev/kvm"):
        return {"kernel": os.uname().release + " (this host)", "absent": "no /dev/kvm here",
                "scenarios": {}, "tests": {}}
    gmemvm = os.path.join(build, "vmm", "gmemvm")
    # A KVM whose guests never run would hold every scenario to its timeout.
    runs = subprocess.run([gmemvm, "probe", "--require", "guests-run"], capture_output=True,
                          text=True)
    if runs.returncode != 0:
        return {"kernel": os.uname().release + " (this host)", "scenarios": {}, "tests": {},
                "absent": runs.stderr.strip().removeprefix("gmemvm: ")}
    result = {"kernel": os.uname().release + " (this host)", "scenarios": {}, "tests": {},
              "probe": subprocess.run([gmemvm, "probe"], capture_output=True,
                                      text=True).stdout}
    try:
        result["probe_json"] = json.loads(subprocess.run(
            [gmemvm, "probe", "--json"], capture_output=True, text=True).stdout)
    except ValueError:
        result["probe_json"] = None
    with tempfile.TemporaryDirectory() as work:
        for ini in sorted(glob.glob(os.path.join(scenarios, "*.ini"))):
            name = os.path.basename(ini)[:-4]
            report_path = os.path.join(work, "report.json")
            run = subprocess.run([gmemvm, "run", ini, "--quiet", "--report", report_path],
                                 capture_output=True, text=True)
            entry = {"rc": run.returncode, "output": (run.stdout + run.stderr).strip(),
                     "report": None}
            if os.path.exists(report_path):
                with open(report_path) as report:
                    entry["report"] = json.load(report)
                os.unlink(report_path)
            result["scenarios"][name] = entry
    return result


def verdict(entry):
    """ok, cannot (the kernel lacks a feature: exit status 5, said in one
    line) or FAIL."""
    if entry is None:
        return "FAIL", "did not run (the boot ended early)"
    if entry["rc"] == 0:
        return "ok", ""
    if entry["rc"] == UNSUPPORTED and entry["output"]:
        return "cannot", re.sub(r"^gmemvm: \S+\.ini: ", "", entry["output"].splitlines()[-1])
    last = entry["output"].splitlines()[-1] if entry["output"] else ""
    return "FAIL", f"exit {entry['rc']}: {last}"


def signature(entry):
    """What must agree between kernels of one architecture: outcome and every
    data check. Across architectures a scenario may expect another outcome
    or other checks ([expect.arm64]); each kernel's run then agrees with its
    own architecture's expectation (rc 0), and its signature with the other
    kernels of that architecture."""
    report = entry.get("report") or {}
    return (report.get("outcome"), tuple(c.get("passed") for c in report.get("checks", [])))


def column_arch(result):
    """x86_64 or arm64 for a column of the comparison (this host is x86_64)."""
    return "arm64" if " arm64" in (result.get("kernel") or "") else "x86_64"


def cell(entry):
    """native, modelled, or not run (a rule refused the set-up)."""
    report = entry.get("report") or {}
    features = report.get("features") or {}
    if not features.get("native") and not features.get("modelled"):
        return "not run"
    return "modelled" if features.get("modelled") else "native"


def skip_reason(entry):
    """The last "skipped: ..." line a test printed (exit 77)."""
    reasons = re.findall(r"^skipped.*$", entry["output"], re.M)
    return reasons[-1] if reasons else "(no reason given)"


def print_kernel(name, result, out):
    print(f"\n=== {name}: {result.get('kernel')} ===", file=out)
    if result.get("absent"):
        print(f"  not run: {result['absent']}", file=out)
        return
    if "in_place_conversion" in result:
        print("  in-place conversion (KVM_SET_MEMORY_ATTRIBUTES2): "
              + in_place_words(result["in_place_conversion"]), file=out)
    print(result.get("probe", "").rstrip(), file=out)
    print("", file=out)
    for scenario, entry in sorted(result["scenarios"].items()):
        state, why = verdict(entry)
        line = entry["output"].splitlines()[-1] if entry["output"] else ""
        print(f"  {state:6} {line if state == 'ok' else scenario + ': ' + why}", file=out)
    for test, entry in sorted(result["tests"].items()):
        if entry["rc"] == 77:
            print(f"  {'skip':6} test {test}: {skip_reason(entry)}", file=out)
        else:
            print(f"  {'ok' if entry['rc'] == 0 else 'FAIL':6} test {test} (exit {entry['rc']})",
                  file=out)
    for name, entry in sorted(result.get("timelines", {}).items()):
        scenario = result["scenarios"].get(name)
        if scenario and verdict(scenario)[0] == "cannot":
            print(f"  {'skip':6} timeline {name}: its scenario cannot run here", file=out)
            continue
        where = entry.get("path") or "no picture written"
        print(f"  {'ok' if entry['rc'] == 0 and entry.get('path') else 'FAIL':6} timeline "
              f"{name} (exit {entry['rc']}): {where}", file=out)
    print(f"\n  {'use case (mode)':36} {'stage 1':32} stage 2", file=out)
    for mode, title in USE_CASES:
        cells = []
        for stage in (1, 2):
            found = [(s, e) for s, e in result["scenarios"].items()
                     if (e.get("report") or {}).get("mode") == mode
                     and (e.get("report") or {}).get("stage") == stage]
            words = sorted({f"{(e['report'] or {}).get('outcome')}/{cell(e)}"
                            for _, e in found if verdict(e)[0] == "ok"})
            cells.append(", ".join(words) if words else "-")
        print(f"  {title:36} {cells[0]:32} {cells[1]}", file=out)


def compare(results, out):
    """Every scenario must agree everywhere it ran; returns the failures."""
    names = sorted({s for r in results.values() for s in r["scenarios"]})
    columns = [k for k in results if not results[k].get("absent")]
    failures = []
    # Columns as wide as their longest entry, and two spaces between.
    first = max([len(n) for n in names] + [len("(in-place conversion series)")]) + 2
    width = max([len(k) for k in columns] + [len("cannot run here"), len("in source, enabled"),
                                             len("not-run (modelled)")]) + 2
    print("\n=== comparison: outcome per kernel (native/modelled) ===", file=out)
    print(f"  {'scenario':{first}}" + "".join(f"{k:{width}}" for k in columns) + "agree", file=out)
    words = {True: "in source, enabled", False: "not in source", None: "-"}
    row = [words[results[kernel].get("in_place_conversion")] for kernel in columns]
    print(f"  {'(in-place conversion series)':{first}}" + "".join(f"{c:{width}}" for c in row),
          file=out)
    for name in names:
        row, signatures = [], {}
        for kernel in columns:
            entry = results[kernel]["scenarios"].get(name)
            state, why = verdict(entry)
            if state == "ok":
                signatures.setdefault(column_arch(results[kernel]), set()).add(signature(entry))
                row.append(f"{entry['report']['outcome']} ({cell(entry)})")
                width = max(width, len(row[-1]) + 2)
            elif state == "cannot":
                row.append("cannot run here")
            else:
                row.append("FAIL")
                failures.append(f"{kernel}: {name}: {why}")
        agree = all(len(found) <= 1 for found in signatures.values())
        if not agree:
            differing = sorted((s for found in signatures.values() for s in found), key=str)
            failures.append(f"{name}: outcomes or data checks differ between kernels: "
                            f"{differing}")
        print(f"  {name:{first}}" + "".join(f"{c:{width}}" for c in row) +
              ("yes" if agree else "NO"), file=out)
    for kernel in columns:
        # What a kernel cannot run, grouped by its reason: one line each.
        reasons = {}
        for name, entry in sorted(results[kernel]["scenarios"].items()):
            state, why = verdict(entry)
            if state == "cannot":
                reasons.setdefault(why, []).append(name)
        for test, entry in sorted(results[kernel]["tests"].items()):
            # 77 is a whole test skipped with its reason: a kernel lacking a
            # feature says so, it does not fail.
            if entry["rc"] == 77:
                why = re.sub(r"^skipped: ", "", skip_reason(entry))
                reasons.setdefault(why, []).append(f"test {test}")
        for why, names in reasons.items():
            print(f"  {kernel}: cannot run {', '.join(names)}: {why}", file=out)
        for test, entry in results[kernel]["tests"].items():
            if entry["rc"] not in (0, 77):
                failures.append(f"{kernel}: test {test} failed (exit {entry['rc']})")
        # The picture must come out wherever its scenario ran (lab/init.sh).
        for name, entry in results[kernel].get("timelines", {}).items():
            scenario = results[kernel]["scenarios"].get(name)
            if (entry["rc"] != 0 or not entry.get("path")) and scenario and \
                    verdict(scenario)[0] == "ok":
                failures.append(f"{kernel}: timeline {name}: exit {entry['rc']}, "
                                f"{'no picture' if not entry.get('path') else 'picture written'}"
                                f" (see its console log)")
        if results[kernel].get("stuck"):
            failures.append(f"{kernel}: {results[kernel]['stuck']}")
        if results[kernel].get("stalled"):
            failures.append(f"{kernel}: {results[kernel]['stalled']} (see its console log)")
        if not results[kernel].get("done", True):
            failures.append(f"{kernel}: the boot did not finish (see its console log)")
        # Booted with the parameter, the kernel must show it on (lab/init.sh).
        seen = results[kernel].get("param", {}).get("gmem_in_place_conversion", "absent")
        if results[kernel].get("in_place_conversion") and results[kernel]["done"] and seen != "Y":
            failures.append(f"{kernel}: its source has in-place conversion, but booted with "
                            f"{IN_PLACE_PARAMETER} its parameter is {seen}")
    return failures


def summary_table(results):
    """One Markdown row per kernel: the kind of host it is, and how many
    scenarios ended as expected, could not run there, or failed; the same
    for the tests. README's lab table is this, from a real run."""
    rows = ["| kernel | host kind | scenarios: as expected / cannot run / failed "
            "| tests: passed / skipped / failed |",
            "| --- | --- | --- | --- |"]
    for name, result in results.items():
        if result.get("absent"):
            rows.append(f"| {result.get('kernel')} | not run: {result['absent']} | - | - |")
            continue
        verdicts = [verdict(e)[0] for e in result["scenarios"].values()]
        rcs = [e["rc"] for e in result["tests"].values()]
        kind = (result.get("probe_json") or {}).get("host_kind") or "-"
        rows.append(f"| {result.get('kernel')} | {kind} | {verdicts.count('ok')} / "
                    f"{verdicts.count('cannot')} / {verdicts.count('FAIL')} | "
                    f"{rcs.count(0)} / {rcs.count(77)} / "
                    f"{len([rc for rc in rcs if rc not in (0, 77)])} |")
    return "\n".join(rows) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    parser.add_argument("--scenarios", required=True)
    parser.add_argument("--accel", default=None)
    parser.add_argument("--some-kernels", action="store_true",
                        help="not every lab kernel: README's lab table is left as it is")
    parser.add_argument("--stall", type=int, default=STALL_SECONDS,
                        help="end a boot whose console says nothing new for this many seconds")
    parser.add_argument("--run-options", default="",
                        help="more options for every gmemvm run, e.g. --trace")
    parser.add_argument("--no-tests", action="store_true",
                        help="only the probe and the scenarios")
    parser.add_argument("--bench", default=None, metavar="ARGS",
                        help="also run bench/bench.py --lab ARGS in each kernel")
    parser.add_argument("kernels", nargs="+")
    args = parser.parse_args()
    build = os.path.join(args.repo, "build")
    logs = os.path.join(build, "lab")
    os.makedirs(logs, exist_ok=True)
    for old in glob.glob(os.path.join(logs, "transcript-*.txt")) + \
            glob.glob(os.path.join(logs, "memmap-*.svg")):
        os.unlink(old)  # scripts/docs reads only this run's
    results, timings, accels = {}, {}, {}
    with tempfile.TemporaryDirectory() as work:
        initramfs_of = {}
        for arch in sorted({kernel_arch(k) for k in args.kernels}):
            initramfs_of[arch] = make_initramfs(
                args.repo, build if arch == "x86_64" else os.path.join(args.repo, "build-arm64"),
                args.scenarios, work, args.run_options, not args.no_tests, args.bench, arch)
        accel = args.accel
        x86_kernels = [k for k in args.kernels if kernel_arch(k) == "x86_64"]
        if not accel and x86_kernels:
            # Decided by trying, on the newest kernel, never from the host's name.
            accel, why = choose_accel(x86_kernels[-1], initramfs_of["x86_64"],
                                      os.path.join(logs, "console-accel-trial.log"))
            print(f"lab: accelerator {accel}: {why}", flush=True)
        boots_wanted = [(k, mode) for k in args.kernels
                        for mode in (ARM64_MODES if kernel_arch(k) == "arm64" else ["nvhe"])]
        for kernel_dir, arm64_mode in boots_wanted:
            release = kernel_name(kernel_dir, arm64_mode)
            initramfs = initramfs_of[kernel_arch(kernel_dir)]
            # An arm64 kernel on this x86 machine runs under QEMU's emulator.
            kernel_accel = accel if kernel_arch(kernel_dir) == "x86_64" else "tcg"
            log = os.path.join(logs, f"console-{release}.log")
            print(f"lab: booting {release} ({kernel_accel}); console log {log}", flush=True)
            # A boot whose nested guests never run is booted again (lab/init.sh).
            boots = 0
            while True:
                boots += 1
                text, seconds = boot(kernel_dir, initramfs, kernel_accel, args.stall, log,
                                     arm64_mode)
                stuck = re.search(r"^@@LAB stuck (\S+)", text, re.M)
                if not stuck or boots == MAX_BOOTS:
                    break
                # The stuck boot's console is kept beside the next one's.
                os.replace(log, log.replace(".log", f".boot{boots}.log"))
                print(f"lab: in boot {boots} of {release} nested guests did not run (check "
                      f"{stuck.group(1)}; QEMU's emulator, docs/lab.md); booting again",
                      flush=True)
            results[release] = parse_console(text)
            for path in save_pictures(results[release], logs, release):
                print(f"lab: {release}: picture {path}", flush=True)
            save_pictures(results[release], logs, release, "memmap")
            # The runs the docs quote, for scripts/docs: those that ran as
            # their scenario expects (a kernel that cannot run one has none).
            for name, entry in results[release].get("transcripts", {}).items():
                path = os.path.join(logs, f"transcript-{release}-{name}.txt")
                if entry["rc"] == 0:
                    with open(path, "w") as out:
                        out.write(entry["text"])
                elif os.path.exists(path):
                    os.unlink(path)
            results[release]["boots"] = boots
            if stuck:
                results[release]["stuck"] = f"nested guests never ran in {boots} boots"
            results[release]["kernel"] = results[release]["kernel"] or release
            if kernel_arch(kernel_dir) == "arm64":
                results[release]["kernel"] += " arm64" + (" pKVM" if arm64_mode == "protected"
                                                          else "")
            accels[release] = kernel_accel
            results[release]["kernel_dir"] = kernel_dir
            results[release]["in_place_conversion"] = in_place_conversion(kernel_dir)
            timings[release] = seconds
    results["host"] = run_on_host(build, args.scenarios)
    out = sys.stdout
    for name, result in results.items():
        print_kernel(name, result, out)
    failures = compare(results, out)
    print("\n=== time ===", file=out)
    for release, seconds in timings.items():
        print(f"  {release}: boot and run {seconds:.1f} s (accel {accels[release]})", file=out)
    summary = {"accel": accel, "accels": accels, "timings_s": timings, "failures": failures, "kernels": {}}
    for name, result in results.items():
        summary["kernels"][name] = {
            "kernel": result.get("kernel"), "absent": result.get("absent"),
            "boots": result.get("boots"),
            "in_place_conversion": in_place_summary(result),
            "cmdline": result.get("cmdline"),
            "probe": result.get("probe_json"), "params": result.get("param"),
            "scenarios": {s: {"rc": e["rc"], "verdict": verdict(e)[0],
                              "outcome": (e.get("report") or {}).get("outcome"),
                              "features": (e.get("report") or {}).get("features"),
                              "summary": e["output"].splitlines()[-1] if e["output"] else ""}
                          for s, e in result["scenarios"].items()},
            "tests": {t: {"rc": e["rc"], "summary": e["summary"]}
                      for t, e in result["tests"].items()},
            "timelines": {t: {"rc": e["rc"], "path": e.get("path")}
                          for t, e in result.get("timelines", {}).items()},
        }
    with open(os.path.join(build, "lab.json"), "w") as out_json:
        json.dump(summary, out_json, indent=1)
    full_run = (args.scenarios == os.path.join(args.repo, "configs") and not args.no_tests
                and args.bench is None and not args.run_options)
    table = summary_table(results)
    # README's lab table (scripts/docs) comes from a full run of every kernel only.
    if full_run and not args.some_kernels:
        with open(os.path.join(build, "lab-table.md"), "w") as out_table:
            out_table.write(table)
    kept = full_run and not args.some_kernels
    print(f"\n=== summary{' (build/lab-table.md)' if kept else ''} ===\n{table}", end="")
    # The docs quote the newest kernel's runs: they must still be what the
    # code prints (scripts/docs; a newer kernel than the docs quote is said).
    if full_run:
        docs = subprocess.run([sys.executable, os.path.join(args.repo, "scripts", "docs"),
                               "--check", "--lab-only"], capture_output=True, text=True)
        print(docs.stdout, end="")
        if docs.returncode != 0:
            failures.append("the docs' quoted runs differ from this run: run scripts/docs "
                            "and commit what changed")
    scenarios = sum(len(r["scenarios"]) for r in results.values())
    if failures:
        print("\nlab: FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"\nlab: every scenario agrees on every kernel ({scenarios} runs); build/lab.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
