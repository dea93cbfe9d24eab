#!/usr/bin/env bash
# Terminal captures of `kbinspect verify` on a real MSU, in tmux at 80 and
# 200 columns (docs/reports.md links them). Run from the repository root
# after `cargo build --release`; the corpus is at ../shared/corpus.
set -euo pipefail
bin="$PWD/target/release/kbinspect"
dir="${KBINSPECT_CORPUS:-$PWD/../shared/corpus}/kb4538483-esu-msu"
msu=windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu
for width in 80 200; do
  tmux kill-session -t kbcap 2>/dev/null || true
  tmux new-session -d -s kbcap -x "$width" -y 150 "bash --norc --noprofile"
  sleep 0.5
  tmux send-keys -t kbcap "PS1='\$ '; cd '$dir'; alias kbinspect='$bin'; clear" Enter
  sleep 0.5
  tmux send-keys -t kbcap "kbinspect verify $msu" Enter
  sleep 3
  # The screen, without the blank lines below the last prompt.
  tmux capture-pane -t kbcap -p -S - -E - | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' \
    > "docs/captures/verify-$width.txt"
  tmux kill-session -t kbcap
done
