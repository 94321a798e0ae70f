// The cuDNN 9 backend-API convolution wrapper (cudnn_conv.h). Per distinct problem, once:
// tensor and convolution descriptors, a one-operation graph, the heuristic's engine configs
// (CUDNN_HEUR_MODE_A: a model's prediction, no engine is timed; then CUDNN_HEUR_MODE_FALLBACK's,
// in case the numerics policy below rejects every mode-A config), and the first config that
// finalizes into an execution plan with acceptable numerics and a workspace that fits the
// context's (32 MiB, shared with cuBLASLt: same stream, so never in use twice). An engine needing
// more is skipped rather than allocated for: the session owns all memory. Every later call only
// builds a variant pack (a host struct) and executes.
//
// Numerics, the same policy as the GEMMs: f32 runs without TF32 tensor cores unless the session
// allows TF32 (engines with the TENSOR_CORE / DOWN_CONVERT_INPUTS notes skipped), never with
// reduced-precision (16-bit) accumulation, and deterministic engines are preferred: a
// nondeterministic one (atomics in backward filter/data) is taken only when no deterministic
// config fits, or always with TESSERA_CUDNN_DETERMINISTIC=0 (PyTorch's default; can be faster).
// TESSERA_CUDNN_VERBOSE=1 prints each problem's chosen engine (or why none) to stderr.
#include "cuda/cudnn_conv.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#ifdef TESSERA_HAVE_CUDNN
#include <cudnn_graph.h>
#endif

namespace tessera::kernels::cuda {

bool cudnn_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("TESSERA_CUDNN");
#ifdef TESSERA_HAVE_CUDNN
    return !(v && std::string(v) == "0");
#else
    (void)v;
    return false;  // built without cuDNN (CMake did not find it): direct kernels only
#endif
  }();
  return on;
}

#ifndef TESSERA_HAVE_CUDNN

struct CudnnState {};
Status cudnn_conv(CudaContext&, const ConvProblem&, void*, void*, void*, bool* ran) {
  *ran = false;
  return Status::Ok();
}

#else

namespace {
bool env_flag(const char* name, bool dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) != "0" : dflt;
}
}  // namespace

// The context's cuDNN handle (created on the first convolution: it loads cuDNN's sub-libraries,
// ~0.1-1 s) and its plans. A null plan records "cuDNN cannot" so the search is not repeated.
// A plan keeps every descriptor it was built from (tensors, convolution, operation, graph,
// engine config) until it is destroyed: cudnn-frontend holds that whole chain alive behind each
// execution plan, and the backend documentation does not promise that setting a descriptor
// attribute deep-copies it, so neither do we rely on it.
struct CudnnState {
  struct Plan {
    cudnnBackendDescriptor_t plan = nullptr;
    int64_t workspace = 0;
    std::vector<cudnnBackendDescriptor_t> keep;  // creation order; destroyed after plan, reversed
  };
  cudnnHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;  // the stream last given to cudnnSetStream
  bool deterministic = env_flag("TESSERA_CUDNN_DETERMINISTIC", true);
  bool verbose = env_flag("TESSERA_CUDNN_VERBOSE", false);
  std::unordered_map<std::string, Plan> plans;
  ~CudnnState() {
    for (auto& kv : plans) {
      if (kv.second.plan) cudnnBackendDestroyDescriptor(kv.second.plan);
      for (auto it = kv.second.keep.rbegin(); it != kv.second.keep.rend(); ++it)
        cudnnBackendDestroyDescriptor(*it);
    }
    // The session may have destroyed its stream already; the handle must not touch it.
    if (handle) {
      cudnnSetStream(handle, nullptr);
      cudnnDestroy(handle);
    }
  }
};

