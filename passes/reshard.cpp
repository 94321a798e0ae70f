// reshard: wherever a consumer needs an operand in another spec than its producer gives (the
// specs spmd-search chose), insert the cheapest collective sequence (passes/core/reshard).
// Graph outputs are made replicated: the runtime hands every rank the whole result.
#include <map>
#include <set>

#include "passes/core/reshard.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

const char* node_op(spmd::ReshardOp op) {
  switch (op) {
    case spmd::ReshardOp::kSlice: return "ShardSlice";
    case spmd::ReshardOp::kAllGather: return "AllGather";
    case spmd::ReshardOp::kAllToAll: return "AllToAll";
    case spmd::ReshardOp::kReduceScatter: return "ReduceScatter";
    case spmd::ReshardOp::kAllReduce: return "AllReduce";
    case spmd::ReshardOp::kMakePartial: return "MakePartial";
  }
  return "?";
}

ir::Node step_node(const spmd::ReshardStep& s) {
  ir::Node n;
  n.op = node_op(s.op);
  n.attrs["axes"] = Attr::Strs(s.axes);
  if (s.op == spmd::ReshardOp::kAllToAll) {
    // Moving axes from `dim` to `to_dim`: split the local block along to_dim, exchange,
    // concatenate what arrives along dim.
    n.attrs["split_dim"] = Attr::Int(s.to_dim);
    n.attrs["concat_dim"] = Attr::Int(s.dim);
  } else if (s.op != spmd::ReshardOp::kAllReduce && s.op != spmd::ReshardOp::kMakePartial) {
    n.attrs["dim"] = Attr::Int(s.dim);
  }
  return n;
}

// Bytes per device the step's α-β formula charges (passes/core/cost_model.h): the gathered
// size for all-gather, the size before for reduce-scatter, in = out otherwise; local steps none.
int64_t step_bytes(const ir::Value& v, const spmd::ShardingSpec& before, const spmd::ReshardStep& s,
                   const spmd::Mesh& mesh) {
  if (s.op == spmd::ReshardOp::kSlice || s.op == spmd::ReshardOp::kMakePartial) return 0;
  if (s.op == spmd::ReshardOp::kReduceScatter) return before.local_bytes(v.shape, v.dtype, mesh);
  return s.after.local_bytes(v.shape, v.dtype, mesh);
}

StatusOr<spmd::ShardingSpec> spec_of(const std::string& text, size_t rank) {
  if (text.empty()) return spmd::ShardingSpec::replicated(static_cast<int>(rank));
  return spmd::ShardingSpec::parse(text);
}

// Training: "train.updates" pairs each optimizer state (weight, moments, step) with the output
// holding its new value; the runtime copies one over the other in place, so both must have the
// same layout on every rank.
std::map<std::string, int> updated_states(const ir::Graph& g) {
  std::map<std::string, int> by_name, out;
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].kind == ir::ValueKind::kWeight) by_name[g.values[i].name] = static_cast<int>(i);
  std::vector<std::string> pairs = attr_strs(g.meta, "train.updates");
  for (size_t i = 0; i + 1 < pairs.size(); i += 2)
    if (auto it = by_name.find(pairs[i]); it != by_name.end()) out[pairs[i + 1]] = it->second;
  return out;
}

struct Resharder {
  ir::Graph& g;
  PipelineContext& ctx;
  std::set<int> states;  // values updated in place: never copied into a second layout
  std::vector<ir::Node> out;
  std::map<std::pair<int, std::string>, int> done;  // (value, target spec) -> converted value

  // Returns the id of a value holding `vid` in spec `target`, emitting collectives as needed.
  StatusOr<int> convert(int vid, const std::string& target, const std::string& who) {
    const ir::Value& v = g.values[vid];
    TSR_ASSIGN_OR_RETURN(spmd::ShardingSpec src, spec_of(v.sharding, v.shape.size()));
    TSR_ASSIGN_OR_RETURN(spmd::ShardingSpec dst, spec_of(target, v.shape.size()));
    if (src == dst) return vid;
    auto key = std::make_pair(vid, dst.to_string());
    if (auto it = done.find(key); it != done.end()) return it->second;
    if ((v.kind == ir::ValueKind::kWeight || v.kind == ir::ValueKind::kConstant) &&
        dst.partial.empty() && !states.count(vid)) {
      // Weights are stored per rank in whatever layout a consumer wants: a second layout is a
      // second copy in the plan (memory, no communication).
      ir::Value copy = v;
      copy.name = v.name + "@" + std::to_string(done.size());
      copy.sharding = dst.to_string();
      int id = g.add_value(std::move(copy));
      done[key] = id;
      return id;
    }
    auto plan = spmd::find_reshard({v.shape, v.dtype}, ctx.mesh, ctx.cluster, src, dst);
    if (!plan.ok())
      return InvalidArgument("reshard of '" + v.name + "' for " + who + ": " +
                             plan.status().message());
    int cur = vid;
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      const auto& s = plan->steps[i];
      ir::Node n = step_node(s);
      n.name = g.values[vid].name + "/reshard" + std::to_string(done.size()) + "." +
               std::to_string(i);
      ir::Value nv = g.values[vid];
      nv.kind = ir::ValueKind::kActivation;
      nv.data.reset();
      nv.name = n.name;
      nv.sharding = s.after.to_string();
      n.inputs = {cur};
      n.input_specs = {g.values[cur].sharding};
      n.strategy = "collective";
      n.modelled_seconds = s.seconds;
      n.comm_bytes =
          step_bytes(g.values[vid], i == 0 ? src : plan->steps[i - 1].after, s, ctx.mesh);
      cur = g.add_value(std::move(nv));
      n.outputs = {cur};
      out.push_back(std::move(n));
    }
    done[key] = cur;
    return cur;
  }
};

}  // namespace

Status run_reshard(ir::Graph& g, PipelineContext& ctx) {
  const std::map<std::string, int> updated = updated_states(g);
  Resharder r{g, ctx, {}, {}, {}};
  for (const auto& [name, state] : updated) r.states.insert(state);
  std::vector<ir::Node> nodes = std::move(g.nodes);
  g.nodes.clear();
  for (ir::Node& n : nodes) {
    for (size_t i = 0; i < n.inputs.size() && i < n.input_specs.size(); ++i) {
      if (n.inputs[i] < 0) continue;
      TSR_ASSIGN_OR_RETURN(n.inputs[i], r.convert(n.inputs[i], n.input_specs[i],
                                                   "node '" + n.name + "' (" + n.op + ")"));
    }
    r.out.push_back(std::move(n));
  }
  for (int& o : g.outputs) {
    std::string name = g.values[o].name;
    auto st = updated.find(name);
    std::string target = st == updated.end() ? "" : g.values[st->second].sharding;
    TSR_ASSIGN_OR_RETURN(int conv, r.convert(o, target, "graph output '" + name + "'"));
    if (conv != o) {
      // The graph output keeps its name; the pre-reshard value gets a suffix.
      g.values[o].name = name + "/local";
      g.values[conv].name = name;
      o = conv;
    }
  }
  for (ir::Node& n : r.out) g.add_node(std::move(n));
  return Status::Ok();
}

}  // namespace tessera::passes
