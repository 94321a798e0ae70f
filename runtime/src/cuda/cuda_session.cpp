// The CUDA backend of a Session: one device allocation holding arena (plan offsets), weights,
// collective scratch and the cuBLASLt workspace; weights uploaded once at create; inputs and
// outputs staged through pinned host buffers; the instruction loop enqueues kernels and NCCL
// collectives on one stream and waits once at the end, polling NCCL errors under a timeout.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "cuda/device_session.h"
#include "cuda/nccl_groups.h"
#include "kernels/cuda/cuda_kernels.h"
#include "session_internal.h"

namespace tessera::runtime {
namespace {

namespace kc = kernels::cuda;

Status cu(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  return Status(e == cudaErrorMemoryAllocation ? Code::kOutOfMemory : Code::kInternal,
                what + ": " + cudaGetErrorString(e));
}

constexpr int64_t kDevAlign = 256;  // cudaMalloc's alignment; what vector loads and cuBLASLt like
int64_t align_up(int64_t v) { return (v + kDevAlign - 1) / kDevAlign * kDevAlign; }
constexpr int64_t kWorkspace = 32 << 20;  // cuBLASLt workspace: enough for Hopper's split-K

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) st[d - 1] = st[d] * s[d];
  return st;
}

const char* env(const char* n) {
  const char* v = std::getenv(n);
  return v && *v ? v : nullptr;
}

struct PinnedFree {
  void operator()(uint8_t* p) const { cudaFreeHost(p); }
};
using Pinned = std::unique_ptr<uint8_t, PinnedFree>;

Status pinned(int64_t bytes, Pinned* p) {
  void* q = nullptr;
  TSR_RETURN_IF_ERROR(cu(cudaMallocHost(&q, static_cast<size_t>(bytes > 0 ? bytes : 1)),
                         "cudaMallocHost " + std::to_string(bytes) + " bytes"));
  p->reset(static_cast<uint8_t*>(q));
  return Status::Ok();
}

class CudaSession final : public DeviceSession {
 public:
  ~CudaSession() override {
    nccl_.reset();  // communicators first: they may reference the stream's device
    if (ctx_.lt) cublasLtDestroy(ctx_.lt);
    if (ctx_.stream) cudaStreamDestroy(ctx_.stream);
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    if (base_) cudaFree(base_);
  }

  Status create(const Plan& plan, Comm& comm, const SessionOptions& opts);
  Status run(const std::vector<std::vector<uint8_t>>& shards) override;
  Status read_output(int index, void* dst, int64_t bytes) const override {
    if (index < 0 || index >= static_cast<int>(out_host_.size()) || bytes > out_bytes_[index])
      return InvalidArgument("output index or size out of range");
    // Downloaded here, not at the end of run(): a caller that never reads an output (a
    // benchmark, a pipeline stage feeding the device) pays no PCIe time for it, which for
    // bert-large's 2 GB of logits is ~80 ms against a ~30 ms forward pass.
    TSR_RETURN_IF_ERROR(cu(cudaSetDevice(device_), "cudaSetDevice"));
    TSR_RETURN_IF_ERROR(cu(
        cudaMemcpyAsync(out_host_[index].get(), tensor_data_[plan_->meta().outputs(index).tensor()],
                        static_cast<size_t>(bytes), cudaMemcpyDeviceToHost, ctx_.stream),
        "output download"));
    TSR_RETURN_IF_ERROR(cu(cudaStreamSynchronize(ctx_.stream), "output download"));
    std::memcpy(dst, out_host_[index].get(), static_cast<size_t>(bytes));
    return Status::Ok();
  }
  // Training: on the session's stream, then waited for, so a following run (same stream) and
  // host reads both see the copy. Called between runs, when the stream is idle.
  Status copy_tensor(int32_t src, int32_t dst) override {
    return copy(tensor_data_[dst], tensor_data_[src], dst, cudaMemcpyDeviceToDevice, "update");
  }
  Status read_tensor(int32_t id, void* dst) const override {
    return copy(dst, tensor_data_[id], id, cudaMemcpyDeviceToHost, "weight download");
  }
  Status write_tensor(int32_t id, const void* src) override {
    return copy(tensor_data_[id], src, id, cudaMemcpyHostToDevice, "weight upload");
  }
  int64_t device_bytes() const override { return total_bytes_; }
  int64_t weight_bytes() const override { return weight_bytes_; }
  const std::vector<double>& instruction_seconds() const override { return seconds_; }

