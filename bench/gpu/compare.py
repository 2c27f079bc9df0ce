#!/usr/bin/env python3
"""Measured kernel times (bench/gpu/kernels.py) against loom's roofline.

Reads gemm.csv, attention.csv and elementwise.csv from --in DIR, the
device's entry of compute/devices.yaml (--device, default h200), predicts
every row exactly as loom's roofline model does (compute/comp.c comp_time,
compute/comp_dev.c comp_device_cfg), and writes --out FILE.md: measured vs
predicted, error %, summaries by shape class and size, and the efficiency
and overhead a straight-line fit of the measurements would give.

loom's roofline (docs/DEVICES.md), for a kernel of F FLOPs and B bytes:
    x_half_mat = matrix-overhead-us * 1e-6 * P * e_mat     (comp_device_cfg)
    x_half_mem = memory-overhead-us * 1e-6 * M * e_mem
    t = max((F + x_half_mat) / (P * e_mat), (B + x_half_mem) / (M * e_mem))
P the peak FLOP/s at the datatype (bf16; fp8 for fp8 rows), M the HBM
bandwidth; a device without the curve keys has e = 1 and no overhead.
FLOPs and bytes are counted as `loom gen llm` counts them (workloads/wl_llm.c):
GEMM bytes = e_mm * (M*K + K*N) + 2 * M*N (e_mm 2 for bf16, 1 for fp8);
attention as its flash_attn / flash_attn_bwd kernels (flash and cuDNN rows)
or its unfused attn_score, softmax, attn_ctx (+ 5 backward kernels) (math rows).

Hand check (the --self-test asserts it): h200, bf16, the 8192^3 GEMM.
  P = 989.5e12, e_mat = 0.803, t0 = 4 us: x_half = 4e-6 * 989.5e12 * 0.803
    = 3.178274e9 FLOPs; F = 2 * 8192^3 = 1.099512e12;
    t_mat = (1.099512e12 + 3.178274e9) / (989.5e12 * 0.803) = 1.387785e-3 s.
  M = 4800e9, e_mem = 0.9: x_half = 4e-6 * 4800e9 * 0.9 = 1.728e7 bytes;
    B = 2*(8192^2 + 8192^2) + 2*8192^2 = 402,653,184;
    t_mem = (402653184 + 1.728e7) / (4800e9 * 0.9) = 97.21 us.
  loom: max = 1387.78 us (= 4 us + 1.099512e12 / 794.57e12 FLOP/s).
  A measured 1500 us is an error of (1387.78 - 1500) / 1500 = -7.5%.

Error % = (predicted - measured) / measured * 100: negative = loom too fast.

Usage: python3 bench/gpu/compare.py --in DIR --out DIR/compare.md
         [--device h200] [--devices compute/devices.yaml]
       python3 bench/gpu/compare.py --self-test
Standard library only (PyYAML is used when importable; --parser lines forces
the small built-in reader).
"""
import argparse
import csv
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DEVICES = os.path.join(REPO, "compute", "devices.yaml")
SMALL_FLOPS = 1e10   # a bf16 GEMM under this is "small" (~13 us at the MAMF rate)
MiB = 1 << 20


# ---- the device --------------------------------------------------------------
def _strip_comment(line):
    out, q = [], None
    for i, c in enumerate(line):
        if q:
            if c == q:
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(c)
    return "".join(out).rstrip()


def _unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


