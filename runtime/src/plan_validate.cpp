// Plan consistency checks, run at write and at load, so the session can index tables without
// re-checking. Each message names the file, then the tensor/instruction/section at fault.
#include <set>
#include <string>

#include "tessera/dtype.h"
#include "tessera/plan_file.h"
#include "tessera/reshape_ops.h"

namespace tessera::planfile {
namespace {

std::string tname(const plan::TensorInfo& t) {
  return "tensor " + std::to_string(t.id()) + " '" + t.name() + "'";
}

Status check_mesh(const plan::Plan& p, const std::string& what, std::set<std::string>* axes) {
  int64_t world = 1;
  for (const auto& a : p.mesh().axes()) {
    if (a.size() <= 0 || a.size() > 65536)
      return Corrupt(what + ": mesh axis '" + a.name() + "' has size " + std::to_string(a.size()));
    if (!axes->insert(a.name()).second)
      return Corrupt(what + ": mesh axis '" + a.name() + "' listed twice");
    world *= a.size();
    if (world > (1 << 24)) return Corrupt(what + ": mesh has more than 2^24 ranks");
  }
  return Status::Ok();
}

Status check_tensor(const plan::Plan& p, int i, const std::set<std::string>& axes,
                    const std::string& what) {
  const plan::TensorInfo& t = p.tensors(i);
  if (t.id() != i) return Corrupt(what + ": " + tname(t) + " sits at index " + std::to_string(i));
  const DType dt = static_cast<DType>(t.dtype());
  if (dtype_size(dt) == 0)
    return Corrupt(what + ": " + tname(t) + " has unsupported dtype " + std::to_string(t.dtype()));
  int64_t n = 1;
  for (int64_t d : t.shape()) {
    if (d < 0 || (d > 0 && n > (int64_t{1} << 48) / d))
      return Corrupt(what + ": " + tname(t) + " has a bad shape");
    n *= d;
  }
  if (t.nbytes() != n * dtype_size(dt))
    return Corrupt(what + ": " + tname(t) + " nbytes " + std::to_string(t.nbytes()) +
                   " does not match its shape and dtype");
  if (t.storage() == plan::TensorInfo::ARENA &&
      (t.offset() < 0 || t.offset() > p.arena_bytes() || t.nbytes() > p.arena_bytes() - t.offset()))
    return Corrupt(what + ": " + tname(t) + " lies outside the arena");
  // Kernels load elements through typed pointers: offsets must keep them aligned.
  if (t.storage() == plan::TensorInfo::ARENA && t.offset() % dtype_size(dt) != 0)
    return Corrupt(what + ": " + tname(t) + " arena offset " + std::to_string(t.offset()) +
                   " is not a multiple of its element size");
  if (t.dims_size() != 0 && t.dims_size() != t.global_shape_size())
    return Corrupt(what + ": " + tname(t) + " has sharding for " + std::to_string(t.dims_size()) +
                   " dims but rank " + std::to_string(t.global_shape_size()));
  for (const auto& d : t.dims())
    for (const auto& a : d.axes())
      if (!axes.count(a))
        return Corrupt(what + ": " + tname(t) + " sharded over unknown axis '" + a + "'");
  return Status::Ok();
}

// Training plans: WEIGHT tensors updated in place, i.e. states of "train.updates" pairs whose
// updated output is bound to the state's own tensor (docs/plan-format.md, "In-place updates").
// The optimizer writes these; every other WEIGHT tensor is read-only.
std::set<int> inplace_states(const plan::Plan& p) {
  std::set<int> ids;
  for (const auto& a : p.meta()) {
    if (a.name() != "train.updates") continue;
    for (int k = 0; k + 1 < a.strings_size(); k += 2)
      for (const auto& b : p.outputs()) {
        if (b.name() != a.strings(k + 1) || b.tensor() < 0 || b.tensor() >= p.tensors_size())
          continue;
        const plan::TensorInfo& t = p.tensors(b.tensor());
        if (t.storage() == plan::TensorInfo::WEIGHT && t.name() == a.strings(k)) ids.insert(t.id());
      }
  }
  return ids;
}

// Every "train.updates" pair names a WEIGHT tensor (the state) and a graph output (its new
// value), so a compiler that names anything else fails when it writes the plan, not when a
// session loads it (Session::create matches shapes and shardings too).
Status check_train_updates(const plan::Plan& p, const std::string& what) {
  std::set<std::string> weights, outputs;
  for (const auto& t : p.tensors())
    if (t.storage() == plan::TensorInfo::WEIGHT) weights.insert(t.name());
  for (const auto& b : p.outputs()) outputs.insert(b.name());
  for (const auto& a : p.meta()) {
    if (a.name() != "train.updates") continue;
    if (a.strings_size() % 2 != 0) return Corrupt(what + ": train.updates has an odd length");
    for (int k = 0; k < a.strings_size(); k += 2) {
      const std::string pair =
          what + ": train.updates pair ('" + a.strings(k) + "', '" + a.strings(k + 1) + "')";
      if (!weights.count(a.strings(k)))
        return Corrupt(pair + ": no weight tensor named '" + a.strings(k) + "'");
      if (!outputs.count(a.strings(k + 1)))
        return Corrupt(pair + ": no graph output named '" + a.strings(k + 1) + "'");
    }
  }
  return Status::Ok();
}

bool arena_overlap(const plan::TensorInfo& a, const plan::TensorInfo& b) {
  if (a.storage() != plan::TensorInfo::ARENA || b.storage() != plan::TensorInfo::ARENA)
    return false;
  if (a.nbytes() == 0 || b.nbytes() == 0) return false;
  return a.offset() < b.offset() + b.nbytes() && b.offset() < a.offset() + a.nbytes();
}

// No instruction writes over what it reads (the CUDA copies and most kernels would read
// clobbered bytes), except an aliased reshape, whose output *is* its input. Later instructions
// are not checked against each other: that is O(tensors^2) and the planner's job.
Status check_overlap(const plan::Plan& p, const plan::Instruction& ins, const std::string& at) {
  for (int32_t o : ins.outputs())
    for (int k = 0; k < ins.inputs_size(); ++k) {
      const int32_t i = ins.inputs(k);
      if (i < 0 || !arena_overlap(p.tensors(o), p.tensors(i))) continue;
      if (k == 0 && is_arena_alias(p, ins)) continue;
      return Corrupt(at + " writes " + tname(p.tensors(o)) + " over its input " +
                     tname(p.tensors(i)) +
                     " in the arena (only a reshape-like op may alias its input, at the same "
                     "offset and size)");
    }
  return Status::Ok();
}

Status check_instruction(const plan::Plan& p, int i, const std::string& what,
                         const std::set<int>& inplace) {
  const plan::Instruction& ins = p.instructions(i);
  const int n = p.tensors_size();
  auto where = [&] {
    return what + ": instruction " + std::to_string(i) + " (" + ins.op() +
           (ins.node().empty() ? "" : ", node '" + ins.node() + "'") + ")";
  };
  for (int32_t id : ins.inputs())
    if (id < -1 || id >= n)
      return Corrupt(where() + " reads tensor id " + std::to_string(id) + " out of range [0, " +
                     std::to_string(n) + ")");
  for (int32_t id : ins.outputs()) {
    if (id < 0 || id >= n)
      return Corrupt(where() + " writes tensor id " + std::to_string(id) + " out of range [0, " +
                     std::to_string(n) + ")");
    if (p.tensors(id).storage() != plan::TensorInfo::ARENA && !inplace.count(id))
      return Corrupt(where() + " writes weight " + tname(p.tensors(id)));
  }
  return check_overlap(p, ins, where());
}

Status check_bindings(const plan::Plan& p, const std::string& what, const std::set<int>& inplace) {
  for (const auto* list : {&p.inputs(), &p.outputs()})
    for (const auto& b : *list) {
      if (b.tensor() < 0 || b.tensor() >= p.tensors_size())
        return Corrupt(what + ": binding '" + b.name() + "' refers to tensor id " +
                       std::to_string(b.tensor()) + " out of range");
      if (list == &p.outputs() && inplace.count(b.tensor())) continue;
      if (p.tensors(b.tensor()).storage() != plan::TensorInfo::ARENA)
        return Corrupt(what + ": binding '" + b.name() + "' is not an arena tensor");
    }
  return Status::Ok();
}

Status check_sections(const plan::Plan& p, uint64_t data_size, int64_t world,
                      const std::string& what) {
  for (int i = 0; i < p.weights_size(); ++i) {
    const plan::WeightSection& s = p.weights(i);
    const std::string at = what + ": weight section " + std::to_string(i);
    if (s.tensor() < 0 || s.tensor() >= p.tensors_size())
      return Corrupt(at + " refers to tensor id " + std::to_string(s.tensor()) + " out of range");
    const plan::TensorInfo& t = p.tensors(s.tensor());
    if (t.storage() != plan::TensorInfo::WEIGHT)
      return Corrupt(at + ": " + tname(t) + " is not a weight");
    if (s.rank() < -1 || s.rank() >= world)
      return Corrupt(at + " (" + tname(t) + ") is for rank " + std::to_string(s.rank()) + " of a " +
                     std::to_string(world) + "-rank mesh");
    if (s.offset() % kSectionAlign != 0 || s.offset() > data_size ||
        s.size() > data_size - s.offset())
      return Corrupt(at + " (" + tname(t) + ") lies outside the data section");
    if (s.size() != static_cast<uint64_t>(t.nbytes()))
      return Corrupt(at + " (" + tname(t) + ") has " + std::to_string(s.size()) +
                     " bytes, the tensor needs " + std::to_string(t.nbytes()));
  }
  return Status::Ok();
}

}  // namespace

bool is_arena_alias(const plan::Plan& p, const plan::Instruction& ins) {
  if (!is_reshape_like_op(ins.op()) || ins.inputs_size() < 1 || ins.outputs_size() != 1)
    return false;
  if (ins.inputs(0) < 0) return false;
  const plan::TensorInfo &in = p.tensors(ins.inputs(0)), &out = p.tensors(ins.outputs(0));
  return in.storage() == plan::TensorInfo::ARENA && out.storage() == plan::TensorInfo::ARENA &&
         in.offset() == out.offset() && in.nbytes() == out.nbytes();
}

std::vector<int> arena_alias_roots(const plan::Plan& p) {
  std::vector<int> root(p.tensors_size());
  for (int t = 0; t < p.tensors_size(); ++t) root[t] = t;
  for (const auto& ins : p.instructions())  // in order: an input's root is already final
    if (is_arena_alias(p, ins)) root[ins.outputs(0)] = root[ins.inputs(0)];
  return root;
}

Status validate_plan(const plan::Plan& p, uint64_t data_size, const std::string& what) {
  std::set<std::string> axes;
  TSR_RETURN_IF_ERROR(check_mesh(p, what, &axes));
  if (p.arena_bytes() < 0) return Corrupt(what + ": negative arena size");
  for (int i = 0; i < p.tensors_size(); ++i) TSR_RETURN_IF_ERROR(check_tensor(p, i, axes, what));
  const std::set<int> inplace = inplace_states(p);
  for (int i = 0; i < p.instructions_size(); ++i)
    TSR_RETURN_IF_ERROR(check_instruction(p, i, what, inplace));
  TSR_RETURN_IF_ERROR(check_bindings(p, what, inplace));
  TSR_RETURN_IF_ERROR(check_train_updates(p, what));
  int64_t world = 1;
  for (const auto& a : p.mesh().axes()) world *= a.size();
  return check_sections(p, data_size, world, what);
}

}  // namespace tessera::planfile
