// Dimension-flow tracing for chunking: which dim of each value of a region the chunk dim
// becomes, and what blocks it. Every op's flow comes from its sharding rule (one table for
// splitting over devices and over chunks); a few training ops without a rule are mapped here.
#include <algorithm>
#include <deque>
#include <set>

#include "passes/core/chunk.h"
#include "passes/core/sharding_rules.h"

namespace tessera::chunk {

const Shape& local_shape(const ir::Value& v) {
  return v.local_shape.empty() ? v.shape : v.local_shape;
}

int64_t local_bytes(const ir::Value& v) {
  return num_elements(local_shape(v)) * dtype_size(v.dtype);
}

namespace {

// The rule of a node on local shapes. The cross-entropy ops never join a region whatever
// their sharding rule says: they divide by the row count they see, so a chunk of rows would
// scale its loss and gradient wrongly. Elementwise gradients fall back to the elementwise rule
// when the table has none.
StatusOr<spmd::OpRule> rule_of(const ir::Graph& g, const ir::Node& n) {
  std::vector<Shape> in, out;
  for (int v : n.inputs)
    if (v >= 0) in.push_back(local_shape(g.values[v]));
  for (int v : n.outputs) out.push_back(local_shape(g.values[v]));
  if (ir::is_collective_op(n.op)) return Unimplemented(n.op + " communicates");
  if (n.op.rfind("SoftmaxCrossEntropy", 0) == 0)
    return Unimplemented(n.op + " normalises by the number of rows");
  auto r = spmd::sharding_rule(n.op, n.attrs, in, out);
  if (!r.ok() && (n.op == "GeluGrad" || n.op == "ReluGrad"))
    return spmd::sharding_rule("Mul", {}, in, out);
  return r;
}

struct Tracer {
  Tracer(const ir::Graph& graph, const std::vector<int>& nodes)
      : g(graph), region(nodes.begin(), nodes.end()) {
    t.legal = true;
  }
  const ir::Graph& g;
  std::set<int> region;
  Trace t;
  std::deque<int> work;  // values whose dim is newly known

