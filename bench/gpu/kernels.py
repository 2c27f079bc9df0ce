#!/usr/bin/env python3
"""Ground truth for loom's compute model: GEMM, attention and elementwise
kernel times measured on one CUDA GPU with PyTorch (issue 11).

Writes into --out DIR, row by row as it goes (a crash loses only the row in
flight):
  device.txt       torch / CUDA versions, device properties, nvidia-smi clocks
  gemm.csv         bf16 torch.matmul (+ fp8 torch._scaled_mm) over loom's LLM
                   layer shapes, square, skinny and wave-quantization sweeps
  attention.csv    scaled_dot_product_attention, flash / cuDNN / math
                   backends, forward and forward+backward, causal
  attention_dropout.csv  flash and cuDNN at the attention of NeMo's GPT-3
                   5B and 20B rows, dropout 0 and 0.1 in turn (the dropout
                   inside the fused kernel, which attention.csv leaves out)
  elementwise.csv  add, mul, gelu, silu, softmax, layer_norm, rms_norm,
                   dropout, copy over 2^16 .. 2^30 bytes (bf16)
  table.csv        the measurements in loom's `compute-model: table` format
                   (rebuilt after every section, and by --table-from DIR)

Timing (bench/gpu/README.md): every kernel is run WARMUP times, then timed
with CUDA events (torch.cuda.Event(enable_timing=True)) around ONE launch,
the L2 cache flushed before each (a 256 MiB buffer zeroed), REPS times;
time_us is the median.  Kernels under TINY_US are also timed as a loop of k
back-to-back launches queued behind a GPU sleep (so host launch cost is
hidden), per launch: time_loop_us; host_us is the host's Python+launch time
per call in that loop (above time_loop_us the real program is host-bound).

Usage:
  python3 bench/gpu/kernels.py --out DIR [--quick] [--budget-s 170]
  python3 bench/gpu/kernels.py --dry-run [--quick]      # shapes + estimate, no torch
  python3 bench/gpu/kernels.py --table-from DIR --out DIR2   # table.csv only, no torch
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
import traceback

# ---- timing constants -------------------------------------------------------
WARMUP = 2            # untimed launches before timing a kernel
MIN_REPS = 10         # timed single launches, at least ...
MAX_REPS = 40         # ... and at most
TARGET_US = 40000.0  # aim for this much timed kernel time per shape
TINY_US = 50.0        # below this median, also time a loop of launches
LOOP_TARGET_US = 3000.0
LOOP_MIN, LOOP_MAX = 20, 500
LOOP_REPS = 3
HOST_US_GUESS = 30.0  # host cost per launch, to size the GPU sleep before a loop
FLUSH_BYTES = 256 << 20
FLUSH_US_EST = 80.0   # zeroing 256 MiB on an H200, roughly

# ---- shapes loom's LLM generator produces (workloads/wl_llm.c) -------------
HIDDEN = (4096, 8192, 12288, 16384)
TP = (1, 8)
TOKENS = (2048, 4096, 8192)   # tokens per micro-batch (micro-batch x sequence)
HEAD_DIM = 128
KV_HEADS = 8                  # the GQA variant (Llama 3)
VOCAB = 128256                # Llama 3; Megatron pads to 128 * tp (already a multiple)
SWIGLU_FFN = {4096: 14336, 8192: 28672, 16384: 53248}   # Llama 3 8B / 70B / 405B

GEMM_COLS = ["M", "N", "K", "dtype", "flops", "bytes", "time_us", "tflops", "note",
             "cls", "layout", "min_us", "reps", "time_loop_us", "k_loop", "host_us"]
ATTN_COLS = ["backend", "pass", "batch", "heads", "kv_heads", "seq", "head_dim", "causal",
             "flops", "bytes", "time_us", "tflops", "min_us", "reps", "time_loop_us",
             "k_loop", "host_us", "note"]
ELEM_COLS = ["kernel", "size_bytes", "numel", "bytes_moved", "flops", "time_us", "GB/s",
             "min_us", "reps", "time_loop_us", "k_loop", "host_us", "note"]


def gemm_bytes(M, N, K, dtype):
    """loom's gemm(): operands at e_mm (1 for fp8, 2 for bf16), product at 2."""
    e_mm = 1 if dtype == "fp8" else 2
    return e_mm * (M * K + K * N) + 2 * M * N


