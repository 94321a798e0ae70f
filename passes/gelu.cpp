// gelu: rewrite the GELU chains exporters write out (ONNX before opset 20 has no Gelu op) into
// one Gelu node (ir/op_table.cpp, opset-20 semantics), before autodiff and attention. Matched,
// walking from each Tanh or Erf node (Mul and Add operands in either order):
//   tanh (HF NewGELU, approximate = "tanh"):
//     0.5·x · (1 + Tanh(0.7978845608·(x + 0.044715·Pow(x, 3))))
//   erf (BERT, approximate = "none"):
//     0.5·x · (1 + Erf(x / 1.4142135))   (or x · 0.70710678)
// where the 0.5 scales x, (1 + ...) or the product; Div by a scalar c counts as Mul by 1/c.
// Every intermediate value must have exactly one reader and not be a graph output (x itself
// is read by several chain nodes); the Gelu node takes the last Mul's place and output id, so
// readers are unchanged, and prune() drops the rest. Scalars with data must equal GELU's
// constants (relative 1e-5), else the chain stays. Scalars without data (graph-only models)
// cannot be checked: the chain is fused on its structure and counted in meta
// "gelu.unverified"; such plans only serve planning and benchmarks with random weights.
// Why: the chain is 8 (tanh) or 5 (erf) passes over the MLP's widest activation, each keeping
// its result for the backward; in mixed-precision training Pow also forces an f32 island with
// Casts around it, where Gelu runs in the 16-bit type (as under PyTorch autocast).
// Cost: one walk over the graph and one prune. Option (meta "gelu"): "fused" (default) |
// "unfused". Records meta "gelu.fused" (count) for inspect.
#include <cmath>

#include "ir/shape_infer.h"
#include "passes/graph_match.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

constexpr double kTolerance = 1e-5;  // relative; exporters write f32 roundings of the constants
constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kRsqrt2 = 0.7071067811865476;       // 1/sqrt(2)

struct Match {
  int x = -1;               // GELU's input
  int last = -1;            // node whose slot and output the Gelu node takes
  std::string approximate;  // "tanh" | "none"
  std::vector<int> nodes;   // every chain node
  bool mismatch = false;    // a scalar with data that is not GELU's constant
  bool unverified = false;  // a scalar without data (graph-only model)
};

// Pattern matching over one graph; `shape_`/`dtype_` are those of the Tanh/Erf input, which
// every intermediate and x must share (a broadcasting operand is not GELU).
class Matcher {
 public:
  Matcher(const ir::Graph& g, const std::vector<std::vector<int>>& rd) : g_(g), rd_(rd) {}

  bool tanh_form(int t, Match& m) {
    start(t, "tanh", m);
    const int a = scaled(inner(g_.nodes[t].inputs[0], m), kSqrt2OverPi, m);
    if (a < 0 || !inner_add_of_cube(inner(a, m), m)) return false;
    return tail(plus_one(t, m), m);
  }

  bool erf_form(int e, Match& m) {
    start(e, "none", m);
    m.x = scaled(inner(g_.nodes[e].inputs[0], m), kRsqrt2, m);
    if (m.x < 0 || !like_x(m.x)) return false;
    return tail(plus_one(e, m), m);
  }

 private:
  void start(int n, const char* approximate, Match& m) {
    m = Match{};
    m.approximate = approximate;
    m.nodes.push_back(n);
    const ir::Value& v = g_.values[g_.nodes[n].inputs[0]];
    shape_ = v.shape, dtype_ = v.dtype;
  }

  bool like_x(int v) const {
    return g_.values[v].shape == shape_ && g_.values[v].dtype == dtype_ && dtype_is_float(dtype_);
  }

  // v as a chain intermediate: x's shape, one reader, not a graph output. Its producer (now a
  // chain node), or -1.
  int inner(int v, Match& m) const {
    if (v < 0 || !like_x(v) || rd_[v].size() != 1 || is_graph_output(g_, v)) return -1;
    const int p = g_.values[v].producer;
    if (p >= 0) m.nodes.push_back(p);
    return p;
  }

