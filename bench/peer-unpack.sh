#!/usr/bin/env bash
# Unpack a package the way `kbinspect extract` does, with a peer tool:
#   bench/peer-unpack.sh cabextract|7zz IN DIR
# The peers do not recurse into nested cabinets, so every cabinet they write
# (an .msu's CABs, WSUSSCAN.cab, WSUSSCAN.cab's package.cab, ...) is unpacked
# in turn into DIR/<name>.d, until no cabinet is left: the same files as
# kbinspect's nested tree, plus the nested cabinets themselves.
set -eu
tool=$1 in=$2 dir=$3
one() {
  case "$tool" in
    cabextract) cabextract -q -d "$2" "$1" ;;
    7zz) 7zz x -y -bd "-o$2" "$1" >/dev/null ;;
    *) echo "peer-unpack: unknown tool $tool" >&2; exit 2 ;;
  esac
}
walk() {
  local c
  one "$1" "$2"
  for c in "$2"/*.cab "$2"/*.CAB; do
    [ -f "$c" ] && walk "$c" "$c.d"
  done
  return 0
}
walk "$in" "$dir"
