// Node-by-node import: resolve inputs, convert attributes, lift, canonicalise, infer, fold.
#include <algorithm>

#include "frontends/onnx/import_internal.h"

namespace tessera::onnx_fe {

namespace {

std::string unique_name(ImportCtx& c, const onnx::NodeProto& p, int index) {
  std::string base = p.name().empty() ? fmt::format("{}_{}", p.op_type(), index) : p.name();
  std::string name = base;
  for (int k = 1; c.node_names.count(name); ++k) name = fmt::format("{}_{}", base, k);
  c.node_names.insert(name);
  return name;
}

Status resolve_inputs(ImportCtx& c, const onnx::NodeProto& p, PendingNode& pn) {
  for (const std::string& in : p.input()) {
    if (in.empty()) {
      pn.n.inputs.push_back(-1);
      continue;
    }
    auto it = c.by_name.find(in);
    if (it == c.by_name.end()) {
      auto d = c.dropped.find(in);
      if (d != c.dropped.end())
        return invalid("node '{}' ({}): input '{}' {}", pn.n.name, pn.n.op, in, d->second);
      return invalid(
          "node '{}' ({}): input '{}' is not a graph input, initializer or earlier node output",
          pn.n.name, pn.n.op, in);
    }
    pn.n.inputs.push_back(it->second);
  }
  return Status::Ok();
}

// Ops whose canonical form keeps only their first output (the rest are training-time or
// debug outputs). A later use of a dropped output is reported with this reason.
void drop_extra_outputs(ImportCtx& c, PendingNode& pn, size_t keep) {
  for (size_t i = keep; i < pn.outputs.size(); ++i) {
    if (!pn.outputs[i].empty()) {
      c.dropped[pn.outputs[i]] = fmt::format(
          "is output {} of node '{}' ({}), which Tessera does not compute", i, pn.n.name, pn.n.op);
    }
  }
  pn.outputs.resize(std::min(pn.outputs.size(), keep));
}

// Dropout is inference-time Identity; a used mask becomes a constant all-true tensor. In train
// mode it stays (ir/train_ops.cpp): the mode decides, whatever a training_mode input says, as
// model.train() does in PyTorch.
void lower_dropout(ImportCtx& c, PendingNode& pn) {
  if (c.opts.train_dropout) {
    pn.n.attrs.erase("seed");  // ONNX's seed attribute: --seed decides (reproducible plans)
    return;
  }
  pn.n.op = "Identity";
  pn.n.attrs.clear();
  pn.n.inputs.resize(1);
  if (pn.outputs.size() > 1 && !pn.outputs[1].empty() && pn.n.inputs[0] >= 0) {
    auto mask = std::make_shared<ir::TensorData>();
    mask->dtype = DType::kBool;
    mask->shape = c.g.values[pn.n.inputs[0]].shape;
    mask->bytes.assign(mask->numel(), 1);
    c.add_constant(pn.outputs[1], std::move(mask));
  }
  pn.outputs.resize(1);
}

std::vector<ir::TypeShape> input_types(const ImportCtx& c, const ir::Node& n) {
  std::vector<ir::TypeShape> in;
  for (int v : n.inputs) {
    if (v < 0)
      in.emplace_back(DType::kUndefined, Shape{});
    else
      in.emplace_back(c.g.values[v].dtype, c.g.values[v].shape);
  }
  return in;
}

Status add_outputs(ImportCtx& c, PendingNode& pn, const std::vector<ir::TypeShape>& types) {
  pn.n.outputs.clear();
  for (size_t i = 0; i < pn.outputs.size(); ++i) {
    const std::string& name = pn.outputs[i];
    if (!name.empty() && c.by_name.count(name))
      return invalid("node '{}' ({}): output '{}' is already defined", pn.n.name, pn.n.op, name);
    ir::Value v;
    v.name = name.empty() ? fmt::format("{}:{}", pn.n.name, i) : name;
    v.dtype = types[i].first;
    v.shape = types[i].second;
    const int id = c.g.add_value(std::move(v));
    if (!name.empty()) c.by_name[name] = id;
    pn.n.outputs.push_back(id);
  }
  return Status::Ok();
}

// True when every input is a constant and some have unknown data (graph-only models).
bool unknown_constant_inputs(const ImportCtx& c, const std::vector<int>& inputs) {
  bool any_unknown = false, all_const = !inputs.empty();
  for (int v : inputs) {
    if (v < 0) continue;
    any_unknown = any_unknown || c.unknown.count(v);
    all_const = all_const && c.g.values[v].kind == ir::ValueKind::kConstant;
  }
  return any_unknown && all_const;
}

// Outputs of such a node are unknown too: zero placeholder data, marked unknown.
void add_unknown_outputs(ImportCtx& c, const std::vector<int>& outs) {
  for (int v : outs) {
    ir::Value& x = c.g.values[v];
    x.kind = ir::ValueKind::kConstant;
    x.data = zero_tensor(x.dtype, x.shape);
    c.unknown.insert(v);
  }
}

// Range and ConstantOfShape over unknown data: typed from value_info.
Status fold_unknown(ImportCtx& c, PendingNode& pn, bool& handled) {
  handled = (pn.n.op == "Range" || pn.n.op == "ConstantOfShape") &&
            unknown_constant_inputs(c, pn.n.inputs);
  if (!handled) return Status::Ok();
  for (const std::string& name : pn.outputs) {
    if (name.empty()) continue;
    auto t = recorded_type(c, name);
    if (!t.ok()) {
      return invalid("node '{}' ({}): depends on initializer data that is missing and {}",
                     pn.n.name, pn.n.op, t.status().message());
    }
    if (num_elements(t->second) > c.opts.max_fold_elements) {
      return invalid("node '{}' ({}): output '{}' {} is too large for a placeholder constant",
                     pn.n.name, pn.n.op, name, shape_str(t->second));
    }
    c.unknown.insert(c.add_constant(name, zero_tensor(t->first, t->second)));
  }
  return Status::Ok();
}

StatusOr<std::vector<ir::TypeShape>> recorded_outputs(ImportCtx& c, const PendingNode& pn) {
  std::vector<ir::TypeShape> out;
  for (const std::string& name : pn.outputs) {
    auto t = recorded_type(c, name, true);
    if (!t.ok()) {
      return invalid("node '{}' ({}): a lifted input's initializer data is missing and {}",
                     pn.n.name, pn.n.op, t.status().message());
    }
    out.push_back(std::move(t).value());
  }
  return out;
}

Status import_node(ImportCtx& c, const onnx::NodeProto& p, int index) {
  PendingNode pn{&p, {}, {p.output().begin(), p.output().end()}};
  pn.n.name = unique_name(c, p, index);
  pn.n.op = p.op_type();
  TSR_RETURN_IF_ERROR(resolve_inputs(c, p, pn));
  TSR_RETURN_IF_ERROR(convert_attrs(p, pn.n.name, pn.n.attrs));
  bool handled = false;
  TSR_RETURN_IF_ERROR(fold_unknown(c, pn, handled));
  if (handled) return Status::Ok();
  TSR_RETURN_IF_ERROR(fold_special(c, pn, handled));
  if (handled) return Status::Ok();
  if (pn.n.op == "Dropout") lower_dropout(c, pn);
  const ir::OpInfo* op = ir::find_op(pn.n.op);
  if (!op)
    return Unimplemented(fmt::format("node '{}': op {} is not supported", pn.n.name, pn.n.op));
  if (op->num_outputs >= 0) drop_extra_outputs(c, pn, static_cast<size_t>(op->num_outputs));
  TSR_RETURN_IF_ERROR(lift_inputs(c, *op, pn));
  std::vector<ir::TypeShape> in = input_types(c, pn.n);
  if (pn.derive) {
    TSR_ASSIGN_OR_RETURN(auto rec, recorded_outputs(c, pn));
    TSR_RETURN_IF_ERROR(derive_lifted(c, pn, in, rec));
  }
  TSR_RETURN_IF_ERROR(canonicalize(c, pn, in));
  pn.n.outputs.assign(pn.outputs.size(), -1);  // infer() reads the output count
  TSR_ASSIGN_OR_RETURN(std::vector<ir::TypeShape> out, ir::infer(pn.n, in));
  TSR_RETURN_IF_ERROR(add_outputs(c, pn, out));
  const bool too_big = std::any_of(out.begin(), out.end(), [&](const ir::TypeShape& t) {
    return num_elements(t.second) > c.opts.max_fold_elements;
  });
  if (!too_big && unknown_constant_inputs(c, pn.n.inputs)) {
    add_unknown_outputs(c, pn.n.outputs);
  } else if (!try_fold(c, pn.n, out, pn.n.outputs)) {
    c.g.add_node(std::move(pn.n));
  }
  return Status::Ok();
}

}  // namespace

Status import_nodes(ImportCtx& c, const onnx::GraphProto& gp) {
  c.g.nodes.reserve(gp.node_size());
  for (int i = 0; i < gp.node_size(); ++i) TSR_RETURN_IF_ERROR(import_node(c, gp.node(i), i));
  return Status::Ok();
}

}  // namespace tessera::onnx_fe