 private:
  Status collective(const Step& st);
  Status run_step(const Step& st);
  Status run_steps();
  Status capture_graph();
  // Synchronous copy of tensor `id`'s local bytes (pageable host memory: staged by CUDA).
  Status copy(void* dst, const void* src, int32_t id, cudaMemcpyKind kind, const char* what) const {
    TSR_RETURN_IF_ERROR(cu(cudaSetDevice(device_), "cudaSetDevice"));
    const size_t n = static_cast<size_t>(plan_->meta().tensors(id).nbytes());
    TSR_RETURN_IF_ERROR(cu(cudaMemcpyAsync(dst, src, n, kind, ctx_.stream),
                           std::string(what) + " of tensor " + std::to_string(id)));
    return cu(cudaStreamSynchronize(ctx_.stream), what);
  }

  const Plan* plan_ = nullptr;
  Comm* comm_ = nullptr;
  SessionOptions opts_;
  int device_ = 0;
  uint8_t* base_ = nullptr;  // the one cudaMalloc
  int64_t total_bytes_ = 0, weight_bytes_ = 0;
  uint8_t* scratch_[2] = {nullptr, nullptr};
  kc::CudaContext ctx_;
  std::unique_ptr<NcclGroups> nccl_;
  std::vector<Step> steps_;
  std::vector<uint8_t*> tensor_data_;
  std::vector<Pinned> in_host_, out_host_;
  std::vector<int64_t> out_bytes_;
  std::vector<double> seconds_;
  // Profiling: an event before every instruction and one after the last, on the stream; an
  // instruction's time is the GPU time between its two events (launch gaps included, no
  // host wait: waiting after each instruction added ~50 us to each of gpt2's ~1000).
  std::vector<cudaEvent_t> events_;
  Status profile_times();
  // CUDA graph of the whole instruction sequence, captured on the second run (the first one
  // does any lazy setup eagerly) and replayed after: one launch instead of one per kernel
  // (gpt2-124m's step has ~1000). Opt-in (TESSERA_CUDA_GRAPHS=1) until it has run on a GPU:
  // written when no device was lent. Off when profiling and with collectives (NCCL inside a
  // captured graph is left for later); a failed capture (an op that syncs or allocates) falls
  // back to eager runs for good.
  cudaGraphExec_t graph_exec_ = nullptr;
  bool graphs_ = false;
  int runs_ = 0;
};