def read_device_lines(path, name):
    """The few keys we need from one device of a loom catalog, without PyYAML:
    top-level `name:`, its two-space keys, and peak-tflops' four-space keys
    (or an inline {fp32: 67, ...} mapping)."""
    dev, peaks, cur, in_peaks, found = {}, {}, None, False, False
    with open(path) as f:
        for raw in f:
            s = _strip_comment(raw.rstrip("\n"))
            if not s.strip():
                continue
            indent = len(s) - len(s.lstrip(" "))
            key, colon, val = s.strip().partition(":")
            if indent == 0:
                if cur == name:
                    break
                cur = _unquote(key)
                found = found or cur == name
                in_peaks = False
                continue
            if cur != name or not colon:
                continue
            key, val = _unquote(key), val.strip()
            if indent <= 2:
                in_peaks = key == "peak-tflops" and val == ""
                if key == "peak-tflops" and val.startswith("{"):
                    for item in val.strip("{}").split(","):
                        k, _, v = item.partition(":")
                        if k.strip():
                            peaks[_unquote(k)] = _unquote(v)
                elif not in_peaks:
                    dev[key] = _unquote(val)
            elif in_peaks:
                peaks[key] = _unquote(val)
    if not found:
        raise KeyError("device '%s' is not in %s" % (name, path))
    dev["peak-tflops"] = peaks
    return dev


def read_device_yaml(path, name):
    import yaml
    with open(path) as f:
        data = yaml.safe_load(f)
    if name not in data:
        raise KeyError("device '%s' is not in %s" % (name, path))
    return data[name]


def load_device(path, name, parser="auto"):
    raw = None
    if parser == "auto":
        try:
            raw = read_device_yaml(path, name)
            parser = "yaml"
        except ImportError:
            parser = "lines"
    if raw is None:
        raw = read_device_lines(path, name)

    def f(k):
        v = raw.get(k)
        return None if v is None or v == "" else float(v)
    dev = {"name": name, "file": path, "parser": parser,
           "peak": {k: float(v) * 1e12 for k, v in raw["peak-tflops"].items()},
           "mem_bw": f("memory-bw-gbs") * 1e9,
           "matrix_eff": f("matrix-efficiency"), "matrix_overhead_us": f("matrix-overhead-us"),
           "memory_eff": f("memory-efficiency"), "memory_overhead_us": f("memory-overhead-us")}
    return dev


# ---- loom's roofline (compute/comp.c, compute/comp_dev.c) --------------------
def comp_cfg(dev, dtype):
    """comp_device_cfg: peak, bandwidth and the two curves (eff, half)."""
    P = dev["peak"][dtype]
    M = dev["mem_bw"]
    matrix = memory = (0.0, 0.0)
    if dev["matrix_eff"]:
        matrix = (dev["matrix_eff"], dev["matrix_overhead_us"] * 1e-6 * P * dev["matrix_eff"])
    if dev["memory_eff"]:
        memory = (dev["memory_eff"], dev["memory_overhead_us"] * 1e-6 * M * dev["memory_eff"])
    return {"peak": P, "mem_bw": M, "matrix": matrix, "memory": memory}


def curve_time(cv, x, rate):
    eff, half = cv
    if eff == 0:
        return x / rate
    return (x + half) / (rate * eff)


def loom_us(cfg, flops, nbytes):
    """comp_time, roofline branch, in microseconds (no straggler factor)."""
    t_ops = curve_time(cfg["matrix"], float(flops), cfg["peak"])
    t_mem = curve_time(cfg["memory"], float(nbytes), cfg["mem_bw"])
    return max(t_ops, t_mem) * 1e6


def gemm_bytes(M, N, K, dtype):
    e_mm = 1 if dtype == "fp8" else 2
    return e_mm * (M * K + K * N) + 2 * M * N


