// Real models from ../shared/models: tiny ones with weights, full-size graph-only ones.
#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "frontends/onnx/onnx_import.h"

namespace tessera::onnx_fe {
namespace {

const std::string kModels = "../shared/models/";

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> m;
  for (const auto& n : g.nodes) ++m[n.op];
  return m;
}

ir::Graph import_ok(const std::string& rel, ImportOptions o = {}) {
  auto g = import_onnx(kModels + rel, o);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  if (!g.ok()) return {};
  return std::move(g).value();
}

const ir::Value& output(const ir::Graph& g, size_t i) { return g.values[g.outputs.at(i)]; }

void expect_no_shape_ops(const ir::Graph& g) {
  for (const auto& n : g.nodes) {
    EXPECT_NE(n.op, "Shape") << n.name;
    EXPECT_NE(n.op, "Range") << n.name;
    EXPECT_NE(n.op, "ConstantOfShape") << n.name;
    EXPECT_NE(n.op, "Constant") << n.name;
  }
}

TEST(FrontendModels, TinyGpt2) {
  ir::Graph g = import_ok("tiny/gpt2/model.onnx");
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(output(g, 0).shape, (Shape{2, 16, 512}));
  EXPECT_EQ(output(g, 0).dtype, DType::kFloat32);
  auto ops = op_counts(g);
  EXPECT_EQ(ops["LayerNormalization"], 5);  // 2 per layer + final
  EXPECT_GT(ops["MatMul"] + ops["Gemm"], 8);
  EXPECT_EQ(g.values[g.inputs.at(0)].shape, (Shape{2, 16}));
  EXPECT_EQ(g.meta["weights_missing"].i, 0);
  expect_no_shape_ops(g);
  for (const auto& v : g.values) {
    if (v.kind == ir::ValueKind::kWeight) {
      EXPECT_TRUE(v.data) << v.name;
    }
  }
}

TEST(FrontendModels, TinyBert) {
  ir::Graph g = import_ok("tiny/bert/model.onnx");
  EXPECT_EQ(output(g, 0).shape, (Shape{2, 16, 512}));
  auto ops = op_counts(g);
  EXPECT_EQ(ops["Softmax"], 2);
  EXPECT_EQ(ops["Erf"], 3);  // 2 layers + MLM head transform
  expect_no_shape_ops(g);
}

TEST(FrontendModels, TinyResnet) {
  ir::Graph g = import_ok("tiny/resnet/model.onnx");
  EXPECT_EQ(output(g, 0).shape, (Shape{2, 10}));
  auto ops = op_counts(g);
  EXPECT_EQ(ops["Conv"], 13);  // stem + 4 blocks x 2 + 4 shortcut projections
  EXPECT_EQ(ops["MaxPool"], 1);
  EXPECT_EQ(ops["Gemm"], 1);
  for (const auto& n : g.nodes) {
    if (n.op == "Conv") {
      EXPECT_EQ(n.attrs.at("pads").ints.size(), 4u) << n.name;
    }
  }
}

struct Full {
  const char* path;
  double params_m;
  std::map<std::string, int64_t> dims;
};

class FrontendFull : public ::testing::TestWithParam<Full> {};

TEST_P(FrontendFull, ImportsAndCountsParameters) {
  const Full& f = GetParam();
  ImportOptions o;
  o.dim_bindings = f.dims;
  o.load_weights = false;
  const auto t0 = std::chrono::steady_clock::now();
  ir::Graph g = import_ok(f.path, o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 3.0);
  EXPECT_NEAR(g.parameter_count() / 1e6, f.params_m, 0.1);
  expect_no_shape_ops(g);
  EXPECT_GT(g.nodes.size(), 10u);
  for (const auto& v : g.values) {
    for (int64_t d : v.shape) EXPECT_GE(d, 0) << v.name;
  }
}

// Expected counts are the float initializers the files hold. models/README.md quotes the
// PyTorch module counts (gpt2-xl 1557.6M, bert-large 335.2M): the exporter dropped the
// all-zero Conv1D biases of GPT-2 (48 x 14400) and unused BERT parameters, so the files carry
// 1556.92M and 334.95M. gpt2-124m (124.36M) is within 0.1M of the quoted 124.4M.
INSTANTIATE_TEST_SUITE_P(
    All, FrontendFull,
    ::testing::Values(Full{"full/gpt2-124m/model.onnx", 124.4, {{"batch", 8}, {"seq", 1024}}},
                      Full{"full/gpt2-xl-1.5b/model.onnx", 1556.92, {{"batch", 8}, {"seq", 1024}}},
                      Full{"full/bert-large-340m/model.onnx", 334.95, {{"batch", 8}, {"seq", 512}}},
                      Full{"full/resnet50/model.onnx", 25.6, {{"batch", 8}}}));

TEST(FrontendModels, FullWeightsMissingRecorded) {
  ImportOptions o;
  o.dim_bindings = {{"batch", 2}, {"seq", 64}};
  ir::Graph g = import_ok("full/gpt2-124m/model.onnx", o);
  EXPECT_GT(g.meta["weights_missing"].i, 0);
  EXPECT_EQ(output(g, 0).shape[0], 2);
  EXPECT_EQ(output(g, 0).shape[1], 64);
}

}  // namespace
}  // namespace tessera::onnx_fe
