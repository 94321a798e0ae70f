// Training-mode Dropout (docs/ops.md, "Training ops"): y = x * keep * 1/(1-ratio), mask = keep.
// Inputs (x, step, pos_0..pos_{r-1}): `step` is the i64 scalar step counter, pos_d holds each
// local index along dim d times dim d's GLOBAL stride (the compiler makes these position
// vectors and shards them with x), so sum_d pos_d[i_d] is the element's index in the unsharded
// tensor and the mask does not depend on the mesh. Without position inputs the local index
// is the global one (one device). The gradient is this op applied to dy (same mask).
#include "cpu/philox.h"
#include "cpu/train_util.h"

namespace tessera::kernels::cpu {
namespace {

struct DropoutArgs {
  philox::Key key;
  uint64_t step = 0;
  uint32_t threshold = 0;
  double scale = 1;
};

// Global index of every local element, row-major; pos may be empty (identity map).
template <class F>
void for_each_global(const Shape& s, const Ins& pos, F&& f) {
  const int rank = static_cast<int>(s.size());
  const int64_t n = num_elements(s);
  if (pos.empty() || rank == 0) {
    for (int64_t i = 0; i < n; ++i) f(i, i);
    return;
  }
  std::vector<int64_t> idx(rank, 0);
  const int64_t last = s[rank - 1];
  if (last == 0) return;
  for (int64_t i = 0; i < n; i += last) {
    int64_t base = 0;
    for (int d = 0; d + 1 < rank; ++d) base += pos[d].as<const int64_t>()[idx[d]];
    const int64_t* pl = pos[rank - 1].as<const int64_t>();
    for (int64_t j = 0; j < last; ++j) f(i + j, base + pl[j]);
    for (int d = rank - 2; d >= 0; --d) {
      if (++idx[d] < s[d]) break;
      idx[d] = 0;
    }
  }
}

template <class T>
Status run(const DropoutArgs& a, const TensorRef& x, const Ins& pos, const TensorRef& y,
           const TensorRef* mask) {
  const T* xs = x.as<const T>();
  T* ys = y.as<T>();
  uint8_t* ms = mask ? mask->as<uint8_t>() : nullptr;
  int64_t cached_block = -1;
  philox::Block words{};
  for_each_global(x.shape, pos, [&](int64_t i, int64_t g) {
    const int64_t blk = g >> 2;
    if (blk != cached_block) {  // one Philox block serves four consecutive global indices
      const philox::Block c = {static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                               static_cast<uint32_t>(a.step), static_cast<uint32_t>(a.step >> 32)};
      words = philox::philox4x32_10(c, a.key);
      cached_block = blk;
    }
    const bool keep = words[g & 3] >= a.threshold;
    ys[i] = keep ? T(double(xs[i]) * a.scale) : T(0);
    if (ms) ms[i] = keep;
  });
  return Status::Ok();
}

Status check_positions(const TensorRef& x, const Ins& pos) {
  if (pos.empty()) return Status::Ok();
  if (pos.size() != x.shape.size())
    return InvalidArgument("Dropout: " + std::to_string(pos.size()) +
                           " position inputs for a rank-" + std::to_string(x.shape.size()) +
                           " input");
  for (size_t d = 0; d < pos.size(); ++d) {
    TSR_RETURN_IF_ERROR(check_dtype(pos[d], DType::kInt64, "Dropout position"));
    if (pos[d].shape != Shape{x.shape[d]})
      return InvalidArgument("Dropout: position input " + std::to_string(d) + " is " +
                             shape_str(pos[d].shape) + ", want [" + std::to_string(x.shape[d]) +
                             "]");
  }
  return Status::Ok();
}

}  // namespace

Status Dropout(const AttrMap& attrs, const Ins& in, const Ins& out) {
  if (in.size() < 2 || out.empty() || out.size() > 2)
    return InvalidArgument("Dropout: expects (x, step, positions...) and 1 or 2 outputs");
  const TensorRef& x = in[0];
  TSR_RETURN_IF_ERROR(check_dtype(in[1], DType::kInt64, "Dropout step"));
  if (!in[1].shape.empty()) return InvalidArgument("Dropout: step must be a scalar");
  const Ins pos(in.begin() + 2, in.end());
  TSR_RETURN_IF_ERROR(check_positions(x, pos));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], x.shape));
  TSR_RETURN_IF_ERROR(check_same_dtype(out[0], x, "Dropout output"));
  const TensorRef* mask = out.size() > 1 && out[1].present() ? &out[1] : nullptr;
  if (mask) {
    TSR_RETURN_IF_ERROR(check_out_shape(*mask, x.shape, "mask"));
    TSR_RETURN_IF_ERROR(check_dtype(*mask, DType::kBool, "Dropout mask"));
  }
  const double ratio = attr_float(attrs, "ratio", 0.5);
  if (!(ratio >= 0 && ratio < 1))
    return InvalidArgument("Dropout: ratio " + std::to_string(ratio) + " outside [0, 1)");
  DropoutArgs a;
  a.key = philox::dropout_key(static_cast<uint64_t>(attr_int(attrs, "seed", 0)),
                              static_cast<uint64_t>(attr_int(attrs, "stream", 0)));
  a.step = static_cast<uint64_t>(in[1].as<const int64_t>()[0]);
  a.threshold = philox::dropout_threshold(ratio);
  a.scale = 1.0 / (1.0 - ratio);
  return dispatch_float(x, "Dropout input",
                        [&](auto t) { return run<decltype(t)>(a, x, pos, out[0], mask); });
}

}  // namespace tessera::kernels::cpu