Status CudaSession::create(const Plan& plan, Comm& comm, const SessionOptions& opts) {
  plan_ = &plan;
  comm_ = &comm;
  opts_ = opts;
  const plan::Plan& p = plan.meta();
  const std::string& file = plan.file().path();
  int count = 0;
  TSR_RETURN_IF_ERROR(cu(cudaGetDeviceCount(&count), "cudaGetDeviceCount"));
  if (count == 0) return Unimplemented("backend 'cuda': no GPU is visible");
  // CUDA_VISIBLE_DEVICES already renumbered what we see (launcher.cpp, unit-tested there). A
  // handed-in NCCL communicator is bound to its GPU: work must run there.
  device_ = device_for_local_rank(local_rank_from_environment(), count);
  if (opts.nccl_comm &&
      ncclCommCuDevice(static_cast<ncclComm_t>(opts.nccl_comm), &device_) != ncclSuccess)
    return InvalidArgument("the handed-in NCCL communicator is not a valid ncclComm_t");
  TSR_RETURN_IF_ERROR(cu(cudaSetDevice(device_), "cudaSetDevice " + std::to_string(device_)));

  // Steps first: a plan with ops we cannot run fails before any device memory is taken.
  Session::Impl layout;  // tensor pointers are filled below; build_steps only copies them
  layout.tensor_data.assign(p.tensors_size(), nullptr);
  TSR_RETURN_IF_ERROR(build_steps(plan, &layout));
  std::map<std::string, int> missing;
  std::vector<std::vector<std::string>> axes_lists;
  int64_t scratch = 0, gemm_pad = 0;
  bool int8_gemm = false;
  for (const Step& st : layout.steps) {
    if (st.kind == Step::kKernel) {
      if (!kc::find_cuda_kernel(st.op)) ++missing[st.op];
      // Kernels with device scratch: int8 GEMM tiles, per-row loss and LayerNorm statistics.
      int8_gemm |= st.op == "QMatMulI8" || st.op == "QConvI8" ||
                   st.op == "SoftmaxCrossEntropyLoss" || st.op == "LayerNormalizationGrad";
      gemm_pad = std::max(gemm_pad, kc::gemm_pad_scratch_bytes(st.op, st.attrs, st.ins, st.outs));
    } else {
      axes_lists.push_back(st.axes);
      scratch = std::max({scratch, st.ins[0].bytes(), st.outs[0].bytes()});
    }
  }
  const char* g = std::getenv("TESSERA_CUDA_GRAPHS");
  graphs_ = axes_lists.empty() && !opts.profile && g && std::string(g) == "1";
  if (!missing.empty()) {
    std::string names;
    for (const auto& [op, n] : missing)
      names += (names.empty() ? "" : ", ") + op + " (" + std::to_string(n) + "x)";
    return Unimplemented(file + ": backend 'cuda' has no kernel for: " + names);
  }

  // One allocation:
  // [arena | weights | scratch 0 | scratch 1 | cuBLASLt workspace | int32 acc | GEMM row pads].
  std::vector<const plan::WeightSection*> pick(p.tensors_size(), nullptr);
  for (const auto& w : p.weights())
    if (w.rank() == comm.rank() || (w.rank() == -1 && !pick[w.tensor()])) pick[w.tensor()] = &w;
  std::vector<int64_t> woff(p.tensors_size(), -1);
  for (const auto& t : p.tensors()) {
    if (t.storage() != plan::TensorInfo::WEIGHT) continue;
    if (!pick[t.id()] && !opts.random_weights)
      return Corrupt(file + ": tensor " + std::to_string(t.id()) +
                     " has no weight section for rank " + std::to_string(comm.rank()));
    woff[t.id()] = weight_bytes_;
    weight_bytes_ = align_up(weight_bytes_ + t.nbytes());
  }
  const int64_t arena = align_up(p.arena_bytes()), sc = align_up(scratch);
  // Int32 accumulators of QMatMulI8, only when the plan has one; TESSERA_I8_TILE_MB is for
  // benchmarks of the tile size (L2-resident tiles against fewer, larger GEMMs).
  const char* tile_mb = env("TESSERA_I8_TILE_MB");
  const int64_t i32 = !int8_gemm ? 0
                      : tile_mb  ? align_up(std::atoll(tile_mb) << 20)
                                 : kc::kI8ScratchBytes;
  gemm_pad = align_up(gemm_pad);
  total_bytes_ = arena + weight_bytes_ + 2 * sc + kWorkspace + i32 + gemm_pad;
  void* mem = nullptr;
  TSR_RETURN_IF_ERROR(cu(cudaMalloc(&mem, static_cast<size_t>(total_bytes_)),
                         file + ": device memory of " + std::to_string(total_bytes_) + " bytes"));
  base_ = static_cast<uint8_t*>(mem);
  scratch_[0] = base_ + arena + weight_bytes_;
  scratch_[1] = scratch_[0] + sc;
  ctx_.workspace = scratch_[1] + sc;
  ctx_.workspace_bytes = kWorkspace;
  ctx_.i32_scratch = i32 > 0 ? static_cast<uint8_t*>(ctx_.workspace) + kWorkspace : nullptr;
  ctx_.i32_scratch_bytes = i32;
  ctx_.pad_scratch =
      gemm_pad > 0 ? static_cast<uint8_t*>(ctx_.workspace) + kWorkspace + i32 : nullptr;
  ctx_.pad_scratch_bytes = gemm_pad;
  TSR_RETURN_IF_ERROR(
      cu(cudaStreamCreateWithFlags(&ctx_.stream, cudaStreamNonBlocking), "cudaStreamCreate"));
  if (cublasLtCreate(&ctx_.lt) != CUBLAS_STATUS_SUCCESS) return Internal("cublasLtCreate failed");
  const char* tf32 = env("TESSERA_CUDA_TF32");
  ctx_.allow_tf32 = tf32 && std::string(tf32) != "0";

  // Weights: one synchronous copy each at create (pageable source, so the copy stages anyway).
  tensor_data_.assign(p.tensors_size(), nullptr);
  for (const auto& t : p.tensors()) {
    if (t.storage() == plan::TensorInfo::ARENA) {
      tensor_data_[t.id()] = base_ + t.offset();
    } else {
      tensor_data_[t.id()] = base_ + arena + woff[t.id()];
      if (!pick[t.id()]) {  // random_weights: seeded by tensor id, so runs are repeatable
        const DType dt = static_cast<DType>(t.dtype());
        const int64_t n = t.nbytes() / std::max<int64_t>(1, dtype_size(dt));
        TSR_RETURN_IF_ERROR(kc::fill_random(ctx_, tensor_data_[t.id()], dt, n,
                                            static_cast<uint64_t>(t.id()) + 1, 0.05f));
        continue;
      }
      TSR_RETURN_IF_ERROR(
          cu(cudaMemcpy(tensor_data_[t.id()], plan.file().section_data(*pick[t.id()]),
                        static_cast<size_t>(t.nbytes()), cudaMemcpyHostToDevice),
             file + ": weight upload"));
    }
  }
  steps_ = std::move(layout.steps);
  // Re-point every operand at device memory (build_steps saw null pointers).
  for (Step& st : steps_) {
    const plan::Instruction& ins = p.instructions(st.index);
    for (int i = 0; i < ins.inputs_size(); ++i)
      if (ins.inputs(i) >= 0) st.ins[i].data = tensor_data_[ins.inputs(i)];
    for (int i = 0; i < ins.outputs_size(); ++i)
      if (ins.outputs(i) >= 0) st.outs[i].data = tensor_data_[ins.outputs(i)];
  }
  in_host_.resize(p.inputs_size());
  for (int i = 0; i < p.inputs_size(); ++i)
    TSR_RETURN_IF_ERROR(pinned(p.tensors(p.inputs(i).tensor()).nbytes(), &in_host_[i]));
  out_host_.resize(p.outputs_size());
  for (int i = 0; i < p.outputs_size(); ++i) {
    out_bytes_.push_back(p.tensors(p.outputs(i).tensor()).nbytes());
    TSR_RETURN_IF_ERROR(pinned(out_bytes_.back(), &out_host_[i]));
  }
  const char* to = env("TESSERA_NCCL_TIMEOUT_S");
  nccl_ = std::make_unique<NcclGroups>();
  return nccl_->init(comm, axes_lists, to ? std::atof(to) : 300.0,
                     static_cast<ncclComm_t>(opts.nccl_comm));
}

