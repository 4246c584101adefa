#!/usr/bin/env bash
# Fault injection (docs/hardening.md): make the N-th kernel call at each site of the
# conversion path fail (remap: mmap of a view, state: growing the state,
# punch: fallocate, memslot: KVM_SET_USER_MEMORY_REGION2 of a view,
# attributes: KVM_SET_MEMORY_ATTRIBUTES, kvm_run: KVM_RUN) in the test build of gmemvm, and require
# a clean stop every time: a named operation with its errno, exit status 1
# (mid-run) or 3 (set-up), never a crash, and the checker's verdict that the
# shareability state, the memslots and every view still agree.
# usage: faults.sh GMEMVM-FAULT-INJECTION REPO_DIR
set -u
gmemvm=$1
repo=$2
[ -e /dev/kvm ] || { echo "skipped: /dev/kvm is missing, so no run can fail mid-way here"; exit 77; }
lacks=$("$gmemvm" probe --require guests-run,guest_memfd 2>&1)
case $? in
0) ;;
5) echo "skipped: ${lacks#gmemvm: }"; exit 77 ;;
*) echo "FAIL probe --require: $lacks"; exit 1 ;;
esac
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
clean_stops=0

inject() { # scenario site n -> 0 when the run did not reach that call
	local scenario=$1 site=$2 n=$3 status
	rm -f "$work/report.json"
	GMEMVM_FAULT_INJECT="$site:$n" "$gmemvm" run "$repo/configs/$scenario.ini" \
		--report "$work/report.json" >"$work/out" 2>"$work/err"
	status=$?
	case $status in
	0) return 0 ;;
	1)
		if grep -q '^vmm-error: .*\(failed in .*: \|KVM_RUN failed on vCPU\)' "$work/out" &&
			grep -q '"outcome": "vmm-error"' "$work/report.json" &&
			grep -q '"consistent": true' "$work/report.json"; then
			passed=$((passed + 1))
			clean_stops=$((clean_stops + 1))
		else
			failed=$((failed + 1))
			echo "FAIL $scenario $site:$n: no clean stop: $(grep -m1 '^[a-z-]*: ' "$work/out")"
		fi ;;
	3)
		if [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "failed" "$work/err"; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			echo "FAIL $scenario $site:$n: set-up failure without one clear line: $(cat "$work/err")"
		fi ;;
	*)
		failed=$((failed + 1))
		echo "FAIL $scenario $site:$n: exit status $status (crash?): $(tail -3 "$work/err")" ;;
	esac
	return 1
}

for scenario in coco-inplace-stage2 coco-legacy-stage1 pkvm-stage2 shared-stage2-convert \
	coco-inplace-discard; do
	"$gmemvm" run -q "$repo/configs/$scenario.ini" >"$work/out" 2>"$work/err"
	if [ $? -eq 5 ] && grep -q "this kernel.* lacks" "$work/err"; then
		echo "skip $scenario on this kernel: $(cat "$work/err")"
		continue
	fi
	before=$clean_stops
	for site in remap state punch memslot attributes; do
		for n in 1 2 3 4 5 6 8 10 12 16 20 24 32 40 48 64 80 96; do
			inject "$scenario" "$site" "$n" || continue
			break # the run never reached an N-th call at this site
		done
	done
	for n in 1 50 400; do
		inject "$scenario" kvm_run "$n"
	done
	echo "ok   $scenario: $((clean_stops - before)) injected failures stopped cleanly and consistently"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$clean_stops" -gt 0 ]
