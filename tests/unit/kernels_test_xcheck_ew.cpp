// Cross-checks (second author) of the kernel table, elementwise, unary and Cast kernels against
// float64 references computed here. Written against the public API only.
#include <algorithm>
#include <cmath>
#include <functional>

#include "tests/unit/kernels_xcheck_util.h"

namespace tessera::kernels::xcheck {
namespace {

TEST(XCheckTable, SortedUniqueAndCompleteForDocsOps) {
  const auto& t = cpu_kernel_table();
  for (size_t i = 1; i < t.size(); ++i) {
    EXPECT_LT(std::string(t[i - 1].op), std::string(t[i].op)) << "table not strictly sorted";
  }
  const char* ops[] = {"Add",
                       "Sub",
                       "Mul",
                       "Div",
                       "Pow",
                       "Max",
                       "Min",
                       "Equal",
                       "Less",
                       "LessOrEqual",
                       "Greater",
                       "GreaterOrEqual",
                       "And",
                       "Or",
                       "Where",
                       "Sqrt",
                       "Reciprocal",
                       "Neg",
                       "Abs",
                       "Exp",
                       "Log",
                       "Erf",
                       "Tanh",
                       "Sigmoid",
                       "Relu",
                       "Sin",
                       "Cos",
                       "Not",
                       "Identity",
                       "IsNaN",
                       "Floor",
                       "Ceil",
                       "LeakyRelu",
                       "Gelu",
                       "Clip",
                       "Cast",
                       "Softmax",
                       "LogSoftmax",
                       "MatMul",
                       "Gemm",
                       "Conv",
                       "ConvTranspose",
                       "MaxPool",
                       "AveragePool",
                       "GlobalAveragePool",
                       "BatchNormalization",
                       "LayerNormalization",
                       "GroupNormalization",
                       "ReduceMean",
                       "ReduceSum",
                       "ReduceMax",
                       "ReduceMin",
                       "ReduceProd",
                       "Reshape",
                       "Flatten",
                       "Squeeze",
                       "Unsqueeze",
                       "Transpose",
                       "Expand",
                       "Tile",
                       "Concat",
                       "Split",
                       "Slice",
                       "Gather",
                       "GatherElements",
                       "GatherND",
                       "Pad",
                       "CumSum",
                       "Trilu"};
  for (const char* op : ops) EXPECT_NE(find_cpu_kernel(op), nullptr) << op;
  EXPECT_EQ(find_cpu_kernel("NoSuchOp"), nullptr);
  EXPECT_EQ(find_cpu_kernel(""), nullptr);
}

TEST(XCheckTable, UnknownOpIsUnimplementedAndNamed) {
  Status s = run_cpu_kernel("FrobnicateV2", {}, {}, {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnimplemented) << s.to_string();
  EXPECT_NE(s.message().find("FrobnicateV2"), std::string::npos) << s.message();
}

// ---- binary ops with broadcasting ----
using BinRef = std::function<double(double, double)>;

void check_binary(const std::string& op, DType dt, const Shape& sa, const Shape& sb,
                  const Shape& so, BinRef ref, double lo = -3, double hi = 3) {
  Tensor a = rand_t(dt, sa, lo, hi), b = rand_t(dt, sb, lo, hi), o(dt, so);
  if (op == "Div" || op == "Pow") {  // keep away from zero / negative bases
    for (int64_t i = 0; i < b.numel(); ++i) {
      if (b.get(i) == 0) b.set(i, 1);
    }
    if (op == "Pow") {
      for (int64_t i = 0; i < a.numel(); ++i) a.set(i, std::fabs(a.get(i)) + 0.5);
    }
  }
  ASSERT_TRUE(run(op, {}, {&a, &b}, {&o}).ok()) << op;
  std::vector<double> want(o.numel());
  for (int64_t i = 0; i < o.numel(); ++i) {
    want[i] = ref(a.get(bcast_index(sa, so, i)), b.get(bcast_index(sb, so, i)));
  }
  expect_close(o, want, dt == DType::kFloat32 ? 2e-6 : 1e-12, 1e-6, op + " " + shape_str(so));
}

TEST(XCheckBinary, BroadcastShapesAllArith) {
  struct Case {
    Shape a, b, o;
  };
  const Case cases[] = {{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}},
                        {{2, 3, 1}, {4}, {2, 3, 4}},
                        {{}, {2, 2}, {2, 2}},
                        {{3, 1}, {1}, {3, 1}},
                        {{1, 4, 1, 5}, {3, 1, 2, 1}, {3, 4, 2, 5}},
                        {{5, 1}, {1, 6}, {5, 6}},
                        {{2, 0, 3}, {3}, {2, 0, 3}}};
  const std::pair<const char*, BinRef> ops[] = {
      {"Add", [](double x, double y) { return x + y; }},
      {"Sub", [](double x, double y) { return x - y; }},
      {"Mul", [](double x, double y) { return x * y; }},
      {"Div", [](double x, double y) { return x / y; }},
      {"Pow", [](double x, double y) { return std::pow(x, y); }},
      {"Max", [](double x, double y) { return std::max(x, y); }},
      {"Min", [](double x, double y) { return std::min(x, y); }}};
  for (const auto& c : cases) {
    for (const auto& [op, f] : ops) {
      check_binary(op, DType::kFloat32, c.a, c.b, c.o, f);
      check_binary(op, DType::kFloat64, c.a, c.b, c.o, f);
      check_binary(op, DType::kFloat64, c.b, c.a, c.o, f);  // operand order swapped
    }
  }
}

TEST(XCheckBinary, IntegerArith) {
  for (DType dt : {DType::kInt32, DType::kInt64}) {
    check_binary(
        "Add", dt, {3, 4}, {4}, {3, 4}, [](double x, double y) { return x + y; }, -50, 50);
    check_binary(
        "Mul", dt, {3, 1}, {1, 4}, {3, 4}, [](double x, double y) { return x * y; }, -50, 50);
    check_binary(
        "Sub", dt, {}, {5}, {5}, [](double x, double y) { return x - y; }, -50, 50);
    // ONNX integer Div truncates toward zero, like C.
    check_binary(
        "Div", dt, {6}, {6}, {6}, [](double x, double y) { return std::trunc(x / y); }, -50, 50);
  }
  Tensor a = i64({4}, {7, -7, 7, -7}), b = i64({4}, {2, 2, -2, -2}), o(DType::kInt64, {4});
  ASSERT_TRUE(run("Div", {}, {&a, &b}, {&o}).ok());
  expect_close(o, {3, -3, -3, 3});
}

TEST(XCheckBinary, IntegerDivisionByZeroIsAnErrorNotACrash) {
  Tensor a = i64({2}, {1, 2}), b = i64({2}, {1, 0}), o(DType::kInt64, {2});
  EXPECT_FALSE(run("Div", {}, {&a, &b}, {&o}).ok());
}

TEST(XCheckBinary, VariadicMaxMin) {
  Tensor a = f32({2, 1}, {1, 5}), b = f32({3}, {0, 4, 9}), c = f32({}, {3}),
         o(DType::kFloat32, {2, 3});
  ASSERT_TRUE(run("Max", {}, {&a, &b, &c}, {&o}).ok());
  expect_close(o, {3, 4, 9, 5, 5, 9});
  ASSERT_TRUE(run("Min", {}, {&a, &b, &c}, {&o}).ok());
  expect_close(o, {0, 1, 1, 0, 3, 3});
  Tensor one(DType::kFloat32, {2, 1});
  ASSERT_TRUE(run("Max", {}, {&a}, {&one}).ok());
  expect_close(one, {1, 5});
}

TEST(XCheckBinary, ErrorsOnBadShapes) {
  Tensor a = rand_t(DType::kFloat32, {2, 3}), b = rand_t(DType::kFloat32, {4});
  Tensor o(DType::kFloat32, {2, 3});
  Status s = run("Add", {}, {&a, &b}, {&o});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Add"), std::string::npos) << s.message();
  Tensor c = rand_t(DType::kFloat32, {3}), wrong(DType::kFloat32, {3, 2});
  EXPECT_FALSE(run("Mul", {}, {&a, &c}, {&wrong}).ok());
  Tensor wrong_dt(DType::kFloat64, {2, 3});
  EXPECT_FALSE(run("Mul", {}, {&a, &c}, {&wrong_dt}).ok());
  Tensor ci = rand_t(DType::kInt64, {3});
  EXPECT_FALSE(run("Mul", {}, {&a, &ci}, {&o}).ok()) << "mixed dtypes must be rejected";
}

TEST(XCheckCompare, AllComparisonsBroadcastToBool) {
  const std::pair<const char*, BinRef> ops[] = {
      {"Equal", [](double x, double y) { return double(x == y); }},
      {"Less", [](double x, double y) { return double(x < y); }},
      {"LessOrEqual", [](double x, double y) { return double(x <= y); }},
      {"Greater", [](double x, double y) { return double(x > y); }},
      {"GreaterOrEqual", [](double x, double y) { return double(x >= y); }}};
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kFloat64}) {
    for (const auto& [op, f] : ops) {
      Tensor a = rand_t(dt, {3, 1}, -2, 2), b = rand_t(dt, {4}, -2, 2), o(DType::kBool, {3, 4});
      if (dt == DType::kFloat32 || dt == DType::kFloat64) {  // make some equal pairs
        for (int64_t i = 0; i < 3; ++i) a.set(i, std::round(a.get(i)));
        for (int64_t i = 0; i < 4; ++i) b.set(i, std::round(b.get(i)));
      }
      ASSERT_TRUE(run(op, {}, {&a, &b}, {&o}).ok()) << op;
      std::vector<double> want(12);
      for (int64_t i = 0; i < 12; ++i) want[i] = f(a.get(i / 4), b.get(i % 4));
      expect_close(o, want, 0, 0, op);
    }
  }
}

