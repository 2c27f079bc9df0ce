#!/usr/bin/env python3
"""Measured kernel times against loom's `kernel` compute model, and the fit
of its constants (docs/DEVICES.md "The kernel model").

compute/comp_kernel.c, written out again here (the self-test checks the
hand-worked examples of test/compute/test_comp_kernel.c give the same):

  GEMM batch x (m x k)(k x n), S SMs, peak P, each tile tm x tn of the
  device's gemm-tiles:
    tiles = batch ceil(m/tm) ceil(n/tn)
    split = tiles < S ? max(1, min(S // tiles, k // 512)) : 1
    waves = ceil(tiles split / S)
    t = launch_g + max(min_tiles waves 2 tm tn (ceil(k/split) + k0) / (P/S e_g),
                       bytes / (M e_gmem))
  flash attention (fwd; bwd with e_ab and key blocks):
    blocks = batch ceil(rows / 128); waves = ceil(blocks / S)
    t = launch_a + max(waves (F / blocks) / (P/S e_a), bytes / (M e_e))
  elementwise: t = launch_e + bytes / (M e_e)
  dropout (torch's native_dropout, the dropout class): e_d for e_e
  norm (torch's layer_norm and rms_norm, the norm class): e_n, launch_n

Fitting (--fit): the constants are fitted on the EVEN rows (0, 2, 4, ...)
of each CSV and the error is reported on the ODD rows (held out), next to
the roofline of the catalog as shipped on the same rows.  Only kernel-level
measurements are used; no step-level training run.  The fit is a
coordinate search on a fixed grid (deterministic; standard library only):
    GEMM e_g, k0, e_gmem, launch_g   on bf16 GEMMs; fp8 factor on fp8 GEMMs
    e_a, launch_a                    on flash forward rows
    e_ab                             on flash fwd+bwd rows (fwd + bwd kernels)
    the same three for cuDNN         on the cudnn rows (attention-kernel: cudnn)
    e_e, launch_e                    on elementwise rows (priced as
                                     elementwise, dropout's among them)
    e_d                              on the dropout rows, launch_e kept
    e_n, launch_n                    on the layer_norm and rms_norm rows
                                     (the even rows of each kernel)

Usage: python3 bench/gpu/kernel_model.py --in DIR [--fit] [--out FILE.md]
       python3 bench/gpu/kernel_model.py --self-test
"""
import argparse
import math
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (the roofline, the CSV readers)

# comp_kparams_default() in compute/comp_kernel.c: keep the two equal (the
# self-test reads the C file and checks).
DEFAULT = dict(gemm_eff=0.73, gemm_k0=64, gemm_mem_eff=0.70, gemm_fp8=0.92, gemm_launch=5e-6,
               attn_eff=0.31, attn_bwd_eff=0.25, attn_launch=50e-6, elem_eff=0.83,
               elem_launch=5e-6, drop_eff=0.63, norm_eff=0.76, norm_launch=10.5e-6)
# The cuDNN attention family (compute/comp_kernel.c's attn_fit table, the
# system file's attention-kernel: cudnn); the self-test checks it too.
CUDNN = dict(attn_eff=0.66, attn_bwd_eff=0.47, attn_launch=32e-6)
# The attn_fit table's dropout factors (forward, backward): a fused
# attention's time with dropout 0.1 inside over its time without, the mean
# over the shapes of an attention_dropout.csv (drop_ratios below), rounded
# to 0.01; the self-test recomputes them from bench/gpu/h200-2026-11-30.
ATTN_DROP = {"FLASH2": (1.20, 1.13), "CUDNN": (1.99, 1.21)}
SPLITK_MIN_K = 512
ATTN_BLOCK = 128


def device_block(devices_path, name):
    """The text of a catalog device's entry (its indented keys)."""
    src = open(devices_path).read()
    m = re.search(r"^%s:\n((?:(?:  .*|\s*)\n)+)" % re.escape(name), src, re.M)
    if not m:
        raise SystemExit("kernel_model.py: device %s not in %s" % (name, devices_path))
    return m.group(1)


