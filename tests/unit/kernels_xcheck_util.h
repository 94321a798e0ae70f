// Test helpers for the CPU kernel tests: an owning tensor with guard bytes (catches writes past
// the end), value access through double so every reference computes in float64, and a runner.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace tessera::kernels::xcheck {

constexpr size_t kGuard = 64;
constexpr uint8_t kGuardByte = 0xAB;

struct Tensor {
  DType dtype = DType::kUndefined;
  Shape shape;
  std::vector<uint8_t> buf;  // data followed by kGuard guard bytes

  Tensor() = default;
  Tensor(DType dt, Shape s) : dtype(dt), shape(std::move(s)) {
    // Outputs start as 0x7F garbage so an element the kernel forgets to write shows up.
    buf.assign(static_cast<size_t>(numel() * dtype_size(dt)), 0x7F);
    buf.insert(buf.end(), kGuard, kGuardByte);
  }
  int64_t numel() const { return num_elements(shape); }
  void* data() { return buf.data(); }
  TensorRef ref() { return TensorRef{dtype, shape, buf.data()}; }
  bool guard_ok() const {
    for (size_t i = buf.size() - kGuard; i < buf.size(); ++i) {
      if (buf[i] != kGuardByte) return false;
    }
    return true;
  }
  double get(int64_t i) const;
  void set(int64_t i, double v);
  std::vector<double> values() const {
    std::vector<double> v(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) v[i] = get(i);
    return v;
  }
};

inline double Tensor::get(int64_t i) const {
  const uint8_t* p = buf.data();
  switch (dtype) {
    case DType::kFloat32: {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      return f;
    }
    case DType::kFloat64: {
      double f;
      std::memcpy(&f, p + 8 * i, 8);
      return f;
    }
    case DType::kInt32: {
      int32_t f;
      std::memcpy(&f, p + 4 * i, 4);
      return f;
    }
    case DType::kInt64: {
      int64_t f;
      std::memcpy(&f, p + 8 * i, 8);
      return static_cast<double>(f);
    }
    case DType::kInt8:
      return static_cast<int8_t>(p[i]);
    case DType::kUInt8:
    case DType::kBool:
      return p[i];
    case DType::kFloat16:
    case DType::kBFloat16: {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return h;
    }
    default:
      ADD_FAILURE() << "test helper: no get for dtype";
      return 0;
  }
}

inline void Tensor::set(int64_t i, double v) {
  uint8_t* p = buf.data();
  switch (dtype) {
    case DType::kFloat32: {
      float f = static_cast<float>(v);
      std::memcpy(p + 4 * i, &f, 4);
      break;
    }
    case DType::kFloat64:
      std::memcpy(p + 8 * i, &v, 8);
      break;
    case DType::kInt32: {
      int32_t f = static_cast<int32_t>(v);
      std::memcpy(p + 4 * i, &f, 4);
      break;
    }
    case DType::kInt64: {
      int64_t f = static_cast<int64_t>(v);
      std::memcpy(p + 8 * i, &f, 8);
      break;
    }
    case DType::kInt8:
      p[i] = static_cast<uint8_t>(static_cast<int8_t>(v));
      break;
    case DType::kUInt8:
      p[i] = static_cast<uint8_t>(v);
      break;
    case DType::kBool:
      p[i] = v != 0;
      break;
    case DType::kFloat16:
    case DType::kBFloat16: {
      uint16_t h = static_cast<uint16_t>(v);
      std::memcpy(p + 2 * i, &h, 2);
      break;
    }
    default:
      ADD_FAILURE() << "test helper: no set for dtype";
  }
}

inline Tensor make(DType dt, Shape s, const std::vector<double>& vals) {
  Tensor t(dt, std::move(s));
  EXPECT_EQ(static_cast<int64_t>(vals.size()), t.numel()) << "test data size";
  for (int64_t i = 0; i < t.numel() && i < static_cast<int64_t>(vals.size()); ++i)
    t.set(i, vals[i]);
  return t;
}
inline Tensor f32(Shape s, const std::vector<double>& v) { return make(DType::kFloat32, s, v); }
inline Tensor i64(Shape s, const std::vector<double>& v) { return make(DType::kInt64, s, v); }

inline std::mt19937& rng() {
  static std::mt19937 g(12345);
  return g;
}
// Random values in [lo, hi); integer dtypes get integers in [lo, hi].
inline Tensor rand_t(DType dt, Shape s, double lo = -1, double hi = 1) {
  Tensor t(dt, std::move(s));
  const bool is_int = dt == DType::kInt32 || dt == DType::kInt64 || dt == DType::kInt8 ||
                      dt == DType::kUInt8 || dt == DType::kBool;
  std::uniform_real_distribution<double> u(lo, hi);
  std::uniform_int_distribution<int64_t> ui(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, is_int ? static_cast<double>(ui(rng())) : u(rng()));
  return t;
}

// Runs `op`; nullptr in `in` is an absent optional input. Checks the guard bytes of outputs.
inline Status run(const std::string& op, const AttrMap& attrs, std::vector<Tensor*> in,
                  std::vector<Tensor*> out) {
  std::vector<TensorRef> ri, ro;
  for (Tensor* t : in) ri.push_back(t ? t->ref() : TensorRef{});
  for (Tensor* t : out) ro.push_back(t->ref());
  Status s = run_cpu_kernel(op, attrs, ri, ro);
  for (Tensor* t : out) EXPECT_TRUE(t->guard_ok()) << op << " wrote past the end of an output";
  return s;
}

// Expects |got - want| <= atol + rtol*|want| elementwise (NaN matches NaN); reports the first miss.
inline void expect_close(const Tensor& got, const std::vector<double>& want, double rtol = 1e-5,
                         double atol = 1e-6, const std::string& what = "") {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.get(i), w = want[i];
    if (std::isnan(w) && std::isnan(g)) continue;
    if (std::isinf(w) && g == w) continue;
    ASSERT_LE(std::fabs(g - w), atol + rtol * std::fabs(w))
        << what << " element " << i << ": got " << g << ", want " << w;
  }
}

// Row-major flat index into `in` (broadcast to `out`) of flat output index `o`.
inline int64_t bcast_index(const Shape& in, const Shape& out, int64_t o) {
  int64_t idx = 0, stride = 1;
  for (size_t k = 0; k < out.size(); ++k) {
    const size_t d = out.size() - 1 - k;
    const int64_t coord = o % out[d];
    o /= out[d];
    if (k < in.size()) {
      const size_t di = in.size() - 1 - k;
      if (in[di] != 1) idx += coord * stride;
      stride *= in[di];
    }
  }
  return idx;
}

// Unravels a flat row-major index.
inline std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> c(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    c[k] = i % s[k];
    i /= s[k];
  }
  return c;
}
inline int64_t ravel(const std::vector<int64_t>& c, const Shape& s) {
  int64_t i = 0;
  for (size_t k = 0; k < s.size(); ++k) i = i * s[k] + c[k];
  return i;
}

}  // namespace tessera::kernels::xcheck
