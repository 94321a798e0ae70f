// Backend factories that the public header does not expose.
#pragma once
#include <memory>

#include "tessera/comm.h"

namespace tessera::runtime {

#ifdef TESSERA_HAVE_MPI
// Initialises MPI (if nobody has), checks its world size against the launcher's claim
// (li.world, or -1 for "unknown") and returns a communicator over MPI_COMM_WORLD.
StatusOr<std::shared_ptr<Comm>> make_mpi_comm(const LauncherInfo& li);
// Over a duplicate of an application's communicator, given as its Fortran handle
// (MPI_Comm_c2f) so callers need no mpi.h. MPI must already be initialised by the application.
StatusOr<std::shared_ptr<Comm>> make_mpi_comm_from_fortran(int fortran_comm);
#endif

}  // namespace tessera::runtime
