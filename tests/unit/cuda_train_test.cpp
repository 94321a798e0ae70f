// The training kernels on CUDA against the CPU kernels (kernels/cpu/train_*.cpp), f32: softmax
// cross-entropy and its gradient (with a global row count), LayerNormalization's gradient,
// GatherGrad with repeated and negative indices on axes 0 and 1, ReluGrad, AdamW and SGD; and the
// mixed-dtype forms against the GPU's own Cast-compute-Cast composition, bit for bit.
// Tolerance: relative L2 1e-5 (the CPU accumulates in double, the GPU in f32). Needs a GPU.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/kernel_util.h"
#include "kernels/cuda/cuda_kernels.h"

namespace tessera::kernels {
namespace {

struct HostT {
  DType dt;
  Shape shape;
  std::vector<uint8_t> bytes;
};

HostT floats(Shape s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(num_elements(s)));
  for (auto& x : v) x = u(rng);
  HostT t{DType::kFloat32, s, std::vector<uint8_t>(v.size() * 4)};
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}
HostT ints(Shape s, std::vector<int64_t> v) {
  HostT t{DType::kInt64, s, std::vector<uint8_t>(v.size() * 8)};
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

// Device copies of host tensors, freed with the object.
struct Uploaded {
  std::vector<TensorRef> refs;
  std::vector<void*> ptrs;
  explicit Uploaded(std::vector<HostT>& in) {
    for (HostT& t : in) {
      void* d = nullptr;
      EXPECT_EQ(cudaMalloc(&d, t.bytes.size() + 16), cudaSuccess);
      EXPECT_EQ(cudaMemcpy(d, t.bytes.data(), t.bytes.size(), cudaMemcpyHostToDevice), cudaSuccess);
      refs.push_back({t.dt, t.shape, d});
      ptrs.push_back(d);
    }
  }
  ~Uploaded() {
    for (void* p : ptrs) cudaFree(p);
  }
};

std::vector<TensorRef> host_refs(std::vector<HostT>& in) {
  std::vector<TensorRef> r;
  for (HostT& t : in) r.push_back({t.dt, t.shape, t.bytes.data()});
  return r;
}

class CudaTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) GTEST_SKIP() << "no GPU";
    ASSERT_EQ(cudaStreamCreate(&ctx_.stream), cudaSuccess);
    ASSERT_EQ(cublasLtCreate(&ctx_.lt), CUBLAS_STATUS_SUCCESS);
    ctx_.i32_scratch_bytes = 1 << 20;
    ASSERT_EQ(cudaMalloc(&ctx_.i32_scratch, ctx_.i32_scratch_bytes), cudaSuccess);
  }
  void TearDown() override {
    if (ctx_.i32_scratch) cudaFree(ctx_.i32_scratch);
    if (ctx_.lt) cublasLtDestroy(ctx_.lt);
    if (ctx_.stream) cudaStreamDestroy(ctx_.stream);
  }
  // Runs op on both backends; every output must agree to relative L2 `tol`.
  void check(const char* op, const AttrMap& a, std::vector<HostT> in, std::vector<Shape> outs,
             double tol = 1e-5) {
    const std::vector<TensorRef> cin = host_refs(in);
    Uploaded up(in);
    const std::vector<TensorRef>& gin = up.refs;
    std::vector<TensorRef> cout, gout;
    std::vector<void*> dev;
    std::vector<std::vector<float>> want(outs.size());
    for (size_t o = 0; o < outs.size(); ++o) {
      want[o].assign(static_cast<size_t>(num_elements(outs[o])), 0.f);
      cout.push_back({DType::kFloat32, outs[o], want[o].data()});
      void* d = nullptr;
      ASSERT_EQ(cudaMalloc(&d, want[o].size() * 4 + 16), cudaSuccess);
      ASSERT_EQ(cudaMemset(d, 0x7F, want[o].size() * 4), cudaSuccess);
      gout.push_back({DType::kFloat32, outs[o], d});
      dev.push_back(d);
    }
    Status s = run_cpu_kernel(op, a, cin, cout);
    ASSERT_TRUE(s.ok()) << "CPU: " << s.to_string();
    s = cuda::run_cuda_kernel(ctx_, op, a, gin, gout);
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_EQ(cudaStreamSynchronize(ctx_.stream), cudaSuccess);
    for (size_t o = 0; o < outs.size(); ++o) {
      std::vector<float> got(want[o].size());
      ASSERT_EQ(cudaMemcpy(got.data(), gout[o].data, got.size() * 4, cudaMemcpyDeviceToHost),
                cudaSuccess);
      double num = 0, den = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_FALSE(std::isnan(got[i])) << op << " output " << o << " element " << i;
        num += (got[i] - want[o][i]) * double(got[i] - want[o][i]);
        den += want[o][i] * double(want[o][i]);
      }
      EXPECT_LT(std::sqrt(num / std::max(den, 1e-30)), tol) << op << " output " << o;
    }
    for (void* d : dev) cudaFree(d);
  }
  cuda::CudaContext ctx_;
};

