#include "train_cli.h"

#include <cstdio>
#include <filesystem>

#include "onnx_export.h"
#include "tessera/runtime.h"
#include "tessera/train.h"
#include "train_checkpoint.h"
#include "train_data.h"

namespace tessera::runtime {
namespace {

std::string meta_string(const plan::Plan& p, const std::string& key) {
  for (const auto& a : p.meta())
    if (a.name() == key) return a.s();
  return "";
}

// Every flag combination the plan cannot serve fails here, before any step runs.
Status check_flags(const TrainCliOptions& t, const TrainInfo& info, const std::string& plan,
                   int64_t steps) {
  if (!info.training)
    return InvalidArgument(plan +
                           ": --data/--steps and the other training flags need a plan compiled "
                           "with --mode train; this plan is for inference (use --inputs)");
  if (steps < 0) return InvalidArgument("--steps must be >= 0");
  if (steps > 0 && t.data.empty()) return InvalidArgument("--steps needs --data DIR");
  if (!t.dump_gradients.empty() && steps == 0)
    return InvalidArgument("--dump-gradients needs at least one step (--data DIR --steps N)");
  if (!t.dump_gradients.empty() && info.gradient_outputs.empty())
    return InvalidArgument(plan +
                           ": --dump-gradients: the plan has no gradient outputs ('<w>.grad'); "
                           "compile with --gradients-only or with gradient outputs");
  const char* flag = !t.save_weights.empty()   ? "--save-weights"
                     : !t.load_weights.empty() ? "--load-weights"
                     : !t.export_onnx.empty()  ? "--export-onnx"
                                               : nullptr;
  if (flag && info.updates.empty())
    return InvalidArgument(plan + ": " + flag +
                           ": the plan updates no weights (compiled with --gradients-only?)");
  return Status::Ok();
}

Status print_loss(const HostTensor& loss, int64_t step) {
  double v = 0;
  if (loss.dtype == DType::kFloat32 && loss.numel() == 1) {
    v = *loss.data<float>();
    std::printf("step %lld loss %.9g\n", static_cast<long long>(step), v);  // exact for f32
  } else if (loss.dtype == DType::kFloat64 && loss.numel() == 1) {
    v = *loss.data<double>();
    std::printf("step %lld loss %.17g\n", static_cast<long long>(step), v);
  } else {
    return InvalidArgument("output '" + loss.name + "' is " + dtype_name(loss.dtype) + " " +
                           shape_str(loss.shape) + ", a loss must be a float scalar");
  }
  std::fflush(stdout);  // a log followed live (tail -f, CI) sees every step
  return Status::Ok();
}

// The last step's gradients, each named after its weight, and loss.pb: the layout of the
// shared models' train_reference directories.
Status dump_gradients(Session& s, const TrainInfo& info, const std::string& loss_name,
                      const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError(dir + ": cannot create the gradient directory: " + ec.message());
  for (const std::string& out : info.gradient_outputs) {
    TSR_ASSIGN_OR_RETURN(HostTensor g, s.output(out));
    g.name = out.substr(0, out.size() - 5);  // "<w>.grad" -> "<w>"
    TSR_RETURN_IF_ERROR(write_tensor_proto(dir + "/" + tensor_file_name(g.name), g));
  }
  TSR_ASSIGN_OR_RETURN(HostTensor loss, s.output(loss_name));
  loss.name = "loss";
  return write_tensor_proto(dir + "/loss.pb", loss);
}

Status train_all(const std::string& plan_path, const TrainCliOptions& t, const RunCliOptions& o,
                 std::shared_ptr<Comm> comm) {
  planfile::LoadOptions lo;
  lo.verify_hash = o.verify_hash;
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, Plan::load(plan_path, lo));
  const plan::Plan& p = plan->meta();
  TSR_ASSIGN_OR_RETURN(const TrainInfo info, train_info(p, plan_path));
  const int64_t steps = t.steps >= 0 ? t.steps : (t.data.empty() ? 0 : 1);
  TSR_RETURN_IF_ERROR(check_flags(t, info, plan_path, steps));
  std::string source = t.source_model.empty() ? meta_string(p, "source_model") : t.source_model;
  std::error_code ec;
  if (!t.export_onnx.empty() && source.empty())
    return InvalidArgument(plan_path +
                           ": --export-onnx: the plan does not record its source model (meta "
                           "'source_model'); pass --source-model FILE");
  if (!t.export_onnx.empty() && !std::filesystem::is_regular_file(source, ec))
    return NotFound(source + ": --export-onnx: source model not found (pass --source-model FILE)");

