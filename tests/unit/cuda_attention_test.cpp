// FusedAttention and FusedAttentionGrad on CUDA (kernels/cuda/attention.{cpp,cu}) against the
// float64 unfused reference (cuda_attention_ref.h) on the inputs as rounded to the dtype.
// Cases: rank 2, 3 and 4, Sq != Sk both ways, D != Dv, causal, masks of every broadcast kind
// (and dtype: f32/f16/bf16/f64), chunks of 1, uneven chunks, one chunk, a row with every key
// masked (y and dq exactly 0), every row-kernel shape (warp 8/16/32 per lane, block, loop over
// rows > 16384, vector and element-wise rows), K = 0 GEMMs, and gpt2-124m's training size.
// Error: relative L2 over the checked batch-heads, per output. Tolerances (tol_of): f32 1e-5
// (f32 storage and accumulation, __expf); bf16 2e-2 and f16 3e-3, where S, P, dP and dS are
// stored in 16 bits (8 and 11 significant bits) as well as y and the gradients. Largest errors
// measured on the H100 (2026-12-07): f32 1.5e-6, bf16 7.4e-3, f16 8.9e-4 (gpt2 size: bf16 5.1e-3).
// The flash path (flash_attention.cu: f16/bf16, D = Dv, D % 16 == 0, D <= 128) takes the 16-bit
// cases that fit, the gpt2 and bert sizes included; the CudaFlash cases aim at it (tile edges:
// S = 1, 17, 63, 64, 65, 200, 1024; D = 16..128; cross attention; causal with Sq != Sk; masks
// [B,1,1,Sk], [B,1,Sq,Sk], dead rows and a dead first key block) and check that it ran, and
// FlashVsGemm runs both paths on one input (set_flash_attention_enabled) and compares them.
// CudaAttentionBshd runs layout = "bshd" ([B,S,H,D] operands) against the bhsd layout on the
// same values, on the flash path and on the GEMM path (one cuBLASLt call per batch).
// Set TESSERA_TEST_VERBOSE=1 to print every error. Needs a GPU (skips without one).
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/flash_attention.h"
#include "tests/unit/cuda_attention_ref.h"

