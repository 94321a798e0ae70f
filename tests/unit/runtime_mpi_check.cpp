// Run under `mpirun -np 4`: checks every collective on a dp=2 x tp=2 mesh against values each
// rank computes locally from a known global tensor. Prints one line per failure; exit 1 if any.
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "runtime/src/layout.h"
#include "runtime_test_util.h"
#include "tessera/comm.h"
#include "tessera/runtime.h"

namespace tessera::runtime {
namespace {

using Axes = std::vector<std::string>;
int g_fail = 0, g_checks = 0;
Comm* g_comm = nullptr;

void expect(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_fail;
    std::fprintf(stderr, "rank %d: FAIL %s\n", g_comm->rank(), what.c_str());
  }
}
void expect_ok(const Status& s, const std::string& what) {
  expect(s.ok(), what + ": " + s.to_string());
}

// Group of world rank q over `axes` (same arithmetic as Comm::group, done independently here).
std::pair<int, int> group_of(int q, const Axes& axes) {  // (color, group rank)
  const std::vector<std::string> names{"dp", "tp"};
  const int coords[2] = {q / 2, q % 2};
  int rank = 0, color = 0;
  for (const auto& a : axes) rank = rank * 2 + coords[a == "dp" ? 0 : 1];
  for (int i = 0; i < 2; ++i) {
    bool in = false;
    for (const auto& a : axes) in |= a == names[i];
    if (!in) color = color * 2 + coords[i];
  }
  return {color, rank};
}

template <class T>
std::vector<T> global_tensor(const Shape& s, int salt) {
  std::vector<T> v(num_elements(s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>((i * 7 + salt) % 23) - T(5);
  return v;
}

template <class T>
std::vector<T> slice(const std::vector<T>& g, const Shape& s, int64_t dim, int n, int idx) {
  Shape starts(s.size(), 0), sizes = s;
  sizes[dim] /= n;
  starts[dim] = sizes[dim] * idx;
  std::vector<T> out(num_elements(sizes));
  copy_box(reinterpret_cast<const uint8_t*>(g.data()), s, starts, sizes, sizeof(T),
           reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

Shape div_dim(Shape s, int64_t d, int n) {
  s[d] /= n;
  return s;
}

template <class T>
void check_all(Comm& c, DType dt, const Axes& axes) {
  const std::string tag = std::string(dtype_name(dt)) + " over {" + axes[0] +
                          (axes.size() > 1 ? "," + axes[1] : "") + "}";
  const auto [color, grank] = group_of(c.rank(), axes);
  const int n = axes.size() == 2 ? 4 : 2;
  const Shape gs{4, 4, 6};
  const auto G = global_tensor<T>(gs, 3);
  // AllReduce: rank q contributes G*(q+1); sum over my group's members.
  {
    std::vector<T> in(G), out(G.size()), want(G.size(), T(0));
    for (auto& v : in) v *= T(c.rank() + 1);
    for (int q = 0; q < 4; ++q)
      if (group_of(q, axes).first == color)
        for (size_t i = 0; i < G.size(); ++i) want[i] += G[i] * T(q + 1);
    expect_ok(c.all_reduce(axes, {dt, gs, in.data()}, {dt, gs, out.data()}), "AllReduce " + tag);
    expect(out == want, "AllReduce values " + tag);
    expect_ok(c.all_reduce(axes, {dt, gs, in.data()}, {dt, gs, in.data()}),
              "AllReduce in place " + tag);
    expect(in == want, "AllReduce in-place values " + tag);
  }
  for (int64_t dim = 0; dim < 3; ++dim) {
    const std::string td = tag + " dim " + std::to_string(dim);
    if (gs[dim] % n) continue;
    // AllGather: my shard of G along dim -> G.
    auto mine = slice(G, gs, dim, n, grank);
    std::vector<T> out(G.size());
    expect_ok(c.all_gather(axes, dim, {dt, div_dim(gs, dim, n), mine.data()}, {dt, gs, out.data()}),
              "AllGather " + td);
    expect(out == G, "AllGather values " + td);
    // ReduceScatter: rank q holds G*(q+1); I keep my slice of the group sum.
    std::vector<T> in(G);
    T factor = 0;
    for (int q = 0; q < 4; ++q)
      if (group_of(q, axes).first == color) factor += T(q + 1);
    for (auto& v : in) v *= T(c.rank() + 1);
    std::vector<T> rs(mine.size()), want = mine;
    for (auto& v : want) v *= factor;
    expect_ok(
        c.reduce_scatter(axes, dim, {dt, gs, in.data()}, {dt, div_dim(gs, dim, n), rs.data()}),
        "ReduceScatter " + td);
    expect(rs == want, "ReduceScatter values " + td);
    // ShardSlice: G -> my slice.
    std::vector<T> ss(mine.size());
    expect_ok(c.shard_slice(axes, dim, {dt, gs, const_cast<T*>(G.data())},
                            {dt, div_dim(gs, dim, n), ss.data()}),
              "ShardSlice " + td);
    expect(ss == mine, "ShardSlice values " + td);
    // AllToAll: sharded on concat_dim -> sharded on split_dim.
    for (int64_t cd = 0; cd < 3; ++cd) {
      if (cd == dim || gs[cd] % n) continue;
      auto from = slice(G, gs, cd, n, grank);
      auto to = slice(G, gs, dim, n, grank);
      std::vector<T> got(to.size());
      expect_ok(c.all_to_all(axes, dim, cd, {dt, div_dim(gs, cd, n), from.data()},
                             {dt, div_dim(gs, dim, n), got.data()}),
                "AllToAll " + td + " concat " + std::to_string(cd));
      expect(got == to, "AllToAll values " + td + " concat " + std::to_string(cd));
    }
  }
}

// A sharded two-layer MLP on dp=2 x tp=2, run through Session: column-parallel W1, row-parallel
// W2 (partial sums, AllReduce over tp), batch split over dp, outputs gathered to replicated.
struct MlpRef {
  plan::Plan plan;
  std::vector<planfile::WeightBlob> weights;
  std::vector<float> x, w1, w2;
};

MlpRef make_sharded_mlp() {
  using testing::add_instr;
  using testing::add_tensor;
  MlpRef m;
  plan::Plan& p = m.plan;
  for (const char* a : {"dp", "tp"}) {
    auto* ax = p.mutable_mesh()->add_axes();
    ax->set_name(a);
    ax->set_size(2);
  }
  int64_t end = 0;
  const auto A = plan::TensorInfo::ARENA, W = plan::TensorInfo::WEIGHT;
  const DType f = DType::kFloat32;
  int x = add_tensor(&p, "x", f, {2, 4}, A, &end, {4, 4});
  p.mutable_tensors(x)->add_dims()->add_axes("dp");
  p.mutable_tensors(x)->add_dims();
  int w1 = add_tensor(&p, "w1", f, {4, 3}, W, &end, {4, 6});
  int w2 = add_tensor(&p, "w2", f, {3, 2}, W, &end, {6, 2});
  int h = add_tensor(&p, "h", f, {2, 3}, A, &end);
  int r = add_tensor(&p, "r", f, {2, 3}, A, &end);
  int rg = add_tensor(&p, "rg", f, {2, 6}, A, &end);
  int y = add_tensor(&p, "y", f, {4, 6}, A, &end);
  int zp = add_tensor(&p, "zp", f, {2, 2}, A, &end);
  int zr = add_tensor(&p, "zr", f, {2, 2}, A, &end);
  int z = add_tensor(&p, "z", f, {4, 2}, A, &end);
  add_instr(&p, "MatMul", {x, w1}, {h});
  add_instr(&p, "Relu", {h}, {r});
  auto* g1 = add_instr(&p, "AllGather", {r}, {rg});
  testing::add_strings_attr(g1, "axes", {"tp"});
  testing::add_int_attr(g1, "dim", 1);
  auto* g2 = add_instr(&p, "AllGather", {rg}, {y});
  testing::add_strings_attr(g2, "axes", {"dp"});
  testing::add_int_attr(g2, "dim", 0);
  add_instr(&p, "MatMul", {r, w2}, {zp});
  testing::add_strings_attr(add_instr(&p, "AllReduce", {zp}, {zr}), "axes", {"tp"});
  auto* g3 = add_instr(&p, "AllGather", {zr}, {z});
  testing::add_strings_attr(g3, "axes", {"dp"});
  testing::add_int_attr(g3, "dim", 0);
  p.set_arena_bytes(end);
  p.set_has_weight_data(true);
  auto bind = [](google::protobuf::RepeatedPtrField<plan::IOBinding>* l, const char* n, int t) {
    auto* b = l->Add();
    b->set_name(n);
    b->set_tensor(t);
  };
  bind(p.mutable_inputs(), "x", x);
  bind(p.mutable_outputs(), "y", y);
  bind(p.mutable_outputs(), "z", z);
  m.x = global_tensor<float>({4, 4}, 1);
  m.w1 = global_tensor<float>({4, 6}, 2);
  m.w2 = global_tensor<float>({6, 2}, 5);
  for (int q = 0; q < 4; ++q) {  // tp coordinate = q % 2
    m.weights.push_back({w1, q, testing::to_bytes(slice(m.w1, {4, 6}, 1, 2, q % 2))});
    m.weights.push_back({w2, q, testing::to_bytes(slice(m.w2, {6, 2}, 0, 2, q % 2))});
  }
  return m;
}

void check_session(std::shared_ptr<Comm> comm) {
  MlpRef m = make_sharded_mlp();
  const std::string path = testing::scratch_dir(true) + "/mpi_session_check.tsp";
  if (comm->rank() == 0) expect_ok(planfile::write_file(path, m.plan, m.weights), "write plan");
  expect_ok(comm->barrier(), "barrier after write");
  auto plan = Plan::load(path);
  expect_ok(plan.status(), "load plan");
  if (!plan.ok()) return;
  auto s = Session::create(*plan, comm);
  expect_ok(s.status(), "create session");
  if (!s.ok()) return;
  HostTensor x{"x", DType::kFloat32, {4, 4}, testing::to_bytes(m.x)};
  expect_ok((*s)->bind_input("x", x), "bind x");
  expect_ok((*s)->run(), "run");
  auto y = (*s)->output("y");
  auto z = (*s)->output("z");
  expect_ok(y.status(), "output y");
  expect_ok(z.status(), "output z");
  if (!y.ok() || !z.ok()) return;
  double err = 0;
  for (int i = 0; i < 4; ++i) {
    double rr[6];
    for (int j = 0; j < 6; ++j) {
      double a = 0;
      for (int k = 0; k < 4; ++k) a += double(m.x[i * 4 + k]) * m.w1[k * 6 + j];
      rr[j] = a > 0 ? a : 0;
      err = std::max(err, std::abs(rr[j] - y->data<float>()[i * 6 + j]));
    }
    for (int j = 0; j < 2; ++j) {
      double a = 0;
      for (int k = 0; k < 6; ++k) a += rr[k] * m.w2[k * 2 + j];
      err = std::max(err, std::abs(a - z->data<float>()[i * 2 + j]));
    }
  }
  expect(err < 1e-3, "sharded MLP matches float64 reference (max err " + std::to_string(err) + ")");
}

int main_impl() {
  auto cs = comm_from_environment();
  if (!cs.ok()) {
    std::fprintf(stderr, "error: %s\n", cs.status().to_string().c_str());
    return 1;
  }
  Comm& c = **cs;
  g_comm = &c;
  Status ms = c.set_mesh({"dp", "tp"}, {2, 2});
  if (!ms.ok()) {
    std::fprintf(stderr, "error: %s\n", ms.to_string().c_str());
    return 1;
  }
  for (const Axes& axes : {Axes{"tp"}, Axes{"dp"}, Axes{"dp", "tp"}, Axes{"tp", "dp"}}) {
    check_all<float>(c, DType::kFloat32, axes);
    check_all<int64_t>(c, DType::kInt64, axes);
    check_all<double>(c, DType::kFloat64, axes);
    check_all<int32_t>(c, DType::kInt32, axes);
  }
  std::vector<uint8_t> b;
  if (c.rank() == 2) b = {1, 2, 3, 4, 5};
  expect_ok(c.broadcast(&b, 2), "broadcast");
  expect(b == std::vector<uint8_t>({1, 2, 3, 4, 5}), "broadcast values");
  expect_ok(c.barrier(), "barrier");
  check_session(*cs);
  std::fprintf(stderr, "rank %d: %d/%d checks passed\n", c.rank(), g_checks - g_fail, g_checks);
  return g_fail ? 1 : 0;
}

}  // namespace
}  // namespace tessera::runtime

int main() { return tessera::runtime::main_impl(); }
