// Arena aliasing of reshape-like ops (passes/core/arena_alias.h, compiler/emit_plan.cpp): chains
// share one buffer, the arena shrinks, nothing is aliased into weight storage or an in-place
// update, graph outputs keep their buffer to the end, the plan runs on the CPU session, and the
// checkpoint and chunk memory models agree with the emitted plan.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "compiler/emit_plan.h"
#include "passes/checkpoint_stages.h"
#include "passes/core/autodiff.h"
#include "passes/core/chunk.h"
#include "runtime_test_util.h"
#include "tessera/reshape_ops.h"
#include "tessera/runtime.h"

namespace tessera {
namespace {

ir::Value value(const std::string& name, const Shape& s, ir::ValueKind k) {
  ir::Value v;
  v.name = name;
  v.dtype = DType::kFloat32;
  v.shape = s;
  v.kind = k;
  return v;
}

int input(ir::Graph& g, const std::string& name, const Shape& s) {
  const int v = g.add_value(value(name, s, ir::ValueKind::kInput));
  g.inputs.push_back(v);
  return v;
}

int weight(ir::Graph& g, const std::string& name, const Shape& s) {
  ir::Value w = value(name, s, ir::ValueKind::kWeight);
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kFloat32;
  d->shape = s;
  d->bytes.resize(num_elements(s) * 4);
  for (size_t i = 0; i < d->bytes.size() / 4; ++i) {
    const float f = 0.01f * static_cast<float>(i % 7) - 0.03f;
    std::memcpy(d->bytes.data() + 4 * i, &f, 4);
  }
  w.data = d;
  return g.add_value(w);
}

// Appends `op`(ins) -> a new activation `name` of shape `s`; reshape-like ops get the attribute
// their CPU kernel checks.
int node(ir::Graph& g, const std::string& op, std::vector<int> ins, const std::string& name,
         const Shape& s) {
  const int out = g.add_value(value(name, s, ir::ValueKind::kActivation));
  ir::Node n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(ins);
  n.outputs = {out};
  if (op == "Reshape") n.attrs["shape"] = Attr::Ints(s);
  if (op == "Unsqueeze") n.attrs["axes"] = Attr::Ints({0});
  if (op == "Flatten") n.attrs["axis"] = Attr::Int(1);
  g.add_node(n);
  return out;
}

// x[4,64] -> Tanh -> t; t -> Reshape [256] -> Unsqueeze [1,256] -> Identity -> Neg -> n;
// n -> Flatten [1,256] -> Exp -> o (output), o -> Reshape [4,64] (output "o4");
// t -> Sigmoid (output "s", read last, so t's buffer must outlive the whole chain).
ir::Graph chains() {
  ir::Graph g;
  g.name = "chains";
  const int x = input(g, "x", {4, 64});
  const int t = node(g, "Tanh", {x}, "t", {4, 64});
  const int r1 = node(g, "Reshape", {t}, "r1", {256});
  const int r2 = node(g, "Unsqueeze", {r1}, "r2", {1, 256});
  const int r3 = node(g, "Identity", {r2}, "r3", {1, 256});
  const int n = node(g, "Neg", {r3}, "n", {1, 256});
  const int f = node(g, "Flatten", {n}, "f", {1, 256});
  const int o = node(g, "Exp", {f}, "o", {1, 256});
  const int o4 = node(g, "Reshape", {o}, "o4", {4, 64});
  const int s = node(g, "Sigmoid", {t}, "s", {4, 64});
  g.outputs = {o, o4, s};
  return g;
}

struct Emitted {
  plan::Plan plan;
  std::string path;
};

Emitted emit(const ir::Graph& g, const std::string& tag) {
  Emitted e;
  e.path = testing::scratch_dir() + "/alias_" + tag + ".tsp";
  compiler::CompileSummary sum;
  Status s = compiler::emit_plan(g, spmd::Mesh(), e.path, &sum);
  EXPECT_TRUE(s.ok()) << s.to_string();
  auto f = planfile::PlanFile::open(e.path);
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  if (f.ok()) e.plan = (*f)->plan();
  EXPECT_EQ(sum.arena_bytes, e.plan.arena_bytes());
  return e;
}

const plan::TensorInfo& tensor(const plan::Plan& p, const std::string& name) {
  for (const auto& t : p.tensors())
    if (t.name() == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return p.tensors(0);
}

// Lifetimes of the plan's buffers (one per alias group, at its root), as the emitter plans
// them; graph outputs to the end.
struct Lives {
  std::vector<int> root, first, last;
};
Lives lives(const plan::Plan& p) {
  Lives l;
  const int steps = p.instructions_size();
  l.first.assign(p.tensors_size(), -1);
  l.last.assign(p.tensors_size(), -1);
  for (int s = 0; s < steps; ++s) {
    for (int t : p.instructions(s).outputs())
      if (l.first[t] < 0) l.first[t] = l.last[t] = s;
    for (int t : p.instructions(s).inputs())
      if (t >= 0) l.last[t] = std::max(l.last[t], s);
  }
  for (const auto& b : p.inputs()) l.first[b.tensor()] = 0;
  for (const auto& b : p.outputs()) l.last[b.tensor()] = steps;
  l.root = planfile::arena_alias_roots(p);
  merge_alias_lifetimes(l.root, l.first, l.last);
  return l;
}

bool is_root(const Lives& l, const plan::TensorInfo& t) {
  return t.storage() == plan::TensorInfo::ARENA && l.first[t.id()] >= 0 && l.root[t.id()] == t.id();
}

// No two buffers live at the same step share a byte.
void expect_disjoint(const plan::Plan& p) {
  const Lives l = lives(p);
  for (const auto& a : p.tensors())
    for (const auto& b : p.tensors()) {
      if (a.id() >= b.id() || !is_root(l, a) || !is_root(l, b)) continue;
      const bool together = l.first[a.id()] <= l.last[b.id()] && l.first[b.id()] <= l.last[a.id()];
      const bool overlap = a.offset() < b.offset() + b.nbytes() &&
                           b.offset() < a.offset() + a.nbytes() && a.nbytes() && b.nbytes();
      EXPECT_FALSE(together && overlap) << a.name() << " and " << b.name();
    }
}

// Most bytes live at one step, each buffer once.
int64_t peak_live(const plan::Plan& p) {
  const Lives l = lives(p);
  std::vector<int64_t> live(p.instructions_size() + 2, 0);
  for (const auto& t : p.tensors())
    if (is_root(l, t)) {
      live[l.first[t.id()]] += t.nbytes();
      live[l.last[t.id()] + 1] -= t.nbytes();
    }
  int64_t cur = 0, peak = 0;
  for (int64_t d : live) peak = std::max(peak, cur += d);
  return peak;
}

TEST(ArenaAlias, ReshapeChainsShareOneBuffer) {
  Emitted e = emit(chains(), "chains");
  const plan::Plan& p = e.plan;
  for (const char* m : {"r1", "r2", "r3"})
    EXPECT_EQ(tensor(p, m).offset(), tensor(p, "t").offset());
  EXPECT_EQ(tensor(p, "f").offset(), tensor(p, "n").offset());
  // A graph output aliased to another graph output: one buffer, kept to the end.
  EXPECT_EQ(tensor(p, "o4").offset(), tensor(p, "o").offset());
  EXPECT_NE(tensor(p, "n").offset(), tensor(p, "t").offset());  // t is still live (Sigmoid)
  expect_disjoint(p);
  const std::vector<int> roots = planfile::arena_alias_roots(p);
  EXPECT_EQ(roots[tensor(p, "r3").id()], tensor(p, "t").id());
  // The same graph with copying ops in their place: the arena of the plans before aliasing.
  ir::Graph copies = chains();
  for (ir::Node& n : copies.nodes)
    if (is_reshape_like_op(n.op)) n.op = "Neg";
  Emitted c = emit(copies, "copies");
  EXPECT_LT(p.arena_bytes(), c.plan.arena_bytes());
  EXPECT_EQ(p.arena_bytes(), 3 * 1024);  // t (to the end of Sigmoid), n, o: 1 KiB each
  std::remove(e.path.c_str());
  std::remove(c.path.c_str());
}

TEST(ArenaAlias, AliasedPlanRunsOnCpu) {
  Emitted e = emit(chains(), "run");
  auto plan = runtime::Plan::load(e.path);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  auto s = runtime::Session::create(*plan, runtime::make_single_comm());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  HostTensor x = HostTensor::zeros("x", DType::kFloat32, {4, 64});
  for (int i = 0; i < 256; ++i) x.data<float>()[i] = 0.02f * static_cast<float>(i - 128);
  ASSERT_TRUE((*s)->bind_input("x", x).ok());
  for (int rep = 0; rep < 2; ++rep) {
    ASSERT_TRUE((*s)->run().ok());
    auto o = (*s)->output("o"), o4 = (*s)->output("o4"), sg = (*s)->output("s");
    ASSERT_TRUE(o.ok() && o4.ok() && sg.ok());
    EXPECT_EQ(o4->shape, (Shape{4, 64}));
    for (int i = 0; i < 256; ++i) {
      const double t = std::tanh(double(x.data<float>()[i]));
      EXPECT_NEAR(o->data<float>()[i], std::exp(-t), 1e-5) << i;
      EXPECT_EQ(o4->data<float>()[i], o->data<float>()[i]) << i;
      EXPECT_NEAR(sg->data<float>()[i], 1 / (1 + std::exp(-t)), 1e-5) << i;
    }
  }
  std::remove(e.path.c_str());
}

// Reshapes of weights copy into the arena (weights are not arena); a reshape of an optimizer
// update written in place into its state gets a buffer of its own.
TEST(ArenaAlias, NothingAliasedIntoWeightsOrInPlaceUpdates) {
  ir::Graph g;
  g.name = "mlp";
  const int x = input(g, "x", {4, 64});
  const int w = weight(g, "layers.0.w", {64, 64});
  const int w1 = node(g, "Reshape", {w}, "w_flat", {4096});
  const int w2 = node(g, "Reshape", {w1}, "w_back", {64, 64});
  const int m = node(g, "MatMul", {x, w2}, "mm", {4, 64});
  const int r = node(g, "Reshape", {m}, "mm_flat", {256});
  const int h = node(g, "Reshape", {r}, "mm_back", {4, 64});
  g.outputs = {node(g, "Tanh", {h}, "y", {4, 64})};
  autodiff::TrainOptions o;
  o.loss = "mse";
  o.optimizer = "adamw";
  ASSERT_TRUE(autodiff::build_training_graph(g, o).ok());
  int updated = -1;
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].name == "layers.0.w.new") updated = static_cast<int>(v);
  ASSERT_GE(updated, 0);
  const int z = node(g, "Reshape", {updated}, "w_new_flat", {4096});
  g.outputs.push_back(z);
  Emitted e = emit(g, "train");
  const plan::Plan& p = e.plan;
  EXPECT_EQ(tensor(p, "layers.0.w").storage(), plan::TensorInfo::WEIGHT);
  EXPECT_EQ(tensor(p, "w_flat").storage(), plan::TensorInfo::ARENA);
  EXPECT_EQ(tensor(p, "w_back").offset(), tensor(p, "w_flat").offset());
  EXPECT_EQ(tensor(p, "mm_back").offset(), tensor(p, "mm").offset());
  const std::vector<int> roots = planfile::arena_alias_roots(p);
  const plan::TensorInfo& zt = tensor(p, "w_new_flat");
  EXPECT_EQ(zt.storage(), plan::TensorInfo::ARENA);
  EXPECT_EQ(roots[zt.id()], zt.id());
  bool in_place = false;  // the update itself went into the state's WEIGHT tensor
  for (const auto& b : p.outputs())
    if (b.name() == "layers.0.w.new")
      in_place = p.tensors(b.tensor()).storage() == plan::TensorInfo::WEIGHT;
  EXPECT_TRUE(in_place);
  expect_disjoint(p);
  // The memory models that mirror the emitter: the checkpoint pass's planned peak (weights +
  // arena planner) and the chunk search's peak live bytes.
  int64_t weights = 0;
  for (const auto& t : p.tensors())
    if (t.storage() == plan::TensorInfo::WEIGHT) weights += (t.nbytes() + 63) / 64 * 64;
  EXPECT_EQ(passes::planned_peak(g), weights + p.arena_bytes());
  EXPECT_EQ(chunk::liveness(g).peak, peak_live(p));
  std::remove(e.path.c_str());
}

}  // namespace
}  // namespace tessera
