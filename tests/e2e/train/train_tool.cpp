// Helper of the training e2e tests (no onnx/numpy needed): writes data tensors and compares
// directories of TensorProto files.
//
//   train_tool labels OUT.pb LOGITS.pb           int64 labels[i] = i % C, shape = logits' shape
//                                                without its last dim, C = logits' last dim
//   train_tool tensor OUT.pb NAME DTYPE SHAPE F  DTYPE i64|f32, SHAPE 2x16, F = mod:P (i % P)
//                                                or next:P ((i + 1) % P)
//   train_tool scalar OUT.pb NAME DTYPE V        a rank-0 tensor (DTYPE i64|f32) of value V
//   train_tool show FILE.pb                      prints "DTYPE SHAPE", plus " VALUE" (%.9g)
//                                                for a one-element f32/i64 tensor
//   train_tool grads DUMP_DIR REF_DIR TOL FLOOR [BY]  loss.pb and every grads.json entry of
//                                                REF_DIR against DUMP_DIR/<name>.pb: max|diff| /
//                                                max(max|ref|, FLOOR) <= TOL; BY = name (the
//                                                key, default) or torch_param (PyTorch's name
//                                                and layout)
//   train_tool same A B TOL FLOOR [SKIP_SUFFIX..] every .pb of B against A's file of that name
//   train_tool identical A B                     every .pb of B equal byte for byte in A
//
// Prints one line per mismatch and a summary; exit 0 when everything matches.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tessera/tensor_io.h"
#include "tessera/train.h"

namespace {

using tessera::DType;
using tessera::HostTensor;

int fail(const std::string& m) {
  std::fprintf(stderr, "error: %s\n", m.c_str());
  return 2;
}

double element(const HostTensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32:
      return t.data<float>()[i];
    case DType::kFloat64:
      return t.data<double>()[i];
    case DType::kInt64:
      return static_cast<double>(t.data<int64_t>()[i]);
    default:
      return NAN;
  }
}

// Relative difference max|a-b| / max(max|b|, floor); infinity on a shape or type mismatch.
double rel_diff(const HostTensor& a, const HostTensor& b, double floor, double* max_ref) {
  *max_ref = 0;
  if (a.dtype != b.dtype || a.shape != b.shape) return INFINITY;
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = element(a, i), y = element(b, i);
    d = std::isnan(x) || std::isnan(y) ? INFINITY : std::max(d, std::fabs(x - y));
    *max_ref = std::max(*max_ref, std::fabs(y));
  }
  return d / std::max(*max_ref, floor);
}

// Compares one pair; prints a line for a mismatch or a missing file. Returns true on match.
bool check(const std::string& actual, const std::string& ref, double tol, double floor,
           double* worst) {
  auto a = tessera::read_tensor_proto(actual);
  auto b = tessera::read_tensor_proto(ref);
  if (!a.ok() || !b.ok()) {
    std::printf("MISSING %s\n", (!a.ok() ? a.status() : b.status()).message().c_str());
    return false;
  }
  double max_ref = 0;
  const double r = rel_diff(*a, *b, floor, &max_ref);
  *worst = std::max(*worst, r);
  if (r <= tol) return true;
  std::printf("MISMATCH %s vs %s: relative %.3g (max|ref| %.3g, %s %s vs %s %s)\n", actual.c_str(),
              ref.c_str(), r, max_ref, tessera::dtype_name(a->dtype),
              tessera::shape_str(a->shape).c_str(), tessera::dtype_name(b->dtype),
              tessera::shape_str(b->shape).c_str());
  return false;
}

int summary(int bad, int total, double worst) {
  std::printf("%s: %d of %d tensors match, worst relative difference %.3g\n", bad ? "FAIL" : "OK",
              total - bad, total, worst);
  return bad ? 1 : 0;
}

std::vector<int64_t> parse_shape(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string d; std::getline(ss, d, 'x');) v.push_back(std::atoll(d.c_str()));
  return v;
}

