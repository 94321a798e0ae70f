// quantize (infer mode, before spmd-search): calibrate on the float graph, then rewrite every
// eligible MatMul / Gemm / Conv with a weight operand into QuantizeI8 + QMatMulI8 / QConvI8 with
// int8 weights (symmetric per output channel, stored [N,K]: K-contiguous) and either a
// per-tensor static activation scale and zero point (asymmetric when the calibrated range is
// lopsided; the layer then gets the exact int32 correction acc_offset = -zp * sum_k w[n,k]) or,
// for MatMul/Gemm inputs, per-token scales computed at run time (--activation-scales; auto
// measures both on the calibration sets). Options travel as graph meta (module attributes
// tessera.quantize, tessera.calibration, ...), written by record_quantize_options. Every
// interpreter run (calibration, bias correction, the auto comparison) may use a second graph
// of the same structure at smaller dims (--calibration-shape): the reference interpreter at
// bert-large's batch 32 x seq 512 would take hours on a CPU, and every statistic taken is per
// channel (ranges, abs-max, K-index means), which the dims of batch and sequence do not change.
// docs/quantization.md.
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "passes/core/bias_correction.h"
#include "passes/core/calibrate_run.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

// The reference quantizer (kernels/cpu/quant_kernels.h: quantize_value), restated here so the
// compiler's core does not include kernel headers: round half to even, saturate to +-127.
int8_t kernels_quantize(float v, float scale) {
  const float r = std::nearbyint(v / scale);
  if (!(r == r)) return 0;
  return static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
}
// kernels/cpu/quant_kernels.h kMaxKZeroPoint: with a zero point, sum_k (x_k - zp) w_k fits int32
// only for K <= 2^16; longer reductions keep the symmetric grid.
constexpr int64_t kMaxKZeroPoint = int64_t{1} << 16;

struct Options {
  std::string calibration;
  bool auto_method = true;  // "auto": minmax for transformers, percentile otherwise
  core::CalibMethod method = core::CalibMethod::kPercentile;
  double percentile = 99.99;
  double alpha = -1;  // SmoothQuant migration strength; 0 = off, < 0 = auto (outlier channels)
  std::string act_scales = "auto";  // auto | tensor | token: activation scale granularity
  std::vector<std::string> keep_float;
};

// Auto smoothing: an activation whose largest channel abs-max is this many times its median
// channel's has outlier channels (LLM.int8 and SmoothQuant describe ~10-100x in trained LLMs);
// only those are smoothed, with SmoothQuant's alpha.
constexpr double kOutlierRatio = 8.0;
constexpr double kAutoAlpha = 0.5;

StatusOr<Options> read_options(const ir::Graph& g) {
  Options o;
  o.calibration = attr_str(g.meta, "calibration", "");
  if (o.calibration.empty()) return InvalidArgument("quantize: --calibration DIR is required");
  const std::string method = attr_str(g.meta, "calibration_method", "auto");
  o.auto_method = method == "auto";
  if (!o.auto_method) {
    TSR_ASSIGN_OR_RETURN(o.method, core::parse_calib_method(method));
  }
  o.percentile = attr_float(g.meta, "calibration_percentile", 99.99);
  if (!(o.percentile > 0 && o.percentile <= 100))
    return InvalidArgument("quantize: percentile must be in (0, 100]");
  o.alpha = attr_float(g.meta, "smooth_alpha", -1.0);
  if (o.alpha > 1) return InvalidArgument("quantize: --smooth-alpha must be in [0, 1] (or auto)");
  o.act_scales = attr_str(g.meta, "activation_scales", "auto");
  if (o.act_scales != "auto" && o.act_scales != "tensor" && o.act_scales != "token")
    return InvalidArgument("quantize: --activation-scales '" + o.act_scales +
                           "': expected auto, tensor or token");
  o.keep_float = attr_strs(g.meta, "keep_float");
  return o;
}

// A rewrite candidate: node index, its activation operand x, float weight [N,K] (K-contiguous),
// the weight's value id and an optional [N] bias.
struct Candidate {
  int node = -1;
  int x = -1;
  int weight = -1;
  int64_t N = 0, K = 0;     // K: the reduction per output channel (Cg*kh*kw for Conv)
  std::vector<float> w;     // [N, K], alpha folded in (Gemm)
  std::vector<float> bias;  // [N] or empty
  bool conv = false;
  bool bias_added = false;  // the bias exists only for bias correction
};

