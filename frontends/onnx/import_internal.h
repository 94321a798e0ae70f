// Internal to the ONNX frontend: the import context shared by the importer, the tensor loader,
// the canonicalisers and the folder. Not installed; no onnx types leak past this directory.
#pragma once
#include <fmt/format.h>

#include <onnx/onnx_pb.h>

#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "frontends/onnx/onnx_import.h"
#include "ir/op_table.h"

namespace tessera::onnx_fe {

template <class... A>
Status invalid(fmt::format_string<A...> f, A&&... a) {
  return InvalidArgument(fmt::format(f, std::forward<A>(a)...));
}

// Open external-data files, one per location, closed on destruction.
class ExternalFiles {
 public:
  explicit ExternalFiles(std::string dir) : dir_(std::move(dir)) {}
  ~ExternalFiles();
  ExternalFiles(const ExternalFiles&) = delete;
  ExternalFiles& operator=(const ExternalFiles&) = delete;
  // fd >= 0 and size, or fd = -1 when the file does not exist. Errors: unsafe location.
  Status open(const std::string& location, int& fd, int64_t& size);

 private:
  struct File {
    int fd;
    int64_t size;
  };
  std::string dir_;
  std::unordered_map<std::string, File> files_;
};

// A loaded initializer or constant: data is null when external data is missing or not wanted.
struct LoadedTensor {
  DType dtype = DType::kUndefined;
  Shape shape;
  ir::TensorDataPtr data;
  bool missing = false;  // external file absent
};
StatusOr<LoadedTensor> load_tensor(const onnx::TensorProto& t, bool want_data,
                                   ExternalFiles& files);

struct ImportCtx {
  const ImportOptions& opts;
  int opset = 0;
  ExternalFiles files;
  ir::Graph g;
  std::unordered_map<std::string, int> by_name;          // ONNX value name -> value id
  std::unordered_map<std::string, std::string> dropped;  // outputs we do not compute -> why
  std::unordered_map<int, std::string> fold_failed;      // value id -> why it is not constant
  std::unordered_set<std::string> node_names;
  // Values whose data is unknown: derived only from constants and integer initializers whose
  // external data is missing. They carry zero-filled placeholder data (kConstant) so the graph
  // stays well formed; consumers that need their values fall back to value_info shapes.
  std::unordered_set<int> unknown;
  std::unordered_map<std::string, const onnx::TypeProto*> value_info;  // graph value_info + outputs
  int64_t folded = 0;
  int64_t derived = 0;  // nodes whose lifted attributes came from value_info shapes

  ImportCtx(const ImportOptions& o, std::string dir) : opts(o), files(std::move(dir)) {}
  const ir::TensorData* const_data(int v) const {  // compile-time data, or null
    if (v < 0) return nullptr;
    const ir::Value& x = g.values[v];
    return x.kind == ir::ValueKind::kConstant || x.kind == ir::ValueKind::kWeight ? x.data.get()
                                                                                  : nullptr;
  }
  int add_constant(const std::string& name, ir::TensorDataPtr data);
};

// A node on its way into the graph: ONNX inputs resolved to value ids, attributes converted.
struct PendingNode {
  const onnx::NodeProto* proto;
  ir::Node n;                        // name, op, attrs; inputs = all ONNX inputs (-1 absent)
  std::vector<std::string> outputs;  // ONNX output names ("" = not requested)
  bool derive = false;  // a lifted input has unknown data: derive attributes from value_info
};

Status convert_attrs(const onnx::NodeProto& p, const std::string& name, AttrMap& out);
// Ops with no canonical form: always evaluated at import (Constant, Shape, Size, Range,
// ConstantOfShape). Returns false in `handled` for other ops.
Status fold_special(ImportCtx& c, PendingNode& p, bool& handled);
// Lifts constant trailing inputs to attributes per the op table; leaves canonical inputs.
Status lift_inputs(ImportCtx& c, const ir::OpInfo& op, PendingNode& p);
// Op-specific normalisation (axes, defaults, auto_pad, Reshape/Expand resolution).
Status canonicalize(ImportCtx& c, PendingNode& p, const std::vector<ir::TypeShape>& in);
// Evaluates the node when every input is constant and the result is small; else false.
bool try_fold(ImportCtx& c, const ir::Node& n, const std::vector<ir::TypeShape>& out_types,
              std::vector<int>& out_ids);
bool is_special_op(const std::string& op);
// value_info fallback (value_info.cpp) and attribute derivation from shapes (derive.cpp).
StatusOr<int64_t> eval_dim(const std::string& expr, const std::map<std::string, int64_t>& env);
// partial: dims that cannot be evaluated come back as -1 instead of an error.
StatusOr<ir::TypeShape> recorded_type(const ImportCtx& c, const std::string& name,
                                      bool partial = false);
Status derive_lifted(ImportCtx& c, PendingNode& p, const std::vector<ir::TypeShape>& in,
                     const std::vector<ir::TypeShape>& out);
ir::TensorDataPtr zero_tensor(DType t, const Shape& s);
std::vector<int64_t> tensor_ints(const ir::TensorData& t);  // int32/int64 -> int64
StatusOr<double> tensor_scalar(const ir::TensorData& t);    // one element, any numeric

}  // namespace tessera::onnx_fe