Status CudaSession::collective(const Step& st) {
  const kernels::TensorRef &in = st.ins[0], &out = st.outs[0];
  TSR_ASSIGN_OR_RETURN(Group g, comm_->group(st.axes));
  const int64_t es = dtype_size(in.dtype);
  if (in.dtype != out.dtype || es == 0) return InvalidArgument("collective dtypes differ");
  const std::vector<int64_t> cin = strides_of(in.shape), cout = strides_of(out.shape);
  if (st.kind == Step::kShardSlice) {  // local: keep this rank's block of dim
    const int64_t d = st.dim;
    if (d < 0 || d >= static_cast<int64_t>(in.shape.size()))
      return InvalidArgument("dim out of range");
    return kc::strided_copy(ctx_, in.data, g.rank * out.shape[d] * cin[d], cin, out.data, 0, cout,
                            out.shape, es);
  }
  if (st.kind == Step::kMakePartial && g.rank != 0)  // local: only the group's first rank keeps it
    return cu(cudaMemsetAsync(out.data, 0, out.bytes(), ctx_.stream), "MakePartial zero");
  if (g.size == 1 || st.kind == Step::kMakePartial) {
    if (in.data == out.data) return Status::Ok();
    return cu(cudaMemcpyAsync(out.data, in.data, in.bytes(), cudaMemcpyDeviceToDevice, ctx_.stream),
              "collective copy");
  }
  ncclComm_t c = nccl_->get(g.key);
  if (!c) return Internal("no NCCL communicator for axes '" + g.key + "'");
  bool ok = true;
  const ncclDataType_t dt = nccl_dtype(in.dtype, &ok);
  if (!ok) return Unimplemented(std::string("NCCL collective of ") + dtype_name(in.dtype));
  // View [dims before d] + [G] + [dims from d] of a tensor whose dim d is split in G blocks:
  // `blk` is block-major scratch ([G] + block shape), `whole` the row-major tensor.
  auto rearrange = [&](const Shape& block, int64_t d, const void* src, void* dst, bool to_whole) {
    const Shape whole_shape = [&] {
      Shape s = block;
      s[d] *= g.size;
      return s;
    }();
    const std::vector<int64_t> cb = strides_of(block), cw = strides_of(whole_shape);
    Shape v(block.begin(), block.begin() + d);
    std::vector<int64_t> sb(cb.begin(), cb.begin() + d), sw(cw.begin(), cw.begin() + d);
    v.push_back(g.size);
    sb.push_back(num_elements(block));
    sw.push_back(block[d] * cw[d]);
    v.insert(v.end(), block.begin() + d, block.end());
    sb.insert(sb.end(), cb.begin() + d, cb.end());
    sw.insert(sw.end(), cw.begin() + d, cw.end());
    return to_whole ? kc::strided_copy(ctx_, src, 0, sb, dst, 0, sw, v, es)
                    : kc::strided_copy(ctx_, src, 0, sw, dst, 0, sb, v, es);
  };
  const std::string what = st.op + " over '" + g.key + "'";
  switch (st.kind) {
    case Step::kAllReduce:
      return nccl_->settle(c,
                           ncclAllReduce(in.data, out.data, static_cast<size_t>(in.numel()), dt,
                                         ncclSum, c, ctx_.stream),
                           what);
    case Step::kAllGather: {
      // Blocks arrive rank-major; gathering along dim 0 is already the row-major layout.
      const bool direct = num_elements(Shape(in.shape.begin(), in.shape.begin() + st.dim)) == 1;
      void* dst = direct ? out.data : scratch_[0];
      TSR_RETURN_IF_ERROR(nccl_->settle(
          c, ncclAllGather(in.data, dst, static_cast<size_t>(in.numel()), dt, c, ctx_.stream),
          what));
      return direct ? Status::Ok() : rearrange(in.shape, st.dim, dst, out.data, true);
    }
    case Step::kReduceScatter: {
      TSR_RETURN_IF_ERROR(rearrange(out.shape, st.dim, in.data, scratch_[0], false));
      return nccl_->settle(
          c,
          ncclReduceScatter(scratch_[0], out.data, static_cast<size_t>(out.numel()), dt, ncclSum, c,
                            ctx_.stream),
          what);
    }
    case Step::kAllToAll: {
      Shape block = in.shape;
      block[st.split_dim] /= g.size;
      TSR_RETURN_IF_ERROR(rearrange(block, st.split_dim, in.data, scratch_[0], false));
      const int64_t bytes = num_elements(block) * es;
      ncclResult_t r = ncclGroupStart();
      for (int j = 0; j < g.size && (r == ncclSuccess || r == ncclInProgress); ++j) {
        r = ncclSend(scratch_[0] + j * bytes, static_cast<size_t>(bytes), ncclUint8, j, c,
                     ctx_.stream);
        if (r == ncclSuccess || r == ncclInProgress)
          r = ncclRecv(scratch_[1] + j * bytes, static_cast<size_t>(bytes), ncclUint8, j, c,
                       ctx_.stream);
      }
      const ncclResult_t e = ncclGroupEnd();
      TSR_RETURN_IF_ERROR(nccl_->settle(c, r != ncclSuccess && r != ncclInProgress ? r : e, what));
      Shape rblock = out.shape;
      rblock[st.concat_dim] /= g.size;
      return rearrange(rblock, st.concat_dim, scratch_[1], out.data, true);
    }
    default:
      return Internal("unknown collective");
  }
}

