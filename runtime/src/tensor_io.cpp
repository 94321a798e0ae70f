// TensorProto <-> HostTensor. Typed-field layouts follow onnx.proto's field comments.
#include "tessera/tensor_io.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tensor.pb.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "raw_data is little-endian");

namespace tessera {
namespace {

using onnxwire::TensorProto;

// Narrows each int32_data element to the tensor's element size (int8/uint8/bool use the low
// byte, int16/uint16/f16/bf16 the low two bytes), as onnx.proto specifies.
template <class Src>
void narrow_copy(const Src& src, int64_t esize, uint8_t* dst) {
  for (int i = 0; i < src.size(); ++i) {
    auto v = src.Get(i);
    std::memcpy(dst + i * esize, &v, static_cast<size_t>(esize));
  }
}

// Which typed field carries this dtype, and how many elements it holds.
int typed_count(const TensorProto& p, DType dt) {
  switch (dt) {
    case DType::kFloat32:
      return p.float_data_size();
    case DType::kFloat64:
      return p.double_data_size();
    case DType::kInt64:
      return p.int64_data_size();
    case DType::kUInt32:
    case DType::kUInt64:
      return p.uint64_data_size();
    default:
      return p.int32_data_size();
  }
}

void copy_typed(const TensorProto& p, DType dt, uint8_t* dst) {
  const int64_t es = dtype_size(dt);
  switch (dt) {
    case DType::kFloat32:
      narrow_copy(p.float_data(), es, dst);
      break;
    case DType::kFloat64:
      narrow_copy(p.double_data(), es, dst);
      break;
    case DType::kInt64:
      narrow_copy(p.int64_data(), es, dst);
      break;
    case DType::kUInt32:
    case DType::kUInt64:
      narrow_copy(p.uint64_data(), es, dst);
      break;
    default:
      narrow_copy(p.int32_data(), es, dst);
      break;
  }
}

}  // namespace

HostTensor HostTensor::zeros(std::string name, DType dtype, Shape shape) {
  HostTensor t{std::move(name), dtype, std::move(shape), {}};
  t.bytes.assign(static_cast<size_t>(t.numel() * dtype_size(dtype)), 0);
  return t;
}

StatusOr<HostTensor> parse_tensor_proto(const void* data, size_t size, const std::string& what) {
  TensorProto p;
  if (size > INT_MAX || !p.ParseFromArray(data, static_cast<int>(size)))
    return InvalidArgument(what + ": not a parsable TensorProto");
  HostTensor t;
  t.name = p.name();
  t.dtype = static_cast<DType>(p.data_type());
  const int64_t es = dtype_size(t.dtype);
  if (es == 0)
    return Unimplemented(what + ": tensor '" + p.name() + "' has unsupported data_type " +
                         std::to_string(p.data_type()));
  if (p.data_location() != 0 || p.external_data_size() != 0)
    return Unimplemented(what + ": tensor '" + p.name() + "' uses external data");
  for (int64_t d : p.dims()) {
    if (d < 0 || (d > 0 && num_elements(t.shape) > (int64_t{1} << 40) / d))
      return InvalidArgument(what + ": tensor '" + p.name() + "' has a bad dimension");
    t.shape.push_back(d);
  }
  const int64_t n = t.numel();
  const std::string desc = what + ": tensor '" + p.name() + "' of shape " + shape_str(t.shape) +
                           " (" + std::to_string(n) + " elements of " + dtype_name(t.dtype) + ")";
  if (!p.raw_data().empty() || typed_count(p, t.dtype) == 0) {
    if (static_cast<int64_t>(p.raw_data().size()) != n * es)
      return InvalidArgument(desc + " has " + std::to_string(p.raw_data().size()) +
                             " bytes of raw_data, needs " + std::to_string(n * es));
    t.bytes.assign(p.raw_data().begin(), p.raw_data().end());
    return t;
  }
  if (typed_count(p, t.dtype) != n)
    return InvalidArgument(desc + " has " + std::to_string(typed_count(p, t.dtype)) +
                           " typed data elements");
  t.bytes.assign(static_cast<size_t>(n * es), 0);
  copy_typed(p, t.dtype, t.bytes.data());
  return t;
}

StatusOr<HostTensor> read_tensor_proto(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(path + ": cannot open tensor file: " + std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return IoError(path + ": read failed");
  const std::string s = ss.str();
  return parse_tensor_proto(s.data(), s.size(), path);
}

StatusOr<std::string> serialize_tensor_proto(const HostTensor& t) {
  const int64_t es = dtype_size(t.dtype);
  if (es == 0)
    return Unimplemented("tensor '" + t.name + "': cannot write dtype " + dtype_name(t.dtype));
  if (static_cast<int64_t>(t.bytes.size()) != t.numel() * es)
    return InvalidArgument("tensor '" + t.name + "': " + std::to_string(t.bytes.size()) +
                           " bytes for shape " + shape_str(t.shape));
  TensorProto p;
  for (int64_t d : t.shape) p.add_dims(d);
  p.set_data_type(static_cast<int32_t>(t.dtype));
  p.set_name(t.name);
  p.set_raw_data(t.bytes.data(), t.bytes.size());
  std::string out;
  if (!p.SerializeToString(&out)) return Internal("tensor '" + t.name + "' failed to serialize");
  return out;
}

Status write_tensor_proto(const std::string& path, const HostTensor& t) {
  TSR_ASSIGN_OR_RETURN(std::string bytes, serialize_tensor_proto(t));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return IoError(path + ": cannot open for writing: " + std::strerror(errno));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return IoError(path + ": write failed");
  return Status::Ok();
}

}  // namespace tessera
