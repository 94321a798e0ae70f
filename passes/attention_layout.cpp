// attention-layout: FusedAttention nodes whose q, k, v come from head Transposes
// [..,S,H,D] -> [..,H,S,D] (perm swapping the last dims but one, [0,2,1,3] at rank 4) and whose
// y goes through the inverse Transpose take those layouts themselves (layout = "bshd",
// ir/attention_ops.h) and the Transposes go. Why: every transformer layer has four such
// Transposes (and, in training, their four gradients), each a full pass over a [B,S,H·D]
// activation: bert-large inference had 96 of 97 Transposes there, gpt2-124m training 96 of 98,
// ~3-4 ms of a 40-50 ms H100 step. The kernels index [..,S,H,D] with row stride H·D instead.
// Runs after attention (which forms the nodes) and before autodiff, so FusedAttentionGrad
// inherits the attribute (the gradient rule copies the forward's attributes) and the backward
// has no Transposes to differentiate.
// Matched per operand: a Transpose whose output is read by nothing else (not a graph output),
// possibly through scalar Mul/Div nodes (the attention stage's run-time q scaling: they commute
// with the Transpose and are moved before it, now over [..,S,H,D]). For y: its only reader is
// such a Transpose. A node where at least three of its four operands (q, k, v, y) match is
// rewritten, with a Transpose inserted for the one that does not (one instead of four); fewer
// leave it as it is. Cost: one walk over the nodes. Option (meta "attention_layout"): "bshd"
// (default) | "bhsd" (off). Records meta "attention_layout.nodes" and
// "attention_layout.transposes" (removed, net of those inserted) for inspect.
#include <utility>

#include "ir/attention_ops.h"
#include "passes/graph_match.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

// A Transpose swapping dims r-3 and r-2 of a rank r >= 3 tensor ([0,2,1,3] at rank 4).
bool head_transpose(const ir::Node& n) {
  if (n.op != "Transpose" || n.inputs.size() != 1 || n.outputs.size() != 1) return false;
  const std::vector<int64_t> p = attr_ints(n.attrs, "perm");
  const size_t r = p.size();
  if (r < 3) return false;
  for (size_t d = 0; d < r; ++d) {
    const size_t want = d == r - 3 ? r - 2 : d == r - 2 ? r - 3 : d;
    if (p[d] != static_cast<int64_t>(want)) return false;
  }
  return true;
}

Shape swap_hs(Shape s) {
  std::swap(s[s.size() - 3], s[s.size() - 2]);
  return s;
}

// Value v is read only by node `reader` (any number of times) and is not a graph output.
bool only_reader(const ir::Graph& g, const std::vector<std::vector<int>>& rd, int v, int reader) {
  if (is_graph_output(g, v) || rd[v].empty()) return false;
  for (int r : rd[v])
    if (r != reader) return false;
  return true;
}

bool one_element(const ir::Graph& g, int v) { return num_elements(g.values[v].shape) == 1; }

// Operand `in` of node `at`: the head Transpose behind it and the scalar Mul/Div nodes between
// (nearest the Transpose first), or transpose = -1.
struct Source {
  int transpose = -1;
  std::vector<int> scalars;
};

Source find_source(const ir::Graph& g, const std::vector<std::vector<int>>& rd, int in, int at) {
  Source s;
  int v = in, reader = at;
  for (;;) {
    const int p = g.values[v].producer;
    if (p < 0 || !only_reader(g, rd, v, reader)) return {};
    const ir::Node& n = g.nodes[p];
    if (head_transpose(n)) {
      s.transpose = p;
      return s;
    }
    if ((n.op != "Mul" && n.op != "Div") || n.inputs.size() != 2 || n.outputs.size() != 1)
      return {};
    // Mul by a one-element value on either side; Div only by one on the right.
    int x = -1;
    if (one_element(g, n.inputs[1]) && !one_element(g, n.inputs[0]))
      x = n.inputs[0];
    else if (n.op == "Mul" && one_element(g, n.inputs[0]) && !one_element(g, n.inputs[1]))
      x = n.inputs[1];
    if (x < 0 || g.values[x].shape != g.values[n.outputs[0]].shape) return {};
    s.scalars.insert(s.scalars.begin(), p);
    v = x, reader = p;
  }
}

struct Plan {
  Source src[3];  // q, k, v
  int y_transpose = -1;
  int matched() const {
    int m = y_transpose >= 0;
    for (const Source& s : src) m += s.transpose >= 0;
    return m;
  }
};

int add_activation(ir::Graph& g, const std::string& name, const ir::Value& like, Shape s) {
  ir::Value v;
  v.name = name;
  v.dtype = like.dtype;
  v.shape = std::move(s);
  return g.add_value(std::move(v));
}

ir::Node transpose_node(const std::string& name, int in, int out, size_t rank) {
  std::vector<int64_t> perm(rank);
  for (size_t d = 0; d < rank; ++d) perm[d] = static_cast<int64_t>(d);
  std::swap(perm[rank - 3], perm[rank - 2]);
  ir::Node t;
  t.name = name;
  t.op = "Transpose";
  t.attrs["perm"] = Attr::Ints(perm);
  t.inputs = {in};
  t.outputs = {out};
  return t;
}

