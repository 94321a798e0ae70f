// The CPU kernel table: one explicit list sorted by op name (checked by a unit test), looked up
// by binary search. No static registration: adding a kernel means adding a line here.
#include <algorithm>
#include <cstring>

#include "cpu/attention_kernels.h"
#include "cpu/kernel_util.h"
#include "cpu/quant_kernels.h"
#include "cpu/train_kernels.h"

namespace tessera::kernels {

const std::vector<KernelEntry>& cpu_kernel_table() {
  using namespace cpu;  // NOLINT
  static const std::vector<KernelEntry> table = {
      {"Abs", Abs},
      {"Add", Add},
      {"And", And},
      {"AveragePool", AveragePool},
      {"BatchNormalization", BatchNormalization},
      {"Cast", Cast},
      {"Ceil", Ceil},
      {"Clip", Clip},
      {"Concat", Concat},
      {"Conv", Conv},
      {"ConvTranspose", ConvTranspose},
      {"Cos", Cos},
      {"CumSum", CumSum},
      {"Div", Div},
      {"Equal", Equal},
      {"Erf", Erf},
      {"Exp", Exp},
      {"Expand", Expand},
      {"Flatten", Flatten},
      {"Floor", Floor},
      {"Gather", Gather},
      {"GatherElements", GatherElements},
      {"GatherND", GatherND},
      {"Gelu", Gelu},
      {"Gemm", Gemm},
      {"GlobalAveragePool", GlobalAveragePool},
      {"Greater", Greater},
      {"GreaterOrEqual", GreaterOrEqual},
      {"GroupNormalization", GroupNormalization},
      {"Identity", Identity},
      {"IsNaN", IsNaN},
      {"LayerNormalization", LayerNormalization},
      {"LeakyRelu", LeakyRelu},
      {"Less", Less},
      {"LessOrEqual", LessOrEqual},
      {"Log", Log},
      {"LogSoftmax", LogSoftmax},
      {"MatMul", MatMul},
      {"Max", Max},
      {"MaxPool", MaxPool},
      {"Min", Min},
      {"Mul", Mul},
      {"Neg", Neg},
      {"Not", Not},
      {"Or", Or},
      {"Pad", Pad},
      {"Pow", Pow},
      {"Reciprocal", Reciprocal},
      {"ReduceMax", ReduceMax},
      {"ReduceMean", ReduceMean},
      {"ReduceMin", ReduceMin},
      {"ReduceProd", ReduceProd},
      {"ReduceSum", ReduceSum},
      {"Relu", Relu},
      {"Reshape", Reshape},
      {"Sigmoid", Sigmoid},
      {"Sin", Sin},
      {"Slice", Slice},
      {"Softmax", Softmax},
      {"Split", Split},
      {"Sqrt", Sqrt},
      {"Squeeze", Squeeze},
      {"Sub", Sub},
      {"Tanh", Tanh},
      {"Tile", Tile},
      {"Transpose", Transpose},
      {"Trilu", Trilu},
      {"Unsqueeze", Unsqueeze},
      {"Where", Where},
  };
  return table;
}

KernelFn find_in_table(const std::vector<KernelEntry>& t, std::string_view op) {
  auto it = std::lower_bound(t.begin(), t.end(), op, [](const KernelEntry& e, std::string_view o) {
    return std::string_view(e.op) < o;
  });
  return it != t.end() && std::string_view(it->op) == op ? it->fn : nullptr;
}

KernelFn find_cpu_kernel(std::string_view op) {
  if (KernelFn fn = find_in_table(cpu_kernel_table(), op)) return fn;
  if (KernelFn fn = find_cpu_train_kernel(op)) return fn;  // training ops (train_table.cpp)
  if (KernelFn fn = find_cpu_quant_kernel(op)) return fn;  // quantized ops (quant_table.cpp)
  return find_cpu_attention_kernel(op);                    // fused attention (attention.cpp)
}

namespace {
// Checks every kernel relies on: sane shapes and buffers present where elements exist.
Status check_refs(const std::vector<TensorRef>& v, const char* kind) {
  for (size_t i = 0; i < v.size(); ++i) {
    const TensorRef& t = v[i];
    if (!t.present()) continue;
    for (int64_t d : t.shape) {
      if (d < 0)
        return InvalidArgument(std::string(kind) + " " + std::to_string(i) +
                               " has negative dim in " + shape_str(t.shape));
    }
    if (dtype_size(t.dtype) == 0) {
      return Unimplemented(std::string(kind) + " " + std::to_string(i) + " has dtype " +
                           dtype_name(t.dtype));
    }
    if (t.data == nullptr && t.numel() > 0) {
      return InvalidArgument(std::string(kind) + " " + std::to_string(i) + " has no buffer");
    }
  }
  return Status::Ok();
}
}  // namespace

namespace {
bool is_16bit(DType t) { return t == DType::kBFloat16 || t == DType::kFloat16; }

// Ops that take 16-bit operands themselves: Cast converts them; the fused attention kernels
// round their scratch to the 16-bit dtype, which they cannot once it is widened to f32.
bool takes_16bit(std::string_view op) {
  return op == "Cast" || op == "FusedAttention" || op == "FusedAttentionGrad";
}
}  // namespace

// Cost: one widening copy per 16-bit input and one rounding pass per 16-bit output.
Status cpu::run_widened(KernelFn fn, const AttrMap& attrs, const std::vector<TensorRef>& in,
                        const std::vector<TensorRef>& out) {
  std::vector<std::vector<float>> tmp(in.size() + out.size());
  std::vector<TensorRef> win = in, wout = out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!is_16bit(in[i].dtype)) continue;
    tmp[i].resize(static_cast<size_t>(in[i].numel()));
    widen_16bit(in[i].dtype, in[i].data, tmp[i].data(), in[i].numel());
    win[i].dtype = DType::kFloat32;
    win[i].data = tmp[i].data();
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (!is_16bit(out[i].dtype)) continue;
    std::vector<float>& t = tmp[in.size() + i];
    t.resize(static_cast<size_t>(out[i].numel()));
    wout[i].dtype = DType::kFloat32;
    wout[i].data = t.data();
  }
  TSR_RETURN_IF_ERROR(fn(attrs, win, wout));
  for (size_t i = 0; i < out.size(); ++i)
    if (is_16bit(out[i].dtype))
      narrow_16bit(out[i].dtype, tmp[in.size() + i].data(), out[i].data, out[i].numel());
  return Status::Ok();
}

