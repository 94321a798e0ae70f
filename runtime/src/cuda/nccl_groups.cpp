#include "cuda/nccl_groups.h"

#include "cuda/device_session.h"

#include <chrono>
#include <cstring>
#include <thread>

namespace tessera::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

ncclConfig_t nonblocking_config() {
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  cfg.blocking = 0;
  return cfg;
}

}  // namespace

ncclDataType_t nccl_dtype(DType t, bool* ok) {
  *ok = true;
  switch (t) {
    case DType::kFloat32:
      return ncclFloat32;
    case DType::kFloat16:
      return ncclFloat16;
    case DType::kBFloat16:
      return ncclBfloat16;
    case DType::kFloat64:
      return ncclFloat64;
    case DType::kInt32:
      return ncclInt32;
    case DType::kInt64:
      return ncclInt64;
    case DType::kInt8:
      return ncclInt8;
    case DType::kUInt8:
    case DType::kBool:
      return ncclUint8;
    default:
      *ok = false;
      return ncclFloat32;
  }
}

NcclGroups::~NcclGroups() {
  if (aborted_) return;
  // Clean shutdown: finalize (flushes outstanding work), then destroy. On error, abort.
  std::vector<ncclComm_t> all;
  for (auto& kv : by_key_) all.push_back(kv.second);
  if (world_ && owns_world_) all.push_back(world_);
  for (ncclComm_t c : all) {
    if (!settle(c, ncclCommFinalize(c), "ncclCommFinalize").ok()) return;  // aborted all
  }
  for (ncclComm_t c : all) ncclCommDestroy(c);
}

void NcclGroups::abort_all() {
  if (aborted_) return;
  aborted_ = true;
  for (auto& kv : by_key_) ncclCommAbort(kv.second);
  if (world_ && owns_world_) ncclCommAbort(world_);
}

Status NcclGroups::fail(const std::string& what, const std::string& why) {
  abort_all();
  return Status(Code::kComm, what + ": " + why + " (NCCL communicators aborted)");
}

Status NcclGroups::settle(ncclComm_t c, ncclResult_t r, const std::string& what) {
  if (aborted_) return Status(Code::kComm, what + ": NCCL communicators were aborted earlier");
  const auto t0 = Clock::now();
  while (r == ncclInProgress) {
    if (since(t0) > timeout_s_)
      return fail(what, "timed out after " + std::to_string(timeout_s_) +
                            " s (a peer rank may have failed; TESSERA_NCCL_TIMEOUT_S sets it)");
    std::this_thread::yield();
    if (ncclCommGetAsyncError(c, &r) != ncclSuccess) break;
  }
  if (r == ncclSuccess) return Status::Ok();
  return fail(what, std::string(ncclGetErrorString(r)) + ": " + ncclGetLastError(c));
}

Status NcclGroups::wait_stream(cudaStream_t s, const std::string& what) {
  const auto t0 = Clock::now();
  for (;;) {
    const cudaError_t e = cudaStreamQuery(s);
    if (e == cudaSuccess) return Status::Ok();
    if (e != cudaErrorNotReady) {
      abort_all();
      return Internal(what + ": " + cudaGetErrorString(e));
    }
    std::vector<ncclComm_t> all;
    for (auto& kv : by_key_) all.push_back(kv.second);
    if (world_) all.push_back(world_);
    for (ncclComm_t c : all) {
      ncclResult_t r = ncclSuccess;
      ncclCommGetAsyncError(c, &r);
      if (r != ncclSuccess && r != ncclInProgress)
        return fail(what, std::string(ncclGetErrorString(r)) + ": " + ncclGetLastError(c));
    }
    if (since(t0) > timeout_s_)
      return fail(what, "device work not finished after " + std::to_string(timeout_s_) +
                            " s (a peer rank may have failed; TESSERA_NCCL_TIMEOUT_S sets it)");
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

Status NcclGroups::init(Comm& comm, const std::vector<std::vector<std::string>>& axes_lists,
                        double timeout_s, ncclComm_t external) {
  timeout_s_ = timeout_s;
  if (external) {
    int n = 0, r = 0;
    if (ncclCommCount(external, &n) != ncclSuccess || ncclCommUserRank(external, &r) != ncclSuccess)
      return InvalidArgument("the handed-in NCCL communicator is not a valid ncclComm_t");
    TSR_RETURN_IF_ERROR(check_external_world("NCCL communicator", r, n, comm));
  }
  if (comm.size() == 1 || axes_lists.empty()) return Status::Ok();
  if (external) {
    world_ = external;
    owns_world_ = false;
    return split_groups(comm, axes_lists);
  }
  ncclUniqueId id;
  std::vector<uint8_t> bytes(sizeof id, 0);
  if (comm.rank() == 0) {
    ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess)
      return Status(Code::kComm, std::string("ncclGetUniqueId: ") + ncclGetErrorString(r));
    std::memcpy(bytes.data(), &id, sizeof id);
  }
  TSR_RETURN_IF_ERROR(comm.broadcast(&bytes, 0));
  if (bytes.size() != sizeof id) return Status(Code::kComm, "NCCL unique id broadcast lost bytes");
  std::memcpy(&id, bytes.data(), sizeof id);
  ncclConfig_t cfg = nonblocking_config();
  ncclResult_t r = ncclCommInitRankConfig(&world_, comm.size(), id, comm.rank(), &cfg);
  if (r != ncclSuccess && r != ncclInProgress)
    return Status(Code::kComm, std::string("ncclCommInitRankConfig: ") + ncclGetErrorString(r));
  TSR_RETURN_IF_ERROR(
      settle(world_, r, "ncclCommInitRankConfig (world of " + std::to_string(comm.size()) + ")"));
  return split_groups(comm, axes_lists);
}

Status NcclGroups::split_groups(Comm& comm,
                                const std::vector<std::vector<std::string>>& axes_lists) {
  for (const auto& axes : axes_lists) {
    TSR_ASSIGN_OR_RETURN(Group g, comm.group(axes));
    if (by_key_.count(g.key) || g.size == 1) continue;
    ncclComm_t child = nullptr;
    ncclConfig_t cfg = nonblocking_config();
    const ncclResult_t r = ncclCommSplit(world_, g.color, g.rank, &child, &cfg);
    const std::string what = "ncclCommSplit over mesh axes '" + g.key + "'";
    TSR_RETURN_IF_ERROR(settle(world_, r, what));
    // Nonblocking split: NCCL's background job stores the child handle when it has made it
    // (seen on 2.28: still null after the parent settled), so wait for it, then settle it.
    const auto t0 = Clock::now();
    while (*static_cast<ncclComm_t volatile*>(&child) == nullptr) {
      if (since(t0) > timeout_s_) return fail(what, "no child communicator after the timeout");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    TSR_RETURN_IF_ERROR(settle(child, ncclInProgress, what + " (child)"));
    by_key_[g.key] = child;
  }
  return Status::Ok();
}

ncclComm_t NcclGroups::get(const std::string& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

}  // namespace tessera::runtime