def attn_kernels(backend, pas, b, A, kv, s, d, e=2):
    """(name, flops, bytes) of the kernels loom's gen llm emits for one
    attention core (wl_llm.c attn_core_fwd / attn_core_bwd, no recompute)."""
    T = b * s
    ss = b * A * s * s
    if backend != "math":
        k = [("flash_attn", 0.5 * 4 * b * A * s * s * d, e * (2 * T * A * d + 2 * T * kv * d))]
        if pas != "fwd":
            k.append(("flash_attn_bwd", 0.5 * 10 * b * A * s * s * d,
                      e * (4 * T * A * d + 4 * T * kv * d)))
        return k
    k = [("attn_score", 2 * ss * d, e * (T * A * d + T * kv * d + ss)),
         ("softmax", 5 * ss, (2 * e + 1) * ss),
         ("attn_ctx", 2 * ss * d, e * (ss + T * kv * d + T * A * d))]
    if pas != "fwd":
        k += [("attn_ctx_dgrad", 2 * ss * d, e * (ss + T * A * d + T * kv * d)),
              ("attn_ctx_vgrad", 2 * ss * d, e * (ss + T * A * d + T * kv * d)),
              ("softmax_bwd", 5 * ss, (3 * e + 1) * ss),
              ("attn_score_qgrad", 2 * ss * d, e * (ss + T * kv * d + T * A * d)),
              ("attn_score_kgrad", 2 * ss * d, e * (ss + T * A * d + T * kv * d))]
    return k


