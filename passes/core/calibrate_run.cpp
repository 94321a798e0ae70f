#include "passes/core/calibrate_run.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "tessera/tensor_io.h"

namespace tessera::core {
namespace fs = std::filesystem;
namespace {

// "10" after "9": numbered subdirectories sort by number, then by name.
bool natural_less(const std::string& a, const std::string& b) {
  auto num = [](const std::string& s) {
    size_t i = s.size();
    while (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
    return std::make_pair(s.substr(0, i), i < s.size() ? std::stoll(s.substr(i)) : -1LL);
  };
  return num(a) < num(b);
}

StatusOr<Feeds> load_set(const fs::path& dir, const ir::Graph& g) {
  Feeds f;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const ir::Value& v = g.values[g.inputs[i]];
    const fs::path p = dir / ("input_" + std::to_string(i) + ".pb");
    TSR_ASSIGN_OR_RETURN(HostTensor t, read_tensor_proto(p.string()));
    if (t.dtype != v.dtype || t.shape != v.shape)
      return InvalidArgument("calibration input " + p.string() + " is " + dtype_name(t.dtype) +
                             " " + shape_str(t.shape) + ", graph input '" + v.name + "' is " +
                             dtype_name(v.dtype) + " " + shape_str(v.shape) +
                             " (the model at --shape, or at --calibration-shape when given)");
    ir::TensorData d;
    d.dtype = t.dtype;
    d.shape = t.shape;
    d.bytes = std::move(t.bytes);
    f[v.name] = std::move(d);
  }
  return f;
}

}  // namespace

StatusOr<std::vector<Feeds>> load_calibration_sets(const std::string& dir, const ir::Graph& g) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("calibration directory '" + dir + "' not found");
  std::vector<std::string> dirs;
  if (fs::exists(fs::path(dir) / "input_0.pb")) dirs.push_back(dir);
  std::vector<std::string> subs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "input_0.pb"))
      subs.push_back(e.path().filename().string());
  std::sort(subs.begin(), subs.end(), natural_less);
  for (const auto& s : subs) dirs.push_back((fs::path(dir) / s).string());
  if (dirs.empty())
    return NotFound("calibration directory '" + dir +
                    "' has no input_0.pb, nor subdirectories holding one");
  std::vector<Feeds> sets;
  for (const auto& d : dirs) {
    TSR_ASSIGN_OR_RETURN(Feeds f, load_set(d, g));
    sets.push_back(std::move(f));
  }
  return sets;
}

Status collect_ranges(const ir::Graph& g, const std::vector<Feeds>& sets,
                      std::map<int, TensorCalib>& stats) {
  for (const Feeds& f : sets) {
    TSR_ASSIGN_OR_RETURN(std::vector<ir::TensorData> vals, interpret_all(g, f));
    for (auto& [id, st] : stats) {
      const ir::TensorData& d = vals[id];
      const float* x = d.as<float>();
      const int64_t n = d.numel(), K = d.shape.empty() ? 1 : d.shape.back();
      st.range.add(x, n);
      if (st.chan_absmax.empty()) st.chan_absmax.assign(static_cast<size_t>(K), 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(x[i]));
        if (a > st.chan_absmax[i % K]) st.chan_absmax[i % K] = a;
      }
    }
  }
  return Status::Ok();
}

Status collect_histograms(const ir::Graph& g, const std::vector<Feeds>& sets,
                          std::map<int, TensorCalib>& stats, bool histograms) {
  bool any_smoothed = false;
  for (auto& [id, st] : stats) {
    double range = st.range.absmax();
    if (!st.smooth_inv.empty()) {
      any_smoothed = true;
      st.range = RangeStats{};
      range = 0;  // the smoothed abs-max, exactly: max over channels of |x_k| * smooth_inv_k
      for (size_t k = 0; k < st.smooth_inv.size(); ++k)
        range = std::max(range, st.chan_absmax[k] * st.smooth_inv[k]);
    }
    if (histograms) st.hist = std::make_unique<AbsHistogram>(range);
  }
  if (!histograms && !any_smoothed) return Status::Ok();
  std::vector<float> buf;
  for (const Feeds& f : sets) {
    TSR_ASSIGN_OR_RETURN(std::vector<ir::TensorData> vals, interpret_all(g, f));
    for (auto& [id, st] : stats) {
      const ir::TensorData& d = vals[id];
      const int64_t n = d.numel();
      const float* x = d.as<float>();
      if (!st.smooth_inv.empty()) {  // the same float product QuantizeI8 computes
        const int64_t K = static_cast<int64_t>(st.smooth_inv.size());
        buf.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) buf[i] = x[i] * st.smooth_inv[i % K];
        x = buf.data();
        st.range.add(x, n);
      }
      if (st.hist) st.hist->add(x, n);
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<double>> output_rel_l2(const ir::Graph& ref,
                                            const std::vector<const ir::Graph*>& variants,
                                            const std::vector<Feeds>& sets) {
  std::vector<double> err(variants.size(), 0.0);
  double norm = 0;
  for (const Feeds& f : sets) {
    TSR_ASSIGN_OR_RETURN(std::vector<ir::TensorData> want, interpret(ref, f));
    for (const ir::TensorData& w : want)
      if (w.dtype == DType::kFloat32)
        for (int64_t i = 0; i < w.numel(); ++i) norm += double(w.as<float>()[i]) * w.as<float>()[i];
    for (size_t v = 0; v < variants.size(); ++v) {
      TSR_ASSIGN_OR_RETURN(std::vector<ir::TensorData> got, interpret(*variants[v], f));
      if (got.size() != want.size())
        return Internal("output_rel_l2: a variant has " + std::to_string(got.size()) +
                        " outputs, the reference " + std::to_string(want.size()));
      for (size_t o = 0; o < want.size(); ++o) {
        if (want[o].dtype != DType::kFloat32) continue;
        if (got[o].dtype != DType::kFloat32 || got[o].numel() != want[o].numel())
          return Internal("output_rel_l2: output " + std::to_string(o) + " differs in type");
        const float *a = want[o].as<float>(), *b = got[o].as<float>();
        for (int64_t i = 0; i < want[o].numel(); ++i)
          err[v] += (double(b[i]) - a[i]) * (double(b[i]) - a[i]);
      }
    }
  }
  for (double& e : err) e = norm > 0 ? std::sqrt(e / norm) : std::sqrt(e);
  return err;
}

Status for_each_set(const ir::Graph& g, const std::vector<Feeds>& sets,
                    const std::function<void(const std::vector<ir::TensorData>&)>& fn) {
  for (const Feeds& f : sets) {
    TSR_ASSIGN_OR_RETURN(std::vector<ir::TensorData> vals, interpret_all(g, f));
    fn(vals);
  }
  return Status::Ok();
}

}  // namespace tessera::core
