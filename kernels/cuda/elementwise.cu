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

// Under 2^31 elements: 32-bit index arithmetic, and the output (contiguous, as every binary
// op's result is) written at the linear index with no offset computation.
template <Bin op, class T>
__global__ void binary_kernel32(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                                Dims d, uint32_t n) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    y[i] = from_f<T>(apply<op>(to_f(a[offset_of32(d, 0, i)]), to_f(b[offset_of32(d, 1, i)])));
}

// Vector path: kV elements per thread along the innermost dim (16-byte loads and stores), one
// offset computation per vector instead of per element. Taken when the innermost coalesced dim
// is a multiple of kV, each input's innermost stride is 1 (a vector load) or 0 (one element
// broadcast: bias rows, scalars), and every pointer is 16-byte aligned. Covers residual adds,
// bias adds, scalar scales and the [b,1,s,s] attention mask. Prediction: the ~1 TB/s of the
// scalar path (bert-large mask Add: 1.25 ms for ~1.6 GB) towards the ~3 TB/s copy ceiling.
template <class T>
struct alignas(16) Vec {
  static constexpr int kV = 16 / sizeof(T);
  T v[kV];
};

template <Bin op, class T>
__global__ void binary_vec_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                  T* __restrict__ y, Dims d, uint32_t nvec, bool a_vec,
                                  bool b_vec) {
  using V = Vec<T>;
  for (uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < nvec; v += gridDim.x * blockDim.x) {
    const uint32_t i = v * V::kV;
    const int64_t oa = offset_of32(d, 0, i), ob = offset_of32(d, 1, i);
    V xa, xb, r;
    if (a_vec)
      xa = *reinterpret_cast<const V*>(a + oa);
    else
#pragma unroll
      for (int j = 0; j < V::kV; ++j) xa.v[j] = a[oa];
    if (b_vec)
      xb = *reinterpret_cast<const V*>(b + ob);
    else
#pragma unroll
      for (int j = 0; j < V::kV; ++j) xb.v[j] = b[ob];
#pragma unroll
    for (int j = 0; j < V::kV; ++j) r.v[j] = from_f<T>(apply<op>(to_f(xa.v[j]), to_f(xb.v[j])));
    *reinterpret_cast<V*>(y + i) = r;
  }
}

template <Un op, class T>
__global__ void unary_vec_kernel(const T* __restrict__ x, T* __restrict__ y, uint32_t nvec,
                                 float alpha) {
  using V = Vec<T>;
  for (uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < nvec; v += gridDim.x * blockDim.x) {
    V a = reinterpret_cast<const V*>(x)[v], r;
#pragma unroll
    for (int j = 0; j < V::kV; ++j) r.v[j] = from_f<T>(apply<op>(to_f(a.v[j]), alpha));
    reinterpret_cast<V*>(y)[v] = r;
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <Un op, class T, class U>
__global__ void unary_kernel(const T* __restrict__ x, U* __restrict__ y, int64_t n, float alpha) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f<U>(apply<op>(to_f(x[i]), alpha));
}

// Integer Add/Sub/Mul/Max/Min with broadcasting (index and counter arithmetic: the optimizer's
// step counter is an i64 scalar incremented on the device every step).
template <Bin op, class T>
__global__ void int_binary_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                  T* __restrict__ y, Dims d, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T x = a[offset_of(d, 0, i)], z = b[offset_of(d, 1, i)];
    if constexpr (op == Bin::kAdd) y[i] = x + z;
    if constexpr (op == Bin::kSub) y[i] = x - z;
    if constexpr (op == Bin::kMul) y[i] = x * z;
    if constexpr (op == Bin::kMax) y[i] = x > z ? x : z;
    if constexpr (op == Bin::kMin) y[i] = x < z ? x : z;
  }
}

