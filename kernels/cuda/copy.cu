// Data-movement kernels: one strided-copy kernel (any rank up to 8, element sizes 1-8 bytes)
// behind Transpose, Expand, Slice, Split, Concat and the collectives' block rearrangement.
// One thread per element with a div/mod index walk, the element widened to 16 bytes where rows
// are contiguous on both sides (head splits, Concat/Split/Slice of whole rows); a shared-memory
// tiled transpose for innermost-dim swaps is the next step if it shows up.
#include <algorithm>

#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {
namespace {

template <class T>
__global__ void strided_copy_kernel(const T* __restrict__ src, T* __restrict__ dst, Dims d,
                                    int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    // n is uniform across the launch, so the branch costs nothing; 32-bit index math is several
    // times cheaper than 64-bit div/mod (Transposes were 11% of bert-large's step).
    if (n < (int64_t{1} << 31))
      dst[offset_of32(d, 1, static_cast<uint32_t>(i))] =
          src[offset_of32(d, 0, static_cast<uint32_t>(i))];
    else
      dst[offset_of(d, 1, i)] = src[offset_of(d, 0, i)];
}

Status same_dtype_unary(const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  return check_same_dtype(in[0], out[0], "output");
}

}  // namespace

Status make_dims(const Shape& shape, const std::vector<std::vector<int64_t>>& strides, Dims* d) {
  const cpu::RowIter it = cpu::make_row_iter(shape, strides);
  if (it.dims.size() > kMaxDims || strides.size() > 3)
    return Unimplemented("strided access of rank " + std::to_string(it.dims.size()) +
                         " after merging dims (CUDA kernels take up to 8)");
  d->rank = static_cast<int>(it.dims.size());
  for (int r = 0; r < d->rank; ++r) {
    d->size[r] = it.dims[r];
    for (size_t k = 0; k < strides.size(); ++k) d->stride[k][r] = it.strides[k][r];
  }
  return Status::Ok();
}

bool is_cuda_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16;
}

namespace {

// Copies whose innermost dim is contiguous on both sides move whole rows: widen the element to
// 16 (else 8, else 4) bytes when the row length, every other stride, both starts and both base
// pointers allow it. A [B,S,H,64] -> [B,H,S,64] bf16 transpose then moves 16-byte vectors, 8x
// fewer threads and index walks than 2-byte elements (bert-large's head transposes ran at ~0.3
// of the copy ceiling one element per thread). Returns the new element size (es if none fits).
int64_t widen(Dims* d, int64_t es, const void* src, const void* dst) {
  const int last = d->rank - 1;
  if (last < 0 || d->stride[0][last] != 1 || d->stride[1][last] != 1) return es;
  const auto addr = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst);
  for (int64_t w : {16, 8, 4}) {
    const int64_t k = w / es;
    if (k <= 1 || w % es != 0 || addr % w != 0 || d->size[last] % k != 0) continue;
    bool ok = d->start[0] % k == 0 && d->start[1] % k == 0;
    for (int r = 0; r < last && ok; ++r) ok = d->stride[0][r] % k == 0 && d->stride[1][r] % k == 0;
    if (!ok) continue;
    d->size[last] /= k;
    for (int r = 0; r < last; ++r) {
      d->stride[0][r] /= k;
      d->stride[1][r] /= k;
    }
    d->start[0] /= k;
    d->start[1] /= k;
    return w;
  }
  return es;
}

template <class T>
void launch_copy(CudaContext& ctx, const void* src, void* dst, const Dims& d, int64_t n) {
  strided_copy_kernel<<<grid_for(n), kThreads, 0, ctx.stream>>>(static_cast<const T*>(src),
                                                                static_cast<T*>(dst), d, n);
}

}  // namespace

Status strided_copy(CudaContext& ctx, const void* src, int64_t src_start,
                    const std::vector<int64_t>& src_strides, void* dst, int64_t dst_start,
                    const std::vector<int64_t>& dst_strides, const Shape& shape, int64_t es) {
  int64_t n = num_elements(shape);
  if (n == 0) return Status::Ok();
  Dims d;
  TSR_RETURN_IF_ERROR(make_dims(shape, {src_strides, dst_strides}, &d));
  d.start[0] = src_start;
  d.start[1] = dst_start;
  const int64_t w = widen(&d, es, src, dst);
  n /= w / es;
  switch (w) {
    case 1:
      launch_copy<uint8_t>(ctx, src, dst, d, n);
      break;
    case 2:
      launch_copy<uint16_t>(ctx, src, dst, d, n);
      break;
    case 4:
      launch_copy<uint32_t>(ctx, src, dst, d, n);
      break;
    case 8:
      launch_copy<uint64_t>(ctx, src, dst, d, n);
      break;
    case 16:
      launch_copy<uint4>(ctx, src, dst, d, n);
      break;
    default:
      return Unimplemented("element size " + std::to_string(es));
  }
  TSR_CUDA_LAUNCHED();
  return Status::Ok();
}

// Reshape, Flatten, Squeeze, Unsqueeze, Identity: the compiler decided the shapes; the bytes
// are the same, so one device-to-device copy (none when the planner aliased the buffers).
Status Identity(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(same_dtype_unary(in, out));
  if (in[0].numel() != out[0].numel())
    return InvalidArgument("element count changes from " + shape_str(in[0].shape) + " to " +
                           shape_str(out[0].shape));
  if (in[0].data == out[0].data || in[0].bytes() == 0) return Status::Ok();
  TSR_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out[0].data, in[0].data, in[0].bytes(),
                                           cudaMemcpyDeviceToDevice, ctx.stream));
  return Status::Ok();
}

