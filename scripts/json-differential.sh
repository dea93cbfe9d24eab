#!/usr/bin/env bash
# Runs every reporting command of a kbinspect binary in JSON over the corpus
# and writes one file per run into OUT, so that two builds can be compared
# byte for byte (`diff -r OUT_BEFORE OUT_AFTER`). Used to show that a
# restructuring changes no output.
#
#   scripts/json-differential.sh BIN OUT [CORPUS]
set -uo pipefail
bin=$(realpath "$1"); out=$2; corpus=${3:-$(dirname "$0")/../../shared/corpus}
corpus=$(realpath "$corpus"); root=$(realpath "$(dirname "$0")/..")
mkdir -p "$out"; out=$(realpath "$out")
run() { # name, args...
  local name=$1; shift
  ( cd "$corpus" && "$bin" "$@" >"$out/$name.json" 2>"$out/$name.err"; echo "rc=$?" >>"$out/$name.err" )
}
pkgs=$(cd "$corpus" && ls kb4538483-*/*.msu real-msu/*/*.msu real-msu/*/*/*.msu real-cab/*/*/*.cab 2>/dev/null)
i=0
for p in $pkgs; do
  i=$((i+1)); n=$(printf %02d $i)
  run "$n-ls" ls "$p" --format json
  run "$n-list" list "$p" --format json
  run "$n-verify" verify "$p" --format json
  ( cd "$corpus" && rm -rf "$out/x" && "$bin" extract "$p" -o "$out/x" --format json >"$out/$n-extract.json" 2>"$out/$n-extract.err"
    echo "rc=$?" >>"$out/$n-extract.err"
    ( cd "$out/x" 2>/dev/null && find . -type f -print0 | sort -z | xargs -0 -r sha256sum ) >"$out/$n-extract.sha256"; rm -rf "$out/x" )
done
run diff-win7 diff real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.1-KB2999226-x64.msu real-msu/w16073888-car-datamanageing/Windows6.1-KB2999226-x64.msu --format json
run diff-kb4538483 diff kb4538483-esu-msu/*.msu kb4538483-x64-msu/*.msu --format json
for a in $(cd "$corpus" && ls kb-articles/*.md); do run "kb-$(basename "$a" .md)" kb "$a" --format json; done
( cd "$root" && for s in testdata/*.msu; do [ -f "$s" ] || continue
    b=$(basename "$s"); "$bin" verify "$s" --format json >"$out/sample-$b.json" 2>&1; echo "rc=$?" >>"$out/sample-$b.json"
    "$bin" list "$s" --format json >"$out/sample-list-$b.json" 2>&1; done
  for k in testdata/*.txt; do [ -f "$k" ] || continue; "$bin" kb "$k" --format json >"$out/samplekb-$(basename "$k").json" 2>&1; done )
# Run times differ between runs; drop the fields that carry them.
sed -i -E 's/"(elapsed|seconds|duration)[a-z_]*": *[0-9.e+-]+,?//g' "$out"/*.json
sed -i "s#$out/#OUT/#g" "$out"/*.json
echo "$out: $(ls "$out" | wc -l) files"
