#include "tests/unit/kernels_test_util.h"

#include <cmath>

namespace tessera::kernels::testing {

std::vector<double> Tensor::values() const {
  std::vector<double> v(static_cast<size_t>(numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (dtype) {
      case DType::kFloat32:
        v[i] = as<float>()[i];
        break;
      case DType::kFloat64:
        v[i] = as<double>()[i];
        break;
      case DType::kInt32:
        v[i] = as<int32_t>()[i];
        break;
      case DType::kInt64:
        v[i] = static_cast<double>(as<int64_t>()[i]);
        break;
      case DType::kBool:
        v[i] = as<uint8_t>()[i];
        break;
      case DType::kFloat16:
      case DType::kBFloat16:
        v[i] = as<uint16_t>()[i];
        break;  // raw bits
      default:
        ADD_FAILURE() << "values(): dtype " << dtype_name(dtype);
    }
  }
  return v;
}

Tensor zeros(DType dt, const Shape& s) {
  Tensor t;
  t.dtype = dt;
  t.shape = s;
  t.buf.assign(static_cast<size_t>(num_elements(s) * dtype_size(dt)), 0);
  return t;
}

template <class T, class V>
static Tensor make(DType dt, const Shape& s, const std::vector<V>& v) {
  Tensor t = zeros(dt, s);
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel()) << "test data size for " << shape_str(s);
  for (size_t i = 0; i < v.size() && static_cast<int64_t>(i) < t.numel(); ++i) {
    t.as<T>()[i] = static_cast<T>(v[i]);
  }
  return t;
}

Tensor f32(const Shape& s, const std::vector<double>& v) {
  return make<float>(DType::kFloat32, s, v);
}
Tensor f64(const Shape& s, const std::vector<double>& v) {
  return make<double>(DType::kFloat64, s, v);
}
Tensor i64(const Shape& s, const std::vector<int64_t>& v) {
  return make<int64_t>(DType::kInt64, s, v);
}
Tensor i32(const Shape& s, const std::vector<int64_t>& v) {
  return make<int32_t>(DType::kInt32, s, v);
}
Tensor boolean(const Shape& s, const std::vector<int>& v) {
  return make<uint8_t>(DType::kBool, s, v);
}

static std::vector<double> uniform(int64_t n, uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}
Tensor rand_f32(const Shape& s, uint32_t seed, double lo, double hi) {
  return f32(s, uniform(num_elements(s), seed, lo, hi));
}
Tensor rand_f64(const Shape& s, uint32_t seed, double lo, double hi) {
  return f64(s, uniform(num_elements(s), seed, lo, hi));
}

Status run(const std::string& op, const AttrMap& attrs, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) {
  std::vector<TensorRef> ri, ro;
  for (const Tensor* t : in) ri.push_back(t ? t->ref() : TensorRef{});
  for (Tensor* t : out) ro.push_back(t->ref());
  return run_cpu_kernel(op, attrs, ri, ro);
}

Tensor run1(const std::string& op, const AttrMap& attrs, const std::vector<const Tensor*>& in,
            DType dt, const Shape& out_shape) {
  Tensor o = zeros(dt, out_shape);
  const Status s = run(op, attrs, in, {&o});
  EXPECT_TRUE(s.ok()) << op << ": " << s.to_string();
  return o;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double atol,
                 double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    if (std::isinf(want[i]) && got[i] == want[i]) continue;
    if (!(std::fabs(got[i] - want[i]) <= atol + rtol * std::fabs(want[i]))) {
      ADD_FAILURE() << what << " element " << i << ": got " << got[i] << ", want " << want[i];
      ++bad;
    }
  }
}

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t a = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = a;
    a *= s[i];
  }
  return st;
}

std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> c(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    c[d] = s[d] ? i % s[d] : 0;
    i = s[d] ? i / s[d] : 0;
  }
  return c;
}

int64_t bcast_index(const std::vector<int64_t>& c, const Shape& in) {
  const size_t lead = c.size() - in.size();
  int64_t idx = 0;
  for (size_t d = 0; d < in.size(); ++d) idx = idx * in[d] + (in[d] == 1 ? 0 : c[lead + d]);
  return idx;
}

}  // namespace tessera::kernels::testing
