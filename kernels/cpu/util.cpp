// Shared kernel helpers: checks, broadcasting, the row iterator, strided copies, f16/bf16.
#include <cmath>
#include <limits>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {

Status check_arity(const Ins& in, const Ins& out, size_t min_in, size_t max_in, size_t n_out) {
  if (in.size() < min_in || in.size() > max_in) {
    return InvalidArgument("expected " + std::to_string(min_in) +
                           (max_in != min_in ? ".." + std::to_string(max_in) : "") +
                           " inputs, got " + std::to_string(in.size()));
  }
  if (out.size() != n_out) {
    return InvalidArgument("expected " + std::to_string(n_out) + " outputs, got " +
                           std::to_string(out.size()));
  }
  for (size_t i = 0; i < min_in; ++i) {
    if (!in[i].present()) return InvalidArgument("input " + std::to_string(i) + " is absent");
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].present()) return InvalidArgument("output " + std::to_string(i) + " is absent");
  }
  return Status::Ok();
}

Status check_out_shape(const TensorRef& out, const Shape& want, const char* what) {
  if (out.shape != want) {
    return InvalidArgument(std::string(what) + " shape is " + shape_str(out.shape) + ", expected " +
                           shape_str(want));
  }
  return Status::Ok();
}

Status check_dtype(const TensorRef& t, DType want, const char* what) {
  if (t.dtype != want) {
    return InvalidArgument(std::string(what) + " has dtype " + dtype_name(t.dtype) + ", expected " +
                           dtype_name(want));
  }
  return Status::Ok();
}

Status check_same_dtype(const TensorRef& a, const TensorRef& b, const char* what) {
  if (a.dtype != b.dtype) {
    return InvalidArgument(std::string(what) + ": dtype " + dtype_name(b.dtype) + " differs from " +
                           dtype_name(a.dtype));
  }
  return Status::Ok();
}

Status check_mixed_float(const std::vector<const TensorRef*>& ts, const char* what) {
  DType first = DType::kUndefined, half = DType::kUndefined;
  bool same = true;
  for (const TensorRef* t : ts) {
    if (!t->present()) continue;
    if (first == DType::kUndefined) first = t->dtype;
    same = same && t->dtype == first;
  }
  if (same) return Status::Ok();
  for (const TensorRef* t : ts) {
    if (!t->present() || t->dtype == DType::kFloat32) continue;
    const bool is16 = t->dtype == DType::kBFloat16 || t->dtype == DType::kFloat16;
    if (!is16 || (half != DType::kUndefined && half != t->dtype))
      return InvalidArgument(std::string(what) +
                             ": mixed dtypes must be f32 and one of f16/bf16, " + "got " +
                             dtype_name(t->dtype) + " beside " + dtype_name(first));
    half = t->dtype;
  }
  return Status::Ok();
}

Status unsupported_dtype(const TensorRef& t, const char* what) {
  return Unimplemented(std::string("dtype ") + dtype_name(t.dtype) + " of " + what +
                       " is not supported");
}

Status check_index_dtype(const TensorRef& t, const char* what) {
  if (t.dtype != DType::kInt32 && t.dtype != DType::kInt64) {
    return InvalidArgument(std::string(what) + " must be i32 or i64, got " + dtype_name(t.dtype));
  }
  return Status::Ok();
}

Status broadcast_shapes(const Shape& a, const Shape& b, Shape* result) {
  const size_t r = std::max(a.size(), b.size());
  Shape s(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes " + shape_str(a) + " and " + shape_str(b) +
                             " do not broadcast");
    }
    s[i] = da == 1 ? db : da;
  }
  *result = std::move(s);
  return Status::Ok();
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

Status broadcast_strides(const Shape& s, const Shape& target, std::vector<int64_t>* strides) {
  if (s.size() > target.size()) {
    return InvalidArgument("shape " + shape_str(s) + " has higher rank than " + shape_str(target));
  }
  const size_t lead = target.size() - s.size();
  const std::vector<int64_t> cs = contiguous_strides(s);
  strides->assign(target.size(), 0);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == target[lead + i]) {
      (*strides)[lead + i] = s[i] == 1 ? 0 : cs[i];
    } else if (s[i] != 1) {
      return InvalidArgument("shape " + shape_str(s) + " does not broadcast to " +
                             shape_str(target));
    }
  }
  return Status::Ok();
}