TEST_F(CudaTrain, SoftmaxCrossEntropy) {
  const std::vector<int64_t> labels = {3, 0, 9, 9, 1, 5};
  for (int64_t rows : {6, 12}) {  // 12: this rank holds half of the global rows
    const AttrMap a = {{"rows", Attr::Int(rows)}};
    check("SoftmaxCrossEntropyLoss", a, {floats({6, 10}, 1, -4, 4), ints({6}, labels)},
          {{}, {6, 10}});
    HostT p = floats({6, 10}, 2, 0.f, 0.2f);
    check("SoftmaxCrossEntropyGrad", a, {floats({}, 3, 0.5f, 2.f), p, ints({6}, labels)},
          {{6, 10}});
  }
}

TEST_F(CudaTrain, LayerNormalizationGrad) {
  const AttrMap a = {{"axis", Attr::Int(2)}, {"epsilon", Attr::Float(1e-5)}};
  check("LayerNormalizationGrad", a,
        {floats({4, 5, 48}, 4), floats({4, 5, 48}, 5, -2, 2), floats({48}, 6, 0.5f, 1.5f)},
        {{4, 5, 48}, {48}, {48}});
  // 600 rows: three row chunks in the column sums; 37 columns: a partial column block.
  check("LayerNormalizationGrad", {{"axis", Attr::Int(1)}},
        {floats({600, 37}, 24), floats({600, 37}, 25, -2, 2), floats({37}, 26, 0.5f, 1.5f)},
        {{600, 37}, {37}, {37}});
}

// The fused BatchNorm training ops (kernels/cuda/batchnorm.cu), f32: statistics over a batch
// sliced across blocks (atomic f32 adds of double block sums), 1x1 maps and a rank-2 x; the
// elementwise ops on sums whose variance is positive (count 10: mean in [-0.5, 0.5], E[x²] in
// [3, 6]).
TEST_F(CudaTrain, BatchNormTraining) {
  for (Shape x : {Shape{6, 5, 7, 9}, Shape{40, 300, 1, 1}, Shape{130, 3}, Shape{2, 64, 56, 56}}) {
    const Shape c = {x[1]};
    check("BatchNormStats", {}, {floats(x, 30, -2, 3)}, {c, c});
    const AttrMap a = {{"count", Attr::Float(10)}, {"epsilon", Attr::Float(1e-5)}};
    auto sums = [&](uint32_t seed) {
      return std::vector<HostT>{floats(c, seed, -5, 5), floats(c, seed + 1, 30, 60)};
    };
    std::vector<HostT> in = {floats(x, 31, -2, 2)};
    for (HostT& t : sums(32)) in.push_back(t);
    in.push_back(floats(c, 34, 0.5f, 1.5f));
    in.push_back(floats(c, 35));
    check("BatchNormApply", a, in, {x});
    in = {floats(x, 36), floats(x, 37, -2, 2)};
    for (HostT& t : sums(38)) in.push_back(t);
    check("BatchNormGradStats", a, in, {c, c});
    in.push_back(floats(c, 40, 0.5f, 1.5f));
    in.push_back(floats(c, 41, -3, 3));
    in.push_back(floats(c, 42, -3, 3));
    check("BatchNormGradInput", a, in, {x});
    in = {floats(c, 43), floats(c, 44, 0.5f, 2.f)};
    for (HostT& t : sums(45)) in.push_back(t);
    check("BatchNormRunningUpdate", {{"count", Attr::Float(10)}, {"momentum", Attr::Float(0.9)}},
          in, {c, c});
  }
}

