// Row-wise kernels: Softmax/LogSoftmax, LayerNormalization (one block per row, f32
// accumulation), Gather (embedding lookup) and Reduce* (one thread per output element).
#include <cfloat>

#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {
namespace {

constexpr int kRowThreads = 256;

// Row r of [outer, n, inner] = (o, i): elements at (o·n + j)·inner + i, j < n.
template <class T, bool kLog>
__global__ void softmax_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n,
                               int64_t inner) {
  const int64_t o = blockIdx.x / inner, i = blockIdx.x % inner;
  const int64_t base = o * n * inner + i;
  float m = -FLT_MAX;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, to_f(x[base + j * inner]));
  m = block_reduce<true>(m);
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += __expf(to_f(x[base + j * inner]) - m);
  s = block_reduce<false>(s);
  const float ls = logf(s), inv = 1.f / s;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = to_f(x[base + j * inner]) - m;
    y[base + j * inner] = from_f<T>(kLog ? v - ls : __expf(v) * inv);
  }
}

// Rows of the last axis up to kWarpRow elements (attention scores: seq <= 1024): one warp per
// row, the row held in registers, so x is read once and y written once with no block barrier.
// The block-per-row kernel above reads x three times and pays two __syncthreads reductions per
// row, which dominates for 512-wide rows (bert-large: 262144 rows of 512 per layer).
constexpr int kWarpRow = 1024;
template <class T, bool kLog>
__global__ void softmax_warp_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                    int n) {
  constexpr int kPer = kWarpRow / 32;
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  const T* xr = x + row * n;
  T* yr = y + row * n;
  float v[kPer];
  float m = -FLT_MAX;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int j = lane + 32 * k;
    v[k] = j < n ? to_f(xr[j]) : -FLT_MAX;
    m = fmaxf(m, v[k]);
  }
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    v[k] -= m;
    if (lane + 32 * k < n) s += __expf(v[k]);
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  const float ls = logf(s), inv = 1.f / s;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int j = lane + 32 * k;
    if (j < n) yr[j] = from_f<T>(kLog ? v[k] - ls : __expf(v[k]) * inv);
  }
}

// Two passes over the row (mean, then centred variance): matches the CPU reference's
// numerics; the row is re-read from L1/L2, not from HBM, for the widths transformers use.
// X, Y in any of f32/f16/bf16 (the mixed-dtype form: 16-bit X or Y around f32 compute and f32
// scale/bias, Y rounded to nearest even like a Cast); scale and bias share TW.
template <class TX, class TW, class TY>
__global__ void layernorm_kernel(const TX* __restrict__ x, const TW* __restrict__ scale,
                                 const TW* __restrict__ bias, TY* __restrict__ y, int64_t n,
                                 float eps) {
  const TX* xr = x + blockIdx.x * n;
  TY* yr = y + blockIdx.x * n;
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += to_f(xr[j]);
  const float mean = block_reduce<false>(s) / static_cast<float>(n);
  float v = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float d = to_f(xr[j]) - mean;
    v += d * d;
  }
  const float inv = rsqrtf(block_reduce<false>(v) / static_cast<float>(n) + eps);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float b = bias ? to_f(bias[j]) : 0.f;
    yr[j] = from_f<TY>((to_f(xr[j]) - mean) * inv * to_f(scale[j]) + b);
  }
}

// Out-of-range indices write zeros (the CPU kernel reports them; a device kernel cannot
// return a message, and the compiler's shape checks keep indices in range for embeddings).
template <class T, class I>
__global__ void gather_kernel(const T* __restrict__ src, const I* __restrict__ idx,
                              T* __restrict__ dst, int64_t ni, int64_t dim, int64_t block,
                              int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = e % block, oi = e / block, i = oi % ni, o = oi / ni;
    int64_t v = static_cast<int64_t>(idx[i]);
    if (v < 0) v += dim;
    dst[e] = (v >= 0 && v < dim) ? src[(o * dim + v) * block + k] : T{};
  }
}

enum class Red { kSum, kMean, kMax, kMin };

