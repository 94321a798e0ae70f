// Plan file writer and loader. Layout and rationale: docs/plan-format.md.
#include "tessera/plan_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "plan files are little-endian");

namespace tessera::planfile {
namespace {

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t get_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Header field offsets; bytes 56..63 are reserved (zero).
enum : size_t {
  kOffVersion = 8,
  kOffHeaderSize = 12,
  kOffMeta = 16,
  kOffMetaSize = 24,
  kOffData = 32,
  kOffDataSize = 40,
  kOffHash = 48
};

// Deterministic serialization: protobuf's flag sorts map entries; we use no maps, but the
// flag keeps that true if someone adds one.
StatusOr<std::string> serialize_meta(const plan::Plan& p) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    if (!p.SerializeToCodedStream(&cos)) return Internal("plan metadata failed to serialize");
  }
  return out;
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

StatusOr<std::vector<uint8_t>> serialize(plan::Plan plan, const std::vector<WeightBlob>& weights) {
  plan.clear_weights();
  uint64_t cursor = 0;
  for (const WeightBlob& w : weights) {
    plan::WeightSection* s = plan.add_weights();
    s->set_tensor(w.tensor);
    s->set_rank(w.rank);
    s->set_offset(cursor);
    s->set_size(w.bytes.size());
    cursor = align_up(cursor + w.bytes.size(), kSectionAlign);
  }
  TSR_RETURN_IF_ERROR(validate_plan(plan, cursor, "plan being written"));
  TSR_ASSIGN_OR_RETURN(std::string meta, serialize_meta(plan));
  const uint64_t data_offset = align_up(kHeaderSize + meta.size(), kSectionAlign);
  const uint64_t data_size =
      plan.weights().empty() ? 0
                             : plan.weights().rbegin()->offset() + plan.weights().rbegin()->size();
  std::vector<uint8_t> file(data_offset + data_size, 0);
  std::memcpy(file.data() + kHeaderSize, meta.data(), meta.size());
  for (int i = 0; i < plan.weights_size(); ++i) {
    const auto& bytes = weights[i].bytes;
    if (!bytes.empty())
      std::memcpy(file.data() + data_offset + plan.weights(i).offset(), bytes.data(), bytes.size());
  }
  uint64_t hash = fnv1a64(meta.data(), meta.size());
  hash = fnv1a64(file.data() + data_offset, data_size, hash);
  uint8_t* h = file.data();
  std::memcpy(h, kMagic, 8);
  put_u32(h + kOffVersion, kFormatVersion);
  put_u32(h + kOffHeaderSize, kHeaderSize);
  put_u64(h + kOffMeta, kHeaderSize);
  put_u64(h + kOffMetaSize, meta.size());
  put_u64(h + kOffData, data_offset);
  put_u64(h + kOffDataSize, data_size);
  put_u64(h + kOffHash, hash);
  return file;
}

Status write_file(const std::string& path, const plan::Plan& plan,
                  const std::vector<WeightBlob>& weights) {
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serialize(plan, weights));
  // Write beside the target, then rename: a reader never sees half a plan.
  const std::string tmp = path + ".tmp";
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  if (!f) return IoError(path + ": cannot open for writing: " + std::strerror(errno));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return IoError(path + ": write failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return IoError(path + ": rename failed: " + std::strerror(errno));
  return Status::Ok();
}

PlanFile::~PlanFile() {
  if (mapping_) munmap(mapping_, size_);
}

StatusOr<std::unique_ptr<PlanFile>> PlanFile::open(const std::string& path,
                                                   const LoadOptions& opts) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + ": no such plan file");
    return IoError(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError(path + ": not a regular file");
  }
  std::unique_ptr<PlanFile> pf(new PlanFile());
  pf->path_ = path;
  pf->size_ = static_cast<uint64_t>(st.st_size);
  if (pf->size_ > 0) {
    // Read-only private mapping: weights are paged in on demand, shared with other sessions.
    void* m = mmap(nullptr, pf->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      return IoError(path + ": mmap failed: " + std::strerror(errno));
    }
    pf->mapping_ = m;
    pf->base_ = static_cast<const uint8_t*>(m);
  }
  ::close(fd);
  TSR_RETURN_IF_ERROR(pf->init(path, opts));
  return pf;
}

