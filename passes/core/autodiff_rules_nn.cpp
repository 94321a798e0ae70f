// Gradient rules of the linear-algebra, convolution, pooling, normalisation and softmax ops.
// MatMul/Gemm gradients are MatMul/Gemm (transposes folded into Gemm's flags); Conv's input
// gradient is ConvTranspose; the rest use the training ops of docs/ops.md where a
// decomposition would cost extra passes over activations.
#include "passes/core/autodiff_rules.h"

namespace tessera::autodiff {
namespace {

std::vector<int64_t> swap_last_two(size_t rank) {
  std::vector<int64_t> p(rank);
  for (size_t i = 0; i < rank; ++i) p[i] = static_cast<int64_t>(i);
  std::swap(p[rank - 2], p[rank - 1]);
  return p;
}

int transpose_last(Builder& b, int v) {
  return b.op1("Transpose", {v}, {{"perm", Attr::Ints(swap_last_two(b.shape(v).size()))}});
}

// Axes {0, 2, 3, ...}: everything but the channel axis.
std::vector<int64_t> non_channel_axes(size_t rank) {
  std::vector<int64_t> a = {0};
  for (size_t i = 2; i < rank; ++i) a.push_back(static_cast<int64_t>(i));
  return a;
}

AttrMap gemm_attrs(double alpha, int64_t ta, int64_t tb) {
  return {{"alpha", Attr::Float(alpha)},
          {"beta", Attr::Float(0.0)},
          {"transA", Attr::Int(ta)},
          {"transB", Attr::Int(tb)}};
}

// x [..., K] · w [K, N]: the batch dims fold into the rows of two 2-D Gemms with the transposes
// in their flags. The batched formula below would build a [..., K, N] weight gradient and sum it
// over the batch (for gpt2's LM head 8x the weight's bytes written, then a ReduceSum) and
// materialise wᵀ.
void grad_matmul_shared(GradCall& c, const Shape& sa, const Shape& sb) {
  Builder& b = c.b;
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < sa.size(); ++i) rows *= sa[i];
  const int dy = b.reshape(c.dy[0], {rows, sb[1]});
  if (c.wants(0)) c.dx[0] = b.reshape(b.op1("Gemm", {dy, c.in(1)}, gemm_attrs(1.0, 0, 1)), sa);
  if (c.wants(1))
    c.dx[1] = b.op1("Gemm", {b.reshape(c.in(0), {rows, sa.back()}), dy}, gemm_attrs(1.0, 1, 0));
}

}  // namespace

// Rank-1 operands are lifted to matrices ([K] -> [1,K] or [K,1]) so one batched formula covers
// every case; batch dims a side broadcast over are summed back by unbroadcast.
void grad_matmul(GradCall& c) {
  Builder& b = c.b;
  const Shape sa = c.shape_in(0), sb = c.shape_in(1);
  if (sa.size() >= 2 && sb.size() == 2) {  // one weight matrix shared by every row of x
    grad_matmul_shared(c, sa, sb);
    return;
  }
  Shape a2 = sa, b2 = sb, y2 = b.shape(c.dy[0]);
  if (sb.size() == 1) {
    b2.push_back(1);
    y2.push_back(1);
  }
  if (sa.size() == 1) {
    a2.insert(a2.begin(), 1);
    y2.insert(y2.end() - 1, 1);
  }
  const int a = b.reshape(c.in(0), a2), bm = b.reshape(c.in(1), b2), dy = b.reshape(c.dy[0], y2);
  if (c.wants(0))
    c.dx[0] = b.reshape(b.unbroadcast(b.op1("MatMul", {dy, transpose_last(b, bm)}), a2), sa);
  if (c.wants(1))
    c.dx[1] = b.reshape(b.unbroadcast(b.op1("MatMul", {transpose_last(b, a), dy}), b2), sb);
}

