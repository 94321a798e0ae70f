// Gradient rules of the elementwise ops, written as canonical forward ops (so every backward
// node gets the forward ops' kernels and sharding rules for free). Broadcast operands get
// their gradient summed back to their own shape (Builder::unbroadcast).
#include <cmath>
#include <limits>

#include "passes/core/autodiff_rules.h"

namespace tessera::autodiff {
namespace {

// dx[i] = unbroadcast(g, shape of input i), only where wanted.
void set_unb(GradCall& c, size_t i, int g) {
  if (c.wants(i)) c.dx[i] = c.b.unbroadcast(g, c.shape_in(i));
}

// A zero of dy's dtype, for Where's untaken branch.
int zero(GradCall& c) { return c.b.scalar_like(c.dy[0], 0.0); }

}  // namespace

void grad_add(GradCall& c) {
  set_unb(c, 0, c.dy[0]);
  set_unb(c, 1, c.dy[0]);
}

void grad_sub(GradCall& c) {
  set_unb(c, 0, c.dy[0]);
  if (c.wants(1)) set_unb(c, 1, c.b.op1("Neg", {c.dy[0]}));
}

void grad_mul(GradCall& c) {
  if (c.wants(0)) set_unb(c, 0, c.b.mul(c.dy[0], c.in(1)));
  if (c.wants(1)) set_unb(c, 1, c.b.mul(c.dy[0], c.in(0)));
}

// d(a/b)/db = -y/b
void grad_div(GradCall& c) {
  Builder& b = c.b;
  if (c.wants(0)) set_unb(c, 0, b.op1("Div", {c.dy[0], c.in(1)}));
  if (c.wants(1)) set_unb(c, 1, b.op1("Neg", {b.op1("Div", {b.mul(c.dy[0], c.out(0)), c.in(1)})}));
}

// d(a^e)/da = e a^(e-1); d/de = y ln a (only when the exponent itself is trained).
void grad_pow(GradCall& c) {
  Builder& b = c.b;
  int e = c.in(1);
  if (b.dtype(e) != b.dtype(c.in(0)))
    e = b.op1("Cast", {e}, {{"to", Attr::Int(int64_t(b.dtype(c.in(0))))}});
  if (c.wants(0)) {
    const int em1 = b.op1("Sub", {e, b.scalar_like(e, 1.0)});
    set_unb(c, 0, b.mul(c.dy[0], b.mul(e, b.op1("Pow", {c.in(0), em1}))));
  }
  if (c.wants(1)) set_unb(c, 1, b.mul(c.dy[0], b.mul(c.out(0), b.op1("Log", {c.in(0)}))));
}

void grad_sqrt(GradCall& c) {  // dy / (2 y)
  c.dx[0] = c.b.op1("Div", {c.dy[0], c.b.mul(c.out(0), c.b.scalar_like(c.out(0), 2.0))});
}

void grad_reciprocal(GradCall& c) {  // -dy y^2
  c.dx[0] = c.b.op1("Neg", {c.b.mul(c.dy[0], c.b.mul(c.out(0), c.out(0)))});
}

void grad_neg(GradCall& c) { c.dx[0] = c.b.op1("Neg", {c.dy[0]}); }
void grad_exp(GradCall& c) { c.dx[0] = c.b.mul(c.dy[0], c.out(0)); }
void grad_log(GradCall& c) { c.dx[0] = c.b.op1("Div", {c.dy[0], c.in(0)}); }

void grad_erf(GradCall& c) {  // dy 2/sqrt(pi) exp(-x^2)
  Builder& b = c.b;
  const int x = c.in(0);
  const int e = b.op1("Exp", {b.op1("Neg", {b.mul(x, x)})});
  c.dx[0] = b.mul(c.dy[0], b.mul(e, b.scalar_like(x, 2.0 / std::sqrt(M_PI))));
}

void grad_tanh(GradCall& c) {  // dy (1 - y^2)
  Builder& b = c.b;
  const int y = c.out(0);
  c.dx[0] = b.mul(c.dy[0], b.op1("Sub", {b.scalar_like(y, 1.0), b.mul(y, y)}));
}

void grad_sigmoid(GradCall& c) {  // dy y (1 - y)
  Builder& b = c.b;
  const int y = c.out(0);
  c.dx[0] = b.mul(c.dy[0], b.mul(y, b.op1("Sub", {b.scalar_like(y, 1.0), y})));
}

void grad_relu(GradCall& c) { c.dx[0] = c.b.op1("ReluGrad", {c.dy[0], c.in(0)}); }

void grad_leaky_relu(GradCall& c) {
  Builder& b = c.b;
  const int x = c.in(0);
  const int pos = b.op1("Greater", {x, b.scalar_like(x, 0.0)});
  const double alpha = attr_float(c.n.attrs, "alpha", 0.01);
  c.dx[0] = b.op1("Where", {pos, c.dy[0], b.mul(c.dy[0], b.scalar_like(x, alpha))});
}

void grad_gelu(GradCall& c) {
  AttrMap a{{"approximate", Attr::Str(attr_str(c.n.attrs, "approximate", "none"))}};
  c.dx[0] = c.b.op1("GeluGrad", {c.dy[0], c.in(0)}, a);
}

// Binary Max/Min: ties go to the first input (one gradient, not split).
void grad_extremum(GradCall& c, const char* first_wins, const char* second_wins) {
  Builder& b = c.b;
  if (c.n.inputs.size() != 2) {
    b.fail(Unimplemented("autodiff: gradient of " + c.n.op + " with " +
                         std::to_string(c.n.inputs.size()) + " inputs (node '" + c.n.name +
                         "'); only 2 are supported"));
    return;
  }
  if (c.wants(0))
    set_unb(c, 0, b.op1("Where", {b.op1(first_wins, {c.in(0), c.in(1)}), c.dy[0], zero(c)}));
  if (c.wants(1))
    set_unb(c, 1, b.op1("Where", {b.op1(second_wins, {c.in(0), c.in(1)}), c.dy[0], zero(c)}));
}
void grad_max(GradCall& c) { grad_extremum(c, "GreaterOrEqual", "Less"); }
void grad_min(GradCall& c) { grad_extremum(c, "LessOrEqual", "Greater"); }

// Gradient passes where min <= x <= max (bounds inclusive, as PyTorch's clamp).
void grad_clip(GradCall& c) {
  Builder& b = c.b;
  const int x = c.in(0);
  int mask = -1;
  auto bound = [&](const char* key, const char* cmp) {
    if (!attr_has(c.n.attrs, key)) return;
    const int m = b.op1(cmp, {x, b.scalar_like(x, attr_float(c.n.attrs, key, 0))});
    mask = mask < 0 ? m : b.op1("And", {mask, m});
  };
  bound("min", "GreaterOrEqual");
  bound("max", "LessOrEqual");
  c.dx[0] = mask < 0 ? c.dy[0] : b.op1("Where", {mask, c.dy[0], zero(c)});
}

void grad_where(GradCall& c) {
  Builder& b = c.b;
  if (c.wants(1)) set_unb(c, 1, b.op1("Where", {c.in(0), c.dy[0], zero(c)}));
  if (c.wants(2)) set_unb(c, 2, b.op1("Where", {c.in(0), zero(c), c.dy[0]}));
}

void grad_identity(GradCall& c) { c.dx[0] = c.dy[0]; }

// Float to float only; a cast from an integer has no gradient.
void grad_cast(GradCall& c) {
  const DType from = c.b.dtype(c.in(0));
  if (!dtype_is_float(from)) return;
  c.dx[0] = from == c.b.dtype(c.dy[0])
                ? c.dy[0]
                : c.b.op1("Cast", {c.dy[0]}, {{"to", Attr::Int(int64_t(from))}});
}

}  // namespace tessera::autodiff
