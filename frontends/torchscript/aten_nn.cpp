// Linear algebra, convolution, normalisation, pooling and attention aten ops.
#include <cmath>

#include "frontends/torchscript/aten_util.h"

namespace tessera::ts_fe {
namespace {

// An int-or-list argument expanded to n spatial dims (kernel_size=3 -> [3, 3]).
StatusOr<std::vector<int64_t>> spatial(Importer& c, const TsVal* x, size_t n,
                                       std::vector<int64_t> dflt) {
  if (!given(x)) return dflt;
  TSR_ASSIGN_OR_RETURN(auto v, c.to_ints(*x));
  if (v.empty()) return dflt;
  if (v.size() == 1) v.assign(n, v[0]);
  if (v.size() != n) return c.fail("expected {} spatial values, got {}", n, v.size());
  return v;
}

std::vector<int64_t> twice(const std::vector<int64_t>& p) {  // torch padding -> ONNX pads
  std::vector<int64_t> out = p;
  out.insert(out.end(), p.begin(), p.end());
  return out;
}

StatusOr<int> optional_tensor(Importer& c, const TsVal* x) {
  if (!given(x)) return -1;
  return c.tensor_arg(x, "optional tensor");
}

// Shared by aten::_convolution and aten::convNd.
struct ConvArgs {
  int x, w, b;
  const TsVal *stride, *padding, *dilation, *groups, *output_padding;
  bool transposed = false;
};

Status conv(Importer& c, const ConvArgs& p, TsVal& out) {
  size_t n = c.shape(p.w).size() - 2;
  if (c.rank(p.w) < 3) return c.fail("convolution weight must have rank >= 3");
  std::vector<int64_t> ones(n, 1), zeros(n, 0);
  Shape ks(c.shape(p.w).begin() + 2, c.shape(p.w).end());
  TSR_ASSIGN_OR_RETURN(auto strides, spatial(c, p.stride, n, ones));
  TSR_ASSIGN_OR_RETURN(auto dil, spatial(c, p.dilation, n, ones));
  std::vector<int64_t> pads;
  if (p.padding && p.padding->kind == TsVal::kStr) {  // conv2d(padding="same" | "valid")
    for (size_t i = 0; i < n; ++i) {
      int64_t total = p.padding->s == "same" ? dil[i] * (ks[i] - 1) : 0;
      pads.push_back(total / 2);
    }
    pads = twice(pads);
    if (p.padding->s == "same") {
      for (size_t i = 0; i < n; ++i) pads[n + i] = dil[i] * (ks[i] - 1) - pads[i];
    }
  } else {
    TSR_ASSIGN_OR_RETURN(auto pd, spatial(c, p.padding, n, zeros));
    pads = twice(pd);
  }
  int64_t groups = 1;
  if (given(p.groups)) {
    TSR_ASSIGN_OR_RETURN(groups, c.to_int(*p.groups));
  }
  AttrMap at{{"kernel_shape", Attr::Ints(ks)},
             {"strides", Attr::Ints(strides)},
             {"pads", Attr::Ints(pads)},
             {"dilations", Attr::Ints(dil)},
             {"group", Attr::Int(groups)}};
  if (p.transposed) {
    TSR_ASSIGN_OR_RETURN(auto op, spatial(c, p.output_padding, n, zeros));
    at["output_padding"] = Attr::Ints(op);
  }
  return set_tensor(c.emit1(p.transposed ? "ConvTranspose" : "Conv", {p.x, p.w, p.b}, at), out);
}

// A per-channel constant for absent affine parameters.
int channel_const(Importer& c, int x, int64_t channels, double v) {
  return c.constant(filled(c.dtype(x), {channels}, v), v == 1 ? "ones" : "zeros");
}

Status pool(Importer& c, const Args& a, const char* op, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  size_t n = c.rank(x) - 2;
  TSR_ASSIGN_OR_RETURN(auto k, spatial(c, a.get(1, "kernel_size"), n, {}));
  if (k.size() != n) return c.fail("{} needs a kernel_size", op);
  TSR_ASSIGN_OR_RETURN(auto s, spatial(c, a.get(2, "stride"), n, k));
  TSR_ASSIGN_OR_RETURN(auto p, spatial(c, a.get(3, "padding"), n, std::vector<int64_t>(n, 0)));
  bool is_max = std::string(op) == "MaxPool";
  const TsVal* ceil = a.get(is_max ? 5 : 4, "ceil_mode");
  AttrMap at{{"kernel_shape", Attr::Ints(k)},
             {"strides", Attr::Ints(s)},
             {"pads", Attr::Ints(twice(p))},
             {"ceil_mode", Attr::Int(given(ceil) && ceil->i ? 1 : 0)}};
  if (is_max) {
    TSR_ASSIGN_OR_RETURN(auto d, spatial(c, a.get(4, "dilation"), n, std::vector<int64_t>(n, 1)));
    at["dilations"] = Attr::Ints(d);
  } else {
    const TsVal* cip = a.get(5, "count_include_pad");
    at["count_include_pad"] = Attr::Int(!given(cip) || cip->i ? 1 : 0);
    if (given(a.get(6, "divisor_override")))
      return c.fail("avg_pool divisor_override is not supported");
  }
  return set_tensor(c.emit1(op, {x}, at), out);
}

}  // namespace

Status cv_identity(Importer& c, const Args& a, TsVal& out) {  // dropout (eval), contiguous, ...
  if (a.pos.empty()) return c.fail("missing argument");
  out = a.pos[0];
  return Status::Ok();
}

// Weights stay in torch's [out, in] layout (so gradients match state_dict names and layouts):
// rank-2 inputs use Gemm(transB=1), others MatMul with a Transpose of the weight.
Status cv_linear(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "input"));
  TSR_ASSIGN_OR_RETURN(int w, arg_tensor(c, a, 1, "weight"));
  TSR_ASSIGN_OR_RETURN(int b, optional_tensor(c, a.get(2, "bias")));
  if (c.rank(x) == 2) {
    std::vector<int> in = {x, w};
    if (b >= 0) in.push_back(b);
    AttrMap at{{"alpha", Attr::Float(1)},
               {"beta", Attr::Float(1)},
               {"transA", Attr::Int(0)},
               {"transB", Attr::Int(1)}};
    return set_tensor(c.emit1("Gemm", in, at), out);
  }
  TSR_ASSIGN_OR_RETURN(int wt, c.emit1("Transpose", {w}, {{"perm", Attr::Ints({1, 0})}}));
  TSR_ASSIGN_OR_RETURN(int y, c.emit1("MatMul", {x, wt}));
  if (b >= 0) {
    TSR_ASSIGN_OR_RETURN(y, c.emit1("Add", {y, b}));
  }
  out = TsVal::Tensor(y);
  return Status::Ok();
}

