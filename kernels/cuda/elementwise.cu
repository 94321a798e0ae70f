// Elementwise kernels on f32/f16/bf16 (computed in f32): binary ops with numpy broadcasting and
// unary maps. One templated kernel per arity, the op a template parameter, so each op is one
// line here and one table entry. Contiguous same-shape operands take the broadcast path with
// one merged dim, i.e. a single div-free loop.
#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {
namespace {

enum class Bin { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin };
enum class Un {
  kErf,
  kTanh,
  kRelu,
  kSigmoid,
  kSqrt,
  kExp,
  kLog,
  kNeg,
  kAbs,
  kRecip,
  kGelu,
  kGeluTanh,
  kLeakyRelu,
  kCopy
};

template <Bin op>
__device__ __forceinline__ float apply(float a, float b) {
  if constexpr (op == Bin::kAdd) return a + b;
  if constexpr (op == Bin::kSub) return a - b;
  if constexpr (op == Bin::kMul) return a * b;
  if constexpr (op == Bin::kDiv) return a / b;
  if constexpr (op == Bin::kPow) return b == 2.f ? a * a : (b == 3.f ? a * a * a : powf(a, b));
  if constexpr (op == Bin::kMax) return fmaxf(a, b);
  if constexpr (op == Bin::kMin) return fminf(a, b);
  return 0.f;
}

template <Un op>
__device__ __forceinline__ float apply(float x, float alpha) {
  if constexpr (op == Un::kErf) return erff(x);
  if constexpr (op == Un::kTanh) return tanhf(x);
  if constexpr (op == Un::kRelu) return x > 0.f ? x : 0.f;
  if constexpr (op == Un::kSigmoid) return 1.f / (1.f + expf(-x));
  if constexpr (op == Un::kSqrt) return sqrtf(x);
  if constexpr (op == Un::kExp) return expf(x);
  if constexpr (op == Un::kLog) return logf(x);
  if constexpr (op == Un::kNeg) return -x;
  if constexpr (op == Un::kAbs) return fabsf(x);
  if constexpr (op == Un::kRecip) return 1.f / x;
  if constexpr (op == Un::kGelu) return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
  if constexpr (op == Un::kGeluTanh)
    return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  if constexpr (op == Un::kLeakyRelu) return x >= 0.f ? x : alpha * x;
  return x;
}

template <Bin op, class T>
__global__ void binary_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                              Dims d, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[offset_of(d, 2, i)] =
        from_f<T>(apply<op>(to_f(a[offset_of(d, 0, i)]), to_f(b[offset_of(d, 1, i)])));
}

template <Un op, class T, class U>
__global__ void unary_kernel(const T* __restrict__ x, U* __restrict__ y, int64_t n, float alpha) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f<U>(apply<op>(to_f(x[i]), alpha));
}

template <Bin op>
Status binary(CudaContext& ctx, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "input 1"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  Shape want;
  TSR_RETURN_IF_ERROR(cpu::broadcast_shapes(in[0].shape, in[1].shape, &want));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  std::vector<int64_t> sa, sb;
  TSR_RETURN_IF_ERROR(cpu::broadcast_strides(in[0].shape, want, &sa));
  TSR_RETURN_IF_ERROR(cpu::broadcast_strides(in[1].shape, want, &sb));
  Dims d;
  TSR_RETURN_IF_ERROR(make_dims(want, {sa, sb, cpu::contiguous_strides(want)}, &d));
  const int64_t n = num_elements(want);
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    binary_kernel<op, T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), out[0].as<T>(), d, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

template <Un op>
Status unary(CudaContext& ctx, const Ins& in, const Ins& out, float alpha = 0.f) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  const int64_t n = in[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    unary_kernel<op, T, T>
        <<<grid_for(n), kThreads, 0, ctx.stream>>>(in[0].as<const T>(), out[0].as<T>(), n, alpha);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

}  // namespace

#define TSR_BINARY(name, op)                                                     \
  Status name(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) { \
    return binary<Bin::op>(ctx, in, out);                                        \
  }
TSR_BINARY(Add, kAdd)
TSR_BINARY(Sub, kSub)
TSR_BINARY(Mul, kMul)
TSR_BINARY(Div, kDiv)
TSR_BINARY(Pow, kPow)
TSR_BINARY(Max, kMax)
TSR_BINARY(Min, kMin)
#undef TSR_BINARY

#define TSR_UNARY(name, op)                                                      \
  Status name(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) { \
    return unary<Un::op>(ctx, in, out);                                          \
  }
TSR_UNARY(Erf, kErf)
TSR_UNARY(Tanh, kTanh)
TSR_UNARY(Relu, kRelu)
TSR_UNARY(Sigmoid, kSigmoid)
TSR_UNARY(Sqrt, kSqrt)
TSR_UNARY(Exp, kExp)
TSR_UNARY(Log, kLog)
TSR_UNARY(Neg, kNeg)
TSR_UNARY(Abs, kAbs)
TSR_UNARY(Reciprocal, kRecip)
#undef TSR_UNARY

Status Gelu(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  const std::string approx = attr_str(attrs, "approximate", "none");
  if (approx == "tanh") return unary<Un::kGeluTanh>(ctx, in, out);
  if (approx != "none")
    return InvalidArgument("attribute 'approximate' must be none or tanh, got '" + approx + "'");
  return unary<Un::kGelu>(ctx, in, out);
}

Status LeakyRelu(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  return unary<Un::kLeakyRelu>(ctx, in, out, static_cast<float>(attr_float(attrs, "alpha", 0.01)));
}

// Float-to-float casts (f32 <-> f16 <-> bf16), rounding to nearest even.
Status Cast(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  const int64_t n = in[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tin) {
    using T = decltype(tin);
    return dispatch_float(out[0].dtype, [&](auto tout) {
      using U = decltype(tout);
      unary_kernel<Un::kCopy, T, U>
          <<<grid_for(n), kThreads, 0, ctx.stream>>>(in[0].as<const T>(), out[0].as<U>(), n, 0.f);
      TSR_CUDA_LAUNCHED();
      return Status::Ok();
    });
  });
}

}  // namespace tessera::kernels::cuda