def kernel_hw(devices_path, name):
    """sms and gemm-tiles of a catalog device (the kernel model's figures)."""
    block = device_block(devices_path, name)
    sms = int(re.search(r"^  sms: (\d+)", block, re.M).group(1))
    tiles = re.search(r"^  gemm-tiles: \[([^\]]*)\]", block, re.M).group(1)
    tl = [tuple(int(v) for v in t.strip().split("x")) for t in tiles.split(",")]
    return sms, tl


def attention_eff(devices_path, name):
    """A catalog device's own attention efficiencies (attention-efficiency:
    {family: [fwd, bwd]}), as {family: (fwd, bwd)}; {} when it has none."""
    a = re.search(r"^  attention-efficiency: \{([^}]*)\}", device_block(devices_path, name),
                  re.M)
    if not a:
        return {}
    return {f: (float(x), float(y)) for f, x, y in
            re.findall(r"(\w+): \[([0-9.]+), ([0-9.]+)\]", a.group(1))}


def gemm_scale(devices_path, name):
    """A catalog device's gemm-efficiency-scale (1 when it gives none): the
    factor on the GEMM efficiency fitted on the H200, as loom applies it."""
    m = re.search(r"^  gemm-efficiency-scale: ([0-9.]+)", device_block(devices_path, name), re.M)
    return float(m.group(1)) if m else 1.0


def device_kp(devices_path, name):
    """The constants loom prices a device's kernels with: the fitted ones,
    the GEMM efficiency times the device's scale."""
    out = dict(DEFAULT)
    out["gemm_eff"] = min(1.0, out["gemm_eff"] * gemm_scale(devices_path, name))
    return out


def drop_ratios(path):
    """{backend: (forward, backward)} from an attention_dropout.csv: per
    shape, the forward time with dropout 0.1 over dropout 0, and the
    backward's (forward+backward less forward) likewise; the mean over the
    shapes."""
    t = {}
    for r in compare.read_csv(path):
        if r.get("time_us"):
            key = (r["backend"], r["pass"], r["batch"], r["heads"], r["seq"])
            t[key + (float(r["dropout_p"]) > 0,)] = float(r["time_us"])
    out = {}
    for be in sorted({k[0] for k in t}):
        fw, bw = [], []
        for k in sorted(k for k in t if k[0] == be and k[1] == "fwd" and not k[5]):
            f0, f1 = t[k], t.get(k[:5] + (True,))
            both = (be, "fwd+bwd") + k[2:5]
            s0, s1 = t.get(both + (False,)), t.get(both + (True,))
            if f1 is None or s0 is None or s1 is None:
                continue
            fw.append(f1 / f0)
            bw.append((s1 - f1) / (s0 - f0))
        if fw:
            out[be] = (statistics.mean(fw), statistics.mean(bw))
    return out


def cdiv(a, b):
    return a // b + (a % b != 0)


