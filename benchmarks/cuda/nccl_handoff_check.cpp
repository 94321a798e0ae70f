// Device check of SessionOptions::nccl_comm (issue 9): an application that already has an NCCL
// communicator hands it to the session. Run under mpirun with N ranks (one GPU is fine: give each
// rank its own NCCL_HOSTID): the app builds its own ncclComm_t (unique id broadcast over MPI),
// creates the session on the CUDA backend with that communicator, runs the plan on the inputs
// and writes output_0.pb, which the calling script compares with the single-rank result. The
// app then uses its communicator once more (an all-reduce) to show the session left it alive.
//   nccl_handoff_check PLAN INPUT_DIR OUTPUT_DIR
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <cstdio>
#include <filesystem>

#include "tessera/comm.h"
#include "tessera/runtime.h"
#include "tessera/tensor_io.h"

using namespace tessera;
using namespace tessera::runtime;

namespace {
int fail(const std::string& m) {
  std::fprintf(stderr, "error: %s\n", m.c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return fail("usage: nccl_handoff_check PLAN INPUT_DIR OUTPUT_DIR");
  auto comm = comm_from_environment();  // MPI under mpirun: initialises MPI
  if (!comm.ok()) return fail(comm.status().to_string());
  const int rank = (*comm)->rank(), size = (*comm)->size();
  int ndev = 0;
  cudaGetDeviceCount(&ndev);
  cudaSetDevice(rank % ndev);
  ncclUniqueId id;
  if (rank == 0) ncclGetUniqueId(&id);
  MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclComm_t nc;
  if (ncclCommInitRank(&nc, size, id, rank) != ncclSuccess) return fail("ncclCommInitRank");

  auto plan = Plan::load(argv[1]);
  if (!plan.ok()) return fail(plan.status().to_string());
  SessionOptions opts;
  opts.backend = Backend::kCuda;
  opts.nccl_comm = nc;
  {
    auto sess = Session::create(*plan, *comm, opts);
    if (!sess.ok()) return fail(sess.status().to_string());
    const auto ins = (*plan)->inputs();
    for (size_t i = 0; i < ins.size(); ++i) {
      auto t = read_tensor_proto(std::string(argv[2]) + "/input_" + std::to_string(i) + ".pb");
      if (!t.ok()) return fail(t.status().to_string());
      Status s = (*sess)->bind_input(ins[i].name, *t);
      if (!s.ok()) return fail(s.to_string());
    }
    Status s = (*sess)->run();
    if (!s.ok()) return fail(s.to_string());
    auto y = (*sess)->output((*plan)->outputs()[0].name);
    if (!y.ok()) return fail(y.status().to_string());
    if (rank == 0) {
      std::filesystem::create_directories(argv[3]);
      s = write_tensor_proto(std::string(argv[3]) + "/output_0.pb", *y);
      if (!s.ok()) return fail(s.to_string());
    }
    std::printf("rank %d: session on %s over the handed-in communicator ran\n", rank,
                (*sess)->backend());
  }
  // The session is gone; the application's communicator must still work.
  float* d = nullptr;
  cudaMalloc(&d, sizeof(float));
  const float one = 1.f;
  cudaMemcpy(d, &one, sizeof one, cudaMemcpyHostToDevice);
  if (ncclAllReduce(d, d, 1, ncclFloat, ncclSum, nc, nullptr) != ncclSuccess)
    return fail("ncclAllReduce after the session");
  float got = 0;
  cudaMemcpy(&got, d, sizeof got, cudaMemcpyDeviceToHost);
  if (got != static_cast<float>(size)) return fail("all-reduce after the session gave " +
                                                   std::to_string(got));
  std::printf("rank %d: the app's communicator still works (all-reduce = %g)\n", rank, got);
  ncclCommDestroy(nc);
  return 0;
}