Status CudaSession::run_step(const Step& st) {
  if (st.kind == Step::kKernel) return kc::run_cuda_kernel(ctx_, st.op, st.attrs, st.ins, st.outs);
  return collective(st);
}

Status CudaSession::run(const std::vector<std::vector<uint8_t>>& shards) {
  const plan::Plan& p = plan_->meta();
  TSR_RETURN_IF_ERROR(cu(cudaSetDevice(device_), "cudaSetDevice"));
  for (int i = 0; i < p.inputs_size(); ++i) {
    std::memcpy(in_host_[i].get(), shards[i].data(), shards[i].size());
    TSR_RETURN_IF_ERROR(cu(cudaMemcpyAsync(tensor_data_[p.inputs(i).tensor()], in_host_[i].get(),
                                           shards[i].size(), cudaMemcpyHostToDevice, ctx_.stream),
                           "input upload"));
  }
  seconds_.assign(opts_.profile ? steps_.size() : 0, 0.0);
  const int run = runs_++;
  if (graphs_ && run == 1) TSR_RETURN_IF_ERROR(capture_graph());
  if (graph_exec_) {
    TSR_RETURN_IF_ERROR(cu(cudaGraphLaunch(graph_exec_, ctx_.stream), "cudaGraphLaunch"));
    return nccl_->wait_stream(ctx_.stream, "rank " + std::to_string(comm_->rank()) + " on cuda");
  }
  TSR_RETURN_IF_ERROR(run_steps());
  TSR_RETURN_IF_ERROR(
      nccl_->wait_stream(ctx_.stream, "rank " + std::to_string(comm_->rank()) + " on cuda"));
  return opts_.profile ? profile_times() : Status::Ok();
}

