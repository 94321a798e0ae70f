// Plan and Session: the embedding API (tessera/runtime.h) and the instruction loop.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "cuda/device_session.h"
#include "layout.h"
#include "session_internal.h"

namespace tessera::runtime {
namespace {

IOInfo io_info(const plan::Plan& p, const plan::IOBinding& b) {
  const plan::TensorInfo& t = p.tensors(b.tensor());
  const auto& g = t.global_shape().empty() ? t.shape() : t.global_shape();
  return {b.name(), static_cast<DType>(t.dtype()), Shape(g.begin(), g.end())};
}

BufferRef buf(const kernels::TensorRef& r) { return {r.dtype, r.shape, r.data}; }

// Every rank checks it loaded the same plan as rank 0; all fail together if one differs.
Status check_same_plan(const Plan& plan, Comm& comm) {
  if (comm.size() == 1) return Status::Ok();
  const uint64_t h = plan.content_hash();
  std::vector<uint8_t> bytes(8);
  std::memcpy(bytes.data(), &h, 8);
  TSR_RETURN_IF_ERROR(comm.broadcast(&bytes, 0));
  int64_t bad = 0;
  if (bytes.size() != 8 || std::memcmp(bytes.data(), &h, 8) != 0) bad = 1;
  BufferRef r{DType::kInt64, {1}, &bad};
  TSR_RETURN_IF_ERROR(comm.all_reduce(comm.mesh_names(), r, r));
  if (bad)
    return Status(Code::kComm, plan.file().path() + ": " + std::to_string(bad) +
                                   " rank(s) loaded a plan that differs from rank 0's");
  return Status::Ok();
}

// Updated outputs of training plans are exempt: they keep their state's sharding.
Status check_outputs_replicated(const plan::Plan& p, const std::string& file,
                                const Session::Impl& s) {
  for (const auto& b : p.outputs()) {
    const plan::TensorInfo& t = p.tensors(b.tensor());
    if (is_update_output(s, t.id())) continue;
    bool sharded = t.partial_axes_size() > 0;
    for (const auto& d : t.dims()) sharded |= d.axes_size() > 0;
    if (sharded) return Corrupt(file + ": output '" + b.name() + "' is not replicated");
  }
  return Status::Ok();
}

}  // namespace

Status check_external_world(const char* what, int rank, int size, const Comm& comm) {
  if (rank == comm.rank() && size == comm.size()) return Status::Ok();
  return Status(Code::kComm, std::string("the handed-in ") + what + " is rank " +
                                 std::to_string(rank) + " of " + std::to_string(size) +
                                 ", but the session's communicator (" + comm.backend() +
                                 ") is rank " + std::to_string(comm.rank()) + " of " +
                                 std::to_string(comm.size()));
}

StatusOr<std::shared_ptr<const Plan>> Plan::load(const std::string& path,
                                                 const planfile::LoadOptions& opts) {
  TSR_ASSIGN_OR_RETURN(std::unique_ptr<planfile::PlanFile> f, planfile::PlanFile::open(path, opts));
  return from_file(std::move(f));
}

std::shared_ptr<const Plan> Plan::from_file(std::unique_ptr<planfile::PlanFile> file) {
  return std::shared_ptr<const Plan>(new Plan(std::move(file)));
}

int64_t Plan::world_size() const {
  int64_t n = 1;
  for (const auto& a : meta().mesh().axes()) n *= a.size();
  return n;
}

std::vector<IOInfo> Plan::inputs() const {
  std::vector<IOInfo> v;
  for (const auto& b : meta().inputs()) v.push_back(io_info(meta(), b));
  return v;
}

std::vector<IOInfo> Plan::outputs() const {
  std::vector<IOInfo> v;
  for (const auto& b : meta().outputs()) v.push_back(io_info(meta(), b));
  return v;
}

StatusOr<Backend> parse_backend(const std::string& name) {
  if (name == "cpu") return Backend::kCpu;
  if (name == "cuda") return Backend::kCuda;
  if (name == "auto") return Backend::kAuto;
  return InvalidArgument("unknown backend '" + name + "' (cpu, cuda, auto)");
}

Session::~Session() = default;
Session::Impl::~Impl() = default;

StatusOr<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Plan> plan,
                                                   std::shared_ptr<Comm> comm,
                                                   const SessionOptions& opts) {
  if (!plan || !comm) return InvalidArgument("Session::create needs a plan and a communicator");
  const plan::Plan& p = plan->meta();
  const std::string& file = plan->file().path();
  if (!p.has_weight_data() && !opts.random_weights)
    return InvalidArgument(file +
                           ": plan has no weight data (compiled from a graph-only model); "
                           "run needs weights");
  if (opts.random_weights && opts.backend == Backend::kCpu)
    return Unimplemented("random weights (benchmarks) exist for the cuda backend only");
  std::vector<std::string> names;
  std::vector<int64_t> sizes;
  for (const auto& a : p.mesh().axes()) names.push_back(a.name()), sizes.push_back(a.size());
  Status ms = comm->set_mesh(names, sizes);
  if (!ms.ok()) return Status(ms.code(), file + ": " + ms.message());
  std::unique_ptr<Session> s(new Session());
  s->impl_ = std::make_unique<Impl>();
  TSR_RETURN_IF_ERROR(prepare_updates(*plan, s->impl_.get()));
  TSR_RETURN_IF_ERROR(check_outputs_replicated(p, file, *s->impl_));
  if (opts.check_plan_hash) TSR_RETURN_IF_ERROR(check_same_plan(*plan, *comm));
  s->impl_->opts = opts;
  Backend backend = opts.backend;
  if (backend == Backend::kAuto)
    backend = opts.nccl_comm || cuda_backend_available() ? Backend::kCuda : Backend::kCpu;
  if (opts.nccl_comm && backend != Backend::kCuda)
    return InvalidArgument("a handed-in NCCL communicator needs backend 'cuda' (got 'cpu')");
  if (backend == Backend::kCuda) {
    TSR_ASSIGN_OR_RETURN(s->impl_->device, create_cuda_session(*plan, *comm, opts));
  } else {
    TSR_RETURN_IF_ERROR(place_weights(*plan, comm->rank(), s->impl_.get()));
    TSR_RETURN_IF_ERROR(build_steps(*plan, s->impl_.get()));
  }
  s->impl_->shards.resize(p.inputs_size());
  s->impl_->bound.assign(p.inputs_size(), false);
  s->plan_ = std::move(plan);
  s->comm_ = std::move(comm);
  return s;
}

