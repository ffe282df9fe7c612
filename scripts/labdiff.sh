#!/usr/bin/env bash
# labdiff.sh [LAB...] [--write]
#
# Prints what each lab adds to the one before it (every lab by default; LAB is 5, 05 or
# 05-overlay), in two parts. First, a unified diff of the previous lab's main.go and the
# lab's own: the steps. Second, the library code the lab teaches, the regions of labs/
# marked `// lab:NN` for it, each shown as added to its function: the system calls behind
# the steps (pivot_root, a cgroup file written, an iptables rule). Lab 01 has only the
# second part. Noise is left out: the previous lab's name is read as this lab's (usage text
# and messages name the program), and the starter kit's markers and starter code are
# dropped. --write stores each as docs/diffs/NN-name.diff, the files the walkthroughs link
# to; the test suite checks that they are current.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

write=0 wanted=()
for arg in "$@"; do
	case "$arg" in
	--write) write=1 ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $arg" ;;
	*) wanted+=("$arg") ;;
	esac
done

# lesson FILE [LAB]: FILE without the starter kit's markers and starter code, and, when LAB
# is given, without the regions of that lab: the code as it was before the lab.
lesson() {
	awk -v lab="${2:-}" '
		/^[ \t]*\/\/ lab:[0-9][0-9] begin/ { n = $0; sub(/.*lab:/, "", n); if (substr(n, 1, 2) == lab) drop = 1; next }
		/^[ \t]*\/\/ lab:[0-9][0-9] starter:/ { skip = 1; next }
		/^[ \t]*\/\/ lab:[0-9][0-9] end/ { skip = 0; drop = 0; next }
		!skip && !drop { print }
	' "$1"
}

# steps PREV LAB: the diff of the two labs' main.go, PREV's name read as LAB's.
steps() {
	diff -u --label "$1/main.go" --label "$2/main.go" \
		<(lesson "$1/main.go" | sed "s/$1/$2/g") <(lesson "$2/main.go" | sed "s/$2/$2/g") || true
}

# syscalls LAB: each library file with regions of LAB, before and after them, as a diff
# whose hunks name their function.
syscalls() {
	local number="${1%%-*}" files
	files="$(grep -rl --include='*.go' --exclude='*_test.go' "^[[:space:]]*// lab:$number begin" labs | sort || true)"
	[ -n "$files" ] || return 0
	echo "# What lab $number teaches in the library (labs/, the code marked lab:$number), as added to each"
	echo "# function: the system calls behind the steps above."
	while read -r file; do
		diff -u -F '^func ' --label "$file (before lab $number)" --label "$file" \
			<(lesson "$file" "$number") <(lesson "$file") || true
	done <<<"$files"
}

labs=()
for dir in [0-9][0-9]-*/; do labs+=("${dir%/}"); done
[ "${#wanted[@]}" -gt 0 ] || wanted=("${labs[@]}")

[ "$write" = 0 ] || mkdir -p docs/diffs
found=0
for want in "${wanted[@]}"; do
	number="${want%%-*}"
	number="$(printf '%02d' "$((10#$number))")" 2>/dev/null || die "$want is not a lab"
	for i in "${!labs[@]}"; do
		lab="${labs[$i]}"
		[ "${lab%%-*}" = "$number" ] || continue
		found=1
		diff="$(
			[ "$i" -eq 0 ] || steps "${labs[$((i - 1))]}" "$lab"
			syscalls "$lab"
		)"
		if [ "$write" = 1 ]; then
			printf '%s\n' "$diff" >"docs/diffs/$lab.diff"
			echo "docs/diffs/$lab.diff: $(grep -c '^[-+][^-+]' <<<"$diff" || true) changed lines"
		else
			printf '%s\n' "$diff"
		fi
	done
	[ "$found" = 1 ] || die "$want is not a lab (one of ${labs[*]})"
	found=0
done
