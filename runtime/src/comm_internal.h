// Backend factories that the public header does not expose.
#pragma once
#include <memory>

#include "tessera/comm.h"

namespace tessera::runtime {

#ifdef TESSERA_HAVE_MPI
// Initialises MPI (if nobody has), checks its world size against the launcher's claim
// (li.world, or -1 for "unknown") and returns a communicator over MPI_COMM_WORLD.
StatusOr<std::shared_ptr<Comm>> make_mpi_comm(const LauncherInfo& li);
#endif

}  // namespace tessera::runtime
