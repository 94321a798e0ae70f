// Elementwise kernels, the table, and Cast, against float64 references computed here.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "tests/unit/kernels_test_util.h"

namespace tessera::kernels::testing {
namespace {

TEST(KernelTable, SortedUniqueAndComplete) {
  const auto& t = cpu_kernel_table();
  for (size_t i = 1; i < t.size(); ++i) {
    EXPECT_LT(std::string(t[i - 1].op), std::string(t[i].op)) << "table not sorted at " << i;
  }
  // Every op of docs/ops.md except the ones the frontend always folds.
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
  EXPECT_EQ(find_cpu_kernel("add"), nullptr);
}

TEST(KernelTable, UnknownOpAndErrorPrefix) {
  Tensor a = f32({2}, {1, 2});
  Tensor o = zeros(DType::kFloat32, {2});
  Status s = run("NoSuchOp", {}, {&a}, {&o});
  EXPECT_EQ(s.code(), Code::kUnimplemented);
  EXPECT_NE(s.message().find("NoSuchOp"), std::string::npos);
  Tensor bad = zeros(DType::kFloat32, {3});
  s = run("Add", {}, {&a, &a}, {&bad});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("Add: ", 0), 0u) << s.message();
  s = run("Add", {}, {&a}, {&o});  // too few inputs
  EXPECT_FALSE(s.ok());
  TensorRef null_in{DType::kFloat32, {2}, nullptr};
  s = run_cpu_kernel("Relu", {}, {null_in}, {o.ref()});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
}

Shape bshape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape s(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i + a.size() < r ? 1 : a[i + a.size() - r];
    const int64_t db = i + b.size() < r ? 1 : b[i + b.size() - r];
    s[i] = da == 1 ? db : da;
  }
  return s;
}

std::vector<double> ref_binary(const Tensor& a, const Tensor& b, const Shape& os,
                               const std::function<double(double, double)>& f) {
  const auto va = a.values(), vb = b.values();
  std::vector<double> r(static_cast<size_t>(num_elements(os)));
  for (size_t i = 0; i < r.size(); ++i) {
    const auto c = unravel(static_cast<int64_t>(i), os);
    r[i] = f(va[bcast_index(c, a.shape)], vb[bcast_index(c, b.shape)]);
  }
  return r;
}

const std::vector<std::pair<Shape, Shape>> kBroadcastCases = {
    {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}}, {{2, 1, 4}, {3, 1}},
    {{}, {2, 3}},           {{2, 3}, {}},     {{1}, {1}},
    {{5, 1, 1}, {1, 4, 3}}, {{0, 3}, {3}},    {{3, 1, 2, 1}, {1, 4, 1, 5}},
    {{1, 7}, {6, 1}}};

TEST(Elementwise, ArithmeticBroadcastF32) {
  const std::vector<std::pair<std::string, std::function<double(double, double)>>> ops = {
      {"Add", [](double x, double y) { return x + y; }},
      {"Sub", [](double x, double y) { return x - y; }},
      {"Mul", [](double x, double y) { return x * y; }},
      {"Div", [](double x, double y) { return x / y; }},
      {"Max", [](double x, double y) { return std::max(x, y); }},
      {"Min", [](double x, double y) { return std::min(x, y); }},
      {"Pow", [](double x, double y) { return std::pow(x, y); }}};
  uint32_t seed = 1;
  for (const auto& [sa, sb] : kBroadcastCases) {
    Tensor a = rand_f32(sa, seed++, 0.5, 2), b = rand_f32(sb, seed++, 0.5, 2);
    const Shape os = bshape(sa, sb);
    for (const auto& [op, f] : ops) {
      Tensor o = run1(op, {}, {&a, &b}, DType::kFloat32, os);
      expect_near(o.values(), ref_binary(a, b, os, f), 1e-6, 1e-6,
                  op + " " + shape_str(sa) + "," + shape_str(sb));
    }
  }
}

