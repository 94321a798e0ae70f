// Test helpers for the CPU kernels: owned tensors, running an op, float64 comparisons.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace tessera::kernels::testing {

// An owned dense tensor; ref() views it for a kernel call.
struct Tensor {
  DType dtype = DType::kUndefined;
  Shape shape;
  std::vector<uint8_t> buf;
  TensorRef ref() const { return TensorRef{dtype, shape, const_cast<uint8_t*>(buf.data())}; }
  int64_t numel() const { return num_elements(shape); }
  template <class T>
  const T* as() const {
    return reinterpret_cast<const T*>(buf.data());
  }
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(buf.data());
  }
  // Every element converted to double (f32, f64, i32, i64, bool).
  std::vector<double> values() const;
};

Tensor zeros(DType dt, const Shape& s);
Tensor f32(const Shape& s, const std::vector<double>& v);
Tensor f64(const Shape& s, const std::vector<double>& v);
Tensor i64(const Shape& s, const std::vector<int64_t>& v);
Tensor i32(const Shape& s, const std::vector<int64_t>& v);
Tensor boolean(const Shape& s, const std::vector<int>& v);
// Uniform values in [lo, hi), fixed per seed.
Tensor rand_f32(const Shape& s, uint32_t seed, double lo = -1, double hi = 1);
Tensor rand_f64(const Shape& s, uint32_t seed, double lo = -1, double hi = 1);

// Runs `op` through run_cpu_kernel. Outputs are pre-sized by the caller like the runtime does.
Status run(const std::string& op, const AttrMap& attrs, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out);
// Convenience: one output of dtype/shape given, expects success, returns it.
Tensor run1(const std::string& op, const AttrMap& attrs, const std::vector<const Tensor*>& in,
            DType dt, const Shape& out_shape);

// |got - want| <= atol + rtol * |want| for every element; NaN matches NaN.
void expect_near(const std::vector<double>& got, const std::vector<double>& want, double atol,
                 double rtol = 0, const std::string& what = "");

// Row-major helpers for the float64 references.
std::vector<int64_t> strides_of(const Shape& s);
std::vector<int64_t> unravel(int64_t i, const Shape& s);
// Index of the element of `in` that broadcast maps to output coordinate `c` (numpy rules).
int64_t bcast_index(const std::vector<int64_t>& c, const Shape& in);

}  // namespace tessera::kernels::testing
