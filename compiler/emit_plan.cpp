#include "compiler/emit_plan.h"

#include <cstring>

#include "passes/core/arena_alias.h"
#include "passes/core/inplace_updates.h"
#include "passes/core/memory_planner.h"
#include "passes/core/sharding_spec.h"
#include "tessera/plan_file.h"

namespace tessera::compiler {
namespace {

plan::AttrProto attr_proto(const std::string& name, const Attr& a) {
  plan::AttrProto p;
  p.set_name(name);
  p.set_kind(static_cast<plan::AttrProto::Kind>(a.kind));
  p.set_i(a.i);
  p.set_f(a.f);
  p.set_s(a.s);
  for (int64_t x : a.ints) p.add_ints(x);
  for (double x : a.floats) p.add_floats(x);
  for (const auto& x : a.strings) p.add_strings(x);
  return p;
}

StatusOr<spmd::ShardingSpec> spec_of(const ir::Value& v) {
  if (v.sharding.empty()) return spmd::ShardingSpec::replicated(static_cast<int>(v.shape.size()));
  auto s = spmd::ShardingSpec::parse(v.sharding);
  if (!s.ok()) return InvalidArgument("tensor '" + v.name + "': " + s.status().message());
  return s;
}

// Copies the block of a row-major tensor at `offsets` with shape `local` out of `global`.
std::vector<uint8_t> extract_block(const ir::TensorData& d, const Shape& local,
                                   const std::vector<int64_t>& offsets) {
  const int64_t esize = dtype_size(d.dtype);
  const int rank = static_cast<int>(local.size());
  std::vector<uint8_t> out(num_elements(local) * esize);
  if (out.empty()) return out;
  if (local == d.shape) {
    std::memcpy(out.data(), d.bytes.data(), out.size());
    return out;
  }
  std::vector<int64_t> stride(rank, 1);
  for (int i = rank - 2; i >= 0; --i) stride[i] = stride[i + 1] * d.shape[i + 1];
  const int64_t row = local.empty() ? 1 : local.back();
  std::vector<int64_t> idx(rank, 0);
  for (int64_t r = 0, rows = num_elements(local) / std::max<int64_t>(row, 1); r < rows; ++r) {
    int64_t src = 0;
    for (int i = 0; i < rank; ++i) src += (idx[i] + offsets[i]) * stride[i];
    std::memcpy(out.data() + r * row * esize, d.bytes.data() + src * esize, row * esize);
    for (int i = rank - 2; i >= 0; --i) {
      if (++idx[i] < local[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

// spmd-search's alternatives for `tessera explain` (plan NodeCandidates).
void add_candidates(plan::Plan& p, const ir::Node& n) {
  plan::NodeCandidates* nc = p.add_candidates();
  nc->set_node(n.name);
  nc->set_chosen(n.chosen);
  nc->set_group_size(n.group_size);
  for (const ir::CandidateCost& c : n.candidates) {
    plan::StrategyCost* sc = nc->add_candidates();
    sc->set_strategy(c.strategy);
    sc->set_compute_seconds(c.compute_seconds);
    sc->set_reshard_seconds(c.reshard_seconds);
    sc->set_total_seconds(c.total_seconds);
    sc->set_memory_bytes(c.memory_bytes);
  }
}

const Shape& local_of(const ir::Value& v) {
  return v.local_shape.empty() ? v.shape : v.local_shape;
}

struct Emitter {
  const ir::Graph& g;
  const spmd::Mesh& mesh;
  plan::Plan p;
  std::vector<int> tensor_of;  // value id -> tensor id, -1 if unused
  std::vector<planfile::WeightBlob> blobs;
  std::vector<int> inplace;  // value id -> the state it is written into (in-place update), or -1

  Status add_tensor(int vid) {
    if (tensor_of[vid] >= 0) return Status::Ok();
    if (inplace[vid] >= 0) {
      // An optimizer update written straight into its state's WEIGHT storage: no arena slot.
      TSR_RETURN_IF_ERROR(add_tensor(inplace[vid]));
      tensor_of[vid] = tensor_of[inplace[vid]];
      return Status::Ok();
    }
    const ir::Value& v = g.values[vid];
    TSR_ASSIGN_OR_RETURN(spmd::ShardingSpec spec, spec_of(v));
    plan::TensorInfo* t = p.add_tensors();
    t->set_id(p.tensors_size() - 1);
    t->set_name(v.name);
    t->set_dtype(static_cast<int32_t>(v.dtype));
    for (int64_t d : local_of(v)) t->add_shape(d);
    for (int64_t d : v.shape) t->add_global_shape(d);
    t->set_nbytes(num_elements(local_of(v)) * dtype_size(v.dtype));
    for (const auto& axes : spec.dims) {
      auto* ds = t->add_dims();
      for (const auto& a : axes) ds->add_axes(a);
    }
    for (const auto& a : spec.partial) t->add_partial_axes(a);
    t->set_sharding(spec.to_string());
    bool stored = v.kind == ir::ValueKind::kWeight || v.kind == ir::ValueKind::kConstant;
    t->set_storage(stored ? plan::TensorInfo::WEIGHT : plan::TensorInfo::ARENA);
    tensor_of[vid] = t->id();
    if (stored && v.data) add_weight_blobs(t->id(), v, spec);
    return Status::Ok();
  }

  void add_weight_blobs(int tid, const ir::Value& v, const spmd::ShardingSpec& spec) {
    if (spec.is_replicated()) {
      blobs.push_back(
          {tid, -1, extract_block(*v.data, v.shape, std::vector<int64_t>(v.shape.size(), 0))});
      return;
    }
    for (int64_t r = 0; r < mesh.world_size(); ++r) {
      auto offs = spec.shard_offsets(v.shape, mesh.coords(r), mesh);
      blobs.push_back({tid, static_cast<int32_t>(r), extract_block(*v.data, local_of(v), offs)});
    }
  }
};

// Per tensor id: the arena tensor whose buffer it shares (core::arena_alias_roots: a
// reshape-like output planned onto its input), itself otherwise.
std::vector<int> tensor_alias_roots(const Emitter& e) {
  const std::vector<int> roots = core::arena_alias_roots(e.g, e.inplace);
  std::vector<int> out(e.p.tensors_size());
  for (int t = 0; t < e.p.tensors_size(); ++t) out[t] = t;
  for (size_t v = 0; v < roots.size(); ++v) {
    const int t = e.tensor_of[v], r = e.tensor_of[roots[v]];
    if (t < 0 || r < 0 || r == t) continue;
    if (e.p.tensors(t).storage() == plan::TensorInfo::ARENA &&
        e.p.tensors(r).storage() == plan::TensorInfo::ARENA)
      out[t] = r;
  }
  return out;
}

// Lifetimes in instruction steps: inputs live from the start, outputs to the end. An aliased
// group is planned as one buffer over the union of its members' lifetimes.
void plan_memory(Emitter& e) {
  const int steps = e.p.instructions_size();
  const int nt = e.p.tensors_size();
  std::vector<int> first(nt, -1), last(nt, -1);
  for (int s = 0; s < steps; ++s) {
    const auto& ins = e.p.instructions(s);
    for (int t : ins.outputs())
      if (first[t] < 0) first[t] = last[t] = s;
    for (int t : ins.inputs())
      if (t >= 0) last[t] = s;
  }
  for (const auto& b : e.p.inputs())
    first[b.tensor()] = 0, last[b.tensor()] = std::max(last[b.tensor()], 0);
  for (const auto& b : e.p.outputs()) last[b.tensor()] = steps;
  // Tensors neither written nor bound: an empty lifetime at step 0, as before.
  for (int t = 0; t < nt; ++t)
    if (first[t] < 0) first[t] = 0, last[t] = std::max(last[t], 0);
  const std::vector<int> root = tensor_alias_roots(e);
  merge_alias_lifetimes(root, first, last);
  std::vector<int> slot(nt, -1);
  std::vector<core::BufferLife> bufs;
  for (const auto& t : e.p.tensors()) {
    if (t.storage() != plan::TensorInfo::ARENA || root[t.id()] != t.id()) continue;
    slot[t.id()] = static_cast<int>(bufs.size());
    bufs.push_back({t.nbytes(), first[t.id()], last[t.id()]});
  }
  core::ArenaPlan ap = core::plan_arena(bufs, 64);
  for (const auto& t : e.p.tensors())
    if (t.storage() == plan::TensorInfo::ARENA)
      e.p.mutable_tensors(t.id())->set_offset(ap.offsets[slot[root[t.id()]]]);
  e.p.set_arena_bytes(ap.arena_bytes);
}

}  // namespace

Status emit_plan(const ir::Graph& g, const spmd::Mesh& mesh, const std::string& path,
                 CompileSummary* summary) {
  Emitter e{g, mesh, {}, std::vector<int>(g.values.size(), -1), {}, core::inplace_update_states(g)};
  e.p.set_model_name(g.name);
  e.p.set_producer("tessera 0.1.0");
  for (const auto& ax : mesh.axes()) {
    auto* a = e.p.mutable_mesh()->add_axes();
    a->set_name(ax.name);
    a->set_size(ax.size);
  }
  for (int vid : g.inputs) {
    TSR_RETURN_IF_ERROR(e.add_tensor(vid));
    auto* b = e.p.add_inputs();
    b->set_name(g.values[vid].name);
    b->set_tensor(e.tensor_of[vid]);
  }
  for (const ir::Node& n : g.nodes) {
    for (int in : n.inputs)
      if (in >= 0) TSR_RETURN_IF_ERROR(e.add_tensor(in));
    for (int out : n.outputs) TSR_RETURN_IF_ERROR(e.add_tensor(out));
    auto* ins = e.p.add_instructions();
    ins->set_op(n.op);
    ins->set_node(n.name);
    ins->set_strategy(n.strategy);
    ins->set_modelled_seconds(n.modelled_seconds);
    ins->set_comm_bytes(n.comm_bytes);
    if (!n.candidates.empty()) add_candidates(e.p, n);
    for (const auto& [k, a] : n.attrs) *ins->add_attrs() = attr_proto(k, a);
    for (int in : n.inputs) ins->add_inputs(in >= 0 ? e.tensor_of[in] : -1);
    for (int out : n.outputs) ins->add_outputs(e.tensor_of[out]);
  }
  for (int vid : g.outputs) {
    TSR_RETURN_IF_ERROR(e.add_tensor(vid));
    auto* b = e.p.add_outputs();
    b->set_name(g.values[vid].name);
    b->set_tensor(e.tensor_of[vid]);
  }
  bool has_data = true;
  for (const auto& v : g.values)
    if ((v.kind == ir::ValueKind::kWeight) && !v.data) has_data = false;
  e.p.set_has_weight_data(has_data);
  for (const auto& [k, a] : g.meta) *e.p.add_meta() = attr_proto(k, a);
  plan_memory(e);
  if (summary) {
    summary->arena_bytes = e.p.arena_bytes();
    summary->has_weight_data = has_data;
    int64_t wb = 0;
    for (const auto& b : e.blobs)
      if (b.rank <= 0) wb += static_cast<int64_t>(b.bytes.size());
    summary->weight_bytes_per_rank = wb;
  }
  return planfile::write_file(path, e.p, e.blobs);
}

}  // namespace tessera::compiler
