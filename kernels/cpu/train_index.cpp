// Gradients of the gathers: scatter-add of dy into a zero tensor of the data's shape. Repeated
// indices (an embedding row used twice) accumulate, in double.
#include "cpu/train_util.h"

namespace tessera::kernels::cpu {
namespace {

Status norm_index(int64_t raw, int64_t dim, int64_t* out) {
  const int64_t i = raw < 0 ? raw + dim : raw;
  if (i < 0 || i >= dim)
    return InvalidArgument("index " + std::to_string(raw) + " out of range for dim " +
                           std::to_string(dim));
  *out = i;
  return Status::Ok();
}

// dy = data[:axis] + indices.shape + data[axis+1:]
template <class T>
Status gather_grad(int64_t axis, const TensorRef& dy, const TensorRef& idx, const TensorRef& dx) {
  const Shape& d = dx.shape;
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= d[a];
  for (size_t a = axis + 1; a < d.size(); ++a) inner *= d[a];
  const int64_t ni = idx.numel(), dim = d[axis];
  std::vector<double> acc(static_cast<size_t>(dx.numel()), 0.0);
  for (int64_t j = 0; j < ni; ++j) {
    int64_t row;
    TSR_RETURN_IF_ERROR(norm_index(load_index(idx, j), dim, &row));
    for (int64_t o = 0; o < outer; ++o) {
      const T* src = dy.as<const T>() + (o * ni + j) * inner;
      double* dst = acc.data() + (o * dim + row) * inner;
      for (int64_t k = 0; k < inner; ++k) dst[k] += src[k];
    }
  }
  for (size_t i = 0; i < acc.size(); ++i) dx.as<T>()[i] = T(acc[i]);
  return Status::Ok();
}

// dy and indices share a shape; dx[..., idx[p], ...] += dy[p] along `axis`.
template <class T>
Status gather_elements_grad(int64_t axis, const TensorRef& dy, const TensorRef& idx,
                            const TensorRef& dx) {
  const Shape& s = idx.shape;
  const int rank = static_cast<int>(s.size());
  const std::vector<int64_t> xs = contiguous_strides(dx.shape);
  std::vector<int64_t> p(rank, 0);
  std::vector<double> acc(static_cast<size_t>(dx.numel()), 0.0);
  for (int64_t e = 0, n = idx.numel(); e < n; ++e) {
    int64_t at = 0;
    for (int d = 0; d < rank; ++d) {
      int64_t c = p[d];
      if (d == axis) TSR_RETURN_IF_ERROR(norm_index(load_index(idx, e), dx.shape[d], &c));
      at += c * xs[d];
    }
    acc[at] += dy.as<const T>()[e];
    for (int d = rank - 1; d >= 0; --d) {
      if (++p[d] < s[d]) break;
      p[d] = 0;
    }
  }
  for (size_t i = 0; i < acc.size(); ++i) dx.as<T>()[i] = T(acc[i]);
  return Status::Ok();
}

Status setup(const AttrMap& attrs, const Ins& in, const Ins& out, int64_t* axis) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_index_dtype(in[1], "indices"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "ddata"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], attr_ints(attrs, "data_shape"), "ddata"));
  *axis = attr_int(attrs, "axis", 0);
  if (*axis < 0 || *axis >= int64_t(out[0].shape.size()))
    return InvalidArgument("axis " + std::to_string(*axis) + " out of range");
  return Status::Ok();
}

}  // namespace

Status GatherGrad(const AttrMap& attrs, const Ins& in, const Ins& out) {
  int64_t axis;
  TSR_RETURN_IF_ERROR(setup(attrs, in, out, &axis));
  const Shape& d = out[0].shape;
  Shape want(d.begin(), d.begin() + axis);
  want.insert(want.end(), in[1].shape.begin(), in[1].shape.end());
  want.insert(want.end(), d.begin() + axis + 1, d.end());
  if (in[0].shape != want)
    return InvalidArgument("dy " + shape_str(in[0].shape) + " should be " + shape_str(want));
  return dispatch_float(
      in[0], "dy", [&](auto t) { return gather_grad<decltype(t)>(axis, in[0], in[1], out[0]); });
}

Status GatherElementsGrad(const AttrMap& attrs, const Ins& in, const Ins& out) {
  int64_t axis;
  TSR_RETURN_IF_ERROR(setup(attrs, in, out, &axis));
  if (in[0].shape != in[1].shape || in[1].shape.size() != out[0].shape.size())
    return InvalidArgument("dy " + shape_str(in[0].shape) + " and indices " +
                           shape_str(in[1].shape) + " must match, rank of data");
  return dispatch_float(in[0], "dy", [&](auto t) {
    return gather_elements_grad<decltype(t)>(axis, in[0], in[1], out[0]);
  });
}

}  // namespace tessera::kernels::cpu
