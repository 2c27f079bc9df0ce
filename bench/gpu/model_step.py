#!/usr/bin/env python3
"""A whole training step of an MPT model on one CUDA GPU, as Composer's
amp_bf16 runs it, timed by phase (issue 11).

layer_step.py times layers; a step also runs the embedding, the output
layer and its loss, gradient clipping and the optimizer, which loom prices
with kernels of their own (zero_grad, cross entropy, grad_norm, optimizer,
param_copy: docs/WORKLOADS.md).  This script builds the whole model as
MosaicML's MPT is built (docs/VALIDATION.md "MosaicML's MPT tables"):
token embedding tied to the output layer, learned positions, the layers of
layer_step.py, a final LayerNorm; fp32 weights under torch.autocast(bf16)
with MPT's low-precision LayerNorm (bf16 inputs and weights, autocast off,
as llm-foundry's LPLayerNorm); cross entropy; gradients clipped to norm 1
(foreach); AdamW (foreach), as Composer's DecoupledAdamW steps its
parameters.  One GPU, so no FSDP communication: the step is what the GPU
computes.

Per step: optimizer.zero_grad(set_to_none), forward to the loss, backward,
clip, optimizer.step; CUDA events between the phases; WARMUP steps, then
REPS timed, medians.

Writes into --out DIR:
  steps.csv   case, hidden, heads, layers, micro_batch, seq, params,
              fwd_ms, bwd_ms, clip_ms, opt_ms, step_ms (medians),
              step_min_ms, reps, note
  step_kernels.csv  case, micro_batch, kernel, launches, us: one more
              step under torch.profiler, each kernel name's GPU time
  device.txt  versions, device, nvidia-smi before and after
A case that fails is a row with the error in its note; the exit status is
then 1.

Usage:
  python3 bench/gpu/model_step.py --out DIR
  python3 bench/gpu/model_step.py --dry-run        # the cases, no torch
Compare with loom: python3 bench/gpu/layer_compare.py --steps DIR --loom build-rel/loom
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernels import CsvOut, log, nvidia_smi, short  # noqa: E402
from layer_step import make_layer, profile_kernels, write_device  # noqa: E402

SEQ = 2048
VOCAB = 50368
WARMUP = 3
REPS = 5
# (case, hidden, heads, layers, micro-batch): the MPT table's H100 rows that
# fit one 141 GB GPU with weights, gradients and Adam state unsharded
# (scripts/validate MPT_SHAPE and MPT_H100)
CASES = [("mpt-760m", 1536, 12, 24, 24), ("mpt-1b", 2048, 16, 24, 14),
         ("mpt-3b", 2560, 20, 32, 6)]
COLS = ["case", "hidden", "heads", "layers", "micro_batch", "seq", "params", "fwd_ms", "bwd_ms",
        "clip_ms", "opt_ms", "step_ms", "step_min_ms", "reps", "note"]


def n_params(d, layers):
    """The MPT table's NumParams at sequence 2,048 (scripts/validate)."""
    return VOCAB * d + SEQ * d + layers * (12 * d * d + 13 * d) + 2 * d


def run_case(torch, F, backend, case):
    name, d, heads, nl, mbs = case
    f32, bf = torch.float32, torch.bfloat16

    def lp_ln(x, w, b):  # llm-foundry's LPLayerNorm: bf16, autocast off
        with torch.autocast("cuda", enabled=False):
            return F.layer_norm(x.to(bf), (d,), w.to(bf), b.to(bf))

    layers = [make_layer(torch, F, d, heads, backend, ln=lp_ln, wdtype=f32) for _ in range(nl)]

    def w(*shape):
        return (torch.randn(*shape, device="cuda", dtype=f32) * 0.02).requires_grad_()

    wte, wpe, lnw, lnb = w(VOCAB, d), w(SEQ, d), w(d), w(d)
    params = [wte, wpe, lnw, lnb] + [t for _, ps in layers for t in ps]
    assert sum(p.numel() for p in params) == n_params(d, nl), name
    opt = torch.optim.AdamW(params, lr=1e-5, foreach=True)
    tok = torch.randint(0, VOCAB, (mbs, SEQ), device="cuda")
    pos = torch.arange(SEQ, device="cuda")

    def forward():
        with torch.autocast("cuda", dtype=bf):
            x = (F.embedding(tok, wte) + F.embedding(pos, wpe)).to(bf)
            for f, _ in layers:
                x = f(x)
            logits = F.linear(lp_ln(x, lnw, lnb), wte)
            return F.cross_entropy(logits.view(-1, VOCAB).float(), tok.view(-1))

    def step(mark):
        """One training step; mark(i) after phase i (1 forward, 2 backward,
        3 clipping, 4 optimizer)."""
        opt.zero_grad(set_to_none=True)
        loss = forward()
        mark(1)
        loss.backward()
        mark(2)
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        mark(3)
        opt.step()
        mark(4)

    ph = {k: [] for k in ("fwd", "bwd", "clip", "opt", "step")}
    for i in range(WARMUP + REPS):
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(5)]
        torch.cuda.synchronize()
        ev[0].record()
        step(lambda j: ev[j].record())
        torch.cuda.synchronize()
        if i >= WARMUP:
            for k, a, b in (("fwd", 0, 1), ("bwd", 1, 2), ("clip", 2, 3), ("opt", 3, 4),
                            ("step", 0, 4)):
                ph[k].append(ev[a].elapsed_time(ev[b]))
    out = {k + "_ms": statistics.median(v) for k, v in ph.items()}
    out.update(step_min_ms=min(ph["step"]), reps=REPS)
    return out, profile_kernels(torch, lambda: step(lambda j: None))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--dry-run", action="store_true", help="list the cases; needs no torch")
    a = ap.parse_args()
    if a.dry_run:
        for c in CASES:
            print("%-9s d %5d heads %2d layers %2d micro-batch %2d  %.3f B parameters"
                  % (c[0], c[1], c[2], c[3], c[4], n_params(c[1], c[3]) / 1e9))
        return 0
    if not a.out:
        ap.error("--out DIR is required")
    os.makedirs(a.out, exist_ok=True)
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backend = lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION)  # noqa: E731
    dev_txt = os.path.join(a.out, "device.txt")
    write_device(torch, dev_txt)
    out = CsvOut(os.path.join(a.out, "steps.csv"), COLS)
    kout = CsvOut(os.path.join(a.out, "step_kernels.csv"),
                  ["case", "micro_batch", "kernel", "launches", "us"])
    torch.manual_seed(0)
    failed = 0
    for c in CASES:
        row = dict(case=c[0], hidden=c[1], heads=c[2], layers=c[3], micro_batch=c[4], seq=SEQ,
                   params=n_params(c[1], c[3]), note="")
        try:
            r, kern = run_case(torch, F, backend, c)
            row.update(r)
            if not kern:
                row["note"] = "no kernel profile"
            for name, n, us in kern:
                kout.row(dict(case=c[0], micro_batch=c[4], kernel=name[:200], launches=n,
                              us=us))
        except Exception as ex:  # an out-of-memory: a row with the error
            row["note"] = short(ex)
            failed += 1
        out.row(row)
        log("%-9s mb %2d  fwd %8.2f  bwd %8.2f  clip %6.2f  opt %6.2f  step %8.2f ms %s" % (
            c[0], c[4], row.get("fwd_ms", 0.0), row.get("bwd_ms", 0.0), row.get("clip_ms", 0.0),
            row.get("opt_ms", 0.0), row.get("step_ms", 0.0), row["note"]))
        torch.cuda.empty_cache()
    nvidia_smi(dev_txt, "after")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
