// attention: rewrite scaled-dot-product attention subgraphs into one FusedAttention node
// (ir/attention_ops.h), before autodiff so the backward is FusedAttentionGrad. Matched, walking
// back from a last-axis Softmax whose only reader is (through identity Dropouts) the left side
// of a MatMul with v:
//   MatMul(q, kT) -> [Mul|Div by a scalar constant]* -> [Add mask | Where(cond, x, fill)]* ->
//   Softmax
// kT is a Transpose of k's last two dims (else a Transpose is inserted). Scalars known at
// compile time fold into `scale`; scalars without data (graph-only models) scale q instead.
// A constant additive
// mask or Where condition that is exactly the causal pattern (key j > query i masked) becomes
// causal = 1; any other additive mask stays an input; other Where conditions, scaled masks,
// a second mask, values with readers outside the chain and broadcast leading dims leave the
// subgraph unfused. Why: the unfused graph keeps the [..,Sq,Sk] probabilities for the backward
// (the training activation peak at long sequences) and moves them through memory six times;
// the fused op recomputes them chunk by chunk. Costs one extra q·kᵀ product in the backward.
// Option (meta "attention"): "fused" | "unfused" | "auto" (= fused unless meta "chunk" is
// "none": chunking off means no region is computed piecewise, this one included). Records the fused
// nodes in meta "attention.fused" for inspect.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/shape_infer.h"
#include "passes/graph_match.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

struct Match {
  int softmax = -1, qk = -1, pv = -1;
  int q = -1, kt = -1, v = -1, mask = -1;
  double scale = 1;
  // Scalars without compile-time values: q is multiplied/divided by them before the op
  // ((q·c)·kᵀ = c·(q·kᵀ): the product over Sq·D elements instead of Sq·Sk).
  std::vector<std::pair<std::string, int>> q_scales;
  bool causal = false;
  std::vector<int> chain;  // nodes replaced (all but those producing q, kT, v, mask)
};

// Constants and initializers with data: exporters store the scale and the causal mask as
// initializers (HF GPT-2's `where` [B,1,S,S]); the pass only reads them, and an initializer
// that is exactly the causal pattern is a buffer, not a parameter (training it, as the unfused
// graph would, moves its zeros by the learning rate each step).
const ir::TensorData* constant(const ir::Graph& g, int v) {
  if (v < 0 || !g.values[v].data) return nullptr;
  const ir::ValueKind k = g.values[v].kind;
  return k == ir::ValueKind::kConstant || k == ir::ValueKind::kWeight ? g.values[v].data.get()
                                                                      : nullptr;
}

// True when constant `d`, broadcast to [..,sq,sk], is `pass` exactly where key j <= query i
// (causal keep) and `block` elsewhere; `block` is a predicate on the masked entries.
template <class Pass, class Block>
bool causal_pattern(const ir::TensorData& d, int64_t sq, int64_t sk, Pass pass, Block block) {
  const Shape& s = d.shape;
  if (s.size() < 2 || s[s.size() - 2] != sq || s.back() != sk) return false;
  for (int64_t i = 0; i < d.numel(); ++i) {
    const int64_t col = i % sk, row = (i / sk) % sq;
    const double x = element_as_double(d, i);
    if (col <= row ? !pass(x) : !block(x)) return false;
  }
  return true;
}

bool scalar(const ir::Graph& g, int v) {
  const ir::TensorData* c = constant(g, v);
  return c && c->numel() == 1;
}

// One element of any kind (constants, weights without data, inputs): applied to q instead.
bool one_element(const ir::Graph& g, int v) {
  return v >= 0 && num_elements(g.values[v].shape) == 1 &&
         g.values[v].kind != ir::ValueKind::kActivation;
}