namespace {

Status cudnn_status(cudnnStatus_t s, const std::string& call) {
  if (s == CUDNN_STATUS_SUCCESS) return Status::Ok();
  char last[512] = {};
  cudnnGetLastErrorString(last, sizeof last);
  std::string m = call + ": " + cudnnGetErrorString(s);
  if (last[0]) m += " (" + std::string(last) + ")";
  return Internal(m);
}
#define TSR_CUDNN(expr) TSR_RETURN_IF_ERROR(cudnn_status((expr), #expr))

bool not_supported(cudnnStatus_t s) { return s >= CUDNN_STATUS_NOT_SUPPORTED && s < 4000; }

// Owner of one backend descriptor.
class Desc {
 public:
  Desc() = default;
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  Desc(Desc&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  Desc& operator=(Desc&& o) noexcept {
    if (this != &o) {
      if (d_) cudnnBackendDestroyDescriptor(d_);
      d_ = o.d_;
      o.d_ = nullptr;
    }
    return *this;
  }
  ~Desc() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  Status create(cudnnBackendDescriptorType_t t) {
    return cudnn_status(cudnnBackendCreateDescriptor(t, &d_),
                        "cudnnBackendCreateDescriptor(type " + std::to_string(int(t)) + ")");
  }
  template <class V>
  Status set(cudnnBackendAttributeName_t a, cudnnBackendAttributeType_t t, int64_t n, const V* v) {
    return cudnn_status(cudnnBackendSetAttribute(d_, a, t, n, v),
                        "cudnnBackendSetAttribute(attribute " + std::to_string(int(a)) + ")");
  }
  cudnnStatus_t finalize() { return cudnnBackendFinalize(d_); }
  cudnnBackendDescriptor_t get() const { return d_; }
  cudnnBackendDescriptor_t* addr() { return &d_; }
  cudnnBackendDescriptor_t release() {
    cudnnBackendDescriptor_t d = d_;
    d_ = nullptr;
    return d;
  }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// The handle attributes of the operation graph and the execution plan are deprecated in 9.x
// in favour of device-property descriptors (for building plans without a GPU), which we do not
// need; the attributes still work, so only the warning is silenced, here and nowhere else.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
constexpr cudnnBackendAttributeName_t kGraphHandle = CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
constexpr cudnnBackendAttributeName_t kPlanHandle = CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#pragma GCC diagnostic pop

enum Uid : int64_t { kUidX = 1, kUidW = 2, kUidY = 3 };

bool cudnn_dtype(DType dt, cudnnDataType_t* t) {
  switch (dt) {
    case DType::kFloat32:
      *t = CUDNN_DATA_FLOAT;
      return true;
    case DType::kFloat16:
      *t = CUDNN_DATA_HALF;
      return true;
    case DType::kBFloat16:
      *t = CUDNN_DATA_BFLOAT16;
      return true;
    default:
      return false;
  }
}

// Dense NCHW tensor.
Status make_tensor(const int64_t dims[4], cudnnDataType_t dt, int64_t uid, int64_t align, Desc* t) {
  const int64_t strides[4] = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
  TSR_RETURN_IF_ERROR(t->create(CUDNN_BACKEND_TENSOR_DESCRIPTOR));
  TSR_RETURN_IF_ERROR(t->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt));
  TSR_RETURN_IF_ERROR(t->set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims));
  TSR_RETURN_IF_ERROR(t->set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides));
  TSR_RETURN_IF_ERROR(t->set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
  TSR_RETURN_IF_ERROR(t->set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align));
  return cudnn_status(t->finalize(), "finalize tensor descriptor");
}

Status make_conv_desc(const ConvProblem& p, Desc* c) {
  const int64_t nd = 2;
  const cudnnDataType_t comp = CUDNN_DATA_FLOAT;  // f32 accumulation for every dtype
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  TSR_RETURN_IF_ERROR(c->create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  TSR_RETURN_IF_ERROR(c->set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &nd));
  TSR_RETURN_IF_ERROR(c->set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp));
  TSR_RETURN_IF_ERROR(
      c->set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
  TSR_RETURN_IF_ERROR(c->set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, p.pre));
  TSR_RETURN_IF_ERROR(c->set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, p.post));
  TSR_RETURN_IF_ERROR(c->set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, p.dil));
  TSR_RETURN_IF_ERROR(c->set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, p.stride));
  return cudnn_status(c->finalize(), "finalize convolution descriptor");
}

// The operation's descriptor type and attribute names for x, w, y (forward terms).
struct OpNames {
  cudnnBackendDescriptorType_t type;
  cudnnBackendAttributeName_t x, w, y, conv, alpha, beta;
  const char* what;
};
OpNames op_names(ConvKind k) {
  switch (k) {
    case ConvKind::kForward:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
              "convolution forward"};
    case ConvKind::kBackwardData:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
              "convolution backward data"};
    default:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
              "convolution backward filter"};
  }
}

