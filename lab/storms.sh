#!/bin/sh
# The vCPU storms in one gmemvm build (the lab runs the ASan/UBSan one): each
# must end as its [expect] says; a kernel that cannot run the mode (exit
# status 5, unsupported: it lacks a feature, named) skips it, saying so.
# Exit 77 (skipped) when no storm could run here.
# usage: storms.sh GMEMVM CONFIG...
gmemvm=$1
shift
failed=0
ran=0
for config in "$@"; do
	if out=$("$gmemvm" run --quiet "$config" 2>&1); then
		echo "$out"
		ran=1
	elif [ $? -eq 5 ]; then
		echo "skipped: $(basename "$config"): $out"
	else
		echo "$out"
		echo "FAIL $(basename "$config")"
		failed=1
		ran=1
	fi
done
[ "$failed" -eq 0 ] && [ "$ran" -eq 0 ] && exit 77
exit $failed