// Output element e: d operand 0 walks the kept dims (input strides), operand 1 the output;
// r walks the reduced dims of the input.
template <Red op, class T>
__global__ void reduce_kernel(const T* __restrict__ x, T* __restrict__ y, Dims d, Dims r,
                              int64_t n_out, int64_t n_red) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n_out;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = offset_of(d, 0, e);
    float acc = op == Red::kMax ? -FLT_MAX : (op == Red::kMin ? FLT_MAX : 0.f);
    for (int64_t j = 0; j < n_red; ++j) {
      const float v = to_f(x[base + offset_of(r, 0, j)]);
      acc = op == Red::kMax ? fmaxf(acc, v) : (op == Red::kMin ? fminf(acc, v) : acc + v);
    }
    if (op == Red::kMean) acc /= static_cast<float>(n_red);
    y[offset_of(d, 1, e)] = from_f<T>(acc);
  }
}

Status norm_axis(const AttrMap& attrs, const Shape& s, int64_t dflt, int64_t* axis) {
  const int64_t r = static_cast<int64_t>(s.size());
  int64_t a = attr_int(attrs, "axis", dflt);
  if (a < 0) a += r;
  if (a < 0 || a >= r) return InvalidArgument("attribute 'axis' out of range");
  *axis = a;
  return Status::Ok();
}

template <bool kLog>
Status softmax(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  const Shape& s = in[0].shape;
  int64_t axis;
  TSR_RETURN_IF_ERROR(norm_axis(attrs, s, -1, &axis));
  const int64_t n = s[axis], outer = num_elements(Shape(s.begin(), s.begin() + axis));
  const int64_t inner = num_elements(Shape(s.begin() + axis + 1, s.end()));
  if (outer * inner == 0 || n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1 && n <= kWarpRow) {
      constexpr int kRowsPerBlock = kRowThreads / 32;
      const int64_t blocks = (outer + kRowsPerBlock - 1) / kRowsPerBlock;
      softmax_warp_kernel<T, kLog><<<static_cast<unsigned>(blocks), kRowThreads, 0, ctx.stream>>>(
          in[0].as<const T>(), out[0].as<T>(), outer, static_cast<int>(n));
    } else {
      softmax_kernel<T, kLog><<<static_cast<unsigned>(outer * inner), kRowThreads, 0, ctx.stream>>>(
          in[0].as<const T>(), out[0].as<T>(), n, inner);
    }
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

template <Red op>
Status reduce(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape& xs = in[0].shape;
  std::vector<int64_t> axes = attr_ints(attrs, "axes");
  if (axes.empty() && attr_int(attrs, "noop_with_empty_axes", 0) != 0) {
    TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs));
    return Identity(ctx, attrs, in, out);
  }
  if (axes.empty())
    for (size_t d = 0; d < xs.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  std::vector<bool> red(xs.size(), false);
  for (int64_t a : axes) {
    if (a < 0 || a >= static_cast<int64_t>(xs.size()) || red[a])
      return InvalidArgument("attribute 'axes' must be unique and in [0, rank)");
    red[a] = true;
  }
  const std::vector<int64_t> cs = cpu::contiguous_strides(xs);
  Shape kept, keep_shape, red_shape, dropped;
  std::vector<int64_t> kst, rst;
  for (size_t d = 0; d < xs.size(); ++d) {
    if (red[d]) {
      red_shape.push_back(xs[d]);
      rst.push_back(cs[d]);
      keep_shape.push_back(1);
    } else {
      kept.push_back(xs[d]);
      kst.push_back(cs[d]);
      keep_shape.push_back(xs[d]);
      dropped.push_back(xs[d]);
    }
  }
  TSR_RETURN_IF_ERROR(
      check_out_shape(out[0], attr_int(attrs, "keepdims", 1) ? keep_shape : dropped));
  const int64_t n_out = num_elements(kept), n_red = num_elements(red_shape);
  if (n_out == 0) return Status::Ok();
  Dims d, r;
  TSR_RETURN_IF_ERROR(make_dims(kept, {kst, cpu::contiguous_strides(kept)}, &d));
  TSR_RETURN_IF_ERROR(make_dims(red_shape, {rst}, &r));
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    reduce_kernel<op, T><<<grid_for(n_out), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), out[0].as<T>(), d, r, n_out, n_red);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

}  // namespace