namespace tessera::kernels {
namespace {

using attn_test::AttnRef;
using attn_test::AttnShape;
using attn_test::HostT;

double tol_of(DType dt) {
  return dt == DType::kFloat32 ? 1e-5 : dt == DType::kFloat16 ? 3e-3 : 2e-2;
}

// kBatchRows: [B, 1, .., Sq, Sk]; kKeysHeadDead: [Sk] with keys 0..69 at -inf (a whole first key
// block masked for every row: the online softmax starts from max = -inf).
enum MaskKind { kNoMask, kKeys, kPadding, kRowsKeys, kFull, kBatchRows, kKeysHeadDead };

struct Case {
  const char* name;
  Shape lead;
  int64_t sq, sk, d, dv;
  bool causal;
  int64_t chunk;
  MaskKind mask;
  DType mask_dt;
  int64_t dead_row;  // query row the mask closes completely (-1: none)
};

const std::vector<Case>& cases() {
  const DType f32 = DType::kFloat32;
  static const std::vector<Case> c = {
      {"rank3", {3}, 5, 7, 8, 6, false, 0, kNoMask, f32, -1},
      {"rank4_causal_chunk3", {2, 3}, 10, 10, 16, 16, true, 3, kNoMask, f32, -1},
      {"sq_lt_sk_causal_chunk1", {2}, 6, 13, 8, 5, true, 1, kNoMask, f32, -1},
      {"sq_gt_sk_causal", {2}, 9, 4, 8, 8, true, 0, kNoMask, f32, -1},
      {"padding_mask_B11Sk", {2, 3}, 9, 11, 12, 7, false, 0, kPadding, f32, -1},
      {"mask_SqSk_f16_causal_chunk3", {2, 2}, 7, 12, 8, 8, true, 3, kRowsKeys, DType::kFloat16, -1},
      {"dead_row_chunk4", {3}, 6, 9, 4, 3, false, 4, kRowsKeys, f32, 2},
      {"dead_row_full_mask_f64", {2}, 4, 5, 3, 2, false, 0, kFull, DType::kFloat64, 3},
      {"rank2_keys_mask_bf16", {}, 5, 6, 4, 4, true, 2, kKeys, DType::kBFloat16, -1},
      {"warp16_sk300", {2}, 3, 300, 16, 8, false, 2, kKeys, f32, -1},
      {"warp32_sk777_unaligned", {2}, 3, 777, 16, 8, false, 0, kNoMask, f32, -1},
      {"warp32_sk1024_padding", {2, 1}, 4, 1024, 32, 16, false, 3, kPadding, f32, -1},
      {"block128_sk1500", {2}, 3, 1500, 16, 8, true, 2, kNoMask, f32, -1},
      {"block512_sk5000", {2}, 3, 5000, 16, 8, false, 0, kRowsKeys, f32, 1},
      {"block1024_sk16384", {1}, 2, 16384, 8, 8, false, 1, kKeys, f32, -1},
      {"loop_sk20000", {2}, 3, 20000, 8, 8, false, 2, kKeys, f32, -1},
      {"loop_sk20001_causal", {1}, 2, 20001, 8, 4, true, 0, kNoMask, f32, -1},
      {"head_size_0", {2}, 3, 4, 0, 3, false, 0, kNoMask, f32, -1},
      {"value_size_0", {2}, 3, 4, 5, 0, false, 2, kNoMask, f32, -1},
      {"no_keys", {2}, 3, 0, 4, 3, false, 0, kNoMask, f32, -1},
  };
  return c;
}

Shape mask_shape(const Case& c) {
  switch (c.mask) {
    case kKeys:
    case kKeysHeadDead:
      return {c.sk};
    case kPadding: {  // [B, 1, .., 1, Sk]
      Shape s(c.lead.size() + 2, 1);
      s[0] = c.lead[0];
      s.back() = c.sk;
      return s;
    }
    case kRowsKeys:
      return {c.sq, c.sk};
    case kBatchRows: {  // [B, 1, .., 1, Sq, Sk]
      Shape s(c.lead.size() + 2, 1);
      s[0] = c.lead[0];
      s[s.size() - 2] = c.sq;
      s.back() = c.sk;
      return s;
    }
    default: {
      Shape s = c.lead;
      s.push_back(c.sq);
      s.push_back(c.sk);
      return s;
    }
  }
}

std::vector<float> random(int64_t n, uint32_t seed, bool normal) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = normal ? nd(rng) : u(rng);
  return v;
}

// Mask values in [-1, 1), -inf with probability 0.15, and -inf along row dead_row.
HostT make_mask(const Case& c, uint32_t seed) {
  const Shape s = mask_shape(c);
  std::vector<float> m = random(num_elements(s), seed, false);
  std::mt19937 rng(seed + 1);
  for (auto& x : m)
    if (rng() % 100 < 15) x = -INFINITY;
  if (c.dead_row >= 0)
    for (size_t i = 0; i < m.size(); ++i)
      if ((static_cast<int64_t>(i) / c.sk) % c.sq == c.dead_row) m[i] = -INFINITY;
  if (c.mask == kKeysHeadDead)
    for (size_t i = 0; i < m.size() && i < 70; ++i) m[i] = -INFINITY;
  return attn_test::make_host(c.mask_dt, s, m);
}

struct Inputs {
  AttnShape p;
  int64_t n = 1;
  HostT q, k, v, dy, mask;
  bool has_mask = false;
};

Inputs make_inputs(const Case& c, DType dt) {
  Inputs x;
  x.p = {c.lead, c.sq, c.sk, c.d, c.dv, c.d ? 1.0 / std::sqrt(double(c.d)) : 1.0, c.causal};
  x.n = num_elements(c.lead);
  const auto shape = [&](int64_t a, int64_t b) {
    Shape s = c.lead;
    s.push_back(a);
    s.push_back(b);
    return s;
  };
  x.q = attn_test::make_host(dt, shape(c.sq, c.d), random(x.n * c.sq * c.d, 1, true));
  x.k = attn_test::make_host(dt, shape(c.sk, c.d), random(x.n * c.sk * c.d, 2, true));
  x.v = attn_test::make_host(dt, shape(c.sk, c.dv), random(x.n * c.sk * c.dv, 3, false));
  x.dy = attn_test::make_host(dt, shape(c.sq, c.dv), random(x.n * c.sq * c.dv, 4, false));
  x.has_mask = c.mask != kNoMask;
  if (x.has_mask) x.mask = make_mask(c, 5);
  return x;
}

// Device buffers freed with the object; outputs poisoned with NaN (0xFF bytes) so unwritten
// elements fail the comparison.
struct Dev {
  std::vector<void*> ptrs;
  ~Dev() {
    for (void* p : ptrs) cudaFree(p);
  }
  TensorRef put(DType dt, const Shape& s, const void* host) {
    const size_t n = static_cast<size_t>(num_elements(s) * dtype_size(dt));
    void* d = nullptr;
    EXPECT_EQ(cudaMalloc(&d, n + 256), cudaSuccess);
    ptrs.push_back(d);
    if (n == 0) return {dt, s, d};
    EXPECT_EQ(host ? cudaMemcpy(d, host, n, cudaMemcpyHostToDevice) : cudaMemset(d, 0xFF, n),
              cudaSuccess);
    return {dt, s, d};
  }
  TensorRef put(const HostT& t) { return put(t.dt, t.shape, t.bytes.data()); }
};

std::vector<double> download(const TensorRef& t) {
  std::vector<uint8_t> h(static_cast<size_t>(t.bytes()));
  EXPECT_EQ(cudaMemcpy(h.data(), t.data, h.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  return attn_test::to_double(t.dtype, h);
}

bool verbose() {
  const char* v = std::getenv("TESSERA_TEST_VERBOSE");
  return v && *v && *v != '0';
}

// The context every test shares (made once; as cuda_kernels_test, never torn down).
struct Gpu {
  cuda::CudaContext ctx;
  bool ok = false;
  Gpu() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return;
    ok = cudaStreamCreate(&ctx.stream) == cudaSuccess &&
         cublasLtCreate(&ctx.lt) == CUBLAS_STATUS_SUCCESS &&
         cudaMalloc(&ctx.workspace, size_t{32} << 20) == cudaSuccess;
    ctx.workspace_bytes = int64_t{32} << 20;
  }
};
Gpu& gpu() {
  static Gpu* g = new Gpu;
  return *g;
}

void run(const char* op, const AttrMap& a, const std::vector<TensorRef>& in,
         const std::vector<TensorRef>& out) {
  const Status s = cuda::run_cuda_kernel(gpu().ctx, op, a, in, out);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(cudaStreamSynchronize(gpu().ctx.stream), cudaSuccess);
}

// Relative L2 error of one output over the checked batch-heads.
struct Err {
  double num = 0, den = 0;
  void add(const std::vector<double>& got, int64_t b, const std::vector<double>& want) {
    const size_t off = static_cast<size_t>(b) * want.size();
    for (size_t i = 0; i < want.size(); ++i) {
      num += (got[off + i] - want[i]) * (got[off + i] - want[i]);
      den += want[i] * want[i];
    }
  }
  double rel() const { return std::sqrt(den > 0 ? num / den : num); }
};

size_t count_nonfinite(const std::vector<double>& v) {
  size_t n = 0;
  for (double x : v) n += !std::isfinite(x);
  return n;
}

// [..,A,B,W] -> [..,B,A,W] (the heads and sequence dims of a q/k/v-like operand).
Shape swap_hs(Shape s) {
  std::swap(s[s.size() - 3], s[s.size() - 2]);
  return s;
}

// Outputs y, dq, dk, dv of both ops on the device, as f64. bshd: x's q, k, v, dy are [..,S,H,D]
// (to_bshd) and the ops run with layout = "bshd"; the outputs are as the device wrote them.
std::vector<std::vector<double>> run_both(const Inputs& x, DType dt, int64_t chunk,
                                          bool bshd = false) {
  AttrMap a = {{"scale", Attr::Float(x.p.scale)},
               {"causal", Attr::Int(x.p.causal ? 1 : 0)},
               {"chunk", Attr::Int(chunk)}};
  if (bshd) a["layout"] = Attr::Str("bshd");
  const int64_t r = chunk <= 0 || chunk > x.p.sq ? x.p.sq : chunk;
  Shape ys = x.p.lead, ws = x.p.lead;
  ys.insert(ys.end(), {x.p.sq, x.p.dv});
  ws.insert(ws.end(), {r, x.p.sk});  // the scratch is [..,H,R,Sk] in both layouts
  if (bshd) ys = swap_hs(ys);
  Dev dev;
  const TensorRef q = dev.put(x.q), k = dev.put(x.k), v = dev.put(x.v), dy = dev.put(x.dy);
  std::vector<TensorRef> fin = {q, k, v}, gin = {q, k, v, dy};
  if (x.has_mask) {
    fin.push_back(dev.put(x.mask));
    gin.push_back(fin.back());
  }
  const TensorRef y = dev.put(dt, ys, nullptr), dq = dev.put(dt, q.shape, nullptr),
                  dk = dev.put(dt, k.shape, nullptr), dv = dev.put(dt, v.shape, nullptr);
  run("FusedAttention", a, fin, {y, dev.put(dt, ws, nullptr)});
  run("FusedAttentionGrad", a, gin,
      {dq, dk, dv, dev.put(dt, ws, nullptr), dev.put(dt, ws, nullptr)});
  return {download(y), download(dq), download(dk), download(dv)};
}

// Both ops against the reference on batch-heads bs; rows with every key masked must give
// exactly 0 in y and dq.
void check(const Inputs& x, DType dt, int64_t chunk, const std::vector<int64_t>& bs,
           const std::string& name) {
  const auto got = run_both(x, dt, chunk);
  if (::testing::Test::HasFatalFailure()) return;
  static const char* const kOut[] = {"y", "dq", "dk", "dv"};
  Err err[4];
  for (int64_t b : bs) {
    const AttnRef ref =
        attn_test::attention_ref(x.p, x.q, x.k, x.v, x.has_mask ? &x.mask : nullptr, &x.dy, b);
    const std::vector<double>* want[] = {&ref.y, &ref.dq, &ref.dk, &ref.dv};
    for (int o = 0; o < 4; ++o) err[o].add(got[o], b, *want[o]);
    for (int64_t i = 0; i < x.p.sq; ++i) {
      if (!ref.dead[i]) continue;
      for (int64_t e = 0; e < x.p.dv; ++e)
        EXPECT_EQ(got[0][(b * x.p.sq + i) * x.p.dv + e], 0.0) << "y of dead row " << i;
      for (int64_t e = 0; e < x.p.d; ++e)
        EXPECT_EQ(got[1][(b * x.p.sq + i) * x.p.d + e], 0.0) << "dq of dead row " << i;
    }
  }
  for (int o = 0; o < 4; ++o) {
    EXPECT_EQ(count_nonfinite(got[o]), 0u) << kOut[o];
    EXPECT_LT(err[o].rel(), tol_of(dt)) << kOut[o];
    if (verbose())
      std::printf("%-36s %-4s chunk %-4lld %-2s rel L2 %.3g\n", name.c_str(), dtype_name(dt),
                  (long long)chunk, kOut[o], err[o].rel());
  }
}

std::vector<int64_t> all(int64_t n) {
  std::vector<int64_t> b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) b[i] = i;
  return b;
}

}  // namespace

