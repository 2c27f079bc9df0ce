#!/usr/bin/env python3
"""Published nccl-tests bus bandwidth against loom's prediction.

Reads bench/nccl/published.csv (every row cited there), times the same
collective at the same sizes with `loom compare` on the matching network
of this folder, and prints one table: measured busbw, loom's with the
system file's per-dimension algorithms (`lists`) and with NCCL's cost mode
(`nccl`), each with its error, before and after what `gen llm` writes:
`comm-efficiency` (docs/NETWORK.md section 9), `all-gather-order:
descending` and `phase-overlap` (docs/MODEL.md section 7) and
`all-to-all-implementation: direct`.

    bench/nccl/compare.py [--loom build-rel/loom] [--markdown] [--fit] [--fit-overlap]

--fit prints the tables of network/net_eff.c from the single-node rows
(the only ones fitted): loom's time at each size is split into a part
that does not scale with bandwidth (latency, endpoint delay, reductions:
L) and one that does (X, found from a second run at twice the bandwidth);
the curve's factor at that size is eff = X / (Tm - L), so that
L + X / eff is the measured time Tm.

--fit-overlap prints the `phase-overlap` (docs/MODEL.md section 7) that
fits the multi-node rows of one system, FIT_OVERLAP, at 256 MiB and
above (the only ones fitted; below, latency is most of the time and the
overlap of transfers has little to act on): the value in 0..1, to 0.01, whose times have the least mean
squared relative error with comm-efficiency and all-gather-order as gen
llm writes them, and each other multi-node system's errors at it (checks).
The "after" column uses the phase-overlap that `loom gen llm` writes (read
from a system file it generates, so the value lives in one place).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# system (published.csv) -> network file, loom system file, curves (after)
SYSTEMS = {
    "azure-nd-a100-v4": ("a100-8.yml", "a100-80g", ["nvlink3"]),
    "azure-nd-h100-v5": ("h100-8.yml", "h100-sxm", ["nvlink4"]),
    "oci-bm-gpu-h100-8": ("h100-2x8-roce.yml", "h100-sxm", ["nvlink4", "none"]),
    "aws-p4de-24xlarge": ("a100-2x8-efa.yml", "a100-80g", ["nvlink3", "none"]),
    "aws-p5-48xlarge": ("h100-2x8-efa.yml", "h100-sxm", ["nvlink4", "none"]),
    "voltagepark-h100-4x8": ("h100-4x8-ib.yml", "h100-sxm", ["nvlink4", "none"]),
    "i309-h100-4x8": ("h100-4x8-ib.yml", "h100-sxm", ["nvlink4", "none"]),
    "i309-h100-4x8b": ("h100-4x8-ib.yml", "h100-sxm", ["nvlink4", "none"]),
    "i309-h100-8x8": ("h100-8x8-ib.yml", "h100-sxm", ["nvlink4", "none"]),
    "i322-h100-128x8": ("h100-128x8-ib.yml", "h100-sxm", ["nvlink4", "none"]),
    "xla-b200-8": ("b200-8.yml", "b200", ["nvlink5"]),
    "xla-h100-8": ("h100-8.yml", "h100-sxm", ["nvlink4"]),
}
FIT = {"nvlink3": "azure-nd-a100-v4", "nvlink4": "azure-nd-h100-v5", "nvlink5": "xla-b200-8"}
FIT_OVERLAP = ("voltagepark-h100-4x8", "all_reduce")
BIG = 1 << 28  # bandwidth-bound sizes: the overlap is of transfers, not latencies


def busbw_factor(op, n):
    return 2.0 * (n - 1) / n if op == "all_reduce" else (n - 1) / n


# The system keys `loom gen llm` writes beside its comm-efficiency curve
# (docs/NETWORK.md 9, docs/MODEL.md 7): read from a system file it
# generates, so that this script and gen llm cannot drift apart.
GEN_KEYS = ("all-gather-order", "phase-overlap", "all-to-all-implementation")


def gen_keys(loom, tmp):
    """{key: value} of GEN_KEYS as `loom gen llm` writes them."""
    pre = os.path.join(tmp, "g", "s")
    subprocess.run([loom, "gen", "llm", "--hidden", "256", "--ffn", "1024", "--heads", "4",
                    "--layers", "1", "--seq", "128", "--vocab", "512", "-o", pre, "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    got = {}
    with open(pre + ".system.yaml") as f:
        for ln in f:
            k, _, v = ln.partition(":")
            if k in GEN_KEYS:
                got[k] = v.split("#")[0].strip()
    missing = [k for k in GEN_KEYS if k not in got]
    if missing:
        raise SystemExit("compare.py: gen llm's system file has no %s" % ", ".join(missing))
    return got


def system_file(tmp, device, curves, name, gen=None, overlap=None):
    """A system file for `device`; with curves, the comm-efficiency curves
    and gen llm's other keys (gen, from gen_keys), phase-overlap replaced
    by `overlap` when given."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("device: %s\n" % device)
        if curves:
            f.write("comm-efficiency: [ %s ]\n" % ", ".join(curves))
            for k in GEN_KEYS:
                v = repr(overlap) if k == "phase-overlap" and overlap is not None else gen[k]
                f.write("%s: %s\n" % (k, v))
    return path


