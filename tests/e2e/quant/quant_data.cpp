// quant_data: data sets and accuracy metrics for the int8 end-to-end checks.
//   quant_data gen tokens|normal SHAPE DIR COUNT SEED
//       writes DIR/0/input_0.pb .. DIR/COUNT-1/input_0.pb: int64 ids uniform in [0, 512) or
//       float N(0, 1), the distributions of the tiny models' test inputs, from their own seed.
//   quant_data metrics REF_DIR TEST_DIR COUNT MIN_TOP1 MAX_REL_L2
//       compares DIR/i/output_0.pb over i: rows = numel / last dim; top-1 agreement of the
//       logits and relative L2 error over all sets; exits 1 when a bound is missed.
//   quant_data rebatch MODEL.onnx OUT.onnx N
//       the model with batch N: dim 0 of every graph input and output set to N, value_info
//       dropped (re-inferred on import). The tiny models have a fixed batch of 2; 512 rows of
//       resnet are then 8 runs of 64 images instead of 256 runs (mpirun start-up dominates).
//   quant_data weights FLOAT_PLAN QUANT_PLAN
//       the quantized layers' int8 weight bytes <= 26% of their float32 bytes (plan meta), the
//       plan's weights shrink by at least 74% of those bytes less the scales, and every
//       quantized instruction has its inspect meta (quant.<node>).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include <onnx/onnx_pb.h>

#include "tessera/plan_file.h"
#include "tessera/tensor_io.h"

using namespace tessera;  // NOLINT

namespace {

Shape parse_shape(const std::string& s) {
  Shape out;
  size_t p = 0;
  while (p < s.size()) {
    size_t q = s.find('x', p);
    out.push_back(std::stoll(s.substr(p, q - p)));
    p = q == std::string::npos ? s.size() : q + 1;
  }
  return out;
}

int gen(const std::string& kind, const Shape& shape, const std::string& dir, int count,
        unsigned seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < count; ++i) {
    HostTensor t =
        HostTensor::zeros("input_0", kind == "tokens" ? DType::kInt64 : DType::kFloat32, shape);
    if (kind == "tokens") {
      std::uniform_int_distribution<int64_t> d(0, 511);
      for (int64_t j = 0; j < t.numel(); ++j) t.data<int64_t>()[j] = d(rng);
    } else {
      std::normal_distribution<float> d(0, 1);
      for (int64_t j = 0; j < t.numel(); ++j) t.data<float>()[j] = d(rng);
    }
    const auto sub = std::filesystem::path(dir) / std::to_string(i);
    std::filesystem::create_directories(sub);
    Status st = write_tensor_proto((sub / "input_0.pb").string(), t);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.message().c_str());
      return 1;
    }
  }
  return 0;
}

int metrics(const std::string& ref, const std::string& test, int count, double min_top1,
            double max_rel) {
  int64_t rows = 0, agree = 0;
  double num = 0, den = 0;
  for (int i = 0; i < count; ++i) {
    auto path = [&](const std::string& d) {
      return (std::filesystem::path(d) / std::to_string(i) / "output_0.pb").string();
    };
    auto a = read_tensor_proto(path(ref));
    auto b = read_tensor_proto(path(test));
    if (!a.ok() || !b.ok() || a->shape != b->shape || a->dtype != DType::kFloat32) {
      std::fprintf(stderr, "error: cannot compare set %d\n", i);
      return 1;
    }
    const int64_t c = a->shape.back(), n = a->numel() / c;
    const float *pa = a->data<float>(), *pb = b->data<float>();
    for (int64_t r = 0; r < n; ++r) {
      int64_t ia = 0, ib = 0;
      for (int64_t j = 0; j < c; ++j) {
        if (pa[r * c + j] > pa[r * c + ia]) ia = j;
        if (pb[r * c + j] > pb[r * c + ib]) ib = j;
      }
      agree += ia == ib;
    }
    rows += n;
    for (int64_t j = 0; j < a->numel(); ++j) {
      num += double(pa[j] - pb[j]) * (pa[j] - pb[j]);
      den += double(pa[j]) * pa[j];
    }
  }
  const double top1 = double(agree) / rows, rel = std::sqrt(num / den);
  std::printf("rows %lld  top-1 agreement %.4f (min %.4f)  relative L2 %.5f (max %.5f)\n",
              static_cast<long long>(rows), top1, min_top1, rel, max_rel);
  return top1 >= min_top1 && rel <= max_rel ? 0 : 1;
}

