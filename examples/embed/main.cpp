// Embedding the runtime from C++: load a plan, join the job's ranks, bind the global input,
// run, and write the (replicated) output on rank 0.
//
//   embed_cpp PLAN INPUT.pb OUTPUT.pb
//   mpirun -np 4 embed_cpp plan_for_4_ranks.tsr INPUT.pb OUTPUT.pb
#include <cstdio>
#include <memory>

#include "tessera/runtime.h"

using namespace tessera;
using namespace tessera::runtime;

// Runs everything after the communicator exists, so that any failure can take the job down.
static Status run(const char* plan_path, const char* input, const char* output,
                  std::shared_ptr<Comm> comm) {
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, Plan::load(plan_path));
  TSR_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::create(plan, comm));
  TSR_ASSIGN_OR_RETURN(HostTensor x, read_tensor_proto(input));
  TSR_RETURN_IF_ERROR(session->bind_input(plan->inputs().at(0).name, x));
  TSR_RETURN_IF_ERROR(session->run());
  TSR_ASSIGN_OR_RETURN(HostTensor y, session->output(plan->outputs().at(0).name));
  if (comm->rank() == 0) {
    TSR_RETURN_IF_ERROR(write_tensor_proto(output, y));
    std::printf("%s: %s %s on %d rank(s)\n", y.name.c_str(), dtype_name(y.dtype),
                shape_str(y.shape).c_str(), comm->size());
  }
  return Status::Ok();
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PLAN INPUT.pb OUTPUT.pb\n", argv[0]);
    return 2;
  }
  // One rank without a launcher; MPI under mpirun or srun --mpi=pmix.
  StatusOr<std::shared_ptr<Comm>> comm = comm_from_environment();
  if (!comm.ok()) {
    std::fprintf(stderr, "error: %s\n", comm.status().to_string().c_str());
    return 1;
  }
  Status s = run(argv[1], argv[2], argv[3], *comm);
  if (s.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  if ((*comm)->size() > 1) (*comm)->abort(1);  // peers may be waiting in a collective
  return 1;
}
