// MPI backend. Errors return (MPI_ERRORS_RETURN) instead of aborting inside MPI. A rank that
// dies or calls abort() makes Open MPI's mpirun kill the whole job, so peers never wait forever
// in a collective; with a direct srun launch, Slurm's --kill-on-bad-exit does the same.
#ifdef TESSERA_HAVE_MPI
#include <mpi.h>

#include <climits>
#include <map>

#include "comm_internal.h"

namespace tessera::runtime {
namespace {

Status mpi_status(int rc, const char* what, int rank) {
  if (rc == MPI_SUCCESS) return Status::Ok();
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return Status(Code::kComm, std::string(what) + " failed on rank " + std::to_string(rank) + ": " +
                                 std::string(msg, len));
}

StatusOr<MPI_Datatype> mpi_type(DType dt) {
  switch (dt) {
    case DType::kFloat32:
      return MPI_FLOAT;
    case DType::kFloat64:
      return MPI_DOUBLE;
    case DType::kInt8:
      return MPI_INT8_T;
    case DType::kUInt8:
      return MPI_UINT8_T;
    case DType::kInt16:
      return MPI_INT16_T;
    case DType::kUInt16:
      return MPI_UINT16_T;
    case DType::kInt32:
      return MPI_INT32_T;
    case DType::kUInt32:
      return MPI_UINT32_T;
    case DType::kInt64:
      return MPI_INT64_T;
    case DType::kUInt64:
      return MPI_UINT64_T;
    default:
      return Unimplemented(std::string("MPI sum of ") + dtype_name(dt) + " is not supported");
  }
}

// MPI-3 counts are int; larger transfers would need derived types (not done yet).
Status check_count(int64_t n, const char* what) {
  if (n > INT_MAX)
    return Unimplemented(std::string(what) + " of " + std::to_string(n) +
                         " elements exceeds MPI's int count");
  return Status::Ok();
}

class MpiComm final : public Comm {
 public:
  // `world` is MPI_COMM_WORLD, or a duplicate of an application's communicator that this
  // object then owns (owns_world) and frees.
  MpiComm(bool owns_init, MPI_Comm world = MPI_COMM_WORLD, bool owns_world = false)
      : owns_init_(owns_init), owns_world_(owns_world), world_(world) {
    MPI_Comm_rank(world_, &rank_);
    MPI_Comm_size(world_, &size_);
  }
  ~MpiComm() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;  // the application finalized first: handles are already gone
    for (auto& kv : groups_) MPI_Comm_free(&kv.second);
    if (owns_world_) MPI_Comm_free(&world_);
    if (owns_init_) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }
  Status barrier() override { return mpi_status(MPI_Barrier(world_), "MPI_Barrier", rank_); }
  Status broadcast(std::vector<uint8_t>* bytes, int root) override;
  void abort(int code) override { MPI_Abort(world_, code); }

 protected:
  Status group_all_reduce(const Group& g, DType dt, const void* in, void* out,
                          int64_t count) override;
  Status group_all_gather(const Group& g, const void* in, void* out, int64_t block_bytes) override;
  Status group_reduce_scatter(const Group& g, DType dt, const void* in, void* out,
                              int64_t block_count) override;
  Status group_all_to_all(const Group& g, const void* in, void* out, int64_t block_bytes) override;

 private:
  StatusOr<MPI_Comm> comm_for(const Group& g);

