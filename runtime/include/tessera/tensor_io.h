// Host tensors and onnx.TensorProto files (input_N.pb / output_N.pb of the ONNX model zoo),
// read and written through the wire-compatible subset in runtime/schema/tensor.proto.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera {

// A dense row-major tensor in host memory. `bytes` holds numel * dtype_size bytes.
struct HostTensor {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const { return num_elements(shape); }
  template <class T>
  T* data() {
    return reinterpret_cast<T*>(bytes.data());
  }
  template <class T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes.data());
  }
  // A zero-filled tensor of the given type and shape.
  static HostTensor zeros(std::string name, DType dtype, Shape shape);
};

// Parses one serialized TensorProto; `what` names the source in errors (usually a path).
// Accepts raw_data and the typed fields (float_data, int32_data for the narrow types and
// f16/bf16 bit patterns, int64_data, double_data, uint64_data for u32/u64).
StatusOr<HostTensor> parse_tensor_proto(const void* data, size_t size, const std::string& what);
StatusOr<HostTensor> read_tensor_proto(const std::string& path);

// Writes raw_data (the compact form every ONNX reader accepts).
StatusOr<std::string> serialize_tensor_proto(const HostTensor& t);
Status write_tensor_proto(const std::string& path, const HostTensor& t);

}  // namespace tessera
