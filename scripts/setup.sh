# Sourced by scripts/demo and scripts/test: install what gmemvm needs (as
# root, from Debian's packages) and build it with meson into build/.
set -eu
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
packages="meson ninja-build gcc libc6-dev pkg-config libfdt-dev libiniparser-dev libseccomp-dev libcmocka-dev device-tree-compiler valgrind strace librsvg2-bin"

install_packages() {
	local missing=""
	for package in $packages "$@"; do
		dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "gmemvm: missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
		exit 3
	fi
	echo "installing:$missing" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

# build DIR [meson options...]
build() {
	local dir=$1
	shift
	local log
	log=$(mktemp)
	if [ -f "$repo/$dir/build.ninja" ]; then
		meson configure "$repo/$dir" "$@" >"$log" 2>&1
	else
		meson setup "$repo/$dir" "$repo" "$@" >"$log" 2>&1
	fi && ninja -C "$repo/$dir" >>"$log" 2>&1 || {
		cat "$log" >&2
		echo "gmemvm: the build in $dir failed (output above)" >&2
		rm -f "$log"
		exit 1
	}
	rm -f "$log"
}