// Operation graph of the one convolution. *unsupported when cuDNN refuses the problem itself.
// The tensor, convolution and operation descriptors the graph refers to go to *keep.
Status make_graph(cudnnHandle_t h, const ConvProblem& p, int64_t align, Desc* graph,
                  std::vector<Desc>* keep, bool* unsupported) {
  cudnnDataType_t dt = CUDNN_DATA_FLOAT;
  cudnn_dtype(p.dt, &dt);  // checked by the caller
  Desc x, w, y, conv, op;
  TSR_RETURN_IF_ERROR(make_tensor(p.x, dt, kUidX, align, &x));
  TSR_RETURN_IF_ERROR(make_tensor(p.w, dt, kUidW, align, &w));
  TSR_RETURN_IF_ERROR(make_tensor(p.y, dt, kUidY, align, &y));
  TSR_RETURN_IF_ERROR(make_conv_desc(p, &conv));
  const OpNames n = op_names(p.kind);
  const float alpha = 1.f, beta = 0.f;
  TSR_RETURN_IF_ERROR(op.create(n.type));
  TSR_RETURN_IF_ERROR(op.set(n.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, x.addr()));
  TSR_RETURN_IF_ERROR(op.set(n.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, w.addr()));
  TSR_RETURN_IF_ERROR(op.set(n.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, y.addr()));
  TSR_RETURN_IF_ERROR(op.set(n.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, conv.addr()));
  TSR_RETURN_IF_ERROR(op.set(n.alpha, CUDNN_TYPE_FLOAT, 1, &alpha));
  TSR_RETURN_IF_ERROR(op.set(n.beta, CUDNN_TYPE_FLOAT, 1, &beta));
  cudnnStatus_t s = op.finalize();
  *unsupported = not_supported(s);
  if (*unsupported) return Status::Ok();
  TSR_RETURN_IF_ERROR(cudnn_status(s, "finalize operation"));
  TSR_RETURN_IF_ERROR(graph->create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  TSR_RETURN_IF_ERROR(
      graph->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, op.addr()));
  TSR_RETURN_IF_ERROR(graph->set(kGraphHandle, CUDNN_TYPE_HANDLE, 1, &h));
  s = graph->finalize();
  *unsupported = not_supported(s);
  if (*unsupported) return Status::Ok();
  TSR_RETURN_IF_ERROR(cudnn_status(s, "finalize operation graph"));
  for (Desc* d : {&x, &w, &y, &conv, &op}) keep->push_back(std::move(*d));
  return Status::Ok();
}

// Appends the heuristic's engine configs for the graph in `mode`, best first. The result
// descriptors must exist (created as ENGINECFG) before GetAttribute fills them.
Status heuristic_configs(cudnnBackendDescriptor_t graph, cudnnBackendHeurMode_t mode,
                         std::vector<Desc>* cfgs) {
  Desc heur;
  TSR_RETURN_IF_ERROR(heur.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
  TSR_RETURN_IF_ERROR(
      heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph));
  TSR_RETURN_IF_ERROR(heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode));
  const cudnnStatus_t s = heur.finalize();
  // No configs: the caller falls back. The fallback list is a bonus, never an error.
  if (not_supported(s) || (s != CUDNN_STATUS_SUCCESS && mode == CUDNN_HEUR_MODE_FALLBACK))
    return Status::Ok();
  TSR_RETURN_IF_ERROR(cudnn_status(s, "finalize engine heuristics"));
  int64_t count = 0;
  TSR_CUDNN(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr));
  if (count <= 0) return Status::Ok();
  std::vector<Desc> mine(static_cast<size_t>(count));
  std::vector<cudnnBackendDescriptor_t> raw;
  for (Desc& c : mine) {
    TSR_RETURN_IF_ERROR(c.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    raw.push_back(c.get());
  }
  int64_t got = 0;
  TSR_CUDNN(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, raw.data()));
  got = std::min(got, count);
  for (int64_t i = 0; i < got; ++i) cfgs->push_back(std::move(mine[static_cast<size_t>(i)]));
  return Status::Ok();
}

