#!/usr/bin/env bash
# labdiff.sh [LAB...] [--write]
#
# Prints what each lab adds to the one before it: a unified diff of the previous lab's
# main.go and the lab's own (of every lab by default; LAB is 5, 05 or 05-overlay). Two kinds
# of noise are left out so that only the lesson shows: the previous lab's name is read as
# this lab's (usage text and messages name the program), and the starter kit's `// lab:NN`
# marker lines are dropped. --write stores each diff as docs/diffs/NN-name.diff, the files
# the walkthroughs link to; the test suite checks that they are current.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"

write=0 wanted=()
for arg in "$@"; do
	case "$arg" in
	--write) write=1 ;;
	-h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $arg" ;;
	*) wanted+=("$arg") ;;
	esac
done

# lesson prints a lab's main.go without the starter kit's markers, with every mention of
# the lab named $2 read as the lab named $3.
lesson() {
	grep -v '^[[:space:]]*// lab:[0-9][0-9] ' "$1/main.go" | sed "s/$2/$3/g"
}

labs=()
for dir in [0-9][0-9]-*/; do labs+=("${dir%/}"); done
[ "${#wanted[@]}" -gt 0 ] || wanted=("${labs[@]:1}")

[ "$write" = 0 ] || mkdir -p docs/diffs
found=0
for want in "${wanted[@]}"; do
	number="${want%%-*}"
	number="$(printf '%02d' "$((10#$number))")" 2>/dev/null || die "$want is not a lab"
	for i in "${!labs[@]}"; do
		lab="${labs[$i]}"
		[ "${lab%%-*}" = "$number" ] || continue
		[ "$i" -gt 0 ] || die "$lab is the first lab: it has nothing to compare with"
		prev="${labs[$((i - 1))]}"
		found=1
		diff="$(diff -u --label "$prev/main.go" --label "$lab/main.go" \
			<(lesson "$prev" "$prev" "$lab") <(lesson "$lab" "$lab" "$lab") || true)"
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
