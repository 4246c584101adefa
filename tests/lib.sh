# SPDX-License-Identifier: MIT
# What the shell tests share: a work directory removed on exit, and pass/fail
# counters that the test reports at its end (source this file).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() {
	passed=$((passed + 1))
	echo "ok: $*"
}
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*"
}