// Whether the config's engine computes the way this backend promises (see the file comment),
// and whether it is nondeterministic (left to the caller's policy). *engine: its global index.
Status acceptable(cudnnBackendDescriptor_t cfg, DType dt, bool allow_tf32, bool* ok,
                  bool* nondet, int64_t* engine) {
  Desc eng;
  TSR_RETURN_IF_ERROR(eng.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR));
  int64_t n = 0;
  TSR_CUDNN(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, eng.addr()));
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  TSR_CUDNN(cudnnBackendGetAttribute(eng.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                                     CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n,
                                     notes));
  *ok = true;
  *nondet = false;
  for (int64_t i = 0; i < std::min<int64_t>(n, CUDNN_NUMERICAL_NOTE_TYPE_COUNT); ++i) {
    const cudnnBackendNumericalNote_t v = notes[i];
    const bool tf32 =
        v == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || v == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS;
    if ((dt == DType::kFloat32 && tf32 && !allow_tf32) ||
        v == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION)
      *ok = false;
    if (v == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC) *nondet = true;
  }
  // For TESSERA_CUDNN_VERBOSE only: no error if it cannot be read.
  if (cudnnBackendGetAttribute(eng.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                               engine) != CUDNN_STATUS_SUCCESS)
    *engine = -1;
  return Status::Ok();
}

// The first acceptable config that finalizes into a plan whose workspace fits. Plan stays null
// when none does. `pick` says which config won (for TESSERA_CUDNN_VERBOSE).
// With deterministic on, pass 0 tries the deterministic configs and pass 1 the others; off,
// one pass tries all in the heuristic's order. No config is finalized twice.
Status pick_plan(const CudnnState& st, const CudaContext& ctx, DType dt, std::vector<Desc>& cfgs,
                 CudnnState::Plan* out, Desc* chosen, std::string* pick) {
  const size_t nc = cfgs.size();
  std::vector<char> ok(nc), nondet(nc);
  std::vector<int64_t> engine(nc);
  for (size_t i = 0; i < nc; ++i) {
    bool a = false, b = false;
    TSR_RETURN_IF_ERROR(acceptable(cfgs[i].get(), dt, ctx.allow_tf32, &a, &b, &engine[i]));
    ok[i] = a, nondet[i] = b;
  }
  for (int pass = st.deterministic ? 0 : 1; pass < 2; ++pass) {
    for (size_t i = 0; i < nc; ++i) {
      if (!ok[i] || (st.deterministic && bool(nondet[i]) != (pass == 1))) continue;
      Desc plan;
      TSR_RETURN_IF_ERROR(plan.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR));
      TSR_RETURN_IF_ERROR(plan.set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                   CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, cfgs[i].addr()));
      TSR_RETURN_IF_ERROR(plan.set(kPlanHandle, CUDNN_TYPE_HANDLE, 1, &st.handle));
      if (plan.finalize() != CUDNN_STATUS_SUCCESS) continue;  // this engine cannot: next
      int64_t ws = 0, n = 0;
      TSR_CUDNN(cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                         CUDNN_TYPE_INT64, 1, &n, &ws));
      if (ws > ctx.workspace_bytes) continue;
      out->plan = plan.release();
      out->workspace = ws;
      *chosen = std::move(cfgs[i]);
      *pick = "config " + std::to_string(i) + " of " + std::to_string(nc) + " (engine " +
              std::to_string(engine[i]) + (nondet[i] ? ", nondeterministic" : "") +
              "), workspace " + std::to_string(ws);
      return Status::Ok();
    }
  }
  *pick = "none of " + std::to_string(cfgs.size()) + " configs fits: direct kernel";
  return Status::Ok();
}

std::string problem_key(const ConvProblem& p, int64_t align, bool tf32) {
  char k[320];
  std::snprintf(k, sizeof k,
                "%d %d %lld %lld %lld %lld | %lld %lld %lld %lld | %lld %lld %lld %lld | %lld %lld "
                "%lld %lld %lld %lld %lld %lld | %lld %d",
                int(p.kind), int(p.dt), (long long)p.x[0], (long long)p.x[1], (long long)p.x[2],
                (long long)p.x[3], (long long)p.w[0], (long long)p.w[1], (long long)p.w[2],
                (long long)p.w[3], (long long)p.y[0], (long long)p.y[1], (long long)p.y[2],
                (long long)p.y[3], (long long)p.pre[0], (long long)p.pre[1], (long long)p.post[0],
                (long long)p.post[1], (long long)p.stride[0], (long long)p.stride[1],
                (long long)p.dil[0], (long long)p.dil[1], (long long)align, int(tf32));
  return k;
}