bool is_layer_op(const std::string& op) {
  return op == "MatMul" || op == "Gemm" || op == "Conv" || op == "ConvTranspose";
}

const ir::TensorData* weight_data(const ir::Graph& g, int v) {
  if (v < 0) return nullptr;
  const ir::Value& val = g.values[v];
  if (val.kind != ir::ValueKind::kWeight && val.kind != ir::ValueKind::kConstant) return nullptr;
  if (!val.data || val.dtype != DType::kFloat32) return nullptr;
  return val.data.get();
}

// Fills c from node n when n is quantizable; false (not an error) otherwise.
bool make_candidate(const ir::Graph& g, int idx, Candidate* c) {
  const ir::Node& n = g.nodes[idx];
  if (n.inputs.size() < 2 || n.inputs[0] < 0) return false;
  const ir::Value& x = g.values[n.inputs[0]];
  const ir::TensorData* w = weight_data(g, n.inputs[1]);
  if (x.dtype != DType::kFloat32 || !w || x.kind == ir::ValueKind::kWeight) return false;
  c->node = idx;
  c->x = n.inputs[0];
  c->weight = n.inputs[1];
  const float* wd = w->as<float>();
  int bias_in = -1;
  float alpha = 1, beta = 1;
  if (n.op == "MatMul" || n.op == "Gemm") {
    if (w->shape.size() != 2 || x.shape.size() < 2) return false;
    const bool tb = n.op == "Gemm" && attr_int(n.attrs, "transB", 0) != 0;
    if (n.op == "Gemm") {
      if (attr_int(n.attrs, "transA", 0) != 0) return false;
      alpha = static_cast<float>(attr_float(n.attrs, "alpha", 1.0));
      beta = static_cast<float>(attr_float(n.attrs, "beta", 1.0));
      bias_in = n.inputs.size() > 2 ? n.inputs[2] : -1;
    }
    c->K = w->shape[tb ? 1 : 0];
    c->N = w->shape[tb ? 0 : 1];
    c->w.resize(static_cast<size_t>(c->N * c->K));
    for (int64_t k = 0; k < c->K; ++k)
      for (int64_t j = 0; j < c->N; ++j)
        c->w[j * c->K + k] = alpha * (tb ? wd[j * c->K + k] : wd[k * c->N + j]);
  } else if (n.op == "Conv") {
    if (w->shape.size() != 4 || x.shape.size() != 4) return false;
    c->conv = true;
    c->N = w->shape[0];
    c->K = w->numel() / std::max<int64_t>(c->N, 1);
    c->w.assign(wd, wd + w->numel());
    bias_in = n.inputs.size() > 2 ? n.inputs[2] : -1;
  } else {
    return false;
  }
  if (bias_in >= 0) {
    const ir::TensorData* b = weight_data(g, bias_in);
    if (!b || b->numel() != c->N || (b->shape.size() > 1 && b->shape[0] != 1)) return false;
    c->bias.assign(b->as<float>(), b->as<float>() + c->N);
    for (float& v : c->bias) v *= beta;
  }
  return true;
}

bool kept_float(const Options& o, const ir::Graph& g, const Candidate& c) {
  for (const auto& pat : o.keep_float) {
    if (fnmatch(pat.c_str(), g.nodes[c.node].name.c_str(), 0) == 0) return true;
    if (fnmatch(pat.c_str(), g.values[c.weight].name.c_str(), 0) == 0) return true;
  }
  return false;
}

