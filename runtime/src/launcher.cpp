// Launchers: what the environment says about ranks (mpirun, srun, PMIx, torchrun), the local
// rank and its GPU, and the communicator that follows from them (comm_from_environment).
#include <cstdlib>

#include "comm_internal.h"

namespace tessera::runtime {
namespace {

int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (*end == 0 && x >= 0 && x < (1 << 24)) ? static_cast<int>(x) : dflt;
}

// A positive number of seconds from `name`, or dflt when unset; an error names the variable.
Status env_seconds(const char* name, double dflt, bool allow_zero, double* out) {
  const char* v = std::getenv(name);
  *out = dflt;
  if (!v || !*v) return Status::Ok();
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  if (*end != 0 || x < 0 || (x == 0 && !allow_zero))
    return InvalidArgument(std::string(name) + "='" + v + "' is not a number of seconds");
  *out = x;
  return Status::Ok();
}

// torchrun-style variables without an MPI launcher: the TCP communicator, rendezvous at
// MASTER_ADDR:MASTER_PORT. Every missing variable is named, with the launch that would work.
StatusOr<std::shared_ptr<Comm>> tcp_from_environment(const LauncherInfo& li) {
  const std::string n = std::to_string(li.world);
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || !*addr)
    return Status(Code::kComm, "torchrun-style variables say WORLD_SIZE=" + n +
                                   ", but MASTER_ADDR is not set: set MASTER_ADDR and MASTER_PORT "
                                   "to rank 0's host and a free port (TCP backend), or launch "
                                   "with `mpirun -np " +
                                   n + "` or `srun -n " + n + " --mpi=pmix`");
  const int port = env_int("MASTER_PORT", -1);
  if (port <= 0 || port > 65535)
    return InvalidArgument("MASTER_PORT must be a TCP port (1-65535) when MASTER_ADDR=" +
                           std::string(addr) + " and WORLD_SIZE=" + n + " are set");
  const int rank = env_int("RANK", -1);
  if (rank < 0 || rank >= li.world)
    return InvalidArgument("RANK must be set to 0.." + std::to_string(li.world - 1) +
                           " when WORLD_SIZE=" + n);
  TcpCommOptions o;
  o.rank = rank;
  o.world = li.world;
  o.master_addr = addr;
  o.master_port = port;
  TSR_RETURN_IF_ERROR(env_seconds("TSR_CONNECT_TIMEOUT", 60, false, &o.connect_timeout_s));
  TSR_RETURN_IF_ERROR(env_seconds("TSR_COMM_TIMEOUT", 0, true, &o.timeout_s));
  return make_tcp_comm(o);
}

}  // namespace

LauncherInfo detect_launcher() {
  // Order: the most specific claim first. SLURM_STEP_NUM_TASKS is the size of this srun step;
  // SLURM_NTASKS alone may describe a batch allocation whose script runs as one process.
  if (int w = env_int("OMPI_COMM_WORLD_SIZE", 0))
    return {"OpenMPI", w, env_int("OMPI_COMM_WORLD_RANK", 0)};
  if (int w = env_int("SLURM_STEP_NUM_TASKS", 0)) return {"Slurm", w, env_int("SLURM_PROCID", 0)};
  if (std::getenv("SLURM_PROCID") && env_int("SLURM_NTASKS", 0))
    return {"Slurm", env_int("SLURM_NTASKS", 0), env_int("SLURM_PROCID", 0)};
  if (int w = env_int("WORLD_SIZE", 0)) return {"torchrun", w, env_int("RANK", 0)};
  if (std::getenv("PMIX_RANK")) return {"PMIx", -1, env_int("PMIX_RANK", 0)};
  return {"", 0, 0};
}

int local_rank_from_environment() {
  // The launcher-specific names first; LOCAL_RANK is generic enough that a user may export it.
  for (const char* n : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID",
                        "LOCAL_RANK", "PMIX_LOCAL_RANK"}) {
    const int v = env_int(n, -1);
    if (v >= 0) return v;
  }
  return 0;
}

int device_for_local_rank(int local_rank, int visible_devices) {
  if (visible_devices <= 0) return -1;
  return (local_rank < 0 ? 0 : local_rank) % visible_devices;
}

StatusOr<std::shared_ptr<Comm>> comm_from_environment() {
  const LauncherInfo li = detect_launcher();
  if (li.world == 0 || li.world == 1) return make_single_comm();
  // PMIx beside torchrun-style variables: an MPI launch that happens to export WORLD_SIZE.
  if (li.name == "torchrun" && !std::getenv("PMIX_RANK")) return tcp_from_environment(li);
#ifdef TESSERA_HAVE_MPI
  return make_mpi_comm(li);
#else
  return Status(Code::kComm, li.name + " launcher says " + std::to_string(li.world) +
                                 " ranks, but this runtime was built without MPI");
#endif
}

}  // namespace tessera::runtime
