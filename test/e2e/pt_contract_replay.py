#!/usr/bin/env python3
"""pt_contract_replay.py: an independent model of how `loom import pytorch`
output is meant to replay (docs/IMPORT.md, "What the traces contain"),
written without loom's code, to check the importer against a capture
before loom's multi-stream replay lands.

Reads PREFIX.<r>.et (Chakra protobuf, decoded by hand: varint-delimited
GlobalMetadata then Node messages) and replays each rank: a node starts
when its data and ctrl deps have ended and its resource is free; the
resource is (rank, stream) for GPU ops and collectives, (rank, thread) for
host ops, none for is_delay nodes; ready nodes of a resource issue in id
order; a node takes duration_ns.  Collectives take their own duration_ns
(no waiting for peers: the captured model's lower bound).  Prints each
rank's end in us.

usage: pt_contract_replay.py PREFIX NRANKS
"""
import heapq
import sys


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif w == 1:
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif w == 5:
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise ValueError("wire type %d" % w)
        yield f, w, v


def packed(v, w):
    if w == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def node(b):
    n = {"deps": [], "attr": {}}
    for f, w, v in fields(b):
        if f == 1:
            n["id"] = v
        elif f == 3:
            n["type"] = v
        elif f == 2:
            n["name"] = v.decode(errors="replace")
        elif f == 6:
            n["start_us"] = v
        elif f in (4, 5):
            n["deps"] += packed(v, w)
        elif f == 10:
            name, val = None, None
            for af, aw, av in fields(v):
                if af == 1:
                    name = av.decode()
                elif af in (9, 13, 27):
                    val = av - (1 << 64) if af == 9 and av >= 1 << 63 else av
            n["attr"][name] = val
    return n


def read(path):
    b = open(path, "rb").read()
    i, msgs = 0, []
    while i < len(b):
        n, i = varint(b, i)
        msgs.append(b[i:i + n])
        i += n
    return [node(m) for m in msgs[1:]]


def replay(nodes):
    byid = {n["id"]: n for n in nodes}
    kids = {n["id"]: [] for n in nodes}
    need = {}
    for n in nodes:
        need[n["id"]] = len(set(n["deps"]))
        for d in set(n["deps"]):
            kids[d].append(n["id"])
    ready_at = {n["id"]: 0 for n in nodes}
    free = {}      # resource -> time it is free
    queue = {}     # resource -> heap of ready ids
    events = []    # (time, id) ends
    end = 0

    def res(n):
        a = n["attr"]
        if a.get("is_delay"):
            return None
        return ("cpu" if a.get("is_cpu_op") else "gpu", a.get("stream"))

    def start(i, t):
        n = byid[i]
        d = n["attr"].get("duration_ns", 0)
        heapq.heappush(events, (t + d, i))
        return t + d

    def issue(r, t):
        q = queue.get(r)
        if q and free.get(r, 0) <= t:
            i = heapq.heappop(q)
            free[r] = start(i, max(t, ready_at[i]))

    for n in nodes:
        if need[n["id"]] == 0:
            r = res(n)
            if r is None:
                start(n["id"], 0)
            else:
                heapq.heappush(queue.setdefault(r, []), n["id"])
    for r in list(queue):
        issue(r, 0)
    while events:
        t, i = heapq.heappop(events)
        end = max(end, t)
        r = res(byid[i])
        if r is not None:
            issue(r, t)
        for k in kids[i]:
            ready_at[k] = max(ready_at[k], t)
            need[k] -= 1
            if need[k] == 0:
                rk = res(byid[k])
                if rk is None:
                    start(k, t)
                else:
                    heapq.heappush(queue.setdefault(rk, []), k)
                    issue(rk, t)
    return end


if __name__ == "__main__":
    prefix, nranks = sys.argv[1], int(sys.argv[2])
    for r in range(nranks):
        print("rank %d: %.3f us" % (r, replay(read("%s.%d.et" % (prefix, r))) / 1e3))
