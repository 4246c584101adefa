#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The command line (vmm/main.c), no KVM needed: --version; the overview;
# COMMAND --help, COMMAND -h and help COMMAND for every command, naming every
# option of the command; usage errors that name the bad option or argument
# and where the help is (exit 2); check on the shipped scenarios (exit 0) and
# on each refused one (exit 2, the loader's error); list of configs/; and that
# the man page and the bash completion know every command, option and --set key.
#
# usage: cli.sh GMEMVM REPO_DIR
set -u
gmemvm=$1
repo=$2
source "$(dirname "$0")/lib.sh"
# call ARGS...: run gmemvm; $status, $work/out, $work/err
call() {
	"$gmemvm" "$@" >"$work/out" 2>"$work/err"
	status=$?
}

commands="probe run sandbox check list help"
declare -A options=(
	[probe]="--json --require --help -h"
	[run]="--set --trace --quiet --report --no-sandbox --trace-limit --timeline --memmap --help -s -t -q -r -h"
	[sandbox]="--help -h"
	[check]="--help -h"
	[list]="--help -h"
	[help]="--help -h"
)

# --version: the meson project version.
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$repo/meson.build" | head -n 1)
call --version
[ "$status" -eq 0 ] && [ "$(cat "$work/out")" = "gmemvm $version" ] && [ ! -s "$work/err" ] &&
	pass "--version: $(cat "$work/out")" ||
	fail "--version: status $status, '$(cat "$work/out")', want 'gmemvm $version'"

# The overview: every command, the exit statuses, GMEMVM_GUEST; on stdout.
for form in --help -h help; do
	call $form
	missing=""
	for word in $commands GMEMVM_GUEST "0  matched" "1  mismatch" "2  bad usage" \
		"3  host or KVM failure" "--version"; do
		grep -qF -- "$word" "$work/out" || missing+=" '$word'"
	done
	[ "$status" -eq 0 ] && [ -z "$missing" ] && [ ! -s "$work/err" ] &&
		pass "gmemvm $form: the overview" ||
		fail "gmemvm $form: status $status, missing:$missing; stderr: $(cat "$work/err")"
done

# Every command's usage, three ways, the same text naming every option.
for command in $commands; do
	call help "$command"
	cp "$work/out" "$work/help-$command"
	for form in "$command --help" "$command -h" "help $command"; do
		# shellcheck disable=SC2086 # the form is words
		call $form
		missing=""
		for option in ${options[$command]}; do
			grep -qE -- "(^|[ ,])$option([ ,=]|$)" "$work/out" || missing+=" $option"
		done
		if [ "$status" -eq 0 ] && [ -z "$missing" ] && [ ! -s "$work/err" ] &&
			grep -q "^usage: gmemvm $command" "$work/out" &&
			cmp -s "$work/out" "$work/help-$command"; then
			pass "gmemvm $form: usage with ${options[$command]}"
		else
			fail "gmemvm $form: status $status, options missing:$missing; $(head -n 3 "$work/out") $(cat "$work/err")"
		fi
	done
done

# Usage errors: exit 2, nothing on stdout, two lines on stderr: the first
# names what is wrong, the second where the help is.
# Each case: HINT-COMMAND|EXPECTED FIRST LINE|ARGS...
while IFS='|' read -r hint want args; do
	[ -z "$hint" ] && continue
	# shellcheck disable=SC2086 # args are words
	call $args
	if [ "$hint" = - ]; then help_line="(gmemvm --help)"; else help_line="(gmemvm $hint --help)"; fi
	first=$(sed -n 1p "$work/err")
	second=$(sed -n 2p "$work/err")
	if [ "$status" -eq 2 ] && [ ! -s "$work/out" ] && [ "$(wc -l <"$work/err")" -eq 2 ] &&
		[ "$first" = "$want" ] && [ "$second" = "$help_line" ]; then
		pass "gmemvm $args: $first"
	else
		fail "gmemvm $args: status $status, stderr '$(cat "$work/err")', want '$want' then '$help_line'"
	fi
