// Cross-checks (second author): malformed attributes, shapes and dtypes must give a non-ok
// Status naming the op, never a crash or an out-of-bounds write (guard bytes are checked by
// run()). Also a few semantic edge cases that real exported models hit.
#include <cmath>
#include <limits>

#include "tests/unit/kernels_xcheck_util.h"

namespace tessera::kernels::xcheck {
namespace {

struct Bad {
  const char* why;
  const char* op;
  AttrMap attrs;
  std::vector<Shape> ins;
  std::vector<Shape> outs;
};

TEST(XCheckRobust, MalformedCasesFailCleanly) {
  const std::vector<int64_t> k3{3, 3}, s1{1, 1}, p0{0, 0, 0, 0};
  const Bad cases[] = {
      {"group 0",
       "Conv",
       {{"kernel_shape", Attr::Ints(k3)},
        {"strides", Attr::Ints(s1)},
        {"pads", Attr::Ints(p0)},
        {"dilations", Attr::Ints(s1)},
        {"group", Attr::Int(0)}},
       {{1, 2, 5, 5}, {2, 2, 3, 3}},
       {{1, 2, 3, 3}}},
      {"stride 0",
       "Conv",
       {{"kernel_shape", Attr::Ints(k3)},
        {"strides", Attr::Ints({0, 1})},
        {"pads", Attr::Ints(p0)},
        {"dilations", Attr::Ints(s1)},
        {"group", Attr::Int(1)}},
       {{1, 2, 5, 5}, {2, 2, 3, 3}},
       {{1, 2, 3, 3}}},
      {"pads too short",
       "Conv",
       {{"kernel_shape", Attr::Ints(k3)},
        {"strides", Attr::Ints(s1)},
        {"pads", Attr::Ints({1})},
        {"dilations", Attr::Ints(s1)},
        {"group", Attr::Int(1)}},
       {{1, 2, 5, 5}, {2, 2, 3, 3}},
       {{1, 2, 3, 3}}},
      {"kernel_shape vs w",
       "Conv",
       {{"kernel_shape", Attr::Ints({2, 2})},
        {"strides", Attr::Ints(s1)},
        {"pads", Attr::Ints(p0)},
        {"dilations", Attr::Ints(s1)},
        {"group", Attr::Int(1)}},
       {{1, 2, 5, 5}, {2, 2, 3, 3}},
       {{1, 2, 4, 4}}},
      {"bias length",
       "Conv",
       {{"kernel_shape", Attr::Ints(k3)},
        {"strides", Attr::Ints(s1)},
        {"pads", Attr::Ints(p0)},
        {"dilations", Attr::Ints(s1)},
        {"group", Attr::Int(1)}},
       {{1, 2, 5, 5}, {2, 2, 3, 3}, {3}},
       {{1, 2, 3, 3}}},
      {"rank 2 input",
       "Conv",
       {{"kernel_shape", Attr::Ints({3})},
        {"strides", Attr::Ints({1})},
        {"pads", Attr::Ints({0, 0})},
        {"dilations", Attr::Ints({1})},
        {"group", Attr::Int(1)}},
       {{2, 5}, {2, 2, 3}},
       {{2, 3}}},
      {"pool stride 0",
       "MaxPool",
       {{"kernel_shape", Attr::Ints(k3)},
        {"strides", Attr::Ints({0, 0})},
        {"pads", Attr::Ints(p0)}},
       {{1, 1, 5, 5}},
       {{1, 1, 3, 3}}},
      {"pool kernel rank",
       "AveragePool",
       {{"kernel_shape", Attr::Ints({3})}, {"strides", Attr::Ints(s1)}, {"pads", Attr::Ints(p0)}},
       {{1, 1, 5, 5}},
       {{1, 1, 3, 3}}},
      {"pool kernel > padded input",
       "MaxPool",
       {{"kernel_shape", Attr::Ints({7, 7})},
        {"strides", Attr::Ints(s1)},
        {"pads", Attr::Ints(p0)}},
       {{1, 1, 5, 5}},
       {{1, 1, 1, 1}}},
      {"softmax axis", "Softmax", {{"axis", Attr::Int(3)}}, {{2, 3}}, {{2, 3}}},
      {"layernorm axis", "LayerNormalization", {{"axis", Attr::Int(2)}}, {{2, 3}, {3}}, {{2, 3}}},
      {"layernorm scale", "LayerNormalization", {{"axis", Attr::Int(1)}}, {{2, 3}, {4}}, {{2, 3}}},
      {"groupnorm groups 0",
       "GroupNormalization",
       {{"num_groups", Attr::Int(0)}},
       {{1, 4, 2}, {4}, {4}},
       {{1, 4, 2}}},
      {"groupnorm groups !| C",
       "GroupNormalization",
       {{"num_groups", Attr::Int(3)}},
       {{1, 4, 2}, {4}, {4}},
       {{1, 4, 2}}},
      {"batchnorm stats", "BatchNormalization", {}, {{1, 4, 2}, {4}, {4}, {3}, {4}}, {{1, 4, 2}}},
      {"reduce axis",
       "ReduceSum",
       {{"axes", Attr::Ints({2})}, {"keepdims", Attr::Int(1)}},
       {{2, 3}},
       {{2, 3}}},
      {"reshape vs attr", "Reshape", {{"shape", Attr::Ints({3, 2})}}, {{2, 3}}, {{6}}},
      {"flatten axis", "Flatten", {{"axis", Attr::Int(3)}}, {{2, 3}}, {{6, 1}}},
      {"unsqueeze axis", "Unsqueeze", {{"axes", Attr::Ints({5})}}, {{2, 3}}, {{2, 3, 1}}},
      {"transpose perm len", "Transpose", {{"perm", Attr::Ints({0})}}, {{2, 3}}, {{2, 3}}},
      {"transpose perm range", "Transpose", {{"perm", Attr::Ints({0, 2})}}, {{2, 3}}, {{2, 3}}},
      {"expand bad", "Expand", {{"shape", Attr::Ints({4})}}, {{3}}, {{4}}},
      {"tile repeats len", "Tile", {{"repeats", Attr::Ints({2})}}, {{2, 3}}, {{4, 3}}},
      {"tile negative", "Tile", {{"repeats", Attr::Ints({-1, 1})}}, {{2, 3}}, {{2, 3}}},
      {"concat axis", "Concat", {{"axis", Attr::Int(2)}}, {{2, 3}, {2, 3}}, {{2, 6}}},
      {"concat rank", "Concat", {{"axis", Attr::Int(0)}}, {{2, 3}, {3}}, {{5, 3}}},
      {"split no sizes",
       "Split",
       {{"axis", Attr::Int(1)}, {"split", Attr::Ints({1})}},
       {{2, 3}},
       {{2, 1}, {2, 2}}},
      {"slice axis",
       "Slice",
       {{"starts", Attr::Ints({0})},
        {"ends", Attr::Ints({1})},
        {"axes", Attr::Ints({4})},
        {"steps", Attr::Ints({1})}},
       {{2, 3}},
       {{2, 3}}},
      {"slice lengths",
       "Slice",
       {{"starts", Attr::Ints({0, 0})},
        {"ends", Attr::Ints({1})},
        {"axes", Attr::Ints({0})},
        {"steps", Attr::Ints({1})}},
       {{2, 3}},
       {{1, 3}}},
      {"pad len",
       "Pad",
       {{"pads", Attr::Ints({1, 1})}, {"mode", Attr::Str("constant")}},
       {{2, 3}},
       {{4, 3}}},
      {"pad mode",
       "Pad",
       {{"pads", Attr::Ints({1, 1, 0, 0})}, {"mode", Attr::Str("mirror")}},
       {{2, 3}},
       {{3, 4}}},
      {"reflect on empty",
       "Pad",
       {{"pads", Attr::Ints({1, 1})}, {"mode", Attr::Str("reflect")}},
       {{0}},
       {{2}}},
      {"trilu rank 1", "Trilu", {{"upper", Attr::Int(1)}, {"k", Attr::Int(0)}}, {{4}}, {{4}}},
      {"cumsum axis", "CumSum", {{"axis", Attr::Int(2)}}, {{2, 3}}, {{2, 3}}},
      {"gather axis", "Gather", {{"axis", Attr::Int(2)}}, {{2, 3}, {1}}, {{2, 3}}},
      {"gathernd k too big", "GatherND", {{"batch_dims", Attr::Int(0)}}, {{2, 3}, {1, 3}}, {{1}}},
      {"gathernd batch_dims", "GatherND", {{"batch_dims", Attr::Int(2)}}, {{2, 3}, {2, 1}}, {{2}}},
      {"gather elements rank", "GatherElements", {{"axis", Attr::Int(0)}}, {{2, 3}, {2}}, {{2}}},
      {"matmul scalar", "MatMul", {}, {{}, {3}}, {{3}}},
      {"gemm rank", "Gemm", {}, {{2, 3, 4}, {4, 2}}, {{2, 3, 2}}},
      {"gemm K", "Gemm", {}, {{2, 3}, {4, 2}}, {{2, 2}}},
      {"cast to 0", "Cast", {{"to", Attr::Int(0)}}, {{2}}, {{2}}},
      {"too few inputs", "Add", {}, {{2}}, {{2}}},
      {"too many outputs", "Relu", {}, {{2}}, {{2}, {2}}},
      {"where arity", "Where", {}, {{2}, {2}}, {{2}}},
  };
  for (const Bad& b : cases) {
    std::vector<Tensor> ins, outs;
    for (const Shape& s : b.ins) ins.push_back(rand_t(DType::kFloat32, s, 0, 1));
    if (std::string(b.op) == "Gather" || std::string(b.op) == "GatherND" ||
        std::string(b.op) == "GatherElements") {
      ins[1] = make(DType::kInt64, b.ins[1], std::vector<double>(num_elements(b.ins[1]), 0));
    }
    for (const Shape& s : b.outs) outs.emplace_back(DType::kFloat32, s);
    std::vector<Tensor*> pi, po;
    for (auto& t : ins) pi.push_back(&t);
    for (auto& t : outs) po.push_back(&t);
    Status s = run(b.op, b.attrs, pi, po);
    EXPECT_FALSE(s.ok()) << b.op << " (" << b.why << ") should fail";
    if (!s.ok()) {
      EXPECT_EQ(s.message().rfind(b.op, 0), 0u) << "message names the op: " << s.message();
    }
  }
}

TEST(XCheckRobust, NullBufferAndNegativeDimsRejected) {
  TensorRef a{DType::kFloat32, {2}, nullptr};
  Tensor o(DType::kFloat32, {2});
  EXPECT_FALSE(run_cpu_kernel("Relu", {}, {a}, {o.ref()}).ok());
  Tensor x(DType::kFloat32, {2});
  TensorRef neg{DType::kFloat32, {-2}, x.data()};
  EXPECT_FALSE(run_cpu_kernel("Relu", {}, {neg}, {neg}).ok());
}

TEST(XCheckEdge, SoftmaxWithMinusInfinityMask) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = f32({2, 3}, {0, -inf, 1, -inf, 2, -inf}), y(DType::kFloat32, {2, 3});
  ASSERT_TRUE(run("Softmax", {{"axis", Attr::Int(1)}}, {&x}, {&y}).ok());
  const double e = std::exp(1.0);
  expect_close(y, {1 / (1 + e), 0, e / (1 + e), 0, 1, 0});
}

TEST(XCheckEdge, ExpandToLowerOrEqualRankTargetShape) {
  // ONNX Expand broadcasts x with `shape`: the output can keep x's larger rank.
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6}), y(DType::kFloat32, {2, 3});
  ASSERT_TRUE(run("Expand", {{"shape", Attr::Ints({2, 3})}}, {&x}, {&y}).ok());
  expect_close(y, x.values(), 0, 0);
  Tensor v = f32({3}, {1, 2, 3}), w(DType::kFloat32, {1, 3});
  Status s = run("Expand", {{"shape", Attr::Ints({1, 1})}}, {&v}, {&w});
  ASSERT_TRUE(s.ok()) << s.to_string();
  expect_close(w, {1, 2, 3}, 0, 0);
}

