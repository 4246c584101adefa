#!/usr/bin/env bash
# memcheck over real runs: no invalid access, no definite or indirect leak,
# for every scenario in configs/ (vCPU threads, KVM exits and refusals alike).
# With --no-sandbox: valgrind does not implement seccomp(2) (syscall 317),
# so it cannot run a program that installs filters; the sandbox is tested by
# tests/scenarios.sh in both builds.
# usage: valgrind.sh GMEMVM REPO_DIR
set -u
gmemvm=$1
repo=$2
if ! command -v valgrind >/dev/null; then
	echo "valgrind is missing: apt-get install valgrind" >&2
	exit 1
fi
if [ ! -e /dev/kvm ]; then
	echo "skipped: /dev/kvm is missing, so the scenarios cannot run under valgrind here"
	exit 77
fi
lacks=$("$gmemvm" probe --require guests-run,guest_memfd 2>&1)
case $? in
0) ;;
5) echo "skipped: ${lacks#gmemvm: }"; exit 77 ;;
*) echo "FAIL probe --require: $lacks"; exit 1 ;;
esac
passed=0
failed=0
for file in "$repo"/configs/*.ini; do
	valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		-q "$gmemvm" run -q --no-sandbox "$file" >/tmp/gmemvm-valgrind.$$ 2>&1
	status=$?
	if [ "$status" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   valgrind $(basename "$file")"
	elif [ "$status" -eq 5 ]; then
		# refused before anything ran: this kernel lacks a feature it needs
		echo "skip valgrind $(basename "$file"): $(tail -n 1 /tmp/gmemvm-valgrind.$$)"
	else
		failed=$((failed + 1))
		echo "FAIL valgrind $(basename "$file")"
		cat /tmp/gmemvm-valgrind.$$
	fi
done
rm -f /tmp/gmemvm-valgrind.$$
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
