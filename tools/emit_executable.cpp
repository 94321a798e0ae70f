#include "emit_executable.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "runner_format.h"
#include "tessera/plan_file.h"

namespace tessera::tools {
namespace {

namespace fs = std::filesystem;
using runner::kTrailerSize;

StatusOr<std::vector<uint8_t>> read_all(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(std::string(what) + " '" + path + "' not found or unreadable");
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return IoError(std::string(what) + " '" + path + "': read failed");
  return b;
}

Status check_runner(const std::vector<uint8_t>& r, const std::string& path) {
  static const uint8_t kElf[4] = {0x7f, 'E', 'L', 'F'};
  if (r.size() < 64 || std::memcmp(r.data(), kElf, 4) != 0)
    return InvalidArgument("runner '" + path + "' is not an ELF executable (expected " +
                           "build/bin/tessera-runner)");
  runner::Trailer t;
  if (runner::decode_trailer(r.data() + r.size() - kTrailerSize, &t))
    return InvalidArgument("runner '" + path + "' already carries a plan; use the plain " +
                           "tessera-runner");
  return Status::Ok();
}

// Copies `path` into a stream in 1 MiB pieces: sidecar plans may be larger than memory allows.
Status append_file(std::ofstream& out, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("plan '" + path + "' not found or unreadable");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    out.write(buf.data(), in.gcount());
  }
  return in.bad() ? IoError("plan '" + path + "': read failed") : Status::Ok();
}

Status finish(std::ofstream& out, const std::string& tmp, const std::string& dst) {
  out.close();
  if (!out) return IoError("'" + dst + "': write failed (disk full?)");
  if (::chmod(tmp.c_str(), 0755) != 0)
    return IoError("'" + dst + "': chmod failed: " + std::strerror(errno));
  std::error_code ec;
  fs::rename(tmp, dst, ec);
  if (ec) return IoError("'" + dst + "': rename failed: " + ec.message());
  return Status::Ok();
}

}  // namespace

Status emit_executable(const std::string& plan_path, const std::string& runner_path,
                       const std::string& out_path, const EmitExecutableOptions& options) {
  // Opening validates header, hash and references: never package a plan that cannot load.
  TSR_RETURN_IF_ERROR(planfile::PlanFile::open(plan_path).status());
  std::error_code ec;
  const uint64_t plan_size = fs::file_size(plan_path, ec);
  if (ec) return IoError("plan '" + plan_path + "': " + ec.message());
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> runner_bytes, read_all(runner_path, "runner"));
  TSR_RETURN_IF_ERROR(check_runner(runner_bytes, runner_path));

  const bool sidecar = plan_size > options.max_embedded_bytes;
  const std::string sidecar_dir = out_path + runner::kSidecarSuffix;
  fs::remove_all(sidecar_dir, ec);  // a stale sidecar would shadow nothing, but confuses people
  const std::string tmp = out_path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return IoError("'" + out_path + "': cannot open for writing: " + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(runner_bytes.data()),
            static_cast<std::streamsize>(runner_bytes.size()));
  runner::Trailer t;
  if (sidecar) {
    t.flags = runner::kFlagSidecar;
    fs::create_directories(sidecar_dir, ec);
    if (ec) return IoError("cannot create sidecar '" + sidecar_dir + "': " + ec.message());
    const std::string dst = sidecar_dir + "/" + runner::kSidecarPlanName;
    fs::copy_file(plan_path, dst, fs::copy_options::overwrite_existing, ec);
    if (ec) return IoError("cannot copy plan to '" + dst + "': " + ec.message());
  } else {
    const uint64_t pad =
        (runner::kPlanAlign - runner_bytes.size() % runner::kPlanAlign) % runner::kPlanAlign;
    out.write(std::string(pad, '\0').data(), static_cast<std::streamsize>(pad));
    t.plan_offset = runner_bytes.size() + pad;
    t.plan_size = plan_size;
    TSR_RETURN_IF_ERROR(append_file(out, plan_path));
  }
  uint8_t raw[kTrailerSize];
  runner::encode_trailer(t, raw);
  out.write(reinterpret_cast<const char*>(raw), kTrailerSize);
  return finish(out, tmp, out_path);
}

std::string default_runner_path() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "tessera-runner";
  return (self.parent_path() / "tessera-runner").string();
}

}  // namespace tessera::tools