// Largest power of two up to 16 dividing every address: the alignment the plan may assume
// (16 bytes lets the vectorized tensor-core kernels in; arena tensors are at least that).
int64_t common_alignment(const void* a, const void* b, const void* c) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) |
                      reinterpret_cast<uintptr_t>(c);
  int64_t r = 16;
  while (r > 1 && v % static_cast<uintptr_t>(r) != 0) r /= 2;
  return r;
}

Status state_of(CudaContext& ctx, CudnnState** st) {
  if (!ctx.cudnn) {
    auto s = std::make_shared<CudnnState>();
    TSR_CUDNN(cudnnCreate(&s->handle));
    ctx.cudnn = std::move(s);
  }
  *st = ctx.cudnn.get();
  return Status::Ok();
}

// The cached plan of the problem, built on first use.
Status plan_of(CudaContext& ctx, CudnnState& st, const ConvProblem& p, int64_t align,
               const CudnnState::Plan** plan) {
  const std::string key = problem_key(p, align, ctx.allow_tf32);
  auto it = st.plans.find(key);
  if (it == st.plans.end()) {
    CudnnState::Plan found;
    std::string pick = "cuDNN refuses the problem: direct kernel";
    Desc graph, chosen;
    std::vector<Desc> keep;
    bool unsupported = false;
    TSR_RETURN_IF_ERROR(make_graph(st.handle, p, align, &graph, &keep, &unsupported));
    if (!unsupported) {
      std::vector<Desc> cfgs;
      TSR_RETURN_IF_ERROR(heuristic_configs(graph.get(), CUDNN_HEUR_MODE_A, &cfgs));
      TSR_RETURN_IF_ERROR(heuristic_configs(graph.get(), CUDNN_HEUR_MODE_FALLBACK, &cfgs));
      TSR_RETURN_IF_ERROR(pick_plan(st, ctx, p.dt, cfgs, &found, &chosen, &pick));
    }
    if (found.plan) {  // the plan's ingredients live as long as it does
      keep.push_back(std::move(graph));
      keep.push_back(std::move(chosen));
      for (Desc& d : keep) found.keep.push_back(d.release());
    }
    if (st.verbose)
      std::fprintf(stderr, "cudnn %s [%s]: %s\n", op_names(p.kind).what, key.c_str(), pick.c_str());
    it = st.plans.emplace(key, std::move(found)).first;
  }
  *plan = &it->second;
  return Status::Ok();
}

Status execute(CudaContext& ctx, CudnnState& st, const CudnnState::Plan& plan, void* x, void* w,
               void* y) {
  if (st.stream != ctx.stream) {
    TSR_CUDNN(cudnnSetStream(st.handle, ctx.stream));
    st.stream = ctx.stream;
  }
  void* ptrs[3] = {x, w, y};
  const int64_t uids[3] = {kUidX, kUidW, kUidY};
  Desc pack;
  TSR_RETURN_IF_ERROR(pack.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR));
  TSR_RETURN_IF_ERROR(
      pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs));
  TSR_RETURN_IF_ERROR(pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids));
  TSR_RETURN_IF_ERROR(
      pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ctx.workspace));
  TSR_CUDNN(pack.finalize());
  TSR_CUDNN(cudnnBackendExecute(st.handle, plan.plan, pack.get()));
  return Status::Ok();
}

Status run_problem(CudaContext& ctx, const ConvProblem& p, void* x, void* w, void* y, bool* ran) {
  CudnnState* st = nullptr;
  TSR_RETURN_IF_ERROR(state_of(ctx, &st));
  const CudnnState::Plan* plan = nullptr;
  TSR_RETURN_IF_ERROR(plan_of(ctx, *st, p, common_alignment(x, w, y), &plan));
  if (plan->plan == nullptr) return Status::Ok();
  TSR_RETURN_IF_ERROR(execute(ctx, *st, *plan, x, w, y));
  *ran = true;
  return Status::Ok();
}

}  // namespace

Status cudnn_conv(CudaContext& ctx, const ConvProblem& p, void* x, void* w, void* y, bool* ran) {
  *ran = false;
  cudnnDataType_t t = CUDNN_DATA_FLOAT;
  if (!cudnn_enabled() || !cudnn_dtype(p.dt, &t)) return Status::Ok();
  Status s = run_problem(ctx, p, x, w, y, ran);
  if (s.ok()) return s;
  return Status(s.code(), std::string("cuDNN ") + op_names(p.kind).what + ": " + s.message());
}

#endif  // TESSERA_HAVE_CUDNN

}  // namespace tessera::kernels::cuda