# ---- reading -----------------------------------------------------------------
def fnum(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def emit(text, path=None):
    """A report: text on stdout and, when path is given, into path
    (write_text), the same bytes."""
    print(text, end="" if text.endswith("\n") else "\n")
    if path:
        write_text(path, text)


def write_text(path, text):
    """text into path whole or not at all (a temporary file, renamed); the
    folder is made if missing."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def read_csv(path):
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_table(path, who):
    """read_csv of a table a script cannot run without: a missing file is
    one line naming it (who: the script), exit status 1."""
    table = read_csv(path)
    if table is None:
        raise SystemExit("%s: %s: no such file" % (who, path))
    return table


def err_pct(pred, meas):
    return (pred - meas) / meas * 100.0


def gemm_rows(rows, dev):
    out = []
    for r in rows or []:
        t = fnum(r.get("time_us"))
        if t is None or t <= 0:
            continue
        M, N, K = int(float(r["M"])), int(float(r["N"])), int(float(r["K"]))
        dt = r.get("dtype", "bf16")
        if dt not in dev["peak"]:
            continue
        cfg = comp_cfg(dev, dt)
        fl = 2.0 * M * N * K
        by = gemm_bytes(M, N, K, dt)
        p = loom_us(cfg, fl, by)
        cls = r.get("cls", "")
        if dt != "bf16":
            klass = dt
        elif cls == "skinny":
            klass = "skinny"
        elif fl < SMALL_FLOPS:
            klass = "small (< 1e10 FLOPs)"
        elif cls == "square":
            klass = "large square"
        elif cls.startswith("llm"):
            klass = "LLM layer GEMMs"
        elif cls == "wave":
            klass = "wave (N sweep)"
        else:
            klass = cls or "other"
        out.append(dict(M=M, N=N, K=K, dtype=dt, flops=fl, bytes=by, meas=t, pred=p,
                        err=err_pct(p, t), loop=fnum(r.get("time_loop_us")),
                        note=r.get("note", ""), cls=cls, klass=klass,
                        layout=r.get("layout", ""), frac=fl / (t * 1e-6) / cfg["peak"],
                        peak=cfg["peak"]))
    return out


def attn_rows(rows, dev):
    out = []
    cfg = comp_cfg(dev, "bf16")
    for r in rows or []:
        t = fnum(r.get("time_us"))
        if t is None or t <= 0:
            continue
        be, pas = r.get("backend", ""), r.get("pass", "fwd")
        b, A, kv, s, d = (int(float(r[k])) for k in ("batch", "heads", "kv_heads", "seq",
                                                      "head_dim"))
        ks = attn_kernels(be, pas, b, A, kv, s, d)
        p = sum(loom_us(cfg, f, by) for _, f, by in ks)
        fl = fnum(r.get("flops")) or sum(f for _, f, _ in ks)
        out.append(dict(backend=be, pas=pas, b=b, A=A, kv=kv, s=s, d=d, meas=t, pred=p,
                        err=err_pct(p, t), loop=fnum(r.get("time_loop_us")), flops=fl,
                        frac=fl / (t * 1e-6) / cfg["peak"], kernels=len(ks),
                        klass="%s %s" % (be, pas)))
    return out


def size_bucket(size):
    if size <= 1 * MiB:
        return "<= 1 MiB"
    if size <= 16 * MiB:
        return "1-16 MiB"
    if size <= 256 * MiB:
        return "16-256 MiB"
    return "> 256 MiB"


def elem_rows(rows, dev):
    out = []
    cfg = comp_cfg(dev, "bf16")
    for r in rows or []:
        t = fnum(r.get("time_us"))
        if t is None or t <= 0:
            continue
        by = fnum(r.get("bytes_moved"))
        fl = fnum(r.get("flops")) or 0.0
        size = int(float(r.get("size_bytes") or 0))
        p = loom_us(cfg, fl, by)
        out.append(dict(kernel=r.get("kernel", ""), size=size, bytes=by, flops=fl, meas=t,
                        pred=p, err=err_pct(p, t), loop=fnum(r.get("time_loop_us")),
                        gbs=by / (t * 1e-6) / 1e9, klass=size_bucket(size)))
    return out


# ---- summaries and fits --------------------------------------------------------
def summarize(rows):
    a = [abs(r["err"]) for r in rows]
    sg = [r["err"] for r in rows]
    lp = [abs(err_pct(r["pred"], r["loop"])) for r in rows if r.get("loop")]
    return dict(n=len(rows), mean=statistics.mean(a), median=statistics.median(a), max=max(a),
                signed=statistics.mean(sg), loop=statistics.mean(lp) if lp else None,
                nloop=len(lp))


def fit_line(xs, ts):
    """t = a + b x, least squares on RELATIVE error (weights 1/t^2).
    Returns (a, b) or None."""
    if len(xs) < 3:
        return None
    w = [1.0 / (t * t) for t in ts]
    S = sum(w)
    Sx = sum(wi * x for wi, x in zip(w, xs))
    Sxx = sum(wi * x * x for wi, x in zip(w, xs))
    St = sum(wi * t for wi, t in zip(w, ts))
    Sxt = sum(wi * x * t for wi, x, t in zip(w, xs, ts))
    det = S * Sxx - Sx * Sx
    if not det > 0:
        return None
    a = (St * Sxx - Sx * Sxt) / det
    b = (S * Sxt - Sx * St) / det
    if not b > 0:
        return None
    return a, b


def fmt_pct(v):
    return "" if v is None else "%+.1f" % v


def fmt_us(v):
    if v is None:
        return ""
    return "%.1f" % v if v >= 100 else "%.2f" % v


class Md:
    def __init__(self):
        self.lines = []

    def p(self, s=""):
        self.lines.append(s)

    def table(self, head, rows):
        self.p("| " + " | ".join(head) + " |")
        self.p("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
        for r in rows:
            self.p("| " + " | ".join(str(c) for c in r) + " |")
        self.p()


def summary_table(md, groups, order=None):
    head = ["class", "n", "mean abs err %", "median abs err %", "max abs err %",
            "mean signed err %", "mean abs err vs loop time % (n)"]
    rows = []
    keys = order or sorted(groups)
    for k in keys:
        if k not in groups or not groups[k]:
            continue
        s = summarize(groups[k])
        rows.append([k, s["n"], "%.1f" % s["mean"], "%.1f" % s["median"], "%.1f" % s["max"],
                     "%+.1f" % s["signed"],
                     "" if s["loop"] is None else "%.1f (%d)" % (s["loop"], s["nloop"])])
    md.table(head, rows)
    return rows


def group(rows, key):
    g = {}
    for r in rows:
        g.setdefault(r[key], []).append(r)
    return g


def report(in_dir, dev, out_path):
    md = Md()
    g = gemm_rows(read_csv(os.path.join(in_dir, "gemm.csv")), dev)
    a = attn_rows(read_csv(os.path.join(in_dir, "attention.csv")), dev)
    e = elem_rows(read_csv(os.path.join(in_dir, "elementwise.csv")), dev)
    bf = comp_cfg(dev, "bf16")
    md.p("# Measured kernel times vs loom's roofline (%s)" % dev["name"])
    md.p()
    md.p("Measurements: `%s` (bench/gpu/kernels.py). Device figures: `%s` (%s parser)." % (
        in_dir, dev["file"], dev["parser"]))
    devtxt = os.path.join(in_dir, "device.txt")
    if os.path.exists(devtxt):
        keep = ("torch", "torch.version.cuda", "device", "multi_processor_count",
                "L2_cache_size")
        with open(devtxt) as f:
            info = [ln.strip() for ln in f if ln.split(":")[0] in keep]
        if info:
            md.p("Measured on: " + "; ".join(info) + ".")
    md.p()
    md.p("loom predicts t = max((F + F_half) / (P e_mat), (B + B_half) / (M e_mem)) with "
         "P = %.1f TFLOP/s (bf16), M = %.0f GB/s, e_mat = %s, F_half = %.4g FLOPs "
         "(matrix-overhead-us %s), e_mem = %s, B_half = %.4g bytes (memory-overhead-us %s)." % (
             bf["peak"] / 1e12, bf["mem_bw"] / 1e9, dev["matrix_eff"], bf["matrix"][1],
             dev["matrix_overhead_us"], dev["memory_eff"], bf["memory"][1],
             dev["memory_overhead_us"]))
    md.p("Error % = (predicted - measured) / measured: negative means loom is too fast. "
         "Measured = median of single launches with the L2 cache flushed; the loop column is "
         "the per-launch time of back-to-back launches (warm L2, no host gaps), given for "
         "kernels under 50 us.")
    md.p()

    md.p("## Summary")
    md.p()
    allg = {}
    for r in g:
        allg.setdefault("GEMM: " + r["klass"], []).append(r)
    for r in g:
        if r["cls"].startswith("llm") and r["dtype"] == "bf16" and r["flops"] >= SMALL_FLOPS:
            allg.setdefault("GEMM: LLM, " + r["cls"], []).append(r)
    for r in a:
        allg.setdefault("attention: " + r["klass"], []).append(r)
    for r in e:
        allg.setdefault("elementwise: " + r["klass"], []).append(r)
    order = ["GEMM: large square", "GEMM: LLM layer GEMMs", "GEMM: LLM, llm-fwd",
             "GEMM: LLM, llm-bwd", "GEMM: LLM, llm-head", "GEMM: skinny",
             "GEMM: small (< 1e10 FLOPs)", "GEMM: wave (N sweep)", "GEMM: fp8"]
    order += sorted(k for k in allg if k.startswith("attention"))
    order += ["elementwise: " + b for b in ("<= 1 MiB", "1-16 MiB", "16-256 MiB", "> 256 MiB")]
    order += sorted(k for k in allg if k not in order)
    if g or a or e:
        summary_table(md, allg, order)
        every = g + a + e
        s = summarize(every)
        md.p("All %d rows: mean |error| %.1f%%, median %.1f%%, max %.1f%%, mean signed %+.1f%%."
             % (s["n"], s["mean"], s["median"], s["max"], s["signed"]))
        md.p()
    else:
        md.p("No measurements found in %s." % in_dir)
        md.p()

    md.p("## What the measurements imply")
    md.p()
    md.p("A straight line t = t0 + x / (R e) fitted to each class (least squares on relative "
         "error; x = FLOPs with R = the peak for GEMMs and attention, x = bytes with R = the "
         "HBM bandwidth for elementwise kernels). e and t0 are what matrix-efficiency / "
         "matrix-overhead-us (memory-efficiency / memory-overhead-us) would have to be for "
         "that class alone; the last column is that line's own mean |error|.")
    md.p()
    fits = []

    def add_fit(name, rows, xkey, rate):
        if not rows:
            return
        xs = [r[xkey] for r in rows]
        ts = [r["meas"] for r in rows]
        ab = fit_line(xs, ts)
        if ab is None:
            fits.append([name, len(rows), "", "", "(no fit)"])
            return
        t0, b = ab
        me = statistics.mean(abs(err_pct(t0 + b * x, t)) for x, t in zip(xs, ts))
        fits.append([name, len(rows), "%.3f" % (1.0 / (b * 1e-6 * rate)), "%.2f" % t0,
                     "%.1f" % me])

    bfg = [r for r in g if r["dtype"] == "bf16"]
    add_fit("GEMM bf16, all", bfg, "flops", bf["peak"])
    add_fit("GEMM bf16, LLM layer", [r for r in bfg if r["cls"].startswith("llm")], "flops",
            bf["peak"])
    add_fit("GEMM bf16, square", [r for r in bfg if r["cls"] == "square"], "flops", bf["peak"])
    add_fit("GEMM bf16, small", [r for r in bfg if r["flops"] < SMALL_FLOPS], "flops",
            bf["peak"])
    if "fp8" in dev["peak"]:
        add_fit("GEMM fp8", [r for r in g if r["dtype"] == "fp8"], "flops", dev["peak"]["fp8"])
    for k, rows in sorted(group(a, "klass").items()):
        add_fit("attention " + k, rows, "flops", bf["peak"])
    add_fit("elementwise, all", e, "bytes", bf["mem_bw"])
    for k, rows in sorted(group(e, "kernel").items()):
        add_fit("elementwise " + k, rows, "bytes", bf["mem_bw"])
    md.table(["class", "n", "fitted e", "fitted t0 (us)", "fit mean abs err %"], fits)

    if e:
        md.p("### Elementwise by kernel")
        md.p()
        summary_table(md, group(e, "kernel"))

    md.p("## GEMMs")
    md.p()
    if g:
        md.table(["M", "N", "K", "dtype", "layout", "class", "note", "measured us", "loop us",
                  "loom us", "error %", "TFLOP/s", "of peak"],
                 [[r["M"], r["N"], r["K"], r["dtype"], r["layout"], r["klass"], r["note"],
                   fmt_us(r["meas"]), fmt_us(r["loop"]), fmt_us(r["pred"]), fmt_pct(r["err"]),
                   "%.1f" % (r["flops"] / (r["meas"] * 1e-6) / 1e12), "%.3f" % r["frac"]]
                  for r in g])
    else:
        md.p("No gemm.csv rows with a time.")
        md.p()

    md.p("## Attention")
    md.p()
    md.p("Flash and cuDNN rows are predicted as loom's flash_attn (+ flash_attn_bwd) kernels, "
         "math rows as its unfused attn_score, softmax, attn_ctx (+ 5 backward kernels); "
         "FLOPs: 4 b h s^2 d forward, halved for causal, backward 2.5x.")
    md.p()
    if a:
        md.table(["backend", "pass", "b", "heads", "kv", "seq", "d", "measured us", "loop us",
                  "loom us", "loom kernels", "error %", "TFLOP/s"],
                 [[r["backend"], r["pas"], r["b"], r["A"], r["kv"], r["s"], r["d"],
                   fmt_us(r["meas"]), fmt_us(r["loop"]), fmt_us(r["pred"]), r["kernels"],
                   fmt_pct(r["err"]), "%.1f" % (r["flops"] / (r["meas"] * 1e-6) / 1e12)]
                  for r in a])
    else:
        md.p("No attention.csv rows with a time.")
        md.p()

    md.p("## Elementwise")
    md.p()
    if e:
        md.table(["kernel", "size bytes", "bytes moved", "measured us", "loop us", "loom us",
                  "error %", "GB/s"],
                 [[r["kernel"], r["size"], int(r["bytes"]), fmt_us(r["meas"]), fmt_us(r["loop"]),
                   fmt_us(r["pred"]), fmt_pct(r["err"]), "%.0f" % r["gbs"]] for r in e])
    else:
        md.p("No elementwise.csv rows with a time.")
        md.p()

    text = "\n".join(md.lines).rstrip() + "\n"
    if out_path:
        write_text(out_path, text)
    # the summary and the fits on stdout
    cut = text.find("### Elementwise by kernel")
    if cut < 0:
        cut = text.find("## GEMMs")
    print(text[:cut].rstrip() if cut > 0 else text.rstrip())
    return len(g) + len(a) + len(e)


def self_test():
    dev = load_device(DEFAULT_DEVICES, "h200")
    dev_l = load_device(DEFAULT_DEVICES, "h200", parser="lines")
    for k in ("peak", "mem_bw", "matrix_eff", "matrix_overhead_us", "memory_eff",
              "memory_overhead_us"):
        assert dev[k] == dev_l[k], (k, dev[k], dev_l[k])
    cfg = comp_cfg(dev, "bf16")
    # the hand check of the module docstring
    F = 2.0 * 8192 ** 3
    B = gemm_bytes(8192, 8192, 8192, "bf16")
    assert B == 402653184
    half = 4e-6 * 989.5e12 * 0.803
    assert abs(cfg["matrix"][1] - half) < 1.0
    t = loom_us(cfg, F, B)
    assert abs(t - (4.0 + F / (989.5e12 * 0.803) * 1e6)) < 1e-6, t
    assert abs(t - 1387.78) < 0.01, t
    assert abs(err_pct(t, 1500.0) - (-7.48)) < 0.01
    # memory-bound: a 1 GiB copy (2 GiB moved) = 4 us + 2^31 / (4800e9 * 0.9)
    t = loom_us(cfg, 0, 2 << 30)
    assert abs(t - (4.0 + (2 << 30) / 4.32e12 * 1e6)) < 1e-6, t
    # fp8 uses the fp8 peak and 1-byte operands
    c8 = comp_cfg(dev, "fp8")
    assert c8["peak"] == 1979e12 and gemm_bytes(2, 3, 4, "fp8") == 1 * (8 + 12) + 2 * 6
    # a line fitted to points on a line comes back
    ab = fit_line([1.0, 2.0, 4.0, 8.0], [5.0, 7.0, 11.0, 19.0])
    assert abs(ab[0] - 3.0) < 1e-9 and abs(ab[1] - 2.0) < 1e-9
    # flash attention counts match kernels.py's: fwd 4bhs^2d/2, bwd 2.5x
    k = attn_kernels("flash", "fwd+bwd", 1, 8, 8, 2048, 128)
    assert k[0][1] == 0.5 * 4 * 8 * 2048 ** 2 * 128 and k[1][1] == 2.5 * k[0][1]
    print("compare.py self-test: ok (8192^3 bf16 GEMM on h200: loom %.2f us)" %
          loom_us(cfg, F, B))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--in", dest="inp", help="folder with kernels.py's CSVs")
    ap.add_argument("--out", help="the markdown report to write (default: print only)")
    ap.add_argument("--device", default="h200", help="catalog device (default h200)")
    ap.add_argument("--devices", default=DEFAULT_DEVICES, help="catalog file")
    ap.add_argument("--parser", choices=("auto", "lines"), default="auto",
                    help="catalog reader: PyYAML when importable (auto) or the built-in one")
    ap.add_argument("--self-test", action="store_true", help="check the arithmetic and exit")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.inp:
        ap.error("--in DIR is required")
    dev = load_device(args.devices, args.device, args.parser)
    n = report(args.inp, dev, args.out)
    if args.out:
        print("\n%s: %d rows compared" % (args.out, n))
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