def run_loom(loom, op, sizes, net, system, algos, ranks):
    """{(algorithm, size): time_us} from `loom compare --csv`."""
    with tempfile.NamedTemporaryFile(suffix=".csv") as out:
        cmd = [loom, "compare", "-c", op, "-S", ",".join(str(s) for s in sizes),
               "-n", net, "-s", system, "-a", ",".join(algos), "-r", str(ranks),
               "-q", "--csv", out.name]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            return {(r["algorithm"], int(r["size_B"])): float(r["time_us"])
                    for r in csv.DictReader(f)}


def scaled_net(tmp, net, factor):
    """The network file with every bandwidth x factor."""
    lines = open(net).read().splitlines()
    out = []
    for ln in lines:
        if ln.startswith("bandwidth:"):
            vals = ln.split("[")[1].split("]")[0].split(",")
            ln = "bandwidth: [ %s ]" % ", ".join("%.6f" % (float(v) * factor) for v in vals)
        out.append(ln)
    path = os.path.join(tmp, "x%g-%s" % (factor, os.path.basename(net)))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path


def fit(loom, rows, tmp):
    """Per published size: the factor on the bandwidth part that makes
    loom's time the measured one, eff = X / (Tm - L); where the measured
    time is below loom's latency part alone (Tm <= L: loom's alpha is the
    error there, not the bandwidth) the next larger size's factor."""
    for curve, system in FIT.items():
        rs = [r for r in rows if r["system"] == system and r["op"] == "all_reduce"]
        n = max(int(r["ranks"]) for r in rs)  # the whole node; smaller groups are checks
        rs = sorted((r for r in rs if int(r["ranks"]) == n), key=lambda r: int(r["bytes"]))
        net = os.path.join(HERE, SYSTEMS[system][0])
        sysf = system_file(tmp, SYSTEMS[system][1], None, "fit.yml")
        sizes = [int(r["bytes"]) for r in rs]
        t1 = run_loom(loom, "all_reduce", sizes, net, sysf, ["lists"], n)
        t2 = run_loom(loom, "all_reduce", sizes, scaled_net(tmp, net, 2.0), sysf, ["lists"], n)
        effs, parts = [], []
        for r in rs:
            S = int(r["bytes"])
            tm = S * busbw_factor("all_reduce", n) / (float(r["busbw_GBps"]) * 1e3)  # us
            X = 2 * (t1[("lists", S)] - t2[("lists", S)])
            L = t1[("lists", S)] - X
            effs.append(X / (tm - L) if tm > L else None)
            parts.append((L, X, tm))
        for i in range(len(effs) - 2, -1, -1):
            if effs[i] is None:
                effs[i] = effs[i + 1]
        # held out: every odd size predicted from its two neighbours' factors
        # (the table read halfway in log2), as if it had not been published
        ho = [abs(tm / (L + X / ((effs[i - 1] + effs[i + 1]) / 2)) - 1)
              for i, (L, X, tm) in enumerate(parts) if i % 2 == 1 and i + 1 < len(parts)]
        print("%s (%s, %d rows, sizes 2^%d .. 2^%d bytes); every other size held out and read "
              "from its neighbours: busbw |error| mean %.1f%%, max %.1f%% (%d sizes):" %
              (curve, system, len(rs), sizes[0].bit_length() - 1, sizes[-1].bit_length() - 1,
               100 * sum(ho) / len(ho), 100 * max(ho), len(ho)))
        for i in range(0, len(effs), 6):
            print("    " + " ".join("%.4f," % e for e in effs[i:i + 6]))


def overlap_errors(loom, rows, tmp, gen, overlap):
    """{(system, op): [relative time error per row]} of the multi-node
    rows at this phase-overlap, the keys as gen llm writes them."""
    groups = {}
    for r in rows:
        if int(r["nodes"]) > 1:
            groups.setdefault((r["system"], r["op"], int(r["ranks"])), []).append(r)
    out = {}
    for (system, op, n), rs in groups.items():
        netf, dev, curves = SYSTEMS[system]
        sizes = [int(r["bytes"]) for r in rs]
        t = run_loom(loom, op, sizes, os.path.join(HERE, netf),
                     system_file(tmp, dev, curves, "o.yml", gen, overlap), ["lists"], n)
        f = busbw_factor(op, n)
        out[(system, op)] = [t[("lists", int(r["bytes"]))] /
                             (int(r["bytes"]) * f / (float(r["busbw_GBps"]) * 1e3)) - 1
                             for r in rs]
    return out