TEST(Elementwise, CompareBroadcast) {
  Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6}), b = f32({3}, {2, 2, 7});
  struct C {
    const char* op;
    std::function<double(double, double)> f;
  };
  const C cases[] = {{"Equal", [](double x, double y) { return double(x == y); }},
                     {"Less", [](double x, double y) { return double(x < y); }},
                     {"LessOrEqual", [](double x, double y) { return double(x <= y); }},
                     {"Greater", [](double x, double y) { return double(x > y); }},
                     {"GreaterOrEqual", [](double x, double y) { return double(x >= y); }}};
  for (const auto& c : cases) {
    Tensor o = run1(c.op, {}, {&a, &b}, DType::kBool, {2, 3});
    expect_near(o.values(), ref_binary(a, b, {2, 3}, c.f), 0, 0, c.op);
  }
  Tensor x = i64({3}, {1, 5, -2}), y = i64({1}, {1});
  EXPECT_EQ(run1("Equal", {}, {&x, &y}, DType::kBool, {3}).values(),
            (std::vector<double>{1, 0, 0}));
  Tensor bad = zeros(DType::kFloat32, {2, 3});  // compare must produce bool
  EXPECT_FALSE(run("Less", {}, {&a, &b}, {&bad}).ok());
}

TEST(Elementwise, IntegerArithmetic) {
  const int64_t mn = std::numeric_limits<int64_t>::min();
  Tensor a = i64({4}, {7, -7, mn, 9}), b = i64({4}, {2, 2, -1, -3});
  EXPECT_EQ(run1("Div", {}, {&a, &b}, DType::kInt64, {4}).values(),
            (std::vector<double>{3, -3, static_cast<double>(mn), -3}));  // truncation; MIN/-1 wraps
  EXPECT_EQ(run1("Add", {}, {&a, &b}, DType::kInt64, {4}).values()[0], 9);
  Tensor z = i64({1}, {0}), o = zeros(DType::kInt64, {4});
  Status s = run("Div", {}, {&a, &z}, {&o});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.to_string();
  Tensor c = i32({2, 2}, {1, 2, 3, 4}), d = i32({2}, {10, 20});
  EXPECT_EQ(run1("Mul", {}, {&c, &d}, DType::kInt32, {2, 2}).values(),
            (std::vector<double>{10, 40, 30, 80}));
  Tensor e = i64({3}, {2, 3, -2}), p = i64({3}, {10, 3, 3});
  EXPECT_EQ(run1("Pow", {}, {&e, &p}, DType::kInt64, {3}).values(),
            (std::vector<double>{1024, 27, -8}));
  Tensor f = f32({2}, {2, 9}), q = i64({2}, {3, 2});  // float base, int exponent
  EXPECT_EQ(run1("Pow", {}, {&f, &q}, DType::kFloat32, {2}).values(), (std::vector<double>{8, 81}));
  Tensor mixed = zeros(DType::kInt64, {4});
  EXPECT_FALSE(run("Add", {}, {&a, &c}, {&mixed}).ok());  // i64 + i32 is a type error
}

TEST(Elementwise, VariadicMaxMinAndNaN) {
  const double nan = std::nan("");
  Tensor a = f32({2, 1}, {1, 5}), b = f32({3}, {0, 3, nan}), c = f32({}, {2});
  Tensor mx = run1("Max", {}, {&a, &b, &c}, DType::kFloat32, {2, 3});
  expect_near(mx.values(), {2, 3, nan, 5, 5, nan}, 0);
  Tensor mn = run1("Min", {}, {&a, &b, &c}, DType::kFloat32, {2, 3});
  expect_near(mn.values(), {0, 1, nan, 0, 2, nan}, 0);
  Tensor one = run1("Max", {}, {&a}, DType::kFloat32, {2, 1});
  expect_near(one.values(), {1, 5}, 0);
  Tensor wrong = zeros(DType::kFloat32, {2, 1});  // the broadcast of all inputs is 2x3
  EXPECT_FALSE(run("Max", {}, {&a, &b, &c}, {&wrong}).ok());
}

TEST(Elementwise, WhereAndLogic) {
  Tensor cond = boolean({2, 1}, {1, 0});
  Tensor x = i64({3}, {1, 2, 3}), y = i64({}, {-1});
  EXPECT_EQ(run1("Where", {}, {&cond, &x, &y}, DType::kInt64, {2, 3}).values(),
            (std::vector<double>{1, 2, 3, -1, -1, -1}));
  Tensor xf = f32({2, 3}, {1, 2, 3, 4, 5, 6}), yf = f32({1, 3}, {7, 8, 9});
  expect_near(run1("Where", {}, {&cond, &xf, &yf}, DType::kFloat32, {2, 3}).values(),
              {1, 2, 3, 7, 8, 9}, 0);
  Tensor p = boolean({4}, {0, 0, 1, 1}), q = boolean({4}, {0, 1, 0, 1});
  EXPECT_EQ(run1("And", {}, {&p, &q}, DType::kBool, {4}).values(),
            (std::vector<double>{0, 0, 0, 1}));
  EXPECT_EQ(run1("Or", {}, {&p, &q}, DType::kBool, {4}).values(),
            (std::vector<double>{0, 1, 1, 1}));
  EXPECT_EQ(run1("Not", {}, {&p}, DType::kBool, {4}).values(), (std::vector<double>{1, 1, 0, 0}));
  Tensor notbool = zeros(DType::kInt64, {2, 3});
  EXPECT_FALSE(run("Where", {}, {&x, &x, &y}, {&notbool}).ok());  // condition must be bool
}