// Y = alpha op(A) op(B) + beta C.
void grad_gemm(GradCall& c) {
  Builder& b = c.b;
  const double alpha = attr_float(c.n.attrs, "alpha", 1.0),
               beta = attr_float(c.n.attrs, "beta", 1.0);
  const int64_t ta = attr_int(c.n.attrs, "transA", 0), tb = attr_int(c.n.attrs, "transB", 0);
  const int dy = c.dy[0], A = c.in(0), B = c.in(1);
  if (c.wants(0))
    c.dx[0] = ta ? b.op1("Gemm", {B, dy}, gemm_attrs(alpha, tb, 1))
                 : b.op1("Gemm", {dy, B}, gemm_attrs(alpha, 0, 1 - tb));
  if (c.wants(1))
    c.dx[1] = tb ? b.op1("Gemm", {dy, A}, gemm_attrs(alpha, 1, ta))
                 : b.op1("Gemm", {A, dy}, gemm_attrs(alpha, 1 - ta, 0));
  if (c.wants(2)) {
    const int g = beta == 1.0 ? dy : b.mul(dy, b.scalar_like(dy, beta));
    c.dx[2] = b.unbroadcast(g, c.shape_in(2));
  }
}

// dx = ConvTranspose(dy, w) with output_padding making up what the forward's floor dropped.
void grad_conv(GradCall& c) {
  Builder& b = c.b;
  const Shape xs = c.shape_in(0), ws = c.shape_in(1), ys = b.shape(c.dy[0]);
  const size_t nd = xs.size() - 2;
  const auto st = attr_ints(c.n.attrs, "strides", std::vector<int64_t>(nd, 1));
  const auto dl = attr_ints(c.n.attrs, "dilations", std::vector<int64_t>(nd, 1));
  const auto pd = attr_ints(c.n.attrs, "pads", std::vector<int64_t>(2 * nd, 0));
  AttrMap win;
  for (const char* k : {"kernel_shape", "strides", "pads", "dilations", "group"}) {
    if (attr_has(c.n.attrs, k)) win[k] = c.n.attrs.at(k);
  }
  if (c.wants(0)) {
    std::vector<int64_t> op(nd);
    for (size_t i = 0; i < nd; ++i)
      op[i] =
          xs[i + 2] - (st[i] * (ys[i + 2] - 1) + (ws[i + 2] - 1) * dl[i] + 1 - pd[i] - pd[i + nd]);
    AttrMap a = win;
    a["output_padding"] = Attr::Ints(op);
    c.dx[0] = b.op1("ConvTranspose", {c.dy[0], c.in(1)}, a);
  }
  if (c.wants(1)) {
    AttrMap a = win;
    a["w_shape"] = Attr::Ints(ws);
    c.dx[1] = b.op1("ConvGradWeight", {c.dy[0], c.in(0)}, a);
  }
  if (c.wants(2)) c.dx[2] = b.reduce_sum(c.dy[0], non_channel_axes(ys.size()), false);
}

void grad_max_pool(GradCall& c) {
  AttrMap a = c.n.attrs;
  a.erase("storage_order");
  c.dx[0] = c.b.op1("MaxPoolGrad", {c.dy[0], c.in(0)}, a);
}

void grad_average_pool(GradCall& c) {
  AttrMap a = c.n.attrs;
  a["x_shape"] = Attr::Ints(c.shape_in(0));
  c.dx[0] = c.b.op1("AveragePoolGrad", {c.dy[0]}, a);
}

void grad_global_average_pool(GradCall& c) {
  Builder& b = c.b;
  const Shape xs = c.shape_in(0);
  const int64_t planes = xs[0] * xs[1];
  const int64_t hw = planes > 0 ? num_elements(xs) / planes : 1;
  const int e = b.op1("Expand", {c.dy[0]}, {{"shape", Attr::Ints(xs)}});
  c.dx[0] = b.mul(e, b.scalar_like(e, 1.0 / double(hw)));
}

// Eval semantics: y = (x - mean) * scale / sqrt(var + eps) + bias, mean and var constants.
void grad_batch_norm(GradCall& c) {
  Builder& b = c.b;
  if (!c.opts.batchnorm_eval) {
    b.fail(Unimplemented("autodiff: BatchNormalization with batch statistics (node '" + c.n.name +
                         "'); only eval semantics (batchnorm_eval) are supported"));
    return;
  }
  const Shape xs = c.shape_in(0);
  Shape cs = {xs[1]};
  cs.resize(xs.size() - 1, 1);  // [C,1,1]: broadcasts against [N,C,H,W] from the right
  const int var = c.in(4);
  const double eps = attr_float(c.n.attrs, "epsilon", 1e-5);
  const int inv = b.op1("Reciprocal", {b.op1("Sqrt", {b.add(var, b.scalar_like(var, eps))})});
  const auto axes = non_channel_axes(xs.size());
  if (c.wants(0)) c.dx[0] = b.mul(c.dy[0], b.reshape(b.mul(c.in(1), inv), cs));
  if (c.wants(1)) {
    const int xhat = b.mul(b.op1("Sub", {c.in(0), b.reshape(c.in(3), cs)}), b.reshape(inv, cs));
    c.dx[1] = b.reduce_sum(b.mul(c.dy[0], xhat), axes, false);
  }
  if (c.wants(2)) c.dx[2] = b.reduce_sum(c.dy[0], axes, false);
}