TEST(XCheckLogic, AndOrNotWhere) {
  Tensor a = make(DType::kBool, {2, 2}, {1, 0, 1, 0}), b = make(DType::kBool, {2}, {1, 1});
  Tensor o(DType::kBool, {2, 2});
  ASSERT_TRUE(run("And", {}, {&a, &b}, {&o}).ok());
  expect_close(o, {1, 0, 1, 0});
  ASSERT_TRUE(run("Or", {}, {&a, &b}, {&o}).ok());
  expect_close(o, {1, 1, 1, 1});
  ASSERT_TRUE(run("Not", {}, {&a}, {&o}).ok());
  expect_close(o, {0, 1, 0, 1});

  // Where with three-way broadcasting, float and int64 payloads.
  Tensor c = make(DType::kBool, {2, 1, 3}, {1, 0, 1, 0, 0, 1});
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kFloat64, DType::kInt32}) {
    Tensor x = rand_t(dt, {4, 1}, -9, 9), y = rand_t(dt, {}, -9, 9), w(dt, {2, 4, 3});
    ASSERT_TRUE(run("Where", {}, {&c, &x, &y}, {&w}).ok());
    std::vector<double> want(24);
    for (int64_t i = 0; i < 24; ++i) {
      const bool cond = c.get(bcast_index(c.shape, w.shape, i)) != 0;
      want[i] = cond ? x.get(bcast_index(x.shape, w.shape, i)) : y.get(0);
    }
    expect_close(w, want, 0, 0, "Where");
  }
  Tensor nb = rand_t(DType::kFloat32, {2, 1, 3}), x = rand_t(DType::kFloat32, {3});
  Tensor w(DType::kFloat32, {2, 1, 3});
  EXPECT_FALSE(run("Where", {}, {&nb, &x, &x}, {&w}).ok()) << "float condition must be rejected";
}