TEST(Elementwise, UnaryF32AndF64) {
  const std::vector<std::pair<std::string, std::function<double(double)>>> ops = {
      {"Sqrt", [](double v) { return std::sqrt(std::fabs(v)); }},
      {"Reciprocal", [](double v) { return 1 / v; }},
      {"Neg", [](double v) { return -v; }},
      {"Abs", [](double v) { return std::fabs(v); }},
      {"Exp", [](double v) { return std::exp(v); }},
      {"Log", [](double v) { return std::log(std::fabs(v)); }},
      {"Erf", [](double v) { return std::erf(v); }},
      {"Tanh", [](double v) { return std::tanh(v); }},
      {"Sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"Relu", [](double v) { return v > 0 ? v : 0; }},
      {"Sin", [](double v) { return std::sin(v); }},
      {"Cos", [](double v) { return std::cos(v); }},
      {"Floor", [](double v) { return std::floor(v); }},
      {"Ceil", [](double v) { return std::ceil(v); }}};
  for (const auto& [op, f] : ops) {
    for (DType dt : {DType::kFloat32, DType::kFloat64}) {
      const bool pos = op == "Sqrt" || op == "Log";  // domain
      Tensor x = dt == DType::kFloat32 ? rand_f32({3, 17}, 7, pos ? 0.1 : -3, 3)
                                       : rand_f64({3, 17}, 7, pos ? 0.1 : -3, 3);
      std::vector<double> want;
      for (double v : x.values()) want.push_back(f(v));
      Tensor o = run1(op, {}, {&x}, dt, {3, 17});
      expect_near(o.values(), want, dt == DType::kFloat32 ? 2e-6 : 1e-14,
                  dt == DType::kFloat32 ? 2e-6 : 1e-14, op);
    }
  }
  Tensor xi = i64({3}, {-4, 0, 9});
  EXPECT_EQ(run1("Abs", {}, {&xi}, DType::kInt64, {3}).values(), (std::vector<double>{4, 0, 9}));
  EXPECT_EQ(run1("Neg", {}, {&xi}, DType::kInt64, {3}).values(), (std::vector<double>{4, 0, -9}));
  Tensor o = zeros(DType::kFloat32, {3});
  EXPECT_EQ(run("Exp", {}, {&xi}, {&o}).code(), Code::kInvalidArgument);  // dtype mismatch
  Tensor oi = zeros(DType::kInt64, {3});
  EXPECT_EQ(run("Exp", {}, {&xi}, {&oi}).code(), Code::kUnimplemented);
}

TEST(Elementwise, ActivationsWithAttributes) {
  Tensor x = rand_f32({50}, 3, -4, 4);
  const auto xv = x.values();
  std::vector<double> gelu, gelu_t, leaky, clip, clip_lo;
  for (double v : xv) {
    gelu.push_back(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
    gelu_t.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    leaky.push_back(v >= 0 ? v : 0.2 * v);
    clip.push_back(std::min(std::max(v, -1.0), 0.5));
    clip_lo.push_back(std::max(v, 0.0));
  }
  expect_near(run1("Gelu", {}, {&x}, DType::kFloat32, {50}).values(), gelu, 1e-6, 1e-6, "gelu");
  expect_near(
      run1("Gelu", {{"approximate", Attr::Str("tanh")}}, {&x}, DType::kFloat32, {50}).values(),
      gelu_t, 1e-6, 1e-6, "gelu tanh");
  expect_near(
      run1("LeakyRelu", {{"alpha", Attr::Float(0.2)}}, {&x}, DType::kFloat32, {50}).values(), leaky,
      1e-7, 1e-6);
  expect_near(run1("Clip", {{"min", Attr::Float(-1)}, {"max", Attr::Float(0.5)}}, {&x},
                   DType::kFloat32, {50})
                  .values(),
              clip, 0);
  expect_near(run1("Clip", {{"min", Attr::Float(0)}}, {&x}, DType::kFloat32, {50}).values(),
              clip_lo, 0);
  Tensor o = zeros(DType::kFloat32, {50});
  EXPECT_FALSE(run("Gelu", {{"approximate", Attr::Str("fast")}}, {&x}, {&o}).ok());
  Tensor n = f32({3}, {1, std::nan(""), -INFINITY});
  EXPECT_EQ(run1("IsNaN", {}, {&n}, DType::kBool, {3}).values(), (std::vector<double>{0, 1, 0}));
  expect_near(run1("Identity", {}, {&n}, DType::kFloat32, {3}).values(), n.values(), 0);
}

TEST(Cast, NumericConversions) {
  auto cast = [](const Tensor& x, DType to) {
    return run1("Cast", {{"to", Attr::Int(static_cast<int64_t>(to))}}, {&x}, to, x.shape);
  };
  const double p35 = std::ldexp(1.0, 35);  // exact in f32, beyond i32
  Tensor x = f32({6}, {1.7, -1.7, p35, -p35, std::nan(""), 0});
  EXPECT_EQ(cast(x, DType::kInt64).values(), (std::vector<double>{1, -1, p35, -p35, 0, 0}));
  EXPECT_EQ(cast(x, DType::kInt32).values(),
            (std::vector<double>{1, -1, 2147483647.0, -2147483648.0, 0, 0}));  // saturates
  EXPECT_EQ(cast(x, DType::kBool).values(), (std::vector<double>{1, 1, 1, 1, 1, 0}));
  Tensor big = i64({2}, {(int64_t{1} << 40) + 3, -5});
  EXPECT_EQ(cast(big, DType::kInt32).values(), (std::vector<double>{3, -5}));  // wraps like numpy
  EXPECT_EQ(cast(big, DType::kFloat64).values(), (std::vector<double>{1099511627779.0, -5}));
  Tensor b = boolean({2}, {1, 0});
  EXPECT_EQ(cast(b, DType::kFloat32).values(), (std::vector<double>{1, 0}));
  Tensor o = zeros(DType::kInt64, {6});  // 'to' disagrees with the output dtype
  EXPECT_FALSE(run("Cast", {{"to", Attr::Int(1)}}, {&x}, {&o}).ok());
}

TEST(Cast, HalfAndBFloat16RoundToNearestEven) {
  auto cast = [](const Tensor& x, DType to) {
    return run1("Cast", {{"to", Attr::Int(static_cast<int64_t>(to))}}, {&x}, to, x.shape);
  };
  const double e11 = std::ldexp(1.0, -11), e24 = std::ldexp(1.0, -24);
  Tensor x =
      f32({10}, {1.0, -2.0, 65504, 65520, 1 + e11, 1 + 3 * e11, e24, e24 / 2, 1.5 * e24, 1e-9});
  EXPECT_EQ(cast(x, DType::kFloat16).values(),
            (std::vector<double>{0x3C00, 0xC000, 0x7BFF, 0x7C00, 0x3C00, 0x3C02, 1, 0, 2, 0}));
  Tensor y = f32({4}, {1.0, 1 + std::ldexp(1.0, -8), 1 + 3 * std::ldexp(1.0, -8), -INFINITY});
  EXPECT_EQ(cast(y, DType::kBFloat16).values(),
            (std::vector<double>{0x3F80, 0x3F80, 0x3F82, 0xFF80}));
  // Every finite half converts to f32 and back unchanged.
  Tensor h = zeros(DType::kFloat16, {65536});
  for (int i = 0; i < 65536; ++i) h.as<uint16_t>()[i] = static_cast<uint16_t>(i);
  Tensor f = cast(h, DType::kFloat32);
  Tensor back = cast(f, DType::kFloat16);
  int mismatches = 0;
  for (int i = 0; i < 65536; ++i) {
    const bool nan = (i & 0x7C00) == 0x7C00 && (i & 0x3FF);
    if (nan) {
      EXPECT_TRUE(std::isnan(f.as<float>()[i]));
    } else if (back.as<uint16_t>()[i] != i) {
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(f.as<float>()[0x3555], static_cast<float>(0.333251953125));
  EXPECT_EQ(f.as<float>()[0x0001], static_cast<float>(e24));
}

}  // namespace
}  // namespace tessera::kernels::testing
