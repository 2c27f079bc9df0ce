#!/usr/bin/env bash
# e2e.import: `loom import pytorch` on every capture of test/data/pytorch
# (alone or in its pair): the result is a clean trace (`loom trace
# validate`) that replays (`loom run`), and bad input fails with one line,
# the documented exit code and no output left.
# usage: import_pytorch.sh LOOM SRCDIR
set -uo pipefail
LOOM=$1
D=$2/test/data/pytorch
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# Each import replays with the system file it wrote (captured times:
# compute-model trace, comm-model captured; ET alone: the kernel model on
# --device, each op's kernels priced by their shapes).

imp() { # name, import args...
  local n=$1; shift
  if ! "$LOOM" import pytorch "$@" -o "$T/$n" > "$T/$n.out" 2> "$T/$n.err"; then
    bad "$n: import failed: $(cat "$T/$n.err")"; return 1
  fi
  for f in "$T/$n.0.et" "$T/$n.system.yaml" "$T/$n.network.yaml"; do
    [ -f "$f" ] || bad "$n: $f missing"
  done
  "$LOOM" trace validate "$T/$n" > "$T/$n.val" 2>&1 || bad "$n: trace validate: $(tail -3 "$T/$n.val")"
}

replay() { # name, system file
  "$LOOM" run --workload "$T/$1" --system "$2" --network "$T/$1.network.yaml" > "$T/$1.run" 2>&1 ||
    bad "$1: loom run: $(tail -3 "$T/$1.run")"
}

imp sa --et "$D/simple_add_et.json.gz" --kineto "$D/simple_add_kineto.json.gz" && replay sa "$T/sa.system.yaml"
imp lin --et "$D/linear_et.json.gz" --kineto "$D/linear_kineto.json.gz" && replay lin "$T/lin.system.yaml"
imp samp --kineto "$D/sampled_kineto_rank0.json.gz" --kineto "$D/sampled_kineto_rank1.json.gz" &&
  replay samp "$T/samp.system.yaml"
imp nccl --kineto "$D/nccl_2rank_kineto_rank0.json.gz" && replay nccl "$T/nccl.system.yaml"
# ET alone: priced from shapes, the kernel model on the device named; resnet as
# two data-parallel ranks on the 2-GPU switch the import writes
imp pt2 --et "$D/pt2_et.json.gz" --device h100-sxm && replay pt2 "$T/pt2.system.yaml"
imp res --et "$D/resnet_et.json.gz" --et "$D/resnet_et.json.gz" && replay res "$T/res.system.yaml"
grep -q 'compute-model: kernel' "$T/res.system.yaml" || bad "res: not the kernel model"
grep -q '^comm-sms: 16 ' "$T/res.system.yaml" || bad "res: NCCL's SMs not written"
grep -q 'comm-sms' "$T/sa.system.yaml" && bad "sa: comm-sms with measured kernel times"
grep -q 'compute model kernel' "$T/res.run" || bad "res: replayed without the kernel model"
grep -q 'npus_count: \[ 2 \]' "$T/res.network.yaml" || bad "res: network is not 2 GPUs"
grep -q 'comm-model: captured' "$T/sa.system.yaml" || bad "sa: no comm-model: captured"

# the summary: the sampled ranks' ProfilerStep#552 as the fixtures' README
# measured it (622,928 us and 630,639 us)
grep -q 'ProfilerStep#552: 622928.000 us' "$T/samp.out" || bad "samp: rank 0 step: $(cat "$T/samp.out")"
grep -q 'ProfilerStep#552: 630639.000 us' "$T/samp.out" || bad "samp: rank 1 step"
# the host (docs/MODEL.md 12): rank 0's launches and the intervals where
# the GPU waited for one, as counted with Python from the Kineto file
# (every cudaLaunchKernel whose kernel is there: 1,154; consecutive ones
# of a thread where the previous kernel had ended when the call returned
# and the kernel started within 20 us: 160, median 86 us)
grep -q 'host: 1154 kernel launches in the file, the GPU waited for 160, 86.0 us apart there (median)' \
  "$T/samp.out" || bad "samp: host line: $(grep host: "$T/samp.out")"
# --step picks another iteration (README: #551 took 607,312 us on rank 0)
"$LOOM" import pytorch --kineto "$D/sampled_kineto_rank0.json.gz" --step 551 -o "$T/s551" > "$T/s551.out" 2>&1
grep -q 'ProfilerStep#551: 607312.000 us' "$T/s551.out" || bad "--step 551: $(cat "$T/s551.out")"

# same inputs, same bytes
"$LOOM" import pytorch -q --kineto "$D/nccl_2rank_kineto_rank0.json.gz" -o "$T/nccl2" || bad "nccl2"
cmp -s "$T/nccl.0.et" "$T/nccl2.0.et" || bad "import is not deterministic"

