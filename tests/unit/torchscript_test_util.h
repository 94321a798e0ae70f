// Helpers for the TorchScript tests: a tiny node-by-node graph runner on the CPU kernels and a
// stored-zip writer for building malformed archives.
#pragma once
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tessera/status.h"

namespace tessera::ts_fe::testing {

// Runs g on the given inputs (by position); returns the outputs.
inline StatusOr<std::vector<ir::TensorData>> run_graph(const ir::Graph& g,
                                                       const std::vector<ir::TensorData>& in) {
  std::map<int, ir::TensorData> vals;
  for (size_t i = 0; i < g.inputs.size() && i < in.size(); ++i) vals[g.inputs[i]] = in[i];
  auto ref = [&](int v) -> kernels::TensorRef {
    if (v < 0) return {};
    const ir::Value& x = g.values[v];
    ir::TensorData* d = vals.count(v) ? &vals[v] : nullptr;
    if (!d && x.data) d = const_cast<ir::TensorData*>(x.data.get());
    if (!d) return {};
    return {d->dtype, d->shape, d->bytes.data()};
  };
  for (const ir::Node& n : g.nodes) {
    std::vector<kernels::TensorRef> ins, outs;
    for (int v : n.inputs) ins.push_back(ref(v));
    for (int v : n.outputs) {
      ir::TensorData& d = vals[v];
      d.dtype = g.values[v].dtype;
      d.shape = g.values[v].shape;
      d.bytes.assign(num_elements(d.shape) * dtype_size(d.dtype), 0);
      outs.push_back({d.dtype, d.shape, d.bytes.data()});
    }
    Status s = kernels::run_cpu_kernel(n.op, n.attrs, ins, outs);
    if (!s.ok()) return Status(s.code(), n.name + ": " + s.message());
  }
  std::vector<ir::TensorData> out;
  for (int v : g.outputs) out.push_back(vals[v]);
  return out;
}

// A zip of stored entries (no compression), as torch.jit.save writes data entries.
inline std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, dir;
  auto put = [](std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  for (const auto& [name, data] : entries) {
    uint64_t off = out.size();
    put(out, 0x04034b50, 4), put(out, 20, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0, 4);
    put(out, 0, 4), put(out, data.size(), 4), put(out, data.size(), 4);
    put(out, name.size(), 2), put(out, 0, 2);
    out += name + data;
    put(dir, 0x02014b50, 4), put(dir, 20, 2), put(dir, 20, 2), put(dir, 0, 2), put(dir, 0, 2);
    put(dir, 0, 4), put(dir, 0, 4), put(dir, data.size(), 4), put(dir, data.size(), 4);
    put(dir, name.size(), 2), put(dir, 0, 2), put(dir, 0, 2), put(dir, 0, 2), put(dir, 0, 2);
    put(dir, 0, 4), put(dir, off, 4);
    dir += name;
  }
  uint64_t dir_off = out.size();
  out += dir;
  put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2), put(out, entries.size(), 2);
  put(out, entries.size(), 2), put(out, dir.size(), 4), put(out, dir_off, 4), put(out, 0, 2);
  return out;
}

}  // namespace tessera::ts_fe::testing