Status cv_matmul(Importer& c, const Args& a, TsVal& out) {  // matmul, mm, bmm
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int y, arg_tensor(c, a, 1, "other"));
  return set_tensor(c.emit1("MatMul", {x, y}), out);
}

Status cv_addmm(Importer& c, const Args& a, TsVal& out) {  // beta * self + alpha * m1 @ m2
  TSR_ASSIGN_OR_RETURN(int bias, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int m1, arg_tensor(c, a, 1, "mat1"));
  TSR_ASSIGN_OR_RETURN(int m2, arg_tensor(c, a, 2, "mat2"));
  double beta = 1, alpha = 1;
  if (given(a.get(3, "beta"))) {
    TSR_ASSIGN_OR_RETURN(beta, c.to_double(*a.get(3, "beta")));
  }
  if (given(a.get(4, "alpha"))) {
    TSR_ASSIGN_OR_RETURN(alpha, c.to_double(*a.get(4, "alpha")));
  }
  AttrMap at{{"alpha", Attr::Float(alpha)},
             {"beta", Attr::Float(beta)},
             {"transA", Attr::Int(0)},
             {"transB", Attr::Int(0)}};
  return set_tensor(c.emit1("Gemm", {m1, m2, bias}, at), out);
}

Status cv_baddbmm(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int bias, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int m1, arg_tensor(c, a, 1, "batch1"));
  TSR_ASSIGN_OR_RETURN(int m2, arg_tensor(c, a, 2, "batch2"));
  TSR_ASSIGN_OR_RETURN(int p, c.emit1("MatMul", {m1, m2}));
  TsVal prod = TsVal::Tensor(p), b = TsVal::Tensor(bias);
  if (given(a.get(4, "alpha"))) {
    TSR_ASSIGN_OR_RETURN(prod.v, binary_op(c, prod, *a.get(4, "alpha"), "Mul"));
  }
  if (given(a.get(3, "beta"))) {
    TSR_ASSIGN_OR_RETURN(b.v, binary_op(c, b, *a.get(3, "beta"), "Mul"));
  }
  return set_tensor(c.emit1("Add", {b.v, prod.v}), out);
}