Status Softmax(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  return softmax<false>(ctx, attrs, in, out);
}
Status LogSoftmax(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  return softmax<true>(ctx, attrs, in, out);
}

Status LayerNormalization(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  if (out.size() != 1) return Unimplemented("only the Y output is supported");
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  const Shape& xs = in[0].shape;
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs));
  TSR_RETURN_IF_ERROR(cpu::check_mixed_float({&in[0], &in[1], &out[0]}, "X, scale and Y"));
  const bool has_b = in.size() > 2 && in[2].present();
  if (has_b) TSR_RETURN_IF_ERROR(check_same_dtype(in[1], in[2], "B"));
  int64_t axis;
  TSR_RETURN_IF_ERROR(norm_axis(attrs, xs, -1, &axis));
  const int64_t n = num_elements(Shape(xs.begin() + axis, xs.end()));
  if (in[1].numel() != n || (has_b && in[2].numel() != n))
    return Unimplemented("scale and bias must have the normalized shape (no broadcasting on CUDA)");
  const int64_t rows = n ? in[0].numel() / n : 0;
  if (rows == 0) return Status::Ok();
  const float eps = static_cast<float>(attr_float(attrs, "epsilon", 1e-5));
  const DType dts[] = {in[0].dtype, in[1].dtype, out[0].dtype};
  return dispatch_mixed(dts, [&](auto tx, auto tw, auto ty) {
    using TX = decltype(tx);
    using TW = decltype(tw);
    using TY = decltype(ty);
    layernorm_kernel<TX, TW, TY><<<static_cast<unsigned>(rows), kRowThreads, 0, ctx.stream>>>(
        in[0].as<const TX>(), in[1].as<const TW>(), has_b ? in[2].as<const TW>() : nullptr,
        out[0].as<TY>(), n, eps);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status Gather(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  if (in[1].dtype != DType::kInt32 && in[1].dtype != DType::kInt64)
    return InvalidArgument("indices must be i32 or i64");
  const Shape& ds = in[0].shape;
  const int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(ds.size()))
    return InvalidArgument("attribute 'axis' out of range");
  Shape want(ds.begin(), ds.begin() + axis);
  want.insert(want.end(), in[1].shape.begin(), in[1].shape.end());
  want.insert(want.end(), ds.begin() + axis + 1, ds.end());
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  const int64_t dim = ds[axis], ni = in[1].numel();
  const int64_t block = num_elements(Shape(ds.begin() + axis + 1, ds.end()));
  const int64_t n = out[0].numel();
  if (n == 0) return Status::Ok();
  const unsigned g = grid_for(n);
  // Move elements of 1, 2, 4 or 8 bytes as unsigned words: gathering needs no arithmetic.
  auto launch = [&](auto word) -> Status {
    using W = decltype(word);
    if (in[1].dtype == DType::kInt32)
      gather_kernel<W, int32_t><<<g, kThreads, 0, ctx.stream>>>(
          in[0].as<const W>(), in[1].as<const int32_t>(), out[0].as<W>(), ni, dim, block, n);
    else
      gather_kernel<W, int64_t><<<g, kThreads, 0, ctx.stream>>>(
          in[0].as<const W>(), in[1].as<const int64_t>(), out[0].as<W>(), ni, dim, block, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  };
  switch (dtype_size(in[0].dtype)) {
    case 1:
      return launch(uint8_t{});
    case 2:
      return launch(uint16_t{});
    case 4:
      return launch(uint32_t{});
    case 8:
      return launch(uint64_t{});
    default:
      return Unimplemented(std::string("Gather of ") + dtype_name(in[0].dtype));
  }
}

Status ReduceSum(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kSum>(ctx, a, in, out);
}
Status ReduceMean(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kMean>(ctx, a, in, out);
}
Status ReduceMax(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kMax>(ctx, a, in, out);
}
Status ReduceMin(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kMin>(ctx, a, in, out);
}

}  // namespace tessera::kernels::cuda
