#!/bin/busybox sh
# /init of the lab's initramfs: runs gmemvm's probe, every scenario and the
# real-KVM test programs on this kernel, printing each result between
# "@@LAB" markers on the serial console for lab/run.py, then powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
# /tmp stays the initramfs's own directory (already writable memory): the
# build tree may itself live under /tmp, and a mount there would hide it.
. /lab/env
cd /tmp

echo "@@LAB kernel $(uname -r)"
echo "@@LAB cmdline $(cat /proc/cmdline)"
if [ -e /sys/module/kvm/parameters/gmem_in_place_conversion ]; then
	echo "@@LAB param gmem_in_place_conversion $(cat /sys/module/kvm/parameters/gmem_in_place_conversion)"
fi
started=$(cut -d' ' -f1 /proc/uptime)
# --accel's trial boot (lab/run.py): only whether nested guests run here.
if grep -q 'lab.trial=1' /proc/cmdline; then
	echo "@@LAB trial $("$GMEMVM" probe --require guests-run 2>&1 && echo guests-run)"
	sync
	reboot -f
fi
# Under QEMU's emulator a boot now and then comes up in which nested guests
# never run their first instruction (docs/lab.md). Two runs tell; such a boot
# is reported and ended at once, and lab/run.py boots again. The bound is
# wide (120 s, where a healthy guest starts in under 1 s idle and took over
# 5 s with both cores busy): a loaded machine is slow, not stuck.
if ! "$GMEMVM" probe --require guests-run >/tmp/out 2>&1; then
	# Even a real-mode guest on plain memory never exits: every kernel.
	echo "@@LAB stuck guests-run"
	cat /tmp/out
	dmesg | tail -n 30
	sync
	reboot -f
fi
for check in coco-legacy-stage1 shared-basic; do
	"$GMEMVM" run "$LAB_CONFIGS/$check.ini" --quiet --set vm.timeout=120s \
		--report /tmp/check.json >/dev/null 2>&1
	if [ -f /tmp/check.json ] && grep -q '"outcome": "timeout"' /tmp/check.json &&
		grep -q '"guest_entry": -1' /tmp/check.json; then
		echo "@@LAB stuck $check"
		# What the kernel said, for the console log (docs/lab.md).
		dmesg | tail -n 30
		sync
		reboot -f
	fi
	rm -f /tmp/check.json
done
echo "@@LAB begin probe"
"$GMEMVM" probe
echo "@@LAB end rc $?"
echo "@@LAB begin probe-json"
"$GMEMVM" probe --json
echo
echo "@@LAB end rc $?"
for file in $LAB_SCENARIOS/*.ini; do
	name=$(basename "$file" .ini)
	rm -f /tmp/report.json
	# shellcheck disable=SC2086
	"$GMEMVM" run "$file" --quiet --report /tmp/report.json $LAB_RUN_OPTIONS >/tmp/out 2>&1
	rc=$?
	echo "@@LAB begin scenario $name"
	cat /tmp/out
	echo "@@LAB report"
	[ -f /tmp/report.json ] && cat /tmp/report.json
	echo "@@LAB end rc $rc"
done
# The picture docs/usage.md shows (docs/timeline-coco-inplace-stage2.svg), carried
# out as the SVG itself between markers: gmemvm writes no '@' into a picture,
# so none of its lines can be taken for a marker, and the block always ends
# on a line of its own. lab/run.py saves it in build/lab/.
timeline=$LAB_SCENARIOS/coco-inplace-stage2.ini
[ -f "$timeline" ] || timeline=$LAB_CONFIGS/coco-inplace-stage2.ini
rm -f /tmp/timeline.svg
"$GMEMVM" run "$timeline" --quiet --timeline /tmp/timeline.svg >/tmp/out 2>&1
rc=$?
echo "@@LAB begin timeline coco-inplace-stage2"
if [ -f /tmp/timeline.svg ]; then
	cat /tmp/timeline.svg
	[ -n "$(tail -c 1 /tmp/timeline.svg)" ] && echo
fi
echo "@@LAB end rc $rc"
[ "$rc" -eq 0 ] || sed 's/^/timeline: /' /tmp/out
# The memory map of each mode before and after its first conversion
# (docs/memory-map.md; scripts/docs copies the newest kernel's).
for scenario in coco-legacy-stage2 shared-stage2-convert pkvm-stage2 coco-inplace-stage2; do
	rm -f /tmp/memmap.svg
	"$GMEMVM" run "$LAB_CONFIGS/$scenario.ini" --quiet --memmap /tmp/memmap.svg >/tmp/out 2>&1
	rc=$?
	echo "@@LAB begin memmap $scenario"
	if [ -f /tmp/memmap.svg ]; then
		cat /tmp/memmap.svg
		[ -n "$(tail -c 1 /tmp/memmap.svg)" ] && echo
	fi
	echo "@@LAB end rc $rc"
done
# The transcripts the docs quote (lab/transcripts.txt, scripts/docs).
grep -v '^#' /lab/transcripts.txt | while read -r name scenario options; do
	# shellcheck disable=SC2086
	"$GMEMVM" run "$LAB_CONFIGS/$scenario.ini" $options >/tmp/out 2>&1
	rc=$?
	echo "@@LAB begin transcript $name"
	cat /tmp/out
	echo "@@LAB end rc $rc"
done
# Each test runs with its output in a file; while it runs, a line says so
# whenever that output grew, so lab/run.py sees progress on a slow machine
# and a test that stops making progress is ended (LAB_TEST_STALL seconds
# without new output) instead of holding the boot.
run_test() {
	"$1" >/tmp/test.out 2>&1 &
	pid=$!
	last=0
	quiet=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		size=$(wc -c </tmp/test.out)
		if [ "$size" -ne "$last" ]; then
			last=$size
			quiet=0
			echo "@@LAB progress $(basename "$1") $size"
		else
			quiet=$((quiet + 5))
			if [ "$quiet" -ge "${LAB_TEST_STALL:-600}" ]; then
				echo "@@LAB stalled $(basename "$1") after $quiet s without output"
				kill -9 "$pid"
			fi
		fi
	done
	wait "$pid"
}
# lab.tests=0 (the arm64 kernel's second boot, with pKVM): the same kernel's
# first boot ran the tests; this one asks what pKVM changes, in the probe and
# the scenarios.
grep -q 'lab.tests=0' /proc/cmdline && rm -f /lab/tests/*
for test in /lab/tests/*; do
	[ -x "$test" ] || continue
	run_test "$test"
	rc=$?
	echo "@@LAB begin test $(basename "$test")"
	cat /tmp/test.out
	echo "@@LAB end rc $rc"
done
echo "@@LAB begin dmesg"
dmesg | tail -n 40
echo "@@LAB end rc 0"
echo "@@LAB seconds $started $(cut -d' ' -f1 /proc/uptime)"
echo "@@LAB done"
sync
reboot -f