Status Reshape(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  return Identity(ctx, attrs, in, out);
}

Status Transpose(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(same_dtype_unary(in, out));
  const Shape& s = in[0].shape;
  const size_t r = s.size();
  std::vector<int64_t> perm = attr_ints(attrs, "perm");
  if (perm.empty())
    for (size_t d = r; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  if (perm.size() != r) return InvalidArgument("attribute 'perm' does not match the rank");
  const std::vector<int64_t> cs = cpu::contiguous_strides(s);
  Shape want(r);
  std::vector<int64_t> st(r);
  std::vector<bool> seen(r, false);
  for (size_t d = 0; d < r; ++d) {
    if (perm[d] < 0 || perm[d] >= static_cast<int64_t>(r) || seen[perm[d]])
      return InvalidArgument("attribute 'perm' is not a permutation");
    seen[perm[d]] = true;
    want[d] = s[perm[d]];
    st[d] = cs[perm[d]];
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  return strided_copy(ctx, in[0].data, 0, st, out[0].data, 0, cpu::contiguous_strides(want), want,
                      dtype_size(in[0].dtype));
}

Status Expand(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(same_dtype_unary(in, out));
  const Shape& want = out[0].shape;
  std::vector<int64_t> st;
  TSR_RETURN_IF_ERROR(cpu::broadcast_strides(in[0].shape, want, &st));
  return strided_copy(ctx, in[0].data, 0, st, out[0].data, 0, cpu::contiguous_strides(want), want,
                      dtype_size(in[0].dtype));
}

Status Slice(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(same_dtype_unary(in, out));
  const Shape& s = in[0].shape;
  const int64_t r = static_cast<int64_t>(s.size());
  const std::vector<int64_t> starts = attr_ints(attrs, "starts"), ends = attr_ints(attrs, "ends");
  std::vector<int64_t> axes = attr_ints(attrs, "axes"), steps = attr_ints(attrs, "steps");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return InvalidArgument("starts, ends, axes and steps must have equal lengths");
  const std::vector<int64_t> cs = cpu::contiguous_strides(s);
  Shape want = s;
  std::vector<int64_t> st = cs;
  int64_t base = 0;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + r : axes[i], step = steps[i];
    if (a < 0 || a >= r || step == 0) return InvalidArgument("attribute 'axes' or 'steps' invalid");
    const int64_t dim = s[a];
    int64_t b = starts[i], e = ends[i];  // same clamping as the CPU kernel
    if (dim == 0) {
      b = e = 0;
    } else if (step > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      b = std::clamp<int64_t>(b, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    const int64_t n = step > 0 ? (e - b + step - 1) / step : (b - e + (-step) - 1) / (-step);
    want[a] = std::max<int64_t>(n, 0);
    if (want[a] > 0) base += b * cs[a];
    st[a] = cs[a] * step;
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  return strided_copy(ctx, in[0].data, base, st, out[0].data, 0, cpu::contiguous_strides(want),
                      want, dtype_size(in[0].dtype));
}

// Split and Concat: each piece is a strided copy between the piece and its window of the whole.
Status Split(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, out.size()));
  if (out.empty()) return InvalidArgument("needs at least one output");
  const Shape& s = in[0].shape;
  const int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(s.size()))
    return InvalidArgument("attribute 'axis' out of range");
  const std::vector<int64_t> cs = cpu::contiguous_strides(s);
  int64_t at = 0;
  for (const TensorRef& o : out) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], o, "output"));
    Shape want = s;
    want[axis] = o.shape.size() == s.size() ? o.shape[axis] : -1;
    TSR_RETURN_IF_ERROR(check_out_shape(o, want));
    TSR_RETURN_IF_ERROR(strided_copy(ctx, in[0].data, at * cs[axis], cs, o.data, 0,
                                     cpu::contiguous_strides(o.shape), o.shape,
                                     dtype_size(in[0].dtype)));
    at += o.shape[axis];
  }
  if (at != s[axis]) return InvalidArgument("outputs do not cover the split axis");
  return Status::Ok();
}

Status Concat(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1 << 20, 1));
  const Shape& os = out[0].shape;
  const int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(os.size()))
    return InvalidArgument("attribute 'axis' out of range");
  const std::vector<int64_t> cs = cpu::contiguous_strides(os);
  int64_t at = 0;
  for (const TensorRef& t : in) {
    TSR_RETURN_IF_ERROR(check_same_dtype(out[0], t, "input"));
    Shape want = os;
    want[axis] = t.shape.size() == os.size() ? t.shape[axis] : -1;
    if (t.shape != want)
      return InvalidArgument("input shape " + shape_str(t.shape) + " does not fit " +
                             shape_str(os));
    TSR_RETURN_IF_ERROR(strided_copy(ctx, t.data, 0, cpu::contiguous_strides(t.shape), out[0].data,
                                     at * cs[axis], cs, t.shape, dtype_size(t.dtype)));
    at += t.shape[axis];
  }
  if (at != os[axis]) return InvalidArgument("inputs do not fill the concat axis");
  return Status::Ok();
}

}  // namespace tessera::kernels::cuda