  // The single reader of node n's output, when that output is an intermediate; else -1.
  int only_reader(int n, Match& m) const {
    const int v = g_.nodes[n].outputs[0];
    if (!like_x(v) || rd_[v].size() != 1 || is_graph_output(g_, v)) return -1;
    m.nodes.push_back(rd_[v][0]);
    return rd_[v][0];
  }

  // A literal: a one-element constant or weight (a graph input is a run-time value), not x.
  bool literal(int v, const Match& m) const {
    if (v < 0 || v == m.x || num_elements(g_.values[v].shape) != 1) return false;
    const ir::ValueKind k = g_.values[v].kind;
    return k == ir::ValueKind::kConstant || k == ir::ValueKind::kWeight;
  }

  // Compares literal c with `want`; a literal without data is noted, not compared.
  void check(int c, double want, bool reciprocal, Match& m) const {
    if (!g_.values[c].data) {
      m.unverified = true;
      return;
    }
    double v = element_as_double(*g_.values[c].data, 0);
    if (reciprocal) v = 1 / v;
    if (!(std::fabs(v - want) <= kTolerance * std::fabs(want))) m.mismatch = true;
  }

  // Node n = Mul(v, c) | Mul(c, v) | Div(v, c) with literal c: checks the factor against
  // `want` and returns v; -1 when n has another form.
  int scaled(int n, double want, Match& m) const {
    if (n < 0 || g_.nodes[n].inputs.size() != 2) return -1;
    const ir::Node& node = g_.nodes[n];
    const int a = node.inputs[0], b = node.inputs[1];
    if (node.op == "Div" && literal(b, m) && !literal(a, m)) {
      check(b, want, true, m);
      return a;
    }
    if (node.op != "Mul" || literal(a, m) == literal(b, m)) return -1;
    const int c = literal(a, m) ? a : b;
    check(c, want, false, m);
    return c == a ? b : a;
  }

  // Node n = Add(x, Mul(Pow(x, 3), 0.044715)) in any operand order; sets m.x.
  bool inner_add_of_cube(int n, Match& m) const {
    if (n < 0 || g_.nodes[n].op != "Add" || g_.nodes[n].inputs.size() != 2) return false;
    for (int side = 0; side < 2; ++side) {
      Match trial = m;
      trial.x = g_.nodes[n].inputs[side];
      const int p = scaled(inner(g_.nodes[n].inputs[1 - side], trial), 0.044715, trial);
      const int pow = inner(p, trial);
      if (pow < 0 || g_.nodes[pow].op != "Pow" || g_.nodes[pow].inputs[0] != trial.x ||
          !literal(g_.nodes[pow].inputs[1], trial) || !like_x(trial.x))
        continue;
      check(g_.nodes[pow].inputs[1], 3, false, trial);
      m = trial;
      return true;
    }
    return false;
  }

  // From the Tanh/Erf node n: its single reader Add(out, 1) (either order); -1 otherwise.
  int plus_one(int n, Match& m) const {
    const int add = only_reader(n, m);
    if (add < 0 || g_.nodes[add].op != "Add" || g_.nodes[add].inputs.size() != 2) return -1;
    const ir::Node& a = g_.nodes[add];
    const int c = a.inputs[0] == g_.nodes[n].outputs[0] ? a.inputs[1] : a.inputs[0];
    if (!literal(c, m)) return -1;
    check(c, 1, false, m);
    return add;
  }

  // From u = 1 + f(..) (node `add`) to the result 0.5·x·u, in the three orders exporters use:
  //   x·(u·0.5)  (BERT)   (x·u)·0.5   (x·0.5)·u  (GPT-2)
  bool tail(int add, Match& m) {
    if (add < 0) return false;
    const int u = g_.nodes[add].outputs[0];
    const int r = only_reader(add, m);
    if (r < 0) return false;
    if (scaled(r, 0.5, m) == u) {  // (u·0.5), then times x
      const int last = only_reader(r, m);
      return last >= 0 && multiplies(last, m.x, g_.nodes[r].outputs[0]) && finish(last, m);
    }
    if (g_.nodes[r].op != "Mul" || g_.nodes[r].inputs.size() != 2) return false;
    const int other = g_.nodes[r].inputs[0] == u ? g_.nodes[r].inputs[1] : g_.nodes[r].inputs[0];
    if (other == m.x) {  // (x·u), then halved
      const int last = only_reader(r, m);
      return last >= 0 && scaled(last, 0.5, m) == g_.nodes[r].outputs[0] && finish(last, m);
    }
    return scaled(inner(other, m), 0.5, m) == m.x && finish(r, m);  // (x·0.5) times u
  }

