#!/usr/bin/env bash
# Builds the crafted inputs of the hostile-input review (issue 17, attacks
# 6-9: crates/kbinspect-testkit/examples/hostile_inputs.rs) and times
# `kbinspect verify` on each under /usr/bin/time -v: peak RSS, wall time,
# exit code and the first error or warning it names. Prints a markdown table
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
echo "| input | bytes | exit | wall s | peak RSS MB | verdict | first finding |"
echo "|---|---:|---:|---:|---:|---|---|"
bad=0
for f in "$dir"/*.cab; do
  name=$(basename "$f")
  /usr/bin/time -v -o "$dir/$name.time" "$bin" verify --format json "$f" >"$dir/$name.json" 2>"$dir/$name.err"
  rc=$?
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f", s}' "$dir/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$dir/$name.time")
  if [ -s "$dir/$name.json" ]; then
    verdict=$(jq -r '.verdict // "-"' "$dir/$name.json" 2>/dev/null)
    # The finding about the attack: an error, else why a file is unproven,
    # else a warning (not the absent catalog or signature of every crafted
    # input).
    finding=$(jq -r '
      def f: "`\(.code)` \(.subject): \(.detail)";
      ([.findings[] | select(.code != "catalog-absent" and .code != "unsigned")] ) as $fs
      | ([$fs[] | select(.severity=="error")][0] | if . then f else null end)
        // ([.files[]? | select(.reason) | "\(.file): \(.reason)"][0])
        // ([$fs[] | select(.severity=="warning")][0] | if . then f else null end)
        // "-"' "$dir/$name.json" 2>/dev/null | cut -c1-200)
  else
    verdict="(no report)"
    finding=$(head -c 160 "$dir/$name.err" | tr '\n' ' ')
  fi
  echo "| $name | $(stat -c %s "$f") | $rc | $wall | $rss | $verdict | ${finding//|/\\|} |"
  awk -v w="$wall" -v r="$rss" 'BEGIN { exit !(w >= 5 || r >= 256) }' && bad=1
done
exit $bad