// Layers are MatMul/Gemm/Conv nodes with exactly one operand that depends on a graph input;
// the first and the last stay float (they see raw inputs and produce the logits).
std::vector<Candidate> select(const Options& o, const ir::Graph& g) {
  std::vector<bool> dynamic(g.values.size(), false);
  for (int v : g.inputs) dynamic[v] = true;
  std::vector<int> layers;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    bool dyn = false;
    for (int v : n.inputs) dyn = dyn || (v >= 0 && dynamic[v]);
    for (int v : n.outputs) dynamic[v] = dyn;
    if (is_layer_op(n.op) && n.inputs.size() >= 2 && n.inputs[0] >= 0 && n.inputs[1] >= 0 &&
        dynamic[n.inputs[0]] != dynamic[n.inputs[1]])
      layers.push_back(static_cast<int>(i));
  }
  std::vector<Candidate> out;
  for (size_t l = 1; l + 1 < layers.size(); ++l) {
    Candidate c;
    if (make_candidate(g, layers[l], &c) && !kept_float(o, g, c)) out.push_back(std::move(c));
  }
  return out;
}

// Is x (through view ops) the output of a LayerNormalization? Transformers feed their QKV and
// first MLP projections this way; CNNs never do.
bool layernorm_fed(const ir::Graph& g, const std::vector<int>& producer, int x) {
  for (int v = x; v >= 0 && producer[v] >= 0;) {
    const ir::Node& n = g.nodes[producer[v]];
    if (n.op == "LayerNormalization") return true;
    const bool view = n.op == "Reshape" || n.op == "Transpose" || n.op == "Squeeze" ||
                      n.op == "Unsqueeze" || n.op == "Flatten" || n.op == "Identity";
    if (!view || n.inputs.empty()) return false;
    v = n.inputs[0];
  }
  return false;
}

// The calibration method "auto" picks (docs/quantization.md): a model with a LayerNorm-fed
// MatMul/Gemm (a transformer) keeps its activations' extremes (minmax), any other model clips the
// far tail (percentile). Decided on the whole graph, so --keep-float does not change it.
core::CalibMethod auto_method(const ir::Graph& g) {
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].outputs)
      if (v >= 0) producer[v] = static_cast<int>(i);
  for (const ir::Node& n : g.nodes)
    if ((n.op == "MatMul" || n.op == "Gemm") && !n.inputs.empty() &&
        layernorm_fed(g, producer, n.inputs[0]))
      return core::CalibMethod::kMinMax;
  return core::CalibMethod::kPercentile;
}

// SmoothQuant: s_k = amax_x(k)^alpha / amax_w(k)^(1-alpha) over every weight reading x; x / s is
// quantized (QuantizeI8's smooth_inv) and W * s is (the weight rows of channel k). alpha < 0
// (auto) smooths only activations with outlier channels.
void smooth(const Options& o, std::vector<Candidate>& cands, std::map<int, core::TensorCalib>& st) {
  std::map<int, std::vector<Candidate*>> by_x;
  for (Candidate& c : cands)
    if (!c.conv) by_x[c.x].push_back(&c);
  for (auto& [x, group] : by_x) {
    core::TensorCalib& t = st.at(x);
    const double alpha =
        o.alpha >= 0
            ? o.alpha
            : (core::channel_outlier_ratio(t.chan_absmax) >= kOutlierRatio ? kAutoAlpha : 0);
    if (!(alpha > 0)) continue;
    t.smooth_alpha = alpha;
    const int64_t K = group[0]->K;
    std::vector<double> wmax(static_cast<size_t>(K), 0.0);
    for (Candidate* c : group)
      for (int64_t j = 0; j < c->N; ++j)
        for (int64_t k = 0; k < K; ++k)
          wmax[k] = std::max(wmax[k], std::fabs(static_cast<double>(c->w[j * K + k])));
    t.smooth_inv.resize(static_cast<size_t>(K));
    std::vector<float> s(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) {
      const double xs = std::max(t.chan_absmax[k], 1e-5), ws = std::max(wmax[k], 1e-5);
      const double sk = std::clamp(std::pow(xs, alpha) / std::pow(ws, 1 - alpha), 1e-4, 1e4);
      s[k] = static_cast<float>(sk);
      t.smooth_inv[k] = static_cast<float>(1.0 / sk);
    }
    for (Candidate* c : group)
      for (int64_t j = 0; j < c->N; ++j)
        for (int64_t k = 0; k < K; ++k) c->w[j * K + k] *= s[k];
  }
}

