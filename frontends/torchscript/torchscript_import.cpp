// The TorchScript importer: archive -> root module's forward, evaluated into a canonical graph.
#include "frontends/torchscript/torchscript_import.h"

#include <fstream>

#include "frontends/torchscript/ts_import_internal.h"

namespace tessera::ts_fe {
namespace {

// forward's inputs as graph inputs, shapes from the options or traced_inputs.pkl.
StatusOr<std::vector<TsVal>> make_inputs(Importer& c, const Def& fwd) {
  std::vector<std::pair<DType, Shape>> traced;
  bool from_opts = !c.opts.input_shapes.empty();
  if (!from_opts) {
    TSR_ASSIGN_OR_RETURN(traced, c.ar.traced_inputs());
  }
  c.g.meta["inputs_from"] = Attr::Str(from_opts ? "options" : "traced");
  std::vector<TsVal> args;
  for (size_t i = 0; i < fwd.params.size(); ++i) {
    const std::string& name = fwd.params[i];
    if (fwd.param_types[i] != "Tensor") {
      return InvalidArgument(
          fmt::format("'{}': forward input '{}' has type {}: only Tensor "
                      "inputs are supported",
                      c.ar.path(), name, fwd.param_types[i]));
    }
    ir::Value v;
    v.name = name;
    v.kind = ir::ValueKind::kInput;
    if (from_opts && i < c.opts.input_shapes.size()) {
      v.dtype = c.opts.input_shapes[i].dtype, v.shape = c.opts.input_shapes[i].shape;
    } else if (!from_opts && i < traced.size()) {
      v.dtype = traced[i].first, v.shape = traced[i].second;
    } else {
      return InvalidArgument(fmt::format(
          "'{}': no shape for forward input '{}' (#{}): the archive has no traced_inputs.pkl "
          "(saved by PyTorch < 2.0?); give the input shapes with --inputs DIR (input_N.pb)",
          c.ar.path(), name, i));
    }
    int id = c.g.add_value(std::move(v));
    c.g.inputs.push_back(id);
    args.push_back(TsVal::Tensor(id));
  }
  return args;
}

Status collect_outputs(Importer& c, const TsVal& r) {
  if (r.kind == TsVal::kList) {
    for (const TsVal& x : r.items) TSR_RETURN_IF_ERROR(collect_outputs(c, x));
    return Status::Ok();
  }
  if (r.kind != TsVal::kTensor) {
    return InvalidArgument(fmt::format("'{}': forward returns a non-tensor value", c.ar.path()));
  }
  int v = r.v;
  if (c.val(v).kind != ir::ValueKind::kActivation) {  // outputs are computed values
    TSR_ASSIGN_OR_RETURN(auto ids, c.emit("Identity", {v}));
    v = ids[0];
    if (c.val(v).kind != ir::ValueKind::kActivation) {  // a folded constant: keep it a node
      ir::Node n;
      n.op = "Identity", n.name = fmt::format("output_identity_{}", c.counter++);
      ir::Value o = c.val(r.v);
      o.kind = ir::ValueKind::kActivation, o.data = nullptr;
      n.inputs = {r.v};
      n.outputs = {c.g.add_value(std::move(o))};
      v = n.outputs[0];
      c.g.add_node(std::move(n));
    }
  }
  c.g.outputs.push_back(v);
  return Status::Ok();
}

std::string list_unsupported(const Importer& c) {
  std::string s;
  for (const auto& u : c.unsupported) s += "\n  " + u;
  return s;
}

StatusOr<ir::Graph> import_archive(Archive& ar, const ImportOptions& opts) {
  Importer c(ar, opts);
  const PyRef& root = ar.root();
  if (root->kind != PyObj::kObject) {
    return InvalidArgument(fmt::format("'{}': data.pkl does not hold a module", ar.path()));
  }
  TSR_ASSIGN_OR_RETURN(const ClassDef* cls, ar.find_class(root->s));
  auto fwd = cls->methods.find("forward");
  if (fwd == cls->methods.end()) {
    return InvalidArgument(fmt::format("'{}': {} has no forward method", ar.path(), root->s));
  }
  c.g.name = cls->name;
  TSR_ASSIGN_OR_RETURN(auto args, make_inputs(c, fwd->second));
  TsVal module;
  module.kind = TsVal::kModule;
  module.obj = root;
  TSR_ASSIGN_OR_RETURN(TsVal result, run_method(c, module, "forward", args));
  if (!c.unsupported.empty()) {
    return Unimplemented(fmt::format("'{}': {} unsupported op(s):{}", ar.path(),
                                     c.unsupported.size(), list_unsupported(c)));
  }
  TSR_RETURN_IF_ERROR(collect_outputs(c, result));
  for (size_t i = 0; i < c.g.outputs.size(); ++i) {
    c.g.values[c.g.outputs[i]].name = fmt::format("output_{}", i);
  }
  c.g.prune();
  c.g.meta["torchscript_version"] = Attr::Int(ar.version());
  c.g.meta["weights_loaded"] = Attr::Int(opts.load_weights ? 1 : 0);
  return std::move(c.g);
}

}  // namespace

bool is_torchscript_file(const std::string& path) {
  auto z = ZipArchive::open(path);
  if (!z.ok()) return false;
  for (const auto& [name, e] : z->entries()) {
    if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0) return true;
  }
  return false;
}

StatusOr<ir::Graph> import_torchscript(const std::string& path, const ImportOptions& opts) {
  TSR_ASSIGN_OR_RETURN(auto ar, Archive::open(path));
  return import_archive(*ar, opts);
}

StatusOr<ir::Graph> import_torchscript_bytes(std::string bytes, const std::string& what,
                                             const ImportOptions& opts) {
  TSR_ASSIGN_OR_RETURN(ZipArchive z, ZipArchive::from_bytes(std::move(bytes), what));
  TSR_ASSIGN_OR_RETURN(auto ar, Archive::from_zip(std::move(z)));
  return import_archive(*ar, opts);
}

}  // namespace tessera::ts_fe
