#include "run_cli.h"

#include <cstdio>
#include <filesystem>

#include "tessera/runtime.h"

namespace tessera::runtime {
namespace {

Status run_all(const PlanLoader& load, const std::string& plan_path, const std::string& inputs_dir,
               const std::string& output_dir, const RunCliOptions& o, Comm& comm,
               std::shared_ptr<Comm> owner) {
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, load(o.verify_hash));
  SessionOptions so;
  so.profile = o.profile;
  TSR_ASSIGN_OR_RETURN(so.backend, parse_backend(o.backend));
  TSR_ASSIGN_OR_RETURN(std::unique_ptr<Session> sess, Session::create(plan, std::move(owner), so));
  const std::vector<IOInfo> ins = plan->inputs();
  for (size_t i = 0; i < ins.size(); ++i) {
    TSR_ASSIGN_OR_RETURN(HostTensor t,
                         read_tensor_proto(inputs_dir + "/input_" + std::to_string(i) + ".pb"));
    TSR_RETURN_IF_ERROR(sess->bind_input(ins[i].name, t));
  }
  TSR_RETURN_IF_ERROR(sess->run());
  if (o.report_memory) {
    std::printf("rank %d peak_bytes %lld\n", comm.rank(), static_cast<long long>(sess->peak_bytes()));
    std::fflush(stdout);
  }
  const std::vector<IOInfo> outs = plan->outputs();
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::create_directories(output_dir, ec);
    if (ec) return IoError("cannot create output directory '" + output_dir + "': " + ec.message());
  }
  for (size_t i = 0; i < outs.size() && comm.rank() == 0; ++i) {
    TSR_ASSIGN_OR_RETURN(HostTensor t, sess->output(outs[i].name));
    TSR_RETURN_IF_ERROR(write_tensor_proto(output_dir + "/output_" + std::to_string(i) + ".pb", t));
  }
  if (comm.rank() == 0 && o.verbose)
    std::fprintf(stderr,
                 "ran %s on %d rank(s), backend %s: arena %lld bytes, weights %lld bytes per rank\n",
                 plan_path.c_str(), comm.size(), sess->backend(),
                 static_cast<long long>(sess->arena_bytes()),
                 static_cast<long long>(sess->weight_bytes()));
  if (comm.rank() == 0 && o.profile)
    for (size_t i = 0; i < sess->instruction_seconds().size(); ++i)
      std::fprintf(stderr, "%4zu %-16s %10.6f s\n", i, plan->meta().instructions(i).op().c_str(),
                   sess->instruction_seconds()[i]);
  return Status::Ok();
}

}  // namespace

int run_plan_cli(const std::string& plan_path, const std::string& inputs_dir,
                 const std::string& output_dir, const RunCliOptions& options) {
  auto load = [&](bool verify_hash) {
    planfile::LoadOptions lo;
    lo.verify_hash = verify_hash;
    return Plan::load(plan_path, lo);
  };
  return run_plan_cli(load, plan_path, inputs_dir, output_dir, options);
}

int run_plan_cli(const PlanLoader& load, const std::string& plan_path,
                 const std::string& inputs_dir, const std::string& output_dir,
                 const RunCliOptions& options) {
  auto comm = comm_from_environment();
  if (!comm.ok()) {
    std::fprintf(stderr, "error: %s\n", comm.status().to_string().c_str());
    return 1;
  }
  std::shared_ptr<Comm> c = *comm;
  Status s = run_all(load, plan_path, inputs_dir, output_dir, options, *c, c);
  if (s.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  // Peers may be blocked in a collective this rank will never join: take the job down.
  if (c->size() > 1) c->abort(1);
  return 1;
}

}  // namespace tessera::runtime
