// TensorProto -> TensorData: raw_data, typed fields, and external data (location relative to
// the model directory, any offset: exporters do not align them). Missing external files are
// not an error: the weight keeps its shape and dtype so the graph stays plannable.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "frontends/onnx/import_internal.h"

namespace tessera::onnx_fe {

ExternalFiles::~ExternalFiles() {
  for (auto& [k, f] : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

Status ExternalFiles::open(const std::string& location, int& fd, int64_t& size) {
  if (location.empty() || location[0] == '/' || location.find("..") != std::string::npos) {
    return invalid("external data location '{}' must be a relative path without '..'", location);
  }
  auto it = files_.find(location);
  if (it == files_.end()) {
    File f{::open((dir_ + "/" + location).c_str(), O_RDONLY | O_CLOEXEC), 0};
    struct stat st {};
    if (f.fd >= 0 && ::fstat(f.fd, &st) == 0) f.size = st.st_size;
    it = files_.emplace(location, f).first;
  }
  fd = it->second.fd;
  size = it->second.size;
  return Status::Ok();
}

namespace {

bool supported_dtype(int t) {
  const auto d = static_cast<DType>(t);
  return t >= 1 && t <= 16 && dtype_size(d) > 0;
}

Status read_external(const onnx::TensorProto& t, int64_t nbytes, ExternalFiles& files,
                     ir::TensorData& out, bool& missing) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    try {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::stoll(kv.value());
      else if (kv.key() == "length")
        length = std::stoll(kv.value());
    } catch (const std::exception&) {
      return invalid("tensor '{}': external_data {}='{}' is not a number", t.name(), kv.key(),
                     kv.value());
    }
  }
  int fd = -1;
  int64_t size = 0;
  TSR_RETURN_IF_ERROR(files.open(location, fd, size));
  if (fd < 0) {
    missing = true;
    return Status::Ok();
  }
  if (length >= 0 && length != nbytes) {
    return Corrupt(fmt::format("tensor '{}': external length {} but shape needs {} bytes", t.name(),
                               length, nbytes));
  }
  if (offset < 0 || offset + nbytes > size) {
    return Corrupt(fmt::format("tensor '{}': bytes [{}, {}) lie outside '{}' ({} bytes)", t.name(),
                               offset, offset + nbytes, location, size));
  }
  out.bytes.resize(nbytes);
  int64_t done = 0;
  while (done < nbytes) {
    const ssize_t r = ::pread(fd, out.bytes.data() + done, nbytes - done, offset + done);
    if (r <= 0) return IoError(fmt::format("tensor '{}': reading '{}' failed", t.name(), location));
    done += r;
  }
  return Status::Ok();
}

// Typed repeated fields: int32_data carries every type of 32 bits or fewer (fp16 as bits).
template <class Src>
Status copy_typed(const Src& src, int64_t n, ir::TensorData& out, const std::string& name) {
  if (static_cast<int64_t>(src.size()) != n) {
    return Corrupt(fmt::format("tensor '{}': {} values for {} elements", name, src.size(), n));
  }
  const int64_t es = dtype_size(out.dtype);
  out.bytes.resize(n * es);
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* dst = out.bytes.data() + i * es;
    switch (out.dtype) {
      case DType::kFloat32: {
        float v = static_cast<float>(src[i]);
        std::memcpy(dst, &v, 4);
        break;
      }
      case DType::kFloat64: {
        double v = static_cast<double>(src[i]);
        std::memcpy(dst, &v, 8);
        break;
      }
      case DType::kInt64:
      case DType::kUInt64: {
        int64_t v = static_cast<int64_t>(src[i]);
        std::memcpy(dst, &v, 8);
        break;
      }
      case DType::kInt32:
      case DType::kUInt32: {
        int32_t v = static_cast<int32_t>(src[i]);
        std::memcpy(dst, &v, 4);
        break;
      }
      default: {
        int32_t v = static_cast<int32_t>(src[i]);
        std::memcpy(dst, &v, es);
        break;
      }  // little-endian low bytes
    }
  }
  return Status::Ok();
}

Status read_inline(const onnx::TensorProto& t, int64_t n, ir::TensorData& d) {
  if (t.has_raw_data()) {
    if (static_cast<int64_t>(t.raw_data().size()) != n * dtype_size(d.dtype)) {
      return Corrupt(fmt::format("tensor '{}': raw_data has {} bytes, shape {} needs {}", t.name(),
                                 t.raw_data().size(), shape_str(d.shape), n * dtype_size(d.dtype)));
    }
    d.bytes.assign(t.raw_data().begin(), t.raw_data().end());
    return Status::Ok();
  }
  switch (d.dtype) {
    case DType::kFloat32:
      return copy_typed(t.float_data(), n, d, t.name());
    case DType::kFloat64:
      return copy_typed(t.double_data(), n, d, t.name());
    case DType::kInt64:
      return copy_typed(t.int64_data(), n, d, t.name());
    case DType::kUInt32:
    case DType::kUInt64:
      return copy_typed(t.uint64_data(), n, d, t.name());
    default:
      return copy_typed(t.int32_data(), n, d, t.name());
  }
}

}  // namespace