RowIter make_row_iter(const Shape& shape, const std::vector<std::vector<int64_t>>& strides) {
  RowIter it;
  it.strides.resize(strides.size());
  // Drop size-1 dims, then merge dim d into the previous kept dim when every operand's stride
  // satisfies prev_stride == stride * size (row-major contiguity along the pair).
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !it.dims.empty();
    for (size_t k = 0; merge && k < strides.size(); ++k) {
      merge = it.strides[k].back() == strides[k][d] * shape[d];
    }
    if (merge) {
      it.dims.back() *= shape[d];
      for (size_t k = 0; k < strides.size(); ++k) it.strides[k].back() = strides[k][d];
    } else {
      it.dims.push_back(shape[d]);
      for (size_t k = 0; k < strides.size(); ++k) it.strides[k].push_back(strides[k][d]);
    }
  }
  for (int64_t d : shape) {
    if (d == 0) {  // keep emptiness visible to for_each_row
      it.dims.assign(1, 0);
      for (auto& s : it.strides) s.assign(1, 0);
      break;
    }
  }
  return it;
}

namespace {
template <class T>
void copy_rows(const RowIter& it, const T* src, T* dst) {
  for_each_row(it, [&](const int64_t* off, const int64_t* step, int64_t n) {
    const T* s = src + off[0];
    T* d = dst + off[1];
    if (step[0] == 1) {
      std::memcpy(d, s, static_cast<size_t>(n) * sizeof(T));
    } else {
      for (int64_t j = 0; j < n; ++j) d[j] = s[j * step[0]];
    }
  });
}
}  // namespace

void strided_copy(const void* src, int64_t start, const std::vector<int64_t>& src_strides,
                  const Shape& shape, void* dst, int64_t es) {
  RowIter it = make_row_iter(shape, {src_strides, contiguous_strides(shape)});
  it.start[0] = start;
  switch (es) {
    case 1:
      return copy_rows(it, static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst));
    case 2:
      return copy_rows(it, static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst));
    case 4:
      return copy_rows(it, static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst));
    case 8:
      return copy_rows(it, static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst));
    default:
      break;
  }
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  for_each_row(it, [&](const int64_t* off, const int64_t* step, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      std::memcpy(d + (off[1] + j) * es, s + (off[0] + j * step[0]) * es, es);
    }
  });
}

uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7FFFFFFFu;
  if (absx >= 0x7F800000u) {  // inf or nan (nan keeps a quiet payload bit)
    return static_cast<uint16_t>(sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0u));
  }
  if (absx >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to inf
  const int32_t exp = static_cast<int32_t>(absx >> 23) - 127;
  if (exp >= -14) {  // normal half: keep 10 mantissa bits, round to nearest even
    uint32_t mant = absx & 0x7FFFFFu;
    uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) | (mant >> 13);
    const uint32_t rest = mant & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carry may bump the exponent
    return static_cast<uint16_t>(sign | h);
  }
  if (exp < -25) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
  // subnormal half: value = m * 2^-24 with the implicit bit made explicit
  const uint32_t mant = (absx & 0x7FFFFFu) | 0x800000u;
  const int shift = -exp - 14 + 13;  // 14..24
  uint32_t h = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  uint32_t x =
      exp == 31 ? (sign | 0x7F800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  std::memcpy(&f, &x, 4);
  return f;
}

uint16_t float_to_bf16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // nan
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

float bf16_bits_to_float(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

Status store_scalar(double v, DType dt, void* dst) {
  switch (dt) {
    case DType::kFloat32:
      *static_cast<float*>(dst) = static_cast<float>(v);
      break;
    case DType::kFloat64:
      *static_cast<double*>(dst) = v;
      break;
    case DType::kFloat16:
      *static_cast<uint16_t*>(dst) = float_to_half_bits(static_cast<float>(v));
      break;
    case DType::kBFloat16:
      *static_cast<uint16_t*>(dst) = float_to_bf16_bits(static_cast<float>(v));
      break;
    case DType::kInt32:
      *static_cast<int32_t*>(dst) = saturate_cast<int32_t>(v);
      break;
    case DType::kInt64:
      *static_cast<int64_t*>(dst) = saturate_cast<int64_t>(v);
      break;
    case DType::kInt8:
      *static_cast<int8_t*>(dst) = saturate_cast<int8_t>(v);
      break;
    case DType::kUInt8:
      *static_cast<uint8_t*>(dst) = saturate_cast<uint8_t>(v);
      break;
    case DType::kBool:
      *static_cast<uint8_t*>(dst) = v != 0;
      break;
    default:
      return Unimplemented(std::string("no scalar of dtype ") + dtype_name(dt));
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cpu
