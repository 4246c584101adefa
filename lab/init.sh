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
# Under QEMU's emulator a boot now and then comes up in which nested guests
# never run their first instruction (docs/lab.md). Two short runs tell; such
# a boot is reported and ended at once, and lab/run.py boots again. 20 s,
# not less: on a loaded machine a healthy guest took over 5 s to start.
for check in coco-legacy-stage1 shared-basic; do
	"$GMEMVM" run "$LAB_CONFIGS/$check.ini" --quiet --set vm.timeout=20s \
		--report /tmp/check.json >/dev/null 2>&1
	if [ -f /tmp/check.json ] && grep -q '"outcome": "timeout"' /tmp/check.json &&
		grep -q '"guest_entry": -1' /tmp/check.json; then
		echo "@@LAB stuck $check"
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
# The picture README.md shows (docs/timeline-coco-inplace-stage2.svg), carried
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
for test in /lab/tests/*; do
	[ -x "$test" ] || continue
	echo "@@LAB begin test $(basename "$test")"
	"$test" 2>&1
	echo "@@LAB end rc $?"
done
echo "@@LAB begin dmesg"
dmesg | tail -n 40
echo "@@LAB end rc 0"
echo "@@LAB begin dmesg"
dmesg | tail -n 40
echo "@@LAB end rc 0"
echo "@@LAB seconds $started $(cut -d' ' -f1 /proc/uptime)"
echo "@@LAB done"
sync
reboot -f