// ---- unary ----
double erf_ref(double x) { return std::erf(x); }
double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST(XCheckUnary, FloatOpsAgainstLibm) {
  struct U {
    const char* op;
    std::function<double(double)> f;
    double lo, hi;
    AttrMap attrs;
  };
  const U ops[] = {
      {"Sqrt", [](double x) { return std::sqrt(x); }, 0.01, 4, {}},
      {"Reciprocal", [](double x) { return 1 / x; }, 0.1, 4, {}},
      {"Neg", [](double x) { return -x; }, -4, 4, {}},
      {"Abs", [](double x) { return std::fabs(x); }, -4, 4, {}},
      {"Exp", [](double x) { return std::exp(x); }, -4, 4, {}},
      {"Log", [](double x) { return std::log(x); }, 0.01, 4, {}},
      {"Erf", erf_ref, -3, 3, {}},
      {"Tanh", [](double x) { return std::tanh(x); }, -4, 4, {}},
      {"Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }, -8, 8, {}},
      {"Relu", [](double x) { return std::max(x, 0.0); }, -4, 4, {}},
      {"Sin", [](double x) { return std::sin(x); }, -4, 4, {}},
      {"Cos", [](double x) { return std::cos(x); }, -4, 4, {}},
      {"Floor", [](double x) { return std::floor(x); }, -4, 4, {}},
      {"Ceil", [](double x) { return std::ceil(x); }, -4, 4, {}},
      {"Identity", [](double x) { return x; }, -4, 4, {}},
      {"LeakyRelu",
       [](double x) { return x < 0 ? 0.2 * x : x; },
       -4,
       4,
       {{"alpha", Attr::Float(0.2)}}},
      {"LeakyRelu", [](double x) { return x < 0 ? 0.01 * x : x; }, -4, 4, {}},
      {"Gelu",
       [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); },
       -4,
       4,
       {{"approximate", Attr::Str("none")}}},
      {"Gelu", [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, -4, 4, {}},
      {"Gelu", gelu_tanh, -4, 4, {{"approximate", Attr::Str("tanh")}}},
      {"Clip",
       [](double x) { return std::min(std::max(x, -0.5), 1.5); },
       -4,
       4,
       {{"min", Attr::Float(-0.5)}, {"max", Attr::Float(1.5)}}},
      {"Clip", [](double x) { return std::max(x, -0.5); }, -4, 4, {{"min", Attr::Float(-0.5)}}},
      {"Clip", [](double x) { return x; }, -4, 4, {}},
  };
  for (const auto& u : ops) {
    for (DType dt : {DType::kFloat32, DType::kFloat64}) {
      Tensor x = rand_t(dt, {3, 17}, u.lo, u.hi), y(dt, {3, 17});
      ASSERT_TRUE(run(u.op, u.attrs, {&x}, {&y}).ok()) << u.op;
      std::vector<double> want(x.numel());
      for (int64_t i = 0; i < x.numel(); ++i) want[i] = u.f(x.get(i));
      const bool f = dt == DType::kFloat32;
      expect_close(y, want, f ? 3e-6 : 1e-12, f ? 1e-6 : 1e-12, u.op);
    }
  }
}

TEST(XCheckUnary, IntegerNegAbsAndIsNaN) {
  Tensor a = i64({3}, {-3, 0, 5}), o(DType::kInt64, {3});
  ASSERT_TRUE(run("Neg", {}, {&a}, {&o}).ok());
  expect_close(o, {3, 0, -5});
  ASSERT_TRUE(run("Abs", {}, {&a}, {&o}).ok());
  expect_close(o, {3, 0, 5});
  Tensor x = f32({4}, {1, NAN, -INFINITY, 0}), b(DType::kBool, {4});
  ASSERT_TRUE(run("IsNaN", {}, {&x}, {&b}).ok());
  expect_close(b, {0, 1, 0, 0});
  Tensor wrong(DType::kFloat32, {5});
  EXPECT_FALSE(run("Exp", {}, {&x}, {&wrong}).ok());
}

// ---- Cast ----
uint16_t cast_to_half(double v, DType to) {
  Tensor x = f32({1}, {v}), y(to, {1});
  EXPECT_TRUE(run("Cast", {{"to", Attr::Int(static_cast<int64_t>(to))}}, {&x}, {&y}).ok());
  return static_cast<uint16_t>(y.get(0));
}

TEST(XCheckCast, HalfRoundToNearestEven) {
  const DType h = DType::kFloat16;
  EXPECT_EQ(cast_to_half(1.0, h), 0x3C00);
  EXPECT_EQ(cast_to_half(-2.0, h), 0xC000);
  EXPECT_EQ(cast_to_half(1.0 + std::ldexp(1, -11), h), 0x3C00);      // tie -> even
  EXPECT_EQ(cast_to_half(1.0 + 3 * std::ldexp(1, -11), h), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(cast_to_half(65504, h), 0x7BFF);
  EXPECT_EQ(cast_to_half(65519, h), 0x7BFF);
  EXPECT_EQ(cast_to_half(65520, h), 0x7C00);                   // rounds to inf
  EXPECT_EQ(cast_to_half(std::ldexp(1, -24), h), 0x0001);      // smallest subnormal
  EXPECT_EQ(cast_to_half(std::ldexp(1, -25), h), 0x0000);      // tie -> even (zero)
  EXPECT_EQ(cast_to_half(3 * std::ldexp(1, -25), h), 0x0002);  // tie -> even (two)
  EXPECT_EQ(cast_to_half(std::ldexp(1, -14), h), 0x0400);      // smallest normal
  EXPECT_EQ(cast_to_half(INFINITY, h), 0x7C00);
  EXPECT_EQ(cast_to_half(NAN, h) & 0x7C00, 0x7C00);
  EXPECT_NE(cast_to_half(NAN, h) & 0x03FF, 0);
  const DType b = DType::kBFloat16;
  EXPECT_EQ(cast_to_half(1.0, b), 0x3F80);
  EXPECT_EQ(cast_to_half(1.0 + std::ldexp(1, -8), b), 0x3F80);      // tie -> even
  EXPECT_EQ(cast_to_half(1.0 + 3 * std::ldexp(1, -8), b), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(cast_to_half(-3.0, b), 0xC040);
}

// f64 -> f16/bf16 must round once: via a float intermediate, 1 + 2^-11 + 2^-40 would first
// become the tie 1 + 2^-11 and then round down to even.
TEST(XCheckCast, DoubleToHalfRoundsOnce) {
  Tensor x = make(
      DType::kFloat64, {5},
      {1 + std::ldexp(1, -11) + std::ldexp(1, -40), -(1 + std::ldexp(1, -11) + std::ldexp(1, -40)),
       1 + std::ldexp(1, -11), 1 + std::ldexp(1, -8) + std::ldexp(1, -40), 1 + std::ldexp(1, -8)});
  Tensor h(DType::kFloat16, {5}), b(DType::kBFloat16, {5});
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(10)}}, {&x}, {&h}).ok());
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(16)}}, {&x}, {&b}).ok());
  EXPECT_EQ(h.get(0), 0x3C01);
  EXPECT_EQ(h.get(1), 0xBC01);
  EXPECT_EQ(h.get(2), 0x3C00);  // exact tie: even
  EXPECT_EQ(b.get(3), 0x3F81);
  EXPECT_EQ(b.get(4), 0x3F80);  // exact tie: even
}

