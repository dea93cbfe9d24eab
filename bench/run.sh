#!/usr/bin/env bash
# Throughput benchmark: kbinspect against cabextract and 7-Zip, side by side.
#
#   bench/run.sh [--runs N] [--quick] [--out FILE]
#
# Builds kbinspect (release), generates the large packages once (cached in
# $KBINSPECT_BENCH_CACHE, default /work/bench-cache; see crates/kbinspect-testkit/examples/gen_large.rs),
# then times with hyperfine, on every input:
#   test     kbinspect ls --test --hash md5      | cabextract -t (MD5)  | 7zz t
#   test-nohash kbinspect ls --test --hash none (both cores) | the same peers
#   test-1core  the same on one core (taskset -c 0), kbinspect --hash none:
#            the single-threaded decoder against the peers'
#   (for an .msu the peers unpack the outer level, then handle the CABs in it)
#   extract  kbinspect extract IN -o DIR         | cabextract -q -d DIR | 7zz x -oDIR
#   verify   kbinspect verify IN                 | cabextract -q -d DIR + sha256sum of every file
#   (extract and verify: the peers unpack every nested cabinet in turn,
#   bench/peer-unpack.sh, to write the same tree as kbinspect)
# (extract/verify rows appear only when this build's kbinspect supports them)
# and measures peak RSS with /usr/bin/time -v. Results: a markdown table on
# stdout and in --out (default bench/results/latest.md), raw hyperfine JSON
# next to it. Wall times on a shared machine are noisy: medians of --runs
# repetitions, and user+sys CPU seconds, are both reported.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=5
QUICK=0
OUT="$ROOT/bench/results/latest.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: bench/run.sh [--runs N] [--quick] [--out FILE]" >&2; exit 2 ;;
  esac
done
CACHE=${KBINSPECT_BENCH_CACHE:-/work/bench-cache}
CORPUS=${KBINSPECT_CORPUS:-$ROOT/../../shared/corpus}
[ -d "$CORPUS" ] || CORPUS=/work/shared/corpus
SCRATCH=${KBINSPECT_BENCH_SCRATCH:-/dev/shm/kbinspect-bench.$$}
RAW="$(dirname "$OUT")/raw"
mkdir -p "$RAW" "$SCRATCH"
trap 'rm -rf "$SCRATCH"' EXIT

for t in hyperfine cabextract 7zz python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y hyperfine cabextract 7zip time python3 libwine)" >&2; exit 2; }
done

# Two builds: built together, the binary would get the features the
# generator's dependencies turn on (10.2 MB instead of the 9.2 MB that
# `cargo build --release` gives, ~50 more page faults at every start-up):
# the bench times the binary a user builds.
cargo build --release --quiet --bin kbinspect
cargo build --release --quiet -p kbinspect-testkit --example gen_large
# KBINSPECT_BENCH_BIN times another kbinspect build (e.g. a saved baseline).
KB=${KBINSPECT_BENCH_BIN:-$ROOT/target/release/kbinspect}
SIZES="75,150,300"
[ "$QUICK" = 1 ] && SIZES="75"
KBINSPECT_BENCH_CACHE="$CACHE" "$ROOT/target/release/examples/gen_large" --sizes "$SIZES" >"$RAW/gen.txt"
cat "$RAW/gen.txt" >&2

