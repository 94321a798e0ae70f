// linear-bias: MatMul(x, w) followed by Add(·, b), with w a matrix [K, N] and b a vector of N
// elements, becomes one Gemm with b as its C input (through Reshapes to and from [M, K] when x
// has more than two dims; the planner aliases those, so they move nothing). Exporters write
// nn.Linear as MatMul + Add when x is not 2-D (BERT, ViT, T5); GPT-2's Conv1D already exports
// as Gemm. Why: the bias then rides in the GEMM's epilogue (cuBLASLt BIAS on CUDA, the C row on
// CPU) instead of a separate pass that reads and writes the whole output: bert-large inference
// spent 22 ms of 81 ms in Adds, 146 of the 196 being bias adds over [32·512, 1024..4096] outputs.
// Matched: the MatMul's result has exactly one reader (the Add) and is not a graph output; w is
// 2-D; x has rank >= 2 and x, w, b share one float dtype; b is [N] or [1, N] and is not computed
// after the MatMul (a weight, a constant, an input or an earlier result). Either Add operand
// order. Cost: one walk over the nodes. Option (meta "linear_bias"): "fused" (default) |
// "unfused". Records meta "linear_bias.fused" (count) for inspect.
#include "passes/graph_match.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

struct Match {
  int matmul = -1, add = -1;
  int x = -1, w = -1, b = -1;
};

// The bias operand of Add node `a` (the one that is not MatMul result y), when it is a vector
// of N elements laid out as [N] or [1, N]; -1 otherwise.
int bias_operand(const ir::Graph& g, const ir::Node& a, int y, int64_t n) {
  if (a.inputs.size() != 2 || (a.inputs[0] == y) == (a.inputs[1] == y)) return -1;
  const int b = a.inputs[0] == y ? a.inputs[1] : a.inputs[0];
  const Shape& s = g.values[b].shape;
  const bool vec = (s.size() == 1 && s[0] == n) || (s.size() == 2 && s[0] == 1 && s[1] == n);
  return vec ? b : -1;
}

bool match_at(const ir::Graph& g, const std::vector<std::vector<int>>& rd, int i, Match* m) {
  const ir::Node& mm = g.nodes[i];
  if (mm.op != "MatMul" || mm.inputs.size() != 2 || mm.outputs.size() != 1) return false;
  const int x = mm.inputs[0], w = mm.inputs[1], y = mm.outputs[0];
  const ir::Value &xv = g.values[x], &wv = g.values[w];
  if (wv.shape.size() != 2 || xv.shape.size() < 2 || xv.shape.back() != wv.shape[0]) return false;
  if (!dtype_is_float(xv.dtype) || xv.dtype != wv.dtype) return false;
  if (rd[y].size() != 1 || is_graph_output(g, y)) return false;
  const int a = rd[y][0];
  if (g.nodes[a].op != "Add" || g.nodes[a].outputs.size() != 1) return false;
  const int b = bias_operand(g, g.nodes[a], y, wv.shape[1]);
  if (b < 0 || g.values[b].dtype != xv.dtype) return false;
  if (g.values[b].producer > i) return false;  // computed between the MatMul and the Add
  if (g.values[g.nodes[a].outputs[0]].shape != g.values[y].shape) return false;
  *m = Match{i, a, x, w, b};
  return true;
}

int add_activation(ir::Graph& g, const std::string& name, DType t, Shape s) {
  ir::Value v;
  v.name = name;
  v.dtype = t;
  v.shape = std::move(s);
  return g.add_value(std::move(v));
}

ir::Node reshape_node(const std::string& name, int in, int out, const Shape& to) {
  ir::Node n;
  n.name = name;
  n.op = "Reshape";
  n.attrs["shape"] = Attr::Ints(std::vector<int64_t>(to.begin(), to.end()));
  n.inputs = {in};
  n.outputs = {out};
  return n;
}

// The nodes replacing match m, in order: [Reshape x], Gemm, [Reshape back], the last one
// writing the Add's output value so its readers are unchanged.
std::vector<ir::Node> rewrite(ir::Graph& g, const Match& m) {
  const ir::Node &mm = g.nodes[m.matmul], &add = g.nodes[m.add];
  const Shape xs = g.values[m.x].shape, ys = g.values[add.outputs[0]].shape;
  const DType t = g.values[m.x].dtype;
  const int64_t k = xs.back(), n = ys.back(), rows = num_elements(xs) / std::max<int64_t>(k, 1);
  std::vector<ir::Node> out;
  int x2 = m.x, y2 = add.outputs[0];
  if (xs.size() > 2) {
    x2 = add_activation(g, g.values[m.x].name + ".rows", t, {rows, k});
    out.push_back(reshape_node(mm.name + ".rows", m.x, x2, {rows, k}));
    y2 = add_activation(g, g.values[add.outputs[0]].name + ".rows", t, {rows, n});
  }
  ir::Node gemm;
  gemm.name = mm.name + ".bias";
  gemm.op = "Gemm";
  gemm.inputs = {x2, m.w, m.b};
  gemm.outputs = {y2};
  out.push_back(std::move(gemm));
  if (xs.size() > 2) out.push_back(reshape_node(add.name + ".unrows", y2, add.outputs[0], ys));
  return out;
}

}  // namespace

Status run_linear_bias(ir::Graph& g, PipelineContext&) {
  const std::string mode = attr_str(g.meta, "linear_bias", "fused");
  if (mode != "fused" && mode != "unfused")
    return InvalidArgument("--linear-bias '" + mode + "': expected fused or unfused");
  if (mode == "unfused") return Status::Ok();
  const auto rd = value_readers(g);
  std::vector<Match> at(g.nodes.size());
  std::vector<bool> drop(g.nodes.size(), false);
  int64_t fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Match m;
    if (drop[i] || !match_at(g, rd, static_cast<int>(i), &m) || drop[m.add]) continue;
    at[i] = m;
    drop[m.add] = true;
    ++fused;
  }
  if (fused == 0) return Status::Ok();
  // The replacement takes the MatMul's slot: x, w and b exist by then, and the Add's readers
  // all come after the Add, hence after the slot.
  std::vector<ir::Node> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (drop[i]) continue;
    if (at[i].matmul < 0) {
      nodes.push_back(std::move(g.nodes[i]));
      continue;
    }
    std::vector<ir::Node> r = rewrite(g, at[i]);
    for (const ir::Node& n : r) TSR_RETURN_IF_ERROR(check_inferred_types(g, n, "linear-bias"));
    for (ir::Node& n : r) nodes.push_back(std::move(n));
  }
  g.nodes.clear();
  for (ir::Value& v : g.values) v.producer = -1;
  for (ir::Node& n : nodes) g.add_node(std::move(n));
  g.prune();
  g.meta["linear_bias.fused"] = Attr::Int(fused);
  return Status::Ok();
}

}  // namespace tessera::passes