Status cv_convolution(Importer& c, const Args& a, TsVal& out) {
  ConvArgs p;
  TSR_ASSIGN_OR_RETURN(p.x, arg_tensor(c, a, 0, "input"));
  TSR_ASSIGN_OR_RETURN(p.w, arg_tensor(c, a, 1, "weight"));
  TSR_ASSIGN_OR_RETURN(p.b, optional_tensor(c, a.get(2, "bias")));
  p.stride = a.get(3, "stride"), p.padding = a.get(4, "padding"), p.dilation = a.get(5, "dilation");
  const TsVal* tr = a.get(6, "transposed");
  p.transposed = given(tr) && tr->i;
  p.output_padding = a.get(7, "output_padding"), p.groups = a.get(8, "groups");
  return conv(c, p, out);
}

Status cv_conv2d(Importer& c, const Args& a, TsVal& out) {  // conv1d, conv2d, conv3d
  ConvArgs p;
  TSR_ASSIGN_OR_RETURN(p.x, arg_tensor(c, a, 0, "input"));
  TSR_ASSIGN_OR_RETURN(p.w, arg_tensor(c, a, 1, "weight"));
  TSR_ASSIGN_OR_RETURN(p.b, optional_tensor(c, a.get(2, "bias")));
  p.stride = a.get(3, "stride"), p.padding = a.get(4, "padding"), p.dilation = a.get(5, "dilation");
  p.groups = a.get(6, "groups"), p.output_padding = nullptr;
  return conv(c, p, out);
}

// Inference form on the running statistics; a module traced in train() mode is refused since
// its batch statistics would silently differ.
Status cv_batch_norm(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "input"));
  if (c.rank(x) < 2) return c.fail("batch_norm input must have rank >= 2");
  int64_t ch = c.shape(x)[1];
  TSR_ASSIGN_OR_RETURN(int w, optional_tensor(c, a.get(1, "weight")));
  TSR_ASSIGN_OR_RETURN(int b, optional_tensor(c, a.get(2, "bias")));
  TSR_ASSIGN_OR_RETURN(int mean, optional_tensor(c, a.get(3, "running_mean")));
  TSR_ASSIGN_OR_RETURN(int var, optional_tensor(c, a.get(4, "running_var")));
  const TsVal* training = a.get(5, "training");
  if ((given(training) && training->i) || mean < 0 || var < 0) {
    return c.fail("batch_norm in training mode (module traced in train()): trace it in eval()");
  }
  double eps = 1e-5;
  if (given(a.get(7, "eps"))) {
    TSR_ASSIGN_OR_RETURN(eps, c.to_double(*a.get(7, "eps")));
  }
  AttrMap attrs = {{"epsilon", Attr::Float(eps)}};
  if (given(a.get(6, "momentum"))) {  // PyTorch weighs the batch by momentum, ONNX the history
    TSR_ASSIGN_OR_RETURN(const double m, c.to_double(*a.get(6, "momentum")));
    attrs["momentum"] = Attr::Float(1 - m);
  }
  if (w < 0) w = channel_const(c, x, ch, 1);
  if (b < 0) b = channel_const(c, x, ch, 0);
  return set_tensor(c.emit1("BatchNormalization", {x, w, b, mean, var}, attrs), out);
}

