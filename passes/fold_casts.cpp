// fold-casts: a float Cast next to an op whose kernels read and write 16-bit storage while
// computing in f32 disappears into that op (docs/ops.md, "Mixed-dtype forms"). Mixed-precision
// training (passes/core/autodiff_autocast.cpp) keeps LayerNormalization and the loss in f32 the
// way PyTorch's autocast does, so every LayerNorm reads its bf16 residual through a widening
// Cast and writes a narrowing Cast for the next GEMM, its gradient does the same backwards, and
// the [tokens, vocab] logits are widened for SoftmaxCrossEntropyLoss and their gradient
// narrowed again: 102 of the 205 Casts of gpt2-124m's bf16 step, each a pass over an
// activation. The ops read those operands as they are instead:
//   LayerNormalization        X 16-bit (input Cast), Y 16-bit (output Cast)
//   LayerNormalizationGrad    dY and X 16-bit (input Casts), dX 16-bit (output Cast)
//   SoftmaxCrossEntropyLoss   logits 16-bit (input Cast); loss and softmax stay f32
//   SoftmaxCrossEntropyGrad   dlogits 16-bit (output Cast); it reads the f32 softmax, not logits
// Scale and bias (f32 master weights), dscale/dbias and the softmax are untouched. The result is
// bit-identical: widening 16 -> 32 bits is exact, and the kernels round 16-bit outputs to nearest
// even as the Cast did. The output dtype, when it is not the driving input's, is the node's
// attribute out_dtype.
// Matched: an input Cast widens exactly bf16/f16 -> f32, its result is not a graph output, and
// every reader is such an operand slot or a view op (Reshape, Flatten, Squeeze, Unsqueeze: the
// loss reshapes logits to [N, C]) whose own result obeys the same rule; the views then carry
// the 16-bit dtype. An output Cast narrows exactly f32 -> bf16/f16 and is the only reader of the
// op's output (through single-reader views), none of them a graph output. An op never mixes
// bf16 with f16. Cost: one walk over the nodes per rule. Option (meta "fold_casts"): "on"
// (default) | "off". Records meta "fold_casts.removed" (Casts removed) for inspect.
#include <algorithm>
#include <map>
#include <set>

#include "passes/graph_match.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

// Which operands of an op may be 16-bit around f32 compute.
struct Slots {
  std::vector<int> inputs;   // input positions that may take a 16-bit operand
  int output;                // output that may be written 16-bit, -1 none
  int driver;                // input whose dtype the activation outputs take by default
  std::vector<int> follows;  // outputs whose dtype is out_dtype (else the driver's)
};

const Slots* slots_of(const std::string& op) {
  static const std::map<std::string, Slots> table = {
      {"LayerNormalization", {{0}, 0, 0, {0}}},
      {"LayerNormalizationGrad", {{0, 1}, 0, 1, {0}}},
      {"SoftmaxCrossEntropyGrad", {{}, 0, 1, {0}}},
      {"SoftmaxCrossEntropyLoss", {{0}, -1, 0, {0, 1}}},
  };
  auto it = table.find(op);
  return it == table.end() ? nullptr : &it->second;
}

bool is_view(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze";
}
bool is16(DType t) { return t == DType::kBFloat16 || t == DType::kFloat16; }

// Cast node's target dtype if it is a Cast between f32 and a 16-bit float (either way).
bool float_cast(const ir::Graph& g, const ir::Node& n, DType* from, DType* to) {
  if (n.op != "Cast" || n.inputs.size() != 1 || n.outputs.size() != 1 || n.inputs[0] < 0)
    return false;
  *from = g.values[n.inputs[0]].dtype;
  *to = g.values[n.outputs[0]].dtype;
  if (attr_int(n.attrs, "to", -1) != static_cast<int64_t>(*to)) return false;
  return (*from == DType::kFloat32 && is16(*to)) || (is16(*from) && *to == DType::kFloat32);
}

// The 16-bit float dtype among node n's float operands, kUndefined if none; *mixed when it has
// both bf16 and f16.
DType half_of(const ir::Graph& g, const ir::Node& n, bool* mixed) {
  DType h = DType::kUndefined;
  *mixed = false;
  for (const auto* vs : {&n.inputs, &n.outputs})
    for (int v : *vs) {
      if (v < 0 || !is16(g.values[v].dtype)) continue;
      if (h != DType::kUndefined && h != g.values[v].dtype) *mixed = true;
      h = g.values[v].dtype;
    }
  return h;
}

class Folder {
 public:
  explicit Folder(ir::Graph& g) : g_(g), rd_(value_readers(g)), drop_(g.nodes.size(), false) {}