int add_weight(ir::Graph& g, const std::string& name, DType t, Shape shape, const void* data) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = t;
  d->shape = shape;
  d->bytes.resize(static_cast<size_t>(num_elements(shape) * dtype_size(t)));
  std::memcpy(d->bytes.data(), data, d->bytes.size());
  ir::Value v;
  v.name = name;
  v.dtype = t;
  v.shape = std::move(shape);
  v.kind = ir::ValueKind::kWeight;
  v.data = std::move(d);
  return g.add_value(std::move(v));
}

std::string fmt_g(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

struct Totals {
  int64_t ops = 0, f32 = 0, int8 = 0, scales = 0;
};

// The quantized activation a layer reads: its int8 value and static grid, or per-token (its
// scales computed at run time: the row scales value, no grid).
struct QuantX {
  int value = -1;
  core::ActGrid grid;
  double amax = 0;
  bool per_token = false;
  int row_scales = -1;  // per-token: the f32 [rows] value QuantizeI8 writes
};

// -zp * sum_k q[n,k] per output channel: removes the zero point from the int32 accumulator
// exactly (|.| <= 128 * 127 * K fits int32 for K <= 2^16).
std::vector<int32_t> acc_offsets(const std::vector<int8_t>& q, int64_t N, int64_t K, int32_t zp) {
  std::vector<int32_t> off(static_cast<size_t>(N));
  for (int64_t j = 0; j < N; ++j) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += q[j * K + k];
    off[j] = -zp * s;
  }
  return off;
}

// Symmetric per-output-channel int8 weight: ws[n] = max_k |w[n,k]| / 127.
void quantize_weight(const Candidate& c, std::vector<int8_t>* q, std::vector<float>* ws) {
  q->resize(c.w.size());
  ws->resize(static_cast<size_t>(c.N));
  for (int64_t j = 0; j < c.N; ++j) {
    float amax = 0;
    for (int64_t k = 0; k < c.K; ++k) amax = std::max(amax, std::fabs(c.w[j * c.K + k]));
    (*ws)[j] = amax > 0 ? amax / 127.0f : 1.0f;
    for (int64_t k = 0; k < c.K; ++k)
      (*q)[j * c.K + k] = kernels_quantize(c.w[j * c.K + k], (*ws)[j]);
  }
}

// The input taps of a 2-D Conv candidate; false when its geometry is not plain (auto_pad).
bool conv_taps(const ir::Graph& g, const Candidate& c, core::ConvTaps* t) {
  const ir::Node& n = g.nodes[c.node];
  if (attr_str(n.attrs, "auto_pad", "NOTSET") != "NOTSET") return false;
  const Shape &x = g.values[c.x].shape, &w = g.values[c.weight].shape;
  const Shape& y = g.values[n.outputs[0]].shape;
  const auto st = attr_ints(n.attrs, "strides", {1, 1}),
             dl = attr_ints(n.attrs, "dilations", {1, 1});
  const auto pd = attr_ints(n.attrs, "pads", {0, 0, 0, 0});
  if (x.size() != 4 || y.size() != 4 || st.size() != 2 || dl.size() != 2 || pd.size() != 4)
    return false;
  *t = {x[0], x[1], x[2], x[3], w[2], w[3], y[2], y[3], st[0], st[1], dl[0], dl[1], pd[0], pd[1]};
  return true;
}