def gemm_s(kp, hw, peak, mem_bw, m, n, k, batch, nbytes, fp8):
    sms, tiles = hw
    eff = kp["gemm_eff"] * (kp["gemm_fp8"] if fp8 else 1.0)
    per_sm = peak / sms
    best = math.inf
    for tm, tn in tiles:
        nt = batch * cdiv(m, tm) * cdiv(n, tn)
        split = 1
        if nt < sms:
            split = max(1, min(sms // nt, k // SPLITK_MIN_K))
        w = cdiv(nt * split, sms)
        t = w * 2.0 * tm * tn * (cdiv(k, split) + kp["gemm_k0"]) / (per_sm * eff)
        best = min(best, t)
    return kp["gemm_launch"] + max(best, nbytes / (mem_bw * kp["gemm_mem_eff"]))


def attn_s(kp, hw, peak, mem_bw, flops, nbytes, batch, m, n, bwd):
    sms = hw[0]
    blocks = batch * cdiv(n if bwd else m, ATTN_BLOCK)
    w = cdiv(blocks, sms)
    e = kp["attn_bwd_eff"] if bwd else kp["attn_eff"]
    t = w * (flops / blocks) / (peak / sms * e)
    return kp["attn_launch"] + max(t, nbytes / (mem_bw * kp["elem_eff"]))


NORMS = ("layer_norm", "rms_norm")  # kernels.py's rows of the norm class


def elem_s(kp, mem_bw, nbytes, dropout=False, norm=False):
    if norm:
        return kp["norm_launch"] + nbytes / (mem_bw * kp["norm_eff"])
    return kp["elem_launch"] + nbytes / (mem_bw * kp["drop_eff" if dropout else "elem_eff"])


# ---- predictions of the measured rows ----------------------------------------
def predict_gemm(kp, hw, dev, r):
    fp8 = r["dtype"] == "fp8"
    peak = dev["peak"][r["dtype"]]
    return 1e6 * gemm_s(kp, hw, peak, dev["mem_bw"], r["M"], r["N"], r["K"], 1, r["bytes"], fp8)


def predict_attn(kp, hw, dev, r):
    """The kernels gen llm emits for this attention (compare.attn_kernels),
    each priced by its class: flash as attention, unfused as batched GEMMs
    and an elementwise softmax."""
    P, M = dev["peak"]["bf16"], dev["mem_bw"]
    b, A, s, d = r["b"], r["A"], r["s"], r["d"]
    t = 0.0
    shapes = {"attn_score": (s, s, d), "attn_ctx": (s, d, s), "attn_ctx_dgrad": (s, s, d),
              "attn_ctx_vgrad": (s, d, s), "attn_score_qgrad": (s, d, s),
              "attn_score_kgrad": (s, d, s)}
    for name, fl, by in compare.attn_kernels(r["backend"], r["pas"], b, A, r["kv"], s, d):
        if name in ("flash_attn", "flash_attn_bwd"):
            t += attn_s(kp, hw, P, M, fl, by, b * A, s, s, name.endswith("bwd"))
        elif name in shapes:
            m, n, k = shapes[name]
            t += gemm_s(kp, hw, P, M, m, n, k, b * A, by, False)
        else:
            t += elem_s(kp, M, by)
    return 1e6 * t


def predict_elem(kp, dev, r, classes=True):
    """classes=False: every row as the elementwise class (the fit of e_e
    and launch_e, made before the dropout and norm classes existed and
    kept)"""
    return 1e6 * elem_s(kp, dev["mem_bw"], r["bytes"], classes and r["kernel"] == "dropout",
                        classes and r["kernel"] in NORMS)


def errs(rows, pred):
    return [compare.err_pct(pred(r), r["meas"]) for r in rows]


def mae(e):
    return statistics.mean(abs(x) for x in e) if e else float("nan")


# ---- the fit ------------------------------------------------------------------
GRID = {
    "gemm_eff": [0.60 + 0.01 * i for i in range(36)],
    "gemm_k0": [0, 8, 16, 24, 32, 48, 64, 96, 128],
    "gemm_mem_eff": [0.40 + 0.05 * i for i in range(13)],
    "gemm_launch": [1e-6 * i for i in range(0, 13)],
    "gemm_fp8": [0.60 + 0.01 * i for i in range(41)],
    "attn_eff": [0.20 + 0.01 * i for i in range(61)],
    "attn_launch": [1e-6 * i for i in range(0, 61, 2)],
    "attn_bwd_eff": [0.15 + 0.01 * i for i in range(66)],
    "elem_eff": [0.40 + 0.01 * i for i in range(56)],
    "elem_launch": [0.5e-6 * i for i in range(0, 25)],
    "drop_eff": [0.40 + 0.01 * i for i in range(56)],
    "norm_eff": [0.40 + 0.01 * i for i in range(56)],
    "norm_launch": [0.5e-6 * i for i in range(0, 41)],
}


def coord_fit(kp, names, loss, rounds=4):
    for _ in range(rounds):
        for nm in names:
            best = None
            for v in GRID[nm]:
                trial = dict(kp, **{nm: v})
                l = loss(trial)
                if best is None or l < best[0] - 1e-12:
                    best = (l, v)
            kp[nm] = best[1]
    return kp


def fit(g, a, e, hw, dev):
    kp = dict(DEFAULT)
    half = lambda rows: rows[0::2]  # noqa: E731
    gb = half([r for r in g if r["dtype"] == "bf16"])
    g8 = half([r for r in g if r["dtype"] == "fp8"])
    fa = half([r for r in a if r["backend"] == "flash" and r["pas"] == "fwd"])
    fb = half([r for r in a if r["backend"] == "flash" and r["pas"] == "fwd+bwd"])
    ee = half(e)
    coord_fit(kp, ["gemm_eff", "gemm_k0", "gemm_mem_eff", "gemm_launch"],
              lambda k: mae(errs(gb, lambda r: predict_gemm(k, hw, dev, r))))
    coord_fit(kp, ["gemm_fp8"], lambda k: mae(errs(g8, lambda r: predict_gemm(k, hw, dev, r))))
    coord_fit(kp, ["elem_eff", "elem_launch"],
              lambda k: mae(errs(ee, lambda r: predict_elem(k, dev, r, False))))
    ed = half([r for r in e if r["kernel"] == "dropout"])
    coord_fit(kp, ["drop_eff"], lambda k: mae(errs(ed, lambda r: predict_elem(k, dev, r))))
    en = norm_half(e)
    coord_fit(kp, ["norm_eff", "norm_launch"],
              lambda k: mae(errs(en, lambda r: predict_elem(k, dev, r))))
    fit_attn(kp, a, "flash", hw, dev)
    return kp


def norm_half(e):
    """The norm class's fit rows: the even rows of each norm kernel (the
    CSV alternates them by size, so the even rows of the two together would
    be one kernel's alone)."""
    return [r for k in NORMS for r in [x for x in e if x["kernel"] == k][0::2]]


def fit_attn(kp, a, backend, hw, dev):
    """e_a and launch_a on the back-end's even forward rows, then e_ab on
    its even forward+backward rows; into kp."""
    fa = [r for r in a if r["backend"] == backend and r["pas"] == "fwd"][0::2]
    fb = [r for r in a if r["backend"] == backend and r["pas"] == "fwd+bwd"][0::2]
    coord_fit(kp, ["attn_eff", "attn_launch"],
              lambda k: mae(errs(fa, lambda r: predict_attn(k, hw, dev, r))))
    coord_fit(kp, ["attn_bwd_eff"], lambda k: mae(errs(fb, lambda r: predict_attn(k, hw, dev, r))))
    return kp


def fit_cudnn(kp, a, hw, dev):
    """The cuDNN family: kp's other constants, attention fitted on the
    cudnn rows; only the three attention constants are returned."""
    got = fit_attn(dict(kp, **CUDNN), a, "cudnn", hw, dev)
    return {k: got[k] for k in CUDNN}


# ---- the report ---------------------------------------------------------------
def classes(g, a, e):
    out = {}
    for r in g:
        if r["dtype"] == "fp8":
            k = "GEMM fp8"
        elif r["cls"].startswith("llm"):
            k = "GEMM LLM layer"
        else:
            k = "GEMM " + {"square": "square", "skinny": "skinny", "wave": "wave (N sweep)"}.get(
                r["cls"], r["cls"])
        out.setdefault(k, []).append(("g", r))
    for r in a:
        out.setdefault("attention %s %s" % (r["backend"], r["pas"]), []).append(("a", r))
    for r in e:
        out.setdefault("elementwise " + r["kernel"], []).append(("e", r))
    return out


def table(g, a, e, hw, dev, kp, cu=CUDNN):
    def pred(kind, r):
        if kind == "g":
            return predict_gemm(kp, hw, dev, r)
        if kind == "a":
            return predict_attn(dict(kp, **cu) if r["backend"] == "cudnn" else kp, hw, dev, r)
        return predict_elem(kp, dev, r)

    # held-out = odd rows of each CSV's subset used in the fit; index by identity
    fitted = set()
    for rows in ([r for r in g if r["dtype"] == "bf16"], [r for r in g if r["dtype"] == "fp8"],
                 [r for r in a if r["backend"] == "flash" and r["pas"] == "fwd"],
                 [r for r in a if r["backend"] == "flash" and r["pas"] == "fwd+bwd"],
                 [r for r in a if r["backend"] == "cudnn" and r["pas"] == "fwd"],
                 [r for r in a if r["backend"] == "cudnn" and r["pas"] == "fwd+bwd"], e,
                 [r for r in e if r["kernel"] == "dropout"]):
        fitted.update(id(r) for r in rows[0::2])
    # a norm row is priced by the norm class alone: held out unless that
    # class was fitted on it (whatever the elementwise fit used)
    fitted -= {id(r) for r in e if r["kernel"] in NORMS}
    fitted.update(id(r) for r in norm_half(e))
    lines = ["| class | n held out | roofline mean / max abs err % | kernel model mean / max abs "
             "err % | kernel model signed % |", "|---|---:|---:|---:|---:|"]
    tot_r, tot_k = [], []
    order = sorted(classes(g, a, e).items(), key=lambda kv: (kv[0].split()[0] != "GEMM",
                                                             kv[0].split()[0] != "attention",
                                                             kv[0]))
    for name, items in order:
        held = [(k, r) for k, r in items if id(r) not in fitted]
        if not held:
            continue
        er = [r["err"] for _, r in held]  # compare.py's roofline error
        ek = [compare.err_pct(pred(k, r), r["meas"]) for k, r in held]
        tot_r += er
        tot_k += ek
        lines.append("| %s | %d | %.1f / %.1f | %.1f / %.1f | %+.1f |" % (
            name, len(held), mae(er), max(abs(x) for x in er), mae(ek), max(abs(x) for x in ek),
            statistics.mean(ek)))
    for grp in ("GEMM", "elementwise"):  # the classes together
        held = [(k, r) for name, items in order if name.startswith(grp) for k, r in items
                if id(r) not in fitted]
        if not held:  # a folder without that CSV (kernels.py --only)
            continue
        er = [r["err"] for _, r in held]
        ek = [compare.err_pct(pred(k, r), r["meas"]) for k, r in held]
        lines.append("| **%s, all** | %d | %.1f / %.1f | %.1f / %.1f | %+.1f |" % (
            grp, len(held), mae(er), max(abs(x) for x in er), mae(ek),
            max(abs(x) for x in ek), statistics.mean(ek)))
    if not tot_k:
        return "\n".join(lines)
    lines.append("| **all held-out rows** | %d | %.1f / %.1f | %.1f / %.1f | %+.1f |" % (
        len(tot_k), mae(tot_r), max(abs(x) for x in tot_r), mae(tot_k),
        max(abs(x) for x in tot_k), statistics.mean(tot_k)))
    return "\n".join(lines)


def self_test():
    hw = kernel_hw(compare.DEFAULT_DEVICES, "h200")
    assert hw == (132, [(128, 256), (256, 128), (128, 128), (192, 192), (128, 320), (192, 128),
                        (128, 176)]), hw
    src = open(os.path.join(HERE, "..", "..", "compute", "comp_kernel.c")).read()
    for k, v in DEFAULT.items():
        if k.startswith("attn_"):
            continue
        m = re.search(r"k\.%s = ([0-9.e-]+);" % k, src)
        assert m and abs(float(m.group(1)) - v) < 1e-15, (k, m and m.group(1), v)
    measured = drop_ratios(os.path.join(HERE, "h200-2026-11-30", "attention_dropout.csv"))
    for fam, d in (("FLASH2", DEFAULT), ("CUDNN", CUDNN)):  # the attn_fit table's rows
        m = re.search(r"\[COMP_ATTN_%s\] = \{([0-9.e-]+), ([0-9.e-]+), ([0-9.e-]+), "
                      r"\{([0-9.]+), ([0-9.]+)\}\}" % fam, src)
        assert m, fam
        got = [float(x) for x in m.groups()]
        want = [d["attn_eff"], d["attn_bwd_eff"], d["attn_launch"]] + list(ATTN_DROP[fam])
        assert all(abs(x - y) < 1e-15 for x, y in zip(got, want)), (fam, got, want)
        meas = measured["flash" if fam == "FLASH2" else "cudnn"]
        assert all(abs(round(x, 2) - y) < 1e-12 for x, y in zip(meas, ATTN_DROP[fam])), (fam, meas)
    kp = dict(DEFAULT)
    # an 8192 x 8192 x 8192 bf16 GEMM on h200: its best tile is 192x128,
    # 43 x 64 = 2752 tiles in 21 waves of 132 (128x256: 2048 tiles, 16 waves,
    # 3% more tile area); t = 5 us + 21 * 2*192*128*(8192+64) / (989.5e12/132 * 0.73)
    t = gemm_s(kp, hw, 989.5e12, 4800e9, 8192, 8192, 8192, 1, 0, False)
    want = 5e-6 + 21 * 2 * 192 * 128 * (8192 + 64) / (989.5e12 / 132 * 0.73)
    assert abs(t - want) < 1e-12, (t, want)
    # the shipped constants are what --fit finds on the shipped measurements
    data = os.path.join(HERE, "h200-2026-11-28")
    dev = compare.load_device(compare.DEFAULT_DEVICES, "h200")
    rd = lambda f: compare.read_csv(os.path.join(data, f))  # noqa: E731
    got = fit(compare.gemm_rows(rd("gemm.csv"), dev), compare.attn_rows(rd("attention.csv"), dev),
              compare.elem_rows(rd("elementwise.csv"), dev), hw, dev)
    for k, v in DEFAULT.items():
        assert abs(got[k] - v) < 1e-9 * max(1.0, v), (k, got[k], v)
    cu = fit_cudnn(got, compare.attn_rows(rd("attention.csv"), dev), hw, dev)
    for k, v in CUDNN.items():
        assert abs(cu[k] - v) < 1e-9 * max(1.0, v), (k, cu[k], v)
    print("kernel_model.py self-test: ok (8192^3 bf16 on h200: %.2f us; --fit reproduces the "
          "shipped constants)" % (t * 1e6))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", help="folder with kernels.py's CSVs")
    ap.add_argument("--device", default="h200")
    ap.add_argument("--devices", default=compare.DEFAULT_DEVICES)
    ap.add_argument("--fit", action="store_true",
                    help="fit the constants on the even rows (else: comp_kparams_default)")
    ap.add_argument("--out", help="write the table (markdown) here")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.inp:
        ap.error("--in DIR is required")
    dev = compare.load_device(args.devices, args.device)
    hw = kernel_hw(args.devices, args.device)
    rd = lambda f: compare.read_csv(os.path.join(args.inp, f))  # noqa: E731
    g = compare.gemm_rows(rd("gemm.csv"), dev)
    a = compare.attn_rows(rd("attention.csv"), dev)
    e = compare.elem_rows(rd("elementwise.csv"), dev)
    kp = fit(g, a, e, hw, dev) if args.fit else dict(DEFAULT)
    cu = fit_cudnn(kp, a, hw, dev) if args.fit else dict(CUDNN)
    fmt = lambda d: ", ".join("%s %s" % (k, ("%.3g" % v) if v >= 1e-3 or v == 0  # noqa: E731
                                         else "%.1f us" % (v * 1e6)) for k, v in d.items())
    text = ["Constants (%s): " % ("fitted on the even rows" if args.fit else
                                  "comp_kparams_default") + fmt(kp),
            "", "Attention, cudnn family (attention-kernel: cudnn): " + fmt(cu), "",
            table(g, a, e, hw, dev, kp, cu)]
    out = "\n".join(text) + "\n"
    compare.emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