// Whether `v` is, or is computed from, a weight autodiff may train (float, more than one
// element: scalars are frozen; see compiler/driver.cpp select_trainable). The pass runs before
// that selection, so it assumes every such weight trains.
bool reaches_trainable(const ir::Graph& g, int v) {
  std::vector<int> stack = {v};
  std::vector<bool> seen(g.values.size(), false);
  while (!stack.empty()) {
    const int x = stack.back();
    stack.pop_back();
    if (x < 0 || seen[x]) continue;
    seen[x] = true;
    const ir::Value& val = g.values[x];
    if (val.kind == ir::ValueKind::kWeight && dtype_is_float(val.dtype) &&
        num_elements(val.shape) > 1)
      return true;
    if (val.producer >= 0)
      for (int in : g.nodes[val.producer].inputs) stack.push_back(in);
  }
  return false;
}

bool very_negative(double x) { return x <= -1e4; }  // exp(x - max) underflows to 0 in f32

// Walks back from value x (the scores so far) through masks and scales to the q·kT MatMul.
// Walking back, masks come before scales (a scale after the mask would scale the mask) and
// there is at most one mask. An Add whose operands both have the scores' shape is tried both
// ways round: either may be the mask.
bool match_scores(const ir::Graph& g, const std::vector<std::vector<int>>& rd, bool train, int x,
                  bool seen_mask, bool seen_scale, Match& m) {
  const Shape& scores = g.values[x].shape;
  const int64_t sq = scores[scores.size() - 2], sk = scores.back();
  const int p = g.values[x].producer;
  if (p < 0 || rd[x].size() != 1 || is_graph_output(g, x)) return false;
  const ir::Node& n = g.nodes[p];
  if (n.op == "MatMul") {
    m.qk = p, m.q = n.inputs[0], m.kt = n.inputs[1];
    return true;
  }
  m.chain.push_back(p);
  if ((n.op == "Mul" || n.op == "Div") && n.inputs.size() == 2) {
    // Mul by a scalar on either side; Div only by a scalar on the right.
    const bool left = n.op == "Mul" && one_element(g, n.inputs[0]) && !one_element(g, n.inputs[1]);
    const int c = left ? n.inputs[0] : n.inputs[1];
    if (!one_element(g, c) || g.values[c].dtype != g.values[x].dtype) return false;
    if (scalar(g, c)) {
      const double f = element_as_double(*constant(g, c), 0);
      if (!std::isfinite(f) || f == 0) return false;
      m.scale *= n.op == "Mul" ? f : 1 / f;
    } else {  // a scalar whose value is unknown at compile time (graph-only models)
      m.q_scales.push_back({n.op, c});
    }
    return match_scores(g, rd, train, left ? n.inputs[1] : n.inputs[0], seen_mask, true, m);
  }
  if (seen_mask || seen_scale) return false;
  if (n.op == "Add" && n.inputs.size() == 2) {
    for (int side = 0; side < 2; ++side) {
      const int chain = n.inputs[side], mask = n.inputs[1 - side];
      if (g.values[chain].shape != scores || !dtype_is_float(g.values[mask].dtype)) continue;
      Match t = m;
      const ir::TensorData* c = constant(g, mask);
      if (c && causal_pattern(
                   *c, sq, sk, [](double v) { return v == 0; }, very_negative))
        t.causal = true;
      else if (train && reaches_trainable(g, mask))
        continue;  // a learned bias (Swin, T5): FusedAttentionGrad gives masks no gradient
      else
        t.mask = mask;
      if (match_scores(g, rd, train, chain, true, false, t)) return m = t, true;
    }
    return false;
  }
  if (n.op == "Where") {
    const ir::TensorData *cond = constant(g, n.inputs[0]), *fill = constant(g, n.inputs[2]);
    if (!cond || !fill || fill->numel() != 1 || !very_negative(element_as_double(*fill, 0)))
      return false;
    if (!causal_pattern(
            *cond, sq, sk, [](double v) { return v != 0; }, [](double v) { return v == 0; }))
      return false;
    if (g.values[n.inputs[1]].shape != scores) return false;
    m.causal = true;
    return match_scores(g, rd, train, n.inputs[1], true, false, m);
  }
  return false;
}

