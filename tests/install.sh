#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# meson install, and the installed gmemvm on its own: a fresh build of the
# source tree (-Dtests=false) with a temporary prefix, meson install, the
# build directory deleted (so nothing can fall back to it); then every file
# in its place, --version, help, check of every installed scenario, list
# without DIR (the installed scenarios), and the installed guest found: a run
# of an installed scenario where /dev/kvm exists, else a run that gets past
# loading the guest and stops at /dev/kvm. The same again after the prefix
# has moved, since the program finds its files relative to itself.
#
# usage: install.sh REPO_DIR [MESON]
set -u
repo=$1
meson=${2:-meson}
source "$(dirname "$0")/lib.sh"
# The installed program must find its own guest, not one named here.
unset GMEMVM_GUEST

build=$work/build
prefix=$work/prefix
started=$SECONDS
if ! "$meson" setup "$build" "$repo" -Dtests=false --prefix="$prefix" >"$work/log" 2>&1 ||
	! "$meson" compile -C "$build" >>"$work/log" 2>&1 ||
	! "$meson" install -C "$build" >>"$work/log" 2>&1; then
	cat "$work/log"
	fail "meson setup, compile or install"
	echo "$passed passed, $failed failed"
	exit 1
fi
pass "built and installed into a temporary prefix in $((SECONDS - started)) s"
rm -rf "$build"
[ ! -e "$build" ] && pass "the build directory is deleted" || fail "the build directory is still there"

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$repo/meson.build" | head -n 1)
shopt -s nullglob
shipped=()
for file in "$repo"/configs/*.ini; do shipped+=("$(basename "$file")"); done

# check_tree PREFIX: everything installed there, and the program works from it.
check_tree() {
	local prefix=$1 where=$2
	local gmemvm=$prefix/bin/gmemvm
	local configs=$prefix/share/gmemvm/configs
	local missing=""
	local file
	[ -x "$gmemvm" ] || missing+=" bin/gmemvm"
	[ -f "$prefix/libexec/gmemvm/gmemvm-guest.elf" ] || missing+=" libexec/gmemvm/gmemvm-guest.elf"
	[ -f "$prefix/share/man/man1/gmemvm.1" ] || missing+=" share/man/man1/gmemvm.1"
	[ -f "$prefix/share/bash-completion/completions/gmemvm" ] ||
		missing+=" share/bash-completion/completions/gmemvm"
	for file in "${shipped[@]}"; do
		[ -f "$configs/$file" ] || missing+=" share/gmemvm/configs/$file"
	done
	[ -z "$missing" ] && pass "$where: installed: gmemvm, its guest, ${#shipped[@]} scenarios, man page, completion" ||
		fail "$where: not installed:$missing"
	[ -x "$gmemvm" ] || return

	local out status
	out=$("$gmemvm" --version 2>&1)
	[ "$out" = "gmemvm $version" ] && pass "$where: $out" || fail "$where: --version: '$out'"
	"$gmemvm" help >"$work/out" 2>&1
	[ $? -eq 0 ] && grep -q "GMEMVM_GUEST" "$work/out" && pass "$where: help" ||
		fail "$where: help: $(cat "$work/out")"

	local installed=("$configs"/*.ini)
	"$gmemvm" check "${installed[@]}" >"$work/out" 2>&1
	status=$?
	[ "$status" -eq 0 ] && [ "$(grep -c ': ok (mode ' "$work/out")" -eq "${#shipped[@]}" ] &&
		pass "$where: check: all ${#installed[@]} installed scenarios are ok" ||
		fail "$where: check: status $status: $(grep -v ': ok (' "$work/out")"

	# list with no DIR, from a directory without configs/: the installed ones.
	(cd "$work" && "$gmemvm" list) >"$work/out" 2>&1
	status=$?
	[ "$status" -eq 0 ] && [ "$(wc -l <"$work/out")" -eq "${#shipped[@]}" ] &&
		! grep -q "(invalid" "$work/out" && grep -q "^shared-basic " "$work/out" &&
		pass "$where: list: the ${#shipped[@]} installed scenarios" ||
		fail "$where: list: status $status: $(cat "$work/out")"

	bash -n "$prefix/share/bash-completion/completions/gmemvm" &&
		pass "$where: the completion is bash" || fail "$where: the completion does not parse"

	# The installed guest: the build directory's is gone, GMEMVM_GUEST unset.
	"$gmemvm" run --quiet "$configs/shared-basic.ini" >"$work/out" 2>&1
	status=$?
	if [ "$status" -eq 5 ] && [ -e /dev/kvm ]; then
		# A KVM without what shared-basic needs: refused after the guest
		# was found and parsed (a missing guest is status 2).
		echo "skip: running an installed scenario: $(cat "$work/out")"
		grep -q "this kernel.* lacks" "$work/out" && ! grep -q "guest ELF\|gmemvm-guest" "$work/out" &&
			pass "$where: run finds the installed guest and stops at what the kernel lacks" ||
			fail "$where: run on a kernel that lacks a feature: $(cat "$work/out")"
	elif [ -e /dev/kvm ]; then
		[ "$status" -eq 0 ] && pass "$where: run shared-basic.ini: $(tail -n 1 "$work/out")" ||
			fail "$where: run shared-basic.ini: status $status: $(cat "$work/out")"
	else
		echo "skip: running an installed scenario needs /dev/kvm"
		# The guest is read and parsed before KVM is opened (vm.c,
		# prepare_guest): a missing guest is status 2, /dev/kvm status 5.
		[ "$status" -eq 5 ] && grep -q "/dev/kvm" "$work/out" && ! grep -q "guest" "$work/out" &&
			pass "$where: run finds the installed guest and stops at /dev/kvm" ||
			fail "$where: run without /dev/kvm: status $status: $(cat "$work/out")"
	fi
}

check_tree "$prefix" "installed"
if mv "$prefix" "$work/moved"; then
	check_tree "$work/moved" "moved"
else
	fail "cannot move the prefix"
fi

echo "$passed passed, $failed failed in $((SECONDS - started)) s"
[ "$failed" -eq 0 ]
