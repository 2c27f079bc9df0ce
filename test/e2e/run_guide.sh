#!/usr/bin/env bash
# Runs every ```sh block of docs/GUIDE.md, in order, as a user would: in a
# fresh directory holding examples/, scripts/, test/ and bench/ (links into the source
# tree), with the loom under test first on PATH.  Each block runs under
# `bash -euo pipefail`; the first failing block fails the test with its
# output.  Exit 77 (meson: skipped) when matplotlib is missing, since the
# guide plots.  With KEEP_PNG=DIR, the PNGs the guide makes are copied there
# (that is how docs/img/ is made).
# Usage: run_guide.sh LOOM_BIN SOURCE_ROOT
set -euo pipefail
loom_bin=$1 src=$2
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no matplotlib (apt-get install python3-matplotlib)"
  exit 77
fi
tmp=$(mktemp -d /tmp/loom-guide-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/blocks"
ln -s "$loom_bin" "$tmp/bin/loom"
ln -s "$src/examples" "$tmp/examples"
ln -s "$src/scripts" "$tmp/scripts"
ln -s "$src/test" "$tmp/test"   # the PyTorch captures of section 4
ln -s "$src/bench" "$tmp/bench" # the nccl-tests clusters of section 3
awk -v dir="$tmp/blocks" '
  /^```sh[ \t]*$/ { on = 1; n++; f = sprintf("%s/%02d.sh", dir, n); next }
  /^```/          { on = 0; next }
  on              { print > f }' "$src/docs/GUIDE.md"
n=$(ls "$tmp/blocks" | wc -l)
[ "$n" -ge 1 ] || { echo "no sh blocks in docs/GUIDE.md"; exit 1; }
cd "$tmp"
export PATH="$tmp/bin:$PATH"
for b in blocks/*.sh; do
  echo "== block $(basename "$b" .sh) of $n"
  sed 's/^/   | /' "$b"
  if ! bash -euo pipefail "$b" > "$b.out" 2>&1; then
    echo "FAILED: block $(basename "$b" .sh) of docs/GUIDE.md; its output:"
    cat "$b.out"
    exit 1
  fi
done
# every image the guide shows was made by its commands
for img in $(grep -o 'img/[A-Za-z0-9_.-]*\.png' "$src/docs/GUIDE.md"); do
  f=$(basename "$img")
  [ -s "$f" ] || { echo "docs/GUIDE.md shows $img, but no command made $f"; exit 1; }
  [ -z "${KEEP_PNG:-}" ] || cp "$f" "$KEEP_PNG/$f"
done
echo "all $n blocks of docs/GUIDE.md ran"
