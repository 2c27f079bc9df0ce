#!/usr/bin/env python3
"""loom's price of one transformer layer against layer_step.py's
measurements (issue 11).  Standard library only; needs a built loom.

For every row of DIR/layers.csv: `loom gen llm` writes the same layer
(the MPT arguments of scripts/validate, one GPU, micro-batch = global
batch, --granularity kernel) with 4 layers on the measuring device, `loom
run --timeline` replays it, and the durations of layer 1's nodes
(L1.F*, L1.R*, L1.B*: a middle layer, as the measured stack's) are
loom's forward and step time a layer.  The kernels of DIR/
layer_kernels.csv and loom's nodes are also summed per class (GEMM,
attention forward and backward, norms, GELU, adds, the bias gradients'
reductions, copies, other), so the report says where the time differs.

With --steps DIR (model_step.py's steps.csv): the whole model, one GPU,
one micro-batch, fp32 gradients (amp_bf16), and loom's step split as the
measured one is: forward (F and R nodes), backward (B), the gradient norm
(S*.grad_norm: the clipping) and the optimizer (S*.optimizer and
S*.param_copy); S*.zero_grad apart (torch's set_to_none runs no kernel).

Usage:
  python3 bench/gpu/layer_compare.py --in DIR --loom build-rel/loom [--device h200]
                                     [--out report.md]
  python3 bench/gpu/layer_compare.py --steps DIR --loom build-rel/loom [--out report.md]
  python3 bench/gpu/layer_compare.py --self-test
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the CSV readers, the report writer)

CLASSES = ["gemm", "attn_fwd", "attn_bwd", "norm", "gelu", "add", "bias_grad", "copy",
           "other"]


def measured_class(kernel):
    """The class of a CUDA kernel's name (torch.profiler's key)."""
    k = kernel.lower()
    if "flash_fwd" in k or "sdpa" in k and "fprop" in k or "fmha" in k and "bwd" not in k:
        return "attn_fwd"
    if "flash_bwd" in k or "sdpa" in k or "fmha" in k or "cudnn::fusion" in k:
        return "attn_bwd"  # cuDNN's backward: bprop, dot_do_o, convert_dq
    if k.startswith("nvjet") or "gemm" in k or "splitkreduce" in k or "cublas" in k:
        return "gemm"
    if "layer_norm" in k or "gammabeta" in k:
        return "norm"
    if "gelu" in k:
        return "gelu"
    if "functor_add" in k:
        return "add"
    if "reduce_kernel" in k and "sum" in k:
        return "bias_grad"
    if "copy" in k:
        return "copy"
    return "other"


def loom_class(node):
    """The class of a `gen llm` node name, L<l>.<F|R|B><mb>.<kernel>."""
    k = node.split(".", 2)[2]
    if k.startswith("flash_attn"):
        return "attn_bwd" if k.endswith("_bwd") else "attn_fwd"
    if k.endswith("_bgrad"):
        return "bias_grad"
    base = k.split("_")[0]
    if base in ("qkv", "proj", "fc1", "fc2"):
        return "gemm"
    if base in ("ln1", "ln2"):
        return "norm"
    if base == "gelu":
        return "gelu"
    if base.startswith("resid"):
        return "add"
    return "other"


def loom_call(cmd):
    """Runs a loom command; one line naming it and why when it cannot run
    or fails (loom's own message is on stderr above it), exit status 1."""
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as ex:
        raise SystemExit("layer_compare.py: %s: %s" % (" ".join(cmd[:3]), ex))


def loom_timeline(loom, device, row, work, layers, extra):
    """gen llm + run --timeline of row's model on one GPU: the timeline's
    complete events."""
    d, heads, mbs = int(row["hidden"]), int(row["heads"]), int(row["micro_batch"])
    prefix = os.path.join(work, "step")
    gen = [loom, "gen", "llm", "--preset", "gpt3-175b", "--hidden", str(d), "--ffn", str(4 * d),
           "--heads", str(heads), "--layers", str(layers), "--hidden-dropout", "0",
           "--attention-dropout", "0", "--seq", row["seq"], "--vocab", "50368",
           "--embeddings", "tied", "--attention", "flash", "--global-batch", str(mbs),
           "--micro-batch", str(mbs), "--tp", "1", "--pp", "1", "--dp", "1",
           "--device", device, "--dtype", "bf16", "--granularity", "kernel",
           "--out", prefix, "-q"] + extra
    loom_call(gen)
    net = os.path.join(work, "net.yaml")
    with open(net, "w") as f:
        f.write("topology: [ Switch ]\nnpus_count: [ 1 ]\nbandwidth: [ 450 ]\nlatency: [ 500 ]\n")
    tl = os.path.join(work, "timeline.json")
    loom_call([loom, "run", "-w", prefix, "-s", prefix + ".system.yaml", "-n", net,
               "--timeline", tl, "-q"])
    with open(tl) as f:
        return [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]


def loom_layer(loom, device, row, work):
    """{'fwd_ms', 'step_ms', class: ms} of layer 1 as loom prices it."""
    events = loom_timeline(loom, device, row, work, 4, [
        "--recompute", "full" if row["recompute"] == "1" else "none", "--attention-kernel",
        "cudnn" if row.get("backend") == "cudnn" else "flash2"])
    out = {c: 0.0 for c in CLASSES}
    out["fwd_ms"] = out["step_ms"] = 0.0
    for e in events:
        name = e.get("name", "")
        if not name.startswith("L1."):
            continue
        ms = e["dur"] / 1e3
        out["step_ms"] += ms
        if name.startswith("L1.F"):
            out["fwd_ms"] += ms
        out[loom_class(name)] += ms
    return out


STEP_PARTS = ["fwd", "bwd", "clip", "opt", "zero"]


def step_part(name):
    """The part of a step a gen llm node belongs to (STEP_PARTS)."""
    ph = name.split(".")[1][0] if name.startswith("L") else name[0]
    if ph in "FR":
        return "fwd"
    if ph == "B":
        return "bwd"
    k = name.split(".")[-1]
    return {"grad_norm": "clip", "zero_grad": "zero"}.get(k, "opt")


def loom_step(loom, device, row, work, optimizer):
    """{part: ms} of the whole model's step as loom prices it (STEP_PARTS),
    with gen llm's --optimizer OPTIMIZER."""
    events = loom_timeline(loom, device, row, work, int(row["layers"]),
                           ["--recompute", "none", "--zero", "0", "--grad-dtype", "fp32",
                            "--optimizer", optimizer])
    out = {p: 0.0 for p in STEP_PARTS}
    for e in events:
        out[step_part(e["name"])] += e["dur"] / 1e3
    return out


def step_report(rows, loom_rows, device, optimizer):
    """The markdown report of --steps (a list of lines)."""
    L = ["# One training step on one GPU: measured against loom (`%s`, `--optimizer %s`)"
         % (device, optimizer), "",
         "ms a step; error = (loom - measured) / measured.  loom's optimizer is its",
         "optimizer and param_copy kernels; its zero_grad (a kernel of `--optimizer fused`,",
         "Megatron's buffer zeroing; none with foreach, torch's set_to_none) is counted",
         "in its step and shown apart.", "",
         "| case | mb | part | measured | loom | error |", "|---|---|---|---|---|---|"]
    errs = []
    for r, m in zip(rows, loom_rows):
        if not r["step_ms"]:
            L.append("| %s | %s | (%s) | | | |" % (r["case"], r["micro_batch"], r["note"]))
            continue
        for part in ("fwd", "bwd", "clip", "opt", "step"):
            meas = float(r[part + "_ms"])
            model = sum(m.values()) if part == "step" else m[part]
            L.append("| %s | %s | %s | %.2f | %.2f | %+.1f%% |" % (
                r["case"], r["micro_batch"], part, meas, model, pct(model, meas)))
        L.append("| %s | %s | zero_grad | - | %.2f | |" % (r["case"], r["micro_batch"],
                                                          m["zero"]))
        errs.append(pct(sum(m.values()), float(r["step_ms"])))
    if errs:
        L += ["", "Step error: mean %+.1f%% (%d rows)." % (sum(errs) / len(errs), len(errs))]
    return L


def pct(model, meas):
    return 100.0 * (model - meas) / meas


def report(rows, kern, loom_rows, device):
    """The markdown report (a list of lines)."""
    L = ["# One transformer layer: measured against loom (`%s`)" % device, "",
         "Per layer, forward and forward + backward (with the recomputed forward where",
         "`rc` is 1); error = (loom - measured) / measured, negative: loom fast.", "",
         "| case | mb | rc | measured fwd ms | loom fwd ms | error | measured step ms "
         "| loom step ms | error | kernels ms | gaps |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    errs = []
    for r, m in zip(rows, loom_rows):
        if not r["step_ms"]:
            L.append("| %s | %s | %s | (%s) |" % (r["case"], r["micro_batch"], r["recompute"],
                                                  r["note"]))
            continue
        fw, st = float(r["fwd_ms"]), float(r["step_ms"])
        ks = sum(float(k["us_per_layer"]) for k in kern
                 if (k["case"], k["micro_batch"], k["recompute"]) ==
                 (r["case"], r["micro_batch"], r["recompute"])) / 1e3
        errs.append(pct(m["step_ms"], st))
        L.append("| %s | %s | %s | %.3f | %.3f | %+.1f%% | %.3f | %.3f | %+.1f%% | %.3f | %.1f%% |"
                 % (r["case"], r["micro_batch"], r["recompute"], fw, m["fwd_ms"],
                    pct(m["fwd_ms"], fw), st, m["step_ms"], errs[-1], ks,
                    100.0 * (st - ks) / st if ks else 0.0))
    if errs:
        L += ["", "Step error: mean %+.1f%%, mean |error| %.1f%%, range %+.1f%% .. %+.1f%% "
              "(%d rows)." % (sum(errs) / len(errs), sum(abs(e) for e in errs) / len(errs),
                              min(errs), max(errs), len(errs))]
    L += ["", "`kernels ms`: the GPU time of the profiled iteration's kernels a layer;",
          "`gaps`: the share of the measured step in which no kernel ran.", "",
          "## Per class, ms a layer (measured kernels / loom)", "",
          "| case | mb | rc | " + " | ".join(CLASSES) + " |",
          "|---|---|---|" + "---|" * len(CLASSES)]
    for r, m in zip(rows, loom_rows):
        key = (r["case"], r["micro_batch"], r["recompute"])
        meas = {c: 0.0 for c in CLASSES}
        for k in kern:
            if (k["case"], k["micro_batch"], k["recompute"]) == key:
                meas[measured_class(k["kernel"])] += float(k["us_per_layer"]) / 1e3
        L.append("| %s | %s | %s | " % key + " | ".join(
            "%.2f / %.2f" % (meas[c], m[c]) for c in CLASSES) + " |")
    return L


def self_test():
    assert measured_class("nvjet_sm90_tst_192x192_64x4_2x1_v_bz_coopB_bias_TNN") == "gemm"
    assert measured_class("void pytorch_flash::flash_bwd_dot_do_o_kernel<true>") == "attn_bwd"
    assert measured_class("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<"
                          "128, 128, 64, 4, false, false, cutlass::bfloat16_t>>") == "attn_fwd"
    assert measured_class("void at::native::(anonymous namespace)::GammaBetaBackward") == "norm"
    assert measured_class("void at::native::reduce_kernel<128, 4, at::native::ReduceOp<"
                          "c10::BFloat16, at::native::func_wrapper_t<c10::BFloat16, "
                          "at::native::sum_functor") == "bias_grad"
    assert measured_class("void at::native::(anonymous namespace)::CatArrayBatchedCopy") == "copy"
    assert measured_class("Memset (Device)") == "other"
    assert measured_class("cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_7_"
                          "64x128x128_4x1x1_cga1x1x1_kernel0_0") == "attn_fwd"
    assert measured_class("cudnn_generated_fort_native_sdpa_sm90_flash_bprop_wgmma_f16_knob_26_"
                          "64x64x128_1x4x1_cga1x1x1_kernel0_0") == "attn_bwd"
    assert measured_class("void cudnn::fusion::compute_dot_do_o_specialized<true, 128>") == \
        "attn_bwd"
    assert loom_class("L1.B0.fc2_wgrad") == "gemm" and loom_class("L1.R0.ln1") == "norm"
    assert loom_class("L1.B0.flash_attn_bwd") == "attn_bwd"
    assert loom_class("L1.F0.flash_attn") == "attn_fwd"
    assert loom_class("L1.B0.resid2_acc") == "add" and loom_class("L1.B0.gelu_bwd") == "gelu"
    assert loom_class("L1.B0.qkv_bgrad") == "bias_grad" and loom_class("L1.B0.qkv_dgrad") == "gemm"
    assert abs(pct(90.0, 100.0) + 10.0) < 1e-12
    assert step_part("L3.F0.qkv") == "fwd" and step_part("L0.R1.ln1") == "fwd"
    assert step_part("B0.logits_dgrad") == "bwd" and step_part("F0.embed") == "fwd"
    assert step_part("S0.grad_norm") == "clip" and step_part("S0.param_copy") == "opt"
    assert step_part("S0.optimizer") == "opt" and step_part("S0.zero_grad") == "zero"
    print("layer_compare self-test: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", help="layer_step.py's output directory")
    ap.add_argument("--steps", help="model_step.py's output directory")
    ap.add_argument("--optimizer", default="foreach", choices=("foreach", "fused"),
                    help="gen llm --optimizer for --steps (foreach: what model_step.py runs)")
    ap.add_argument("--loom", default="build-rel/loom")
    ap.add_argument("--device", default="h200", help="catalog device measured (h200)")
    ap.add_argument("--out", help="also write the report here (it goes to stdout)")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.inp and not a.steps:
        ap.error("--in DIR or --steps DIR is required")
    if a.steps:
        rows = compare.read_table(os.path.join(a.steps, "steps.csv"), "layer_compare.py")
        with tempfile.TemporaryDirectory() as work:
            loom_rows = [loom_step(a.loom, a.device, r, work, a.optimizer) for r in rows]
        text = "\n".join(step_report(rows, loom_rows, a.device, a.optimizer)) + "\n"
    else:
        rows = compare.read_table(os.path.join(a.inp, "layers.csv"), "layer_compare.py")
        kern = compare.read_csv(os.path.join(a.inp, "layer_kernels.csv")) or []
        with tempfile.TemporaryDirectory() as work:
            loom_rows = [loom_layer(a.loom, a.device, r, work) for r in rows]
        text = "\n".join(report(rows, kern, loom_rows, a.device)) + "\n"
    compare.emit(text, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
