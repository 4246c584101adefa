#!/usr/bin/env bash
# Docs that cannot go stale silently: every function README.md and docs/
# cite as NAME() must exist in the code (a definition or a call in vmm/,
# guest/, bench/, fuzz/, include/, tests/ or lab/), so a rename fails here.
# usage: docs.sh REPO_DIR
set -u
repo=$1
source "$repo/tests/lib.sh"
cd "$repo" || exit 1
names=$(grep -ohE '\b[a-z][a-z0-9]*_[a-z0-9_]+\(\)' README.md docs/*.md | tr -d '()' | sort -u)
[ -n "$names" ] || fail "no function names found in the docs (the pattern is wrong)"
for name in $names; do
	if grep -rqE "\b$name[[:space:]]*\(" vmm guest bench fuzz include tests lab --include='*.[chS]' --include='*.py' --include='*.sh'; then
		pass "$name() exists"
	else
		fail "$name() is cited in $(grep -lE "\b$name\(\)" README.md docs/*.md | tr '\n' ' ')but is not in the code"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
