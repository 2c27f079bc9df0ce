#!/usr/bin/env python3
"""comm-efficiency is off by default: every fixture and example of
test/e2e/test_models.c, through both network models, gives byte-identical
`loom run --json X --reproducible` output with this tree's loom and with a
reference binary (main's).  Usage: bytecheck.py NEW_LOOM REF_LOOM"""
import os, re, subprocess, sys, tempfile, filecmp
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
src = open(os.path.join(ROOT, "test/e2e/test_models.c")).read()
body = src[src.index("static const run fixtures[]"):]
body = body[:body.index("};")]
subst = {"FIX": '"' + ROOT + '/test/data/chakra"', "CFG": '"' + ROOT + '/test/data/astra-sim-configs"',
         "EX": '"' + ROOT + '/examples"'}
def strs(s):
    for k, v in subst.items():
        s = re.sub(r'\b%s\b' % k, v, s)
    s = re.sub(r'"\s*"', "", s)  # join adjacent literals
    return re.findall(r'"([^"]*)"', s)
new, ref = sys.argv[1], sys.argv[2]
bad = n = 0
with tempfile.TemporaryDirectory() as tmp:
    for ent in re.findall(r"\{(\"[^{}]*(?:\{[^{}]*\}[^{}]*)?)\}", body, re.S):
        lit = strs(ent)
        folder, prefix, net, sys_ = lit[:4]
        extra = [x.replace(" ", "") for x in lit[4:]]
        for model in ("analytical", "flow"):
            outs = []
            for b, tag in ((new, "new"), (ref, "ref")):
                j = os.path.join(tmp, tag + ".json")
                cmd = [b, "run", "-w", prefix, "-n", net, "-s", sys_, "--set",
                       "system.network-model=" + model, "--json", j, "--reproducible", "-q"] + extra
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                outs.append((r.returncode, j))
            n += 1
            same = outs[0][0] == outs[1][0] and (outs[0][0] != 0 or filecmp.cmp(outs[0][1], outs[1][1], shallow=False))
            print("%-40s %-10s rc %d/%d %s" % (folder, model, outs[0][0], outs[1][0], "identical" if same else "DIFFERENT"))
            bad += not same
print("%d of %d runs differ" % (bad, n))
sys.exit(1 if bad else 0)
