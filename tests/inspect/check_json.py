"""`tessera inspect --json` and `explain --json` against the plan itself (decoded with protoc,
not through tessera) and against what `tessera run -v` measures.
usage: check_json.py BIN_DIR PLAN_DIR SCHEMA_DIR MODEL_DIR"""
import json
import math
import re
import subprocess
import sys

import plan_text

BIN, DIR, SCHEMA, MODEL = sys.argv[1:5]
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)

def tessera(*args):
    r = subprocess.run([BIN + "/tessera", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"tessera {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r

def close(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-15)

COLLECTIVES = {"AllReduce", "AllGather", "ReduceScatter", "AllToAll", "ShardSlice", "MakePartial"}

def check_plan(name):
    path = f"{DIR}/{name}"
    j = json.loads(tessera("inspect", path, "--json").stdout)
    p = plan_text.load(path, SCHEMA)
    tensors = p["tensors"]
    ins = p["instructions"]
    axes = {plan_text.get(a, "name"): plan_text.get(a, "size") for a in p["mesh"][0].get("axes", [])} if "mesh" in p else {}
    check(j["schema_version"] == 2, f"{name}: schema_version {j['schema_version']}")
    check(j["mesh"]["ranks"] == math.prod(axes.values()), f"{name}: ranks")
    meta = {plan_text.get(a, "name"): a for a in p.get("meta", [])}
    check(j["parameters"] == plan_text.get(meta["parameters"], "i"), f"{name}: parameters")
    # Counts: collectives and kernels as the plan lists them.
    n_coll = sum(plan_text.get(i, "op") in COLLECTIVES for i in ins)
    check(j["counts"]["collectives"] == n_coll == len(j["collectives"]),
          f"{name}: collectives {j['counts']['collectives']} vs plan {n_coll}")
    check(j["counts"]["kernels"] == len(ins) - n_coll == j["total_ops"] == len(j["ops"]),
          f"{name}: kernels")
    # Every op row: same op/node/strategy as the instruction; specs and shapes as its tensors;
    # the local shape is the global one divided by the sizes of the axes splitting each dim.
    for row in j["ops"]:
        i = ins[row["instruction"]]
        check(row["op"] == plan_text.get(i, "op") and row["node"] == plan_text.get(i, "node"),
              f"{name}: op row {row['node']}")
        check(row["strategy"] == plan_text.get(i, "strategy", "") and row["strategy"],
              f"{name}: {row['node']} strategy '{row['strategy']}'")
        ids = i.get("inputs", []) + i.get("outputs", [])
        refs = row["inputs"] + row["outputs"]
        for tid, ref in zip(ids, refs):
            if tid < 0:
                check(ref is None, f"{name}: absent input")
                continue
            t = tensors[tid]
            check(ref["spec"] == plan_text.get(t, "sharding"), f"{name}: {row['node']} spec")
            g = t.get("global_shape", [])
            local = list(g)
            for d, ds in enumerate(t.get("dims", [])):
                for ax in ds.get("axes", []):
                    local[d] //= axes[ax]
            check(local == t.get("shape", []), f"{name}: {t['name'][0]} local shape vs spec")
            check(ref["local_shape"] == "[" + ", ".join(map(str, local)) + "]",
                  f"{name}: {row['node']} local_shape")
    # Collectives: bytes are the buffer the α-β formula charges, seconds as the plan says.
    for c in j["collectives"]:
        i = ins[c["instruction"]]
        out_b = plan_text.get(tensors[i["outputs"][0]], "nbytes")
        in_b = plan_text.get(tensors[i["inputs"][0]], "nbytes")
        want = {"ReduceScatter": in_b, "ShardSlice": 0, "MakePartial": 0}.get(c["op"], out_b)
        check(c["bytes"] == want, f"{name}: {c['op']} {c['node']} bytes {c['bytes']} != {want}")
        check(close(c["seconds"], plan_text.get(i, "modelled_seconds", 0.0)), f"{name}: coll secs")
        check(c["bytes"] == 0 or c["seconds"] > 0, f"{name}: {c['node']} moves bytes for free")
        check(c["for_op"] >= 0, f"{name}: {c['node']} attributed to no op")
    # The step adds up; compute is the sum of kernel seconds.
    st = j["step"]
    check(st["has_costs"], f"{name}: no cost annotations")
    check(close(st["modelled_seconds"], st["compute_seconds"] + st["exposed_comm_seconds"] +
                st["recompute_seconds"]), f"{name}: step split")
    rec = lambda r: r["node"].endswith("/recompute")
    check(close(st["compute_seconds"], sum(o["seconds"] for o in j["ops"] if not rec(o))),
          f"{name}: compute")
    check(close(st["exposed_comm_seconds"],
                sum(c["seconds"] for c in j["collectives"] if not rec(c))), f"{name}: comm")
    check(close(st["modelled_seconds"], sum(o["seconds"] for o in j["ops"]) +
                sum(c["seconds"] for c in j["collectives"])), f"{name}: everything counted once")
    # Views move no data whatever the mesh (the one-device model once charged them a copy), and
    # a MatMul costs at least its FLOPs at the profile's peak (it once cost only its bytes).
    for o in j["ops"]:
        if o["op"] in ("Reshape", "Flatten", "Squeeze", "Unsqueeze") and not rec(o):
            check(o["seconds"] == 0, f"{name}: view {o['node']} costs {o['seconds']} s")
    mm = [o for o in j["ops"] if o["op"] in ("MatMul", "Gemm") and o["seconds"] > 0]
    check(len(mm) > 0, f"{name}: no costed MatMul/Gemm")
    # Memory: the parts add up; weights and arena as the plan's tensors and arena say.
    m = j["memory"]
    parts = ["parameters", "gradients", "optimizer_state", "activations", "temporaries",
             "fragmentation"]
    check(sum(m[k] for k in parts) == m["peak_per_device_bytes"], f"{name}: memory parts {m}")
    wb = sum((plan_text.get(t, "nbytes", 0) + 63) // 64 * 64  # the runtime's 64-byte layout
             for t in tensors if plan_text.get(t, "storage") == "WEIGHT")
    check(m["weight_bytes"] == wb, f"{name}: weight bytes {m['weight_bytes']} vs {wb}")
    check(m["arena_bytes"] == plan_text.get(p, "arena_bytes"), f"{name}: arena bytes")
    check(max(j["memory_timeline"]) == m["peak_live_arena_bytes"] <= m["arena_bytes"],
          f"{name}: timeline peak")
    return j, p

g, gp = check_plan("g.tsr")
mj, _ = check_plan("m.tsr")
s, _ = check_plan("s.tsr")
kinds = {c["op"] for c in mj["collectives"]}
check({"ReduceScatter", "AllGather", "MakePartial"} <= kinds, f"megatron plan collectives {kinds}")

# Filters.
top = json.loads(tessera("inspect", f"{DIR}/g.tsr", "--json", "--top", "3").stdout)["ops"]
cost = [o["seconds"] + o["comm_seconds"] for o in top]
check(len(top) == 3 and cost == sorted(cost, reverse=True), "--top 3")
check(cost[0] == max(o["seconds"] + o["comm_seconds"] for o in g["ops"]), "--top picks the max")
gemm = json.loads(tessera("inspect", f"{DIR}/g.tsr", "--json", "--op", "Gemm").stdout)["ops"]
check(gemm and all(o["op"] == "Gemm" for o in gemm) and
      len(gemm) == g["counts"]["by_op"]["Gemm"], "--op Gemm")
text = tessera("inspect", f"{DIR}/g.tsr").stdout
check(re.search(r"^  AllGather +[1-9]", text, re.M), "text: op counts")
check("exposed communication" in text and "optimizer state" in text, "text: summary")

# explain: the chosen candidate is the strategy the plan records; a 4-rank Gemm has choices.
node = gemm[0]["node"]
e = json.loads(tessera("explain", f"{DIR}/g.tsr", node, "--json").stdout)
check(e["node"] == node and len(e["candidates"]) > 1, "explain: candidates")
check(e["candidates"][e["chosen"]]["strategy"] == gemm[0]["strategy"], "explain: chosen")
for c in e["candidates"]:
    if c["reshard_seconds"] is not None:
        check(close(c["total_seconds"], c["compute_seconds"] + c["reshard_seconds"]), "explain sum")
check(e["why"].startswith(gemm[0]["strategy"]), "explain: why")
check("why:" in tessera("explain", f"{DIR}/g.tsr", node).stdout, "explain: text")
r = subprocess.run([BIN + "/tessera", "explain", f"{DIR}/g.tsr", "no-such-node"],
                   capture_output=True, text=True)
check(r.returncode != 0 and "no node named" in r.stderr, "explain: unknown node")

# The runtime's measured arena and weights on one device equal what inspect reports.
r = tessera("run", f"{DIR}/s.tsr", "--inputs", f"{MODEL}/test_data_set_0", "--output-dir",
            f"{DIR}/s_out", "-v")
mm = re.search(r"arena (\d+) bytes, weights (\d+) bytes", r.stderr)
check(mm is not None, f"run -v prints arena: {r.stderr}")
if mm:
    check(int(mm.group(1)) == s["memory"]["arena_bytes"],
          f"arena: run {mm.group(1)} vs inspect {s['memory']['arena_bytes']}")
    check(int(mm.group(2)) == s["memory"]["weight_bytes"],
          f"weights: run {mm.group(2)} vs inspect {s['memory']['weight_bytes']}")

for f in failures:
    print("FAIL:", f)
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