done <<'EOF'
-|gmemvm: missing command (probe, run, sandbox, check, list or help)|
-|gmemvm: unknown command 'frobnicate'|frobnicate
-|gmemvm: unknown option '--bogus'|--bogus
-|gmemvm: unexpected argument 'extra' after --version|--version extra
probe|gmemvm: probe: unknown option '--bogus'|probe --bogus
probe|gmemvm: probe: option '--json' takes no argument|probe --json=yes
probe|gmemvm: probe: unexpected argument 'extra'|probe extra
probe|gmemvm: probe: --require: unknown feature 'bogus'|probe --require guest_memfd,bogus
probe|gmemvm: probe: --require: unknown feature ''|probe --require guest_memfd,,mmap
probe|gmemvm: probe: option '--require' needs an argument|probe --require
run|gmemvm: run: unknown option '--bogus'|run configs/shared-basic.ini --bogus
run|gmemvm: run: unknown option '-z'|run -z configs/shared-basic.ini
run|gmemvm: run: ambiguous option '--tr'|run --tr configs/shared-basic.ini
run|gmemvm: run: option '--set' needs an argument|run configs/shared-basic.ini --set
run|gmemvm: run: option '--no-sandbox' takes no argument|run configs/shared-basic.ini --no-sandbox=1
run|gmemvm: run: missing the scenario FILE.ini|run --trace
run|gmemvm: run: --timeline and --memmap name the same file 'x.svg'|run a.ini --timeline x.svg --memmap x.svg
run|gmemvm: run: unexpected argument 'b.ini' (one scenario a run)|run a.ini b.ini
run|gmemvm: run: --trace-limit '0': give a number of lines from 1 to 100000000|run a.ini --trace-limit 0
sandbox|gmemvm: sandbox: unknown option '--bogus'|sandbox --bogus
sandbox|gmemvm: sandbox: unexpected argument 'extra'|sandbox extra
check|gmemvm: check: unknown option '--bogus'|check --bogus configs/shared-basic.ini
check|gmemvm: check: missing FILE.ini (one or more scenario files)|check
list|gmemvm: list: unknown option '--bogus'|list --bogus
list|gmemvm: list: unexpected argument 'b' (one DIR)|list a b
help|gmemvm: help: unknown command 'frobnicate'|help frobnicate
help|gmemvm: help: unknown option '--bogus'|help --bogus
help|gmemvm: help: unexpected argument 'b' (one COMMAND)|help run b
EOF

# check: every shipped scenario is ok, one line each.
shopt -s nullglob
shipped=("$repo"/configs/*.ini)
call check "${shipped[@]}"
bad_lines=$(grep -cvE '^[^ ]+\.ini: ok \(mode [a-z-]+, stage [12], [0-9]+ steps?\)$' "$work/out")
[ "$status" -eq 0 ] && [ "$(wc -l <"$work/out")" -eq "${#shipped[@]}" ] && [ "$bad_lines" -eq 0 ] &&
	pass "check: all ${#shipped[@]} scenarios of configs/ are ok" ||
	fail "check configs/*.ini: status $status: $(grep -v ': ok (' "$work/out") $(cat "$work/err")"
call check "$repo/configs/shared-basic.ini"
[ "$(cat "$work/out")" = "$repo/configs/shared-basic.ini: ok (mode shared, stage 2, 4 steps)" ] &&
	pass "check: $(cat "$work/out")" || fail "check shared-basic.ini: '$(cat "$work/out")'"

# check: each refused scenario exits 2 and prints what run says of it.
for file in "$repo"/tests/bad-configs/*.ini; do
	call check "$file"
	line=$(cat "$work/out")
	"$gmemvm" run "$file" >/dev/null 2>"$work/run-err"
	if [ "$status" -eq 2 ] && [ "$(wc -l <"$work/out")" -eq 1 ] &&
		[ "gmemvm: $line" = "$(cat "$work/run-err")" ]; then
		pass "check refuses $(basename "$file"): ${line#"$file: "}"
	else
		fail "check $(basename "$file"): status $status, '$line', run says '$(cat "$work/run-err")'"
	fi
done
call check "$repo/configs/shared-basic.ini" "$repo/tests/bad-configs/bad-mode.ini" "$work/missing.ini"
grep -q "shared-basic.ini: ok" "$work/out" && grep -q "missing.ini: cannot read" "$work/out" &&
	[ "$status" -eq 2 ] && [ "$(wc -l <"$work/out")" -eq 3 ] &&
	pass "check: one bad file of three makes exit 2, every file is reported" ||
	fail "check of mixed files: status $status: $(cat "$work/out")"

# list configs: every shipped scenario, sorted by file name, none invalid.
call list "$repo/configs"
want=$(for file in "${shipped[@]}"; do
	name=$(sed -n 's/^name *= *\([^ ;#]*\).*/\1/p' "$file" | head -n 1)
	echo "${name:-$(basename "$file" .ini)}"
done)
if [ "$status" -eq 0 ] && [ "$(awk '{print $1}' "$work/out")" = "$want" ] &&
	! grep -q "(invalid" "$work/out" && [ "$(grep -c ' stage [12]' "$work/out")" -eq "${#shipped[@]}" ]; then
	pass "list configs: ${#shipped[@]} scenarios"
else
	fail "list configs: status $status: $(cat "$work/out") $(cat "$work/err")"
fi
description=$(sed -n 's/^description *= *//p' "$repo/configs/shared-basic.ini")
grep -qxE "shared-basic +shared +stage 2  ${description//[^a-zA-Z0-9 ]/.}" "$work/out" &&
	pass "list: $(grep '^shared-basic ' "$work/out")" ||
	fail "list: no 'shared-basic  shared  stage 2  $description' line"
# From the source tree, with no DIR: the installed scenarios or ./configs.
(cd "$repo" && "$gmemvm" list >"$work/out" 2>"$work/err")
[ $? -eq 0 ] && [ -s "$work/out" ] && pass "list without DIR: $(wc -l <"$work/out") scenarios" ||
	fail "list without DIR: $(cat "$work/err")"