def gemm_specs(quick):
    """Dicts M, N, K (C[MxN] = A[MxK] @ B[KxN]), layout, cls, note, dtype, fast.
    layout: NT = torch Linear forward (X @ W.t()), NN = dgrad (dY @ W),
    TN = wgrad (dY.t() @ X)."""
    out = []

    def add(M, N, K, layout, cls, note, dtype="bf16", fast=False):
        out.append(dict(M=int(M), N=int(N), K=int(K), layout=layout, cls=cls, note=note,
                        dtype=dtype, fast=fast))

    tokens = (4096,) if quick else TOKENS
    # forward GEMMs of one transformer layer (wl_llm.c layer_fwd), 4h MLP (GPT)
    for h in HIDDEN:
        heads = h // HEAD_DIM
        for t in TP:
            a_loc = heads // t
            kv_loc = KV_HEADS // t if KV_HEADS >= t else 1
            for m in tokens:
                tag = "h%d t%d m%d" % (h, t, m)
                add(m, 3 * h // t, h, "NT", "llm-fwd", tag + " qkv")
                add(m, (a_loc + 2 * kv_loc) * HEAD_DIM, h, "NT", "llm-fwd", tag + " qkv-gqa")
                add(m, h, h // t, "NT", "llm-fwd", tag + " proj")
                add(m, 4 * h // t, h, "NT", "llm-fwd", tag + " fc1")
                add(m, h, 4 * h // t, "NT", "llm-fwd", tag + " fc2")
    # SwiGLU MLPs of Llama 3 (fc1 is gate+up, 2 ffn wide)
    if not quick:
        for h, f in sorted(SWIGLU_FFN.items()):
            for t in TP:
                tag = "h%d t%d m4096" % (h, t)
                add(4096, 2 * f // t, h, "NT", "llm-fwd", tag + " fc1-swiglu")
                add(4096, h, f // t, "NT", "llm-fwd", tag + " fc2-swiglu")
    # output layer (logits), vocab-parallel
    for h in ((4096, 16384) if quick else (4096, 8192, 16384)):
        for t in TP:
            add(4096, VOCAB // t, h, "NT", "llm-head", "h%d t%d m4096 logits" % (h, t))
    # backward: dgrad (NN) and wgrad (TN) of each layer GEMM, m = 4096
    for h in ((8192,) if quick else HIDDEN):
        for t in TP:
            m = 4096
            tag = "h%d t%d m%d" % (h, t, m)
            for name, n_out, k_in in (("qkv", 3 * h // t, h), ("proj", h, h // t),
                                      ("fc1", 4 * h // t, h), ("fc2", h, 4 * h // t)):
                # forward was Y[m x n_out] = X[m x k_in] @ W.t()
                add(m, k_in, n_out, "NN", "llm-bwd", tag + " " + name + "-dgrad")
                add(n_out, k_in, m, "TN", "llm-bwd", tag + " " + name + "-wgrad")
    # square sweep
    sq = (256, 1024, 4096, 8192, 16384) if quick else \
        (256, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384)
    for n in sq:
        add(n, n, n, "NN", "square", "square %d" % n)
    # skinny: few rows (small batch / decode), few columns (MoE router), short K
    rows = (16, 256) if quick else (1, 16, 64, 128, 256, 512)
    for h in ((8192,) if quick else (4096, 8192)):
        for r in rows:
            add(r, h, h, "NT", "skinny", "rows %d" % r)
    for e in ((8,) if quick else (8, 64)):
        add(4096, e, 4096, "NT", "skinny", "router experts %d" % e)
    for k in ((128,) if quick else (64, 128, 256)):
        add(8192, 8192, k, "NN", "skinny", "short K %d" % k)
    # wave quantization: N in steps at M = K = 8192
    step = 256 if quick else 128
    for n in range(step, 4096 + 1, step):
        add(8192, n, 8192, "NT", "wave", "wave N %d" % n)
    # fp8 (torch._scaled_mm, per-tensor scales, bf16 output); both accumulations
    fp8 = [(4096, 4096, 4096, "square 4096"), (8192, 8192, 8192, "square 8192")]
    if not quick:
        fp8 += [(16384, 16384, 16384, "square 16384"),
                (4096, 3 * 8192, 8192, "h8192 t1 m4096 qkv"),
                (4096, 8192, 8192, "h8192 t1 m4096 proj"),
                (4096, 4 * 8192, 8192, "h8192 t1 m4096 fc1"),
                (4096, 8192, 4 * 8192, "h8192 t1 m4096 fc2")]
    for fast in (False, True):
        for M, N, K, note in fp8:
            cls = "square" if note.startswith("square") else "llm-fwd"
            add(M, N, K, "NT", cls, note + (" fast-accum" if fast else ""), "fp8", fast)
    return out


def attn_specs(quick, batch=1, layout="bhsd"):
    """Dicts backend, batch, heads, kv_heads, seq, head_dim, layout (causal
    always).  batch > 1 (--attention-batch): the fused back-ends only (the
    unfused math path's s^2 scores outgrow the GPU's memory).  layout
    "packed" (--attention-layout): q, k and v as strided views of one
    [b, s, 3, h, d] tensor, as a model's fused QKV projection leaves them;
    fused back-ends, no GQA."""
    seqs = (2048, 8192) if quick else (2048, 4096, 8192)
    heads = (8, 32) if quick else (8, 16, 32, 64)
    out = []
    fused_only = batch > 1 or layout != "bhsd"
    for backend in ("flash", "cudnn") if fused_only else ("flash", "cudnn", "math"):
        for s in seqs:
            for a in heads:
                out.append(dict(backend=backend, batch=batch, heads=a, kv_heads=a, seq=s,
                                head_dim=HEAD_DIM, layout=layout))
            if backend != "math" and layout == "bhsd":
                for a in ((32,) if quick else (32, 64)):
                    out.append(dict(backend=backend, batch=batch, heads=a, kv_heads=KV_HEADS,
                                    seq=s, head_dim=HEAD_DIM))
    return out


def attn_flops_bytes(sp, pas):
    """FLOPs and bytes as loom's gen llm counts them (wl_llm.c attn_core_fwd/bwd,
    flash path): forward 4*b*h*s^2*d, halved for causal (the kernel skips the
    masked half); backward 2.5x the forward (FlashAttention-2); bytes: the
    forward reads Q, K, V and writes O, e*(2*T*A*d + 2*T*kv*d); the backward
    e*(4*T*A*d + 4*T*kv*d), T = b*s tokens, e = 2 (bf16)."""
    b, a, kv, s, d = sp["batch"], sp["heads"], sp["kv_heads"], sp["seq"], sp["head_dim"]
    T = b * s
    f_fwd = 0.5 * 4 * b * a * s * s * d
    by_fwd = 2 * (2 * T * a * d + 2 * T * kv * d)
    by_bwd = 2 * (4 * T * a * d + 4 * T * kv * d)
    if pas == "fwd":
        return f_fwd, by_fwd
    return 3.5 * f_fwd, by_fwd + by_bwd


ELEM_KERNELS = ("copy", "add", "mul", "gelu", "silu", "softmax", "layer_norm", "rms_norm",
                "dropout")
ELEM_COLS_2D = 4096   # row length of softmax / norms (a hidden size)


def elem_sizes(quick):
    return [1 << p for p in range(16, 31, 2 if quick else 1)]


def elem_bytes_flops(kernel, size):
    """Bytes moved and FLOPs (loom-style counts) of one kernel on `size` bytes
    of bf16 input: add/mul read 2 and write 1 tensor; unary kernels, softmax
    and norms read 1 and write 1; dropout also writes its mask (1 byte per
    element, torch's native_dropout)."""
    n = size // 2
    moved = {"add": 3 * size, "mul": 3 * size, "dropout": 2 * size + n}.get(kernel, 2 * size)
    per = {"copy": 0, "add": 1, "mul": 1, "gelu": 8, "silu": 8, "softmax": 5,
           "layer_norm": 5, "rms_norm": 5, "dropout": 2}[kernel]
    return moved, per * n


# ---- run-time estimate (assumed H200 rates) ---------------------------------
EST_TFLOPS = {"bf16": 650e12, "fp8": 1100e12}
EST_BW = 3.5e12
EST_SHAPE_OVERHEAD_S = 0.025   # python, allocation, synchronization per shape
EST_STARTUP_S = 20.0           # import torch, CUDA context, cuBLAS handles


def est_shape_s(kernel_us, host_us=40.0):
    n = min(MAX_REPS, max(MIN_REPS, TARGET_US / max(kernel_us, 1.0)))
    s = (WARMUP + 1 + n) * (kernel_us + FLUSH_US_EST + host_us) * 1e-6
    if kernel_us < TINY_US:
        k = min(LOOP_MAX, max(LOOP_MIN, LOOP_TARGET_US / max(kernel_us, 0.5)))
        s += LOOP_REPS * (k * max(kernel_us, host_us) + min(20000.0, k * HOST_US_GUESS)) * 1e-6
    return s + EST_SHAPE_OVERHEAD_S


def estimate(quick, batch=1, layout="bhsd"):
    g = 0.0
    for sp in gemm_specs(quick):
        f = 2.0 * sp["M"] * sp["N"] * sp["K"]
        by = gemm_bytes(sp["M"], sp["N"], sp["K"], sp["dtype"])
        us = max(f / EST_TFLOPS[sp["dtype"]], by / EST_BW) * 1e6 + 5
        g += est_shape_s(us)
    a = 0.0
    for sp in attn_specs(quick, batch, layout):
        for pas in ("fwd", "fwd+bwd"):
            f, by = attn_flops_bytes(sp, pas)
            rate = 450e12
            if sp["backend"] == "math":   # full s^2 work plus the s^2 score tensors
                s2 = sp["batch"] * sp["heads"] * sp["seq"] ** 2
                f, rate = 2 * f, 400e12
                by += s2 * 2 * (6 if pas == "fwd" else 16)
            us = max(f / rate, by / EST_BW) * 1e6 + 30
            a += est_shape_s(us, host_us=300.0 if pas != "fwd" else 60.0)
    for b, h, seq in ATTN_DROPOUT_SPECS:  # run_attention_dropout: 2 back-ends x 2 p
        for pas in ("fwd", "fwd+bwd"):
            f, by = attn_flops_bytes(dict(batch=b, heads=h, kv_heads=h, seq=seq,
                                          head_dim=HEAD_DIM), pas)
            us = max(f / 450e12, by / EST_BW) * 1e6 + 30
            a += 4 * est_shape_s(us, host_us=300.0 if pas != "fwd" else 60.0)
    e = 0.0
    for size in elem_sizes(quick):
        for k in ELEM_KERNELS:
            us = elem_bytes_flops(k, size)[0] / EST_BW * 1e6 + 4
            e += est_shape_s(us) + 0.002
    return {"gemm": g, "attention": a, "elementwise": e, "startup": EST_STARTUP_S,
            "total": g + a + e + EST_STARTUP_S}


# ---- output helpers ----------------------------------------------------------
def log(*a):
    try:
        print(*a, flush=True)
    except OSError:   # a closed stdout must not stop the measurements
        pass


class CsvOut:
    """A CSV written row by row, flushed after each row."""

    def __init__(self, path, cols):
        self.f = open(path, "w", newline="")
        self.cols = cols
        self.w = csv.DictWriter(self.f, fieldnames=cols, extrasaction="ignore")
        self.w.writeheader()
        self.f.flush()

    def row(self, r):
        self.w.writerow({c: fmt(r.get(c)) for c in self.cols})
        self.f.flush()

    def close(self):
        self.f.close()


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e18:
            return str(int(v))
        return "%.6g" % v if abs(v) >= 1e6 else "%.4f" % v
    return str(v)


def short(ex):
    s = "%s: %s" % (type(ex).__name__, ex)
    s = " ".join(s.split())
    return s[:200]


# ---- table.csv in loom's format (compute/comp_table.c, docs/DEVICES.md) -----
# Node names of `loom gen llm` (kernel granularity) are L<layer>.<F|B|R><mb>.<kernel>
# or <F|B><mb>.<kernel>.  A node takes the FIRST series whose glob matches and
# whose axis it has, so bytes-indexed elementwise series come first and the
# flops-indexed GEMM catch-all "*" last.  Kernels not measured directly map to
# the closest measured one (backward elementwise kernels to the forward ones).
TABLE_ELEM = [
    ("*.ln1", ("layer_norm",)), ("*.ln2", ("layer_norm",)), ("*.final_norm", ("layer_norm",)),
    ("*.ln1_bwd", ("layer_norm",)), ("*.ln2_bwd", ("layer_norm",)),
    ("*.final_norm_bwd", ("layer_norm",)),
    ("*.gelu", ("gelu",)), ("*.gelu_bwd", ("gelu",)),
    ("*.swiglu", ("silu",)), ("*.swiglu_bwd", ("silu",)),
    ("*.exp_act", ("silu",)), ("*.exp_act_bwd", ("silu",)),
    ("*.resid1", ("add",)), ("*.resid2", ("add",)),
    ("*.resid1_bwd", ("add",)), ("*.resid2_bwd", ("add",)),
    ("*.softmax", ("softmax",)), ("*.softmax_bwd", ("softmax",)),
    ("*.cross_entropy", ("softmax",)), ("*.cross_entropy_bwd", ("softmax",)),
    ("*.loss", ("add",)), ("*.embed", ("copy",)), ("*.embed_wgrad", ("add",)),
]


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def dedupe(pairs):
    """[(x, t)] -> sorted [(x, mean t)] with x > 0, t > 0 and distinct x."""
    acc = {}
    for x, t in pairs:
        if x is None or t is None or x <= 0 or t <= 0:
            continue
        acc.setdefault(x, []).append(t)
    return [(x, sum(v) / len(v)) for x, v in sorted(acc.items())]


def build_table(in_dir, out_path, header_note=""):
    gemm = read_csv(os.path.join(in_dir, "gemm.csv"))
    attn = read_csv(os.path.join(in_dir, "attention.csv"))
    elem = read_csv(os.path.join(in_dir, "elementwise.csv"))
    series = []   # (glob, axis, [(x, t)])
    by_kernel = {}
    for r in elem:
        by_kernel.setdefault(r.get("kernel"), []).append((num(r.get("bytes_moved")),
                                                          num(r.get("time_us"))))
    for glob, sources in TABLE_ELEM:
        for k in sources:
            rows = dedupe(by_kernel.get(k, []))
            if rows:
                series.append((glob, "bytes", rows, k))
                break
    # flash attention: forward, and backward = (forward+backward) - forward
    for be in ("flash", "cudnn"):
        fwd, fb = {}, {}
        for r in attn:
            if r.get("backend") != be:
                continue
            key = (r.get("batch"), r.get("heads"), r.get("kv_heads"), r.get("seq"),
                   r.get("head_dim"))
            t, f = num(r.get("time_us")), num(r.get("flops"))
            if t is None or f is None:
                continue
            (fwd if r.get("pass") == "fwd" else fb)[key] = (f, t)
        rows_f = dedupe(fwd.values())
        rows_b = dedupe([(fb[k][0] - fwd[k][0], fb[k][1] - fwd[k][1]) for k in fb if k in fwd])
        if rows_f:
            series.append(("*.flash_attn", "flops", rows_f, be + " fwd"))
            if rows_b:
                series.append(("*.flash_attn_bwd", "flops", rows_b, be + " bwd"))
            break
    rows_g = dedupe([(num(r.get("flops")), num(r.get("time_us"))) for r in gemm
                     if r.get("dtype") == "bf16" and
                     (r.get("cls", "").startswith("llm") or r.get("cls") == "square")])
    if rows_g:
        series.append(("*", "flops", rows_g, "bf16 matmul, LLM layer and square shapes"))
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# loom kernel table (compute-model: table, compute-table: FILE), written by\n")
        f.write("# bench/gpu/kernels.py from %s. time_us: median of single launches, L2 flushed.\n"
                % os.path.abspath(in_dir))
        if header_note:
            f.write("# %s\n" % header_note)
        f.write("# Made for `loom gen llm --granularity kernel` node names; fused spans\n")
        f.write("# (--granularity layer, names ending in '+') fall to the GEMM catch-all '*'.\n")
        f.write("kernel,flops,bytes,time_us\n")
        for glob, axis, rows, src in series:
            f.write("# %s <- %s\n" % (glob, src))
            for x, t in rows:
                if axis == "flops":
                    f.write("%s,%d,0,%.3f\n" % (glob, round(x), t))
                else:
                    f.write("%s,0,%d,%.3f\n" % (glob, round(x), t))
    os.replace(tmp, out_path)
    return sum(len(s[2]) for s in series)


# ---- the GPU part ------------------------------------------------------------
class Ctx:
    def __init__(self, torch, out_dir, budget_s, t0):
        self.torch = torch
        self.out = out_dir
        self.budget = budget_s
        self.t0 = t0
        self.flush_buf = torch.empty(FLUSH_BYTES // 4, dtype=torch.int32, device="cuda")
        self.have_sleep = hasattr(torch.cuda, "_sleep")
        self.cycles_per_us = 1980.0
        try:
            props = torch.cuda.get_device_properties(0)
            khz = getattr(props, "clock_rate", None)
            if khz:
                self.cycles_per_us = float(khz) / 1000.0
        except Exception:
            pass

    def elapsed(self):
        return time.time() - self.t0

    def past(self, frac):
        """True once the elapsed time passes frac of the budget."""
        return self.elapsed() > frac * self.budget

    def flush(self):
        self.flush_buf.zero_()

    def hold(self, us):
        """Keep the GPU busy about `us` so the host can queue work ahead of it."""
        if us <= 0:
            return
        if self.have_sleep:
            try:
                self.torch.cuda._sleep(int(us * self.cycles_per_us))
                return
            except Exception:
                self.have_sleep = False
        for _ in range(max(1, int(us / FLUSH_US_EST))):
            self.flush()

    def event(self):
        return self.torch.cuda.Event(enable_timing=True)

    def singles(self, fn, n, hold_us):
        starts = [self.event() for _ in range(n)]
        ends = [self.event() for _ in range(n)]
        for i in range(n):
            self.flush()
            if hold_us > 0:
                self.hold(hold_us)
            starts[i].record()
            fn()
            ends[i].record()
        self.torch.cuda.synchronize()
        return [s.elapsed_time(e) * 1000.0 for s, e in zip(starts, ends)]

    def measure(self, fn, hold_us=0.0):
        """Median of single launches (L2 flushed before each); for tiny
        kernels also the per-launch time of a loop of k launches."""
        torch = self.torch
        for _ in range(WARMUP):
            fn()
        torch.cuda.synchronize()
        pilot = self.singles(fn, 1, hold_us)[0]
        n = int(min(MAX_REPS, max(MIN_REPS, TARGET_US / max(pilot, 1.0))))
        times = self.singles(fn, n, hold_us)
        r = {"time_us": statistics.median(times), "min_us": min(times), "reps": n}
        if r["time_us"] < TINY_US:
            k = int(min(LOOP_MAX, max(LOOP_MIN, LOOP_TARGET_US / max(r["time_us"], 0.5))))
            per, host = [], []
            for _ in range(LOOP_REPS):
                s, e = self.event(), self.event()
                self.hold(min(20000.0, k * HOST_US_GUESS))
                s.record()
                h0 = time.perf_counter()
                for _ in range(k):
                    fn()
                host.append((time.perf_counter() - h0) * 1e6 / k)
                e.record()
                torch.cuda.synchronize()
                per.append(s.elapsed_time(e) * 1000.0 / k)
            r["time_loop_us"] = statistics.median(per)
            r["k_loop"] = k
            r["host_us"] = statistics.median(host)
        return r


def write_device(torch, path, args, est):
    lines = []

    def put(k, f):
        try:
            lines.append("%s: %s" % (k, f()))
        except Exception as ex:
            lines.append("%s: ? (%s)" % (k, short(ex)))

    put("date", lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    put("python", lambda: sys.version.split()[0])
    put("torch", lambda: torch.__version__)
    put("torch.version.cuda", lambda: torch.version.cuda)
    put("cudnn", lambda: torch.backends.cudnn.version())
    put("device", lambda: torch.cuda.get_device_name(0))
    props = None
    try:
        props = torch.cuda.get_device_properties(0)
    except Exception as ex:
        lines.append("properties: ? (%s)" % short(ex))
    if props is not None:
        for k in ("major", "minor", "multi_processor_count", "total_memory", "L2_cache_size",
                  "clock_rate", "memory_clock_rate", "memory_bus_width",
                  "max_threads_per_multi_processor", "regs_per_multiprocessor"):
            if hasattr(props, k):
                put(k, lambda k=k: getattr(props, k))
    put("matmul.allow_tf32", lambda: torch.backends.cuda.matmul.allow_tf32)
    put("matmul.allow_bf16_reduced_precision_reduction",
        lambda: torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction)
    put("flash_sdp_enabled", lambda: torch.backends.cuda.flash_sdp_enabled())
    put("cudnn_sdp_enabled", lambda: torch.backends.cuda.cudnn_sdp_enabled())
    put("args", lambda: " ".join(sys.argv[1:]))
    put("estimate_s", lambda: "%.0f (gemm %.0f, attention %.0f, elementwise %.0f)" % (
        est["total"], est["gemm"], est["attention"], est["elementwise"]))
    put("timing", lambda: "warm-up %d, median of %d..%d single launches (L2 flushed, %d MiB), "
        "loops of %d..%d launches below %g us" % (WARMUP, MIN_REPS, MAX_REPS, FLUSH_BYTES >> 20,
                                                  LOOP_MIN, LOOP_MAX, TINY_US))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    nvidia_smi(path, "before")


def nvidia_smi(path, when):
    q = ("name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,"
         "power.draw,power.limit,temperature.gpu,pstate,clocks_throttle_reasons.active")
    try:
        p = subprocess.run(["nvidia-smi", "--query-gpu=" + q, "--format=csv"],
                           capture_output=True, text=True, timeout=15)
        txt = (p.stdout or "") + (p.stderr or "")
    except Exception as ex:
        txt = "nvidia-smi: %s\n" % short(ex)
    with open(path, "a") as f:
        f.write("--- nvidia-smi %s ---\n%s\n" % (when, txt.strip()))


def gemm_fn(torch, sp):
    M, N, K = sp["M"], sp["N"], sp["K"]
    dev = "cuda"
    if sp["dtype"] == "fp8":
        f8 = torch.float8_e4m3fn
        a = torch.randn(M, K, device=dev).to(f8)                 # row-major
        b = torch.randn(N, K, device=dev).to(f8).t()             # column-major K x N
        sa = torch.tensor(1.0, device=dev, dtype=torch.float32)
        sb = torch.tensor(1.0, device=dev, dtype=torch.float32)
        fast = bool(sp["fast"])

        def fn():
            r = torch._scaled_mm(a, b, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16,
                                 use_fast_accum=fast)
            return r[0] if isinstance(r, tuple) else r
        return fn
    bf = torch.bfloat16
    if sp["layout"] == "NT":
        a = torch.randn(M, K, device=dev, dtype=bf)
        b = torch.randn(N, K, device=dev, dtype=bf).t()
    elif sp["layout"] == "TN":
        a = torch.randn(K, M, device=dev, dtype=bf).t()
        b = torch.randn(K, N, device=dev, dtype=bf)
    else:
        a = torch.randn(M, K, device=dev, dtype=bf)
        b = torch.randn(K, N, device=dev, dtype=bf)

    def fn():
        return torch.matmul(a, b)
    return fn


def run_gemm(ctx, specs, stop_frac):
    torch = ctx.torch
    out = CsvOut(os.path.join(ctx.out, "gemm.csv"), GEMM_COLS)
    done = skipped = 0
    fp8_error = None
    try:
        for sp in specs:
            if ctx.past(stop_frac):
                skipped += 1
                continue
            M, N, K = sp["M"], sp["N"], sp["K"]
            row = dict(M=M, N=N, K=K, dtype=sp["dtype"], flops=2 * M * N * K,
                       bytes=gemm_bytes(M, N, K, sp["dtype"]), note=sp["note"], cls=sp["cls"],
                       layout=sp["layout"])
            if sp["dtype"] == "fp8" and fp8_error:
                row["note"] += " skipped: fp8 failed before (%s)" % fp8_error
                out.row(row)
                continue
            fn = None
            try:
                fn = gemm_fn(torch, sp)
                r = ctx.measure(fn)
                row.update(r)
                row["tflops"] = row["flops"] / (r["time_us"] * 1e-6) / 1e12
                done += 1
            except Exception as ex:
                row["note"] += " error: " + short(ex)
                if sp["dtype"] == "fp8":
                    fp8_error = short(ex)[:80]
                try:
                    torch.cuda.synchronize()
                    torch.cuda.empty_cache()
                except Exception:
                    pass
            fn = None
            out.row(row)
            log("gemm %-5s %6d %6d %6d %-8s %10s us %8s TF/s  %s  [%.0fs]" % (
                sp["dtype"], M, N, K, sp["layout"], fmt(row.get("time_us")),
                fmt(row.get("tflops")), row["note"], ctx.elapsed()))
    finally:
        out.close()
        try:
            torch.cuda.empty_cache()
        except Exception:
            pass
    log("gemm: %d measured, %d skipped by the budget" % (done, skipped))


def run_attention(ctx, specs, stop_frac):
    torch = ctx.torch
    out = CsvOut(os.path.join(ctx.out, "attention.csv"), ATTN_COLS)
    done = skipped = 0
    try:
        import torch.nn.functional as F
        try:
            from torch.nn.attention import sdpa_kernel, SDPBackend
            backends = {"flash": getattr(SDPBackend, "FLASH_ATTENTION", None),
                        "cudnn": getattr(SDPBackend, "CUDNN_ATTENTION", None),
                        "math": getattr(SDPBackend, "MATH", None)}
        except Exception as ex:
            log("attention: torch.nn.attention.sdpa_kernel unavailable: %s" % short(ex))
            sdpa_kernel, backends = None, {}
        # Since torch 2.5 the math backend upcasts bf16 to fp32 unless told
        # otherwise; Megatron's unfused attention runs in bf16, so allow it.
        math_note = "bf16 reduction"
        try:
            torch.backends.cuda.allow_fp16_bf16_reduction_math_sdp(True)
        except Exception as ex:
            math_note = "fp32 upcast? (%s)" % short(ex)[:60]
        failed = {}
        for sp in specs:
            for pas in ("fwd", "fwd+bwd"):
                if ctx.past(stop_frac):
                    skipped += 1
                    continue
                fl, by = attn_flops_bytes(sp, pas)
                row = dict(sp, causal=1, flops=fl, bytes=by,
                           note=math_note if sp["backend"] == "math" else "")
                row["pass"] = pas
                be = backends.get(sp["backend"])
                if be is None or sdpa_kernel is None:
                    row["note"] = "skipped: backend not available in this torch"
                    out.row(row)
                    continue
                if (sp["backend"], pas) in failed:
                    row["note"] = "skipped: failed before (%s)" % failed[(sp["backend"], pas)]
                    out.row(row)
                    continue
                q = k = v = go = fn = None
                b, a, kv, s, d = (sp["batch"], sp["heads"], sp["kv_heads"], sp["seq"],
                                  sp["head_dim"])
                try:
                    bf = torch.bfloat16
                    if sp.get("layout") == "packed":  # views of a fused QKV output
                        qkv = torch.randn(b, s, 3, a, d, device="cuda", dtype=bf,
                                          requires_grad=True)
                        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
                        row["note"] = (row["note"] + " packed qkv").strip()
                    else:
                        q = torch.randn(b, a, s, d, device="cuda", dtype=bf, requires_grad=True)
                        k = torch.randn(b, kv, s, d, device="cuda", dtype=bf, requires_grad=True)
                        v = torch.randn(b, kv, s, d, device="cuda", dtype=bf, requires_grad=True)
                    go = torch.randn(b, a, s, d, device="cuda", dtype=bf)
                    kw = {"enable_gqa": True} if kv != a else {}
                    if pas == "fwd":
                        def fn():
                            return F.scaled_dot_product_attention(q, k, v, is_causal=True, **kw)
                    else:
                        def fn():
                            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, **kw)
                            return torch.autograd.grad(o, (q, k, v), go)
                    with sdpa_kernel(be):
                        r = ctx.measure(fn, hold_us=300.0 if pas != "fwd" else 100.0)
                    row.update(r)
                    row["tflops"] = fl / (r["time_us"] * 1e-6) / 1e12
                    done += 1
                except Exception as ex:
                    row["note"] = (row["note"] + " error: " + short(ex)).strip()
                    if "No available kernel" in str(ex) or "not supported" in str(ex).lower():
                        # the whole backend is missing; configs with GQA may differ
                        if kv == a:
                            failed[(sp["backend"], pas)] = short(ex)[:80]
                    try:
                        torch.cuda.synchronize()
                        torch.cuda.empty_cache()
                    except Exception:
                        pass
                q = k = v = go = fn = None
                out.row(row)
                log("attn %-5s %-7s b%d h%-2d kv%-2d s%-5d %10s us %8s TF/s %s [%.0fs]" % (
                    sp["backend"], pas, sp["batch"], sp["heads"], sp["kv_heads"], sp["seq"],
                    fmt(row.get("time_us")), fmt(row.get("tflops")), row["note"],
                    ctx.elapsed()))
            if sp["backend"] == "math":
                try:
                    torch.cuda.empty_cache()
                except Exception:
                    pass
    finally:
        out.close()
    log("attention: %d measured, %d skipped by the budget" % (done, skipped))


# The attention of NeMo's GPT-3 5B and 20B FP8 rows (docs/VALIDATION.md):
# Megatron-Core's defaults, which NeMo's GPTConfig5B / 20B keep, run
# attention dropout 0.1 inside the fused kernel, which the rows above do
# not (dropout 0).  (batch, heads, seq): 5B at micro-batch 4, tp 1; 20B at
# micro-batch 2, tp 2 (48 / 2 heads); head dimension 128, causal.
ATTN_DROPOUT_SPECS = [(4, 32, 2048), (2, 24, 2048)]
ATTN_DROPOUT_P = (0.0, 0.1)


def run_attention_dropout(ctx, stop_frac):
    """attention_dropout.csv: the flash and cuDNN back-ends at
    ATTN_DROPOUT_SPECS with dropout 0 and 0.1, measured in turn (same
    minutes, same clocks), so that the dropout's cost is their ratio."""
    torch = ctx.torch
    out = CsvOut(os.path.join(ctx.out, "attention_dropout.csv"), ["dropout_p"] + ATTN_COLS)
    try:
        import torch.nn.functional as F
        from torch.nn.attention import sdpa_kernel, SDPBackend
        for backend, be in (("flash", SDPBackend.FLASH_ATTENTION),
                            ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            for b, a, seq in ATTN_DROPOUT_SPECS:
                for pas in ("fwd", "fwd+bwd"):
                    for p in ATTN_DROPOUT_P:
                        if ctx.past(stop_frac):
                            return
                        sp = dict(backend=backend, batch=b, heads=a, kv_heads=a, seq=seq,
                                  head_dim=HEAD_DIM)
                        fl, by = attn_flops_bytes(sp, pas)
                        row = dict(sp, dropout_p=p, causal=1, flops=fl, bytes=by, note="")
                        row["pass"] = pas
                        try:
                            bf = torch.bfloat16
                            q, k, v = (torch.randn(b, a, seq, HEAD_DIM, device="cuda", dtype=bf,
                                                   requires_grad=True) for _ in range(3))
                            go = torch.randn(b, a, seq, HEAD_DIM, device="cuda", dtype=bf)

                            def fwd():
                                return F.scaled_dot_product_attention(q, k, v, dropout_p=p,
                                                                      is_causal=True)
                            fn = fwd if pas == "fwd" else (
                                lambda: torch.autograd.grad(fwd(), (q, k, v), go))
                            with sdpa_kernel(be):
                                r = ctx.measure(fn, hold_us=300.0 if pas != "fwd" else 100.0)
                            row.update(r)
                            row["tflops"] = fl / (r["time_us"] * 1e-6) / 1e12
                        except Exception as ex:
                            row["note"] = "error: " + short(ex)
                        out.row(row)
                        log("attn-dropout %-5s %-7s b%d h%-2d s%d p%.1f %10s us" % (
                            backend, pas, b, a, seq, p, fmt(row.get("time_us"))))
    except Exception as ex:
        log("attention dropout: %s" % short(ex))
    finally:
        out.close()


def elem_fns(torch, F, kernel, x, y, out, x2, w, bias):
    if kernel == "copy":
        return lambda: out.copy_(x)
    if kernel == "add":
        return lambda: torch.add(x, y)
    if kernel == "mul":
        return lambda: torch.mul(x, y)
    if kernel == "gelu":
        return lambda: F.gelu(x)
    if kernel == "silu":
        return lambda: F.silu(x)
    if kernel == "softmax":
        return lambda: torch.softmax(x2, dim=-1)
    if kernel == "layer_norm":
        return lambda: F.layer_norm(x2, (x2.shape[-1],), w, bias)
    if kernel == "rms_norm":
        if not hasattr(F, "rms_norm"):
            return None
        return lambda: F.rms_norm(x2, (x2.shape[-1],), w)
    if kernel == "dropout":
        return lambda: F.dropout(x, p=0.1, training=True)
    raise ValueError(kernel)


def run_elementwise(ctx, sizes, stop_frac):
    torch = ctx.torch
    out_csv = CsvOut(os.path.join(ctx.out, "elementwise.csv"), ELEM_COLS)
    done = skipped = 0
    try:
        import torch.nn.functional as F
        for size in sizes:
            x = y = out = x2 = w = bias = None
            try:
                n = size // 2
                bf = torch.bfloat16
                x = torch.randn(n, device="cuda", dtype=bf)
                y = torch.randn(n, device="cuda", dtype=bf)
                out = torch.empty_like(x)
                x2 = x.view(-1, ELEM_COLS_2D)
                w = torch.ones(ELEM_COLS_2D, device="cuda", dtype=bf)
                bias = torch.zeros(ELEM_COLS_2D, device="cuda", dtype=bf)
            except Exception as ex:
                log("elementwise: cannot allocate %d bytes: %s" % (size, short(ex)))
                x = y = out = x2 = w = bias = None
                try:
                    torch.cuda.empty_cache()
                except Exception:
                    pass
                continue
            for kernel in ELEM_KERNELS:
                if ctx.past(stop_frac):
                    skipped += 1
                    continue
                moved, fl = elem_bytes_flops(kernel, size)
                row = dict(kernel=kernel, size_bytes=size, numel=size // 2, bytes_moved=moved,
                           flops=fl, note="")
                try:
                    fn = elem_fns(torch, F, kernel, x, y, out, x2, w, bias)
                    if fn is None:
                        row["note"] = "skipped: not in this torch"
                    else:
                        r = ctx.measure(fn)
                        row.update(r)
                        row["GB/s"] = moved / (r["time_us"] * 1e-6) / 1e9
                        done += 1
                except Exception as ex:
                    row["note"] = "error: " + short(ex)
                    try:
                        torch.cuda.synchronize()
                        torch.cuda.empty_cache()
                    except Exception:
                        pass
                fn = None
                out_csv.row(row)
                log("elem %-10s %11d B %10s us %8s GB/s %s [%.0fs]" % (
                    kernel, size, fmt(row.get("time_us")), fmt(row.get("GB/s")), row["note"],
                    ctx.elapsed()))
            x = y = out = x2 = w = bias = None
            try:
                torch.cuda.empty_cache()
            except Exception:
                pass
    finally:
        out_csv.close()
    log("elementwise: %d measured, %d skipped by the budget" % (done, skipped))


def section(name, f, *a):
    log("=== %s ===" % name)
    try:
        f(*a)
    except Exception:
        log("%s: FAILED\n%s" % (name, traceback.format_exc()))


def table_now(out_dir, note):
    try:
        n = build_table(out_dir, os.path.join(out_dir, "table.csv"), note)
        log("table.csv: %d rows" % n)
    except Exception:
        log("table.csv: FAILED\n%s" % traceback.format_exc())


def main():
    t0 = time.time()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output folder (created)")
    ap.add_argument("--quick", action="store_true", help="about a third of the shapes")
    ap.add_argument("--budget-s", type=float, default=170.0,
                    help="stop starting new shapes once this much wall time has passed "
                    "(GEMMs stop at 55%%, attention at 80%%, elementwise at 97%% of it)")
    ap.add_argument("--only", default="gemm,attention,elementwise",
                    help="comma-separated sections to run")
    ap.add_argument("--attention-batch", type=int, default=1, metavar="B",
                    help="sequences per attention call (default 1; above 1: flash and cuDNN)")
    ap.add_argument("--attention-layout", default="bhsd", choices=("bhsd", "packed"),
                    help="q, k, v as their own [b, h, s, d] tensors (default) or as strided "
                         "views of one [b, s, 3, h, d] (a fused QKV's output)")
    ap.add_argument("--dry-run", action="store_true", help="print shapes and the estimate only")
    ap.add_argument("--table-from", metavar="DIR",
                    help="only rebuild OUT/table.csv from DIR's CSVs (no torch)")
    args = ap.parse_args()

    if args.table_from:
        if not args.out:
            ap.error("--table-from needs --out")
        os.makedirs(args.out, exist_ok=True)
        n = build_table(args.table_from, os.path.join(args.out, "table.csv"))
        log("%s: %d rows" % (os.path.join(args.out, "table.csv"), n))
        return 0

    est = estimate(args.quick, args.attention_batch, args.attention_layout)
    g, a = gemm_specs(args.quick), attn_specs(args.quick, args.attention_batch,
                                              args.attention_layout)
    log("shapes: %d GEMMs, %d attention x 2 passes, %d elementwise" % (
        len(g), len(a), len(elem_sizes(args.quick)) * len(ELEM_KERNELS)))
    log("estimated run time on an H200: %.0f s (startup %.0f, gemm %.0f, attention %.0f, "
        "elementwise %.0f); budget %.0f s" % (est["total"], est["startup"], est["gemm"],
                                              est["attention"], est["elementwise"],
                                              args.budget_s))
    if args.dry_run:
        for sp in g:
            log("gemm %-5s %6d %6d %6d %s %s" % (sp["dtype"], sp["M"], sp["N"], sp["K"],
                                                 sp["layout"], sp["note"]))
        return 0
    if not args.out:
        ap.error("--out DIR is required")
    os.makedirs(args.out, exist_ok=True)

    import torch
    if not torch.cuda.is_available():
        log("no CUDA device visible to torch")
        return 1
    torch.cuda.init()
    write_device(torch, os.path.join(args.out, "device.txt"), args, est)
    log(open(os.path.join(args.out, "device.txt")).read())
    ctx = Ctx(torch, args.out, args.budget_s, t0)
    only = set(s.strip() for s in args.only.split(","))
    dev_note = "device: %s" % torch.cuda.get_device_name(0)
    if "gemm" in only:
        section("gemm", run_gemm, ctx, g, 0.55)
        table_now(args.out, dev_note)
    if "attention" in only:
        section("attention", run_attention, ctx, a, 0.78)
        section("attention dropout", run_attention_dropout, ctx, 0.80)
        table_now(args.out, dev_note)
    if "elementwise" in only:
        section("elementwise", run_elementwise, ctx, elem_sizes(args.quick), 0.97)
        table_now(args.out, dev_note)
    nvidia_smi(os.path.join(args.out, "device.txt"), "after")
    log("done in %.0f s (estimate %.0f s)" % (time.time() - t0, est["total"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
