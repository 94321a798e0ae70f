#include "runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "runner_format.h"

namespace tessera::runner {
namespace {

// Reads exactly `size` bytes at `offset`; pread loops because one call may return fewer.
Status read_at(int fd, uint64_t offset, void* dst, uint64_t size, const std::string& what) {
  auto* p = static_cast<uint8_t*>(dst);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(what + ": read failed: " + std::strerror(errno));
    if (n == 0) return Corrupt(what + ": truncated executable (attached plan cut short)");
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

StatusOr<std::string> self_exe_path() {
  std::vector<char> buf(4096);
  ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n < 0) return IoError(std::string("cannot read /proc/self/exe: ") + std::strerror(errno));
  return std::string(buf.data(), static_cast<size_t>(n));
}

StatusOr<std::shared_ptr<const runtime::Plan>> load_attached_plan(const std::string& exe_path,
                                                                  bool verify_hash) {
  Fd f;
  f.fd = ::open(exe_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return IoError(exe_path + ": cannot open: " + std::strerror(errno));
  const off_t end = ::lseek(f.fd, 0, SEEK_END);
  if (end < 0) return IoError(exe_path + ": cannot seek: " + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(end);
  uint8_t raw[kTrailerSize];
  Trailer t;
  if (size < kTrailerSize ||
      !read_at(f.fd, size - kTrailerSize, raw, kTrailerSize, exe_path).ok() ||
      !decode_trailer(raw, &t))
    return NotFound(exe_path +
                    ": no plan attached to this runner (make one with `tessera compile MODEL "
                    "--emit executable -o model.bin`)");
  planfile::LoadOptions lo;
  lo.verify_hash = verify_hash;
  if (t.flags & kFlagSidecar) {
    const std::string sidecar = exe_path + kSidecarSuffix + "/" + kSidecarPlanName;
    auto plan = runtime::Plan::load(sidecar, lo);
    if (!plan.ok() && plan.status().code() == Code::kNotFound)
      return NotFound(exe_path + ": its plan lives in the sidecar '" + sidecar +
                      "', which is missing (copy the .d directory beside the executable)");
    return plan;
  }
  if (t.plan_offset > size - kTrailerSize || t.plan_size > size - kTrailerSize - t.plan_offset)
    return Corrupt(exe_path + ": corrupted executable (trailer points past the end of the file)");
  // One copy into memory: PlanFile maps whole files only. Bounded by kMaxEmbeddedPlanBytes.
  std::vector<uint8_t> bytes(t.plan_size);
  TSR_RETURN_IF_ERROR(read_at(f.fd, t.plan_offset, bytes.data(), t.plan_size, exe_path));
  TSR_ASSIGN_OR_RETURN(
      std::unique_ptr<planfile::PlanFile> pf,
      planfile::PlanFile::from_bytes(std::move(bytes), exe_path + " (attached plan)", lo));
  return runtime::Plan::from_file(std::move(pf));
}

}  // namespace tessera::runner