int write(const std::string& path, HostTensor t) {
  auto s = tessera::write_tensor_proto(path, t);
  return s.ok() ? 0 : fail(s.message());
}

int labels(const std::string& out, const std::string& logits_path) {
  auto logits = tessera::read_tensor_proto(logits_path);
  if (!logits.ok()) return fail(logits.status().message());
  if (logits->shape.empty()) return fail(logits_path + ": logits must have rank >= 1");
  const int64_t c = logits->shape.back();
  tessera::Shape s(logits->shape.begin(), logits->shape.end() - 1);
  HostTensor t = HostTensor::zeros("labels", DType::kInt64, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int64_t>()[i] = i % c;
  return write(out, std::move(t));
}

int tensor(char** a) {
  const std::string dt = a[3], f = a[5];
  const DType dtype = dt == "i64"   ? DType::kInt64
                      : dt == "f32" ? DType::kFloat32
                                    : DType::kUndefined;
  const size_t colon = f.find(':');
  if (dtype == DType::kUndefined || colon == std::string::npos)
    return fail("tensor: DTYPE is i64 or f32, FORMULA mod:P or next:P");
  const int64_t p = std::atoll(f.c_str() + colon + 1), shift = f.substr(0, colon) == "next";
  if (p <= 0) return fail("tensor: P must be positive");
  HostTensor t = HostTensor::zeros(a[2], dtype, parse_shape(a[4]));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t v = (i + shift) % p;
    if (dtype == DType::kInt64)
      t.data<int64_t>()[i] = v;
    else
      t.data<float>()[i] = static_cast<float>(v);
  }
  return write(a[1], std::move(t));
}

int scalar(const std::string& out, const std::string& name, const std::string& dt, double v) {
  if (dt != "i64" && dt != "f32") return fail("scalar: DTYPE is i64 or f32");
  HostTensor t = HostTensor::zeros(name, dt == "i64" ? DType::kInt64 : DType::kFloat32, {});
  if (dt == "i64")
    t.data<int64_t>()[0] = static_cast<int64_t>(v);
  else
    t.data<float>()[0] = static_cast<float>(v);
  return write(out, std::move(t));
}

int show(const std::string& path) {
  auto t = tessera::read_tensor_proto(path);
  if (!t.ok()) return fail(t.status().message());
  std::printf("%s %s", tessera::dtype_name(t->dtype), tessera::shape_str(t->shape).c_str());
  if (t->numel() == 1 && t->dtype == DType::kFloat32)
    std::printf(" %.9g", static_cast<double>(t->data<float>()[0]));
  if (t->numel() == 1 && t->dtype == DType::kInt64)
    std::printf(" %lld", static_cast<long long>(t->data<int64_t>()[0]));
  std::printf("\n");
  return 0;
}

// One grads.json entry: the exporter's gradient name, its file, the PyTorch parameter it is the
// gradient of, and whether the file holds it transposed (ONNX exporters pre-transpose Linear
// weights into new initializers named val_N).
struct GradEntry {
  std::string name, file, torch_param, stored_as;
};

std::string json_field(const std::string& block, const std::string& key) {
  const std::regex re("\"" + key + "\"\\s*:\\s*\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(block, m, re) ? m[1].str() : std::string();
}

// grads.json: fixed and flat enough for a regex (one {...} object per gradient).
std::vector<GradEntry> read_grads_json(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  std::vector<GradEntry> v;
  const std::regex re("\"([^\"]+)\"\\s*:\\s*\\{([^{}]*\"file\"[^{}]*)\\}");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it) {
    const std::string block = (*it)[2];
    v.push_back({(*it)[1], json_field(block, "file"), json_field(block, "torch_param"),
                 json_field(block, "stored_as")});
  }
  return v;
}

