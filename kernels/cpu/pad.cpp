// Pad (constant / reflect / edge / wrap, negative pads crop) and Trilu. Both copy bytes, so
// any dtype works; Pad's constant is converted to the tensor's dtype once.
#include <algorithm>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

// Source index along one dim for each output position, or -1 for "use the constant".
Status pad_map(const std::string& mode, int64_t n, int64_t pb, int64_t out_n,
               std::vector<int64_t>* map) {
  map->resize(static_cast<size_t>(out_n));
  if (n == 0 && out_n > 0 && mode != "constant") {
    return InvalidArgument("mode '" + mode + "' cannot pad an empty dim");
  }
  for (int64_t o = 0; o < out_n; ++o) {
    int64_t i = o - pb;
    if (mode == "constant") {
      i = (i < 0 || i >= n) ? -1 : i;
    } else if (mode == "edge") {
      i = std::clamp<int64_t>(i, 0, n - 1);
    } else if (mode == "wrap") {
      i = ((i % n) + n) % n;
    } else if (n == 1) {  // reflect of a single element
      i = 0;
    } else {
      const int64_t period = 2 * (n - 1);
      i = ((i % period) + period) % period;
      if (i >= n) i = period - i;
    }
    (*map)[o] = i;
  }
  return Status::Ok();
}

template <class T>
void pad_rows(const TensorRef& x, const TensorRef& y, const std::vector<std::vector<int64_t>>& maps,
              T fill) {
  const Shape& os = y.shape;
  const int r = static_cast<int>(os.size());
  const std::vector<int64_t> cs = contiguous_strides(x.shape);
  const T* px = x.as<const T>();
  T* py = y.as<T>();
  const int64_t inner = os[r - 1], rows = inner ? y.numel() / inner : 0;
  const std::vector<int64_t>& last = maps[r - 1];
  std::vector<int64_t> idx(r, 0);
  for (int64_t row = 0; row < rows; ++row, py += inner) {
    int64_t base = 0;
    bool fill_row = false;
    for (int d = 0; d < r - 1; ++d) {
      const int64_t i = maps[d][idx[d]];
      fill_row = fill_row || i < 0;
      base += i * cs[d];
    }
    for (int64_t j = 0; j < inner; ++j) {
      py[j] = (fill_row || last[j] < 0) ? fill : px[base + last[j]];
    }
    for (int d = r - 2; d >= 0; --d) {
      if (++idx[d] < os[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

Status Pad(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape& s = in[0].shape;
  const size_t r = s.size();
  const std::vector<int64_t> pads = attr_ints(attrs, "pads");
  const std::string mode = attr_str(attrs, "mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
    return InvalidArgument("attribute 'mode' '" + mode +
                           "' is not constant, reflect, edge or wrap");
  }
  if (pads.size() != 2 * r)
    return InvalidArgument("attribute 'pads' needs " + std::to_string(2 * r) + " values");
  Shape want(r);
  std::vector<std::vector<int64_t>> maps(r);
  for (size_t d = 0; d < r; ++d) {
    want[d] = s[d] + pads[d] + pads[d + r];
    if (want[d] < 0) return InvalidArgument("pads crop dim " + std::to_string(d) + " below zero");
    TSR_RETURN_IF_ERROR(pad_map(mode, s[d], pads[d], want[d], &maps[d]));
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  if (r == 0) return std::memcpy(out[0].data, in[0].data, in[0].bytes()), Status::Ok();
  uint64_t fill = 0;  // the constant's bytes, in the output's dtype
  TSR_RETURN_IF_ERROR(store_scalar(attr_float(attrs, "constant_value", 0.0), in[0].dtype, &fill));
  switch (dtype_size(in[0].dtype)) {
    case 1:
      return pad_rows<uint8_t>(in[0], out[0], maps, static_cast<uint8_t>(fill)), Status::Ok();
    case 2:
      return pad_rows<uint16_t>(in[0], out[0], maps, static_cast<uint16_t>(fill)), Status::Ok();
    case 4:
      return pad_rows<uint32_t>(in[0], out[0], maps, static_cast<uint32_t>(fill)), Status::Ok();
    case 8:
      return pad_rows<uint64_t>(in[0], out[0], maps, fill), Status::Ok();
    default:
      return unsupported_dtype(in[0], "input");
  }
}

Status Trilu(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape& s = in[0].shape;
  if (s.size() < 2) return InvalidArgument("input must have rank >= 2, got " + shape_str(s));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], s));
  const bool upper = attr_int(attrs, "upper", 1) != 0;
  const int64_t k = attr_int(attrs, "k", 0);
  const int64_t M = s[s.size() - 2], N = s[s.size() - 1], es = dtype_size(in[0].dtype);
  const int64_t mats = (M * N != 0) ? in[0].numel() / (M * N) : 0;
  const auto* src = in[0].as<const uint8_t>();
  auto* dst = out[0].as<uint8_t>();
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < M; ++i) {
      const int64_t off = ((m * M) + i) * N * es;
      // keep columns j with j - i >= k (upper) or j - i <= k (lower); zero bytes are 0 in every
      // dtype
      const int64_t lo = upper ? std::clamp<int64_t>(i + k, 0, N) : 0;
      const int64_t hi = upper ? N : std::clamp<int64_t>(i + k + 1, 0, N);
      if (hi <= lo) {
        std::memset(dst + off, 0, N * es);
        continue;
      }
      std::memmove(dst + off + lo * es, src + off + lo * es, (hi - lo) * es);  // may alias
      std::memset(dst + off, 0, lo * es);
      std::memset(dst + off + hi * es, 0, (N - hi) * es);
    }
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cpu
