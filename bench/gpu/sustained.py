#!/usr/bin/env python3
"""Sustained GEMM throughput against the clock, on one CUDA GPU (issue 11).

loom prices FP8 GEMMs at the speed of single GEMMs timed on a cool H200
(bench/gpu/h200-2026-11-28), and is 10-20% fast on NeMo's FP8 training runs
(docs/VALIDATION.md); the candidate no session could check is the clock a
GPU holds when FP8 GEMMs run back to back for seconds, as in training.
This script measures exactly that, and the split against the fast FP8
accumulation (Transformer Engine runs its data- and weight-gradient GEMMs
with the split one; docs/DEVICES.md "FP8 accumulation") interleaved, so
that warming affects both alike.

For --seconds S, in rounds: every mode on every shape, one burst each (the
same GEMM back to back for about --burst-ms, timed by CUDA events around
the burst), while nvidia-smi samples the SM clock, power and temperature
every 100 ms.  Modes: bf16 (torch.matmul), fp8-fast and fp8-split
(torch._scaled_mm, per-tensor scales, bf16 output, use_fast_accum True /
False), the GEMMs built by kernels.py's gemm_fn.  Shapes: layers of the
held-out NeMo FP8 rows (SHAPES).

Writes into --out DIR, row by row:
  bursts.csv   round, mode, shape, t_s (since the first burst), iters, ms,
               tflops, and the nvidia-smi samples inside the burst averaged:
               sm_mhz, power_w, temp_c, samples, throttle (the reasons seen)
  smi.csv      nvidia-smi's raw samples
  summary.md   per mode and shape: the first burst against the steady state
               (bursts in the last half of the run): TFLOP/s, clock, power;
               and per shape split / fast accumulation in the steady state
  device.txt   nvidia-smi before and after

Usage:
  python3 bench/gpu/sustained.py --out DIR [--seconds 90] [--burst-ms 250]
  python3 bench/gpu/sustained.py --dry-run           # the plan, no torch
  python3 bench/gpu/sustained.py --summary-from DIR  # summary.md again, no torch
  python3 bench/gpu/sustained.py --self-test         # the join and summary
"""
import argparse
import csv
import datetime
import os
import statistics
import subprocess
import sys
import time

