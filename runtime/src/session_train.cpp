// Training support of a Session: the in-place optimizer update after each run, and full-value
// access to states for saving and loading (tessera/train.h).
#include <algorithm>
#include <cstring>
#include <map>

#include "cuda/device_session.h"
#include "layout.h"
#include "session_internal.h"
#include "tessera/train.h"

namespace tessera::runtime {
namespace {

bool same_sharding(const plan::TensorInfo& a, const plan::TensorInfo& b) {
  if (a.dims_size() != b.dims_size() || a.partial_axes_size() != b.partial_axes_size())
    return false;
  for (int d = 0; d < a.dims_size(); ++d) {
    if (a.dims(d).axes_size() != b.dims(d).axes_size()) return false;
    for (int k = 0; k < a.dims(d).axes_size(); ++k)
      if (a.dims(d).axes(k) != b.dims(d).axes(k)) return false;
  }
  return true;
}

// The WEIGHT tensor named `name`; NotFound naming the plan otherwise.
StatusOr<const plan::TensorInfo*> find_weight(const Plan& plan, const std::string& name) {
  for (const auto& t : plan.meta().tensors())
    if (t.storage() == plan::TensorInfo::WEIGHT && t.name() == name) return &t;
  return NotFound(plan.file().path() + ": plan has no weight named '" + name + "'");
}

Shape global_shape(const plan::TensorInfo& t) {
  const auto& g = t.global_shape().empty() ? t.shape() : t.global_shape();
  return Shape(g.begin(), g.end());
}

}  // namespace

Status prepare_updates(const Plan& plan, Session::Impl* s) {
  const plan::Plan& p = plan.meta();
  const std::string& file = plan.file().path();
  TSR_ASSIGN_OR_RETURN(TrainInfo info, train_info(p, file));
  std::map<std::string, int32_t> outputs;
  for (const auto& b : p.outputs()) outputs[b.name()] = b.tensor();
  for (const StateUpdate& u : info.updates) {
    const std::string pair = file + ": train.updates pair ('" + u.state + "', '" + u.output + "')";
    auto st = find_weight(plan, u.state);
    if (!st.ok()) return Corrupt(pair + ": no weight tensor named '" + u.state + "'");
    auto it = outputs.find(u.output);
    if (it == outputs.end()) return Corrupt(pair + ": no graph output named '" + u.output + "'");
    const plan::TensorInfo& state = **st;
    const plan::TensorInfo& out = p.tensors(it->second);
    // The update is a raw local copy, so both sides must agree byte for byte on every rank.
    if (out.dtype() != state.dtype() || out.nbytes() != state.nbytes() ||
        !std::equal(out.shape().begin(), out.shape().end(), state.shape().begin(),
                    state.shape().end()) ||
        !same_sharding(out, state))
      return Corrupt(pair + ": output " + out.sharding() + " " +
                     shape_str(Shape(out.shape().begin(), out.shape().end())) +
                     " does not match its state " + state.sharding() + " " +
                     shape_str(Shape(state.shape().begin(), state.shape().end())));
    if (state.partial_axes_size() > 0) return Corrupt(pair + ": state is a partial sum");
    s->updates.emplace_back(out.id(), state.id());
  }
  return Status::Ok();
}

bool is_update_output(const Session::Impl& s, int32_t id) {
  for (const auto& u : s.updates)
    if (u.first == id) return true;
  return false;
}

Status Session::apply_updates() {
  if (!impl_->ran) return InvalidArgument("apply_updates before a successful run()");
  const plan::Plan& p = plan_->meta();
  for (const auto& [out, state] : impl_->updates) {
    if (out == state) continue;  // updated in place by the optimizer (docs/plan-format.md)
    if (impl_->device) {
      TSR_RETURN_IF_ERROR(impl_->device->copy_tensor(out, state));
    } else {
      std::memcpy(impl_->tensor_data[state], impl_->tensor_data[out],
                  static_cast<size_t>(p.tensors(state).nbytes()));
    }
  }
  return Status::Ok();
}

StatusOr<HostTensor> Session::read_state(const std::string& name) {
  TSR_ASSIGN_OR_RETURN(const plan::TensorInfo* t, find_weight(*plan_, name));
  if (t->partial_axes_size() > 0)
    return Unimplemented(plan_->file().path() + ": weight '" + name + "' is a partial sum");
  const DType dt = static_cast<DType>(t->dtype());
  HostTensor cur{name, dt, Shape(t->shape().begin(), t->shape().end()), {}};
  cur.bytes.resize(static_cast<size_t>(t->nbytes()));
  if (impl_->device)
    TSR_RETURN_IF_ERROR(impl_->device->read_tensor(t->id(), cur.bytes.data()));
  else
    std::memcpy(cur.bytes.data(), impl_->tensor_data[t->id()], cur.bytes.size());
  // One all-gather per sharded dimension, over that dimension's axes (major first, as
  // shard_box cuts): the group's ranks hold consecutive blocks of the dimension.
  for (int d = 0; d < t->dims_size(); ++d) {
    std::vector<std::string> axes(t->dims(d).axes().begin(), t->dims(d).axes().end());
    if (axes.empty()) continue;
    TSR_ASSIGN_OR_RETURN(Group g, comm_->group(axes));
    HostTensor next{name, dt, cur.shape, {}};
    next.shape[d] *= g.size;
    next.bytes.resize(static_cast<size_t>(next.numel() * dtype_size(dt)));
    Status s = comm_->all_gather(axes, d, {dt, cur.shape, cur.bytes.data()},
                                 {dt, next.shape, next.bytes.data()});
    if (!s.ok()) return Status(s.code(), "gathering weight '" + name + "': " + s.message());
    cur = std::move(next);
  }
  if (cur.shape != global_shape(*t))
    return Corrupt(plan_->file().path() + ": weight '" + name + "' gathers to " +
                   shape_str(cur.shape) + ", its global shape is " + shape_str(global_shape(*t)));
  return cur;
}

Status Session::write_state(const std::string& name, const HostTensor& global) {
  TSR_ASSIGN_OR_RETURN(const plan::TensorInfo* t, find_weight(*plan_, name));
  const DType dt = static_cast<DType>(t->dtype());
  if (global.dtype != dt || global.shape != global_shape(*t))
    return InvalidArgument("weight '" + name + "': got " + dtype_name(global.dtype) + " " +
                           shape_str(global.shape) + ", plan expects " + dtype_name(dt) + " " +
                           shape_str(global_shape(*t)));
  if (static_cast<int64_t>(global.bytes.size()) != global.numel() * dtype_size(dt))
    return InvalidArgument("weight '" + name + "': byte size does not match its shape");
  if (t->partial_axes_size() > 0)
    return Unimplemented(plan_->file().path() + ": weight '" + name + "' is a partial sum");
  Shape starts, sizes;
  TSR_RETURN_IF_ERROR(shard_box(*t, *comm_, &starts, &sizes));
  std::vector<uint8_t> local(static_cast<size_t>(t->nbytes()));
  if (num_elements(sizes) * dtype_size(dt) != t->nbytes())
    return Corrupt(plan_->file().path() + ": weight '" + name +
                   "' local shape does not match its sharding");
  copy_box(global.bytes.data(), global.shape, starts, sizes, dtype_size(dt), local.data());
  if (impl_->device) return impl_->device->write_tensor(t->id(), local.data());
  std::memcpy(impl_->tensor_data[t->id()], local.data(), local.size());
  return Status::Ok();
}

}  // namespace tessera::runtime
