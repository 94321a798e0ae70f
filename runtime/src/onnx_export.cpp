#include "onnx_export.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "onnx_model.pb.h"

namespace tessera::runtime {
namespace {

using onnxwire::TensorProto;

std::string dims_str(const TensorProto& t) {
  return shape_str(Shape(t.dims().begin(), t.dims().end()));
}

Status replace(TensorProto* init, const HostTensor& v, const std::string& source) {
  const Shape dims(init->dims().begin(), init->dims().end());
  if (init->data_type() != static_cast<int32_t>(v.dtype) || dims != v.shape)
    return InvalidArgument(source + ": initializer '" + v.name + "' is " +
                           dtype_name(static_cast<DType>(init->data_type())) + " " +
                           dims_str(*init) + ", the trained value is " + dtype_name(v.dtype) + " " +
                           shape_str(v.shape));
  // Keep name, dims, type and doc; drop every other encoding of the old data (typed fields,
  // external data) so the raw bytes are the only value left.
  const std::string name = init->name(), doc = init->doc_string();
  const int32_t type = init->data_type();
  init->Clear();
  for (int64_t d : v.shape) init->add_dims(d);
  init->set_data_type(type);
  init->set_name(name);
  init->set_doc_string(doc);
  init->set_raw_data(v.bytes.data(), v.bytes.size());
  return Status::Ok();
}

}  // namespace

Status export_onnx(const std::string& source, const std::vector<HostTensor>& values,
                   const std::string& dest) {
  std::ifstream in(source, std::ios::binary);
  if (!in) return NotFound(source + ": cannot open the source model: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  onnxwire::ModelProto model;
  if (bytes.size() > INT_MAX || !model.ParseFromString(bytes))
    return InvalidArgument(source + ": not a parsable ONNX model");
  std::map<std::string, TensorProto*> inits;
  for (TensorProto& t : *model.mutable_graph()->mutable_initializer()) inits[t.name()] = &t;
  for (const HostTensor& v : values) {
    auto it = inits.find(v.name);
    if (it == inits.end())
      return NotFound(source + ": trained weight '" + v.name +
                      "' is not an initializer of the model's main graph");
    TSR_RETURN_IF_ERROR(replace(it->second, v, source));
  }
  std::string out;
  if (!model.SerializeToString(&out)) return Internal(dest + ": model failed to serialize");
  std::ofstream f(dest, std::ios::binary | std::ios::trunc);
  if (!f) return IoError(dest + ": cannot open for writing: " + std::strerror(errno));
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  f.close();
  if (!f) return IoError(dest + ": write failed");
  return Status::Ok();
}

}  // namespace tessera::runtime