TEST_F(CudaTrain, GatherGradRepeatedAndNegativeIndices) {
  check("GatherGrad", {{"axis", Attr::Int(0)}, {"data_shape", Attr::Ints({10, 8})}},
        {floats({3, 4, 8}, 7), ints({3, 4}, {0, 1, 1, 9, -1, 3, 3, 3, 0, -10, 5, 5})}, {{10, 8}});
  check("GatherGrad", {{"axis", Attr::Int(1)}, {"data_shape", Attr::Ints({2, 6, 3})}},
        {floats({2, 4, 3}, 8), ints({4}, {5, 0, 5, -2})}, {{2, 6, 3}});
}

TEST_F(CudaTrain, ReluGradAndOptimizers) {
  check("ReluGrad", {}, {floats({7, 9}, 9), floats({7, 9}, 10)}, {{7, 9}});
  // 7x9 = 63: the element loop alone; 4x64 takes the 16-byte vector loop.
  check("GeluGrad", {}, {floats({7, 9}, 11), floats({7, 9}, 12)}, {{7, 9}});
  check("GeluGrad", {}, {floats({4, 64}, 13), floats({4, 64}, 14)}, {{4, 64}});
  check("GeluGrad", {{"approximate", Attr::Str("tanh")}},
        {floats({4, 64}, 15), floats({4, 64}, 16)}, {{4, 64}});
  const AttrMap adam = {{"lr", Attr::Float(1e-2)}, {"weight_decay", Attr::Float(0.1)}};
  check("AdamW", adam,
        {floats({33}, 11), floats({33}, 12), floats({33}, 13, -0.1f, 0.1f),
         floats({33}, 14, 0.f, 0.01f), ints({}, {3})},
        {{33}, {33}, {33}});
  const AttrMap sgd = {{"lr", Attr::Float(0.1)},
                       {"momentum", Attr::Float(0.9)},
                       {"weight_decay", Attr::Float(0.01)}};
  check("SGD", sgd, {floats({20}, 15), floats({20}, 16), floats({20}, 17)}, {{20}, {20}});
  check("SGD", {{"lr", Attr::Float(0.1)}}, {floats({20}, 15), floats({20}, 16)}, {{20}});
}

