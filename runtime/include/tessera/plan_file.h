// The plan file container (docs/plan-format.md): a fixed 64-byte header, the serialized
// tessera.plan.Plan, then 4096-aligned weight sections. Writing is deterministic (same input,
// same bytes); loading validates the header, the content hash and the plan's internal references
// before anything else looks at it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plan.pb.h"
#include "tessera/status.h"

namespace tessera::planfile {

constexpr char kMagic[8] = {'T', 'S', 'R', 'P', 'L', 'A', 'N', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kHeaderSize = 64;
constexpr uint64_t kSectionAlign = 4096;

struct Header {
  uint32_t format_version = kFormatVersion;
  uint32_t header_size = kHeaderSize;
  uint64_t meta_offset = 0;
  uint64_t meta_size = 0;
  uint64_t data_offset = 0;  // multiple of kSectionAlign
  uint64_t data_size = 0;
  uint64_t content_hash = 0;  // FNV-1a 64 over metadata bytes, then data bytes
};

// One weight section to write: which tensor, for which rank (-1 = all), and its bytes. The
// writer assigns offsets; offset/size in the plan's own `weights` list are overwritten.
struct WeightBlob {
  int32_t tensor = 0;
  int32_t rank = -1;
  std::vector<uint8_t> bytes;
};

// FNV-1a 64; `seed` chains several buffers. About 1 GB/s: a load option can skip it.
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
uint64_t fnv1a64(const void* data, size_t size, uint64_t seed = kFnvOffset);

// The whole file in memory (the writer builds it; tests corrupt it).
StatusOr<std::vector<uint8_t>> serialize(plan::Plan plan, const std::vector<WeightBlob>& weights);
Status write_file(const std::string& path, const plan::Plan& plan,
                  const std::vector<WeightBlob>& weights);

struct LoadOptions {
  bool verify_hash = true;  // costs one pass over the file
};

// A validated, read-only plan file; the data section stays mapped as long as this lives.
class PlanFile {
 public:
  static StatusOr<std::unique_ptr<PlanFile>> open(const std::string& path,
                                                  const LoadOptions& opts = {});
  // Same checks on bytes already in memory (`what` names them in errors).
  static StatusOr<std::unique_ptr<PlanFile>> from_bytes(std::vector<uint8_t> bytes,
                                                        const std::string& what,
                                                        const LoadOptions& opts = {});
  ~PlanFile();
  PlanFile(const PlanFile&) = delete;
  PlanFile& operator=(const PlanFile&) = delete;

  const plan::Plan& plan() const { return plan_; }
  const Header& header() const { return header_; }
  const std::string& path() const { return path_; }
  // Bytes of one weight section (already range-checked at load).
  const uint8_t* section_data(const plan::WeightSection& s) const { return data_ + s.offset(); }

 private:
  PlanFile() = default;
  Status init(const std::string& what, const LoadOptions& opts);

  std::string path_;
  Header header_;
  plan::Plan plan_;
  const uint8_t* base_ = nullptr;  // whole file
  uint64_t size_ = 0;
  const uint8_t* data_ = nullptr;  // data section
  void* mapping_ = nullptr;        // mmap'd region, or null when owned_ holds the bytes
  std::vector<uint8_t> owned_;
};

// Checks every id, range and size inside a parsed plan; `what` prefixes messages.
Status validate_plan(const plan::Plan& p, uint64_t data_size, const std::string& what);

// True when instruction `ins` is a reshape-like op (tessera/reshape_ops.h) whose output the
// compiler planned onto its input: both ARENA, same offset, same nbytes (docs/plan-format.md,
// "Arena aliasing"). The kernel then has nothing to copy. Ids must be valid (validate_plan).
bool is_arena_alias(const plan::Plan& p, const plan::Instruction& ins);
// Per tensor id: the tensor whose arena bytes it shares through such instructions (the first
// of a chain), itself otherwise. For tools that sum live bytes: count each buffer once.
std::vector<int> arena_alias_roots(const plan::Plan& p);

}  // namespace tessera::planfile
