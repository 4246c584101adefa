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
	if [ "$status" -eq 3 ] && grep -q "this kernel.* lacks" "$work/out"; then
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

grep -q '"private_gmem_mmap": "No such device"' "$work/coco-legacy-stage1.json" &&
	pass "coco-legacy: the kernel refuses to mmap the private guest_memfd (ENODEV)" ||
	fail "coco-legacy mmap: $(grep private_gmem_mmap "$work/coco-legacy-stage1.json")"
inconsistent=$(grep -L '"consistent": true' "$work"/*.json || true)
[ -z "$inconsistent" ] && pass "the checker found state, memslots and views consistent after every run" ||
	fail "inconsistent runs: $inconsistent"

# NO_DIRECT_MAP is never modelled: where the kernel lacks it, the run is
# refused with exit status 3 and the flag's name.
if grep -q "NO_DIRECT_MAP no" "$work/probe"; then
	"$gmemvm" run -q "$repo/configs/shared-no-direct-map.ini" >"$work/out" 2>&1
	[ $? -eq 3 ] && grep -q "lacks flag.*GUEST_MEMFD_FLAG_NO_DIRECT_MAP" "$work/out" &&
		pass "no_direct_map on a kernel without it: exit 3, the flag named" ||
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
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set steps.step2="verify 0x200000 64K 0x77" \
	>"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "guest-failed" "$work/out" && pass "guest verify failure is reported" ||
	fail "guest failure: $(cat "$work/out")"
"$gmemvm" run -q "$repo/configs/shared-basic.ini" --set vm.timeout=100ms \
	--set steps.step5="pio 10000000" >"$work/out" 2>&1
[ $? -eq 1 ] && grep -q "timeout" "$work/out" && pass "a guest that runs too long times out" ||
	fail "timeout: $(cat "$work/out")"
"$gmemvm" run --trace "$repo/configs/shared-basic.ini" >"$work/out" 2>&1
[ $? -eq 0 ] && grep -q "^\[vcpu 0\] mmio read 0xd0000000 size 8" "$work/out" &&
	grep -q "^\[vcpu 0\] hlt" "$work/out" && pass "--trace prints every exit" ||
	fail "trace: $(head -5 "$work/out")"

# Resource limits: --trace volume is bounded, and a bad limit is refused.
"$gmemvm" run --trace --trace-limit 5 "$repo/configs/shared-basic.ini" >"$work/out" 2>&1
[ $? -eq 0 ] && [ "$(grep -c '^\[vcpu' "$work/out")" -eq 5 ] &&
	grep -q "^trace: limit of 5 lines reached" "$work/out" &&
	pass "--trace-limit bounds the trace" || fail "trace limit: $(grep -c '^\[vcpu' "$work/out") lines"
"$gmemvm" run --trace-limit 0 "$repo/configs/shared-basic.ini" >"$work/out" 2>"$work/err"
[ $? -eq 2 ] && grep -q "trace-limit 0" "$work/err" && pass "a bad --trace-limit is refused" ||
	fail "bad trace limit: $(cat "$work/err")"

# The sandbox: a forbidden call on either thread kills the run with SIGSYS,
# and the message names the call and the thread; --no-sandbox says so.
for thread in vcpu main; do
	GMEMVM_SANDBOX_SELFTEST=$thread "$gmemvm" run -q "$repo/configs/shared-basic.ini" \
		>"$work/out" 2>"$work/err"
	status=$?
	[ "$status" -eq $((128 + 31)) ] &&
		grep -q "forbidden system call socket (41) on the $([ $thread = vcpu ] && echo "vCPU 0" || echo main) thread" "$work/err" &&
		pass "sandbox: a forbidden call on the $thread thread dies of SIGSYS, named" ||
		fail "sandbox $thread: status $status: $(cat "$work/err")"
done
"$gmemvm" run -q --no-sandbox "$repo/configs/shared-basic.ini" >"$work/out" 2>"$work/err"
[ $? -eq 0 ] && grep -q "running without seccomp filters" "$work/err" &&
	pass "--no-sandbox runs and says so" || fail "no-sandbox: $(cat "$work/err")"

# Issue 3: the model's memory faults and conversions are visible, and real.
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

# Issue 5: the report's timings are consistent, and say "never" honestly.
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
        if not 0 < t["guest_entry"] <= t["guest_status"] <= t["total"] or r["peak_resident_kib"] <= 0:
            bad.append("%s: %s, peak %s KiB" % (name, t, r["peak_resident_kib"]))
        cv = r["conversions"]
        if cv["by_fault"] + cv["by_hypercall"] > 0 and not (cv["host_ns"] > 0 and cv["window_ns"] > 0):
            bad.append("%s: conversions without host_ns/window_ns: %s" % (name, cv))
    elif r["outcome"] in ("refused", "cannot-run") and t["guest_entry"] != -1:
        bad.append("%s: %s, yet guest_entry %s" % (name, r["outcome"], t["guest_entry"]))
print("; ".join(bad))
PY
)
[ -z "$times" ] && pass "reports: entry <= status <= total, peak memory, conversion timing; -1 where the guest never ran" ||
	fail "report timings: $times"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
