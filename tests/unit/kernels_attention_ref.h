// The float64 unfused reference of FusedAttention / FusedAttentionGrad for the kernel tests:
// scores, mask, causal mask, softmax and both products written out element by element, with
// no chunking (kernels_attention_ref.cpp). Also the helpers that build and run one case.
#pragma once
#include <string>
#include <vector>

#include "tests/unit/kernels_test_util.h"

namespace tessera::kernels::testing {

struct AttnCase {
  std::string name;
  Shape q, k, v;
  bool has_mask = false;
  Shape mask;
  int64_t causal = 0, chunk = 0;
  double scale = 0.5;
};

AttnCase attn_case(std::string name, Shape q, Shape k, Shape v, int64_t causal = 0);
AttnCase masked_case(std::string name, Shape q, Shape k, Shape v, Shape mask, int64_t causal = 0);

// The operands of one case as float64 values (dy: the gradient reaching y).
struct AttnData {
  AttnCase c;
  std::vector<double> q, k, v, mask, dy;
};

struct AttnGrads {
  std::vector<double> dq, dk, dv;
};

// Random operands in [-1, 1) (mask in [-2, 2)), fixed per seed.
AttnData make_attn_data(const AttnCase& c, uint32_t seed);
Shape attn_y_shape(const AttnCase& c);
Shape attn_ws_shape(const AttnCase& c);  // [..,R,Sk], R from the chunk attribute
AttrMap attn_attrs(const AttnCase& c);

std::vector<double> ref_attention(const AttnData& d);
AttnGrads ref_attention_grad(const AttnData& d);

// A tensor of dtype dt (f32, f64, bf16, f16) holding `v` (rounded for 16-bit), and back.
Tensor make_float(DType dt, const Shape& s, const std::vector<double>& v);
std::vector<double> float_values(const Tensor& t);

// Runs the kernel with operands stored in dt (the mask in mask_dt); y, or dq/dk/dv, as float64.
// Expects success.
std::vector<double> run_attention(const AttnData& d, DType dt, DType mask_dt);
AttnGrads run_attention_grad(const AttnData& d, DType dt, DType mask_dt);

// max |got - want| / max(max |want|, 1e-30): the error relative to the tensor's scale.
double rel_err(const std::vector<double>& got, const std::vector<double>& want);

}  // namespace tessera::kernels::testing