// Empirical bias correction (passes/core/bias_correction.h): one more float run per calibration
// set; each layer's bias absorbs the mean shift its int8 input and weight cause. Layers without
// a bias get one (N floats).
Status correct_biases(const ir::Graph& g, const std::vector<core::Feeds>& sets,
                      std::vector<Candidate>& cands, const std::map<int, QuantX>& xq,
                      const std::map<int, core::TensorCalib>& stats) {
  std::vector<core::InputMeans> means;
  std::vector<core::ConvTaps> taps(cands.size());
  std::vector<bool> ok(cands.size(), true);
  for (size_t i = 0; i < cands.size(); ++i) {
    const Candidate& c = cands[i];
    if (c.conv) ok[i] = conv_taps(g, c, &taps[i]);
    means.emplace_back(c.conv ? taps[i].C * taps[i].kh * taps[i].kw : c.K);
  }
  auto fq_of = [&](const Candidate& c) {
    const QuantX& q = xq.at(c.x);
    const core::TensorCalib& t = stats.at(c.x);
    return core::FakeQuant{q.grid.scale, q.per_token ? 0 : q.grid.zero_point,
                           t.smooth_inv.empty() ? nullptr : t.smooth_inv.data(), q.per_token};
  };
  TSR_RETURN_IF_ERROR(core::for_each_set(g, sets, [&](const std::vector<ir::TensorData>& vals) {
    for (size_t i = 0; i < cands.size(); ++i) {
      if (!ok[i]) continue;
      const ir::TensorData& d = vals[cands[i].x];
      if (cands[i].conv)
        core::add_conv_means(d.as<float>(), taps[i], fq_of(cands[i]), &means[i]);
      else
        core::add_matmul_means(d.as<float>(), d.numel() / cands[i].K, cands[i].K, fq_of(cands[i]),
                               &means[i]);
    }
  }));
  for (size_t i = 0; i < cands.size(); ++i) {
    Candidate& c = cands[i];
    if (!ok[i]) continue;
    std::vector<int8_t> q;
    std::vector<float> ws, wq(c.w.size());
    quantize_weight(c, &q, &ws);
    for (int64_t j = 0; j < c.N; ++j)
      for (int64_t k = 0; k < c.K; ++k) wq[j * c.K + k] = q[j * c.K + k] * ws[j];
    const int64_t groups = c.conv ? attr_int(g.nodes[c.node].attrs, "group", 1) : 1;
    const std::vector<double> d = core::mean_shift(means[i], c.w, wq, c.N, c.K, groups);
    if (c.bias.empty()) {
      c.bias.assign(static_cast<size_t>(c.N), 0.0f);
      c.bias_added = true;
    }
    for (int64_t j = 0; j < c.N; ++j) c.bias[j] = static_cast<float>(c.bias[j] - d[j]);
  }
  return Status::Ok();
}

// The inspect line of a rewritten layer (graph meta quant.<node>): its activation scales
// (act_scales=tensor: the static grid and where it came from; act_scales=token: computed per
// row at run time, the calibrated range for reference), weight scales and calibration.
std::string meta_line(const std::string& op, const QuantX& xq, const core::TensorCalib& t,
                      const std::vector<float>& ws, const Options& o) {
  const auto [wmin, wmax] = std::minmax_element(ws.begin(), ws.end());
  const std::string range = "range=[" + fmt_g(t.range.min) + "," + fmt_g(t.range.max) + "]";
  const std::string w = " w_scale=[" + fmt_g(*wmin) + "," + fmt_g(*wmax) + "]";
  std::string act;
  if (xq.per_token) {  // the calibration method has nothing to clip here
    act = " act_scales=token x_scale=max|row|/127 " + range + w;
  } else {
    const core::ActGrid& grid = xq.grid;
    act = " act_scales=tensor x_scale=" + fmt_g(grid.scale) +
          " zero_point=" + std::to_string(grid.zero_point) + " " + range + " clip=[" +
          fmt_g(grid.lo) + "," + fmt_g(grid.hi) + "] amax=" + fmt_g(xq.amax) + w +
          " method=" + core::calib_method_name(o.method);
  }
  return op + act + " outlier_ratio=" + fmt_g(core::channel_outlier_ratio(t.chan_absmax)) +
         (t.smooth_inv.empty() ? "" : " smooth_alpha=" + fmt_g(t.smooth_alpha));
}

// The layer's activation-scale inputs and attributes. Per token: the row scales at input 5
// (the bias and acc_offset slots may be absent). Per tensor: x_scale and, for an asymmetric
// grid, x_zero_point with the int32 acc_offset at input 4 (N more int32s, booked as scales).
void act_scale_inputs(ir::Graph& g, const Candidate& c, const QuantX& xq,
                      const std::vector<int8_t>& q, const std::string& base,
                      std::vector<int>& inputs, AttrMap& attrs, Totals& tot) {
  if (xq.per_token) {
    inputs.resize(5, -1);
    inputs.push_back(xq.row_scales);
    attrs["per_token"] = Attr::Int(1);
    return;
  }
  const core::ActGrid& grid = xq.grid;
  if (grid.zero_point != 0) {
    if (c.bias.empty()) inputs.push_back(-1);
    const std::vector<int32_t> off = acc_offsets(q, c.N, c.K, grid.zero_point);
    inputs.push_back(add_weight(g, base + ".acc_offset", DType::kInt32, {c.N}, off.data()));
    attrs["x_zero_point"] = Attr::Int(grid.zero_point);
    tot.scales += c.N * 4;
  }
  attrs["x_scale"] = Attr::Float(grid.scale);
  attrs["calib_amax"] = Attr::Float(xq.amax);
}

