// NCCL communicators for a CUDA session: one world communicator, whose unique id travels
// through the existing Comm's broadcast (MPI or TCP under a launcher) unless the application
// handed its own in (SessionOptions::nccl_comm), and one ncclCommSplit child per
// group of mesh axes the plan's collectives use. All communicators are nonblocking
// (config.blocking = 0) so that no NCCL call can hang the process: every call is settled by
// polling ncclCommGetAsyncError under a timeout, and a failure or timeout aborts every
// communicator and becomes a Status.
#pragma once
#include <cuda_runtime.h>
#include <nccl.h>

#include <map>
#include <string>
#include <vector>

#include "tessera/comm.h"

namespace tessera::runtime {

class NcclGroups {
 public:
  NcclGroups() = default;
  NcclGroups(const NcclGroups&) = delete;
  NcclGroups& operator=(const NcclGroups&) = delete;
  ~NcclGroups();

  // Collective over every rank of comm: all ranks must pass the same axes lists in the same
  // order (they come from the same plan, checked by hash before this). With `external` (the
  // application's world communicator, same ranks as comm) the groups are split from it and no
  // world is bootstrapped; it is neither finalized, destroyed nor aborted here.
  Status init(Comm& comm, const std::vector<std::vector<std::string>>& axes_lists, double timeout_s,
              ncclComm_t external = nullptr);
  bool empty() const { return world_ == nullptr; }
  // The communicator of the group over these axes (key as Group::key).
  ncclComm_t get(const std::string& key) const;
  // Waits until a (nonblocking) call on c has finished; error and timeout abort everything.
  Status settle(ncclComm_t c, ncclResult_t r, const std::string& what);
  // Waits for the stream's work while polling the communicators' async errors.
  Status wait_stream(cudaStream_t s, const std::string& what);

 private:
  // One ncclCommSplit child of world_ per distinct group of mesh axes (size > 1).
  Status split_groups(Comm& comm, const std::vector<std::vector<std::string>>& axes_lists);
  Status fail(const std::string& what, const std::string& why);
  void abort_all();
  ncclComm_t world_ = nullptr;
  bool owns_world_ = true;
  std::map<std::string, ncclComm_t> by_key_;
  double timeout_s_ = 300;
  bool aborted_ = false;
};

ncclDataType_t nccl_dtype(DType t, bool* ok);

}  // namespace tessera::runtime
