#!/usr/bin/env bash
# e2e.import_span_*: a matched ET + Kineto pair replays, with captured
# timing, to within 2% of the GPU-busy span its Kineto trace shows.  The
# span is computed here from the Kineto file, independently of loom: first
# GPU op (kernel, gpu_memcpy, gpu_memset) start to last GPU op end.  Two
# replays are checked: pt_contract_replay.py (an independent model of the
# trace contract, docs/IMPORT.md) and `loom run` itself.
# usage: import_span.sh LOOM SRCDIR NAME   (NAME: simple_add, linear)
set -uo pipefail
LOOM=$1
D=$2/test/data/pytorch
N=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
span=$(python3 -c 'import json,gzip,sys
e=[x for x in json.load(gzip.open(sys.argv[1]))["traceEvents"] if x.get("cat") in ("kernel","gpu_memcpy","gpu_memset")]
print(max(x["ts"]+x["dur"] for x in e)-min(x["ts"] for x in e))' "$D/${N}_kineto.json.gz")
"$LOOM" import pytorch -q --et "$D/${N}_et.json.gz" --kineto "$D/${N}_kineto.json.gz" -o "$T/p" || exit 1
# the import's own system file: compute-model trace, comm-model captured
grep -q 'comm-model: captured' "$T/p.system.yaml" || { echo "FAIL: no comm-model: captured"; exit 1; }
model=$(python3 "$2/test/e2e/pt_contract_replay.py" "$T/p" 1 | awk '{print $3}')
run=$("$LOOM" run --workload "$T/p" --system "$T/p.system.yaml" --network "$T/p.network.yaml" |
      awk '$1 == "0" && NF > 5 {print $2; exit}')
echo "$N: GPU-busy span $span us (from the Kineto file); contract model $model us; loom run $run us"
fail=0
within() { python3 -c 'import sys; s,v=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if abs(v-s)<=0.02*s else 1)' "$1" "$2"; }
within "$span" "$model" || { echo "FAIL: the contract model is not within 2%"; fail=1; }
within "$span" "$run" || { echo "FAIL: loom run is not within 2%"; fail=1; }
exit $fail