// From a Softmax node: its reader chain to the PV MatMul and the scores chain behind it.
bool match(const ir::Graph& g, const std::vector<std::vector<int>>& rd, bool train, int si,
           Match& m) {
  const ir::Node& sm = g.nodes[si];
  const int x = sm.inputs[0];
  const Shape& s = g.values[x].shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  const int64_t axis = attr_int(sm.attrs, "axis", -1);
  if (rank < 2 || (axis != -1 && axis != rank - 1)) return false;
  m = Match{};
  m.softmax = si;
  int p = sm.outputs[0];
  for (;;) {  // identity Dropouts between Softmax and the PV MatMul
    if (rd[p].size() != 1 || is_graph_output(g, p)) return false;
    const ir::Node& n = g.nodes[rd[p][0]];
    if (n.op == "MatMul" && n.inputs[0] == p) break;
    const bool identity = n.op == "Identity" ||
                          (n.op == "Dropout" && (!train || attr_float(n.attrs, "ratio", 0.5) == 0));
    if (!identity) return false;
    m.chain.push_back(rd[p][0]);
    p = n.outputs[0];
  }
  m.pv = rd[p][0];
  m.v = g.nodes[m.pv].inputs[1];
  if (!match_scores(g, rd, train, x, false, false, m)) return false;
  const Shape &q = g.values[m.q].shape, &kt = g.values[m.kt].shape, &v = g.values[m.v].shape;
  if (q.size() != s.size() || kt.size() != s.size() || v.size() != s.size()) return false;
  for (size_t d = 0; d + 2 < s.size(); ++d)
    if (q[d] != s[d] || kt[d] != s[d] || v[d] != s[d]) return false;
  return dtype_is_float(g.values[m.q].dtype) && g.values[m.q].dtype == g.values[m.v].dtype;
}

// k from kT: kT = Transpose(x, P) gives k = Transpose(x, P with its last two entries swapped)
// (x itself when that is the identity); any other kT gets a Transpose node.
int key_of(ir::Graph& g, const Match& m, const std::string& name, std::vector<ir::Node>& before) {
  const ir::Value& kt = g.values[m.kt];
  const int rank = static_cast<int>(kt.shape.size());
  std::vector<int64_t> perm(rank), ident(rank);
  for (int d = 0; d < rank; ++d) perm[d] = ident[d] = d;
  std::swap(perm[rank - 1], perm[rank - 2]);
  int src = m.kt;
  if (kt.producer >= 0 && g.nodes[kt.producer].op == "Transpose") {
    const ir::Node& t = g.nodes[kt.producer];
    const std::vector<int64_t> p = attr_ints(t.attrs, "perm");
    if (static_cast<int>(p.size()) == rank) {
      src = t.inputs[0];
      for (int d = 0; d < rank; ++d) perm[d] = p[perm[d]];
    }
  }
  if (perm == ident) return src;
  ir::Value k = kt;
  k.name = name + ".k";
  k.producer = -1;
  k.kind = ir::ValueKind::kActivation;
  k.data = nullptr;
  std::swap(k.shape[rank - 1], k.shape[rank - 2]);
  const int kid = g.add_value(k);
  ir::Node t;
  t.name = name + ".k_transpose";
  t.op = "Transpose";
  t.attrs["perm"] = Attr::Ints(perm);
  t.inputs = {src};
  t.outputs = {kid};
  before.push_back(t);
  return kid;
}

// Query rows per chunk before any budget applies: the largest power of two keeping the scratch
// (R x Sk per batch-head) within 8x q's own size (Sq x D), at least 16 rows (thinner GEMMs run
// far from peak). At short sequences that is every row (chunk 0); at gpt2's 4096 it bounds the
// gradient's two scratch buffers to 2 x 8 x |q| instead of 2 x Sq x Sk, so the checkpoint pass
// (which plans before the chunk pass lowers rows further) does not see a 13 GB scratch.
int64_t default_rows(const Shape& q, const Shape& k) {
  const int64_t sq = q[q.size() - 2], d = q.back(), sk = k[k.size() - 2];
  const int64_t cap = std::max<int64_t>(16, 8 * sq * d / std::max<int64_t>(sk, 1));
  if (cap >= sq) return 0;
  int64_t r = 16;
  while (r * 2 <= cap) r *= 2;
  return r;
}