# (name, M, N, K): tokens x outputs x inputs of a linear layer's forward GEMM
SHAPES = [
    ("llama3-8b fc1", 8192, 2 * 14336, 4096),     # 8K tokens, gated MLP, tp 1
    ("llama3-8b fc2", 8192, 4096, 14336),
    ("gpt3-5b fc1", 8192, 16384, 4096),           # mb 4 x 2048 tokens
    ("llama3-70b fc1 tp4", 8192, 2 * 28672 // 4, 8192),
]
MODES = [("bf16", dict(dtype="bf16", layout="NT", fast=False)),
         ("fp8-fast", dict(dtype="fp8", layout="NT", fast=True)),
         ("fp8-split", dict(dtype="fp8", layout="NT", fast=False))]
# --attention: causal attention forward + backward as one MPT-7B layer at
# micro-batch 6 runs it (batch, heads, sequence, head dimension), on the
# flash and cuDNN back-ends, interleaved with the GEMMs: inside layers loom
# prices attention 4-30% fast while isolated kernels read within a few
# percent (docs/DEVICES.md "The H200 again"); this times it hot.
ATTN_MODES = [("attn-flash", "FLASH_ATTENTION"), ("attn-cudnn", "CUDNN_ATTENTION")]
ATTN_SHAPE = ("mpt-7b attention b6", 6, 32, 2048, 128)
SMI_QUERY = "timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active"
BURST_COLS = ["round", "mode", "shape", "t_s", "wall0", "wall1", "iters", "ms", "tflops",
              "sm_mhz", "power_w", "temp_c", "samples", "throttle"]


def smi_time(stamp):
    """nvidia-smi's timestamp ("2026/11/30 03:10:00.123", local time) as
    seconds since the epoch, or None."""
    try:
        d = datetime.datetime.strptime(stamp.strip(), "%Y/%m/%d %H:%M:%S.%f")
    except ValueError:
        return None
    return time.mktime(d.timetuple()) + d.microsecond * 1e-6


def read_smi(path):
    """smi.csv's samples: (epoch s, sm MHz, W, C, throttle mask string)."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            c = [x.strip() for x in line.split(",")]
            if len(c) < 5:
                continue
            t = smi_time(c[0])
            try:
                out.append((t, float(c[1]), float(c[2]), float(c[3]), c[4]))
            except ValueError:
                continue
    return [s for s in out if s[0] is not None]


def join(burst, samples):
    """The samples inside [wall0, wall1] averaged into the burst's row."""
    w0, w1 = float(burst["wall0"]), float(burst["wall1"])
    inside = [s for s in samples if w0 <= s[0] <= w1]
    burst["samples"] = len(inside)
    if inside:
        burst["sm_mhz"] = "%.0f" % statistics.mean(s[1] for s in inside)
        burst["power_w"] = "%.1f" % statistics.mean(s[2] for s in inside)
        burst["temp_c"] = "%.0f" % statistics.mean(s[3] for s in inside)
        burst["throttle"] = " ".join(sorted(set(s[4] for s in inside)))
    return burst


def num(row, key):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return None


def summarize(rows):
    """summary.md's text from the bursts' rows."""
    if not rows:
        return "no bursts\n"
    end = max(float(r["t_s"]) for r in rows)
    keys = []
    for r in rows:
        if (r["mode"], r["shape"]) not in keys:
            keys.append((r["mode"], r["shape"]))
    lines = ["| mode | shape | first TFLOP/s | steady TFLOP/s | steady / first | "
             "first MHz | steady MHz | steady W | steady bursts |", "|---|---|---|---|---|---|---|---|---|"]
    steady_tf = {}
    for mode, shape in keys:
        rs = [r for r in rows if r["mode"] == mode and r["shape"] == shape and num(r, "tflops")]
        if not rs:
            lines.append("| %s | %s | failed | | | | | | 0 |" % (mode, shape))
            continue
        st = [r for r in rs if float(r["t_s"]) >= end / 2] or rs[-1:]
        tf0, tfs = num(rs[0], "tflops"), statistics.median(num(r, "tflops") for r in st)
        steady_tf[(mode, shape)] = tfs
        mhz = [num(r, "sm_mhz") for r in st if num(r, "sm_mhz")]
        watts = [num(r, "power_w") for r in st if num(r, "power_w")]
        lines.append("| %s | %s | %.1f | %.1f | %.3f | %s | %s | %s | %d |" % (
            mode, shape, tf0, tfs, tfs / tf0, rs[0].get("sm_mhz") or "-",
            "%.0f" % statistics.mean(mhz) if mhz else "-",
            "%.0f" % statistics.mean(watts) if watts else "-", len(st)))
    lines.append("")
    lines.append("| shape | steady fp8-split / fp8-fast time | steady fp8-fast / bf16 TFLOP/s |")
    lines.append("|---|---|---|")
    for shape in dict.fromkeys(s for _, s in keys):
        f, sp, b = (steady_tf.get((m, shape)) for m in ("fp8-fast", "fp8-split", "bf16"))
        if f is None and sp is None and b is None:
            continue  # a shape of other modes (--attention's)
        lines.append("| %s | %s | %s |" % (shape, "%.3f" % (f / sp) if f and sp else "-",
                                           "%.3f" % (f / b) if f and b else "-"))
    return ("Steady: the bursts in the last half of the run (after %.0f s).\n\n" % (end / 2)
            + "\n".join(lines) + "\n")


def write_summary(folder):
    with open(os.path.join(folder, "bursts.csv")) as f:
        rows = list(csv.DictReader(f))
    text = summarize(rows)
    with open(os.path.join(folder, "summary.md"), "w") as f:
        f.write(text)
    return text


def smi_snapshot(path, when):
    try:
        p = subprocess.run(["nvidia-smi", "-q", "-d", "CLOCK,POWER,TEMPERATURE,PERFORMANCE"],
                           capture_output=True, text=True, timeout=15)
        txt = (p.stdout or "") + (p.stderr or "")
    except Exception as ex:  # no nvidia-smi: the bursts carry no clock
        txt = "nvidia-smi: %s" % ex
    with open(path, "a") as f:
        f.write("--- %s ---\n%s\n" % (when, txt.strip()))


def burst(torch, fn, iters):
    """ms of iters back-to-back launches, timed on the GPU."""
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    torch.cuda.synchronize()
    return start.elapsed_time(stop)


def attn_flops(b, h, s, d):
    """Causal forward + backward as loom counts it: 3.5 x 4 b h s^2 d / 2."""
    return 3.5 * 0.5 * 4.0 * b * h * s * s * d


def attn_fn(torch, backend, b, h, s, d):
    """One causal SDPA forward and its backward on the named back-end."""
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    be = getattr(SDPBackend, backend)
    q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))
    go = torch.randn(b, h, s, d, device="cuda", dtype=torch.bfloat16)

    def fn():
        with sdpa_kernel(be):
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return torch.autograd.grad(o, (q, k, v), go)
    return fn


