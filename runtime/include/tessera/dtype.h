// Element types. Numeric values equal onnx.TensorProto.DataType so files map without tables.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kBFloat16 = 16,
};

// Bytes per element; 0 for undefined and string.
int64_t dtype_size(DType t);
// "f32", "i64", ... as printed in IR and plans; "?" for unknown values.
const char* dtype_name(DType t);
// Inverse of dtype_name; kUndefined when unknown.
DType dtype_from_name(const std::string& name);
bool dtype_is_float(DType t);

using Shape = std::vector<int64_t>;
int64_t num_elements(const Shape& s);
std::string shape_str(const Shape& s);  // "2x16x64", "scalar" for rank 0

}  // namespace tessera