Status Session::bind_input(const std::string& name, const HostTensor& global) {
  const plan::Plan& p = plan_->meta();
  for (int i = 0; i < p.inputs_size(); ++i) {
    if (p.inputs(i).name() != name) continue;
    const IOInfo info = io_info(p, p.inputs(i));
    const plan::TensorInfo& t = p.tensors(p.inputs(i).tensor());
    if (global.dtype != info.dtype || global.shape != info.global_shape)
      return InvalidArgument("input '" + name + "': got " + dtype_name(global.dtype) + " " +
                             shape_str(global.shape) + ", plan expects " + dtype_name(info.dtype) +
                             " " + shape_str(info.global_shape));
    if (static_cast<int64_t>(global.bytes.size()) != global.numel() * dtype_size(global.dtype))
      return InvalidArgument("input '" + name + "': byte size does not match its shape");
    if (t.partial_axes_size() > 0)
      return Corrupt(plan_->file().path() + ": input '" + name + "' is marked partial");
    Shape starts, sizes;
    TSR_RETURN_IF_ERROR(shard_box(t, *comm_, &starts, &sizes));
    if (sizes != Shape(t.shape().begin(), t.shape().end()))
      return Corrupt(plan_->file().path() + ": input '" + name +
                     "' local shape does not match its sharding");
    impl_->shards[i].resize(static_cast<size_t>(t.nbytes()));
    copy_box(global.bytes.data(), global.shape, starts, sizes, dtype_size(global.dtype),
             impl_->shards[i].data());
    impl_->bound[i] = true;
    return Status::Ok();
  }
  return NotFound("plan has no input named '" + name + "'");
}

namespace {

Status run_step(const Step& st, Comm& comm) {
  switch (st.kind) {
    case Step::kKernel:
      return kernels::run_cpu_kernel(st.op, st.attrs, st.ins, st.outs);
    case Step::kAllReduce:
      return comm.all_reduce(st.axes, buf(st.ins[0]), buf(st.outs[0]));
    case Step::kAllGather:
      return comm.all_gather(st.axes, st.dim, buf(st.ins[0]), buf(st.outs[0]));
    case Step::kReduceScatter:
      return comm.reduce_scatter(st.axes, st.dim, buf(st.ins[0]), buf(st.outs[0]));
    case Step::kAllToAll:
      return comm.all_to_all(st.axes, st.split_dim, st.concat_dim, buf(st.ins[0]), buf(st.outs[0]));
    case Step::kShardSlice:
      return comm.shard_slice(st.axes, st.dim, buf(st.ins[0]), buf(st.outs[0]));
    case Step::kMakePartial:
      return comm.make_partial(st.axes, buf(st.ins[0]), buf(st.outs[0]));
  }
  return Internal("unknown step kind");
}

}  // namespace