Status cv_layer_norm(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "input"));
  const TsVal* ns = a.get(1, "normalized_shape");
  if (!ns) return c.fail("layer_norm needs normalized_shape");
  TSR_ASSIGN_OR_RETURN(auto nshape, c.to_ints(*ns));
  TSR_ASSIGN_OR_RETURN(int w, optional_tensor(c, a.get(2, "weight")));
  TSR_ASSIGN_OR_RETURN(int b, optional_tensor(c, a.get(3, "bias")));
  double eps = 1e-5;
  if (given(a.get(4, "eps"))) {
    TSR_ASSIGN_OR_RETURN(eps, c.to_double(*a.get(4, "eps")));
  }
  if (w < 0) w = c.constant(filled(c.dtype(x), nshape, 1), "ones");
  int64_t axis = c.rank(x) - static_cast<int64_t>(nshape.size());
  if (axis < 0) return c.fail("layer_norm normalized_shape longer than the input rank");
  AttrMap at{{"axis", Attr::Int(axis)}, {"epsilon", Attr::Float(eps)}};
  return set_tensor(c.emit1("LayerNormalization", {x, w, b}, at), out);
}

Status cv_group_norm(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "input"));
  TSR_ASSIGN_OR_RETURN(int64_t groups, c.to_int(*a.get(1, "num_groups")));
  TSR_ASSIGN_OR_RETURN(int w, optional_tensor(c, a.get(2, "weight")));
  TSR_ASSIGN_OR_RETURN(int b, optional_tensor(c, a.get(3, "bias")));
  double eps = 1e-5;
  if (given(a.get(4, "eps"))) {
    TSR_ASSIGN_OR_RETURN(eps, c.to_double(*a.get(4, "eps")));
  }
  int64_t ch = c.shape(x)[1];
  if (w < 0) w = channel_const(c, x, ch, 1);
  if (b < 0) b = channel_const(c, x, ch, 0);
  AttrMap at{{"num_groups", Attr::Int(groups)}, {"epsilon", Attr::Float(eps)}};
  return set_tensor(c.emit1("GroupNormalization", {x, w, b}, at), out);
}

Status cv_embedding(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int w, arg_tensor(c, a, 0, "weight"));
  TSR_ASSIGN_OR_RETURN(int idx, arg_tensor(c, a, 1, "indices"));
  return set_tensor(c.emit1("Gather", {w, idx}, {{"axis", Attr::Int(0)}}), out);
}

Status cv_max_pool2d(Importer& c, const Args& a, TsVal& out) { return pool(c, a, "MaxPool", out); }
Status cv_avg_pool2d(Importer& c, const Args& a, TsVal& out) {
  return pool(c, a, "AveragePool", out);
}

// Output 1x1 is GlobalAveragePool; sizes that divide the input are a plain AveragePool.
Status cv_adaptive_avg_pool2d(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  size_t n = c.rank(x) - 2;
  TSR_ASSIGN_OR_RETURN(auto os, spatial(c, a.get(1, "output_size"), n, {}));
  bool global = true;
  std::vector<int64_t> k;
  for (size_t i = 0; i < n && i < os.size(); ++i) {
    int64_t in = c.shape(x)[2 + i];
    global &= os[i] == 1;
    if (os[i] <= 0 || in % os[i] != 0) {
      return c.fail("adaptive_avg_pool output {} does not divide input {}", os[i], in);
    }
    k.push_back(in / os[i]);
  }
  if (global) return set_tensor(c.emit1("GlobalAveragePool", {x}), out);
  AttrMap at{{"kernel_shape", Attr::Ints(k)},
             {"strides", Attr::Ints(k)},
             {"pads", Attr::Ints(std::vector<int64_t>(2 * n, 0))},
             {"ceil_mode", Attr::Int(0)},
             {"count_include_pad", Attr::Int(0)}};
  return set_tensor(c.emit1("AveragePool", {x}, at), out);
}

}  // namespace tessera::ts_fe
