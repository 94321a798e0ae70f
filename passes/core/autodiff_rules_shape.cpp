// Gradient rules of the shape, indexing and reduction ops: each is the op's adjoint data
// movement (reshape back, inverse transpose, slice of a concat, zero-padding of a slice,
// scatter-add of a gather, broadcast of a reduction).
#include "passes/core/autodiff_rules.h"

namespace tessera::autodiff {

void grad_reshape_like(GradCall& c) { c.dx[0] = c.b.reshape(c.dy[0], c.shape_in(0)); }

void grad_transpose(GradCall& c) {
  const auto perm = attr_ints(c.n.attrs, "perm");
  std::vector<int64_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = static_cast<int64_t>(i);
  c.dx[0] = c.b.op1("Transpose", {c.dy[0]}, {{"perm", Attr::Ints(inv)}});
}

void grad_expand(GradCall& c) { c.dx[0] = c.b.unbroadcast(c.dy[0], c.shape_in(0)); }

void grad_concat(GradCall& c) {
  const int64_t axis = attr_int(c.n.attrs, "axis", 0);
  int64_t off = 0;
  for (size_t i = 0; i < c.n.inputs.size(); ++i) {
    const int64_t len = c.shape_in(i)[axis];
    if (c.wants(i))
      c.dx[i] = c.b.op1("Slice", {c.dy[0]},
                        {{"starts", Attr::Ints({off})},
                         {"ends", Attr::Ints({off + len})},
                         {"axes", Attr::Ints({axis})},
                         {"steps", Attr::Ints({1})}});
    off += len;
  }
}

// Outputs nobody differentiated contribute zeros.
void grad_split(GradCall& c) {
  std::vector<int> parts;
  for (size_t i = 0; i < c.n.outputs.size(); ++i) {
    const int o = c.out(i);
    parts.push_back(c.dy[i] >= 0 ? c.dy[i] : c.b.zeros(c.b.dtype(o), c.b.shape(o)));
  }
  c.dx[0] = c.b.op1("Concat", parts, {{"axis", Attr::Int(attr_int(c.n.attrs, "axis", 0))}});
}

// Zero-padding back to the input's shape; steps other than 1 are not supported yet.
void grad_slice(GradCall& c) {
  const Shape xs = c.shape_in(0);
  const size_t r = xs.size();
  const auto starts = attr_ints(c.n.attrs, "starts"), ends = attr_ints(c.n.attrs, "ends");
  const auto axes = attr_ints(c.n.attrs, "axes"), steps = attr_ints(c.n.attrs, "steps");
  std::vector<int64_t> pads(2 * r, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    if (k < steps.size() && steps[k] != 1) {
      c.b.fail(Unimplemented("autodiff: gradient of Slice with step " + std::to_string(steps[k]) +
                             " (node '" + c.n.name + "')"));
      return;
    }
    const int64_t d = xs[axes[k]];
    const int64_t s = std::min(std::max(starts[k] < 0 ? starts[k] + d : starts[k], int64_t{0}), d);
    pads[axes[k]] = s;
  }
  const Shape ys = c.b.shape(c.dy[0]);
  for (size_t i = 0; i < r; ++i) pads[i + r] = xs[i] - ys[i] - pads[i];
  c.dx[0] = c.b.op1("Pad", {c.dy[0]},
                    {{"pads", Attr::Ints(pads)},
                     {"constant_value", Attr::Float(0.0)},
                     {"mode", Attr::Str("constant")}});
}

void grad_gather(GradCall& c) {
  AttrMap a = {{"axis", Attr::Int(attr_int(c.n.attrs, "axis", 0))},
               {"data_shape", Attr::Ints(c.shape_in(0))}};
  if (c.wants(0)) c.dx[0] = c.b.op1("GatherGrad", {c.dy[0], c.in(1)}, a);
}

void grad_gather_elements(GradCall& c) {
  AttrMap a = {{"axis", Attr::Int(attr_int(c.n.attrs, "axis", 0))},
               {"data_shape", Attr::Ints(c.shape_in(0))}};
  if (c.wants(0)) c.dx[0] = c.b.op1("GatherElementsGrad", {c.dy[0], c.in(1)}, a);
}

namespace {

// dy reshaped to the keepdims shape and broadcast to x's; returns the element count reduced.
int broadcast_back(GradCall& c, int64_t* count) {
  const Shape xs = c.shape_in(0);
  auto axes = attr_ints(c.n.attrs, "axes");
  if (axes.empty() && attr_int(c.n.attrs, "noop_with_empty_axes", 0) == 0)
    for (size_t i = 0; i < xs.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  Shape ks = xs;
  *count = 1;
  for (int64_t a : axes) {
    *count *= xs[a];
    ks[a] = 1;
  }
  const int k = c.b.reshape(c.dy[0], ks);
  return ks == xs ? k : c.b.op1("Expand", {k}, {{"shape", Attr::Ints(xs)}});
}

}  // namespace

void grad_reduce_sum(GradCall& c) {
  int64_t n;
  c.dx[0] = broadcast_back(c, &n);
}

void grad_reduce_mean(GradCall& c) {
  int64_t n;
  const int e = broadcast_back(c, &n);
  c.dx[0] = n == 1 ? e : c.b.mul(e, c.b.scalar_like(e, 1.0 / double(n)));
}

}  // namespace tessera::autodiff
