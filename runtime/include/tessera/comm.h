// Communicator: this process's rank in the world, the device mesh it belongs to, and the
// collectives the plan uses, over a *group of mesh axes*. A group over axes (a, b) holds the
// ranks that differ only in their a and b coordinates, ordered major-first in the listed order
// (plan.proto). Collectives act on row-major tensors: all_gather along dim d produces the global
// layout, not concatenated bytes. Backends implement only contiguous-block primitives; the base
// class does the rearranging.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera::runtime {

// A dense row-major buffer the collectives read or write.
struct BufferRef {
  DType dtype = DType::kUndefined;
  Shape shape;
  void* data = nullptr;
  int64_t bytes() const { return num_elements(shape) * dtype_size(dtype); }
};

// A resolved group of mesh axes, as seen from this rank.
struct Group {
  std::vector<int> axes;  // mesh axis indices, in the order listed
  int size = 1;           // product of those axes' sizes
  int rank = 0;           // this rank's index in the group
  int color = 0;          // index of the group among all groups over these axes
  std::string key;        // "tp,dp": cache key for backend communicators
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* backend() const = 0;
  virtual Status barrier() = 0;
  // Replaces *bytes on every rank with root's bytes (sizes may differ before the call).
  virtual Status broadcast(std::vector<uint8_t>* bytes, int root) = 0;
  // Terminates every rank of the job (MPI_Abort); used when one rank fails so the others do not
  // wait forever in a collective. A no-op for a world of one.
  virtual void abort(int code) = 0;

  // Binds the device mesh. Its product must equal size(); error names both numbers.
  Status set_mesh(const std::vector<std::string>& names, const std::vector<int64_t>& sizes);
  const std::vector<std::string>& mesh_names() const { return names_; }
  const std::vector<int64_t>& mesh_sizes() const { return sizes_; }
  const std::vector<int64_t>& coords() const { return coords_; }  // this rank's coordinates
  StatusOr<Group> group(const std::vector<std::string>& axes) const;

  // Sum over the group; in and out have the same shape (may be the same buffer).
  Status all_reduce(const std::vector<std::string>& axes, const BufferRef& in,
                    const BufferRef& out);
  // out.shape = in.shape with dim multiplied by the group size.
  Status all_gather(const std::vector<std::string>& axes, int64_t dim, const BufferRef& in,
                    const BufferRef& out);
  // Sums, then keeps this rank's slice of dim: out.shape = in.shape with dim divided.
  Status reduce_scatter(const std::vector<std::string>& axes, int64_t dim, const BufferRef& in,
                        const BufferRef& out);
  // Splits split_dim into group-size blocks (block j to group rank j) and concatenates the
  // received blocks along concat_dim in group-rank order.
  Status all_to_all(const std::vector<std::string>& axes, int64_t split_dim, int64_t concat_dim,
                    const BufferRef& in, const BufferRef& out);
  // Keeps this rank's slice of dim; no traffic.
  // A replicated value becomes a partial sum over `axes`: the group's first rank keeps it,
  // the others write zeros. Local, no traffic.
  Status make_partial(const std::vector<std::string>& axes, const BufferRef& in,
                      const BufferRef& out);
  Status shard_slice(const std::vector<std::string>& axes, int64_t dim, const BufferRef& in,
                     const BufferRef& out);

 protected:
  // Primitives for groups of size > 1. Blocks are contiguous, in group-rank order.
  virtual Status group_all_reduce(const Group& g, DType dt, const void* in, void* out,
                                  int64_t count) = 0;
  virtual Status group_all_gather(const Group& g, const void* in, void* out,
                                  int64_t block_bytes) = 0;
  virtual Status group_reduce_scatter(const Group& g, DType dt, const void* in, void* out,
                                      int64_t block_count) = 0;
  virtual Status group_all_to_all(const Group& g, const void* in, void* out,
                                  int64_t block_bytes) = 0;

 private:
  std::vector<std::string> names_;
  std::vector<int64_t> sizes_;
  std::vector<int64_t> coords_;
};

// A world of one: every group has size 1.
std::shared_ptr<Comm> make_single_comm();

// What the launcher's environment claims; world = 0 when it claims nothing, -1 when it says
// "launched" without a size (PMIX_RANK alone).
struct LauncherInfo {
  std::string name;  // "OpenMPI", "PMIx", "Slurm", "torchrun", or "" for none
  int world = 0;
  int rank = 0;
};
LauncherInfo detect_launcher();

// This process's rank among the ranks of its host, from the launcher that started it:
// OMPI_COMM_WORLD_LOCAL_RANK (mpirun), MPI_LOCALRANKID (MPICH/Hydra), SLURM_LOCALID (srun),
// LOCAL_RANK (torchrun), PMIX_LOCAL_RANK; 0 without any.
int local_rank_from_environment();
// The GPU a local rank uses: local_rank modulo the visible devices, so that CUDA_VISIBLE_DEVICES
// (which renumbers what the process sees from 0) is respected and oversubscription wraps.
// -1 when no device is visible.
int device_for_local_rank(int local_rank, int visible_devices);

// The TCP communicator (comm_tcp.cpp): torchrun-style launches without MPI. Rank 0 listens on
// master_port; the others connect to master_addr:master_port, retrying for connect_timeout_s.
// CPU only and not built for speed (one direct exchange per collective, full mesh of sockets).
struct TcpCommOptions {
  int rank = 0;
  int world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  double connect_timeout_s = 60;  // TSR_CONNECT_TIMEOUT
  double timeout_s = 0;           // TSR_COMM_TIMEOUT: per collective; 0 waits for ever
};
StatusOr<std::shared_ptr<Comm>> make_tcp_comm(const TcpCommOptions& options);

// The communicator the launcher's environment asks for. A world of one without touching MPI
// when no launcher claims more than one rank; MPI under mpirun, srun --mpi=pmix or PMIx; the
// TCP communicator for torchrun-style variables (WORLD_SIZE > 1 with MASTER_ADDR and
// MASTER_PORT). A claim of N ranks that cannot be met is an error, never a silent singleton.
StatusOr<std::shared_ptr<Comm>> comm_from_environment();

}  // namespace tessera::runtime