Status Session::run() {
  const plan::Plan& p = plan_->meta();
  Impl& s = *impl_;
  for (int i = 0; i < p.inputs_size(); ++i) {
    if (!s.bound[i]) return InvalidArgument("input '" + p.inputs(i).name() + "' is not bound");
  }
  s.ran = false;
  if (s.device) {
    TSR_RETURN_IF_ERROR(s.device->run(s.shards));
    s.ran = true;
    return Status::Ok();
  }
  for (int i = 0; i < p.inputs_size(); ++i) {
    // Copied in on every run: the memory planner may reuse input buffers after their last use.
    std::memcpy(s.tensor_data[p.inputs(i).tensor()], s.shards[i].data(), s.shards[i].size());
  }
  s.ran = false;
  s.seconds.assign(s.opts.profile ? s.steps.size() : 0, 0.0);
  // Arena high-water mark: a few compares per operand, no allocation.
  const uint8_t* base = s.arena.data();
  auto touch = [&](const void* d, int64_t bytes) {
    const auto* q = static_cast<const uint8_t*>(d);
    if (q >= base && q < base + s.arena.size())
      s.arena_high_water = std::max<int64_t>(s.arena_high_water, q - base + bytes);
  };
  s.arena_high_water = 0;
  for (int i = 0; i < p.inputs_size(); ++i)
    touch(s.tensor_data[p.inputs(i).tensor()], static_cast<int64_t>(s.shards[i].size()));
  for (const Step& st : s.steps) {
    for (const auto* refs : {&st.ins, &st.outs})
      for (const kernels::TensorRef& t : *refs)
        if (t.data) touch(t.data, t.bytes());
    const auto t0 = std::chrono::steady_clock::now();
    Status r = run_step(st, *comm_);
    if (!r.ok()) {
      const plan::Instruction& ins = p.instructions(st.index);
      return Status(r.code(), "rank " + std::to_string(comm_->rank()) + ", instruction " +
                                  std::to_string(st.index) + " (" + st.op +
                                  (ins.node().empty() ? "" : ", node '" + ins.node() + "'") +
                                  "): " + r.message());
    }
    if (s.opts.profile)
      s.seconds[st.index] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  s.ran = true;
  return Status::Ok();
}

StatusOr<HostTensor> Session::output(const std::string& name) const {
  const plan::Plan& p = plan_->meta();
  if (!impl_->ran)
    return InvalidArgument("output '" + name + "' requested before a successful run()");
  for (int oi = 0; oi < p.outputs_size(); ++oi) {
    const plan::IOBinding& b = p.outputs(oi);
    if (b.name() != name) continue;
    const plan::TensorInfo& t = p.tensors(b.tensor());
    if (is_update_output(*impl_, t.id()))
      return InvalidArgument("output '" + name +
                             "' is an optimizer update, sharded like its state: read the state "
                             "with read_state after apply_updates");
    HostTensor out{
        name, static_cast<DType>(t.dtype()), Shape(t.shape().begin(), t.shape().end()), {}};
    if (impl_->device) {
      out.bytes.resize(static_cast<size_t>(t.nbytes()));
      TSR_RETURN_IF_ERROR(impl_->device->read_output(oi, out.bytes.data(), t.nbytes()));
      return out;
    }
    const uint8_t* src = impl_->tensor_data[t.id()];
    out.bytes.assign(src, src + t.nbytes());
    return out;
  }
  return NotFound("plan has no output named '" + name + "'");
}

const char* Session::backend() const { return impl_->device ? "cuda" : "cpu"; }
int64_t Session::arena_bytes() const {
  return impl_->device ? plan_->meta().arena_bytes() : impl_->arena.size();
}
int64_t Session::weight_bytes() const {
  return impl_->device ? impl_->device->weight_bytes() : impl_->weights.size();
}
int64_t Session::peak_bytes() const {
  return weight_bytes() + (impl_->device ? arena_bytes() : impl_->arena_high_water);
}
const std::vector<double>& Session::instruction_seconds() const {
  return impl_->device ? impl_->device->instruction_seconds() : impl_->seconds;
}

}  // namespace tessera::runtime
