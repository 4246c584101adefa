#!/bin/sh
# The vCPU storms in one gmemvm build (the lab runs the ASan/UBSan one): each
# must end as its [expect] says; a kernel that cannot run the mode (a
# guest_memfd without the flags, exit 3 "cannot run") skips it, saying so.
# usage: storms.sh GMEMVM CONFIG...
gmemvm=$1
shift
failed=0
for config in "$@"; do
	if out=$("$gmemvm" run --quiet "$config" 2>&1); then
		echo "$out"
	elif [ $? -eq 3 ] && echo "$out" | grep -q "lacks flag"; then
		echo "skipped on this kernel: $(basename "$config"): $out"
	else
		echo "$out"
		echo "FAIL $(basename "$config")"
		failed=1
	fi
done
exit $failed