TEST(XCheckCast, HalfBackToFloatAndBetweenTypes) {
  // f16 bits -> f32: 0x3555 = 0.333251953125, 0x0001 = 2^-24, 0xFBFF = -65504.
  Tensor h = make(DType::kFloat16, {3}, {0x3555, 0x0001, 0xFBFF}), f(DType::kFloat32, {3});
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(1)}}, {&h}, {&f}).ok());
  expect_close(f, {0.333251953125, std::ldexp(1, -24), -65504}, 0, 0);
  Tensor bf = make(DType::kBFloat16, {2}, {0x3FC0, 0xC2F7}), f2(DType::kFloat32, {2});
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(1)}}, {&bf}, {&f2}).ok());
  expect_close(f2, {1.5, -123.5}, 0, 0);

  Tensor x = f32({5}, {-2.7, -0.5, 0, 0.5, 3.9});
  Tensor i(DType::kInt32, {5}), l(DType::kInt64, {5}), bo(DType::kBool, {5}),
      d(DType::kFloat64, {5});
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(6)}}, {&x}, {&i}).ok());
  expect_close(i, {-2, 0, 0, 0, 3}, 0, 0, "f32->i32 truncates");
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(7)}}, {&x}, {&l}).ok());
  expect_close(l, {-2, 0, 0, 0, 3}, 0, 0, "f32->i64 truncates");
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(9)}}, {&x}, {&bo}).ok());
  expect_close(bo, {1, 1, 0, 1, 1}, 0, 0, "f32->bool");
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(11)}}, {&x}, {&d}).ok());
  expect_close(d, {-2.7f, -0.5, 0, 0.5, 3.9f}, 0, 0, "f32->f64 exact");
  // i64 -> i64 must not pass through double: 2^53+1 is not representable there.
  Tensor big(DType::kInt64, {1}), big2(DType::kInt64, {1});
  const int64_t v = (int64_t{1} << 53) + 1;
  std::memcpy(big.data(), &v, 8);
  ASSERT_TRUE(run("Cast", {{"to", Attr::Int(7)}}, {&big}, {&big2}).ok());
  int64_t v0;
  std::memcpy(&v0, big2.data(), 8);
  EXPECT_EQ(v0, v);
  Tensor wrong(DType::kInt32, {5});
  EXPECT_FALSE(run("Cast", {{"to", Attr::Int(7)}}, {&x}, {&wrong}).ok()) << "to/out dtype mismatch";
}

}  // namespace
}  // namespace tessera::kernels::xcheck