TEST(CudaAttentionTable, HasBothOps) {
  EXPECT_NE(cuda::find_cuda_kernel("FusedAttention"), nullptr);
  EXPECT_NE(cuda::find_cuda_kernel("FusedAttentionGrad"), nullptr);
}

class CudaAttention : public ::testing::TestWithParam<std::tuple<int, DType>> {};

TEST_P(CudaAttention, MatchesFloat64Reference) {
  if (!gpu().ok) GTEST_SKIP() << "no GPU";
  const Case& c = cases()[std::get<0>(GetParam())];
  const DType dt = std::get<1>(GetParam());
  const Inputs x = make_inputs(c, dt);
  check(x, dt, c.chunk, all(x.n), c.name);
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaAttention,
                         ::testing::Combine(::testing::Range(0, static_cast<int>(cases().size())),
                                            ::testing::Values(DType::kFloat32, DType::kBFloat16,
                                                              DType::kFloat16)),
                         [](const ::testing::TestParamInfo<CudaAttention::ParamType>& i) {
                           return std::string(cases()[std::get<0>(i.param)].name) + "_" +
                                  dtype_name(std::get<1>(i.param));
                         });

// gpt2-124m training: 8 x 12 heads, 1024 tokens, head size 64, bf16, causal; one chunk and
// chunks of 256 (dk, dv accumulated over 4 chunks in bf16). Three batch-heads are checked
// against the reference (each is independent of the others); every output must be finite.
TEST(CudaAttentionLarge, Gpt2TrainingSize) {
  if (!gpu().ok) GTEST_SKIP() << "no GPU";
  const DType bf16 = DType::kBFloat16;
  const Case c{"gpt2", {8, 12}, 1024, 1024, 64, 64, true, 0, kNoMask, bf16, -1};
  const Inputs x = make_inputs(c, bf16);
  for (int64_t chunk : {0, 256}) check(x, bf16, chunk, {0, 41, 95}, c.name);
}

