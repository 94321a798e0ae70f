// Embedding API. A Plan is an immutable, validated plan file, shareable between sessions and
// threads. A Session is one rank's execution state: arena, weight copy, bound inputs; it runs
// the plan's instruction loop (kernels on the CPU, collectives through a Comm).
//
//   auto plan = Plan::load("model.tsp");              // StatusOr<shared_ptr<const Plan>>
//   auto comm = comm_from_environment();              // world of 1, MPI, or TCP (torchrun)
//   auto sess = Session::create(*plan, *comm);
//   sess->bind_input("x", global_x); sess->run(); sess->output("y");
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/comm.h"
#include "tessera/plan_file.h"
#include "tessera/status.h"
#include "tessera/tensor_io.h"

namespace tessera::runtime {

// Name, dtype and global shape of one graph input or output.
struct IOInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape global_shape;
};

class Plan {
 public:
  static StatusOr<std::shared_ptr<const Plan>> load(const std::string& path,
                                                    const planfile::LoadOptions& opts = {});
  // Wraps an already opened file (tests build plans in memory).
  static std::shared_ptr<const Plan> from_file(std::unique_ptr<planfile::PlanFile> file);

  const plan::Plan& meta() const { return file_->plan(); }
  const planfile::PlanFile& file() const { return *file_; }
  uint64_t content_hash() const { return file_->header().content_hash; }
  int64_t world_size() const;
  std::vector<IOInfo> inputs() const;
  std::vector<IOInfo> outputs() const;

 private:
  explicit Plan(std::unique_ptr<planfile::PlanFile> f) : file_(std::move(f)) {}
  std::unique_ptr<planfile::PlanFile> file_;
};

// Where a session executes: the CPU reference kernels, the CUDA backend, or CUDA when the
// runtime was built with it and a GPU is visible (else the CPU).
enum class Backend { kCpu, kCuda, kAuto };
// "cpu", "cuda", "auto" -> Backend; InvalidArgument otherwise.
StatusOr<Backend> parse_backend(const std::string& name);

struct SessionOptions {
  bool profile = false;         // record per-instruction wall time
  bool check_plan_hash = true;  // compare the plan's hash across ranks at create
  Backend backend = Backend::kCpu;
  // Benchmarks only (CUDA backend): weights the plan carries no data for (graph-only models)
  // get deterministic random values instead of the refusal, so speed and memory can be
  // measured; outputs then mean nothing, and tools must not write them as results.
  bool random_weights = false;
  // An ncclComm_t the application already has, as void* so this header needs no nccl.h; not
  // owned. CUDA backend only (auto then means cuda). The session uses the communicator's GPU
  // and splits its per-mesh-axis-group communicators from it (ncclCommSplit, collective over
  // it) instead of bootstrapping its own world; its rank and size must equal the comm's, which
  // still carries the host side (plan-hash check). Never aborted or destroyed by the session.
  void* nccl_comm = nullptr;
};

class Session {
 public:
  // Allocates the arena and copies this rank's weights once. The comm's world size must equal
  // the plan mesh's product; the session binds the mesh to it.
  static StatusOr<std::unique_ptr<Session>> create(std::shared_ptr<const Plan> plan,
                                                   std::shared_ptr<Comm> comm,
                                                   const SessionOptions& opts = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Takes the *global* tensor; keeps this rank's shard per the tensor's sharding.
  Status bind_input(const std::string& name, const HostTensor& global);
  Status run();
  // Outputs are replicated on every rank, so the local tensor is the global one. (A training
  // plan's updated outputs are sharded like their states: read those with read_state.)
  StatusOr<HostTensor> output(const std::string& name) const;

  // Training (tessera/train.h; session_train.cpp). Copies each updated output's local buffer
  // over its state after a run(): the in-place optimizer step. Local, no communication; a no-op
  // for plans without "train.updates".
  Status apply_updates();
  // The full (global, unsharded) value of a WEIGHT tensor, e.g. a state: all-gathers its shards
  // over the mesh axes of its sharding. Collective: every rank calls it, same names, same order.
  StatusOr<HostTensor> read_state(const std::string& name);
  // Replaces a WEIGHT tensor from its full value (checked dtype and global shape); keeps this
  // rank's shard. Local: every rank passes the same global tensor.
  Status write_state(const std::string& name, const HostTensor& global);

  const char* backend() const;  // "cpu" or "cuda": what `auto` resolved to
  int64_t arena_bytes() const;
  int64_t weight_bytes() const;  // this rank's weight copy
  // Measured peak of the last run(): weights plus the arena's high-water mark (the furthest byte
  // of any arena tensor an instruction or input copy touched). The plan's value on CUDA.
  int64_t peak_bytes() const;
  // Per instruction seconds of the last run() (empty unless opts.profile).
  const std::vector<double>& instruction_seconds() const;
  const Plan& plan() const { return *plan_; }
  Comm& comm() const { return *comm_; }

  struct Impl;

 private:
  Session() = default;
  std::shared_ptr<const Plan> plan_;
  std::shared_ptr<Comm> comm_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::runtime