  bool fail(const std::string& why) {
    if (t.legal) t.why = why;
    t.legal = false;
    return false;
  }
  bool assign(int v, int d) {
    auto [it, fresh] = t.dim.emplace(v, d);
    if (!fresh && it->second != d)
      return fail("value '" + g.values[v].name + "' would be chunked along dim " +
                  std::to_string(it->second) + " and " + std::to_string(d));
    if (fresh && d >= 0) work.push_back(v);
    return true;
  }
  // Processes node `ni` given that operand dim `d` of `v` is the chunk dim.
  bool visit(int ni, int v, int d, std::set<int>& done) {
    if (done.count(ni)) return true;
    done.insert(ni);
    const ir::Node& n = g.nodes[ni];
    auto r = rule_of(g, n);
    if (!r.ok()) return fail("node '" + n.name + "' (" + n.op + "): " + r.status().message());
    // Find the factor of (v, d) among the present operands.
    int f = -1;
    std::vector<int> present;
    for (int in : n.inputs)
      if (in >= 0) present.push_back(in);
    for (size_t i = 0; i < present.size() && f < 0; ++i)
      if (present[i] == v) f = r->inputs[i][d];
    for (size_t o = 0; o < n.outputs.size() && f < 0; ++o)
      if (n.outputs[o] == v) f = r->outputs[o][d];
    const std::string at = "node '" + n.name + "' (" + n.op + ")";
    if (f < 0) return fail(at + " does not carry the chunk dim through (broadcast or reshaped)");
    const spmd::Factor& fac = r->factors[f];
    if (fac.kind == spmd::FactorKind::kReduction) return fail(at + " reduces over the chunk dim");
    if (!fac.cannot_split.empty()) return fail(at + ": " + fac.cannot_split);
    auto place = [&](int val, const std::vector<int>& dims, bool produced) {
      int found = -1;
      for (size_t dd = 0; dd < dims.size(); ++dd)
        if (dims[dd] == f) found = static_cast<int>(dd);
      if (found >= 0 && local_shape(g.values[val])[found] != t.extent)
        return fail(at + ": value '" + g.values[val].name + "' has the chunk dim at size " +
                    std::to_string(local_shape(g.values[val])[found]));
      if (found < 0 && produced) return fail(at + " produces a value without the chunk dim");
      return assign(val, found);
    };
    for (size_t i = 0; i < present.size(); ++i)
      if (!place(present[i], r->inputs[i], false)) return false;
    for (size_t o = 0; o < n.outputs.size(); ++o)
      if (!place(n.outputs[o], r->outputs[o], true)) return false;
    return true;
  }
};

}  // namespace

Trace trace_dim(const ir::Graph& g, const std::vector<int>& nodes, int seed, int d) {
  Tracer tr(g, nodes);
  const Shape& s = local_shape(g.values[seed]);
  if (d < 0 || d >= static_cast<int>(s.size()) || s[d] < 2) {
    tr.fail("dim " + std::to_string(d) + " of '" + g.values[seed].name + "' cannot be chunked");
    return tr.t;
  }
  tr.t.extent = s[d];
  tr.assign(seed, d);
  // Consumers of each value, restricted to the region.
  std::map<int, std::vector<int>> readers;
  for (int ni : nodes)
    for (int in : g.nodes[ni].inputs)
      if (in >= 0) readers[in].push_back(ni);
  std::set<int> done;
  while (!tr.work.empty() && tr.t.legal) {
    const int v = tr.work.front();
    tr.work.pop_front();
    const int dv = tr.t.dim[v];
    const int p = g.values[v].producer;
    if (p >= 0 && tr.region.count(p) && !tr.visit(p, v, dv, done)) break;
    for (int ni : readers[v])
      if (!tr.visit(ni, v, dv, done)) break;
  }
  if (tr.t.legal && done.size() != tr.region.size())
    tr.fail("the chunk dim does not reach every node of the region");
  if (!tr.t.legal) return tr.t;
  std::set<int> produced, outs, ins;
  for (int ni : nodes)
    for (int o : g.nodes[ni].outputs) produced.insert(o);
  for (int ni : nodes)
    for (int in : g.nodes[ni].inputs)
      if (in >= 0 && !produced.count(in)) ins.insert(in);
  // Outputs: produced here and read by a node outside or by the graph's outputs.
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    if (tr.region.count(static_cast<int>(ni))) continue;
    for (int in : g.nodes[ni].inputs)
      if (in >= 0 && produced.count(in)) outs.insert(in);
  }
  for (int o : g.outputs)
    if (produced.count(o)) outs.insert(o);
  // A value produced in the region but read by no one still needs a home: keep it an output.
  for (int v : produced) {
    bool read = outs.count(v) > 0;
    for (int ni : nodes)
      for (int in : g.nodes[ni].inputs) read = read || in == v;
    if (!read) outs.insert(v);
  }
  tr.t.inputs.assign(ins.begin(), ins.end());
  tr.t.outputs.assign(outs.begin(), outs.end());
  return tr.t;
}

bool is_convex(const ir::Graph& g, const std::vector<int>& nodes) {
  std::set<int> region(nodes.begin(), nodes.end());
  // Forward reachability from the region's outputs through outside nodes (nodes are in
  // topological order, so one sweep suffices); reaching a node of the region is a cycle.
  std::vector<bool> tainted_value(g.values.size(), false);
  for (int ni : nodes)
    for (int o : g.nodes[ni].outputs) tainted_value[o] = true;
  const int lo = nodes.empty() ? 0 : *std::min_element(nodes.begin(), nodes.end());
  for (size_t ni = lo; ni < g.nodes.size(); ++ni) {
    const ir::Node& n = g.nodes[ni];
    bool t = false;
    for (int in : n.inputs) t = t || (in >= 0 && tainted_value[in]);
    if (!t) continue;
    if (region.count(static_cast<int>(ni))) {
      // Reached from the region: fine only when every tainted input is the region's own.
      for (int in : n.inputs) {
        if (in < 0 || !tainted_value[in]) continue;
        const int p = g.values[in].producer;
        if (p < 0 || !region.count(p)) return false;
      }
      continue;
    }
    for (int o : n.outputs) tainted_value[o] = true;
  }
  return true;
}

}  // namespace tessera::chunk
