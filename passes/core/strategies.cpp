#include "passes/core/strategies.h"

#include "passes/core/cost_model.h"

namespace tessera::spmd {
namespace {

struct Ctx {
  const OpRule& rule;
  const std::vector<Shape>& in;
  const std::vector<Shape>& out;
  DType dtype;
  const Mesh& mesh;
  const ClusterProfile& profile;
  int max_axes;
  const std::vector<DType>& operand_dtypes;  // inputs then outputs; empty: all `dtype`
  DType dtype_of(size_t k) const { return k < operand_dtypes.size() ? operand_dtypes[k] : dtype; }
};

ShardingSpec spec_of(const std::vector<int>& dims, const std::vector<std::vector<int>>& fa,
                     const Mesh& mesh) {
  ShardingSpec s = ShardingSpec::replicated(static_cast<int>(dims.size()));
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] < 0) continue;
    for (int a : fa[dims[d]]) s.dims[d].push_back(mesh.axis(a).name);
  }
  return s;
}

}  // namespace

double op_seconds(const OpRule& rule, double io_bytes, int64_t split, DType dtype,
                  const ClusterProfile& profile) {
  if (rule.is_view) return 0;
  const double bytes =
      io_bytes + rule.scratch_elements / static_cast<double>(split) * dtype_size(dtype);
  return compute_seconds(rule.flops / split, bytes, dtype, profile);
}

namespace {

Strategy finish(const Ctx& c, const std::vector<std::vector<int>>& fa) {
  Strategy s;
  s.factor_axes = fa;
  std::set<std::string> partial;
  int64_t split = 1;
  for (size_t f = 0; f < fa.size(); ++f) {
    split *= c.mesh.group_size(fa[f]);
    if (c.rule.factors[f].kind != FactorKind::kReduction) continue;
    for (int a : fa[f]) partial.insert(c.mesh.axis(a).name);
  }
  double bytes = 0;
  for (size_t i = 0; i < c.in.size(); ++i) {
    s.inputs.push_back(spec_of(c.rule.inputs[i], fa, c.mesh));
    if (c.rule.summed_into_result[i]) s.inputs.back().partial = partial;
    s.input_bytes.push_back(s.inputs.back().local_bytes(c.in[i], c.dtype_of(i), c.mesh));
    bytes += s.input_bytes.back();
  }
  for (size_t o = 0; o < c.out.size(); ++o) {
    s.outputs.push_back(spec_of(c.rule.outputs[o], fa, c.mesh));
    s.outputs.back().partial = partial;
    if (o < c.rule.output_sums.size())
      for (int f : c.rule.output_sums[o])
        for (int a : fa[f]) s.outputs.back().partial.insert(c.mesh.axis(a).name);
    s.output_bytes += s.outputs.back().local_bytes(c.out[o], c.dtype_of(c.in.size() + o), c.mesh);
  }
  s.compute_seconds = op_seconds(c.rule, bytes + s.output_bytes, split, c.dtype, c.profile);
  return s;
}

// Can factor f take one more axis a? Its size and every dim mapped to it must divide.
bool fits(const Ctx& c, int f, const std::vector<int>& axes, int a) {
  const Factor& fac = c.rule.factors[f];
  if (!fac.cannot_split.empty() || static_cast<int>(axes.size()) >= c.max_axes) return false;
  int64_t n = c.mesh.group_size(axes) * c.mesh.axis_size(a);
  if (fac.size % n != 0) return false;
  for (const auto* side : {&c.rule.inputs, &c.rule.outputs}) {
    const auto& shapes = side == &c.rule.inputs ? c.in : c.out;
    for (size_t k = 0; k < side->size(); ++k) {
      for (size_t d = 0; d < (*side)[k].size(); ++d) {
        if ((*side)[k][d] == f && shapes[k][d] % n != 0) return false;
      }
    }
  }
  return true;
}

void assign(const Ctx& c, int axis, std::vector<std::vector<int>>& fa, std::vector<Strategy>& out) {
  if (axis == c.mesh.num_axes()) {
    out.push_back(finish(c, fa));
    return;
  }
  assign(c, axis + 1, fa, out);  // axis unused: the op is replicated over it
  if (c.mesh.axis_size(axis) == 1) return;
  for (int f = 0; f < static_cast<int>(fa.size()); ++f) {
    if (!fits(c, f, fa[f], axis)) continue;
    fa[f].push_back(axis);
    assign(c, axis + 1, fa, out);
    fa[f].pop_back();
  }
}

}  // namespace

std::string Strategy::name(const Mesh& mesh) const {
  std::string s;
  for (size_t f = 0; f < factor_axes.size(); ++f) {
    if (factor_axes[f].empty()) continue;
    s += (s.empty() ? "" : " ") + std::to_string(f) + ":{";
    for (size_t i = 0; i < factor_axes[f].size(); ++i) {
      s += (i ? ", " : "") + mesh.axis(factor_axes[f][i]).name;
    }
    s += "}";
  }
  return s.empty() ? "replicated" : s;
}

std::vector<Strategy> enumerate_strategies(const OpRule& rule, const std::vector<Shape>& inputs,
                                           const std::vector<Shape>& outputs, DType dtype,
                                           const Mesh& mesh, const ClusterProfile& profile,
                                           int max_axes_per_factor,
                                           const std::vector<DType>& operand_dtypes) {
  Ctx c{rule, inputs, outputs, dtype, mesh, profile, max_axes_per_factor, operand_dtypes};
  std::vector<std::vector<int>> fa(rule.factors.size());
  std::vector<Strategy> out;
  assign(c, 0, fa, out);
  return out;
}

}  // namespace tessera::spmd
