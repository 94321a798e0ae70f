// Helpers for runtime tests: build small plans programmatically.
#pragma once
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tessera/dtype.h"
#include "tessera/plan_file.h"

namespace tessera::testing {

// A scratch directory for files the tests write, private to this process (or, with `shared`,
// to every rank started by the same mpirun, which is their common parent). Tests must not
// write into the source tree or a build directory that a clean checkout lacks.
inline std::string scratch_dir(bool shared = false) {
  const pid_t id = shared ? getppid() : getpid();
  std::filesystem::path d =
      std::filesystem::temp_directory_path() / ("tessera-runtime-test-" + std::to_string(id));
  std::filesystem::create_directories(d);
  return d.string();
}

// Appends a tensor; ARENA tensors get 64-aligned offsets after `arena_end`.
inline int add_tensor(plan::Plan* p, const std::string& name, DType dt, Shape shape,
                      plan::TensorInfo::Storage storage, int64_t* arena_end, Shape global = {}) {
  plan::TensorInfo* t = p->add_tensors();
  t->set_id(p->tensors_size() - 1);
  t->set_name(name);
  t->set_dtype(static_cast<int32_t>(dt));
  for (int64_t d : shape) t->add_shape(d);
  for (int64_t d : (global.empty() ? shape : global)) t->add_global_shape(d);
  t->set_storage(storage);
  t->set_nbytes(num_elements(shape) * dtype_size(dt));
  if (storage == plan::TensorInfo::ARENA) {
    t->set_offset(*arena_end);
    *arena_end = (*arena_end + t->nbytes() + 63) / 64 * 64;
  }
  return t->id();
}

inline plan::Instruction* add_instr(plan::Plan* p, const std::string& op, std::vector<int> ins,
                                    std::vector<int> outs) {
  plan::Instruction* i = p->add_instructions();
  i->set_op(op);
  i->set_node(op + "_" + std::to_string(p->instructions_size() - 1));
  for (int x : ins) i->add_inputs(x);
  for (int x : outs) i->add_outputs(x);
  return i;
}

inline void add_strings_attr(plan::Instruction* i, const std::string& name,
                             std::vector<std::string> v) {
  plan::AttrProto* a = i->add_attrs();
  a->set_name(name);
  a->set_kind(plan::AttrProto::STRINGS);
  for (auto& s : v) a->add_strings(s);
}

inline void add_int_attr(plan::Instruction* i, const std::string& name, int64_t v) {
  plan::AttrProto* a = i->add_attrs();
  a->set_name(name);
  a->set_kind(plan::AttrProto::INT);
  a->set_i(v);
}

template <class T>
std::vector<uint8_t> to_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace tessera::testing

namespace tessera::testing {

// y = Relu(MatMul(x[2,3], W[3,4]) + b[4]) on a one-axis mesh of size 1.
struct MlpPlan {
  plan::Plan plan;
  std::vector<planfile::WeightBlob> weights;
  std::vector<float> w, b;
};

inline MlpPlan make_mlp_plan() {
  MlpPlan m;
  plan::Plan& p = m.plan;
  p.set_model_name("mlp");
  p.set_producer("runtime_test");
  auto* ax = p.mutable_mesh()->add_axes();
  ax->set_name("tp");
  ax->set_size(1);
  int64_t end = 0;
  const auto A = plan::TensorInfo::ARENA, W = plan::TensorInfo::WEIGHT;
  int x = add_tensor(&p, "x", DType::kFloat32, {2, 3}, A, &end);
  int w = add_tensor(&p, "W", DType::kFloat32, {3, 4}, W, &end);
  int b = add_tensor(&p, "b", DType::kFloat32, {4}, W, &end);
  int mm = add_tensor(&p, "mm", DType::kFloat32, {2, 4}, A, &end);
  int add = add_tensor(&p, "add", DType::kFloat32, {2, 4}, A, &end);
  int y = add_tensor(&p, "y", DType::kFloat32, {2, 4}, A, &end);
  add_instr(&p, "MatMul", {x, w}, {mm});
  add_instr(&p, "Add", {mm, b}, {add});
  add_instr(&p, "Relu", {add}, {y});
  p.set_arena_bytes(end);
  p.set_has_weight_data(true);
  auto* in = p.add_inputs();
  in->set_name("x");
  in->set_tensor(x);
  auto* out = p.add_outputs();
  out->set_name("y");
  out->set_tensor(y);
  for (int i = 0; i < 12; ++i) m.w.push_back(0.25f * static_cast<float>(i % 5) - 0.5f);
  m.b = {0.5f, -1.0f, 0.25f, 0.0f};
  m.weights.push_back({w, -1, to_bytes(m.w)});
  m.weights.push_back({b, -1, to_bytes(m.b)});
  return m;
}

}  // namespace tessera::testing
