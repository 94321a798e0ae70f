#include "compare.h"

#include <cmath>
#include <cstdio>

#include "size_parse.h"
#include "tessera/tensor_io.h"

namespace tessera::tools {
namespace {

double element(const HostTensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32: return t.data<float>()[i];
    case DType::kFloat64: return t.data<double>()[i];
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kInt32: return t.data<int32_t>()[i];
    case DType::kBool: case DType::kUInt8: return t.data<uint8_t>()[i];
    case DType::kInt8: return t.data<int8_t>()[i];
    default: return NAN;
  }
}

}  // namespace

int compare_tensors(const std::string& a, const std::string& b, double tolerance) {
  auto ta = read_tensor_proto(a);
  if (!ta.ok()) return fail(ta.status().message());
  auto tb = read_tensor_proto(b);
  if (!tb.ok()) return fail(tb.status().message());
  if (ta->shape != tb->shape || ta->dtype != tb->dtype)
    return fail(a + " is " + dtype_name(ta->dtype) + "[" + shape_str(ta->shape) + "] but " + b +
                " is " + dtype_name(tb->dtype) + "[" + shape_str(tb->shape) + "]");
  double max_diff = 0, max_ref = 0;
  for (int64_t i = 0; i < ta->numel(); ++i) {
    double x = element(*ta, i), y = element(*tb, i);
    if (std::isnan(x) != std::isnan(y)) max_diff = INFINITY;
    else if (!std::isnan(x)) max_diff = std::max(max_diff, std::fabs(x - y));
    max_ref = std::max(max_ref, std::fabs(y));
  }
  double rel = max_ref > 0 ? max_diff / max_ref : max_diff;
  bool ok = rel <= tolerance;
  std::printf("%s: max|diff| %.3g, max|ref| %.3g, relative %.3g (tolerance %.3g)\n",
              ok ? "match" : "MISMATCH", max_diff, max_ref, rel, tolerance);
  return ok ? 0 : 1;
}

}  // namespace tessera::tools
