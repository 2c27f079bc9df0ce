#!/usr/bin/env python3
"""OpenXLA's published GEMM throughput table against loom's kernel model:
Hopper (sm_90) and Blackwell (sm_100) GEMMs that loom never measured.

The table (bench/gpu/xla-matmul-2025/gemm.csv, its README gives the source
and how it was transcribed) holds, per (b, m, n, k) of a batched GEMM
b x (m x k)(k x n), the FLOP/s XLA's perf-table generator measured
(2 b m n k / time) for bf16 operands and, on sm_100, FP8 (e4m3 x e4m3 ->
bf16).  Here each row becomes a time and is priced by the kernel model of
compute/comp_kernel.c (kernel_model.py's copy of it) on the catalog device
of its architecture: sm_90 -> h100-sxm (132 SMs; H200 is the same GH100 die,
the same peaks), sm_100 -> b200 (148 SMs).

  python3 bench/gpu/xla_gemm.py                 the shipped constants
  python3 bench/gpu/xla_gemm.py --fit ARCH      fit e_g, k0, e_gmem, launch on
                                                ARCH's even bf16 rows and the
                                                FP8 factor on its even FP8
                                                rows; errors on the odd rows
  python3 bench/gpu/xla_gemm.py --self-test

Errors are (model - measured) / measured, in %: negative = loom too fast.
Standard library only.
"""
import argparse
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402
import kernel_model as km  # noqa: E402

DATA = os.path.join(HERE, "xla-matmul-2025", "gemm.csv")
ARCH_DEVICE = {"sm_90": "h100-sxm", "sm_100": "b200"}
# FLOP bands of the report: launch-bound, middle, and what training layers run
BANDS = [(0, 1e9, "< 1 GFLOP"), (1e9, 1e10, "1-10 GFLOP"), (1e10, math.inf, ">= 10 GFLOP")]


def rows_of(table, arch, peak=None):
    """The table's rows of arch as (b, m, n, k, dtype, ...) dicts; with
    peak (the device's FLOP/s by dtype) a row faster than its datasheet
    peak is left out: it cannot be the GEMM it names (the sm_90 FP8 rows
    above 1,979 TFLOP/s)."""
    out = []
    for r in table:
        if r["arch"] != arch:
            continue
        b, m, n, k = (int(r[x]) for x in ("b", "m", "n", "k"))
        fl = 2.0 * b * m * n * k
        for dt in ("bf16", "fp8"):
            if r.get(dt) and not (peak and float(r[dt]) > peak[dt]):
                out.append(dict(b=b, m=m, n=n, k=k, dtype=dt, flops=fl,
                                bytes=b * compare.gemm_bytes(m, n, k, dt),
                                meas=1e6 * fl / float(r[dt])))
    return out


def predict(kp, hw, dev, r):
    return 1e6 * km.gemm_s(kp, hw, dev["peak"][r["dtype"]], dev["mem_bw"], r["m"], r["n"],
                           r["k"], r["b"], r["bytes"], r["dtype"] == "fp8")


def errors(kp, hw, dev, rows):
    return [compare.err_pct(predict(kp, hw, dev, r), r["meas"]) for r in rows]


def fit(rows, hw, dev):
    kp = dict(km.DEFAULT)
    gb = [r for r in rows if r["dtype"] == "bf16"][0::2]
    g8 = [r for r in rows if r["dtype"] == "fp8"][0::2]
    km.coord_fit(kp, ["gemm_eff", "gemm_k0", "gemm_mem_eff", "gemm_launch"],
                 lambda k: km.mae(errors(k, hw, dev, gb)))
    if g8:
        km.coord_fit(kp, ["gemm_fp8"], lambda k: km.mae(errors(k, hw, dev, g8)))
    return kp