StatusOr<LoadedTensor> load_tensor(const onnx::TensorProto& t, bool want_data,
                                   ExternalFiles& files) {
  LoadedTensor r;
  if (!supported_dtype(t.data_type())) {
    return Unimplemented(
        fmt::format("tensor '{}': data type {} is not supported", t.name(), t.data_type()));
  }
  r.dtype = static_cast<DType>(t.data_type());
  r.shape.assign(t.dims().begin(), t.dims().end());
  for (int64_t d : r.shape) {
    if (d < 0)
      return Corrupt(fmt::format("tensor '{}': negative dim in {}", t.name(), shape_str(r.shape)));
  }
  if (!want_data) return r;
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = r.dtype;
  d->shape = r.shape;
  const int64_t n = num_elements(r.shape);
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    TSR_RETURN_IF_ERROR(read_external(t, n * dtype_size(r.dtype), files, *d, r.missing));
    if (r.missing) return r;
  } else {
    TSR_RETURN_IF_ERROR(read_inline(t, n, *d));
  }
  r.data = std::move(d);
  return r;
}

std::vector<int64_t> tensor_ints(const ir::TensorData& t) {
  std::vector<int64_t> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) {
    v[i] = t.dtype == DType::kInt32 ? t.as<int32_t>()[i] : t.as<int64_t>()[i];
  }
  return v;
}

namespace {
double half_to_double(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double s = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 0) return s * std::ldexp(m, -24);
  if (e == 31) return m ? NAN : s * INFINITY;
  return s * std::ldexp(m + 1024, e - 25);
}
}  // namespace

StatusOr<double> tensor_scalar(const ir::TensorData& t) {
  if (t.numel() != 1)
    return InvalidArgument(fmt::format("expected one element, got shape {}", shape_str(t.shape)));
  switch (t.dtype) {
    case DType::kFloat32:
      return static_cast<double>(t.as<float>()[0]);
    case DType::kFloat64:
      return t.as<double>()[0];
    case DType::kFloat16:
      return half_to_double(t.as<uint16_t>()[0]);
    case DType::kBFloat16: {
      uint32_t b = uint32_t{t.as<uint16_t>()[0]} << 16;
      float f;
      std::memcpy(&f, &b, 4);
      return static_cast<double>(f);
    }
    case DType::kInt64:
      return static_cast<double>(t.as<int64_t>()[0]);
    case DType::kInt32:
      return static_cast<double>(t.as<int32_t>()[0]);
    case DType::kInt16:
      return static_cast<double>(t.as<int16_t>()[0]);
    case DType::kInt8:
      return static_cast<double>(t.as<int8_t>()[0]);
    case DType::kUInt8:
    case DType::kBool:
      return static_cast<double>(t.as<uint8_t>()[0]);
    default:
      return InvalidArgument(fmt::format("dtype {} is not a numeric scalar", dtype_name(t.dtype)));
  }
}

}  // namespace tessera::onnx_fe
