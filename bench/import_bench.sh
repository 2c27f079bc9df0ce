#!/usr/bin/env bash
# Import throughput of `loom import pytorch` (docs/PERFORMANCE.md, "Import"):
# MB/s of decompressed JSON and events/s per CPU second (user + system:
# the wall time also holds the fsync of the outputs), and peak RSS, on the largest Kineto
# capture of test/data/pytorch (linear_kineto), on any files given, and on
# a synthetic trace of N copies of linear's events (shifted in time and id)
# to show that memory follows the events kept, not the file's text.
# Prints figures, asserts nothing.  Usage: bench/import_bench.sh LOOM [N] [FILE...]
set -euo pipefail
LOOM=$1
N=${2:-10}
shift $(( $# >= 2 ? 2 : 1 ))
D=$(cd "$(dirname "$0")/.." && pwd)/test/data/pytorch
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 - "$D/linear_kineto.json.gz" "$T/big.json" "$N" <<'PY'
import gzip, json, sys
d = json.load(gzip.open(sys.argv[1]))
ev = d["traceEvents"]
span = max(e.get("ts", 0) + e.get("dur", 0) for e in ev if isinstance(e.get("ts"), (int, float))) - \
       min(e["ts"] for e in ev if isinstance(e.get("ts"), (int, float)))
out = []
for i in range(int(sys.argv[3])):
    for e in ev:
        e = dict(e)
        if isinstance(e.get("ts"), (int, float)):
            e["ts"] = e["ts"] + i * (span + 1000)
        a = e.get("args")
        if isinstance(a, dict) and "correlation" in a:
            a = dict(a); a["correlation"] += i * 10**7; e["args"] = a
        if e.get("cat") == "ac2g":
            e["id"] += i * 10**7
        out.append(e)
d["traceEvents"] = out
json.dump(d, open(sys.argv[2], "w"))
PY
printf '%-34s %9s %9s %7s %6s %8s %10s %9s\n' file "MB (JSON)" events "wall s" "CPU s" "MB/s" "events/s" "peak RSS"
for f in "$D/linear_kineto.json.gz" "$T/big.json" "$@"; do
  /usr/bin/time -f '%e %U %S %M' -o "$T/time" "$LOOM" import pytorch --kineto "$f" -o "$T/out" > "$T/sum"
  read -r wall usr sys rss < "$T/time"
  mb=$(sed -n 's/.*Kineto: \([0-9.]*\) MB of JSON, \([0-9]*\) events.*/\1/p' "$T/sum")
  evn=$(sed -n 's/.*Kineto: \([0-9.]*\) MB of JSON, \([0-9]*\) events.*/\2/p' "$T/sum")
  python3 -c 'import sys
f,mb,ev,w,rss=sys.argv[1],float(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]),int(sys.argv[5])
c=max(float(sys.argv[6])+float(sys.argv[7]),0.01)
print("%-34s %9.1f %9d %7.2f %6.2f %8.1f %10.0f %6.0f MB" % (f[-34:], mb, ev, w, c, mb/c, ev/c, rss/1024))' \
    "$(basename "$f")" "$mb" "$evn" "$wall" "$rss" "$usr" "$sys"
done