def report(arch, rows, kp, hw, dev, held_only):
    lines = ["### %s (%s: %d SMs, bf16 %.0f / fp8 %s TFLOP/s)" % (
        arch, dev["name"], hw[0], dev["peak"]["bf16"] / 1e12,
        "%.0f" % (dev["peak"]["fp8"] / 1e12) if "fp8" in dev["peak"] else "-"), "",
        "| dtype | FLOPs | rows | measured TFLOP/s (median) | model mean / max abs err % "
        "| model signed % |", "|---|---|---:|---:|---:|---:|"]
    for dt in ("bf16", "fp8"):
        sub = [r for r in rows if r["dtype"] == dt]
        if held_only:
            sub = sub[1::2]
        for lo, hi, name in BANDS + [(0, math.inf, "all")]:
            band = [r for r in sub if lo <= r["flops"] < hi]
            if not band:
                continue
            e = errors(kp, hw, dev, band)
            tf = statistics.median(r["flops"] / r["meas"] / 1e6 for r in band)
            lines.append("| %s | %s | %d | %.0f | %.1f / %.1f | %+.1f |" % (
                dt, "**all**" if name == "all" else name, len(band), tf, km.mae(e),
                max(abs(x) for x in e), statistics.mean(e)))
    return "\n".join(lines)


def fmt(kp):
    keys = ("gemm_eff", "gemm_k0", "gemm_mem_eff", "gemm_fp8", "gemm_launch")
    return ", ".join("%s %s" % (k, ("%.1f us" % (kp[k] * 1e6)) if k == "gemm_launch" else
                                "%.3g" % kp[k]) for k in keys)


def self_test():
    hw = km.kernel_hw(compare.DEFAULT_DEVICES, "b200")
    assert hw[0] == 148, hw
    dev = compare.load_device(compare.DEFAULT_DEVICES, "b200")
    # a 4096^3 bf16 GEMM on b200 by hand: 128x256 tiles give 512 tiles in
    # ceil(512 / 148) = 4 waves of 2*128*256*(4096+64) flops a tile, 128x128
    # ones 1,024 tiles in 7 waves of half that: 7 < 8 half-waves, so 128x128,
    # t = 5 us + 7 * 2*128*128*(4096+64) / (2250e12/148 * 0.73 * 0.966),
    # 0.966 the catalog's gemm-efficiency-scale for b200 (MAMF 0.776 / 0.803)
    r = dict(b=1, m=4096, n=4096, k=4096, dtype="bf16", flops=2.0 * 4096 ** 3,
             bytes=compare.gemm_bytes(4096, 4096, 4096, "bf16"), meas=1.0)
    want = 5.0 + 1e6 * 7 * 2 * 128 * 128 * (4096 + 64) / (2250e12 / 148 * 0.73 * 0.966)
    got = predict(km.device_kp(compare.DEFAULT_DEVICES, "b200"), hw, dev, r)
    assert abs(got - want) < 1e-9, (got, want)
    rows = rows_of(compare.read_table(DATA, "xla_gemm.py"), "sm_100")
    assert rows and all(r["meas"] > 0 for r in rows), len(rows)
    print("xla_gemm.py self-test: ok (4096^3 bf16 on b200: %.2f us; %d sm_100 rows)" % (
        got, len(rows)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--devices", default=compare.DEFAULT_DEVICES)
    ap.add_argument("--fit", metavar="ARCH", help="fit on ARCH's even rows, report odd rows")
    ap.add_argument("--out", help="write the report (markdown) here")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    table = compare.read_table(a.data, "xla_gemm.py")
    text = []
    for arch, name in ARCH_DEVICE.items():
        if a.fit and arch != a.fit:
            continue
        dev = compare.load_device(a.devices, name)
        every = rows_of(table, arch)
        rows = rows_of(table, arch, dev["peak"])
        if not rows:
            continue
        hw = km.kernel_hw(a.devices, name)
        kp = fit(rows, hw, dev) if a.fit else km.device_kp(a.devices, name)
        text.append("Constants (%s): %s" % (
            "fitted on %s's even rows" % arch if a.fit else
            "comp_kparams_default, GEMM efficiency x %.3g (%s's gemm-efficiency-scale)" % (
                km.gemm_scale(a.devices, name), name), fmt(kp)))
        text.append("")
        text.append(report(arch, rows, kp, hw, dev, bool(a.fit)))
        if len(every) > len(rows):
            left = {}
            for r in every:
                left[r["dtype"]] = left.get(r["dtype"], 0) + 1
            for r in rows:
                left[r["dtype"]] -= 1
            text.append("")
            text.append("Left out, faster than the datasheet peak of their dtype (no GEMM can be): "
                        + ", ".join("%d %s %s rows" % (v, arch, k)
                                    for k, v in sorted(left.items()) if v))
        text.append("")
    out = "\n".join(text)
    compare.emit(out, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
