// ONNX import driver: parse, check versions, report unsupported ops, load initializers and
// inputs, then canonicalise, infer and fold node by node, and prune. One pass over the nodes;
// weights are never copied after loading (shared_ptr), so big models import in well under 1 s.
#include "frontends/onnx/onnx_import.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <fstream>
#include <sstream>

#include "frontends/onnx/import_internal.h"

namespace tessera::onnx_fe {

Status import_nodes(ImportCtx& c, const onnx::GraphProto& gp);  // onnx_nodes.cpp

namespace {

bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

StatusOr<int> check_versions(const onnx::ModelProto& m, std::map<std::string, int64_t>& opsets) {
  if (m.ir_version() < 7 || m.ir_version() > 10) {
    return Status(Code::kVersion,
                  fmt::format("ONNX IR version {} is not supported (7 to 10)", m.ir_version()));
  }
  int opset = -1;
  for (const auto& o : m.opset_import()) {
    opsets[o.domain()] = o.version();
    if (default_domain(o.domain())) opset = static_cast<int>(o.version());
  }
  if (opset < 7 || opset > 20) {
    return Status(Code::kVersion,
                  opset < 0
                      ? std::string("model imports no default-domain opset")
                      : fmt::format("default-domain opset {} is not supported (7 to 20)", opset));
  }
  return opset;
}

// All unsupported ops at once: one line per (domain, op) with its node names.
Status check_ops(const onnx::GraphProto& gp, const std::map<std::string, int64_t>& opsets) {
  std::map<std::string, std::vector<std::string>> bad;
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& n = gp.node(i);
    const bool ok =
        default_domain(n.domain()) &&
        (ir::find_op(n.op_type()) || is_special_op(n.op_type()) || n.op_type() == "Dropout");
    if (ok) continue;
    auto it = opsets.find(n.domain().empty() ? "" : n.domain());
    const std::string key = fmt::format(
        "{}{} (opset {})", default_domain(n.domain()) ? "" : n.domain() + "::", n.op_type(),
        it == opsets.end() ? 0 : it->second);
    bad[key].push_back(n.name().empty() ? fmt::format("#{}", i) : n.name());
  }
  if (bad.empty()) return Status::Ok();
  std::string msg = fmt::format("{} unsupported op type(s):", bad.size());
  for (const auto& [op, nodes] : bad) {
    const size_t shown = std::min<size_t>(nodes.size(), 8);
    msg += fmt::format("\n  unsupported op {}: {} node(s): {}{}", op, nodes.size(),
                       fmt::join(nodes.begin(), nodes.begin() + shown, ", "),
                       shown < nodes.size() ? ", ..." : "");
  }
  return Unimplemented(msg);
}

// Float initializers are parameters; integer/bool ones are index and shape constants.
Status load_initializers(ImportCtx& c, const onnx::GraphProto& gp, int64_t& missing) {
  for (const auto& t : gp.initializer()) {
    if (t.name().empty() || c.by_name.count(t.name()))
      return invalid("initializer '{}' is unnamed or duplicated", t.name());
    const bool is_param = dtype_is_float(static_cast<DType>(t.data_type()));
    TSR_ASSIGN_OR_RETURN(LoadedTensor lt,
                         load_tensor(t, !is_param || c.opts.load_weights, c.files));
    ir::Value v;
    v.name = t.name();
    v.dtype = lt.dtype;
    v.shape = lt.shape;
    v.kind = is_param || !lt.data ? ir::ValueKind::kWeight : ir::ValueKind::kConstant;
    v.data = lt.data;
    missing += lt.missing ? 1 : 0;
    const bool unknown = !is_param && lt.missing;  // index/shape constant without data
    if (unknown) {
      v.kind = ir::ValueKind::kConstant;
      v.data = zero_tensor(v.dtype, v.shape);
    }
    const int id = c.g.add_value(std::move(v));
    if (unknown) c.unknown.insert(id);
    c.by_name[t.name()] = id;
  }
  return Status::Ok();
}

Status load_inputs(ImportCtx& c, const onnx::GraphProto& gp) {
  for (const auto& in : gp.input()) {
    if (c.by_name.count(in.name())) continue;  // an initializer: not a runtime input
    if (!in.type().has_tensor_type()) return invalid("graph input '{}' is not a tensor", in.name());
    const auto& tt = in.type().tensor_type();
    ir::Value v;
    v.name = in.name();
    v.dtype = static_cast<DType>(tt.elem_type());
    if (dtype_size(v.dtype) == 0)
      return invalid("graph input '{}': element type {} is not supported", in.name(),
                     tt.elem_type());
    if (!tt.has_shape()) return invalid("graph input '{}' has no shape", in.name());
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto& d = tt.shape().dim(i);
      if (d.has_dim_value()) {
        v.shape.push_back(d.dim_value());
        continue;
      }
      auto it =
          d.has_dim_param() ? c.opts.dim_bindings.find(d.dim_param()) : c.opts.dim_bindings.end();
      if (it == c.opts.dim_bindings.end()) {
        return invalid("graph input '{}' dim {} '{}' is symbolic and unbound: pass --shape {}=N",
                       in.name(), i, d.dim_param(), d.has_dim_param() ? d.dim_param() : "<name>");
      }
      v.shape.push_back(it->second);
    }
    for (int64_t d : v.shape) {
      if (d < 0)
        return invalid("graph input '{}' has negative dim in {}", in.name(), shape_str(v.shape));
    }
    v.kind = ir::ValueKind::kInput;
    const int id = c.g.add_value(std::move(v));
    c.by_name[in.name()] = id;
    c.g.inputs.push_back(id);
  }
  return Status::Ok();
}