INPUTS=()
for s in ${SIZES//,/ }; do INPUTS+=("$CACHE/packages/large-${s}mb.cab"); done
# The 19 real packages (tests/it/verify_real.rs names the same list).
REAL=(
  kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu
  kb4538483-x64-msu/windows6.1-kb4538483-x64_3e861ae5fe3f6b3c9d185decbd96a436ca0c5035.msu
  real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB4517245-x64.cab
  real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB5003791-x64.cab
  real-cab/gwblok-garytown/SoftwareUpdates/Windows11.0-kb5027397-x64.cab
  real-msu/afiqmnsor-22h2/windows10.0-kb5015684-x64_523c039b86ca98f2d818c4e6706e2cc94b634c4a.msu
  real-msu/soda92-win7-remote-debug/Windows6.1-KB3004394-v2-x64.msu
  real-msu/soda92-win7-remote-debug/Windows6.1-KB3063858-x64.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.0-KB2999226-x64.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.1-KB2999226-x64.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8-RT-KB2999226-x64.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8.1-KB2999226-x64.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.0-KB2999226-x86.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.1-KB2999226-x86.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8-RT-KB2999226-x86.msu
  real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8.1-KB2999226-x86.msu
  real-msu/w16073888-car-datamanageing/Windows6.1-KB2999226-x64.msu
  real-msu/w16073888-car-datamanageing/Windows6.1-KB3118401-x64.msu
  real-msu/xxlmandalorian013-powershellscripts/windows10.0-kb4589210-v2-x64_bbbf54336d6e22da5de8d63891401d8f6077d2ce.msu
)
REAL_PATHS=()
for r in "${REAL[@]}"; do [ -f "$CORPUS/$r" ] && REAL_PATHS+=("$CORPUS/$r"); done
if [ "$QUICK" = 0 ]; then
  INPUTS+=("$CACHE/packages/large-300mb.msu")
  INPUTS+=("${REAL_PATHS[@]}")
  # The stress cabinet wraps large-files.cab (3 x 2 GB: MSZIP, LZX:15,
  # LZX:21); the peers do not recurse, so all tools get the inner cabinet.
  big="$CORPUS/cabextract-tests/cabs/large-files-cab.cab"
  if [ -f "$big" ]; then
    [ -f "$CACHE/inputs/large-files.cab" ] || cabextract -q -d "$CACHE/inputs" "$big"
    INPUTS+=("$CACHE/inputs/large-files.cab")
  fi
fi

# Which kbinspect commands this build has.
probe() { "$KB" "$@" >/dev/null 2>&1; }
HAVE_EXTRACT=0; HAVE_VERIFY=0
small=$CORPUS/kb4538483-esu-msu/$(ls "$CORPUS/kb4538483-esu-msu" | grep -m1 '\.msu$')
rm -rf "$SCRATCH/probe"
rc=0; "$KB" extract "$small" --output "$SCRATCH/probe" >/dev/null 2>&1 || rc=$?
[ "$rc" -le 1 ] && HAVE_EXTRACT=1
rc=0; "$KB" verify "$small" >/dev/null 2>&1 || rc=$?
[ "$rc" -le 1 ] && HAVE_VERIFY=1
rm -rf "$SCRATCH/probe"
echo "kbinspect: extract=$HAVE_EXTRACT verify=$HAVE_VERIFY" >&2

ROWS="$RAW/rows.tsv"
: >"$ROWS"
# row <input> <mode> <bytes> <tool> <json> <rss-kb>
# Peak RSS in KB: the median of three runs (one run varies by about
# +-0.5 MB with the threads' timing, which the growth figure cannot bear).
rss() {
  local i v=()
  for i in 1 2 3; do v+=("$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)"); done
  printf '%s\n' "${v[@]}" | sort -n | sed -n 2p
}

# nohash_row MODE TAG [PREFIX...]: kbinspect ls --test --hash none against
# cabextract -t and 7zz t on $in, each run under PREFIX (e.g. taskset).
# A cabinet that nests cabinets (WSUSSCAN.cab holds package.cab): kbinspect
# tests every level, the peers only the one they are given, so they are also
# given the nested ones (extracted once, untimed) to test the same bytes.
nohash_row() {
  local mode=$1 tag=$2; shift 2
  local pre="$*" j ce="cabextract -t $in" sz="7zz t $in" nd="$RAW/nested.$base"
  j="$RAW/$base.$tag.json"
  rm -rf "$nd"
  local nested
  nested=$(cabextract -l "$in" 2>/dev/null | awk -F' [|] ' 'tolower($3) ~ /\.cab$/ {print $3}')
  if [ -n "$nested" ]; then
    mkdir -p "$nd" && cabextract -q -d "$nd" -F '*.cab' "$in"
    ce="sh -c 'cabextract -t $in >/dev/null && cabextract -t $nd/*.cab >/dev/null'"
    sz="sh -c '7zz t $in >/dev/null && for c in $nd/*.cab; do 7zz t \$c >/dev/null || exit 1; done'"
  fi
  # A cabinet tested in a few milliseconds (KB4589210's: ~5 ms, of which
  # ~2 ms is process start-up for each tool): eight times the runs (40 at
  # --runs 5; with 15, KB4538483 x64's CAB measured 0.90 in one run and
  # 1.03 in 40 runs right after), so that the median is not decided by a
  # scheduler hiccup.
  local r=$runs
  [ "$bytes" -lt 20000000 ] && r=$(( runs * 8 ))
  # Four rounds of r/2 runs, the tools' order reversed every other round,
  # merged (bench/merge-hyperfine.py): hyperfine runs one tool's runs
  # back to back, so a slow phase of the machine fell on one tool alone
  # (the run of 04:17 on 2026-12-07: kbinspect's five runs of the 300 MB
  # CAB at 341-344 ms, then 275 ms, beside 7-Zip's 283-353 ms; 268 against
  # 287 ms, 20 runs each, right after).
  local half=$(( (r + 1) / 2 )) round parts=()
  local kb_cmd="$pre $KB ls --test --hash none --format json $in"
  for round in 1 2 3 4; do
    local p="$RAW/$base.$tag.round$round.json"
    if [ $(( round % 2 )) = 1 ]; then
      hyperfine -N --style basic --runs "$half" --warmup 3 --export-json "$p" \
        -n kbinspect "$kb_cmd" -n cabextract "$pre $ce" -n 7zz "$pre $sz" >&2 || true
    else
      hyperfine -N --style basic --runs "$half" --warmup 3 --export-json "$p" \
        -n 7zz "$pre $sz" -n cabextract "$pre $ce" -n kbinspect "$kb_cmd" >&2 || true
    fi
    parts+=("$p")
  done
  python3 "$ROOT/bench/merge-hyperfine.py" "$j" "${parts[@]}"
  rm -f "${parts[@]}"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$bytes" "$j" \
    "$(rss "$@" "$KB" ls --test --hash none --format json "$in")" "$(rss "$@" cabextract -t "$in")" "$(rss "$@" 7zz t "$in")" >>"$ROWS"
  rm -rf "$nd"
}

for in in "${INPUTS[@]}"; do
  name=$(basename "$in")
  base=$name
  # Output volume: what kbinspect decodes (members of every level).
  bytes=$("$KB" ls --test --format json "$in" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_tested"])')
  big=0; [ "$bytes" -gt 2000000000 ] && big=1
  runs=$RUNS; [ "$big" = 1 ] && runs=$(( RUNS < 3 ? RUNS : 3 ))
  # Inputs that take milliseconds: more runs, so that the median is not
  # one scheduler hiccup.
  [ "$bytes" -lt 20000000 ] && runs=$(( RUNS * 4 ))
  echo "== $name: $bytes bytes, $runs runs" >&2

  j="$RAW/$base.test.json"
  d="$SCRATCH/x"
  case "$name" in
    *.msu)
      # An MSU nests the package CAB: the peers unpack the outer level,
      # then test the CABs found in it (kbinspect recurses by itself).
      ce="sh -c 'rm -rf $d && cabextract -q -d $d $in && cabextract -t $d/*.cab >/dev/null'"
      sz="sh -c 'rm -rf $d && 7zz x -y -bd -o$d $in >/dev/null && for c in $d/*.cab; do 7zz t \$c >/dev/null || exit 1; done'"
      hyperfine --style basic --runs "$runs" --warmup 1 --export-json "$j" \
        -n kbinspect "$KB ls --test --hash md5 --format json $in" -n cabextract "$ce" -n 7zz "$sz" >&2 || true
      r_ce=$(rss sh -c "rm -rf $d && cabextract -q -d $d $in && cabextract -t $d/*.cab")
      r_7z=$(rss sh -c "rm -rf $d && 7zz x -y -bd -o$d $in && for c in $d/*.cab; do 7zz t \$c; done")
      ;;
    *)
      hyperfine -N --style basic --runs "$runs" --warmup 1 --export-json "$j" \
        -n kbinspect "$KB ls --test --hash md5 --format json $in" \
        -n cabextract "cabextract -t $in" \
        -n 7zz "7zz t $in" >&2 || true
      r_ce=$(rss cabextract -t "$in"); r_7z=$(rss 7zz t "$in")
      ;;
  esac
  rm -rf "$d"
  printf '%s\ttest\t%s\t%s\t%s\t%s\t%s\n' "$name" "$bytes" "$j" \
    "$(rss "$KB" ls --test --hash md5 --format json "$in")" "$r_ce" "$r_7z" >>"$ROWS"
  case "$name:$big" in
    *.msu:0)
      # The decoders on one core: the MSU's largest inner CAB (its package
      # CAB), unpacked once, tested by each tool.
      inner="$CACHE/inner/$name"
      [ -d "$inner" ] || { mkdir -p "$inner" && cabextract -q -d "$inner" "$in"; }
      cab=$(ls -S "$inner"/*.cab 2>/dev/null | head -1)
      if [ -n "$cab" ]; then
        ( in=$cab; name="$name:$(basename "$cab")"; base=$(basename "$cab")
          bytes=$("$KB" ls --test --format json "$in" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_tested"])')
          nohash_row test-1core test1 taskset -c 0 )
      fi
      ;;
    *.msu:*|*:1) ;;
    *)
      # Both cores, no digest: decoding alone (cabextract -t always
      # computes MD5; 7zz t only checks).
      nohash_row test-nohash test2
      # One core each: the decoders themselves, side by side.
      nohash_row test-1core test1 taskset -c 0
      ;;
  esac

  if [ "$big" = 0 ] && [ "$HAVE_EXTRACT" = 1 ]; then
    d="$SCRATCH/x"
    cmds=()
    [ "$HAVE_EXTRACT" = 1 ] && cmds+=(-n kbinspect "$KB extract $in --output $d")
    # The peers do not recurse: bench/peer-unpack.sh unpacks every cabinet
    # they write in turn, so that they write the tree kbinspect writes.
    cmds+=(-n cabextract "$ROOT/bench/peer-unpack.sh cabextract $in $d"
           -n 7zz "$ROOT/bench/peer-unpack.sh 7zz $in $d")
    j="$RAW/$base.extract.json"
    hyperfine -N --style basic --runs "$runs" --warmup 1 --prepare "rm -rf $d" --export-json "$j" "${cmds[@]}" >&2 || true
    r_kb=-
    # Each of rss's runs starts from no output directory.
    if [ "$HAVE_EXTRACT" = 1 ]; then r_kb=$(rss sh -c "rm -rf $d && exec $KB extract $in --output $d"); fi
    r_ce=$(rss sh -c "rm -rf $d && exec $ROOT/bench/peer-unpack.sh cabextract $in $d")
    r_7z=$(rss sh -c "rm -rf $d && exec $ROOT/bench/peer-unpack.sh 7zz $in $d")
    rm -rf "$d"
    printf '%s\textract\t%s\t%s\t%s\t%s\t%s\n' "$name" "$bytes" "$j" "$r_kb" "$r_ce" "$r_7z" >>"$ROWS"

    if [ "$HAVE_VERIFY" = 1 ]; then
      j="$RAW/$base.verify.json"
      # The whole tree, as kbinspect verify reads it, then every file hashed.
      peer="sh -c 'rm -rf $d && $ROOT/bench/peer-unpack.sh cabextract $in $d && find $d -type f -print0 | xargs -0 sha256sum >/dev/null'"
      # The generated packages are signed by the TEST-ONLY CA (gen_large):
      # trusted, so that their chain of trust is verified, not refused.
      tr=""
      case "$in" in "$CACHE"/packages/*) tr="--trust-root $ROOT/testdata/trust/test-keys/TEST-ONLY-root.pem" ;; esac
      hyperfine --style basic --runs "$runs" --warmup 1 --export-json "$j" \
        -n kbinspect "$KB verify --format json $tr $in" -n cabextract+sha256sum "$peer" >&2 || true
      printf '%s\tverify\t%s\t%s\t%s\t%s\t%s\n' "$name" "$bytes" "$j" \
        "$(rss "$KB" verify --format json $tr "$in")" "$(rss sh -c "rm -rf $d && $ROOT/bench/peer-unpack.sh cabextract $in $d && find $d -type f -print0 | xargs -0 sha256sum")" - >>"$ROWS"
      rm -rf "$d"
    fi
  fi
done

EXTRA="$RAW/extra.tsv"
: >"$EXTRA"
if [ "$QUICK" = 0 ] && [ "${#REAL_PATHS[@]}" -gt 0 ]; then
  # Many packages: one batch run against the same packages one by one.
  echo "== batch verify of ${#REAL_PATHS[@]} real packages" >&2
  j="$RAW/batch.json"
  hyperfine --style basic --runs "$RUNS" --warmup 1 -i --export-json "$j" \
    -n batch "$KB verify --format json ${REAL_PATHS[*]}" \
    -n one-by-one "sh -c 'for p in ${REAL_PATHS[*]}; do $KB verify --format json \$p >/dev/null; done'" >&2 || true
  printf 'batch\t%s\t%s\n' "${#REAL_PATHS[@]}" "$j" >>"$EXTRA"
  # Delta rebuilding (issue 15: > 2x msdelta.dll's ~79 MB/s per core).
  cargo build --release --quiet -p kbinspect --example rebuild_bench --example trust_cost
  echo "== delta rebuild throughput" >&2
  "$ROOT/target/release/examples/rebuild_bench" --runs "$RUNS" "${REAL_PATHS[@]}" >"$RAW/rebuild-all.txt"
  RAYON_NUM_THREADS=1 "$ROOT/target/release/examples/rebuild_bench" --runs "$RUNS" "${REAL_PATHS[@]}" >"$RAW/rebuild-1.txt"
  printf 'rebuild\t%s\t%s\n' "$RAW/rebuild-all.txt" "$RAW/rebuild-1.txt" >>"$EXTRA"
  # The chain of trust's cost (issue 19: under 10 %).
  echo "== trust check cost" >&2
  trust_in=("$CORPUS/${REAL[0]}" "$CORPUS/${REAL[1]}" "$CORPUS/${REAL[6]}")
  [ -f "$CACHE/packages/large-300mb.msu" ] && trust_in+=("$CACHE/packages/large-300mb.msu")
  # gen_large signs its packages with the TEST-ONLY CA: trusted here, so
  # that the 300 MB package's signatures and catalogs are verified.
  "$ROOT/target/release/examples/trust_cost" --runs "$(( RUNS * 3 < 15 ? 15 : RUNS * 3 ))" \
    --trust-root "$ROOT/testdata/trust/test-keys/TEST-ONLY-root.pem" "${trust_in[@]}" >"$RAW/trust.txt"
  # Each run starts with no certificate read or verified, as a process does.
  # With the default pool the wall time is what a user waits (the load
  # verifies the signatures beside the delta rebuilds); with one worker the
  # CPU time is the work alone (idle workers spin and count otherwise).
  # Both are reported (docs/trust.md).
  RAYON_NUM_THREADS=1 "$ROOT/target/release/examples/trust_cost" --runs "$(( RUNS * 3 < 15 ? 15 : RUNS * 3 ))" \
    --trust-root "$ROOT/testdata/trust/test-keys/TEST-ONLY-root.pem" "${trust_in[@]}" >"$RAW/trust-1.txt"
  printf 'trust\t%s\t%s\n' "$RAW/trust.txt" "$RAW/trust-1.txt" >>"$EXTRA"
fi

mkdir -p "$(dirname "$OUT")"
python3 "$ROOT/bench/table.py" "$ROWS" "$RUNS" "$EXTRA" >"$OUT"
{
  echo
  echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "Tools: $(cabextract --version | head -1); $(7zz | sed -n 2p | cut -c1-60); $(hyperfine --version)"
  echo "Command: bench/run.sh --runs $RUNS$([ "$QUICK" = 1 ] && echo ' --quick')"
} >>"$OUT"
cat "$OUT"