// Training-mode Dropout on a shard (rows 10..13 of a [20, 37] tensor, given as position
// vectors): the same mask as the CPU kernel bit for bit, values within f32 rounding of x/(1-p).
TEST_F(CudaTrain, DropoutMatchesCpuMask) {
  const AttrMap a = {{"ratio", Attr::Float(0.3)}, {"seed", Attr::Int(7)}, {"stream", Attr::Int(3)}};
  std::vector<int64_t> p0, p1;
  for (int64_t r = 10; r < 14; ++r) p0.push_back(r * 37);
  for (int64_t c = 0; c < 37; ++c) p1.push_back(c);
  std::vector<HostT> in = {floats({4, 37}, 21), ints({}, {5}), ints({4}, p0), ints({37}, p1)};
  const std::vector<TensorRef> cin = host_refs(in);
  Uploaded up(in);
  const std::vector<TensorRef>& gin = up.refs;
  std::vector<float> y(148);
  std::vector<uint8_t> m(148);
  ASSERT_TRUE(
      run_cpu_kernel("Dropout", a, cin,
                     {{DType::kFloat32, {4, 37}, y.data()}, {DType::kBool, {4, 37}, m.data()}})
          .ok());
  void *gy = nullptr, *gm = nullptr;
  ASSERT_EQ(cudaMalloc(&gy, 148 * 4), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&gm, 148), cudaSuccess);
  Status s = cuda::run_cuda_kernel(ctx_, "Dropout", a, gin,
                                   {{DType::kFloat32, {4, 37}, gy}, {DType::kBool, {4, 37}, gm}});
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::vector<float> y2(148);
  std::vector<uint8_t> m2(148);
  ASSERT_EQ(cudaMemcpy(y2.data(), gy, 148 * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(m2.data(), gm, 148, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(m2, m);
  int kept = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_NEAR(y2[i], y[i], 1e-6f * std::fabs(y[i]) + 1e-7f) << i;
    kept += m[i];
  }
  EXPECT_GT(kept, 80);  // about 70% of 148 kept: the mask is not all-or-nothing
  EXPECT_LT(kept, 130);
  cudaFree(gy);
  cudaFree(gm);
}

// The mixed-dtype forms (docs/ops.md; passes/fold_casts.cpp) on the GPU give exactly the bits
// of the graph they replace, run on the GPU too: CUDA Cast to f32, the f32 kernel, CUDA Cast
// back. So a folded plan's step equals the unfolded plan's on CUDA as it does on the CPU. For
// bf16 and f16: LayerNormalization (16-bit X; Y 16-bit or f32), LayerNormalizationGrad (16-bit
// dy, x, dx; f32 scale, dscale, dbias), SoftmaxCrossEntropyLoss (16-bit logits) and its
// gradient (16-bit dlogits).
class DeviceBuffers {
 public:
  ~DeviceBuffers() {
    for (void* p : ptrs_) cudaFree(p);
  }
  TensorRef make(DType dt, const Shape& s) {
    void* d = nullptr;
    const size_t bytes = static_cast<size_t>(num_elements(s) * dtype_size(dt));
    EXPECT_EQ(cudaMalloc(&d, bytes + 16), cudaSuccess);
    EXPECT_EQ(cudaMemset(d, 0x7F, bytes), cudaSuccess);
    ptrs_.push_back(d);
    return {dt, s, d};
  }
  TensorRef upload(const HostT& t) {
    TensorRef r = make(t.dt, t.shape);
    EXPECT_EQ(cudaMemcpy(r.data, t.bytes.data(), t.bytes.size(), cudaMemcpyHostToDevice),
              cudaSuccess);
    return r;
  }

 private:
  std::vector<void*> ptrs_;
};

std::vector<uint8_t> download(const TensorRef& t) {
  std::vector<uint8_t> b(static_cast<size_t>(t.bytes()));
  EXPECT_EQ(cudaMemcpy(b.data(), t.data, b.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  return b;
}

TEST_F(CudaTrain, MixedFormsBitIdenticalToCastComposition) {
  for (DType h : {DType::kBFloat16, DType::kFloat16}) {
    SCOPED_TRACE(dtype_name(h));
    DeviceBuffers db;
    auto run = [&](const char* op, const AttrMap& a, std::vector<TensorRef> in,
                   std::vector<TensorRef> out) {
      Status s = cuda::run_cuda_kernel(ctx_, op, a, in, out);
      ASSERT_TRUE(s.ok()) << op << ": " << s.to_string();
      ASSERT_EQ(cudaStreamSynchronize(ctx_.stream), cudaSuccess);
    };
    auto cast = [&](const TensorRef& x, DType to) {
      TensorRef y = db.make(to, x.shape);
      run("Cast", {{"to", Attr::Int(static_cast<int64_t>(to))}}, {x}, {y});
      return y;
    };
    // 16-bit activations: f32 draws cast on the device (what the 16-bit graph holds).
    auto act = [&](const Shape& s, uint32_t seed, float lo, float hi) {
      return cast(db.upload(floats(s, seed, lo, hi)), h);
    };
    const DType f = DType::kFloat32;

    const AttrMap ln = {{"axis", Attr::Int(1)}, {"epsilon", Attr::Float(1e-5)}};
    const TensorRef x16 = act({300, 768}, 31, -3, 3), dy16 = act({300, 768}, 32, -1, 1);
    const TensorRef sc = db.upload(floats({768}, 33, 0.5f, 1.5f)), b = db.upload(floats({768}, 34));
    const TensorRef x32 = cast(x16, f), dy32 = cast(dy16, f);
    TensorRef y32 = db.make(f, {300, 768}), y16 = db.make(h, {300, 768}),
              y32m = db.make(f, {300, 768});
    run("LayerNormalization", ln, {x32, sc, b}, {y32});
    run("LayerNormalization", ln, {x16, sc, b}, {y16});
    run("LayerNormalization", ln, {x16, sc, b}, {y32m});
    EXPECT_EQ(download(y16), download(cast(y32, h))) << "LayerNormalization Y 16-bit";
    EXPECT_EQ(download(y32m), download(y32)) << "LayerNormalization Y f32";

    TensorRef dx32 = db.make(f, {300, 768}), ds = db.make(f, {768}), dbias = db.make(f, {768});
    run("LayerNormalizationGrad", ln, {dy32, x32, sc}, {dx32, ds, dbias});
    const std::vector<uint8_t> want_dx = download(cast(dx32, h)), want_ds = download(ds),
                               want_db = download(dbias);
    TensorRef dx16 = db.make(h, {300, 768}), ds2 = db.make(f, {768}), db2 = db.make(f, {768});
    run("LayerNormalizationGrad", ln, {dy16, x16, sc}, {dx16, ds2, db2});
    EXPECT_EQ(download(dx16), want_dx) << "LayerNormalizationGrad dx";
    EXPECT_EQ(download(ds2), want_ds) << "LayerNormalizationGrad dscale";
    EXPECT_EQ(download(db2), want_db) << "LayerNormalizationGrad dbias";

    const AttrMap rows = {{"rows", Attr::Int(64)}};
    std::vector<int64_t> lab(32);
    for (int64_t i = 0; i < 32; ++i) lab[static_cast<size_t>(i)] = (i * 977) % 5000;
    const TensorRef labels = db.upload(ints({32}, lab)), l16 = act({32, 5000}, 35, -8, 8);
    TensorRef loss = db.make(f, {}), p = db.make(f, {32, 5000});
    run("SoftmaxCrossEntropyLoss", rows, {cast(l16, f), labels}, {loss, p});
    TensorRef loss2 = db.make(f, {}), p2 = db.make(f, {32, 5000});
    run("SoftmaxCrossEntropyLoss", rows, {l16, labels}, {loss2, p2});
    EXPECT_EQ(download(loss2), download(loss)) << "SoftmaxCrossEntropyLoss loss";
    EXPECT_EQ(download(p2), download(p)) << "SoftmaxCrossEntropyLoss softmax";
    const TensorRef seed = db.upload(floats({}, 36, 512.f, 1024.f));
    TensorRef d32 = db.make(f, {32, 5000}), d16 = db.make(h, {32, 5000});
    run("SoftmaxCrossEntropyGrad", rows, {seed, p, labels}, {d32});
    run("SoftmaxCrossEntropyGrad", rows, {seed, p, labels}, {d16});
    EXPECT_EQ(download(d16), download(cast(d32, h))) << "SoftmaxCrossEntropyGrad dlogits";
  }
}

}  // namespace
}  // namespace tessera::kernels