// Replaces node c.node in place by the quantized op reading xq; returns the meta line.
std::string rewrite(ir::Graph& g, const Candidate& c, const QuantX& xq, const core::TensorCalib& t,
                    const Options& o, Totals& tot) {
  ir::Node& n = g.nodes[c.node];
  const std::string wname = g.values[c.weight].name;
  std::vector<int8_t> q;
  std::vector<float> ws;
  quantize_weight(c, &q, &ws);

  Shape wshape = c.conv ? g.values[c.weight].shape : Shape{c.N, c.K};
  const std::string base = n.name + "." + wname;
  const int wq = add_weight(g, base + ".int8", DType::kInt8, wshape, q.data());
  const int wsv = add_weight(g, base + ".w_scale", DType::kFloat32, {c.N}, ws.data());
  std::vector<int> inputs = {xq.value, wq, wsv};
  if (!c.bias.empty())
    inputs.push_back(add_weight(g, base + ".bias", DType::kFloat32, {c.N}, c.bias.data()));
  if (c.bias_added) tot.scales += c.N * 4;  // per-channel like w_scale: booked with the scales
  AttrMap attrs;
  if (c.conv) {
    attrs = n.attrs;
    attrs.erase("name");
  }
  act_scale_inputs(g, c, xq, q, base, inputs, attrs, tot);
  attrs["calib_range"] = Attr::Floats({t.range.min, t.range.max});
  n.op = c.conv ? "QConvI8" : "QMatMulI8";
  n.inputs = inputs;
  n.attrs = attrs;
  tot.ops += 1;
  tot.f32 += c.N * c.K * 4;
  tot.int8 += c.N * c.K;
  tot.scales += c.N * 4;
  return meta_line(n.op, xq, t, ws, o);
}

}  // namespace

void record_quantize_options(const QuantizeOptions& q, ir::Graph& g) {
  if (q.type.empty()) return;
  g.meta["quantize"] = Attr::Str(q.type);
  g.meta["calibration"] = Attr::Str(q.calibration);
  g.meta["calibration_method"] = Attr::Str(q.method);
  g.meta["calibration_percentile"] = Attr::Float(q.percentile);
  g.meta["smooth_alpha"] = Attr::Float(q.smooth_alpha);
  g.meta["activation_scales"] = Attr::Str(q.activation_scales);
  if (!q.keep_float.empty()) g.meta["keep_float"] = Attr::Strs(q.keep_float);
}