// Rewrites node `at` per plan p: its operands become bshd (the matched Transposes bypassed,
// the scalar nodes between moved onto the bshd values; a Transpose inserted for an unmatched
// operand into `before`, for an unmatched y into `after`); the matched Transposes' outputs lose
// their readers (y's is produced by the node itself), so `drop` marks those nodes.
void rewrite(ir::Graph& g, int at, const Plan& p, std::vector<ir::Node>& before,
             std::vector<ir::Node>& after, std::vector<bool>& drop) {
  static const char* kSlot[] = {"q", "k", "v"};
  const std::string name = g.nodes[at].name;
  for (int i = 0; i < 3; ++i) {
    const int in = g.nodes[at].inputs[i];
    const Source& s = p.src[i];
    if (s.transpose < 0) {
      const ir::Value v = g.values[in];  // a copy: add_activation grows g.values
      const int t = add_activation(g, name + "." + kSlot[i] + "_bshd", v, swap_hs(v.shape));
      before.push_back(transpose_node(name + "." + kSlot[i] + "_to_bshd", in, t, v.shape.size()));
      g.nodes[at].inputs[i] = t;
      continue;
    }
    const ir::Node& tr = g.nodes[s.transpose];
    const int from = tr.outputs[0], to = tr.inputs[0];
    if (s.scalars.empty()) {
      for (int& x : g.nodes[at].inputs)
        if (x == from) x = to;
    } else {
      for (int& x : g.nodes[s.scalars[0]].inputs)
        if (x == from) x = to;
      for (int sn : s.scalars) {
        ir::Value& o = g.values[g.nodes[sn].outputs[0]];
        o.shape = swap_hs(o.shape);
      }
    }
    drop[s.transpose] = true;
  }
  const int y = g.nodes[at].outputs[0];
  if (p.y_transpose >= 0) {
    g.nodes[at].outputs[0] = g.nodes[p.y_transpose].outputs[0];
    drop[p.y_transpose] = true;
  } else {
    const ir::Value v = g.values[y];
    const int t = add_activation(g, name + ".y_bshd", v, swap_hs(v.shape));
    g.nodes[at].outputs[0] = t;
    after.push_back(transpose_node(name + ".y_to_bhsd", t, y, v.shape.size()));
  }
  g.nodes[at].attrs["layout"] = Attr::Str("bshd");
}

}  // namespace

Status run_attention_layout(ir::Graph& g, PipelineContext&) {
  const std::string mode = attr_str(g.meta, "attention_layout", "bshd");
  if (mode != "bshd" && mode != "bhsd")
    return InvalidArgument("--attention-layout '" + mode + "': expected bshd or bhsd");
  if (mode == "bhsd") return Status::Ok();
  const auto rd = value_readers(g);
  std::vector<Plan> plans(g.nodes.size());
  std::vector<bool> use(g.nodes.size(), false), drop(g.nodes.size(), false),
      claimed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    if (n.op != "FusedAttention" || n.inputs.size() < 3 || n.outputs.size() != 2 ||
        ir::attention_bshd(n.attrs) || attr_str(n.attrs, "layout", "bhsd") != "bhsd" ||
        g.values[n.inputs[0]].shape.size() < 3)
      continue;
    const int at = static_cast<int>(i);
    Plan p;
    for (int s = 0; s < 3; ++s) p.src[s] = find_source(g, rd, n.inputs[s], at);
    const int y = n.outputs[0];
    if (!is_graph_output(g, y) && rd[y].size() == 1 && head_transpose(g.nodes[rd[y][0]]))
      p.y_transpose = rd[y][0];
    // A Transpose between two attention nodes (y of one, q of the next) serves one of them.
    for (Source& s : p.src)
      if (s.transpose >= 0 && claimed[s.transpose]) s = Source{};
    if (p.y_transpose >= 0 && claimed[p.y_transpose]) p.y_transpose = -1;
    if (p.matched() < 3) continue;
    for (const Source& s : p.src)
      if (s.transpose >= 0) claimed[s.transpose] = true;
    if (p.y_transpose >= 0) claimed[p.y_transpose] = true;
    plans[i] = p;
    use[i] = true;
  }
  // Each rewritten node's slot takes its sequence (inserted Transposes, the node, the Transpose
  // back); the matched Transposes go (the scalar nodes now read their inputs, which come
  // earlier, and y's readers come after the node that now produces y).
  std::vector<std::vector<ir::Node>> seq(g.nodes.size());
  int64_t count = 0, removed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!use[i]) continue;
    std::vector<ir::Node> before, after;
    rewrite(g, static_cast<int>(i), plans[i], before, after, drop);
    TSR_RETURN_IF_ERROR(check_inferred_types(g, g.nodes[i], "attention-layout"));
    ++count;
    removed += plans[i].matched() - (4 - plans[i].matched());
    seq[i] = std::move(before);
    seq[i].push_back(std::move(g.nodes[i]));
    for (ir::Node& n : after) seq[i].push_back(std::move(n));
  }
  if (count == 0) return Status::Ok();
  std::vector<ir::Node> order;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (drop[i]) continue;
    if (!use[i]) order.push_back(std::move(g.nodes[i]));
    for (ir::Node& n : seq[i]) order.push_back(std::move(n));
  }
  g.nodes.clear();
  for (ir::Value& v : g.values) v.producer = -1;
  for (ir::Node& n : order) g.add_node(std::move(n));
  g.prune();
  g.meta["attention_layout.nodes"] = Attr::Int(count);
  g.meta["attention_layout.transposes"] = Attr::Int(removed);
  return Status::Ok();
}

}  // namespace tessera::passes
