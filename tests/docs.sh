#!/usr/bin/env bash
# Docs that cannot go stale silently: every function README.md and docs/
# cite as NAME() must exist in the code (a definition or a call in vmm/,
# guest/, bench/, fuzz/, include/, tests/ or lab/), so a rename fails here;
# and every output they quote must be what the code prints now
# (scripts/docs --check --static: gmemvm's own commands, and the
# walkthroughs' trace lines against the code's formats; the lab's runs are
# compared by the lab itself, since build/lab may hold an older run).
# usage: docs.sh REPO_DIR GMEMVM
set -u
repo=$1
gmemvm=$2
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
if GMEMVM=$gmemvm python3 "$repo/scripts/docs" --check --static >"$work/docs" 2>&1; then
	pass "scripts/docs --check: the quoted outputs are what the code prints"
	sed 's/^/    /' "$work/docs"
else
	fail "scripts/docs --check:"
	sed 's/^/    /' "$work/docs"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