namespace {

// What calibration decided, shared by every activation-scale granularity: the layers, their
// inputs' statistics (after smoothing) and static grids.
struct Calibrated {
  std::vector<Candidate> cands;
  std::map<int, core::TensorCalib> stats;
  std::map<int, QuantX> xq;  // x -> static grid; value ids are set by build()
  std::vector<core::Feeds> sets;
  // The graph the interpreter runs: the plan's, or its twin at the calibration shape (same
  // node indices and value ids, other activation dims).
  const ir::Graph* run = nullptr;
};

StatusOr<Calibrated> calibrate(const ir::Graph& g, Options& o) {
  Calibrated cal;
  cal.run = &g;
  cal.cands = select(o, g);
  if (o.auto_method) o.method = auto_method(g);
  TSR_ASSIGN_OR_RETURN(cal.sets, core::load_calibration_sets(o.calibration, g));
  for (const Candidate& c : cal.cands) cal.stats[c.x];
  TSR_RETURN_IF_ERROR(core::collect_ranges(g, cal.sets, cal.stats));
  if (o.alpha != 0) smooth(o, cal.cands, cal.stats);
  TSR_RETURN_IF_ERROR(
      core::collect_histograms(g, cal.sets, cal.stats, o.method != core::CalibMethod::kMinMax));
  std::map<int, int64_t> max_k;  // x -> its readers' longest reduction
  for (const Candidate& c : cal.cands) max_k[c.x] = std::max(max_k[c.x], c.K);
  for (const auto& [x, k] : max_k) {
    const core::TensorCalib& t = cal.stats.at(x);
    QuantX& qx = cal.xq[x];
    qx.amax = core::calibrated_amax(o.method, t.range, t.hist.get(), o.percentile);
    qx.grid = core::activation_grid(t.range, qx.amax, k <= kMaxKZeroPoint);
  }
  return cal;
}

// Activations that can take per-token scales: read only by MatMul/Gemm layers (a row of a
// Conv's NCHW input is not a token; QConvI8 has no per-token form).
std::set<int> token_candidates(const Calibrated& cal) {
  std::set<int> ok, conv;
  for (const Candidate& c : cal.cands) (c.conv ? conv : ok).insert(c.x);
  for (int x : conv) ok.erase(x);
  return ok;
}

// The QuantizeI8 of activation x, adding its int8 value (and, per-token, its f32 row scales
// [rows]: x's shape without K) to g and recording their ids in qx.
ir::Node quantize_node(ir::Graph& g, int x, const core::TensorCalib& t, QuantX& qx) {
  const ir::Value& xv = g.values[x];
  ir::Value v = xv;
  v.name += ".int8";
  v.dtype = DType::kInt8;
  v.kind = ir::ValueKind::kActivation;
  v.data = nullptr;
  ir::Value rs = v;
  rs.name = xv.name + ".row_scale";
  rs.dtype = DType::kFloat32;
  rs.shape.pop_back();
  ir::Node qn;
  qn.name = xv.name + ".quantize";
  qn.op = "QuantizeI8";
  qn.inputs = {x};
  if (!t.smooth_inv.empty()) {
    const int64_t K = static_cast<int64_t>(t.smooth_inv.size());
    qn.inputs.push_back(
        add_weight(g, xv.name + ".smooth_inv", DType::kFloat32, {K}, t.smooth_inv.data()));
  }
  qx.value = g.add_value(std::move(v));
  qn.outputs = {qx.value};
  if (qx.per_token) {
    qx.row_scales = g.add_value(std::move(rs));
    qn.outputs.push_back(qx.row_scales);
    qn.attrs["per_token"] = Attr::Int(1);
    return qn;
  }
  qn.attrs["scale"] = Attr::Float(qx.grid.scale);
  if (qx.grid.zero_point != 0) qn.attrs["zero_point"] = Attr::Int(qx.grid.zero_point);
  return qn;
}

// Rewrites g: activations in `per_token` get per-token scales, the others their static grid;
// bias correction (one float run per calibration set), one QuantizeI8 per activation shared by
// its readers (Q, K and V read one x), the layers, and the quant meta.
Status build(ir::Graph& g, const Calibrated& cal, const std::set<int>& per_token,
             const Options& o) {
  std::vector<Candidate> cands = cal.cands;
  std::map<int, QuantX> xq = cal.xq;
  for (auto& [x, qx] : xq) qx.per_token = per_token.count(x) > 0;
  std::map<int, ir::Node> quant_nodes;  // first reader's node index -> QuantizeI8
  for (const Candidate& c : cands) {
    QuantX& qx = xq.at(c.x);
    if (qx.value < 0) quant_nodes[c.node] = quantize_node(g, c.x, cal.stats.at(c.x), qx);
  }
  TSR_RETURN_IF_ERROR(correct_biases(*cal.run, cal.sets, cands, xq, cal.stats));
  Totals tot;
  for (const Candidate& c : cands)
    g.meta["quant." + g.nodes[c.node].name] =
        Attr::Str(rewrite(g, c, xq.at(c.x), cal.stats.at(c.x), o, tot));
  std::vector<ir::Node> old = std::move(g.nodes);
  g.nodes.clear();
  for (size_t i = 0; i < old.size(); ++i) {
    auto it = quant_nodes.find(static_cast<int>(i));
    if (it != quant_nodes.end()) g.add_node(std::move(it->second));
    g.add_node(std::move(old[i]));
  }
  g.prune();
  g.meta["quant_ops"] = Attr::Int(tot.ops);
  g.meta["quant_weight_bytes_f32"] = Attr::Int(tot.f32);
  g.meta["quant_weight_bytes_int8"] = Attr::Int(tot.int8);
  g.meta["quant_scale_bytes"] = Attr::Int(tot.scales);
  g.meta["quant_summary"] = Attr::Str(
      std::to_string(tot.ops) + " ops quantized; their weights " + std::to_string(tot.int8) +
      " int8 bytes + " + std::to_string(tot.scales) + " scale bytes for " +
      std::to_string(tot.f32) + " f32 bytes; " + std::to_string(cal.sets.size()) +
      " calibration sets, " + core::calib_method_name(o.method) + (o.auto_method ? " (auto)" : ""));
  return Status::Ok();
}

std::string pct(double v) {
  std::ostringstream s;
  s.precision(3);
  s << 100 * v << "%";
  return s.str();
}

// --activation-scales auto: the model is quantized both ways and each runs the calibration sets
// on the interpreter; per-token is kept when it lowers the relative L2 error of the outputs
// against float (docs/quantization.md, "Defaults"). Cost: one more bias-correction run and three
// interpreter runs (float, both quantized graphs) per calibration set; with a calibration-shape
// twin both candidates are built and measured there, and the choice is built once more on g
// (one more bias-correction run).
Status build_auto(ir::Graph& g, const Calibrated& cal, const std::set<int>& tokens,
                  const Options& o) {
  const ir::Graph& run = *cal.run;
  ir::Graph tensor = run, token = run;
  TSR_RETURN_IF_ERROR(build(tensor, cal, {}, o));
  TSR_RETURN_IF_ERROR(build(token, cal, tokens, o));
  TSR_ASSIGN_OR_RETURN(std::vector<double> err,
                       core::output_rel_l2(run, {&tensor, &token}, cal.sets));
  const bool per_token = err[1] < err[0];
  if (&run == &g)
    g = std::move(per_token ? token : tensor);
  else
    TSR_RETURN_IF_ERROR(build(g, cal, per_token ? tokens : std::set<int>{}, o));
  g.meta["quant_activation_scales"] =
      Attr::Str(std::string(per_token ? "token" : "tensor") +
                " (auto: calibration outputs' relative L2 against float, tensor " + pct(err[0]) +
                ", token " + pct(err[1]) + ")");
  return Status::Ok();
}

}  // namespace

