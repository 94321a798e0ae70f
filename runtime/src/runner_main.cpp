// tessera-runner: the program inside every `--emit executable` binary. It runs the plan attached
// to its own file (runner_format.h) exactly like `tessera run PLAN`:
//
//   ./model.bin --inputs DIR --output-dir DIR            one rank
//   mpirun -np 4 ./model.bin --inputs DIR --output-dir DIR
//   srun -n 4 --mpi=pmix ./model.bin --inputs DIR --output-dir DIR
//   RANK=r WORLD_SIZE=4 MASTER_ADDR=host MASTER_PORT=port ./model.bin ...   (torchrun-style)
//
// Every failure prints one line `error: ...` and exits non-zero; a failing rank aborts the job.
#include <cstdio>
#include <cstring>
#include <string>

#include "run_cli.h"
#include "runner.h"

namespace {

const char kUsage[] =
    "usage: %s --inputs DIR --output-dir DIR [--backend cpu|cuda|auto] [-v] [--profile]\n"
    "          [--no-verify-hash]\n"
    "Runs the compiled plan attached to this executable. Input i is DIR/input_i.pb (an ONNX\n"
    "TensorProto); output i is written to OUTDIR/output_i.pb by rank 0. Launch one process per\n"
    "rank with mpirun -np N, srun -n N --mpi=pmix, or torchrun-style variables (RANK,\n"
    "WORLD_SIZE, MASTER_ADDR, MASTER_PORT: TCP collectives); N must equal the plan's mesh size.\n"
    "--backend (default cpu): cuda runs rank r on GPU (local rank mod visible GPUs); auto\n"
    "picks cuda when this build has it and a GPU is visible.\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return 2;
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
    } else if (a == "--backend" && has_value) {
      o.backend = argv[++i];
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
  auto backend = tessera::runtime::parse_backend(o.backend);
  if (!backend.ok()) return fail("--backend: " + backend.status().message());
  auto exe = tessera::runner::self_exe_path();
  if (!exe.ok()) return fail(exe.status().to_string());
  const std::string path = *exe;
  auto load = [&path](bool verify_hash) {
    return tessera::runner::load_attached_plan(path, verify_hash);
  };
  return tessera::runtime::run_plan_cli(load, path, inputs, outdir, o);
}