// bert-large: 32 x 16 heads, 512 tokens, head size 64, bf16, a [B,1,1,S] bf16 padding mask.
TEST(CudaAttentionLarge, BertLargePaddingMask) {
  if (!gpu().ok) GTEST_SKIP() << "no GPU";
  const DType bf16 = DType::kBFloat16;
  const Case c{"bert_large", {32, 16}, 512, 512, 64, 64, false, 0, kPadding, bf16, -1};
  const Inputs x = make_inputs(c, bf16);
  check(x, bf16, 0, {0, 200, 511}, c.name);
}

namespace {
// Cases aimed at the flash kernels (64-row tiles): run in bf16 and f16, each must take the flash
// path for the forward and, where the scratch holds the row statistics (R·Sk >= 2·Sq), the grad.
const std::vector<Case>& flash_cases() {
  const DType f32 = DType::kFloat32, f16 = DType::kFloat16, bf16 = DType::kBFloat16;
  static const std::vector<Case> c = {
      {"s1_d64", {2, 3}, 1, 1, 64, 64, false, 0, kNoMask, f32, -1},
      {"s1_d64_causal_padding", {2, 3}, 1, 1, 64, 64, true, 0, kPadding, f32, -1},
      {"s17_d64_causal", {2, 3}, 17, 17, 64, 64, true, 0, kNoMask, f32, -1},
      {"s63_d32_causal", {3}, 63, 63, 32, 32, true, 0, kNoMask, f32, -1},
      {"s64_d64", {2}, 64, 64, 64, 64, false, 0, kNoMask, f32, -1},
      {"s64_d64_causal", {2}, 64, 64, 64, 64, true, 0, kNoMask, f32, -1},
      {"s65_d128_causal", {2}, 65, 65, 128, 128, true, 0, kNoMask, f32, -1},
      {"s200_d64_padding_B11Sk", {2, 3}, 200, 200, 64, 64, false, 0, kPadding, bf16, -1},
      {"s200_d128_causal_B1SqSk", {2, 2}, 200, 200, 128, 128, true, 0, kBatchRows, f16, -1},
      {"s200_d32_B1SqSk_f32mask", {2, 2}, 200, 200, 32, 32, false, 0, kBatchRows, f32, -1},
      {"s1024_d64_causal", {1, 2}, 1024, 1024, 64, 64, true, 0, kNoMask, f32, -1},
      {"s1024_d128_keys_mask", {1}, 1024, 1024, 128, 128, false, 0, kKeys, bf16, -1},
      {"s1024_d32_causal_padding", {2, 1}, 1024, 1024, 32, 32, true, 256, kPadding, f32, -1},
      {"d16_s90", {2}, 90, 90, 16, 16, false, 0, kNoMask, f32, -1},
      {"d48_s90_causal", {2}, 90, 90, 48, 48, true, 0, kNoMask, f32, -1},
      {"d80_s90", {2}, 90, 90, 80, 80, false, 0, kRowsKeys, f32, -1},
      {"d96_s130_causal", {2}, 130, 130, 96, 96, true, 0, kNoMask, f32, -1},
      {"d112_s70", {2}, 70, 70, 112, 112, false, 0, kPadding, f32, -1},
      {"cross_sq100_sk37", {2}, 100, 37, 64, 64, false, 0, kNoMask, f32, -1},
      {"cross_sq30_sk250_mask", {2}, 30, 250, 64, 64, false, 0, kRowsKeys, f32, -1},
      {"cross_sq1_sk300_d128", {3}, 1, 300, 128, 128, false, 0, kNoMask, f32, -1},
      {"causal_sq70_sk130", {2}, 70, 130, 64, 64, true, 0, kNoMask, f32, -1},
      {"causal_sq130_sk70_d32", {2}, 130, 70, 32, 32, true, 0, kPadding, f32, -1},
      {"dead_row_d64", {2}, 80, 90, 64, 64, false, 0, kRowsKeys, f32, 3},
      {"dead_row_causal_d128_f64mask", {2}, 70, 70, 128, 128, true, 0, kFull, DType::kFloat64, 66},
      {"dead_first_block_causal", {2}, 150, 150, 64, 64, true, 0, kKeysHeadDead, f32, -1},
      {"dead_first_block", {2}, 150, 150, 64, 64, false, 0, kKeysHeadDead, f32, -1},
      {"chunk1_grad_on_gemm", {2}, 64, 64, 64, 64, true, 1, kNoMask, f32, -1},
  };
  return c;
}

}  // namespace

