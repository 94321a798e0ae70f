// tessera-runner: the program inside every `--emit executable` binary. It runs the plan attached
// to its own file (runner_format.h) exactly like `tessera run PLAN`:
//
//   ./model.bin --inputs DIR --output-dir DIR            one rank
//   mpirun -np 4 ./model.bin --inputs DIR --output-dir DIR
//   srun -n 4 --mpi=pmix ./model.bin --inputs DIR --output-dir DIR
//
// Every failure prints one line `error: ...` and exits non-zero; a failing rank aborts the job.
#include <cstdio>
#include <cstring>
#include <string>

#include "run_cli.h"
#include "runner.h"

namespace {

const char kUsage[] =
    "usage: %s --inputs DIR --output-dir DIR [-v] [--profile] [--no-verify-hash]\n"
    "Runs the compiled plan attached to this executable. Input i is DIR/input_i.pb (an ONNX\n"
    "TensorProto); output i is written to OUTDIR/output_i.pb by rank 0. Launch one process per\n"
    "rank with mpirun -np N or srun -n N --mpi=pmix; N must equal the plan's mesh size.\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return 2;
}

// The CPU backend moves data through MPI, which torchrun does not start; without this check
// MPI would come up as a singleton and the launcher-size check would report a confusing 1-of-N.
tessera::Status check_torchrun_alone() {
  const tessera::runtime::LauncherInfo li = tessera::runtime::detect_launcher();
  if (li.name != "torchrun" || li.world <= 1) return tessera::Status::Ok();
  const std::string n = std::to_string(li.world);
  return tessera::Status(tessera::Code::kComm,
                         "torchrun-style variables say WORLD_SIZE=" + n +
                             ", but the CPU backend exchanges data through MPI, which needs an "
                             "MPI/PMIx launcher: use `mpirun -np " +
                             n + "` or `srun -n " + n + " --mpi=pmix`");
}

}  // namespace

int main(int argc, char** argv) {
  std::string inputs, outdir;
  tessera::runtime::RunCliOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "-h" || a == "--help") {
      std::printf(kUsage, argv[0]);
      return 0;
    } else if (a == "--inputs" && has_value) {
      inputs = argv[++i];
    } else if (a == "--output-dir" && has_value) {
      outdir = argv[++i];
    } else if (a == "-v" || a == "--verbose") {
      o.verbose = true;
    } else if (a == "--profile") {
      o.profile = true;
    } else if (a == "--no-verify-hash") {
      o.verify_hash = false;
    } else {
      return fail("unknown or incomplete argument '" + a + "' (see --help)");
    }
  }
  if (inputs.empty() || outdir.empty()) return fail("--inputs and --output-dir are required");
  tessera::Status s = check_torchrun_alone();
  if (!s.ok()) return fail(s.to_string());
  auto exe = tessera::runner::self_exe_path();
  if (!exe.ok()) return fail(exe.status().to_string());
  const std::string path = *exe;
  auto load = [&path](bool verify_hash) {
    return tessera::runner::load_attached_plan(path, verify_hash);
  };
  return tessera::runtime::run_plan_cli(load, path, inputs, outdir, o);
}