  bool owns_init_;
  bool owns_world_;
  MPI_Comm world_;
  int rank_ = 0, size_ = 1;
  // One communicator per axis list, created on first use. MPI_Comm_split is collective over the
  // world: every rank runs the same instruction stream, so first uses happen in the same order.
  std::map<std::string, MPI_Comm> groups_;
};

StatusOr<MPI_Comm> MpiComm::comm_for(const Group& g) {
  auto it = groups_.find(g.key);
  if (it != groups_.end()) return it->second;
  MPI_Comm c = MPI_COMM_NULL;
  // color = coordinates on the other axes, key = rank within the group (major-first order).
  TSR_RETURN_IF_ERROR(
      mpi_status(MPI_Comm_split(world_, g.color, g.rank, &c), "MPI_Comm_split", rank_));
  int r = -1, n = -1;
  MPI_Comm_rank(c, &r);
  MPI_Comm_size(c, &n);
  if (r != g.rank || n != g.size)
    return Status(Code::kComm, "rank " + std::to_string(rank_) + ": group '" + g.key +
                                   "' split gave " + std::to_string(r) + "/" + std::to_string(n));
  groups_[g.key] = c;
  return c;
}

Status MpiComm::broadcast(std::vector<uint8_t>* bytes, int root) {
  if (root < 0 || root >= size_) return InvalidArgument("broadcast root " + std::to_string(root));
  uint64_t n = bytes->size();
  TSR_RETURN_IF_ERROR(mpi_status(MPI_Bcast(&n, 1, MPI_UINT64_T, root, world_), "MPI_Bcast", rank_));
  TSR_RETURN_IF_ERROR(check_count(static_cast<int64_t>(n), "broadcast"));
  bytes->resize(n);
  return mpi_status(MPI_Bcast(bytes->data(), static_cast<int>(n), MPI_BYTE, root, world_),
                    "MPI_Bcast", rank_);
}

Status MpiComm::group_all_reduce(const Group& g, DType dt, const void* in, void* out,
                                 int64_t count) {
  TSR_ASSIGN_OR_RETURN(MPI_Datatype t, mpi_type(dt));
  TSR_RETURN_IF_ERROR(check_count(count, "AllReduce"));
  TSR_ASSIGN_OR_RETURN(MPI_Comm c, comm_for(g));
  const void* src = in == out ? MPI_IN_PLACE : in;
  return mpi_status(MPI_Allreduce(src, out, static_cast<int>(count), t, MPI_SUM, c),
                    "MPI_Allreduce", rank_);
}

Status MpiComm::group_all_gather(const Group& g, const void* in, void* out, int64_t block_bytes) {
  TSR_RETURN_IF_ERROR(check_count(block_bytes, "AllGather"));
  TSR_ASSIGN_OR_RETURN(MPI_Comm c, comm_for(g));
  const int n = static_cast<int>(block_bytes);
  return mpi_status(MPI_Allgather(in, n, MPI_BYTE, out, n, MPI_BYTE, c), "MPI_Allgather", rank_);
}

Status MpiComm::group_reduce_scatter(const Group& g, DType dt, const void* in, void* out,
                                     int64_t block_count) {
  TSR_ASSIGN_OR_RETURN(MPI_Datatype t, mpi_type(dt));
  TSR_RETURN_IF_ERROR(check_count(block_count, "ReduceScatter"));
  TSR_ASSIGN_OR_RETURN(MPI_Comm c, comm_for(g));
  return mpi_status(MPI_Reduce_scatter_block(in, out, static_cast<int>(block_count), t, MPI_SUM, c),
                    "MPI_Reduce_scatter_block", rank_);
}

Status MpiComm::group_all_to_all(const Group& g, const void* in, void* out, int64_t block_bytes) {
  TSR_RETURN_IF_ERROR(check_count(block_bytes, "AllToAll"));
  TSR_ASSIGN_OR_RETURN(MPI_Comm c, comm_for(g));
  const int n = static_cast<int>(block_bytes);
  return mpi_status(MPI_Alltoall(in, n, MPI_BYTE, out, n, MPI_BYTE, c), "MPI_Alltoall", rank_);
}

}  // namespace

StatusOr<std::shared_ptr<Comm>> make_mpi_comm(const LauncherInfo& li) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided = 0;
    // FUNNELED: the session issues MPI calls from one thread only.
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return Status(Code::kComm, li.name + " launcher says " + std::to_string(li.world) +
                                     " ranks, but MPI_Init failed");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  auto comm = std::make_shared<MpiComm>(!inited);
  if (li.world > 0 && comm->size() != li.world)
    return Status(Code::kComm, "launcher (" + li.name + ") says " + std::to_string(li.world) +
                                   " ranks, MPI sees " + std::to_string(comm->size()) +
                                   " (is MPI built with this launcher's PMI support?)");
  return std::shared_ptr<Comm>(std::move(comm));
}

StatusOr<std::shared_ptr<Comm>> make_mpi_comm_from_fortran(int fortran_comm) {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (!inited || finalized)
    return Status(Code::kComm, "an MPI communicator was passed in, but MPI is not initialised");
  MPI_Comm app = MPI_Comm_f2c(fortran_comm);
  if (app == MPI_COMM_NULL) return InvalidArgument("the MPI communicator passed in is null");
  // A duplicate: our collectives cannot match the application's messages, and our error
  // handler does not change theirs.
  MPI_Comm dup = MPI_COMM_NULL;
  if (MPI_Comm_dup(app, &dup) != MPI_SUCCESS)
    return Status(Code::kComm, "MPI_Comm_dup of the application's communicator failed");
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  return std::shared_ptr<Comm>(std::make_shared<MpiComm>(false, dup, true));
}

}  // namespace tessera::runtime
#endif  // TESSERA_HAVE_MPI