class CudaFlash : public ::testing::TestWithParam<std::tuple<int, DType>> {};

TEST_P(CudaFlash, MatchesFloat64Reference) {
  if (!gpu().ok) GTEST_SKIP() << "no GPU";
  const Case& c = flash_cases()[std::get<0>(GetParam())];
  const DType dt = std::get<1>(GetParam());
  if (!cuda::flash_attention_enabled()) GTEST_SKIP() << "TESSERA_ATTENTION_KERNEL=gemm is set";
  const Inputs x = make_inputs(c, dt);
  // Mode flash: the kernels wherever they apply (auto would keep grads and masks on GEMMs).
  const cuda::FlashMode mode = cuda::flash_attention_mode();
  cuda::set_flash_attention_mode(cuda::FlashMode::kFlash);
  const uint64_t before = cuda::flash_attention_calls();
  check(x, dt, c.chunk, all(x.n), std::string("flash_") + c.name);
  cuda::set_flash_attention_mode(mode);
  const int64_t r = c.chunk <= 0 || c.chunk > c.sq ? c.sq : c.chunk;
  // The grad runs flash where its scratch holds lse and D and the device has the shared memory.
  const uint64_t want =
      (cuda::flash_attention_smem_fits(c.d, false) ? 1 : 0) +
      (r * c.sk >= 2 * c.sq && cuda::flash_attention_smem_fits(c.d, true) ? 1 : 0);
  EXPECT_EQ(cuda::flash_attention_calls() - before, want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CudaFlash,
    ::testing::Combine(::testing::Range(0, static_cast<int>(flash_cases().size())),
                       ::testing::Values(DType::kBFloat16, DType::kFloat16)),
    [](const ::testing::TestParamInfo<CudaFlash::ParamType>& i) {
      return std::string(flash_cases()[std::get<0>(i.param)].name) + "_" +
             dtype_name(std::get<1>(i.param));
    });

namespace {

// Both paths on one input: y, dq, dk, dv of the flash kernels against the GEMM path's (relative
// L2 over every batch-head, the dtype's tolerance), and the dispatch counted as expected.
void flash_vs_gemm(const Case& c, DType dt) {
  if (!cuda::flash_attention_smem_fits(c.d, true)) {
    std::printf("flash vs gemm %s: skipped (shared memory of the device)\n", c.name);
    return;
  }
  const Inputs x = make_inputs(c, dt);
  const cuda::FlashMode mode = cuda::flash_attention_mode();
  const uint64_t c0 = cuda::flash_attention_calls();
  cuda::set_flash_attention_enabled(false);
  const auto gemm = run_both(x, dt, c.chunk);
  cuda::set_flash_attention_enabled(true);
  const uint64_t c1 = cuda::flash_attention_calls();
  const auto flash = run_both(x, dt, c.chunk);
  cuda::set_flash_attention_mode(mode);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_EQ(c1, c0) << "the GEMM path ran the flash kernels";
  EXPECT_EQ(cuda::flash_attention_calls() - c1, 2u) << "the flash path did not run";
  static const char* const kOut[] = {"y", "dq", "dk", "dv"};
  for (int o = 0; o < 4; ++o) {
    Err e;
    e.add(flash[o], 0, gemm[o]);
    EXPECT_EQ(count_nonfinite(flash[o]), 0u) << kOut[o];
    EXPECT_LT(e.rel(), tol_of(dt)) << kOut[o];
    if (verbose())
      std::printf("flash vs gemm %-22s %-4s %-2s rel L2 %.3g\n", c.name, dtype_name(dt), kOut[o],
                  e.rel());
  }
}

}  // namespace

// gpt2-124m's training size (bf16, causal) and bert-large's heads with a [B,1,1,S] padding mask
// (f16, 4 of the 32 sequences).
TEST(CudaFlashVsGemm, Gpt2AndBertSizes) {
  if (!gpu().ok) GTEST_SKIP() << "no GPU";
  const Case gpt2{"gpt2", {8, 12}, 1024, 1024, 64, 64, true, 0, kNoMask, DType::kFloat32, -1};
  flash_vs_gemm(gpt2, DType::kBFloat16);
  const Case bert{"bert_padding", {4, 16},          512, 512, 64, 64, false, 0,
                  kPadding,       DType::kBFloat16, -1};
  flash_vs_gemm(bert, DType::kFloat16);
  const Case d128{"d128_cross_mask", {2, 3},          300, 200, 128, 128, false, 0,
                  kBatchRows,        DType::kFloat32, -1};
  flash_vs_gemm(d128, DType::kBFloat16);
}

namespace {

// A host tensor with dims r-3 and r-2 swapped, values moved along ([..,H,S,D] <-> [..,S,H,D]).
attn_test::HostT swap_host(const attn_test::HostT& t) {
  attn_test::HostT o = t;
  o.shape = swap_hs(t.shape);
  const size_t r = t.shape.size(), es = static_cast<size_t>(dtype_size(t.dt));
  const int64_t a = t.shape[r - 3], b = t.shape[r - 2], w = t.shape[r - 1];
  const int64_t lead = num_elements(t.shape) / std::max<int64_t>(a * b * w, 1);
  for (int64_t l = 0; l < lead; ++l)
    for (int64_t i = 0; i < a; ++i)
      for (int64_t j = 0; j < b; ++j) {
        const size_t from = static_cast<size_t>(((l * a + i) * b + j) * w),
                     to = static_cast<size_t>(((l * b + j) * a + i) * w);
        std::copy_n(t.v.begin() + from, w, o.v.begin() + to);
        std::copy_n(t.bytes.begin() + from * es, w * es, o.bytes.begin() + to * es);
      }
  return o;
}

// The same values back from a device output of shape s ([..,S,H,D]) to [..,H,S,D].
std::vector<double> unswap(const std::vector<double>& v, const Shape& s) {
  attn_test::HostT t;
  t.dt = DType::kFloat64;
  t.shape = s;
  t.v = v;
  t.bytes.assign(v.size() * sizeof(double), 0);
  return swap_host(t).v;
}

// Layout bshd (q, k, v, y, dy, dq, dk, dv as [B,S,H,D]): lead is [B.., H]. Run on both paths.
const std::vector<Case>& bshd_cases() {
  const DType f32 = DType::kFloat32, bf16 = DType::kBFloat16;
  static const std::vector<Case> c = {
      {"gpt2_like_causal", {2, 3}, 65, 65, 64, 64, true, 0, kNoMask, f32, -1},
      {"bert_like_padding", {2, 4}, 100, 100, 64, 64, false, 0, kPadding, bf16, -1},
      {"cross_d128_B1SqSk", {2, 2}, 70, 130, 128, 128, false, 0, kBatchRows, f32, -1},
      {"causal_chunk16", {2, 3}, 80, 80, 32, 32, true, 16, kNoMask, f32, -1},
      {"heads_only_rank3_keys", {3}, 40, 50, 64, 64, false, 0, kKeys, f32, -1},
      {"rank5_dead_row", {2, 1, 2}, 30, 30, 16, 16, false, 0, kFull, f32, 5},
      {"d_ne_dv_gemm_only", {2, 3}, 10, 12, 8, 6, true, 3, kRowsKeys, f32, -1},
  };
  return c;
}

}  // namespace

// The bshd layout against the bhsd one on the same values, per path: the flash kernels (only
// the addressing differs: expected bitwise equal, checked to 1e-6) and the GEMM path (H heads
// per cuBLASLt call, ld = H·D, one call per batch: within the dtype's tolerance of the bhsd
// GEMMs). f32 and shapes the flash kernels do not take run the GEMM path in both modes.
class CudaAttentionBshd : public ::testing::TestWithParam<std::tuple<int, DType, cuda::FlashMode>> {
};

TEST_P(CudaAttentionBshd, MatchesBhsd) {
  if (!gpu().ok) GTEST_SKIP() << "no GPU";
  const Case& c = bshd_cases()[std::get<0>(GetParam())];
  const DType dt = std::get<1>(GetParam());
  const cuda::FlashMode want_mode = std::get<2>(GetParam());
  const Inputs x = make_inputs(c, dt);
  Inputs xb = x;
  xb.q = swap_host(x.q), xb.k = swap_host(x.k), xb.v = swap_host(x.v), xb.dy = swap_host(x.dy);
  const cuda::FlashMode mode = cuda::flash_attention_mode();
  cuda::set_flash_attention_mode(want_mode);
  const uint64_t c0 = cuda::flash_attention_calls();
  const auto bhsd = run_both(x, dt, c.chunk);
  const uint64_t c1 = cuda::flash_attention_calls();
  const auto bshd = run_both(xb, dt, c.chunk, true);
  const uint64_t c2 = cuda::flash_attention_calls();
  cuda::set_flash_attention_mode(mode);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_EQ(c2 - c1, c1 - c0) << "the layouts took different paths";
  if (want_mode == cuda::FlashMode::kGemm) {
    EXPECT_EQ(c2, c0) << "the flash kernels ran";
  }
  const bool flash = c2 != c0;
  const Shape shapes[] = {xb.dy.shape, xb.q.shape, xb.k.shape, xb.v.shape};  // y like dy
  static const char* const kOut[] = {"y", "dq", "dk", "dv"};
  for (int o = 0; o < 4; ++o) {
    Err e;
    e.add(unswap(bshd[o], shapes[o]), 0, bhsd[o]);
    EXPECT_EQ(count_nonfinite(bshd[o]), 0u) << kOut[o];
    EXPECT_LT(e.rel(), flash ? 1e-6 : tol_of(dt)) << kOut[o];
    if (verbose())
      std::printf("bshd vs bhsd %-24s %-4s %-5s %-2s rel L2 %.3g\n", c.name, dtype_name(dt),
                  flash ? "flash" : "gemm", kOut[o], e.rel());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CudaAttentionBshd,
    ::testing::Combine(::testing::Range(0, static_cast<int>(bshd_cases().size())),
                       ::testing::Values(DType::kBFloat16, DType::kFloat16, DType::kFloat32),
                       ::testing::Values(cuda::FlashMode::kFlash, cuda::FlashMode::kGemm)),
    [](const ::testing::TestParamInfo<CudaAttentionBshd::ParamType>& i) {
      return std::string(bshd_cases()[std::get<0>(i.param)].name) + "_" +
             dtype_name(std::get<1>(i.param)) +
             (std::get<2>(i.param) == cuda::FlashMode::kGemm ? "_gemm" : "_flash");
    });

}  // namespace tessera::kernels
