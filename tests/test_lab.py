#!/usr/bin/env python3
"""The lab's decisions that depend on the machine (docs/lab.md), without a
kernel or QEMU: the Debian mirror read from apt's sources (lab/lib.sh), the
accelerator chosen by a trial boot, a boot ended only when it stops making
progress, and the verdicts and table of lab/run.py.
usage: test_lab.py REPO_DIR"""

import os
import stat
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "lab"))
import run  # noqa: E402  (lab/run.py)


def mirror(*files, codename="bookworm"):
    """lab_debian_mirror over the given files: (exit status, output)."""
    result = subprocess.run(
        ["bash", "-c", f'source "{REPO}/lab/lib.sh"; lab_debian_mirror "$@"', "mirror", *files],
        capture_output=True, text=True, env=dict(os.environ, LAB_CODENAME=codename))
    return result.returncode, result.stdout.strip()


class Mirror(unittest.TestCase):
    def write(self, text):
        handle = tempfile.NamedTemporaryFile("w", delete=False, dir=self.directory)
        handle.write(text)
        handle.close()
        return handle.name

    def setUp(self):
        self.temporary = tempfile.TemporaryDirectory()
        self.directory = self.temporary.name

    def tearDown(self):
        self.temporary.cleanup()

    def test_deb822_comment_before_uris(self):
        # The image that broke the lab: a commented-out snapshot URL first.
        path = self.write("Types: deb\n"
                          "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
                          "URIs: http://deb.debian.org/debian\n"
                          "Suites: bookworm bookworm-updates\n"
                          "Components: main\n\n"
                          "Types: deb\n"
                          "# http://snapshot.debian.org/archive/debian-security/20250520T000000Z\n"
                          "URIs: http://deb.debian.org/debian-security\n"
                          "Suites: bookworm-security\n")
        self.assertEqual(mirror(path), (0, "http://deb.debian.org/debian"))

    def test_deb822_skips_disabled_security_and_foreign(self):
        path = self.write("Types: deb\nURIs: http://old.example/debian\nSuites: bookworm\n"
                          "Enabled: no\n\n"
                          "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
                          "Types: deb\nURIs: http://security.example/debian-security\n"
                          "Suites: bookworm-security\n\n"
                          "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\n"
                          "Suites: nodistro\n\n"
                          "Types: deb\nURIs: http://mirror.example/debian/\n"
                          "Suites: bookworm-updates\n")
        self.assertEqual(mirror(path), (0, "http://mirror.example/debian"))

    def test_one_line_format_with_comments_and_options(self):
        path = self.write("# deb http://commented.example/debian bookworm main\n"
                          "   # deb http://indented.example/debian bookworm main\n"
                          "deb http://security.debian.org/debian-security bookworm-security main\n"
                          "deb-src http://src.example/debian bookworm main\n"
                          "deb [arch=amd64 signed-by=/k.gpg] http://ftp.example/debian/ bookworm"
                          " main contrib\n")
        self.assertEqual(mirror(path), (0, "http://ftp.example/debian"))

    def test_first_file_wins_across_files(self):
        other = self.write("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n")
        debian = self.write("Types: deb\nURIs: http://one.example/debian\nSuites: bookworm\n")
        self.assertEqual(mirror(other, debian), (0, "http://one.example/debian"))

    def test_nothing_active(self):
        path = self.write("# deb http://deb.debian.org/debian bookworm main\n\n"
                          "Types: deb\n# URIs: http://deb.debian.org/debian\nSuites: bookworm\n")
        self.assertEqual(mirror(path), (1, ""))


