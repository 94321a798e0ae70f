// Cluster profiles: what one device computes per second and what each mesh axis' links cost.
// Figures are measured rates (docs/cluster-profiles.md, ../shared/BASELINES.md), not datasheet.
#pragma once
#include <string>
#include <vector>

#include "passes/core/mesh.h"
#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera::spmd {

struct DeviceProfile {
  double gemm_flops_fp32 = 0;  // dense GEMM flop/s with fp32 operands
  double gemm_flops_16 = 0;    // dense GEMM flop/s with bf16/fp16 operands
  double mem_bandwidth = 0;    // bytes/s, read + written (elementwise ops, copies)
  double mem_bytes = 0;        // capacity per device
};

// α-β link model of one mesh axis: a message of b bytes costs alpha + b * beta seconds.
struct AxisLink {
  double alpha = 0;  // seconds per collective step
  double beta = 0;   // seconds per byte (1 / bus bandwidth)
  std::string kind;  // "nvlink", "ib", "cpu", "file": for printing only
};

struct ClusterProfile {
  std::string name;
  DeviceProfile device;
  std::vector<AxisLink> links;  // one per mesh axis, in mesh order
  // GEMM rate for an element type: 16-bit floats use the tensor-core rate, the rest fp32.
  double gemm_flops(DType t) const;
  std::string to_string(const Mesh& mesh) const;
};

// What a profile is made from: the device, and links inside / between nodes of
// `devices_per_node` devices. The innermost mesh axes whose product fits in a node get `intra`,
// the others `inter`; per-axis overrides (files: axis.NAME.alpha/bandwidth) come after.
struct ProfileParams {
  std::string name;
  DeviceProfile device;
  int64_t devices_per_node = 1;
  AxisLink intra, inter;
};
ClusterProfile make_profile(const ProfileParams& p, const Mesh& mesh);

// Names accepted by builtin_profile, sorted.
std::vector<std::string> builtin_profile_names();
// "h100-nvlink", "h100-ib", "cpu"; links are assigned to the mesh's axes.
StatusOr<ClusterProfile> builtin_profile(const std::string& name, const Mesh& mesh);
StatusOr<ProfileParams> builtin_params(const std::string& name);
// Parses the `key = value` format of docs/cluster-profiles.md; `source` names the text in errors.
StatusOr<ClusterProfile> parse_profile(const std::string& text, const Mesh& mesh,
                                       const std::string& source);
// A built-in name, else a path to a profile file.
StatusOr<ClusterProfile> load_profile(const std::string& name_or_path, const Mesh& mesh);

}  // namespace tessera::spmd
