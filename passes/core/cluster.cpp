#include "passes/core/cluster.h"

#include <fstream>
#include <sstream>

namespace tessera::spmd {
namespace {

// One H100 SXM, measured (BASELINES.md): bf16 GEMM 797e12 of the 989e12 datasheet (0.8). fp32
// GEMMs run on tensor cores as TF32 (cuBLASLt COMPUTE_32F_FAST_TF32, like PyTorch with
// allow_tf32): datasheet 495e12 x the same 0.8 gives ~400e12. Strict fp32 would be ~51e12; we
// pick TF32 because that is what the CUDA backend asks cuBLASLt for.
DeviceProfile h100_device() { return {400e12, 790e12, 3.0e12, 80e9}; }

// NVLink 4: NCCL all-reduce bus bandwidth 350-480 GB/s on 8xH100; bus bandwidth is defined so
// that ring formulas with beta = 1/busbw give the time, hence beta = 1/400e9.
AxisLink nvlink() { return {8e-6, 1.0 / 400e9, "nvlink"}; }
// InfiniBand NDR, one 400 Gb/s NIC per GPU (~50e9 B/s), inter-node latency ~15 us.
AxisLink infiniband() { return {15e-6, 1.0 / 50e9, "ib"}; }

constexpr int64_t kGpusPerNode = 8;

}  // namespace

// The innermost axes whose product fits in one node use `intra`; an axis that spans nodes (even
// partly) is bound by `inter`, since a ring runs at its slowest link.
ClusterProfile make_profile(const ProfileParams& p, const Mesh& mesh) {
  ClusterProfile c;
  c.name = p.name;
  c.device = p.device;
  c.links.assign(mesh.num_axes(), p.inter);
  int64_t inner = 1;
  for (int i = mesh.num_axes() - 1; i >= 0; --i) {
    inner *= mesh.axis_size(i);
    if (inner > p.devices_per_node) break;
    c.links[i] = p.intra;
  }
  return c;
}

double ClusterProfile::gemm_flops(DType t) const {
  bool half = t == DType::kBFloat16 || t == DType::kFloat16;
  return half ? device.gemm_flops_16 : device.gemm_flops_fp32;
}

std::string ClusterProfile::to_string(const Mesh& mesh) const {
  std::ostringstream os;
  os << name << ": gemm fp32 " << device.gemm_flops_fp32 << " flop/s, 16-bit "
     << device.gemm_flops_16 << " flop/s, memory " << device.mem_bandwidth << " B/s, "
     << device.mem_bytes << " B";
  for (int i = 0; i < mesh.num_axes() && i < static_cast<int>(links.size()); ++i) {
    os << "; " << mesh.axis(i).name << ": " << links[i].kind << " alpha " << links[i].alpha
       << " s, " << 1.0 / links[i].beta << " B/s";
  }
  return os.str();
}

std::vector<std::string> builtin_profile_names() { return {"cpu", "h100-ib", "h100-nvlink"}; }

StatusOr<ProfileParams> builtin_params(const std::string& name) {
  if (name == "h100-nvlink" || name == "h100-ib") {
    return ProfileParams{name, h100_device(), kGpusPerNode, nvlink(), infiniband()};
  }
  if (name == "cpu") {
    // This kind of machine: a few AVX2 cores through OpenBLAS (~50 Gflop/s), ~10 GB/s of
    // memory bandwidth per process, 16 GB; ranks talk through MPI shared memory or TCP.
    AxisLink mpi{20e-6, 1.0 / 5e9, "cpu"};
    return ProfileParams{name, {50e9, 50e9, 10e9, 16e9}, int64_t{1} << 40, mpi, mpi};
  }
  return NotFound("unknown cluster profile '" + name + "' (built-ins: cpu, h100-ib, h100-nvlink)");
}

StatusOr<ClusterProfile> builtin_profile(const std::string& name, const Mesh& mesh) {
  TSR_ASSIGN_OR_RETURN(ProfileParams p, builtin_params(name));
  if (name == "h100-nvlink" && mesh.world_size() > kGpusPerNode) {
    return InvalidArgument("profile h100-nvlink is one host of 8 GPUs; mesh " + mesh.to_string() +
                           " has " + std::to_string(mesh.world_size()) + " devices (use h100-ib)");
  }
  return make_profile(p, mesh);
}

StatusOr<ClusterProfile> load_profile(const std::string& name_or_path, const Mesh& mesh) {
  for (const std::string& n : builtin_profile_names()) {
    if (n == name_or_path) return builtin_profile(n, mesh);
  }
  std::ifstream in(name_or_path);
  if (!in) {
    return NotFound("cluster profile '" + name_or_path +
                    "' is neither a built-in (cpu, h100-ib, h100-nvlink) nor a readable file");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_profile(ss.str(), mesh, name_or_path);
}

}  // namespace tessera::spmd
