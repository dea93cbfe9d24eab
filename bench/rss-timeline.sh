#!/usr/bin/env bash
# Resident memory of one kbinspect run over time: where its peak is.
#
#   bench/rss-timeline.sh [--every MS] -- kbinspect verify PKG [...]
#
# Samples VmRSS of the process every MS milliseconds (default 5) from
# /proc (Linux) and prints "ms MB" lines, then the peak (VmHWM). For
# `verify` of a large package two plateaus show: the walk (decoders'
# windows and batches, kept bytes, member records, parsed manifests) and
# the checks at the end (the model, the trust report, the findings); the
# peak is the higher of the two, so memory work must lower both.
set -euo pipefail
every=5
while [ $# -gt 0 ]; do
  case "$1" in
    --every) every=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: bench/rss-timeline.sh [--every MS] -- COMMAND..." >&2; exit 2; }
[ -r /proc/self/status ] || { echo "needs /proc (Linux)" >&2; exit 2; }
"$@" >/dev/null &
pid=$!
start=$(date +%s%N)
hwm=0
while kill -0 "$pid" 2>/dev/null; do
  status=$(cat "/proc/$pid/status" 2>/dev/null) || break
  rss=$(awk '/^VmRSS:/ {print $2}' <<<"$status")
  # The kernel's own high-water mark: the last one read is the peak (an
  # exited process's status has none, so an empty read keeps the last).
  h=$(awk '/^VmHWM:/ {print $2}' <<<"$status")
  [ -n "$h" ] && hwm=$h
  if [ -n "$rss" ]; then
    now=$(( ($(date +%s%N) - start) / 1000000 ))
    awk -v t="$now" -v r="$rss" 'BEGIN {printf "%d %.1f\n", t, r / 1024}'
  fi
  sleep "$(awk -v m="$every" 'BEGIN {print m / 1000}')"
done
rc=0
wait "$pid" || rc=$?
awk -v p="$hwm" 'BEGIN {printf "peak (VmHWM last read) %.1f MB\n", p / 1024}'
exit "$rc"
