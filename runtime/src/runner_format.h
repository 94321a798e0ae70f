// Layout of a self-contained executable (`tessera compile --emit executable`):
//
//   [tessera-runner ELF][zero pad to 4096][plan file bytes][32-byte trailer]     (embedded)
//   [tessera-runner ELF][32-byte trailer]  +  <exe>.d/plan.tsr                   (sidecar)
//
// The ELF loader ignores bytes past the program headers, so appending keeps the binary runnable;
// the runner reads its own tail through /proc/self/exe. The plan starts on a page boundary so a
// future loader can mmap it in place. Plans above kMaxEmbeddedPlanBytes go to a sidecar
// directory: multi-GiB executables upset copy tools and page caches, and the embedded plan is
// read into memory (one copy per rank), while a sidecar plan is mmap'd like a plain plan file.
#pragma once
#include <cstdint>
#include <cstring>

namespace tessera::runner {

constexpr char kTrailerMagic[8] = {'T', 'S', 'R', 'E', 'X', 'E', 'C', '1'};
constexpr uint64_t kTrailerSize = 32;
constexpr uint64_t kPlanAlign = 4096;
constexpr uint64_t kMaxEmbeddedPlanBytes = 2ull << 30;  // 2 GiB
constexpr uint64_t kFlagSidecar = 1;                    // plan lives in <exe>.d/plan.tsr
constexpr const char* kSidecarSuffix = ".d";
constexpr const char* kSidecarPlanName = "plan.tsr";

// Little-endian on disk: magic, plan offset, plan size, flags.
struct Trailer {
  uint64_t plan_offset = 0;
  uint64_t plan_size = 0;
  uint64_t flags = 0;
};

inline void encode_trailer(const Trailer& t, uint8_t out[kTrailerSize]) {
  std::memcpy(out, kTrailerMagic, 8);
  std::memcpy(out + 8, &t.plan_offset, 8);
  std::memcpy(out + 16, &t.plan_size, 8);
  std::memcpy(out + 24, &t.flags, 8);
}

// False when the bytes do not start with the magic (no plan attached).
inline bool decode_trailer(const uint8_t in[kTrailerSize], Trailer* t) {
  if (std::memcmp(in, kTrailerMagic, 8) != 0) return false;
  std::memcpy(&t->plan_offset, in + 8, 8);
  std::memcpy(&t->plan_size, in + 16, 8);
  std::memcpy(&t->flags, in + 24, 8);
  return true;
}

}  // namespace tessera::runner