def fake_qemu(directory, body):
    """An executable standing in for qemu-system-x86_64."""
    path = os.path.join(directory, "qemu")
    with open(path, "w") as script:
        script.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class Accelerator(unittest.TestCase):
    def setUp(self):
        self.temporary = tempfile.TemporaryDirectory()
        self.directory = self.temporary.name
        self.kernel = os.path.join(self.directory, "kernel")
        os.makedirs(self.kernel)
        self.device = os.path.join(self.directory, "kvm")
        open(self.device, "w").close()
        self.log = os.path.join(self.directory, "trial.log")
        self.saved = run.QEMU

    def tearDown(self):
        run.QEMU = self.saved
        self.temporary.cleanup()

    def choose(self, body, stall=2):
        run.QEMU = fake_qemu(self.directory, body)
        return run.choose_accel(self.kernel, "initramfs", self.log, stall=stall,
                                kvm_device=self.device)

    def test_silent_qemu_falls_back_to_tcg(self):
        # A host KVM that cannot run the kernel: QEMU spins and prints nothing.
        accel, why = self.choose("exec sleep 60\n")
        self.assertEqual(accel, "tcg")
        self.assertIn("printed nothing for 2 s", why)

    def test_nested_guests_run_chooses_kvm(self):
        accel, why = self.choose('echo "@@LAB trial guests-run"\n')
        self.assertEqual(accel, "kvm")
        self.assertIn("ran nested guests", why)

    def test_nested_guests_do_not_run(self):
        accel, why = self.choose(
            'echo "@@LAB trial gmemvm: this host\'s KVM does not run guests: ..."\n')
        self.assertEqual(accel, "tcg")
        self.assertIn("nested guests do not run", why)

    def test_trial_asks_with_kvm_and_the_trial_parameter(self):
        self.choose('echo "$@" >"$0.args"; echo "@@LAB trial guests-run"\n')
        with open(os.path.join(self.directory, "qemu.args")) as saved:
            args = saved.read()
        self.assertIn("-accel kvm", args)
        self.assertIn("lab.trial=1", args)

    def test_no_device_is_tcg_without_trying(self):
        run.QEMU = fake_qemu(self.directory, "touch \"$0.ran\"\n")
        accel, why = run.choose_accel(self.kernel, "initramfs", self.log,
                                      kvm_device=os.path.join(self.directory, "none"))
        self.assertEqual(accel, "tcg")
        self.assertIn("no ", why)
        self.assertFalse(os.path.exists(os.path.join(self.directory, "qemu.ran")))


class Progress(unittest.TestCase):
    def test_slow_but_progressing_is_not_ended(self):
        # 5 lines 1 s apart: 4 s in all, more than the 2 s bound, but never
        # 2 s without output.
        with tempfile.TemporaryDirectory() as directory:
            log = os.path.join(directory, "log")
            text, seconds = run.run_until_stalled(
                ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 1; done; echo done"],
                2, log)
            self.assertIn("done", text)
            self.assertNotIn("@@LAB stalled", text)
            self.assertGreater(seconds, 4)

    def test_silence_is_ended_and_said(self):
        with tempfile.TemporaryDirectory() as directory:
            log = os.path.join(directory, "log")
            text, seconds = run.run_until_stalled(["sh", "-c", "echo start; exec sleep 60"], 1,
                                                  log)
            self.assertIn("start", text)
            self.assertIn("@@LAB stalled: no console output for 1 s", text)
            self.assertLess(seconds, 30)
            self.assertEqual(run.parse_console(text)["stalled"],
                             "stalled: no console output for 1 s, QEMU ended")