  int64_t run() {
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      DType from, to;
      const ir::Node& c = g_.nodes[i];
      if (!float_cast(g_, c, &from, &to)) continue;
      if (to == DType::kFloat32)
        fold_input(static_cast<int>(i), from);
      else
        fold_output(static_cast<int>(i), to);
    }
    for (int n : touched_) set_out_dtype(g_.nodes[n]);
    return removed_;
  }

  const std::vector<bool>& dropped() const { return drop_; }

 private:
  // Every reader of value v (widened from 16-bit `h`) can take it as `h`: a slot of a listed
  // op, or a view whose result qualifies too. Collects the nodes and views to retype.
  bool readers_take_16(int v, DType h, std::vector<std::pair<int, int>>* uses,
                       std::vector<int>* views) const {
    if (is_graph_output(g_, v) || rd_[v].empty()) return false;
    for (int r : rd_[v]) {
      const ir::Node& n = g_.nodes[r];
      if (drop_[r]) return false;
      if (is_view(n.op) && n.inputs.size() == 1 && n.outputs.size() == 1) {
        if (!readers_take_16(n.outputs[0], h, uses, views)) return false;
        views->push_back(r);
        continue;
      }
      const Slots* s = slots_of(n.op);
      if (!s) return false;
      bool mixed;
      const DType other = half_of(g_, n, &mixed);
      if (mixed || (other != DType::kUndefined && other != h)) return false;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        if (n.inputs[k] != v) continue;
        if (std::find(s->inputs.begin(), s->inputs.end(), static_cast<int>(k)) == s->inputs.end())
          return false;
        uses->push_back({r, static_cast<int>(k)});
      }
    }
    return true;
  }

  void fold_input(int c, DType h) {
    const int src = g_.nodes[c].inputs[0], dst = g_.nodes[c].outputs[0];
    std::vector<std::pair<int, int>> uses;
    std::vector<int> views;
    if (!readers_take_16(dst, h, &uses, &views)) return;
    for (int r : views) g_.values[g_.nodes[r].outputs[0]].dtype = h;
    for (auto [r, k] : uses) {
      ir::Node& n = g_.nodes[r];
      if (n.inputs[k] == dst) n.inputs[k] = src;
      touched_.insert(r);
    }
    for (int r : views)
      if (g_.nodes[r].inputs[0] == dst) g_.nodes[r].inputs[0] = src;
    drop_[c] = true;
    ++removed_;
  }

  // Output Cast c (f32 -> h): walk back through single-reader views to the producer; fold when
  // that producer's output slot allows 16-bit.
  void fold_output(int c, DType h) {
    std::vector<int> chain;  // view nodes from the Cast back towards the producer
    int v = g_.nodes[c].inputs[0];
    for (;;) {
      if (is_graph_output(g_, v) || rd_[v].size() != 1) return;
      const int p = g_.values[v].producer;
      if (p < 0 || drop_[p]) return;
      const ir::Node& n = g_.nodes[p];
      if (is_view(n.op) && n.inputs.size() == 1 && n.outputs.size() == 1) {
        chain.push_back(p);
        v = n.inputs[0];
        continue;
      }
      const Slots* s = slots_of(n.op);
      if (!s || s->output < 0 || n.outputs[s->output] != v) return;
      bool mixed;
      const DType other = half_of(g_, n, &mixed);
      if (mixed || (other != DType::kUndefined && other != h)) return;
      // Retype: the producer's output and the views are 16-bit; the last writer takes over the
      // Cast's result value (its name, readers, graph-output role).
      g_.values[v].dtype = h;
      for (int r : chain) g_.values[g_.nodes[r].outputs[0]].dtype = h;
      ir::Node& last = chain.empty() ? g_.nodes[p] : g_.nodes[chain.front()];
      const int out_slot = chain.empty() ? s->output : 0;
      last.outputs[out_slot] = g_.nodes[c].outputs[0];
      touched_.insert(p);
      drop_[c] = true;
      ++removed_;
      return;
    }
  }

  // out_dtype is spelled only when the activation outputs' dtype is not the driver's.
  void set_out_dtype(ir::Node& n) {
    const Slots* s = slots_of(n.op);
    const DType y = g_.values[n.outputs[s->follows[0]]].dtype;
    if (y == g_.values[n.inputs[s->driver]].dtype)
      n.attrs.erase("out_dtype");
    else
      n.attrs["out_dtype"] = Attr::Int(static_cast<int64_t>(y));
  }

  ir::Graph& g_;
  std::vector<std::vector<int>> rd_;
  std::vector<bool> drop_;
  std::set<int> touched_;
  int64_t removed_ = 0;
};

}  // namespace

Status run_fold_casts(ir::Graph& g, PipelineContext&) {
  const std::string mode = attr_str(g.meta, "fold_casts", "on");
  if (mode != "on" && mode != "off")
    return InvalidArgument("--fold-casts '" + mode + "': expected on or off");
  if (mode == "off") return Status::Ok();
  Folder f(g);
  const int64_t removed = f.run();
  if (removed == 0) return Status::Ok();
  std::vector<ir::Node> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!f.dropped()[i]) nodes.push_back(std::move(g.nodes[i]));
  g.nodes.clear();
  for (ir::Value& v : g.values) v.producer = -1;
  for (ir::Node& n : nodes) g.add_node(std::move(n));
  g.prune();
  // Every rewritten node (and the views it looks through) must keep its values' types.
  for (const ir::Node& n : g.nodes)
    if (slots_of(n.op) || is_view(n.op))
      TSR_RETURN_IF_ERROR(check_inferred_types(g, n, "fold-casts"));
  g.meta["fold_casts.removed"] = Attr::Int(removed);
  return Status::Ok();
}

}  // namespace tessera::passes