  std::vector<std::string> model_inputs;
  for (const auto& b : p.inputs())
    if (b.name() != "labels") model_inputs.push_back(b.name());
  if (static_cast<int>(model_inputs.size()) == p.inputs_size())
    return InvalidArgument(plan_path + ": training plan has no 'labels' input");
  std::string loss_name = p.outputs_size() > 0 ? p.outputs(0).name() : "";
  for (const auto& b : p.outputs())
    if (b.name() == "loss") loss_name = b.name();
  std::vector<std::string> batches;
  if (steps > 0) {
    TSR_ASSIGN_OR_RETURN(batches, list_batches(t.data, static_cast<int>(model_inputs.size())));
  }

  SessionOptions so;
  so.profile = o.profile;
  TSR_ASSIGN_OR_RETURN(so.backend, parse_backend(o.backend));
  TSR_ASSIGN_OR_RETURN(std::unique_ptr<Session> sess, Session::create(plan, comm, so));
  int64_t done = 0;
  if (!t.load_weights.empty()) {
    TSR_ASSIGN_OR_RETURN(done, load_checkpoint(*sess, t.load_weights, info.updates));
  }
  const bool root = comm->rank() == 0;
  for (int64_t k = 0; k < steps; ++k, ++done) {
    // The batch follows the global step, so a resumed run reads what the saved run would have.
    const std::string& batch = batches[static_cast<size_t>(done) % batches.size()];
    TSR_RETURN_IF_ERROR(bind_batch(*sess, batch, model_inputs));
    TSR_RETURN_IF_ERROR(sess->run());
    TSR_ASSIGN_OR_RETURN(HostTensor loss, sess->output(loss_name));
    if (root) TSR_RETURN_IF_ERROR(print_loss(loss, done + 1));
    TSR_RETURN_IF_ERROR(sess->apply_updates());
  }
  if (o.report_memory && steps > 0) {  // the last step's (every step plans the same arena)
    std::printf("rank %d peak_bytes %lld\n", comm->rank(),
                static_cast<long long>(sess->peak_bytes()));
    std::fflush(stdout);
  }
  if (!t.dump_gradients.empty() && root)
    TSR_RETURN_IF_ERROR(dump_gradients(*sess, info, loss_name, t.dump_gradients));
  if (!t.save_weights.empty() || !t.export_onnx.empty()) {
    TSR_ASSIGN_OR_RETURN(std::vector<HostTensor> states, gather_states(*sess, info.updates));
    if (root && !t.save_weights.empty())
      TSR_RETURN_IF_ERROR(save_checkpoint(t.save_weights, states, done));
    if (root && !t.export_onnx.empty()) {
      std::vector<HostTensor> weights;
      for (HostTensor& s : states)
        if (!is_optimizer_state(s.name, info.updates)) weights.push_back(std::move(s));
      TSR_RETURN_IF_ERROR(export_onnx(source, weights, t.export_onnx));
    }
  }
  if (root && o.verbose)
    std::fprintf(stderr, "trained %s for %lld step(s) on %d rank(s), backend %s\n",
                 plan_path.c_str(), static_cast<long long>(steps), comm->size(), sess->backend());
  return Status::Ok();
}

}  // namespace

int run_train_cli(const std::string& plan_path, const TrainCliOptions& train,
                  const RunCliOptions& options) {
  auto comm = comm_from_environment();
  if (!comm.ok()) {
    std::fprintf(stderr, "error: %s\n", comm.status().to_string().c_str());
    return 1;
  }
  std::shared_ptr<Comm> c = *comm;
  Status s = train_all(plan_path, train, options, c);
  if (s.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  // Peers may be blocked in a collective this rank will never join: take the job down.
  if (c->size() > 1) c->abort(1);
  return 1;
}

}  // namespace tessera::runtime
