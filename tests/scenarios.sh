#!/usr/bin/env bash
# Integration tests under the real /dev/kvm: every scenario in configs/ must
# end as its [expect] section says (gmemvm exits 0), every file in
# tests/bad-configs/ must be refused with exit status 2 and one line naming
# what its "; expect:" comment says, and the report and probe must be real.
# usage: scenarios.sh GMEMVM REPO_DIR [extra gmemvm run options...]
set -u
gmemvm=$1
repo=$2
shift 2
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
work=$(mktemp -d)
# In the sanitizer build: LeakSanitizer's exit-time check runs a ptrace-ing
# helper the sandbox does not allow, so gmemvm runs leave leaks to valgrind
# (tests/valgrind.sh, plain build); everything else ASan/UBSan check.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
trap 'rm -rf "$work"' EXIT

# Refusals first: they must not need KVM at all.
for file in "$repo"/tests/bad-configs/*.ini; do
	want=$(sed -n '1s/^; expect: //p' "$file")
	"$gmemvm" run "$file" >"$work/out" 2>"$work/err"
	status=$?
	lines=$(wc -l <"$work/err")
	if [ "$status" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$work/err" &&
		grep -qF -- "$(basename "$file")" "$work/err" && [ ! -s "$work/out" ]; then
		pass "refused $(basename "$file"): $(cat "$work/err")"
	else
		fail "refused $(basename "$file"): status $status, $lines lines, want '$want': $(cat "$work/err")"
	fi
done
"$gmemvm" run "$work/does-not-exist.ini" 2>"$work/err" >/dev/null
[ $? -eq 2 ] && grep -q "No such file" "$work/err" && pass "missing file refused" ||
	fail "missing file: $(cat "$work/err")"
"$gmemvm" run "$repo/configs/shared-basic.ini" --set vm.memroy=8M 2>"$work/err" >/dev/null
[ $? -eq 2 ] && grep -q "memroy" "$work/err" && pass "bad --set refused" ||
	fail "bad --set: $(cat "$work/err")"
"$gmemvm" frobnicate 2>/dev/null >/dev/null
[ $? -eq 2 ] && pass "unknown command refused" || fail "unknown command"
GMEMVM_GUEST="$repo/tests/bad-configs/syntax.ini" "$gmemvm" run "$repo/configs/shared-basic.ini" \
	2>"$work/err" >/dev/null
[ $? -eq 2 ] && grep -q "malformed guest ELF" "$work/err" && pass "malformed guest refused" ||
	fail "malformed guest: $(cat "$work/err")"

if [ ! -e /dev/kvm ]; then
	echo "skipped: /dev/kvm is missing, so the scenarios cannot run here (load kvm or use a KVM host)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 77 || exit 1
fi

# A KVM without guest_memfd (before Linux 6.8): every scenario must be
# refused with exit status 5 (unsupported) and the one line the probe
# gives; then nothing else here can run.
lacks=$("$gmemvm" probe --require guest_memfd 2>&1)
status=$?
if [ "$status" -eq 5 ]; then
	lacks=${lacks#gmemvm: }
	for file in "$repo"/configs/*.ini; do
		"$gmemvm" run -q "$file" >"$work/out" 2>"$work/err"
		status=$?
		[ "$status" -eq 5 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && [ ! -s "$work/out" ] &&
			grep -qF -- "$lacks" "$work/err" &&
			pass "refused $(basename "$file"): exit 5, $lacks" ||
			fail "refused $(basename "$file"): status $status: $(cat "$work/out" "$work/err")"
	done
	echo "skipped: $lacks"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 77 || exit 1
elif [ "$status" -ne 0 ]; then
	fail "probe --require: status $status: $lacks"
fi
# A KVM whose guests never run: the scenarios would only time out.
lacks=$("$gmemvm" probe --require guests-run 2>&1)
status=$?
if [ "$status" -ne 0 ]; then
	[ "$status" -eq 5 ] || fail "probe --require guests-run: status $status: $lacks"
	echo "skipped: ${lacks#gmemvm: }"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 77 || exit 1
fi

"$gmemvm" probe >"$work/probe" 2>&1
if [ $? -eq 0 ] && grep -q "^KVM_CAP_GUEST_MEMFD " "$work/probe" &&
	grep -q "^gmem memslot served from" "$work/probe"; then
	pass "probe prints the capability table"
else
	fail "probe: $(cat "$work/probe")"
fi

skipped=0
for file in "$repo"/configs/*.ini; do
	name=$(basename "$file" .ini)
	"$gmemvm" run "$file" --report "$work/$name.json" "$@" >"$work/out" 2>&1
	status=$?
	if [ "$status" -eq 5 ] && grep -q "this kernel.* lacks" "$work/out"; then
		# A kernel without a feature the scenario needs: a clear refusal.
		skipped=$((skipped + 1))
		echo "skip scenario $name on this kernel: $(cat "$work/out")"
	elif [ "$status" -eq 0 ] && grep -q '"matched": true' "$work/$name.json" &&
		grep -q '"native": \[' "$work/$name.json" && grep -q "^features: native:" "$work/out"; then
		pass "scenario $(tail -n 1 "$work/out")"
	else
		fail "scenario $name (status $status):"
		sed 's/^/    /' "$work/out"
	fi
done

# (Where the kernel could not run it, it was skipped above with its reason.)
if [ -f "$work/coco-legacy-stage1.json" ]; then
	grep -q '"private_gmem_mmap": "No such device"' "$work/coco-legacy-stage1.json" &&
		pass "coco-legacy: the kernel refuses to mmap the private guest_memfd (ENODEV)" ||
		fail "coco-legacy mmap: $(grep private_gmem_mmap "$work/coco-legacy-stage1.json")"
fi
inconsistent=$(grep -L '"consistent": true' "$work"/*.json || true)
[ -z "$inconsistent" ] && pass "the checker found state, memslots and views consistent after every run" ||
	fail "inconsistent runs: $inconsistent"

# A run asks only for the probes its mode and scenario read, and its host
# table says which it skipped (docs/design.md, "What a run probes").
if [ -f "$work/shared-basic.json" ]; then
	grep -q '"gmem_served_from": "not probed"' "$work/shared-basic.json" &&
		grep -q '"status": "skipped", "detail": "not probed (not needed by mode shared)"' \
			"$work/shared-basic.json" &&
		pass "mode shared probes nothing it does not read, and its report says so" ||
		fail "shared-basic host table: $(grep -o '"host": .*' "$work/shared-basic.json" | head -c 600)"
fi
if [ -f "$work/shared-null-uaddr.json" ]; then
	grep -q '"gmem_served_from": "\(guest_memfd\|userspace_addr\|unknown\)"' \
		"$work/shared-null-uaddr.json" &&
		pass "userspace_addr = null: the serving is probed" ||
		fail "shared-null-uaddr host table: $(grep -o '"gmem_served_from": [^,]*' "$work/shared-null-uaddr.json")"
fi

# NO_DIRECT_MAP is never modelled: where the kernel lacks it, the run is
# refused with exit status 5 (unsupported) and the flag's name.
if grep -q "NO_DIRECT_MAP no" "$work/probe"; then
	"$gmemvm" run -q "$repo/configs/shared-no-direct-map.ini" >"$work/out" 2>&1
	[ $? -eq 5 ] && grep -q "lacks flag.*GUEST_MEMFD_FLAG_NO_DIRECT_MAP" "$work/out" &&
		pass "no_direct_map on a kernel without it: exit 5, the flag named" ||
		fail "no_direct_map refusal: $(cat "$work/out")"
fi

# The checks below drive modes shared, pkvm and coco-inplace, which need a
# guest_memfd the host can mmap (GUEST_MEMFD_FLAG_MMAP, Linux 6.18 and later).
if grep -q "MMAP (notes: SUPPORT_SHARED) yes" "$work/probe"; then
# A run that does not match its expectation must exit 1, not 0.
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set expect.exit=shutdown >"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "MISMATCH: outcome done, expected shutdown" "$work/out" &&
	pass "mismatched outcome exits 1" || fail "mismatch: $(cat "$work/out")"
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set expect.check1="0x200000 64K 0x5b" \
	>"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "MISMATCH: check1" "$work/out" && pass "wrong data check exits 1" ||
	fail "data check: $(cat "$work/out")"
# Every difference is named, in the summary and in the JSON, and a pattern
# check says which pattern the host found.
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set expect.exits.hlt=5 \
	--set expect.check1="0x200000 64K 0x5b" --report "$work/differences.json" >"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "MISMATCH: exits.hlt = 1, expected 5; check1: at 0x200000 the host reads pattern 0x5a, expected pattern 0x5b" "$work/out" &&
	grep -q '"mismatches": \["exits.hlt = 1, expected 5", "check1: ' "$work/differences.json" &&
	pass "a mismatch names every difference, patterns by name" ||
	fail "differences: $(cat "$work/out")"
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set steps.step2="verify 0x200000 64K 0x77" \
	>"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "guest-failed.*(vcpu 0: step 2 verify failed at 0x200000" "$work/out" &&
	pass "guest verify failure is reported with the guest's reason, also with --quiet" ||
	fail "guest failure: $(cat "$work/out")"
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set vm.timeout=100ms \
	--set steps.step5="pio 10000000" >"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "timeout" "$work/out" && pass "a guest that runs too long times out" ||
	fail "timeout: $(cat "$work/out")"
"$gmemvm" run --trace "$repo/configs/shared-basic.ini" >"$work/out" 2>&1
[ $? -eq 0 ] && grep -q "^\[vcpu 0\] mmio read 0xd0000000 size 8" "$work/out" &&
	grep -q "^\[vcpu 0\] hlt" "$work/out" && pass "--trace prints every exit" ||
	fail "trace: $(head -5 "$work/out")"

# A stop signal ends the run as a timeout does: the guest is stopped, the
# summary printed, the report written (outcome interrupted), exit 128 + N.
for signal in INT TERM HUP QUIT; do
	echo "earlier report" >"$work/signal.json"
	"$gmemvm" run "$repo/configs/shared-basic.ini" --set vm.timeout=300s \
		--set steps.step5="pio 10000000" --report "$work/signal.json" >"$work/out" 2>&1 &
	pid=$!
	sleep 2
	kill -s "$signal" "$pid"
	wait "$pid"
	status=$?
	[ "$status" -eq $((128 + $(kill -l "$signal"))) ] &&
		grep -q "interrupted by SIG$signal" "$work/out" &&
		grep -q '"outcome": "interrupted"' "$work/signal.json" &&
		pass "SIG$signal: the guest is stopped, the summary printed, the report written" ||
		fail "SIG$signal: status $status: $(cat "$work/out") $(head -c 300 "$work/signal.json")"
done

# Output that cannot be written is a failure (exit 4); an earlier report
# survives anything that does not complete a new one.
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --report /dev/full >"$work/out" 2>&1
[ $? -eq 4 ] && grep -q "cannot write report /dev/full" "$work/out" &&
	pass "a report that cannot be written exits 4" || fail "report to /dev/full: $(cat "$work/out")"
"$gmemvm" run -q "$repo/configs/shared-basic.ini" >/dev/full 2>"$work/err"
[ $? -eq 4 ] && grep -q "cannot write to standard output" "$work/err" &&
	pass "a summary that cannot be written exits 4" || fail "stdout to /dev/full: $(cat "$work/err")"
for bad in /proc/version "$work/no-such-directory/r.json"; do
	"$gmemvm" run -q "$repo/configs/shared-basic.ini" --report "$bad" >"$work/out" 2>&1
	[ $? -eq 2 ] && grep -q "cannot write report" "$work/out" &&
		pass "--report $bad is refused before the run (exit 2)" || fail "report $bad: $(cat "$work/out")"
done
cp "$repo/configs/shared-basic.ini" "$work/self.ini"
"$gmemvm" run -q "$work/self.ini" --report "$work/self.ini" >"$work/out" 2>&1
[ $? -eq 2 ] && cmp -s "$work/self.ini" "$repo/configs/shared-basic.ini" &&
	pass "--report naming the scenario file is refused, the file untouched" ||
	fail "report over scenario: $(cat "$work/out")"
echo "earlier report" >"$work/kept.json"
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set vm.guest=/nonexistent \
	--report "$work/kept.json" >/dev/null 2>&1
grep -qx "earlier report" "$work/kept.json" && [ -z "$(ls "$work" | grep 'kept.json.')" ] &&
	pass "a failed run leaves an earlier report and no temporary file" ||
	fail "kept report: $(cat "$work/kept.json")"
for i in 1 2 3; do
	"$gmemvm" run -q "$repo/configs/shared-basic.ini" --report "$work/shared.json" >/dev/null 2>&1 &
done
wait
[ "$(grep -c '"scenario"' "$work/shared.json")" -eq 1 ] && tail -n 1 "$work/shared.json" | grep -qx "}" &&
	pass "concurrent runs with one report file leave one whole report" ||
	fail "concurrent reports: $(head -c 300 "$work/shared.json")"

# --trace=LIST prints only what it names.
"$gmemvm" run --trace=conversions,hypercalls "$repo/configs/coco-inplace-stage2.ini" >"$work/out" 2>&1
[ $? -eq 0 ] && grep -q -- "-> convert private with KVM_SET_MEMORY_ATTRIBUTES2: done" "$work/out" &&
	! grep -q "^\[vcpu [0-9]*\] io write 0x3f8" "$work/out" &&
	! grep -q "^\[vcpu [0-9]*\] memory fault gpa" "$work/out" &&
	pass "--trace=conversions,hypercalls leaves out console bytes and faults" ||
	fail "trace filter: $(head -5 "$work/out")"
"$gmemvm" run --trace=bogus "$repo/configs/shared-basic.ini" >"$work/out" 2>&1
[ $? -eq 2 ] && grep -q "unknown 'bogus'" "$work/out" && pass "--trace=bogus is refused, named" ||
	fail "trace=bogus: $(cat "$work/out")"

# Resource limits: --trace volume is bounded, and a bad limit is refused.
"$gmemvm" run --trace --trace-limit 5 "$repo/configs/shared-basic.ini" >"$work/out" 2>&1
[ $? -eq 0 ] && [ "$(grep -c '^\[vcpu' "$work/out")" -eq 5 ] &&
	grep -q "^trace: limit of 5 lines reached" "$work/out" &&
	pass "--trace-limit bounds the trace" || fail "trace limit: $(grep -c '^\[vcpu' "$work/out") lines"
"$gmemvm" run --trace-limit 0 "$repo/configs/shared-basic.ini" >"$work/out" 2>"$work/err"
[ $? -eq 2 ] && grep -q "trace-limit '0'" "$work/err" && pass "a bad --trace-limit is refused" ||
	fail "bad trace limit: $(cat "$work/err")"

# --timeline: the picture is written after the run, under the sandbox, to a
# file opened before it; it counts what the scenario expects and has no '@'
# (lab/init.sh carries it over the serial console between markers).
picture=$work/timeline.svg
"$gmemvm" run -q --timeline "$picture" "$repo/configs/coco-inplace-stage2.ini" >"$work/out" 2>&1
status=$?
if [ "$status" -eq 0 ] && head -n 1 "$picture" | grep -q '^<?xml' &&
	[ "$(tail -n 1 "$picture")" = "</svg>" ] && ! grep -q '@' "$picture" &&
	grep -qE "memory faults 20, conversions 2[12] \(pages to private 20, to shared 2\)" "$picture" &&
	{ ! command -v rsvg-convert >/dev/null || rsvg-convert -o "$work/timeline.png" "$picture"; }; then
	pass "--timeline draws the run ($(wc -c <"$picture") bytes)"
else
	fail "--timeline: status $status: $(cat "$work/out") $(head -c 300 "$picture" 2>&1)"
fi
"$gmemvm" run -q --timeline /dev/full "$repo/configs/coco-inplace-stage2.ini" >"$work/out" 2>"$work/err"
status=$?
[ "$status" -eq 4 ] && grep -q "cannot write timeline /dev/full: No space left on device" "$work/err" &&
	pass "a --timeline that cannot be written fails the run: $(cat "$work/err")" ||
	fail "--timeline /dev/full: status $status: $(cat "$work/err")"
"$gmemvm" run -q --timeline "$work/no-such-dir/t.svg" "$repo/configs/shared-basic.ini" \
	>"$work/out" 2>"$work/err"
status=$?
[ "$status" -eq 2 ] && grep -q "cannot write timeline .*no-such-dir/t.svg" "$work/err" &&
	pass "a --timeline that cannot be opened is refused before the run" ||
	fail "--timeline into a missing directory: status $status: $(cat "$work/err")"

# --memmap: the memory map before the first vCPU and after the first
# conversion, from the run's own map; a refused set-up draws why there is none.
picture=$work/memmap.svg
"$gmemvm" run -q --memmap "$picture" "$repo/configs/coco-inplace-stage2.ini" >"$work/out" 2>&1
status=$?
if [ "$status" -eq 0 ] && head -n 1 "$picture" | grep -q '^<?xml' &&
	[ "$(tail -n 1 "$picture")" = "</svg>" ] && ! grep -q '@' "$picture" &&
	grep -q "Before the first vCPU runs" "$picture" &&
	grep -q "After the first conversion: vCPU 0&apos;s memory fault (modelled), 0x200000+0x1000 to private" "$picture" &&
	grep -q "KVM_MEM_GUEST_MEMFD at guest_memfd offset 0x200000" "$picture" &&
	{ ! command -v rsvg-convert >/dev/null || rsvg-convert -o "$work/memmap.png" "$picture"; }; then
	pass "--memmap draws the map before and after the first conversion ($(wc -c <"$picture") bytes)"
else
	fail "--memmap: status $status: $(cat "$work/out") $(head -c 300 "$picture" 2>&1)"
fi
"$gmemvm" run -q --memmap "$picture" "$repo/configs/pkvm-stage1.ini" >"$work/out" 2>&1
status=$?
[ "$status" -eq 0 ] && grep -q "No memory map: the set-up was refused" "$picture" &&
	pass "--memmap of a refused set-up says there is no map, and why" ||
	fail "--memmap refused: status $status: $(cat "$work/out") $(head -c 300 "$picture" 2>&1)"

# The sandbox: a forbidden call on either thread kills the run with SIGSYS,
# and the message names the call and the thread; --no-sandbox says so.
for thread in vcpu main; do
	GMEMVM_SANDBOX_SELFTEST=$thread "$gmemvm" run -q "$repo/configs/shared-basic.ini" \
		>"$work/out" 2>"$work/err"
	status=$?
	[ "$status" -eq $((128 + 31)) ] &&
		grep -q "forbidden system call socket ([0-9]*) on the $([ $thread = vcpu ] && echo "vCPU 0" || echo main) thread" "$work/err" &&
		pass "sandbox: a forbidden call on the $thread thread dies of SIGSYS, named" ||
		fail "sandbox $thread: status $status: $(cat "$work/err")"
done
"$gmemvm" run -q --no-sandbox "$repo/configs/shared-basic.ini" >"$work/out" 2>"$work/err"
[ $? -eq 0 ] && grep -q "running without seccomp filters" "$work/err" &&
	pass "--no-sandbox runs and says so" || fail "no-sandbox: $(cat "$work/err")"

# The model's memory faults and conversions are visible, and real.
"$gmemvm" run --trace "$repo/configs/coco-inplace-stage2.ini" >"$work/out" 2>&1
[ $? -eq 0 ] && grep -q "memory fault (modelled) gpa 0x200000 size 0x1000 -> convert private with KVM_SET_MEMORY_ATTRIBUTES2: done; map 0x200000+0x40000 \[PSSS" "$work/out" &&
	grep -Eq "(modelled|native): .*in-place conversion: KVM_SET_MEMORY_ATTRIBUTES2" "$work/out" &&
	pass "--trace shows each memory fault, its conversion and the region's map" ||
	fail "conversion trace: $(grep -m3 "memory fault" "$work/out")"
# A wrong expectation of a conversion count must be reported, not passed.
"$gmemvm" run -q "$repo/configs/coco-inplace-stage2.ini" --set expect.memory-faults=19 >"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "MISMATCH: memory-faults = 20, expected 19" "$work/out" &&
	pass "a wrong memory-fault count is a mismatch" || fail "fault count: $(cat "$work/out")"
"$gmemvm" run -q "$repo/configs/pkvm-stage2.ini" --set expect.check2="0x200000 8K sigbus" >"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "MISMATCH: check2: host read at 0x201000 succeeded" "$work/out" &&
	pass "a shared page that should SIGBUS is caught" || fail "sigbus check: $(cat "$work/out")"

else
	echo "skip: this kernel's guest_memfd cannot be mmap-ed; the checks of modes shared, pkvm and coco-inplace do not apply"
fi

# The report's timings are consistent, and say "never" honestly.
if ! command -v python3 >/dev/null; then
	echo "skip: report timings: python3 is not installed (the lab's initramfs has none)"
	skipped=$((skipped + 1))
else
times=$(python3 - "$work"/*.json <<'PY'
import json, sys
bad = []
for path in sys.argv[1:]:
    r = json.load(open(path))
    t, name = r["time_ms"], r["scenario"]
    if r["outcome"] == "done":
        phases = ("probed", "setup", "vcpu_thread", "sandboxed", "guest_entry", "guest_status",
                  "total")
        if (not 0 < t["probed"] or any(t[a] > t[b] for a, b in zip(phases, phases[1:]))
                or r["peak_resident_kib"] <= 0):
            bad.append("%s: %s, peak %s KiB" % (name, t, r["peak_resident_kib"]))
        cv = r["conversions"]
        if cv["by_fault"] + cv["by_hypercall"] > 0 and not (cv["host_ns"] > 0 and cv["window_ns"] > 0):
            bad.append("%s: conversions without host_ns/window_ns: %s" % (name, cv))
    elif r["outcome"] in ("refused", "cannot-run") and t["guest_entry"] != -1:
        bad.append("%s: %s, yet guest_entry %s" % (name, r["outcome"], t["guest_entry"]))
print("; ".join(bad))
PY
)
[ -z "$times" ] && pass "reports: start-up phases in order (probe, set-up, vCPU thread, sandbox, entry, status, total), peak memory, conversion timing; -1 where the guest never ran" ||
	fail "report timings: $times"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