// The reference as the PyTorch parameter is laid out (undoes "stored_as": "transposed").
bool untranspose(const std::string& ref, const std::string& out) {
  auto t = tessera::read_tensor_proto(ref);
  if (!t.ok() || t->shape.size() != 2 || t->dtype != DType::kFloat32) return false;
  const int64_t r = t->shape[0], c = t->shape[1];
  HostTensor u = HostTensor::zeros(t->name, DType::kFloat32, {c, r});
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) u.data<float>()[j * r + i] = t->data<float>()[i * c + j];
  return tessera::write_tensor_proto(out, u).ok();
}

// BY "name": DUMP_DIR/<grads.json key>.pb (ONNX initializer names). BY "torch_param":
// DUMP_DIR/<torch_param>.pb in PyTorch's layout (TorchScript imports name weights by their
// state_dict path; a tied weight is dumped once under its named_parameters() name, which is
// what torch_param holds for every use of it).
int grads(const std::string& dump, const std::string& ref, double tol, double floor,
          const std::string& by) {
  const auto entries = read_grads_json(ref + "/grads.json");
  if (entries.empty()) return fail(ref + "/grads.json: no gradients listed");
  if (by != "name" && by != "torch_param") return fail("grads: BY is name or torch_param");
  int bad = 0, total = 1;
  double worst = 0;
  bad += !check(dump + "/loss.pb", ref + "/loss.pb", tol, floor, &worst);
  for (const GradEntry& e : entries) {
    ++total;
    const bool by_param = by == "torch_param";
    const std::string name = by_param ? e.torch_param : e.name;
    std::string ref_file = ref + "/" + e.file;
    if (by_param && e.stored_as == "transposed") {
      const std::string t = dump + "/.ref_" + e.file;
      if (!untranspose(ref_file, t)) return fail(ref_file + ": cannot transpose (not 2-D f32)");
      ref_file = t;
    }
    bad += !check(dump + "/" + tessera::runtime::tensor_file_name(name), ref_file, tol, floor,
                  &worst);
  }
  return summary(bad, total, worst);
}

std::vector<std::string> pb_files(const std::string& dir) {
  std::vector<std::string> v;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".pb") v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

int same(const std::string& a, const std::string& b, double tol, double floor,
         const std::vector<std::string>& skip) {
  int bad = 0, total = 0;
  double worst = 0;
  for (const std::string& f : pb_files(b)) {
    if (std::any_of(skip.begin(), skip.end(),
                    [&](const std::string& s) { return ends_with(f, s); }))
      continue;
    ++total;
    bad += !check(a + "/" + f, b + "/" + f, tol, floor, &worst);
  }
  if (total == 0) return fail(b + ": no .pb files to compare");
  return summary(bad, total, worst);
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return f ? ss.str() : std::string("\x01missing");
}

int identical(const std::string& a, const std::string& b) {
  int bad = 0, total = 0;
  for (const std::string& f : pb_files(b)) {
    ++total;
    if (slurp(a + "/" + f) != slurp(b + "/" + f)) {
      std::printf("DIFFERENT %s/%s vs %s/%s\n", a.c_str(), f.c_str(), b.c_str(), f.c_str());
      ++bad;
    }
  }
  if (total == 0) return fail(b + ": no .pb files to compare");
  return summary(bad, total, bad ? INFINITY : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "labels" && argc == 4) return labels(argv[2], argv[3]);
  if (cmd == "tensor" && argc == 7) return tensor(argv + 1);
  if (cmd == "scalar" && argc == 6) return scalar(argv[2], argv[3], argv[4], std::atof(argv[5]));
  if (cmd == "show" && argc == 3) return show(argv[2]);
  if (cmd == "grads" && (argc == 6 || argc == 7))
    return grads(argv[2], argv[3], std::atof(argv[4]), std::atof(argv[5]),
                 argc == 7 ? argv[6] : "name");
  if (cmd == "same" && argc >= 6)
    return same(argv[2], argv[3], std::atof(argv[4]), std::atof(argv[5]),
                std::vector<std::string>(argv + 6, argv + argc));
  if (cmd == "identical" && argc == 4) return identical(argv[2], argv[3]);
  return fail("usage: see the comment at the top of tests/e2e/train/train_tool.cpp");
}