void widen_16bit(DType t, const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  if (t == DType::kBFloat16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = cpu::bf16_bits_to_float(s[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = cpu::half_bits_to_float(s[i]);
  }
}

void narrow_16bit(DType t, const float* src, void* dst, int64_t n) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  if (t == DType::kBFloat16) {
    for (int64_t i = 0; i < n; ++i) d[i] = cpu::float_to_bf16_bits(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = cpu::float_to_half_bits(src[i]);
  }
}

Status run_cpu_kernel(std::string_view op, const AttrMap& attrs, const std::vector<TensorRef>& in,
                      const std::vector<TensorRef>& out) {
  KernelFn fn = find_cpu_kernel(op);
  if (fn == nullptr) return Unimplemented("no CPU kernel for op '" + std::string(op) + "'");
  Status s = check_refs(in, "input");
  if (s.ok()) s = check_refs(out, "output");
  bool any16 = false;
  for (const auto* v : {&in, &out})
    for (const TensorRef& t : *v) any16 = any16 || is_16bit(t.dtype);
  if (s.ok())
    s = any16 && !takes_16bit(op) ? cpu::run_widened(fn, attrs, in, out) : fn(attrs, in, out);
  if (s.ok()) return s;
  return Status(s.code(), std::string(op) + ": " + s.message());
}

}  // namespace tessera::kernels
