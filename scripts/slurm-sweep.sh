#!/usr/bin/env bash
# Spread one `loom sweep` over a Slurm job array, then merge the shards.
#
#   sbatch --array=0-7 scripts/slurm-sweep.sh SPEC.yaml OUTDIR
#       each array task runs `loom sweep SPEC.yaml --shard K/N` (K is the
#       0-based task id, N the number of tasks) into OUTDIR/shard-K-of-N.csv,
#       with one worker per CPU Slurm gave the task.  Array ids must be 0..N-1.
#       A task that is requeued or rerun resumes its shard where it stopped.
#   scripts/slurm-sweep.sh merge OUT.csv OUTDIR/shard-*.csv
#       concatenates shard CSVs into OUT.csv with one header row.  Every
#       input must have the same header (the same spec); a partial last line
#       left by a killed task is dropped; a configuration found in two inputs
#       is kept once.  OUT.csv is written to a temporary name and renamed.
#
# Environment: LOOM (default: loom on PATH) is the binary to run.
# Without Slurm, set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT yourself
# to run one shard (docs/SWEEP.md).
#
#SBATCH --job-name=loom-sweep
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --output=loom-sweep-%A_%a.log
set -euo pipefail

merge() {
  [ $# -ge 2 ] || { echo "usage: $0 merge OUT.csv SHARD.csv..." >&2; exit 2; }
  local out=$1; shift
  local header=""
  for f in "$@"; do
    [ -r "$f" ] || { echo "slurm-sweep: $f: cannot read" >&2; exit 2; }
    local h; h=$(head -n 1 "$f")
    if [ -z "$header" ]; then header=$h
    elif [ "$h" != "$header" ]; then
      echo "slurm-sweep: $f: its header differs from $1's: shards of different sweeps" >&2
      exit 2
    fi
  done
  local tmp; tmp=$(mktemp "$out.tmp.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  {
    printf '%s\n' "$header"
    for f in "$@"; do
      # rows only; a last line with no newline is a row cut by a kill: drop it
      if [ -n "$(tail -c 1 "$f")" ]; then
        echo "slurm-sweep: $f: dropped a partial last line" >&2
        tail -n +2 "$f" | sed '$d'
      else
        tail -n +2 "$f"
      fi
    done
  } | awk -F, '
      NR == 1 { print; next }
      # the spec hash (last column) is one sweep'"'"'s; the key (first) is kept once
      spec == "" { spec = $NF }
      $NF != spec { print "slurm-sweep: rows of two different specs (" spec ", " $NF ")" > "/dev/stderr"; exit 3 }
      !seen[$1]++' > "$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$out"
  trap - EXIT
  echo "slurm-sweep: $out: $(( $(wc -l < "$out") - 1 )) rows from $# shard files" >&2
}

if [ "${1:-}" = "merge" ]; then
  shift
  merge "$@"
  exit 0
fi

[ $# -eq 2 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
spec=$1 outdir=$2
k=${SLURM_ARRAY_TASK_ID:?not an array task: submit with sbatch --array=0-N-1 (see $0)}
n=${SLURM_ARRAY_TASK_COUNT:-$(( ${SLURM_ARRAY_TASK_MAX:?} - ${SLURM_ARRAY_TASK_MIN:-0} + 1 ))}
mkdir -p "$outdir"
rc=0
"${LOOM:-loom}" sweep "$spec" -j "${SLURM_CPUS_PER_TASK:-1}" --shard "$k/$n" \
  --out "$outdir/shard-$k-of-$n.csv" --quiet || rc=$?
# 4: every configuration has a row, some not ok (their status and error
# columns say why): the shard itself is complete
if [ $rc -eq 4 ]; then
  echo "slurm-sweep: shard $k/$n: some configurations failed; see the status column" >&2
  rc=0
fi
exit $rc
