#!/usr/bin/env bash
# Builds the crafted inputs of the hostile-input review (issue 17, attacks
# 6-9: crates/kbinspect-testkit/src/hostile.rs) and times verify, list,
# ls --test, diff A A and extract --expand on each under /usr/bin/time:
# wall and CPU time, peak RSS, exit code and the first error or warning. Prints a markdown table
# (docs/hostile-input.md) and fails when an input takes 5 s or more, or
# 256 MB or more.
#
#   scripts/hostile-time.sh [BIN] [DIR]     (defaults: target/release/kbinspect, a temp dir)
set -uo pipefail
root=$(realpath "$(dirname "$0")/..")
bin=${1:-$root/target/release/kbinspect}
dir=${2:-$(mktemp -d)}
( cd "$root" && cargo build --release -q -p kbinspect-testkit --example hostile_inputs ) || exit 2
"$root/target/release/examples/hostile_inputs" "$dir" >/dev/null || exit 2
echo "| input | bytes | command | exit | wall s | CPU s | peak RSS MB | outcome |"
echo "|---|---:|---|---:|---:|---:|---:|---|"
bad=0
# The finding about the attack: an error, else why a file is unproven, else
# a warning (not the absent catalog or signature of every crafted input).
jqf='
  def f: "`\(.code)` \(.subject): \(.detail)";
  ([.findings[]? | select(.code != "catalog-absent" and .code != "unsigned")] ) as $fs
  | ([$fs[] | select(.severity=="error")][0] | if . then f else null end)
    // ([.files[]? | select(.reason) | "\(.file): \(.reason)"][0])
    // ([$fs[] | select(.severity=="warning")][0] | if . then f else null end)
    // (if .verdict then "verdict \(.verdict)" else "-" end)'
for f in "$dir"/*.cab; do
  name=$(basename "$f")
  for cmd in verify list "ls --test" diff "extract --expand"; do
    case $cmd in
      diff) args=(diff --format json "$f" "$f") ;;
      "extract --expand") rm -rf "$dir/out"; args=(extract --expand --format json "$f" -o "$dir/out") ;;
      *) args=($cmd --format json "$f") ;;
    esac
    t="$dir/$name.${cmd// /_}"
    /usr/bin/time -f '%e %U %S %M' -o "$t.time" "$bin" "${args[@]}" >"$t.json" 2>"$t.err"
    rc=$?
    read -r wall user sys rss < <(tail -1 "$t.time")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    rssmb=$(awk -v r="$rss" 'BEGIN { printf "%.1f", r / 1024 }')
    if [ "$rc" -le 1 ] && [ -s "$t.json" ]; then
      outcome=$(jq -r "$jqf" "$t.json" 2>/dev/null | head -1 | cut -c1-160)
    else
      outcome=$(head -c 160 "$t.err" | tr '\n' ' ')
    fi
    echo "| $name | $(stat -c %s "$f") | \`$cmd\` | $rc | $wall | $cpu | $rssmb | ${outcome//|/\\|} |"
    awk -v w="$wall" -v r="$rssmb" 'BEGIN { exit !(w >= 5 || r >= 256) }' && bad=1
  done
done
rm -rf "$dir/out"
exit $bad
