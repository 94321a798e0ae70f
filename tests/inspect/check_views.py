"""--dot (parsed by Graphviz), --trace (Chrome trace JSON: one process per rank, a compute and
a comm thread, memory counters) and the version message for a plan from another format.
usage: check_views.py BIN_DIR PLAN_DIR {dot|trace|version} [SCHEMA_DIR (version)]"""
import json
import os
import re
import shutil
import subprocess
import sys

BIN, DIR, WHAT = sys.argv[1:4]
PLAN = f"{DIR}/g.tsr"
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)

def tessera(*args, ok=True):
    r = subprocess.run([BIN + "/tessera", *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        sys.exit(f"tessera {' '.join(args)} failed: {r.stderr}")
    return r

info = json.loads(tessera("inspect", PLAN, "--json").stdout)

def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

def strip_costs(plan, schema_dir):
    """The plan as a tessera from before the cost fields would write it: decode the metadata,
    drop Instruction.strategy/modelled_seconds/comm_bytes and Plan.candidates, re-encode, fix the
    header's size and hash (docs/plan-format.md)."""
    import struct
    meta_off, meta_size, data_off, data_size = struct.unpack("<QQQQ", plan[16:48])
    dec = ["protoc", "-I", schema_dir, "plan.proto"]
    text = subprocess.run(dec[:1] + ["--decode=tessera.plan.Plan"] + dec[1:],
                          input=plan[meta_off:meta_off + meta_size], capture_output=True,
                          check=True).stdout.decode()
    out, depth, skip = [], 0, None
    for line in text.splitlines():
        key = line.strip().split(":")[0].split(" ")[0]
        if skip is None and depth == 1 and key in ("strategy", "modelled_seconds", "comm_bytes"):
            continue
        if skip is None and depth == 0 and key == "candidates":
            skip = depth
        if line.strip().endswith("{"):
            depth += 1
        elif line.strip() == "}":
            depth -= 1
            if skip is not None and depth == skip:
                skip = None
                continue
        if skip is None:
            out.append(line)
    meta = subprocess.run(dec[:1] + ["--encode=tessera.plan.Plan"] + dec[1:],
                          input="\n".join(out).encode(), capture_output=True, check=True).stdout
    assert len(meta) < meta_size and b"node_addmm" in meta
    data = plan[data_off:data_off + data_size]
    head = bytearray(plan[:64])
    head[24:32] = struct.pack("<Q", len(meta))
    head[48:56] = struct.pack("<Q", fnv1a64(data, fnv1a64(meta)))
    return bytes(head) + meta + b"\0" * (data_off - 64 - len(meta)) + data

if WHAT == "dot":
    if not shutil.which("dot"):
        print("Graphviz `dot` not installed (scripts/setup.sh installs graphviz)")
        sys.exit(77)
    tessera("inspect", PLAN, "--dot", f"{DIR}/g.dot")
    r = subprocess.run(["dot", "-Tsvg", f"{DIR}/g.dot", "-o", f"{DIR}/g.svg"],
                       capture_output=True, text=True)
    check(r.returncode == 0 and not r.stderr.strip(), f"dot -Tsvg: {r.stderr}")
    dot = open(f"{DIR}/g.dot").read()
    svg = open(f"{DIR}/g.svg").read() if r.returncode == 0 else ""
    layers = {o["layer"] for o in info["ops"] if o["layer"]}
    check(len(layers) >= 2, f"tiny gpt2 has 2 layers: {layers}")
    check(dot.count("subgraph cluster_") == len(layers), "one cluster per layer")
    check(dot.count("shape=hexagon") == info["counts"]["collectives"], "collective nodes")
    check(svg.count('class="cluster"') == len(layers), "svg clusters")
    check(svg.count('class="node"') == info["counts"]["instructions"], "svg nodes")
    check(re.search(r'shape=hexagon', dot) and
          all(re.search(r'label="\w+\{[\w,]+\}\\n[\d.]+ (B|KiB|MiB|GiB), ', l)
              for l in dot.splitlines() if "hexagon" in l), "collective labels: kind, bytes")
    check("\\\\" not in dot, "double-escaped label")

elif WHAT == "trace":
    tessera("inspect", PLAN, "--trace", f"{DIR}/g.trace.json")
    t = json.load(open(f"{DIR}/g.trace.json"))
    ev = t["traceEvents"]
    ranks = info["mesh"]["ranks"]
    procs = {e["pid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    check(sorted(procs) == list(range(ranks)), f"one process per rank: {procs}")
    check(all(n.startswith(f"rank {p}") for p, n in procs.items()), "process names")
    for p in range(ranks):
        threads = {e["args"]["name"] for e in ev
                   if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == p}
        check("compute" in threads and any(n.startswith("comm ") for n in threads),
              f"rank {p} threads {threads}")
        slices = [e for e in ev if e["ph"] == "X" and e["pid"] == p]
        check(len(slices) == info["counts"]["instructions"], f"rank {p}: one slice per instruction")
        end = max(e["ts"] + e["dur"] for e in slices)
        check(abs(end - info["step"]["modelled_seconds"] * 1e6) < 1e-3 * max(end, 1),
              f"rank {p}: timeline length {end} us")
        counters = [e for e in ev if e["ph"] == "C" and e["pid"] == p]
        check(counters and max(c["args"]["bytes"] for c in counters) ==
              info["memory"]["weight_bytes"] + info["memory"]["peak_live_arena_bytes"],
              f"rank {p}: memory counter peak")
    flows = [e for e in ev if e["ph"] in "stf" and e.get("cat") == "comm"]
    check(flows, "flow events tie collective groups")

elif WHAT == "version":
    data = bytearray(open(PLAN, "rb").read())
    for version, word in ((2, "newer"), (0, "older")):
        data[8:12] = version.to_bytes(4, "little")
        path = f"{DIR}/v{version}.tsr"
        open(path, "wb").write(bytes(data))
        for cmd in (["inspect", path], ["explain", path, "x"]):
            r = tessera(*cmd, ok=False)
            check(r.returncode != 0, f"{cmd}: accepted version {version}")
            check(f"plan format version {version}" in r.stderr and word in r.stderr and
                  "reads format version 1" in r.stderr, f"{cmd}: message: {r.stderr}")
            check(r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, "one error line")
    # Same format, older writer: a plan without the cost fields (proto3 fields added later)
    # still inspects, says it has no costs, and explain asks for a recompile.
    old = strip_costs(open(PLAN, "rb").read(), sys.argv[4])
    open(f"{DIR}/old.tsr", "wb").write(old)
    j = json.loads(tessera("inspect", f"{DIR}/old.tsr", "--json").stdout)
    check(not j["step"]["has_costs"] and j["counts"] == info["counts"], "old plan: inspect")
    check("no cost annotations" in tessera("inspect", f"{DIR}/old.tsr").stdout, "old plan: text")
    r = tessera("explain", f"{DIR}/old.tsr", info["ops"][0]["node"], ok=False)
    check(r.returncode != 0 and "recompile" in r.stderr, f"old plan: explain: {r.stderr}")

for f in failures:
    print("FAIL:", f)
print(f"{WHAT}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
