#!/usr/bin/env bash
# The answers of docs/exercises.md stay true: every answer there is a
# command whose --set expect.... overrides state the counts and checks, so
# each must end as it says (exit 0). An answer this kernel cannot run (exit
# status 5, it lacks a feature) is skipped, saying so; when none can run,
# exit 77 (meson's skip).
# usage: exercises.sh GMEMVM REPO_DIR
set -u
gmemvm=$1
repo=$2
source "$repo/tests/lib.sh"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
cd "$repo" || exit 1
# An answer is the indented command after a line "Answer: ...". (Through a
# file: the lab's initramfs has no /dev/fd for a process substitution.)
awk '/^Answer:/ { answer = 1 } answer && /^    gmemvm run / { sub(/^    gmemvm run /, ""); print; answer = 0 }' \
	docs/exercises.md >"$work/answers"
answers=()
mapfile -t answers <"$work/answers"
if [ "${#answers[@]}" -ne 5 ]; then
	echo "FAIL: docs/exercises.md has ${#answers[@]} answers, not 5"
	exit 1
fi
skipped=0
for i in "${!answers[@]}"; do
	eval "arguments=(${answers[$i]})"
	"$gmemvm" run --quiet "${arguments[@]}" >"$work/out" 2>&1
	status=$?
	case $status in
	0) pass "exercise $((i + 1)): $(tail -n 1 "$work/out")" ;;
	5) skipped=$((skipped + 1)); echo "skip exercise $((i + 1)): $(tail -n 1 "$work/out")" ;;
	*) fail "exercise $((i + 1)) (status $status): $(cat "$work/out")" ;;
	esac
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 0 ] || { echo "skipped: no exercise can run on this kernel"; exit 77; }
