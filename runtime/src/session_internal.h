// Session internals shared by session.cpp (API, run loop) and session_build.cpp (create-time
// preparation: weights, steps, input shards).
#pragma once
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "tessera/runtime.h"

namespace tessera::runtime {

// 64-byte aligned host memory (cache line; what vectorised kernels assume).
class AlignedBuffer {
 public:
  Status allocate(int64_t bytes, const std::string& what);
  uint8_t* data() const { return ptr_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> ptr_;
  int64_t size_ = 0;
};

// One prepared instruction: tensor refs resolved to arena/weight pointers once, at create.
struct Step {
  enum Kind { kKernel, kAllReduce, kAllGather, kReduceScatter, kAllToAll, kShardSlice, kMakePartial };
  Kind kind = kKernel;
  int index = 0;
  std::string op;
  AttrMap attrs;
  std::vector<kernels::TensorRef> ins, outs;
  std::vector<std::string> axes;  // collectives
  int64_t dim = 0, split_dim = 0, concat_dim = 0;
};

class DeviceSession;  // cuda/device_session.h

struct Session::Impl {
  ~Impl();
  SessionOptions opts;
  std::unique_ptr<DeviceSession> device;  // set when the backend is not the CPU
  AlignedBuffer arena;
  AlignedBuffer weights;
  std::vector<uint8_t*> tensor_data;  // by tensor id
  std::vector<Step> steps;
  std::vector<std::vector<uint8_t>> shards;  // bound local input shards, by input index
  std::vector<bool> bound;
  bool ran = false;
  std::vector<double> seconds;
  int64_t arena_high_water = 0;  // furthest arena byte touched by the last run (peak_bytes)
  // Training: (updated output tensor id, state tensor id) pairs from "train.updates", checked
  // at create (session_train.cpp).
  std::vector<std::pair<int32_t, int32_t>> updates;
};

// Create-time preparation (session_build.cpp).
Status place_weights(const Plan& plan, int rank, Session::Impl* s);
Status build_steps(const Plan& plan, Session::Impl* s);
// Training plans: resolves and checks "train.updates" into s->updates (same dtype, local shape
// and sharding on both sides; the state a WEIGHT tensor). Corrupt naming the pair otherwise.
Status prepare_updates(const Plan& plan, Session::Impl* s);
// True when output tensor `id` is an updated output (sharded like its state, by design).
bool is_update_output(const Session::Impl& s, int32_t id);
// This rank's box of a global tensor: per dim, start and size, from the sharding and coords.
Status shard_box(const plan::TensorInfo& t, const Comm& comm, Shape* starts, Shape* sizes);

}  // namespace tessera::runtime