template <Bin op>
Status int_binary(CudaContext& ctx, const Ins& in, const Ins& out, const Dims& d, int64_t n) {
  if constexpr (op == Bin::kDiv || op == Bin::kPow) {
    return Unimplemented("integer Div/Pow on CUDA");
  } else {
    if (in[0].dtype == DType::kInt64)
      int_binary_kernel<op, int64_t><<<grid_for(n), kThreads, 0, ctx.stream>>>(
          in[0].as<const int64_t>(), in[1].as<const int64_t>(), out[0].as<int64_t>(), d, n);
    else
      int_binary_kernel<op, int32_t><<<grid_for(n), kThreads, 0, ctx.stream>>>(
          in[0].as<const int32_t>(), in[1].as<const int32_t>(), out[0].as<int32_t>(), d, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  }
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
  if (in[0].dtype == DType::kInt64 || in[0].dtype == DType::kInt32)
    return int_binary<op>(ctx, in, out, d, n);
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kV = Vec<T>::kV;
    const int r = d.rank - 1;
    const bool inner_ok = r >= 0 && d.size[r] % kV == 0 && d.stride[0][r] <= 1 &&
                          d.stride[1][r] <= 1 && aligned16(in[0].data) && aligned16(in[1].data) &&
                          aligned16(out[0].data);
    if (inner_ok && n < (int64_t{1} << 31)) {
      const int64_t nvec = n / kV;
      binary_vec_kernel<op, T><<<grid_for(nvec), kThreads, 0, ctx.stream>>>(
          in[0].as<const T>(), in[1].as<const T>(), out[0].as<T>(), d, static_cast<uint32_t>(nvec),
          d.stride[0][r] == 1, d.stride[1][r] == 1);
    } else if (n < (int64_t{1} << 31))
      binary_kernel32<op, T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
          in[0].as<const T>(), in[1].as<const T>(), out[0].as<T>(), d, static_cast<uint32_t>(n));
    else
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
    constexpr int kV = Vec<T>::kV;
    if (n % kV == 0 && n < (int64_t{1} << 31) && aligned16(in[0].data) && aligned16(out[0].data))
      unary_vec_kernel<op, T><<<grid_for(n / kV), kThreads, 0, ctx.stream>>>(
          in[0].as<const T>(), out[0].as<T>(), static_cast<uint32_t>(n / kV), alpha);
    else
      unary_kernel<op, T, T>
          <<<grid_for(n), kThreads, 0, ctx.stream>>>(in[0].as<const T>(), out[0].as<T>(), n, alpha);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

// Where: y = cond ? x : y, the three broadcast to the output; any dtype, moved as raw bits of
// its width (the output is contiguous, so its offset is the linear index).
template <class T>
__global__ void where_kernel(const uint8_t* __restrict__ c, const T* __restrict__ a,
                             const T* __restrict__ b, T* __restrict__ y, Dims d, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = c[offset_of(d, 0, i)] ? a[offset_of(d, 1, i)] : b[offset_of(d, 2, i)];  // once: rare
}

}  // namespace

Status Where(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 3, 1));
  if (in[0].dtype != DType::kBool) return InvalidArgument("condition must be bool");
  TSR_RETURN_IF_ERROR(check_same_dtype(in[1], in[2], "input 2"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[1], out[0], "output"));
  Shape xy, want;
  TSR_RETURN_IF_ERROR(cpu::broadcast_shapes(in[1].shape, in[2].shape, &xy));
  TSR_RETURN_IF_ERROR(cpu::broadcast_shapes(in[0].shape, xy, &want));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  std::vector<int64_t> sc, sa, sb;
  TSR_RETURN_IF_ERROR(cpu::broadcast_strides(in[0].shape, want, &sc));
  TSR_RETURN_IF_ERROR(cpu::broadcast_strides(in[1].shape, want, &sa));
  TSR_RETURN_IF_ERROR(cpu::broadcast_strides(in[2].shape, want, &sb));
  Dims d;
  TSR_RETURN_IF_ERROR(make_dims(want, {sc, sa, sb}, &d));
  const int64_t n = num_elements(want);
  if (n == 0) return Status::Ok();
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    where_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const uint8_t>(), in[1].as<const T>(), in[2].as<const T>(), out[0].as<T>(), d, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  };
  switch (dtype_size(in[1].dtype)) {
    case 1:
      return launch(uint8_t{});
    case 2:
      return launch(uint16_t{});
    case 4:
      return launch(uint32_t{});
    case 8:
      return launch(uint64_t{});
    default:
      return Unimplemented(std::string("Where of ") + dtype_name(in[1].dtype));
  }
}

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