def work_items(attention):
    """(mode, shape name, FLOPs a call, builder(torch) -> fn) in burst order."""
    from kernels import gemm_fn
    items = []
    for mode, spec in MODES:
        for name, M, N, K in SHAPES:
            sp = dict(spec, M=M, N=N, K=K)
            items.append((mode, name, 2.0 * M * N * K, lambda torch, sp=sp: gemm_fn(torch, sp)))
    if attention:
        name, b, h, s, d = ATTN_SHAPE
        for mode, be in ATTN_MODES:
            items.append((mode, name, attn_flops(b, h, s, d),
                          lambda torch, be=be: attn_fn(torch, be, b, h, s, d)))
    return items


def run(args):
    import torch
    os.makedirs(args.out, exist_ok=True)
    dev = os.path.join(args.out, "device.txt")
    with open(dev, "w") as f:
        f.write("torch %s, %s; %s\n" % (torch.__version__, torch.cuda.get_device_name(0),
                                        " ".join(sys.argv[1:])))
    smi_snapshot(dev, "before")
    fns, iters, failed = {}, {}, {}
    items = work_items(args.attention)
    for mode, name, _, build in items:
        try:
            fn = build(torch)
            fn()
            per = burst(torch, fn, 3) / 3
            fns[(mode, name)] = fn
            iters[(mode, name)] = max(1, int(args.burst_ms / max(per, 1e-3)))
        except Exception as ex:
            failed[(mode, name)] = str(ex).splitlines()[0][:120] if str(ex) else type(ex).__name__
            print("%s %s: %s" % (mode, name, failed[(mode, name)]), file=sys.stderr)
    smi_path = os.path.join(args.out, "smi.csv")
    sampler, smi_out = None, open(smi_path, "w")
    try:
        sampler = subprocess.Popen(["nvidia-smi", "--query-gpu=" + SMI_QUERY,
                                    "--format=csv,noheader,nounits", "-lms", "100"],
                                   stdout=smi_out, stderr=subprocess.DEVNULL)
    except OSError as ex:
        print("nvidia-smi: %s (no clocks in bursts.csv)" % ex, file=sys.stderr)
    rows = []
    with open(os.path.join(args.out, "bursts.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=BURST_COLS)
        w.writeheader()
        t0, rnd = time.monotonic(), 0
        while time.monotonic() - t0 < args.seconds:
            for mode, name, flops, _ in items:
                key = (mode, name)
                row = dict(round=rnd, mode=mode, shape=name,
                           t_s="%.3f" % (time.monotonic() - t0), iters=iters.get(key, 0))
                row["wall0"] = "%.3f" % time.time()
                if key in fns:
                    ms = burst(torch, fns[key], iters[key])
                    row["ms"] = "%.3f" % ms
                    row["tflops"] = "%.1f" % (flops * iters[key] / (ms * 1e-3) / 1e12)
                else:
                    row["throttle"] = "failed: " + failed.get(key, "?")
                row["wall1"] = "%.3f" % time.time()
                rows.append(row)
                w.writerow(row)
                f.flush()
            rnd += 1
    if sampler:
        sampler.terminate()
        sampler.wait(timeout=10)
    smi_out.close()
    smi_snapshot(dev, "after")
    samples = read_smi(smi_path)
    rows = [join(r, samples) for r in rows]
    with open(os.path.join(args.out, "bursts.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=BURST_COLS)
        w.writeheader()
        w.writerows(rows)
    print(write_summary(args.out))
    return 0


def self_test():
    """The join and the summary on made-up rows: two modes, two rounds."""
    base = time.mktime(datetime.datetime(2026, 11, 30, 3, 0, 0).timetuple())
    smi = [(base + 0.05 + 0.1 * i, 1980.0 if i < 10 else 1500.0, 600.0 + i, 50.0, "0x0")
           for i in range(20)]
    assert abs(smi_time("2026/11/30 03:00:01.250") - (base + 1.25)) < 1e-6
    assert smi_time("garbage") is None
    rows = [dict(mode="fp8-fast", shape="s", t_s="0", wall0=base, wall1=base + 0.5, tflops="1200"),
            dict(mode="fp8-split", shape="s", t_s="0.5", wall0=base + 0.5, wall1=base + 1.0,
                 tflops="1000"),
            dict(mode="fp8-fast", shape="s", t_s="1.0", wall0=base + 1.0, wall1=base + 1.5,
                 tflops="900"),
            dict(mode="fp8-split", shape="s", t_s="1.5", wall0=base + 1.5, wall1=base + 2.0,
                 tflops="750")]
    rows = [join(r, smi) for r in rows]
    # samples at .05 .15 .25 .35 .45 in the first burst: 1980 MHz, 600-604 W
    assert rows[0]["samples"] == 5 and rows[0]["sm_mhz"] == "1980" and rows[0]["power_w"] == "602.0"
    assert rows[2]["sm_mhz"] == "1500" and rows[2]["samples"] == 5
    text = summarize(rows)
    # steady = t_s >= 0.75: fast 900 against a first 1200 (0.750); split 750 / 1000;
    # split / fast time = 900 / 750 = 1.200
    assert "| fp8-fast | s | 1200.0 | 900.0 | 0.750 | 1980 | 1500 |" in text, text
    assert "| s | 1.200 | - |" in text, text
    # a shape of other modes only (--attention's) has no row in the ratio table
    att = join(dict(mode="attn-flash", shape="a", t_s="0", wall0=base, wall1=base + 0.5,
                    tflops="200"), smi)
    text = summarize(rows + [att])
    assert "| attn-flash | a | 200.0 | 200.0 | 1.000 |" in text and "| a | -" not in text, text
    # --attention: the causal forward + backward's FLOPs, and its items last
    assert attn_flops(1, 1, 128, 64) == 3.5 * 0.5 * 4 * 128 * 128 * 64
    items = work_items(True)
    assert [i[0] for i in items[-2:]] == ["attn-flash", "attn-cudnn"]
    assert len(items) == len(MODES) * len(SHAPES) + 2 and len(work_items(False)) == len(items) - 2
    print("sustained.py self-test: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", help="output folder (created)")
    ap.add_argument("--seconds", type=float, default=90.0, help="length of the run (default 90)")
    ap.add_argument("--burst-ms", type=float, default=250.0,
                    help="GPU time of one burst (default 250)")
    ap.add_argument("--attention", action="store_true",
                    help="also causal attention forward+backward, flash and cuDNN")
    ap.add_argument("--dry-run", action="store_true", help="print the plan only")
    ap.add_argument("--summary-from", metavar="DIR", help="rewrite DIR/summary.md, no torch")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if args.summary_from:
        print(write_summary(args.summary_from))
        return 0
    if args.dry_run:
        n = len(MODES) * len(SHAPES) + (len(ATTN_MODES) if args.attention else 0)
        per_round = n * args.burst_ms / 1e3
        print("%d bursts a round of %.0f ms: a round is %.1f s, about %d rounds in "
              "%.0f s (plus torch's start, about 20 s)" % (
                  n, args.burst_ms, per_round, max(1, int(args.seconds / per_round)),
                  args.seconds))
        for name, M, N, K in SHAPES:
            print("  %-20s M %5d N %5d K %5d  %.2f TFLOP" % (name, M, N, K, 2.0 * M * N * K / 1e12))
        if args.attention:
            name, b, h, s, d = ATTN_SHAPE
            print("  %-20s b %d h %d s %d d %d  %.2f TFLOP (flash, cuDNN)" % (
                name, b, h, s, d, attn_flops(b, h, s, d) / 1e12))
        return 0
    if not args.out:
        ap.error("--out DIR is needed")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
