// The tiny models' TorchScript archives (PyTorch 2.11, torch.jit.trace) imported and run on the
// CPU kernels against the references PyTorch computed (test_data_set_0).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "frontends/torchscript/torchscript_import.h"
#include "tessera/tensor_io.h"
#include "torchscript_test_util.h"

namespace tessera::ts_fe {
namespace {

const std::string kModels = "../shared/models/tiny/";

ir::TensorData to_data(const HostTensor& t) {
  ir::TensorData d;
  d.dtype = t.dtype, d.shape = t.shape, d.bytes = t.bytes;
  return d;
}

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> m;
  for (const auto& n : g.nodes) ++m[n.op];
  return m;
}

// Imports, runs on input_0.pb, compares with output_0.pb; returns the graph for more checks.
ir::Graph check_model(const std::string& name, ImportOptions o = {}) {
  std::string dir = kModels + name + "/";
  auto g = import_torchscript(dir + "model.torchscript.pt", o);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  if (!g.ok()) return {};
  auto in = read_tensor_proto(dir + "test_data_set_0/input_0.pb");
  auto ref = read_tensor_proto(dir + "test_data_set_0/output_0.pb");
  EXPECT_TRUE(in.ok() && ref.ok());
  auto out = testing::run_graph(*g, {to_data(*in)});
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  if (!out.ok()) return std::move(g).value();
  EXPECT_EQ((*out)[0].shape, ref->shape);
  EXPECT_EQ((*out)[0].dtype, DType::kFloat32);
  if ((*out)[0].shape != ref->shape) return std::move(g).value();
  const float* a = (*out)[0].as<float>();
  const float* b = ref->data<float>();
  double worst = 0;
  for (int64_t i = 0; i < ref->numel(); ++i)
    worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
  EXPECT_LE(worst, 1e-4) << name << ": max abs error " << worst;
  return std::move(g).value();
}

void expect_weights_named(const ir::Graph& g, const std::string& name) {
  bool found = false;
  for (const auto& v : g.values) found |= v.kind == ir::ValueKind::kWeight && v.name == name;
  EXPECT_TRUE(found) << "no weight named " << name;
}

TEST(TorchScriptModels, Gpt2) {
  ir::Graph g = check_model("gpt2");
  auto ops = op_counts(g);
  EXPECT_EQ(ops["LayerNormalization"], 5);
  EXPECT_EQ(ops["Softmax"], 2);
  EXPECT_EQ(ops["CumSum"], 0) << "the mask subgraph must fold to constants";
  EXPECT_EQ(ops["GatherND"], 0);
  expect_weights_named(g, "m.transformer.h.0.attn.c_attn.weight");
  expect_weights_named(g, "m.transformer.wte.weight");  // tied with lm_head: one value
  EXPECT_EQ(g.values[g.inputs.at(0)].name, "ids");
  EXPECT_EQ(g.meta["inputs_from"].s, "traced");
}

TEST(TorchScriptModels, Bert) {
  ir::Graph g = check_model("bert");
  auto ops = op_counts(g);
  EXPECT_EQ(ops["Softmax"], 2);
  EXPECT_EQ(ops["Gelu"], 3);
  expect_weights_named(g, "m.bert.encoder.layer.0.attention.self.query.weight");
}

TEST(TorchScriptModels, Resnet) {
  ir::Graph g = check_model("resnet");
  auto ops = op_counts(g);
  EXPECT_EQ(ops["Conv"], 13);
  EXPECT_EQ(ops["BatchNormalization"], 13);
  EXPECT_EQ(ops["GlobalAveragePool"], 1);
  EXPECT_EQ(ops["MaxPool"], 1);
  expect_weights_named(g, "layer1.0.conv1.weight");
  expect_weights_named(g, "bn1.running_mean");
}

// Input shapes from the options (other batch size): sizes flow through size()/view().
TEST(TorchScriptModels, Gpt2OtherBatch) {
  ImportOptions o;
  o.input_shapes = {{DType::kInt64, {3, 8}}};
  auto g = import_torchscript(kModels + "gpt2/model.torchscript.pt", o);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->values[g->outputs[0]].shape, (Shape{3, 8, 512}));
  EXPECT_EQ(g->meta["inputs_from"].s, "options");
}

TEST(TorchScriptModels, GraphOnly) {
  ImportOptions o;
  o.load_weights = false;
  auto g = import_torchscript(kModels + "bert/model.torchscript.pt", o);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  for (const auto& v : g->values) {
    if (v.kind == ir::ValueKind::kWeight) {
      EXPECT_FALSE(v.data) << v.name;
    }
  }
}

}  // namespace
}  // namespace tessera::ts_fe