// dx = dy * mask / (1 - ratio): Dropout itself applied to dy with the same seed, stream, step
// and positions draws the same mask, so nothing is kept from the forward (no mask buffer; a
// recomputed forward draws it again too).
void grad_dropout(GradCall& c) {
  if (c.n.inputs.size() < 2) {
    c.b.fail(InvalidArgument("autodiff: Dropout node '" + c.n.name +
                             "' has no step input (prepare_train_forward not run)"));
    return;
  }
  std::vector<int> ins = c.n.inputs;
  ins[0] = c.dy[0];
  c.dx[0] = c.b.op1("Dropout", ins, c.n.attrs);
}

void grad_layer_norm(GradCall& c) {
  AttrMap a = {{"axis", Attr::Int(attr_int(c.n.attrs, "axis", -1))},
               {"epsilon", Attr::Float(attr_float(c.n.attrs, "epsilon", 1e-5))}};
  const auto g = c.b.op("LayerNormalizationGrad", {c.dy[0], c.in(0), c.in(1)}, a, 3);
  c.dx[0] = g[0];
  c.dx[1] = g[1];
  if (c.in(2) >= 0) c.dx[2] = g[2];
}

// dx = y (dy - sum(dy y))
void grad_softmax(GradCall& c) {
  Builder& b = c.b;
  const int y = c.out(0);
  const int64_t axis = attr_int(c.n.attrs, "axis", -1);
  const int s = b.reduce_sum(b.mul(c.dy[0], y), {axis}, true);
  c.dx[0] = b.mul(y, b.op1("Sub", {c.dy[0], s}));
}

// dx = dy - exp(y) sum(dy)
void grad_log_softmax(GradCall& c) {
  Builder& b = c.b;
  const int64_t axis = attr_int(c.n.attrs, "axis", -1);
  const int s = b.reduce_sum(c.dy[0], {axis}, true);
  c.dx[0] = b.op1("Sub", {c.dy[0], b.mul(b.op1("Exp", {c.out(0)}), s)});
}

void grad_softmax_cross_entropy(GradCall& c) {
  if (c.dy[1] >= 0) {  // the softmax output is saved state for the gradient, not a result
    c.b.fail(
        Unimplemented("autodiff: gradient through the softmax output of node '" + c.n.name + "'"));
    return;
  }
  if (c.dy[0] < 0) return;
  c.dx[0] = c.b.op1("SoftmaxCrossEntropyGrad", {c.dy[0], c.out(1), c.in(1)}, c.n.attrs);
}

// FusedAttentionGrad(q, k, v, dy[, mask]) with the forward's attributes: it recomputes the
// probabilities chunk by chunk, so nothing of the forward is kept but its inputs. Its ws outputs
// are scratch; the mask gets no gradient (an error when a trained value flows into it).
void grad_fused_attention(GradCall& c) {
  if (c.dy[1] >= 0 || c.wants(3)) {
    c.b.fail(Unimplemented(
        "autodiff: FusedAttention '" + c.n.name + "': " +
        (c.dy[1] >= 0 ? "its scratch output ws has no gradient" : "the mask has no gradient")));
    return;
  }
  if (c.dy[0] < 0) return;
  std::vector<int> ins = {c.in(0), c.in(1), c.in(2), c.dy[0]};
  if (c.in(3) >= 0) ins.push_back(c.in(3));
  const auto g = c.b.op("FusedAttentionGrad", ins, c.n.attrs, 5);
  for (int i = 0; i < 3; ++i)
    if (c.wants(i)) c.dx[i] = g[i];
}

}  // namespace tessera::autodiff