Status fuse(ir::Graph& g, const Match& m, std::vector<std::string>& log) {
  const std::string name = g.nodes[m.softmax].name + ".fused";
  std::vector<ir::Node> before;
  const int k = key_of(g, m, name, before);
  int q = m.q;
  for (const auto& [op, c] : m.q_scales) {
    ir::Value sv = g.values[q];
    sv.name = name + ".q" + std::to_string(before.size());
    sv.producer = -1, sv.kind = ir::ValueKind::kActivation, sv.data = nullptr;
    ir::Node sn;
    sn.name = sv.name;
    sn.op = op;
    sn.inputs = {q, c};
    sn.outputs = {g.add_value(sv)};
    q = sn.outputs[0];
    before.push_back(sn);
  }
  ir::Node f;
  f.name = name;
  f.op = "FusedAttention";
  f.attrs["scale"] = Attr::Float(m.scale);
  f.attrs["causal"] = Attr::Int(m.causal ? 1 : 0);
  f.attrs["chunk"] = Attr::Int(default_rows(g.values[q].shape, g.values[k].shape));
  f.inputs = {q, k, m.v, m.mask};
  ir::Value ws;
  ws.name = name + ".ws";
  ws.dtype = g.values[m.q].dtype;
  f.outputs = {g.nodes[m.pv].outputs[0], g.add_value(ws)};
  std::vector<ir::TypeShape> in;
  for (int i : f.inputs)
    in.push_back(i >= 0 ? ir::TypeShape{g.values[i].dtype, g.values[i].shape} : ir::TypeShape{});
  auto out = ir::infer(f, in);
  if (!out.ok()) return out.status();
  g.values[f.outputs[1]].shape = (*out)[1].second;
  if ((*out)[0].second != g.values[f.outputs[0]].shape)
    return Internal("attention: node '" + name + "' changes the output shape");
  log.push_back(name + ": scale " + std::to_string(m.scale) + (m.causal ? ", causal" : "") +
                (m.mask >= 0 ? ", mask '" + g.values[m.mask].name + "'" : "") +
                (m.q_scales.empty() ? "" : ", q scaled at run time"));
  // The PV MatMul's slot takes the fused node (every input is produced earlier); the chain
  // nodes lose their readers and prune() drops them.
  std::vector<ir::Node> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (static_cast<int>(i) == m.pv) {
      for (ir::Node& b : before) nodes.push_back(std::move(b));
      nodes.push_back(f);
    } else {
      nodes.push_back(std::move(g.nodes[i]));
    }
  }
  g.nodes = std::move(nodes);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int o : g.nodes[i].outputs) g.values[o].producer = static_cast<int>(i);
  g.prune();
  return Status::Ok();
}

bool wanted(const ir::Graph& g) {
  const std::string a = attr_str(g.meta, "attention", "auto");
  if (a == "auto") return attr_str(g.meta, "chunk", "auto") != "none";
  return a == "fused";
}

}  // namespace

Status run_attention(ir::Graph& g, PipelineContext&) {
  const std::string a = attr_str(g.meta, "attention", "auto");
  if (a != "auto" && a != "fused" && a != "unfused")
    return InvalidArgument("--attention '" + a + "': expected auto, fused or unfused");
  if (!wanted(g)) return Status::Ok();
  const bool train = attr_str(g.meta, "mode", "infer") == "train";
  std::vector<std::string> log;
  // One rewrite at a time: fuse() renumbers nodes, so the scan restarts after each.
  for (bool again = true; again;) {
    again = false;
    const auto rd = value_readers(g);
    for (size_t i = 0; i < g.nodes.size() && !again; ++i) {
      Match m;
      if (g.nodes[i].op != "Softmax" || !match(g, rd, train, static_cast<int>(i), m)) continue;
      TSR_RETURN_IF_ERROR(fuse(g, m, log));
      again = true;
    }
  }
  if (!log.empty()) g.meta["attention.fused"] = Attr::Strs(log);
  return Status::Ok();
}

}  // namespace tessera::passes
