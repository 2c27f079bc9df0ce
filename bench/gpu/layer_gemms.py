#!/usr/bin/env python3
"""The GEMMs of the MPT layers that layer_step.py times, one by one, at
three duty cycles, on one CUDA GPU (issue 11).

Inside the H200's MPT layers (bench/gpu/h200-2026-11-30, layer_compare.md)
the largest layers' GEMMs ran at 77-79% of the bf16 peak, where GEMMs of
their size timed alone (gemm.csv, each after an L2 flush) reached 64-72%
and GEMM-only bursts (sustained.py) 67-70%: the kernel model, fitted on
GEMMs timed alone, prices them about 8% slow inside a layer
(docs/DEVICES.md "Whole layers").  This times every GEMM of those layers
(forward, data gradient and weight gradient of QKV, the output
projection, FC1 and FC2, with the forward's bias in its epilogue as
F.linear runs it) three ways:

  alone   kernels.py's single launches, the L2 flushed before each
          (Ctx.measure's median)
  loop    LOOP_N launches back to back, per launch (GEMMs only: the
          power cap's regime)
  duty    each launch after a copy whose bytes take about DUTY of the
          GEMM's alone time at COPY_GBS, timed by events around the GEMM
          only, so that the GEMMs hold the GPU about three quarters of the
          time, as in the layers (their other kernels: a quarter); the
          median

Writes into --out DIR: layer_gemms.csv (case, micro_batch, gemm, M, N, K,
layout, flops, alone_us, loop_us, duty_us, copy_bytes, note) and
device.txt (as kernels.py's, nvidia-smi before and after).  A GEMM that
fails (out of memory) is a row with the error in its note.

Usage:
  python3 bench/gpu/layer_gemms.py --out DIR [--cases mpt-7b,mpt-30b] [--budget-s 240]
  python3 bench/gpu/layer_gemms.py --dry-run          # the shapes, no torch
  python3 bench/gpu/layer_gemms.py --compare DIR/layer_gemms.csv [--device h200]
                                   [--report FILE.md]  # against the kernel model
  python3 bench/gpu/layer_gemms.py --self-test
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kernels  # noqa: E402
from kernels import CsvOut, log, nvidia_smi, short  # noqa: E402
from layer_step import CASES, SEQ  # noqa: E402

LOOP_N = 20            # back-to-back launches timed together (loop)
DUTY = 0.33            # copies beside a GEMM, as a fraction of its alone time (duty)
DUTY_REPS = 10         # GEMMs timed between copies (duty)
COPY_GBS = 3000.0      # a bf16 copy's speed to size its bytes by, GB/s (H200: 4.2 TB/s)
COLS = ["case", "micro_batch", "gemm", "M", "N", "K", "layout", "flops", "alone_us",
        "loop_us", "duty_us", "copy_bytes", "note"]
# the layer's linear layers: name, output width, input width (x hidden)
LINEARS = (("qkv", 3, 1), ("proj", 1, 1), ("fc1", 4, 1), ("fc2", 1, 4))


def shapes(case):
    """The GEMMs of one layer of case (name, hidden, heads, micro-batch,
    recompute) as dicts: C[M x N] = A[M x K] B[K x N]; layout NT: the
    forward, X W^T with the bias (F.linear); NN: the data gradient dY W;
    TN: the weight gradient dY^T X."""
    name, d, _, mbs, _ = case
    t = mbs * SEQ
    out = []
    for lin, o, i in LINEARS:
        n_out, k_in = o * d, i * d
        out.append(dict(gemm=lin, M=t, N=n_out, K=k_in, layout="NT"))
        out.append(dict(gemm=lin + "_dgrad", M=t, N=k_in, K=n_out, layout="NN"))
        out.append(dict(gemm=lin + "_wgrad", M=n_out, N=k_in, K=t, layout="TN"))
    for g in out:
        g.update(case=name, micro_batch=mbs, flops=2 * g["M"] * g["N"] * g["K"])
    return out


def selected(names):
    want = set(n.strip() for n in names.split(",")) if names else None
    return [c for c in CASES if want is None or c[0] in want]


def gemm_fn(torch, F, g):
    """The forward as F.linear with its bias (the epilogue the layers ran);
    the gradients as kernels.py builds its NN and TN GEMMs."""
    if g["layout"] != "NT":
        return kernels.gemm_fn(torch, dict(g, dtype="bf16", fast=False))
    bf, dev = torch.bfloat16, "cuda"
    x = torch.randn(g["M"], g["K"], device=dev, dtype=bf)
    w = torch.randn(g["N"], g["K"], device=dev, dtype=bf)
    b = torch.randn(g["N"], device=dev, dtype=bf)
    return lambda: F.linear(x, w, b)


def time_loop(ctx, fn, n):
    s, e = ctx.event(), ctx.event()
    fn()
    s.record()
    for _ in range(n):
        fn()
    e.record()
    ctx.torch.cuda.synchronize()
    return s.elapsed_time(e) * 1000.0 / n


def time_duty(ctx, fn, src, dst, reps):
    pairs = [(ctx.event(), ctx.event()) for _ in range(reps)]
    dst.copy_(src)
    fn()
    for s, e in pairs:  # one copy between consecutive GEMMs
        dst.copy_(src)
        s.record()
        fn()
        e.record()
    ctx.torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) * 1000.0 for s, e in pairs)


def run(args):
    import torch
    import torch.nn.functional as F
    from kernels import Ctx, write_device
    if not torch.cuda.is_available():
        log("no CUDA device visible to torch")
        return 1
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    est = dict(total=0.0, gemm=0.0, attention=0.0, elementwise=0.0)
    write_device(torch, os.path.join(args.out, "device.txt"), args, est)
    ctx = Ctx(torch, args.out, args.budget_s, t0)
    out = CsvOut(os.path.join(args.out, "layer_gemms.csv"), COLS)
    bad = 0
    for case in selected(args.cases):
        for g in shapes(case):
            row = dict(g)
            if ctx.past(1.0):
                row["note"] = "skipped: past the budget"
                out.row(row)
                continue
            fn = src = dst = None
            try:
                fn = gemm_fn(torch, F, g)
                row["alone_us"] = ctx.measure(fn)["time_us"]
                row["loop_us"] = time_loop(ctx, fn, LOOP_N)
                n = max(1 << 20, int(DUTY * row["alone_us"] * COPY_GBS * 1e3 / 2) // 2 * 2)
                src = torch.empty(n // 2, device="cuda", dtype=torch.bfloat16)
                dst = torch.empty(n // 2, device="cuda", dtype=torch.bfloat16)
                row["copy_bytes"] = 2 * n  # read and written
                row["duty_us"] = time_duty(ctx, fn, src, dst, DUTY_REPS)
            except Exception as ex:
                row["note"] = "error: " + short(ex)
                bad += 1
            fn = src = dst = None
            torch.cuda.empty_cache()
            out.row(row)
            log("%-9s mb %2d %-10s %6d %6d %6d %s alone %s loop %s duty %s us  [%.0fs]" % (
                g["case"], g["micro_batch"], g["gemm"], g["M"], g["N"], g["K"], g["layout"],
                _f(row.get("alone_us")), _f(row.get("loop_us")), _f(row.get("duty_us")),
                ctx.elapsed()))
    out.close()
    nvidia_smi(os.path.join(args.out, "device.txt"), "after")
    log("done in %.0f s" % (time.time() - t0))
    return 1 if bad else 0


def _f(v):
    return "-" if v is None else "%.1f" % v


def compare(path, device, devices):
    """The measured rows against the kernel model's price on device
    (kernel_model.py's mirror of compute/comp_kernel.c): a markdown report."""
    import compare as cmp
    import kernel_model as km
    dev = cmp.load_device(devices, device)
    hw = km.kernel_hw(devices, device)
    kp = km.device_kp(devices, device)
    rows = cmp.read_table(path, "layer_gemms.py")
    for i, r in enumerate(rows):
        try:
            [int(r[k]) for k in ("M", "N", "K")]
        except (KeyError, TypeError, ValueError):
            raise SystemExit("layer_gemms.py: %s: row %d: no whole M, N, K (not a "
                             "layer_gemms.csv)" % (path, i + 2))
    lines = ["# The MPT layers' GEMMs: measured against the kernel model (`%s`)" % device, "",
             "us a GEMM; error = (loom - measured) / measured, negative: loom fast.", "",
             "| case | mb | gemm | M | N | K | loom | alone | loop | duty | err alone | "
             "err loop | err duty |", "|" + "---|" * 13]
    errs = {"alone": [], "loop": [], "duty": []}
    for r in rows:
        M, N, K = int(r["M"]), int(r["N"]), int(r["K"])
        by = cmp.gemm_bytes(M, N, K, "bf16")
        p = 1e6 * km.gemm_s(kp, hw, dev["peak"]["bf16"], dev["mem_bw"], M, N, K, 1, by, False)
        cells, es = [], []
        for m in ("alone", "loop", "duty"):
            v = r.get(m + "_us")
            if v:
                e = (p - float(v)) / float(v) * 100.0
                errs[m].append(e)
                cells.append("%.1f" % float(v))
                es.append("%+.1f%%" % e)
            else:
                cells.append("-")
                es.append("-")
        lines.append("| %s | %s | %s | %d | %d | %d | %.1f | %s | %s |" % (
            r["case"], r["micro_batch"], r["gemm"], M, N, K, p, " | ".join(cells),
            " | ".join(es)))
    lines.append("")
    for m, v in errs.items():
        if v:
            lines.append("%s: mean %+.1f%%, mean |error| %.1f%% (%d GEMMs)  " % (
                m, statistics.mean(v), statistics.mean(abs(x) for x in v), len(v)))
    return "\n".join(lines) + "\n", errs


def self_test():
    # MPT-7B at micro-batch 6: 12 GEMMs, 3 x 24 T d^2 FLOPs (forward, data
    # and weight gradients)
    case = [c for c in CASES if c[0] == "mpt-7b"][0]
    g = shapes(case)
    t, d = 6 * SEQ, 4096
    assert len(g) == 12 and sum(x["flops"] for x in g) == 72 * t * d * d
    fc2w = [x for x in g if x["gemm"] == "fc2_wgrad"][0]
    assert (fc2w["M"], fc2w["N"], fc2w["K"], fc2w["layout"]) == (d, 4 * d, t, "TN")
    assert len(selected("mpt-7b,mpt-70b")) == 3 and len(selected(None)) == len(CASES)
    # the report on made-up rows: measured = the model's price x 1.25 (alone),
    # x 1.0 (loop), none (duty)
    import compare as cmp
    import kernel_model as km
    dev = cmp.load_device(cmp.DEFAULT_DEVICES, "h200")
    hw = km.kernel_hw(cmp.DEFAULT_DEVICES, "h200")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer_gemms.csv")
        out = CsvOut(path, COLS)
        for x in g[:3]:
            by = cmp.gemm_bytes(x["M"], x["N"], x["K"], "bf16")
            p = 1e6 * km.gemm_s(dict(km.DEFAULT), hw, dev["peak"]["bf16"], dev["mem_bw"],
                                x["M"], x["N"], x["K"], 1, by, False)
            out.row(dict(x, alone_us=1.25 * p, loop_us=p))
        out.close()
        text, errs = compare(path, "h200", cmp.DEFAULT_DEVICES)
    assert all(abs(e + 20.0) < 1e-3 for e in errs["alone"]), errs  # the CSV's digits
    assert all(abs(e) < 1e-3 for e in errs["loop"]) and not errs["duty"], errs
    assert "alone: mean -20.0%" in text and "| mpt-7b | 6 | qkv | 12288 | 12288 | 4096 |" in text
    # a file that is not one: one line naming it, no traceback
    with tempfile.TemporaryDirectory() as tmp:
        for name, body, want in (("none.csv", None, "no such file"),
                                 ("other.csv", "a,b\n1,2\n", "row 2: no whole M, N, K")):
            path = os.path.join(tmp, name)
            if body is not None:
                with open(path, "w") as f:
                    f.write(body)
            try:
                compare(path, "h200", cmp.DEFAULT_DEVICES)
                raise AssertionError("compare accepted " + name)
            except SystemExit as ex:
                assert path in str(ex) and want in str(ex), str(ex)
    print("layer_gemms self-test: ok (%d cases, %d GEMMs)" % (
        len(CASES), sum(len(shapes(c)) for c in CASES)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output folder (created)")
    ap.add_argument("--cases", help="comma-separated case names (default: all of layer_step.py's)")
    ap.add_argument("--budget-s", type=float, default=240.0,
                    help="start no GEMM once this much wall time has passed")
    ap.add_argument("--dry-run", action="store_true", help="print the GEMMs only")
    ap.add_argument("--compare", metavar="CSV", help="report CSV against the kernel model")
    ap.add_argument("--device", default="h200", help="catalog device for --compare")
    ap.add_argument("--report", help="with --compare: also write the report here")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if args.compare:
        import compare as cmp
        text, _ = compare(args.compare, args.device, cmp.DEFAULT_DEVICES)
        cmp.emit(text, args.report)
        return 0
    if args.dry_run:
        for c in selected(args.cases):
            for g in shapes(c):
                log("%-9s mb %2d %-11s %6d %6d %6d %s" % (g["case"], g["micro_batch"], g["gemm"],
                                                       g["M"], g["N"], g["K"], g["layout"]))
        return 0
    if not args.out:
        ap.error("--out DIR is required")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