Status bind_outputs(ImportCtx& c, const onnx::GraphProto& gp) {
  for (const auto& o : gp.output()) {
    auto it = c.by_name.find(o.name());
    if (it == c.by_name.end()) {
      auto d = c.dropped.find(o.name());
      return invalid("graph output '{}' is not produced{}", o.name(),
                     d == c.dropped.end() ? "" : ": " + d->second);
    }
    c.g.outputs.push_back(it->second);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ir::Graph> import_onnx_bytes(const std::string& bytes, const std::string& model_dir,
                                      const ImportOptions& opts) {
  onnx::ModelProto m;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream cis(&raw);
  cis.SetTotalBytesLimit(INT32_MAX);
  if (!m.ParseFromCodedStream(&cis) || !cis.ConsumedEntireMessage()) {
    return Corrupt("not a valid ONNX model (protobuf parse failed: truncated or not a ModelProto)");
  }
  std::map<std::string, int64_t> opsets;
  TSR_ASSIGN_OR_RETURN(int opset, check_versions(m, opsets));
  const onnx::GraphProto& gp = m.graph();
  TSR_RETURN_IF_ERROR(check_ops(gp, opsets));
  ImportCtx c(opts, model_dir);
  c.opset = opset;
  c.g.name = gp.name();
  for (const auto& vi : gp.value_info()) c.value_info[vi.name()] = &vi.type();
  for (const auto& vi : gp.output()) c.value_info[vi.name()] = &vi.type();
  int64_t missing = 0;
  TSR_RETURN_IF_ERROR(load_initializers(c, gp, missing));
  TSR_RETURN_IF_ERROR(load_inputs(c, gp));
  TSR_RETURN_IF_ERROR(import_nodes(c, gp));
  TSR_RETURN_IF_ERROR(bind_outputs(c, gp));
  c.g.prune();
  c.g.meta["onnx_opset"] = Attr::Int(opset);
  c.g.meta["onnx_ir_version"] = Attr::Int(m.ir_version());
  c.g.meta["weights_loaded"] = Attr::Int(opts.load_weights ? 1 : 0);
  c.g.meta["weights_missing"] = Attr::Int(missing);
  // Graph-only models: nodes whose attributes were derived from value_info shapes, and
  // constants with placeholder data. Non-zero means: plannable, not runnable.
  c.g.meta["derived_nodes"] = Attr::Int(c.derived);
  c.g.meta["placeholder_constants"] = Attr::Int(static_cast<int64_t>(c.unknown.size()));
  return std::move(c.g);
}

StatusOr<ir::Graph> import_onnx(const std::string& path, const ImportOptions& opts) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(fmt::format("cannot open ONNX model '{}'", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  const size_t slash = path.find_last_of('/');
  auto g =
      import_onnx_bytes(ss.str(), slash == std::string::npos ? "." : path.substr(0, slash), opts);
  if (!g.ok()) return Status(g.status().code(), path + ": " + g.status().message());
  return g;
}

}  // namespace tessera::onnx_fe
