// A session's execution on an accelerator. Session (session.cpp) keeps the API work (binding,
// sharding inputs, output lookup) and hands the instruction loop to this interface when the
// backend is not the CPU. Implemented by cuda_session.cpp; cuda_stub.cpp stands in when the
// runtime is built without CUDA, so the CPU-only build needs no CUDA headers.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "tessera/runtime.h"

namespace tessera::runtime {

class DeviceSession {
 public:
  virtual ~DeviceSession() = default;
  // shards[i] holds plan input i's local bytes. Copies them in, runs every instruction and
  // waits for the device; outputs are then readable with read_output.
  virtual Status run(const std::vector<std::vector<uint8_t>>& shards) = 0;
  // Plan output `index` (in plan order) of the last run, copied to host memory.
  virtual Status read_output(int index, void* dst, int64_t bytes) const = 0;
  // Training: one tensor's local bytes over another's, device to device (apply_updates), and
  // host access to a tensor's local bytes (state save and load). Ids are plan tensor ids.
  virtual Status copy_tensor(int32_t src, int32_t dst) = 0;
  virtual Status read_tensor(int32_t id, void* dst) const = 0;
  virtual Status write_tensor(int32_t id, const void* src) = 0;
  virtual int64_t device_bytes() const = 0;  // the one device allocation
  virtual int64_t weight_bytes() const = 0;
  virtual const std::vector<double>& instruction_seconds() const = 0;
};

// A communicator the application handed in (what: "NCCL communicator") must be the same
// rank of the same world size as the session's Comm; the error names both (session.cpp).
Status check_external_world(const char* what, int rank, int size, const Comm& comm);

// True when the runtime was built with CUDA and at least one GPU is visible.
bool cuda_backend_available();
// Selects the GPU by local rank (or the handed-in NCCL communicator's GPU), uploads this rank's
// weights once, builds NCCL communicators for the plan's collectives, and checks that every kernel
// op has a CUDA kernel (all missing ops named in one error).
StatusOr<std::unique_ptr<DeviceSession>> create_cuda_session(const Plan& plan, Comm& comm,
                                                             const SessionOptions& opts);

}  // namespace tessera::runtime