  bool multiplies(int n, int a, int b) const {
    const ir::Node& node = g_.nodes[n];
    return node.op == "Mul" && node.inputs.size() == 2 &&
           ((node.inputs[0] == a && node.inputs[1] == b) ||
            (node.inputs[0] == b && node.inputs[1] == a));
  }

  bool finish(int last, Match& m) const {
    m.last = last;
    return like_x(g_.nodes[last].outputs[0]) && !m.mismatch;
  }

  const ir::Graph& g_;
  const std::vector<std::vector<int>>& rd_;
  Shape shape_;
  DType dtype_ = DType::kUndefined;
};

// The Gelu node of match m, validated by the op's shape inference.
StatusOr<ir::Node> gelu_node(const ir::Graph& g, const Match& m) {
  const ir::Node& last = g.nodes[m.last];
  ir::Node n;
  n.name = last.name + ".gelu";
  n.op = "Gelu";
  n.attrs["approximate"] = Attr::Str(m.approximate);
  n.inputs = {m.x};
  n.outputs = {last.outputs[0]};
  const ir::Value& x = g.values[m.x];
  auto out = ir::infer(n, {{x.dtype, x.shape}});
  if (!out.ok()) return out.status();
  const ir::Value& y = g.values[n.outputs[0]];
  if ((*out)[0] != ir::TypeShape{y.dtype, y.shape})
    return Internal("gelu: node '" + n.name + "' would change the type of '" + y.name + "'");
  return n;
}

// Every Tanh/Erf-rooted chain; disjoint by construction (intermediates have one reader), the
// `taken` check only guards that invariant.
std::vector<Match> find_chains(const ir::Graph& g) {
  const auto rd = value_readers(g);
  Matcher matcher(g, rd);
  std::vector<bool> taken(g.nodes.size(), false);
  std::vector<Match> found;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const std::string& op = g.nodes[i].op;
    Match m;
    const int n = static_cast<int>(i);
    if (!(op == "Tanh" && matcher.tanh_form(n, m)) && !(op == "Erf" && matcher.erf_form(n, m)))
      continue;
    bool overlaps = false;
    for (int c : m.nodes) overlaps = overlaps || taken[c];
    if (overlaps) continue;
    for (int c : m.nodes) taken[c] = true;
    found.push_back(std::move(m));
  }
  return found;
}

}  // namespace

Status run_gelu(ir::Graph& g, PipelineContext&) {
  const std::string mode = attr_str(g.meta, "gelu", "fused");
  if (mode != "fused" && mode != "unfused")
    return InvalidArgument("--gelu '" + mode + "': expected fused or unfused");
  if (mode == "unfused") return Status::Ok();
  const std::vector<Match> chains = find_chains(g);
  if (chains.empty()) return Status::Ok();
  int64_t unverified = 0;
  // Each Gelu node takes its last Mul's slot: x is produced before every chain node, and the
  // result's readers come after it. The other chain nodes lose their readers; prune drops them.
  for (const Match& m : chains) {
    TSR_ASSIGN_OR_RETURN(ir::Node n, gelu_node(g, m));
    g.nodes[m.last] = std::move(n);
    unverified += m.unverified;
  }
  g.prune();
  g.meta["gelu.fused"] = Attr::Int(static_cast<int64_t>(chains.size()));
  if (unverified > 0) g.meta["gelu.unverified"] = Attr::Int(unverified);
  return Status::Ok();
}

}  // namespace tessera::passes
