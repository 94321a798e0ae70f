// Helpers shared by the autodiff tests: host tensors as ir::TensorData, seeded random data,
// and the max-norm relative error the model references are compared with.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "ir/graph.h"
#include "tessera/tensor_io.h"

namespace tessera::adtest {

template <class T>
ir::TensorData make_tensor(DType t, const Shape& s, const std::vector<T>& v) {
  ir::TensorData d;
  d.dtype = t;
  d.shape = s;
  d.bytes.resize(v.size() * sizeof(T));
  std::memcpy(d.bytes.data(), v.data(), d.bytes.size());
  return d;
}

inline ir::TensorData from_host(const HostTensor& h) {
  ir::TensorData d;
  d.dtype = h.dtype;
  d.shape = h.shape;
  d.bytes = h.bytes;
  return d;
}

// Float32 or float64 contents as doubles.
inline std::vector<double> to_doubles(const ir::TensorData& d) {
  std::vector<double> v(static_cast<size_t>(d.numel()));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = d.dtype == DType::kFloat32 ? double(d.as<float>()[i]) : d.as<double>()[i];
  return v;
}

inline double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// max|a - ref| / max(max|ref|, floor); the floor keeps numerically-zero references from
// turning rounding noise into a large relative error.
inline double rel_max_err(const std::vector<double>& a, const std::vector<double>& ref,
                          double floor = 0) {
  double diff = 0, mx = 0;
  for (size_t i = 0; i < ref.size() && i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - ref[i]));
    mx = std::max(mx, std::abs(ref[i]));
  }
  if (a.size() != ref.size()) return INFINITY;
  mx = std::max(mx, floor);
  return mx > 0 ? diff / mx : diff;
}

inline std::vector<double> random_doubles(std::mt19937& rng, int64_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = u(rng);
  return v;
}

}  // namespace tessera::adtest