# bad input: one line naming the file, exit 3 (2 for usage), nothing written
refuse() { # code, what, args...
  local code=$1 what=$2; shift 2
  rm -f "$T"/x.*
  "$LOOM" import pytorch "$@" -o "$T/x" > "$T/x.log" 2>&1
  local rc=$?
  [ $rc -eq "$code" ] || bad "$what: exit $rc, want $code: $(cat "$T/x.log")"
  [ "$(wc -l < "$T/x.log")" -eq 1 ] || bad "$what: not one line: $(cat "$T/x.log")"
  ls "$T"/x.* 2>/dev/null | grep -v 'x.log' && bad "$what: output left"
  return 0
}
gzip -dc "$D/simple_add_kineto.json.gz" | head -c 1500 > "$T/trunc.json"
refuse 3 truncated --kineto "$T/trunc.json"
grep -q 'truncated JSON' "$T/x.log" || bad "truncated: $(cat "$T/x.log")"
python3 -c '
import json,gzip,sys
d=json.load(gzip.open(sys.argv[1]))
d["traceEvents"]=[e for e in d["traceEvents"] if e.get("cat") not in ("kernel","gpu_memcpy","gpu_memset")]
json.dump(d,open(sys.argv[2],"w"))' "$D/simple_add_kineto.json.gz" "$T/nogpu.json"
refuse 3 "no GPU events" --kineto "$T/nogpu.json"
grep -q 'no GPU events' "$T/x.log" || bad "no gpu: $(cat "$T/x.log")"
refuse 3 "mismatched pair" --et "$D/linear_et.json.gz" --kineto "$D/simple_add_kineto.json.gz"
grep -q 'pid 24248.*pid 563677' "$T/x.log" || bad "mismatch: $(cat "$T/x.log")"
gzip -dc "$D/pt2_et.json.gz" | sed 's/"1.1.1-chakra.0.0.4"/"2.0.0"/' > "$T/schema.json"
refuse 3 "unknown schema" --et "$T/schema.json"
grep -q 'unknown execution-trace schema "2.0.0"' "$T/x.log" || bad "schema: $(cat "$T/x.log")"
refuse 2 "missing step" --kineto "$D/sampled_kineto_rank0.json.gz" --step 7
grep -q 'no ProfilerStep#7 (steps 551 .. 552)' "$T/x.log" || bad "step: $(cat "$T/x.log")"
refuse 2 "step without steps" --kineto "$D/simple_add_kineto.json.gz" --step 1
refuse 2 "uneven pairs" --et "$D/linear_et.json.gz" --et "$D/linear_et.json.gz" --kineto "$D/linear_kineto.json.gz"
refuse 3 "missing file" --kineto "$T/nope.json"
# a FIFO nobody writes to, or a folder: refused at once (et_io's regular-file rule), never waited on
mkfifo "$T/fifo"
refuse 3 "fifo" --kineto "$T/fifo"
refuse 3 "fifo et" --et "$T/fifo"
refuse 3 "folder" --kineto "$T"
# ops nested 20,000 deep (a chain of parents): refused, not a stack overflow
python3 -c '
import json,gzip,copy,sys
d=json.load(gzip.open(sys.argv[1])); t=[n for n in d["nodes"] if n["id"]==7][0]
nodes=[n for n in d["nodes"] if n["id"]==2]; prev=2
for k in range(20000):
    n=copy.deepcopy(t); n["id"]=100+k; n["ctrl_deps"]=prev; n["name"]="aten::relu"; nodes.append(n); prev=n["id"]
d["nodes"]=nodes; json.dump(d,open(sys.argv[2],"w"))' "$D/pt2_et.json.gz" "$T/deep.json"
refuse 3 "deep" --et "$T/deep.json"
grep -q 'nested deeper than' "$T/x.log" || bad "deep: $(cat "$T/x.log")"
refuse 2 "unknown device" --et "$D/pt2_et.json.gz" --device nope
grep -q "device 'nope' is not in the catalog" "$T/x.log" || bad "device: $(cat "$T/x.log")"
# --strict refuses what is otherwise repaired with a warning: the sampled
# ranks issue their collectives in different orders (a filtered capture of
# a 128-rank job whose groups the trace does not name)
refuse 3 "strict" --strict --kineto "$D/sampled_kineto_rank0.json.gz" --kineto "$D/sampled_kineto_rank1.json.gz"
grep -q -- '--strict: 3 collectives disagree' "$T/x.log" || bad "strict: $(cat "$T/x.log")"

# -o DIR/prefix creates DIR (as gen does), and a failed import removes it
"$LOOM" import pytorch -q --kineto "$D/simple_add_kineto.json.gz" -o "$T/newdir/p" || bad "newdir"
[ -f "$T/newdir/p.0.et" ] || bad "newdir: no trace"
"$LOOM" import pytorch -q --kineto "$T/nope.json" -o "$T/gone/p" 2> /dev/null && bad "gone: exit 0"
[ -e "$T/gone" ] && bad "a failed import left its folder"

[ $fail -eq 0 ] && echo "e2e.import: ok"
exit $fail