int rebatch(const std::string& in, const std::string& out, int64_t n) {
  onnx::ModelProto m;
  std::ifstream f(in, std::ios::binary);
  if (!m.ParseFromIstream(&f)) {
    std::fprintf(stderr, "error: cannot read %s\n", in.c_str());
    return 1;
  }
  auto set_batch = [n](onnx::ValueInfoProto& v) {
    auto* shape = v.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() > 0) shape->mutable_dim(0)->set_dim_value(n);
  };
  onnx::GraphProto* g = m.mutable_graph();
  for (auto& v : *g->mutable_input()) {
    bool init = false;
    for (const auto& t : g->initializer()) init = init || t.name() == v.name();
    if (!init) set_batch(v);
  }
  for (auto& v : *g->mutable_output()) set_batch(v);
  g->clear_value_info();
  std::ofstream o(out, std::ios::binary);
  return m.SerializeToOstream(&o) ? 0 : 1;
}

struct PlanInfo {
  int64_t weight_bytes = 0;
  std::map<std::string, int64_t> ints;
  std::map<std::string, std::string> strs;
  std::vector<std::string> quant_nodes;
};

StatusOr<PlanInfo> plan_info(const std::string& path) {
  TSR_ASSIGN_OR_RETURN(auto f, planfile::PlanFile::open(path));
  const plan::Plan& p = f->plan();
  PlanInfo info;
  for (const auto& t : p.tensors())
    if (t.storage() == plan::TensorInfo::WEIGHT) info.weight_bytes += t.nbytes();
  for (const auto& a : p.meta()) {
    info.ints[a.name()] = a.i();
    info.strs[a.name()] = a.s();
  }
  for (const auto& ins : p.instructions())
    if (ins.op() == "QMatMulI8" || ins.op() == "QConvI8") info.quant_nodes.push_back(ins.node());
  return info;
}

int weights(const std::string& fplan, const std::string& qplan) {
  auto f = plan_info(fplan);
  auto q = plan_info(qplan);
  if (!f.ok() || !q.ok()) {
    std::fprintf(stderr, "error: cannot open plans\n");
    return 1;
  }
  const double i8 = q->ints["quant_weight_bytes_int8"], f32 = q->ints["quant_weight_bytes_f32"];
  const double sc = q->ints["quant_scale_bytes"];
  std::printf(
      "%s\nquantized layers: int8 %.0f B + scales %.0f B for f32 %.0f B (%.1f%%, %.1f%% "
      "with scales); plan weights %lld -> %lld B\n",
      q->strs["quant_summary"].c_str(), i8, sc, f32, 100 * i8 / f32, 100 * (i8 + sc) / f32,
      static_cast<long long>(f->weight_bytes), static_cast<long long>(q->weight_bytes));
  int bad = 0;
  for (const auto& n : q->quant_nodes) {
    auto it = q->strs.find("quant." + n);
    if (it == q->strs.end()) {
      std::fprintf(stderr, "no inspect meta for quantized node %s\n", n.c_str());
      bad = 1;
    } else if (&n == &q->quant_nodes.front()) {
      std::printf("e.g. %s: %s\n", n.c_str(), it->second.c_str());
    }
  }
  if (q->quant_nodes.empty() || !(f32 > 0) || i8 > 0.26 * f32 ||
      q->weight_bytes > f->weight_bytes - 0.74 * f32 + sc)
    bad = 1;
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "gen" && argc == 7)
    return gen(argv[2], parse_shape(argv[3]), argv[4], std::atoi(argv[5]),
               static_cast<unsigned>(std::atoi(argv[6])));
  if (cmd == "metrics" && argc == 7)
    return metrics(argv[2], argv[3], std::atoi(argv[4]), std::atof(argv[5]), std::atof(argv[6]));
  if (cmd == "weights" && argc == 4) return weights(argv[2], argv[3]);
  if (cmd == "rebatch" && argc == 5) return rebatch(argv[2], argv[3], std::atoll(argv[4]));
  std::fprintf(stderr,
               "usage: quant_data gen tokens|normal SHAPE DIR COUNT SEED\n"
               "       quant_data metrics REF_DIR TEST_DIR COUNT MIN_TOP1 MAX_REL_L2\n");
  return 2;
}