TEST(XCheckEdge, ScalarsAndEmptyTensors) {
  Tensor a = f32({}, {2}), b = f32({}, {3}), o(DType::kFloat32, {});
  ASSERT_TRUE(run("Mul", {}, {&a, &b}, {&o}).ok());
  expect_close(o, {6});
  Tensor u(DType::kFloat32, {1});
  ASSERT_TRUE(run("Unsqueeze", {{"axes", Attr::Ints({0})}}, {&a}, {&u}).ok());
  expect_close(u, {2});
  Tensor e(DType::kFloat32, {0, 4}), er(DType::kFloat32, {0, 4});
  EXPECT_TRUE(run("Relu", {}, {&e}, {&er}).ok());
  Tensor ea(DType::kFloat32, {3, 0}), eb(DType::kFloat32, {0, 2}), em(DType::kFloat32, {3, 2});
  ASSERT_TRUE(run("MatMul", {}, {&ea, &eb}, {&em}).ok());
  expect_close(em, std::vector<double>(6, 0), 0, 0, "K=0 matmul is zeros");
  Tensor es(DType::kFloat32, {0}), ss(DType::kFloat32, {});
  ASSERT_TRUE(
      run("ReduceSum", {{"axes", Attr::Ints({0})}, {"keepdims", Attr::Int(0)}}, {&es}, {&ss}).ok());
  expect_close(ss, {0}, 0, 0, "empty sum");
}

}  // namespace
}  // namespace tessera::kernels::xcheck
