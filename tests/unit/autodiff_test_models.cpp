// The tiny shared models: loss and every gradient of one training step against PyTorch's
// (../shared/models/tiny/*/train_reference), through import -> autodiff -> interpreter.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "autodiff_test_util.h"
#include "frontends/onnx/onnx_import.h"
#include "passes/core/autodiff.h"
#include "passes/core/interpreter.h"

namespace tessera {
namespace {

const std::string kModels = "../shared/models/tiny/";

// grads.json: initializer name -> file. The format is fixed and flat enough for a regex.
std::map<std::string, std::string> read_grads_json(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  std::map<std::string, std::string> m;
  const std::regex re("\"([^\"]+)\"\\s*:\\s*\\{\\s*\"file\"\\s*:\\s*\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
    m[(*it)[1]] = (*it)[2];
  return m;
}

void check_model(const std::string& name) {
  const std::string dir = kModels + name + "/";
  auto g = onnx_fe::import_onnx(dir + "model.onnx", {});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const int64_t classes = g->values[g->outputs[0]].shape.back();
  const std::string input = g->values[g->inputs[0]].name;
  autodiff::TrainOptions o;
  o.gradients_only = true;
  Status s = autodiff::build_training_graph(*g, o);
  ASSERT_TRUE(s.ok()) << s.to_string();

  auto x = read_tensor_proto(dir + "test_data_set_0/input_0.pb");
  ASSERT_TRUE(x.ok()) << x.status().to_string();
  core::Feeds feeds = {{input, adtest::from_host(*x)}};
  int labels_id = -1;
  for (int v : g->inputs) labels_id = g->values[v].name == "labels" ? v : labels_id;
  ASSERT_GE(labels_id, 0);
  std::vector<int64_t> labels(static_cast<size_t>(num_elements(g->values[labels_id].shape)));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i) % classes;
  feeds["labels"] = adtest::make_tensor(DType::kInt64, g->values[labels_id].shape, labels);

  auto outs = core::interpret(*g, feeds);
  ASSERT_TRUE(outs.ok()) << outs.status().to_string();
  auto loss_ref = read_tensor_proto(dir + "train_reference/loss.pb");
  ASSERT_TRUE(loss_ref.ok());
  const double loss = adtest::to_doubles((*outs)[0])[0], want = loss_ref->data<float>()[0];
  EXPECT_NEAR(loss, want, 1e-4 * std::abs(want)) << name << " loss";

  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < g->outputs.size(); ++i) by_name[g->values[g->outputs[i]].name] = i;
  const auto grads = read_grads_json(dir + "train_reference/grads.json");
  ASSERT_FALSE(grads.empty());
  for (const auto& [w, file] : grads) {
    auto it = by_name.find(w + ".grad");
    if (it == by_name.end()) {
      ADD_FAILURE() << name << ": no gradient output for " << w;
      continue;
    }
    auto ref = read_tensor_proto(dir + "train_reference/" + file);
    ASSERT_TRUE(ref.ok()) << ref.status().to_string();
    const ir::TensorData& got = (*outs)[it->second];
    ASSERT_EQ(got.shape, ref->shape) << name << " " << w;
    const auto a = adtest::to_doubles(got), r = adtest::to_doubles(adtest::from_host(*ref));
    // Some gradients are exactly zero in exact arithmetic (attention key biases: softmax is
    // invariant to a per-row constant), so both sides are float rounding noise; compare those
    // against a floor of 1e-5 instead of their own magnitude.
    const double err = adtest::rel_max_err(a, r, 1e-5);
    EXPECT_LT(err, 1e-4) << name << ": gradient of " << w << ", max|ref| " << adtest::max_abs(r)
                         << ", max|got| " << adtest::max_abs(a);
  }
}

TEST(AutodiffModels, Gpt2) { check_model("gpt2"); }
TEST(AutodiffModels, Bert) { check_model("bert"); }
TEST(AutodiffModels, Resnet) { check_model("resnet"); }

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// A full AdamW step on gpt2 (tied embedding/head weight included): the loss equals the
// reference, every trained weight moves by at most about lr, the step counter becomes 1.
TEST(AutodiffModels, Gpt2AdamWStep) {
  const std::string dir = kModels + "gpt2/";
  auto g = onnx_fe::import_onnx(dir + "model.onnx", {});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const int64_t classes = g->values[g->outputs[0]].shape.back();
  const std::string input = g->values[g->inputs[0]].name;
  std::map<std::string, ir::TensorDataPtr> before;
  for (const ir::Value& v : g->values)
    if (v.kind == ir::ValueKind::kWeight && v.data) before[v.name] = v.data;
  autodiff::TrainOptions o;
  o.lr = 1e-3;
  // Train PyTorch's parameters only: the exporter also stores the folded attention mask
  // ("where") and scalar literals as float initializers.
  for (const auto& wf : read_grads_json(dir + "train_reference/grads.json"))
    o.trainable.push_back(wf.first);
  ASSERT_TRUE(autodiff::build_training_graph(*g, o).ok());
  auto x = read_tensor_proto(dir + "test_data_set_0/input_0.pb");
  ASSERT_TRUE(x.ok());
  std::vector<int64_t> labels(static_cast<size_t>(x->numel()));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i) % classes;
  core::Feeds feeds = {{input, adtest::from_host(*x)},
                       {"labels", adtest::make_tensor(DType::kInt64, x->shape, labels)}};
  auto outs = core::interpret(*g, feeds);
  ASSERT_TRUE(outs.ok()) << outs.status().to_string();
  auto loss_ref = read_tensor_proto(dir + "train_reference/loss.pb");
  ASSERT_TRUE(loss_ref.ok());
  EXPECT_NEAR(adtest::to_doubles((*outs)[0])[0], loss_ref->data<float>()[0], 1e-4);
  int moved = 0;
  for (size_t i = 1; i < g->outputs.size(); ++i) {
    const std::string name = g->values[g->outputs[i]].name;
    if (name == "optimizer.step.new") {
      EXPECT_EQ((*outs)[i].as<int64_t>()[0], 1);
      continue;
    }
    const std::string w = name.substr(0, name.size() - 4);  // strip ".new"
    auto it = before.find(w);
    if (it == before.end()) continue;  // optimizer state
    EXPECT_TRUE(std::count(o.trainable.begin(), o.trainable.end(), w)) << w << " is not trainable";
    const auto a = adtest::to_doubles(*it->second), b = adtest::to_doubles((*outs)[i]);
    double step = 0;
    for (size_t k = 0; k < a.size(); ++k) step = std::max(step, std::abs(b[k] - a[k]));
    EXPECT_GT(step, 0) << w;
    EXPECT_LT(step, 1.1e-3 + 1e-5 * adtest::max_abs(a)) << w;
    ++moved;
  }
  EXPECT_GT(moved, 20);
}

}  // namespace
}  // namespace tessera
