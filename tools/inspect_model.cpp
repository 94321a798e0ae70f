#include "inspect_model.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "inspect_layers.h"
#include "tessera/collectives.h"
#include "tessera/plan_file.h"
#include "tessera/reshape_ops.h"

namespace tessera::tools {
namespace {

std::string shape_text(const google::protobuf::RepeatedField<int64_t>& s) {
  std::string out = "[";
  for (int i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

TensorRef tensor_ref(const plan::Plan& p, int id) {
  TensorRef r;
  r.id = id;
  if (id < 0 || id >= p.tensors_size()) return r;
  const auto& t = p.tensors(id);
  r.name = t.name();
  r.shape = shape_text(t.global_shape());
  r.local_shape = shape_text(t.shape());
  r.spec = t.sharding();
  return r;
}

// "w@2.adam_m" and "w.adam_m@2" both name optimizer state: copies in a second layout carry
// "@N" (passes/reshard.cpp), so drop it before looking at the suffix.
std::string strip_copy(const std::string& name) {
  std::string s = name;
  for (size_t at = s.find('@'); at != std::string::npos; at = s.find('@')) {
    size_t end = at + 1;
    while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
    s.erase(at, end - at);
  }
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_gradient(const std::string& name) {
  const std::string s = strip_copy(name);
  return ends_with(s, ".grad") || s.rfind("grad/", 0) == 0;
}

bool is_optimizer_state(const std::string& name) {
  const std::string s = strip_copy(name);
  return ends_with(s, ".adam_m") || ends_with(s, ".adam_v") || ends_with(s, ".momentum");
}

// Weights as the runtime lays them out in one block per rank: each tensor rounded up to 64
// bytes (runtime/src/session_build.cpp), so the total is what `tessera run -v` reports.
void weight_memory(const plan::Plan& p, MemoryBreakdown& m) {
  constexpr int64_t kAlign = 64;
  for (const auto& t : p.tensors()) {
    if (t.storage() != plan::TensorInfo::WEIGHT) continue;
    const int64_t bytes = (t.nbytes() + kAlign - 1) / kAlign * kAlign;
    m.weight_bytes += bytes;
    if (is_optimizer_state(t.name()))
      m.optimizer_state += bytes;
    else if (is_gradient(t.name()))
      m.gradients += bytes;
    else
      m.parameters += bytes;
  }
}

// Arena lifetimes as compiler/emit_plan.cpp plans them: from the defining step to the last use;
// graph inputs from step 0, graph outputs to the end; a reshape aliasing its input
// (planfile::arena_alias_roots) is one buffer with it, counted once over the union of their
// lifetimes. The live sum per step is what the arena must hold at that step; its maximum is a
// lower bound of arena_bytes.
void arena_memory(const plan::Plan& p, InspectModel& m) {
  const int steps = p.instructions_size();
  std::vector<int> first(p.tensors_size(), -1), last(p.tensors_size(), -1),
      producer(p.tensors_size(), -1);
  for (int s = 0; s < steps; ++s) {
    for (int t : p.instructions(s).outputs())
      if (first[t] < 0) first[t] = last[t] = s, producer[t] = s;
    for (int t : p.instructions(s).inputs())
      if (t >= 0) last[t] = std::max(last[t], s);
  }
  for (const auto& b : p.inputs())
    first[b.tensor()] = 0, last[b.tensor()] = std::max(last[b.tensor()], 0);
  for (const auto& b : p.outputs()) last[b.tensor()] = steps - 1;
  const std::vector<int> root = planfile::arena_alias_roots(p);
  merge_alias_lifetimes(root, first, last);
  m.live_arena.assign(steps, 0);
  for (const auto& t : p.tensors()) {
    if (t.storage() != plan::TensorInfo::ARENA || first[t.id()] < 0) continue;
    if (root[t.id()] != t.id()) continue;
    for (int s = first[t.id()]; s <= last[t.id()] && s < steps; ++s) m.live_arena[s] += t.nbytes();
  }
  std::vector<bool> graph_io(p.tensors_size(), false);
  for (const auto& b : p.inputs()) graph_io[b.tensor()] = true;
  for (const auto& b : p.outputs()) graph_io[b.tensor()] = true;
  MemoryBreakdown& mem = m.memory;
  mem.arena_bytes = p.arena_bytes();
  for (int s = 0; s < steps; ++s)
    if (m.live_arena[s] > mem.peak_live_arena)
      mem.peak_live_arena = m.live_arena[s], mem.peak_step = s;
  for (const auto& t : p.tensors()) {
    const int id = t.id();
    if (t.storage() != plan::TensorInfo::ARENA || first[id] < 0 || root[id] != id) continue;
    if (first[id] > mem.peak_step || last[id] < mem.peak_step) continue;
    if (is_gradient(t.name()))
      mem.gradients += t.nbytes();
    else if (!graph_io[id] && producer[id] >= 0 &&
             is_collective_op(p.instructions(producer[id]).op()))
      mem.temporaries += t.nbytes();
    else
      mem.activations += t.nbytes();
  }
}

// The checkpoint pass clones recomputed forward nodes (collectives included) as "<node>/recompute".
bool is_recompute(const std::string& node) { return ends_with(node, "/recompute"); }

std::string meta_str(const plan::Plan& p, const std::string& key) {
  for (const auto& a : p.meta())
    if (a.name() == key) return a.s();
  return "";
}

// The op a collective serves: follow its output through further collectives to a kernel; a
// chain ending at a graph output belongs to the kernel that produced its source.
void attribute_collectives(const plan::Plan& p, InspectModel& m) {
  std::vector<int> consumer(p.tensors_size(), -1), producer(p.tensors_size(), -1);
  for (int s = p.instructions_size() - 1; s >= 0; --s)
    for (int t : p.instructions(s).inputs())
      if (t >= 0) consumer[t] = s;
  for (int s = 0; s < p.instructions_size(); ++s)
    for (int t : p.instructions(s).outputs()) producer[t] = s;
  for (size_t c = 0; c < m.collectives.size(); ++c) {
    CollectiveRow& row = m.collectives[c];
    int t = row.tensor, hops = 0;
    while (t >= 0 && consumer[t] >= 0 && m.op_of_instruction[consumer[t]] < 0 && hops++ < 64)
      t = p.instructions(consumer[t]).outputs(0);
    int owner = t >= 0 && consumer[t] >= 0 ? m.op_of_instruction[consumer[t]] : -1;
    for (int s = row.instruction; owner < 0 && s >= 0 && hops++ < 128;) {
      const auto& ins = p.instructions(s);
      int src = ins.inputs_size() ? ins.inputs(0) : -1;
      s = src >= 0 ? producer[src] : -1;
      if (s >= 0 && m.op_of_instruction[s] >= 0) owner = m.op_of_instruction[s];
    }
    row.for_op = owner;
    if (owner < 0) continue;
    OpRow& op = m.ops[owner];
    op.collectives.push_back(static_cast<int>(c));
    op.comm_seconds += row.seconds;
    op.comm_bytes += row.bytes;
    if (row.layer.empty()) row.layer = op.layer;
  }
}

}  // namespace

bool is_collective_op(const std::string& op) { return tessera::is_collective_op(op); }

std::string rank_coords(const plan::Plan& p, int64_t rank) {
  std::string out;
  int64_t stride = 1;
  for (const auto& a : p.mesh().axes()) stride *= a.size();
  for (const auto& a : p.mesh().axes()) {
    stride /= a.size();
    out += (out.empty() ? "" : ",") + a.name() + "=" + std::to_string(rank / stride % a.size());
  }
  return out;
}

InspectModel build_inspect_model(const plan::Plan& p) {
  InspectModel m;
  m.plan = &p;
  m.model = p.model_name();
  m.producer = p.producer();
  m.mode = meta_str(p, "mode");
  m.cluster = meta_str(p, "cluster");
  for (const auto& a : p.mesh().axes()) {
    m.mesh += (m.mesh.empty() ? "" : ",") + a.name() + "=" + std::to_string(a.size());
    m.ranks *= a.size();
  }
  for (const auto& a : p.meta()) {
    if (a.name() == "parameters") m.parameters = a.i();
    if (a.name() == "modelled_step_seconds") m.solver_seconds = a.f();
  }
  const std::vector<std::string> layers = instruction_layers(p);
  m.op_of_instruction.assign(p.instructions_size(), -1);
  m.collective_of_instruction.assign(p.instructions_size(), -1);
  for (int i = 0; i < p.instructions_size(); ++i) {
    const auto& ins = p.instructions(i);
    m.has_costs |= ins.modelled_seconds() > 0 || !ins.strategy().empty();
    if (is_collective_op(ins.op())) {
      CollectiveRow c;
      c.instruction = i;
      c.node = ins.node();
      c.op = ins.op();
      for (const auto& a : ins.attrs())
        if (a.name() == "axes") c.axes.assign(a.strings().begin(), a.strings().end());
      c.bytes = ins.comm_bytes();
      c.seconds = ins.modelled_seconds();
      c.tensor = ins.outputs_size() ? ins.outputs(0) : -1;
      c.layer = layers[i];
      (is_recompute(c.node) ? m.recompute_seconds : m.comm_seconds) += c.seconds;
      m.collective_of_instruction[i] = static_cast<int>(m.collectives.size());
      m.collectives.push_back(std::move(c));
      continue;
    }
    OpRow r;
    r.instruction = i;
    r.node = ins.node();
    r.op = ins.op();
    r.strategy = ins.strategy();
    r.layer = layers[i];
    r.seconds = ins.modelled_seconds();
    for (int t : ins.inputs()) {
      r.inputs.push_back(tensor_ref(p, t));
      if (t >= 0 && p.tensors(t).storage() == plan::TensorInfo::WEIGHT)
        r.weight_bytes += p.tensors(t).nbytes();
    }
    for (int t : ins.outputs()) {
      r.outputs.push_back(tensor_ref(p, t));
      r.output_bytes += p.tensors(t).nbytes();
    }
    (is_recompute(r.node) ? m.recompute_seconds : m.compute_seconds) += r.seconds;
    m.op_of_instruction[i] = static_cast<int>(m.ops.size());
    m.ops.push_back(std::move(r));
  }
  attribute_collectives(p, m);
  weight_memory(p, m.memory);
  arena_memory(p, m);
  return m;
}

}  // namespace tessera::tools
