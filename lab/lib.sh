# Sourced by scripts/lab (and tests/lab.sh): the parts of the lab's set-up
# that read the machine, as functions that print their answer on stdout and
# every message on stderr, so a caller can capture the answer alone.

# lab_debian_mirror FILE...: the Debian mirror the system's apt already uses,
# from active sources only (comments never count): the first URI of a
# deb822 stanza (Types: deb, not Enabled: no) or of a one-line "deb" entry
# whose suite is this release's own (bookworm, bookworm-updates ...), not
# its security suite. Prints nothing and returns 1 if there is none.
# lab_debian_security_mirror FILE...: the same for the security suite.
lab_debian_mirror() {
	lab_find_mirror 0 "$@"
}

lab_debian_security_mirror() {
	lab_find_mirror 1 "$@"
}

lab_codename() {
	local codename
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	echo "${LAB_CODENAME:-$codename}"
}

lab_find_mirror() {
	local security=$1
	shift
	awk -v codename="$(lab_codename)" -v security="$security" '
		function consider(uri, suites,    n, i, list) {
			if (found || uri == "")
				return
			n = split(suites, list, /[ \t]+/)
			for (i = 1; i <= n; i++)
				if (list[i] != "" && (list[i] ~ /security/) == (security == 1) &&
				    (codename == "" || list[i] == codename || index(list[i], codename "-") == 1)) {
					sub(/\/+$/, "", uri)
					print uri
					found = 1
					return
				}
		}
		function end_stanza() {
			if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no")
				consider(uris, suites)
			types = uris = suites = enabled = ""
		}
		FNR == 1 { end_stanza() }
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { end_stanza(); next }
		/^deb[ \t]/ {
			# one-line format: deb [options] URI SUITE COMPONENTS...
			line = $0
			sub(/^deb[ \t]+/, "", line)
			if (line ~ /^\[/)
				sub(/^\[[^]]*\][ \t]*/, "", line)
			split(line, word, /[ \t]+/)
			consider(word[1], word[2])
			next
		}
		tolower($1) == "types:" { types = $0; sub(/^[^:]*:[ \t]*/, "", types); next }
		tolower($1) == "uris:" { uris = $2; next }
		tolower($1) == "suites:" { suites = $0; sub(/^[^:]*:[ \t]*/, "", suites); next }
		tolower($1) == "enabled:" { enabled = tolower($2); next }
		END { end_stanza(); exit found ? 0 : 1 }
	' "$@"
}

# lab_apt_sources_files: the files apt reads its sources from, that exist.
lab_apt_sources_files() {
	local file
	for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$file" ] && echo "$file"
	done
	return 0
}
