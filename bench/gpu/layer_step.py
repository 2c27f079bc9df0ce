#!/usr/bin/env python3
"""Whole transformer layers, forward and backward, timed on one CUDA GPU
with PyTorch in eager mode (issue 11).

kernels.py times kernels one at a time; a training step runs them back to
back from Python, with the reshapes, the residual adds and the gaps
between launches that a per-kernel model may leave out.  This script
times a stack of NL identical GPT layers, as MosaicML's MPT models are
built (docs/VALIDATION.md "MosaicML's MPT tables"): LayerNorm with bias,
one fused QKV Linear with bias, causal flash attention (head dimension
128), output Linear, residual add, LayerNorm, Linear 4d + GELU, Linear d,
residual add; bf16 weights and activations (what FSDP's mixed precision
hands the layer), no dropout.  The shapes are those of the H100 rows of
the MPT table: hidden size, heads, micro-batch at sequence 2,048, and full
recomputation (torch.utils.checkpoint per layer) where the row had it.

Per iteration: the forward of the stack with autograd recording, then
torch.autograd.grad of the output (a random gradient) with respect to the
stack's input and every weight: the data and weight gradients a middle
layer of a training step computes.  CUDA events around each, WARMUP
iterations, then REPS timed; ms per layer = the median / NL.

Writes into --out DIR:
  layers.csv   case, hidden, heads, micro_batch, seq, layers, recompute,
               backend, fwd_ms, bwd_ms, step_ms (per layer, medians),
               fwd_min_ms, step_min_ms, reps, tflops (model FLOPs of a
               layer / step_ms: 24 T d^2 + 2 T s d forward, x3 with the
               backward, x4 with recomputation), note
  layer_kernels.csv  case, micro_batch, recompute, kernel, launches (in
               the iteration, all NL layers), us_per_layer: one more
               iteration under torch.profiler, the GPU time of each kernel
               name divided by NL
  device.txt   versions, device, nvidia-smi before and after

A case that fails (an out-of-memory, a back-end this torch lacks) is a row
with the error in its note; the others still run, and the exit status is
1 if any failed.

Usage:
  python3 bench/gpu/layer_step.py --out DIR [--layers 4] [--backend flash]
  python3 bench/gpu/layer_step.py --dry-run        # the cases, no torch
Compare with loom: python3 bench/gpu/layer_compare.py --in DIR --loom build-rel/loom
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernels import CsvOut, log, nvidia_smi, short  # noqa: E402

SEQ = 2048
WARMUP = 3
REPS = 8
# (case, hidden, heads, micro-batch, recompute): every distinct (model,
# micro-batch, checkpointing) of the MPT table's H100 rows (scripts/validate
# MPT_H100; the shapes are MPT_SHAPE there)
CASES = [("mpt-760m", 1536, 12, 24, 0), ("mpt-1b", 2048, 16, 14, 0),
         ("mpt-1b", 2048, 16, 20, 0), ("mpt-3b", 2560, 20, 6, 0),
         ("mpt-3b", 2560, 20, 10, 0), ("mpt-7b", 4096, 32, 6, 0),
         ("mpt-13b", 5120, 40, 2, 0), ("mpt-30b", 7168, 56, 3, 1),
         ("mpt-30b", 7168, 56, 10, 1), ("mpt-30b", 7168, 56, 14, 1),
         ("mpt-70b", 8192, 64, 2, 1), ("mpt-70b", 8192, 64, 8, 1)]
KCOLS = ["case", "micro_batch", "recompute", "kernel", "launches", "us_per_layer"]
COLS = ["case", "hidden", "heads", "micro_batch", "seq", "layers", "recompute", "backend",
        "fwd_ms", "bwd_ms", "step_ms", "fwd_min_ms", "step_min_ms", "reps", "tflops", "note"]


def layer_flops(d, mbs, seq, recompute):
    """Model FLOPs of one layer's forward + backward: the GEMMs 24 T d^2 and
    causal attention 2 T s d (half of 4 T s d) forward, the backward twice
    the forward, one more forward with recomputation."""
    t = mbs * seq
    fwd = 24 * t * d * d + 2 * t * seq * d
    return fwd * (4 if recompute else 3)


def make_layer(torch, F, d, heads, backend, ln=None, wdtype=None):
    """The weights of one layer (wdtype, default bf16) and its forward as a
    function of x [b, s, d]; ln(x, w, b) replaces F.layer_norm (model_step.py:
    the low-precision LayerNorm of MPT under autocast)."""
    dt = wdtype or torch.bfloat16

    def w(*shape):
        return (torch.randn(*shape, device="cuda", dtype=dt) * 0.02).requires_grad_()

    if ln is None:
        def ln(x, w, b):
            return F.layer_norm(x, (d,), w, b)

    p = dict(ln1w=w(d), ln1b=w(d), wqkv=w(3 * d, d), bqkv=w(3 * d), wo=w(d, d), bo=w(d),
             ln2w=w(d), ln2b=w(d), w1=w(4 * d, d), b1=w(4 * d), w2=w(d, 4 * d), b2=w(d))
    hd = d // heads

    def fwd(x):
        b, s = x.shape[0], x.shape[1]
        h = ln(x, p["ln1w"], p["ln1b"])
        qkv = F.linear(h, p["wqkv"], p["bqkv"]).view(b, s, 3, heads, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        with backend():
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + F.linear(a.transpose(1, 2).reshape(b, s, d), p["wo"], p["bo"])
        h = ln(x, p["ln2w"], p["ln2b"])
        h = F.gelu(F.linear(h, p["w1"], p["b1"]))
        return x + F.linear(h, p["w2"], p["b2"])
    return fwd, list(p.values())


def run_case(torch, F, ckpt, backend, case, nl):
    name, d, heads, mbs, rc = case
    layers = [make_layer(torch, F, d, heads, backend) for _ in range(nl)]
    params = [t for _, ps in layers for t in ps]
    x = torch.randn(mbs, SEQ, d, device="cuda", dtype=torch.bfloat16).requires_grad_()
    gy = torch.randn(mbs, SEQ, d, device="cuda", dtype=torch.bfloat16)

    def forward():
        y = x
        for f, _ in layers:
            y = ckpt(f, y, use_reentrant=False) if rc else f(y)
        return y

    fw, st = [], []
    for i in range(WARMUP + REPS):
        e0, e1, e2 = (torch.cuda.Event(enable_timing=True) for _ in range(3))
        torch.cuda.synchronize()
        e0.record()
        y = forward()
        e1.record()
        torch.autograd.grad(y, [x] + params, gy)
        e2.record()
        torch.cuda.synchronize()
        del y
        if i >= WARMUP:
            fw.append(e0.elapsed_time(e1))
            st.append(e0.elapsed_time(e2))
    f_ms, s_ms = statistics.median(fw) / nl, statistics.median(st) / nl
    kern = profile_kernels(torch, lambda: torch.autograd.grad(forward(), [x] + params, gy))
    return kern, dict(fwd_ms=f_ms, bwd_ms=s_ms - f_ms, step_ms=s_ms, fwd_min_ms=min(fw) / nl,
                step_min_ms=min(st) / nl, reps=REPS,
                tflops=layer_flops(d, mbs, SEQ, rc) / (s_ms * 1e-3) / 1e12)


def profile_kernels(torch, step):
    """One more iteration under torch.profiler: [(kernel, launches, total
    us)] of the GPU's kernels, busiest first; [] where the profiler is
    missing (then the row's note says so)."""
    try:
        from torch.profiler import ProfilerActivity, profile
    except ImportError:
        return []
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", None)
        if us is None:
            us = getattr(e, "self_cuda_time_total", 0)
        if us > 0 and not e.key.startswith("aten::"):
            rows.append((e.key, e.count, float(us)))
    return sorted(rows, key=lambda r: -r[2])


def write_device(torch, path):
    """device.txt: the date, versions, device, arguments and nvidia-smi's
    figures before the run (kernels.nvidia_smi appends them again after)."""
    with open(path, "w") as f:
        f.write("date: %s UTC\ntorch: %s\ncuda: %s\ndevice: %s\nargs: %s\n" % (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), torch.__version__,
            torch.version.cuda, torch.cuda.get_device_name(0), " ".join(sys.argv[1:])))
    nvidia_smi(path, "before")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--layers", type=int, default=4, help="layers in the stack (4)")
    ap.add_argument("--backend", default="flash", choices=("flash", "cudnn"),
                    help="the SDPA back-end forced for attention (flash)")
    ap.add_argument("--dry-run", action="store_true", help="list the cases; needs no torch")
    a = ap.parse_args()
    if a.dry_run:
        for c in CASES:
            print("%-9s d %5d heads %2d micro-batch %2d recompute %d  %.2f TFLOP a layer"
                  % (c[0], c[1], c[2], c[3], c[4], layer_flops(c[1], c[3], SEQ, c[4]) / 1e12))
        return 0
    if not a.out:
        ap.error("--out DIR is required")
    if a.layers < 1:
        ap.error("--layers %d: at least 1" % a.layers)
    os.makedirs(a.out, exist_ok=True)
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.checkpoint import checkpoint
    kind = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
    backend = lambda: sdpa_kernel(kind[a.backend])  # noqa: E731
    dev_txt = os.path.join(a.out, "device.txt")
    write_device(torch, dev_txt)
    out = CsvOut(os.path.join(a.out, "layers.csv"), COLS)
    kout = CsvOut(os.path.join(a.out, "layer_kernels.csv"), KCOLS)
    torch.manual_seed(0)
    failed = 0
    for c in CASES:
        row = dict(case=c[0], hidden=c[1], heads=c[2], micro_batch=c[3], seq=SEQ,
                   layers=a.layers, recompute=c[4], backend=a.backend, note="")
        try:
            kern, r = run_case(torch, F, checkpoint, backend, c, a.layers)
            row.update(r)
            for name, n, us in kern:
                kout.row(dict(case=c[0], micro_batch=c[3], recompute=c[4], kernel=name[:200],
                              launches=n, us_per_layer=us / a.layers))
            if not kern:
                row["note"] = "no kernel profile"
        except Exception as ex:  # an out-of-memory or a missing back-end: a row with the error
            row["note"] = short(ex)
            failed += 1
        out.row(row)
        log("%-9s mb %2d rc %d  fwd %8.3f ms  step %8.3f ms a layer  %6.1f TFLOP/s %s" % (
            c[0], c[3], c[4], row.get("fwd_ms", 0.0), row.get("step_ms", 0.0),
            row.get("tflops", 0.0), row["note"]))
        torch.cuda.empty_cache()
    nvidia_smi(dev_txt, "after")
    if failed:
        log("%d of %d cases failed (their rows' note says why)" % (failed, len(CASES)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