Status CudaSession::profile_times() {
  for (size_t i = 0; i < steps_.size(); ++i) {
    float ms = 0;
    TSR_RETURN_IF_ERROR(cu(cudaEventElapsedTime(&ms, events_[i], events_[i + 1]), "profile"));
    seconds_[steps_[i].index] = ms * 1e-3;
  }
  return Status::Ok();
}

// Records every step into a graph; on any failure the capture is dropped (the stream leaves
// capture mode at cudaStreamEndCapture) and the session stays eager.
Status CudaSession::capture_graph() {
  graphs_ = false;
  cudaGraph_t graph = nullptr;
  if (cudaStreamBeginCapture(ctx_.stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    cudaGetLastError();
    return Status::Ok();
  }
  const Status r = run_steps();
  const cudaError_t e = cudaStreamEndCapture(ctx_.stream, &graph);
  if (r.ok() && e == cudaSuccess && graph &&
      cudaGraphInstantiate(&graph_exec_, graph, 0) != cudaSuccess)
    graph_exec_ = nullptr;
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();  // a refused capture leaves a sticky-free error behind: clear it
  if (!graph_exec_ && std::getenv("TESSERA_CUDA_GRAPHS_VERBOSE"))
    std::fprintf(stderr, "tessera: CUDA graph capture failed (%s); running eagerly\n",
                 r.ok() ? cudaGetErrorString(e) : r.message().c_str());
  return Status::Ok();
}

Status CudaSession::run_steps() {
  const plan::Plan& p = plan_->meta();
  if (opts_.profile && events_.empty()) {
    events_.resize(steps_.size() + 1);
    for (cudaEvent_t& e : events_) TSR_RETURN_IF_ERROR(cu(cudaEventCreate(&e), "cudaEventCreate"));
  }
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& st = steps_[i];
    if (opts_.profile) TSR_RETURN_IF_ERROR(cu(cudaEventRecord(events_[i], ctx_.stream), "event"));
    const Status r = run_step(st);
    if (!r.ok()) {
      const plan::Instruction& ins = p.instructions(st.index);
      return Status(r.code(), "rank " + std::to_string(comm_->rank()) + ", instruction " +
                                  std::to_string(st.index) + " (" + st.op +
                                  (ins.node().empty() ? "" : ", node '" + ins.node() + "'") +
                                  ") on cuda: " + r.message());
    }
  }
  if (opts_.profile)
    TSR_RETURN_IF_ERROR(cu(cudaEventRecord(events_[steps_.size()], ctx_.stream), "event"));
  return Status::Ok();
}

}  // namespace

bool cuda_backend_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

StatusOr<std::unique_ptr<DeviceSession>> create_cuda_session(const Plan& plan, Comm& comm,
                                                             const SessionOptions& opts) {
  auto s = std::make_unique<CudaSession>();
  TSR_RETURN_IF_ERROR(s->create(plan, comm, opts));
  return std::unique_ptr<DeviceSession>(std::move(s));
}

}  // namespace tessera::runtime
