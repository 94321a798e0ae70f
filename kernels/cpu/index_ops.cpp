// Gather, GatherElements, GatherND. Indices are i32 or i64, negative ones count from the end;
// every index is bounds-checked before any byte moves for it, and the first bad one is reported.
#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

Status resolve(int64_t v, int64_t dim, const char* what, int64_t* out) {
  if (v < -dim || v >= dim) {
    return InvalidArgument(std::string(what) + " " + std::to_string(v) + " out of range [" +
                           std::to_string(-dim) + ", " + std::to_string(dim) + ")");
  }
  *out = v < 0 ? v + dim : v;
  return Status::Ok();
}

}  // namespace

Status Gather(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_index_dtype(in[1], "indices"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape& ds = in[0].shape;
  const int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(ds.size()))
    return InvalidArgument("attribute 'axis' out of range");
  Shape want(ds.begin(), ds.begin() + axis);
  want.insert(want.end(), in[1].shape.begin(), in[1].shape.end());
  want.insert(want.end(), ds.begin() + axis + 1, ds.end());
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  const int64_t es = dtype_size(in[0].dtype), dim = ds[axis], ni = in[1].numel();
  const int64_t outer = num_elements(Shape(ds.begin(), ds.begin() + axis));
  const int64_t block = num_elements(Shape(ds.begin() + axis + 1, ds.end())) * es;
  const auto* src = in[0].as<const uint8_t>();
  auto* dst = out[0].as<uint8_t>();
  std::vector<int64_t> idx(static_cast<size_t>(ni));  // resolved once, reused for every outer
  for (int64_t i = 0; i < ni; ++i)
    TSR_RETURN_IF_ERROR(resolve(load_index(in[1], i), dim, "index", &idx[i]));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < ni; ++i) {
      std::memcpy(dst + (o * ni + i) * block, src + (o * dim + idx[i]) * block, block);
    }
  }
  return Status::Ok();
}

Status GatherElements(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_index_dtype(in[1], "indices"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape &ds = in[0].shape, &is = in[1].shape;
  const int64_t r = static_cast<int64_t>(ds.size());
  int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return InvalidArgument("attribute 'axis' out of range");
  if (is.size() != ds.size()) return InvalidArgument("indices rank differs from data rank");
  for (int64_t d = 0; d < r; ++d) {
    if (d != axis && is[d] > ds[d]) {
      return InvalidArgument("indices shape " + shape_str(is) + " exceeds data shape " +
                             shape_str(ds));
    }
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], is));
  const std::vector<int64_t> cs = contiguous_strides(ds);
  const int64_t es = dtype_size(in[0].dtype), n = in[1].numel();
  const auto* src = in[0].as<const uint8_t>();
  auto* dst = out[0].as<uint8_t>();
  std::vector<int64_t> c(static_cast<size_t>(r), 0);  // coordinates of element i in `indices`
  for (int64_t i = 0; i < n; ++i) {
    int64_t k;
    TSR_RETURN_IF_ERROR(resolve(load_index(in[1], i), ds[axis], "index", &k));
    int64_t off = 0;
    for (int64_t d = 0; d < r; ++d) off += (d == axis ? k : c[d]) * cs[d];
    std::memcpy(dst + i * es, src + off * es, es);
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++c[d] < is[d]) break;
      c[d] = 0;
    }
  }
  return Status::Ok();
}

Status GatherND(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_index_dtype(in[1], "indices"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape &ds = in[0].shape, &is = in[1].shape;
  const int64_t b = attr_int(attrs, "batch_dims", 0);
  const int64_t rd = static_cast<int64_t>(ds.size()), ri = static_cast<int64_t>(is.size());
  if (ri < 1 || b < 0 || b >= std::min(rd, ri))
    return InvalidArgument("attribute 'batch_dims' out of range");
  const int64_t k = is.back();
  if (k < 1 || b + k > rd)
    return InvalidArgument("indices last dim " + std::to_string(k) + " does not fit data rank");
  for (int64_t d = 0; d < b; ++d) {
    if (ds[d] != is[d]) return InvalidArgument("batch dims of data and indices differ");
  }
  Shape want(is.begin(), is.end() - 1);
  want.insert(want.end(), ds.begin() + b + k, ds.end());
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  const std::vector<int64_t> cs = contiguous_strides(ds);
  const int64_t es = dtype_size(in[0].dtype);
  const int64_t batches = num_elements(Shape(ds.begin(), ds.begin() + b));
  const int64_t batch_stride = b ? cs[b - 1] : 0;  // elements per batch entry of data
  const int64_t tuples = num_elements(Shape(is.begin(), is.end() - 1));
  const int64_t per_batch = batches ? tuples / batches : 0;
  const int64_t block = num_elements(Shape(ds.begin() + b + k, ds.end())) * es;
  const auto* src = in[0].as<const uint8_t>();
  auto* dst = out[0].as<uint8_t>();
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = per_batch ? (t / per_batch) * batch_stride : 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t v;
      TSR_RETURN_IF_ERROR(resolve(load_index(in[1], t * k + j), ds[b + j], "index", &v));
      off += v * cs[b + j];
    }
    std::memcpy(dst + t * block, src + off * es, block);
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cpu