# A directory with a scenario, a refused one and other files.
mkdir "$work/dir"
cp "$repo/configs/shared-basic.ini" "$work/dir/b.ini"
cp "$repo/tests/bad-configs/bad-mode.ini" "$work/dir/a.ini"
touch "$work/dir/notes.txt" "$work/dir/.hidden.ini"
call list "$work/dir"
[ "$status" -eq 0 ] && [ "$(wc -l <"$work/out")" -eq 2 ] &&
	grep -qE '^a +\(invalid: \[vm\] mode: ' "$work/out" && sed -n 2p "$work/out" | grep -q '^shared-basic ' &&
	pass "list: a refused file is listed as invalid: $(head -n 1 "$work/out")" ||
	fail "list with a refused file: status $status: $(cat "$work/out") $(cat "$work/err")"
call list "$work/no-such-dir"
[ "$status" -eq 2 ] && grep -q "^gmemvm: list: cannot read .*no-such-dir: No such file" "$work/err" &&
	pass "list: $(cat "$work/err")" || fail "list of a missing DIR: status $status, $(cat "$work/err")"

# The man page and the completion know every command and every long option
# that the command's usage lists (so an option added there must be added here).
man_page=$repo/doc/gmemvm.1
completion=$repo/doc/gmemvm.bash-completion
missing=""
for command in $commands; do
	listed=$(grep -oE -- '^ {2,6}(-[a-z], )?--[a-z-]+' "$work/help-$command" | grep -oE -- '--[a-z-]+')
	for option in ${options[$command]} $listed "$command"; do
		[[ $option == --* || $option == "$command" ]] || continue
		grep -qF -- "${option//-/\\-}" "$man_page" || missing+=" doc/gmemvm.1:$command:$option"
		grep -qE -- "(^|[ \"])$option( |\"|\)|$)" "$completion" ||
			missing+=" completion:$command:$option"
	done
done
grep -qF GMEMVM_GUEST "$man_page" || missing+=" doc/gmemvm.1:GMEMVM_GUEST"
grep -qF "EXIT STATUS" "$man_page" || missing+=" doc/gmemvm.1:EXIT-STATUS"
[ -z "$missing" ] && pass "the man page and the completion name every command and option" ||
	fail "missing:$missing"
if command -v groff >/dev/null; then
	warnings=$(groff -man -Tutf8 -ww -z "$man_page" 2>&1)
	[ -z "$warnings" ] && pass "groff: the man page has no warnings" || fail "groff: $warnings"
fi

# The completion, driven as bash drives it.
# complete LINE: the candidates for the end of LINE, space-separated
complete_line() {
	bash -c 'source "$1"; COMP_LINE=$2; COMP_POINT=${#2}; _gmemvm; echo "${COMPREPLY[*]}"' \
		complete "$completion" "$1" 2>/dev/null
}
while IFS='|' read -r line want; do
	[ -z "$line" ] && continue
	got=$(complete_line "$line")
	[ "$got" = "$want" ] && pass "completion of '$line': $got" ||
		fail "completion of '$line': '$got', want '$want'"
done <<'EOF'
gmemvm pr|probe
gmemvm --v|--version
gmemvm probe --|--json --require --help
gmemvm run x.ini --no|--no-sandbox
gmemvm run x.ini --set vm.mo|vm.mode=
gmemvm run x.ini -s gmem.u|gmem.userspace_addr=
gmemvm run x.ini --set vm.mode=coco|coco-legacy coco-inplace
gmemvm run x.ini --set gmem.flags=mmap,init_s|mmap,init_shared
gmemvm run x.ini --set expect.exits.ma|expect.exits.map-gpa-range=
gmemvm run x.ini --set steps.step6|steps.step6= steps.step60= steps.step61= steps.step62= steps.step63= steps.step64=
gmemvm help ch|check
EOF
# Every SECTION.KEY the completion offers is one the loader knows: with a
# bad value it is refused for its value, never as an unknown key. (The last
# --set makes the file invalid whatever the first one does.)
keys=$(bash -c 'source "$1"; _gmemvm_set_keys' complete "$completion")
unknown=""
count=0
for key in $keys; do
	count=$((count + 1))
	"$gmemvm" run "$repo/configs/shared-basic.ini" --set "${key}@@" --set vm.memory=1M \
		>/dev/null 2>"$work/err"
	status=$?
	if [ "$status" -ne 2 ] || grep -qE "unknown (key|section)" "$work/err"; then
		unknown+=" $key($status: $(cat "$work/err"))"
	fi
done
for key in scenario.name vm.mode vm.stage vm.memory vm.vcpus vm.guest vm.timeout gmem.flags \
	gmem.userspace_addr steps.step1 expect.exit expect.check16 expect.conversions.to-shared; do
	[[ " $keys " == *" $key= "* ]] || unknown+=" missing:$key"
done
[ -z "$unknown" ] && pass "completion: all $count --set keys are keys of the loader" ||
	fail "completion keys:$unknown"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