class Verdicts(unittest.TestCase):
    def test_unsupported_is_cannot_anything_else_fails(self):
        line = "gmemvm: /lab/configs/x.ini: this kernel lacks KVM_CAP_GUEST_MEMFD: ..."
        self.assertEqual(run.verdict({"rc": 5, "output": line}),
                         ("cannot", "this kernel lacks KVM_CAP_GUEST_MEMFD: ..."))
        self.assertEqual(run.verdict({"rc": 3, "output": line})[0], "FAIL")
        self.assertEqual(run.verdict({"rc": 0, "output": "ok"})[0], "ok")
        self.assertEqual(run.verdict(None)[0], "FAIL")

    def test_skips_are_printed_as_skips(self):
        import io
        result = {"kernel": "6.1", "probe": "", "scenarios": {
            "coco-inplace-stage2": {"rc": 5, "output": "gmemvm: lacks it", "report": None}},
            "tests": {"test_gmem": {"rc": 77, "output": "skipped: this kernel lacks X\n"},
                      "test_probe": {"rc": 1, "output": ""}},
            "timelines": {"coco-inplace-stage2": {"rc": 5, "path": None}}}
        out = io.StringIO()
        run.print_kernel("6.1", result, out)
        text = out.getvalue()
        self.assertIn("skip   test test_gmem: skipped: this kernel lacks X", text)
        self.assertIn("FAIL   test test_probe (exit 1)", text)
        self.assertIn("skip   timeline coco-inplace-stage2: its scenario cannot run here", text)
        self.assertNotIn("FAIL   timeline", text)

    def test_columns_fit_the_longest_name(self):
        import io
        long_name = "h02-shared-s2-3vcpu-private-guest-access"
        report = {"outcome": "done", "checks": [], "features": {"native": ["x"]}}
        results = {"7.3": {"scenarios": {long_name: {"rc": 0, "output": "ok", "report": report}},
                           "tests": {}, "done": True},
                   "6.1": {"scenarios": {long_name: {"rc": 5, "output": "lacks", "report": None}},
                           "tests": {}, "done": True}}
        out = io.StringIO()
        self.assertEqual(run.compare(results, out), [])
        row = [line for line in out.getvalue().splitlines() if long_name in line][0]
        self.assertRegex(row, long_name + r"  +done \(native\)  +cannot run here  +yes")

    def test_architectures_agree_each_with_its_own(self):
        """A scenario may expect another outcome on arm64 ([expect.arm64]):
        kernels agree within an architecture, not across."""
        import io

        def entry(outcome):
            return {"rc": 0, "output": "ok",
                    "report": {"outcome": outcome, "checks": [], "features": {"native": ["x"]}}}
        results = {"7.3": {"kernel": "7.3.4", "scenarios": {"s": entry("emulation-refused")},
                           "tests": {}, "done": True},
                   "7.3-arm64": {"kernel": "7.3.4 arm64", "scenarios": {"s": entry("done")},
                                 "tests": {}, "done": True}}
        self.assertEqual(run.compare(results, io.StringIO()), [])
        results["6.12"] = {"kernel": "6.12.118", "scenarios": {"s": entry("done")},
                           "tests": {}, "done": True}
        failures = run.compare(results, io.StringIO())
        self.assertEqual(len(failures), 1)
        self.assertIn("s: outcomes or data checks differ", failures[0])

    def test_summary_counts_each_verdict(self):
        ok = {"rc": 0, "output": "ok", "report": {"outcome": "done"}}
        results = {
            "6.1": {"kernel": "6.1.192", "probe_json": {"host_kind": "no-guest-memfd"},
                    "scenarios": {"a": {"rc": 5, "output": "lacks"}, "b": ok},
                    "tests": {"t1": {"rc": 77}, "t2": {"rc": 0}, "t3": {"rc": 1}}},
            "host": {"kernel": "6.18 (this host)", "absent": "no /dev/kvm here",
                     "scenarios": {}, "tests": {}}}
        rows = run.summary_table(results).splitlines()
        self.assertEqual(rows[2], "| 6.1.192 | no-guest-memfd | 1 / 1 / 0 | 1 / 1 / 1 |")
        self.assertEqual(rows[3], "| 6.18 (this host) | not run: no /dev/kvm here | - | - |")


class Docs(unittest.TestCase):
    """scripts/docs --check --lab-only over a fabricated lab run: every kind of
    block is compared, a difference is named, and nothing crashes."""

    def test_lab_outputs_are_compared(self):
        with tempfile.TemporaryDirectory() as build:
            lab = os.path.join(build, "lab")
            os.makedirs(lab)
            for name in ("example", "trace-a", "trace-d"):
                with open(os.path.join(lab, f"transcript-7.3.4-{name}.txt"), "w") as out:
                    out.write("guest| a line no run prints\n")
            for scenario in ("coco-legacy-stage2", "shared-stage2-convert", "pkvm-stage2",
                             "coco-inplace-stage2"):
                with open(os.path.join(lab, f"memmap-7.3.4-{scenario}.svg"), "w") as out:
                    out.write("<svg/>\n")
            with open(os.path.join(build, "lab-table.md"), "w") as out:
                out.write("| kernel | host kind | a | b |\n| --- | --- | --- | --- |\n")
            run = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "docs"), "--check",
                                  "--lab-only"], capture_output=True, text=True,
                                 env=dict(os.environ, GMEMVM_DOCS_BUILD=build))
            self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
            self.assertNotIn("Traceback", run.stderr)
            self.assertIn("README.md: 'transcript example' differs", run.stdout)
            self.assertIn("docs/memmap-coco-inplace-stage2.svg differs from the lab's picture",
                          run.stdout)
            self.assertIn("docs/walkthrough-d.md differs from the lab's last run", run.stdout)
            self.assertNotIn("lab table", run.stdout)  # a count of one run, never compared


if __name__ == "__main__":
    unittest.main(verbosity=2)