StatusOr<std::unique_ptr<PlanFile>> PlanFile::from_bytes(std::vector<uint8_t> bytes,
                                                         const std::string& what,
                                                         const LoadOptions& opts) {
  std::unique_ptr<PlanFile> pf(new PlanFile());
  pf->path_ = what;
  pf->owned_ = std::move(bytes);
  pf->base_ = pf->owned_.data();
  pf->size_ = pf->owned_.size();
  TSR_RETURN_IF_ERROR(pf->init(what, opts));
  return pf;
}

Status PlanFile::init(const std::string& what, const LoadOptions& opts) {
  if (size_ < 8 || std::memcmp(base_, kMagic, 8) != 0) {
    if (size_ < 8 && (size_ == 0 || std::memcmp(base_, kMagic, size_) == 0))
      return Corrupt(what + ": truncated: " + std::to_string(size_) + " bytes, header needs 64");
    return Corrupt(what + ": not a tessera plan (bad magic; expected \"TSRPLAN1\")");
  }
  if (size_ < kHeaderSize)
    return Corrupt(what + ": truncated: " + std::to_string(size_) + " bytes, header needs 64");
  Header& h = header_;
  h.format_version = get_u32(base_ + kOffVersion);
  if (h.format_version != kFormatVersion)
    return Status(Code::kVersion, what + ": plan format version " +
                                      std::to_string(h.format_version) +
                                      "; this runtime reads "
                                      "version " +
                                      std::to_string(kFormatVersion));
  h.header_size = get_u32(base_ + kOffHeaderSize);
  h.meta_offset = get_u64(base_ + kOffMeta);
  h.meta_size = get_u64(base_ + kOffMetaSize);
  h.data_offset = get_u64(base_ + kOffData);
  h.data_size = get_u64(base_ + kOffDataSize);
  h.content_hash = get_u64(base_ + kOffHash);
  if (h.header_size < kHeaderSize || h.meta_offset < h.header_size)
    return Corrupt(what + ": bad header (header_size " + std::to_string(h.header_size) + ")");
  // Overflow-safe range checks: compare against what remains rather than adding.
  if (h.meta_offset > size_ || h.meta_size > size_ - h.meta_offset || h.data_offset > size_ ||
      h.data_size > size_ - h.data_offset)
    return Corrupt(
        what + ": truncated: file is " + std::to_string(size_) +
        " bytes but the header describes sections up to " +
        std::to_string(std::max(h.meta_offset + h.meta_size, h.data_offset + h.data_size)));
  if (h.data_offset % kSectionAlign != 0 || h.data_offset < h.meta_offset + h.meta_size)
    return Corrupt(what + ": bad header (data section at " + std::to_string(h.data_offset) + ")");
  if (opts.verify_hash) {
    uint64_t got = fnv1a64(base_ + h.meta_offset, h.meta_size);
    got = fnv1a64(base_ + h.data_offset, h.data_size, got);
    if (got != h.content_hash)
      return Corrupt(what + ": content hash mismatch (file corrupted or modified)");
  }
  if (h.meta_size > static_cast<uint64_t>(INT32_MAX))
    return Corrupt(what + ": plan metadata larger than 2 GiB");
  if (!plan_.ParseFromArray(base_ + h.meta_offset, static_cast<int>(h.meta_size)))
    return Corrupt(what + ": plan metadata does not parse");
  data_ = base_ + h.data_offset;
  return validate_plan(plan_, h.data_size, what);
}

}  // namespace tessera::planfile