def fit_overlap(loom, rows, tmp):
    fitrows = [r for r in rows if (r["system"], r["op"]) == FIT_OVERLAP and
               int(r["bytes"]) >= BIG]
    gen = gen_keys(loom, tmp)
    best = None
    for k in range(101):
        e = overlap_errors(loom, fitrows, tmp, gen, k / 100.0)[FIT_OVERLAP]
        mse = sum(x * x for x in e) / len(e)
        if best is None or mse < best[0]:
            best = (mse, k / 100.0)
    f = best[1]
    print("phase-overlap %.2f fits %s %s (%d rows >= 256 MiB; time error, mean squared %.5f)" %
          (f, FIT_OVERLAP[0], FIT_OVERLAP[1], len(fitrows), best[0]))
    at = {v: overlap_errors(loom, rows, tmp, gen, v) for v in (0.0, f)}
    print("| system | op | rows | phase-overlap 0: busbw mean / max abs error "
          "| %.2f: mean / max | at >= 256 MiB, 0 | at >= 256 MiB, %.2f |" % (f, f))
    print("|---|---|---|---|---|---|---|")
    for key in at[0.0]:
        rs = [r for r in rows if (r["system"], r["op"]) == key and int(r["nodes"]) > 1]
        big = [i for i, r in enumerate(rs) if int(r["bytes"]) >= BIG]
        cols = []
        for v in (0.0, f):
            bw = [abs(1 / (1 + x) - 1) * 100 for x in at[v][key]]  # busbw error from time error
            cols.append("%.1f%% / %.1f%%" % (sum(bw) / len(bw), max(bw)))
        for v in (0.0, f):
            bw = [abs(1 / (1 + at[v][key][i]) - 1) * 100 for i in big]
            cols.append("%.1f%% / %.1f%%" % (sum(bw) / len(bw), max(bw)) if bw else "-")
        print("| %s%s | %s | %d | %s |" % (key[0], " (fit)" if key == FIT_OVERLAP else "",
                                          key[1], len(rs), " | ".join(cols)))


def pct(pred, meas):
    return 100.0 * (pred - meas) / meas


def table(loom, rows, tmp, markdown):
    gen = gen_keys(loom, tmp)
    groups = {}
    for r in rows:
        groups.setdefault((r["system"], r["op"], int(r["ranks"])), []).append(r)
    out = []
    errs = {k: [] for k in ("lists", "nccl", "lists+eff")}
    for (system, op, n), rs in groups.items():
        netf, dev, curves = SYSTEMS[system]
        net = os.path.join(HERE, netf)
        sizes = [int(r["bytes"]) for r in rs]
        before = run_loom(loom, op, sizes, net, system_file(tmp, dev, None, "b.yml"),
                          ["lists", "nccl"], n)
        after = run_loom(loom, op, sizes, net, system_file(tmp, dev, curves, "a.yml", gen),
                         ["lists"], n)
        f = busbw_factor(op, n)
        for r in rs:
            S = int(r["bytes"])
            meas = float(r["busbw_GBps"])
            bw = {k: S * f / (t * 1e3) for k, t in
                  (("lists", before[("lists", S)]), ("nccl", before[("nccl", S)]),
                   ("lists+eff", after[("lists", S)]))}
            for k in errs:
                errs[k].append(abs(pct(bw[k], meas)))
            out.append((r["fabric"], system, op, n, S, meas, bw["lists"], pct(bw["lists"], meas),
                        bw["nccl"], pct(bw["nccl"], meas), bw["lists+eff"],
                        pct(bw["lists+eff"], meas)))
    if markdown:
        print("| fabric | system | op | ranks | size (B) | measured busbw (GB/s) | loom lists "
              "| error | loom nccl | error | loom lists + gen llm's keys | error |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for o in out:
            print("| %s | %s | %s | %d | %d | %.2f | %.2f | %+.1f%% | %.2f | %+.1f%% | %.2f | %+.1f%% |" % o)
    else:
        print("%-18s %-18s %-10s %5s %12s %9s %9s %8s %9s %8s %9s %8s" %
              ("fabric", "system", "op", "ranks", "size_B", "measured", "lists", "err",
               "nccl", "err", "lists+eff", "err"))
        for o in out:
            print("%-18s %-18s %-10s %5d %12d %9.2f %9.2f %+7.1f%% %9.2f %+7.1f%% %9.2f %+7.1f%%" % o)
    print()
    for k, e in errs.items():
        print("%s: mean |error| %.1f%%, max %.1f%% over %d rows" %
              (k, sum(e) / len(e), max(e), len(e)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loom", default=os.path.join(HERE, "..", "..", "build-rel", "loom"))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--fit-overlap", action="store_true")
    a = ap.parse_args()
    with open(os.path.join(HERE, "published.csv")) as f:
        rows = list(csv.DictReader(f))
    with tempfile.TemporaryDirectory() as tmp:
        if a.fit:
            fit(a.loom, rows, tmp)
        elif a.fit_overlap:
            fit_overlap(a.loom, rows, tmp)
        else:
            table(a.loom, rows, tmp, a.markdown)


if __name__ == "__main__":
    sys.exit(main())