namespace {

Status quantize(ir::Graph& g, PipelineContext& ctx, const ir::Graph* calibration_graph) {
  const std::string type = attr_str(g.meta, "quantize", "");
  if (type.empty()) return Status::Ok();
  if (type != "int8") return InvalidArgument("--quantize '" + type + "': only int8 is implemented");
  if (ctx.mode != "infer") return InvalidArgument("--quantize needs --mode infer");
  TSR_ASSIGN_OR_RETURN(Options o, read_options(g));
  TSR_ASSIGN_OR_RETURN(Calibrated cal, calibrate(calibration_graph ? *calibration_graph : g, o));
  std::set<int> tokens = o.act_scales == "tensor" ? std::set<int>{} : token_candidates(cal);
  if (o.act_scales == "auto" && !tokens.empty()) return build_auto(g, cal, tokens, o);
  TSR_RETURN_IF_ERROR(build(g, cal, tokens, o));
  g.meta["quant_activation_scales"] =
      Attr::Str(std::string(tokens.empty() ? "tensor" : "token") +
                (o.act_scales == "auto" ? " (auto: no MatMul/Gemm layer)" : ""));
  return Status::Ok();
}

}  // namespace

Status run_quantize(ir::Graph& g, PipelineContext& ctx) { return quantize(g, ctx, nullptr); }

Status run_quantize(ir::Graph& g, PipelineContext& ctx, const ir::Graph& calibration_graph) {
  return quantize(g, ctx, &calibration_graph);
}

}  // namespace tessera::passes
