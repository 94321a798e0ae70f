// Embedding the Tessera runtime: load a plan, bind inputs, run, read outputs.
//
//   run_plan_example model.tsp [input_0.pb ...]
//   mpirun -np 4 run_plan_example model.tsp input_0.pb     (a plan compiled for 4 ranks)
//
// Inputs missing on the command line are bound as zeros. Every rank passes the *global* input;
// the session keeps its own shard. Outputs are replicated, so rank 0 prints them.
#include <cstdio>
#include <string>

#include "tessera/runtime.h"

using namespace tessera;
using namespace tessera::runtime;

static int fail(const Status& s, Comm* comm) {
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  if (comm && comm->size() > 1) comm->abort(1);  // do not leave peers waiting in a collective
  return 1;
}

static void print_summary(const HostTensor& t) {
  std::printf("%s: %s %s", t.name.c_str(), dtype_name(t.dtype), shape_str(t.shape).c_str());
  if (t.dtype == DType::kFloat32) {
    double sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) sum += t.data<float>()[i];
    std::printf("  sum %.6g", sum);
  }
  std::printf("\n");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PLAN [input_0.pb ...]\n", argv[0]);
    return 2;
  }
  auto comm = comm_from_environment();  // world of 1, or MPI under mpirun/srun/torchrun
  if (!comm.ok()) return fail(comm.status(), nullptr);
  auto plan = Plan::load(argv[1]);
  if (!plan.ok()) return fail(plan.status(), comm->get());
  SessionOptions opts;
  opts.profile = true;
  auto session = Session::create(*plan, *comm, opts);
  if (!session.ok()) return fail(session.status(), comm->get());

  const std::vector<IOInfo> inputs = (*plan)->inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    HostTensor t = HostTensor::zeros(inputs[i].name, inputs[i].dtype, inputs[i].global_shape);
    if (static_cast<int>(i) + 2 < argc) {
      auto r = read_tensor_proto(argv[i + 2]);
      if (!r.ok()) return fail(r.status(), comm->get());
      t = std::move(r).value();
    }
    Status s = (*session)->bind_input(inputs[i].name, t);
    if (!s.ok()) return fail(s, comm->get());
  }
  Status s = (*session)->run();
  if (!s.ok()) return fail(s, comm->get());
  if ((*comm)->rank() != 0) return 0;
  for (const IOInfo& o : (*plan)->outputs()) {
    auto t = (*session)->output(o.name);
    if (!t.ok()) return fail(t.status(), comm->get());
    print_summary(*t);
  }
  double total = 0;
  for (double x : (*session)->instruction_seconds()) total += x;
  std::printf("ranks %d, arena %lld bytes, weights %lld bytes, %.3f ms in instructions\n",
              (*comm)->size(), static_cast<long long>((*session)->arena_bytes()),
              static_cast<long long>((*session)->weight_bytes()), total * 1e3);
  return 0;
}
