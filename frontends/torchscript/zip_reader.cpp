#include "frontends/torchscript/zip_reader.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace tessera::ts_fe {
namespace {

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kEocd64Sig = 0x06064b50;
constexpr uint32_t kEocd64LocSig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;

uint64_t le(const std::string& b, uint64_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

// Zip64 extended information (extra field id 1) replaces the 0xFFFFFFFF fields, in order.
void apply_zip64(const std::string& b, uint64_t at, uint64_t len, ZipEntry& e) {
  for (uint64_t p = at; p + 4 <= at + len;) {
    uint64_t id = le(b, p, 2), sz = le(b, p + 2, 2);
    uint64_t q = p + 4, end = q + sz;
    if (id == 1 && end <= at + len) {
      if (e.size == 0xFFFFFFFF && q + 8 <= end) e.size = le(b, q, 8), q += 8;
      if (e.compressed == 0xFFFFFFFF && q + 8 <= end) e.compressed = le(b, q, 8), q += 8;
      if (e.local_offset == 0xFFFFFFFF && q + 8 <= end) e.local_offset = le(b, q, 8);
    }
    p = end;
  }
}

}  // namespace

StatusOr<ZipArchive> ZipArchive::open(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(fmt::format("cannot open '{}'", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return from_bytes(ss.str(), path);
}

StatusOr<ZipArchive> ZipArchive::from_bytes(std::string bytes, const std::string& what) {
  ZipArchive z;
  z.bytes_ = std::move(bytes);
  z.what_ = what;
  TSR_RETURN_IF_ERROR(z.parse_directory());
  return z;
}

Status ZipArchive::parse_directory() {
  const std::string& b = bytes_;
  if (b.size() < 22) return Corrupt(fmt::format("'{}': not a zip archive (too short)", what_));
  // The end-of-central-directory record is in the last 22 + 65535 bytes (comment).
  int64_t eocd = -1;
  for (int64_t p = static_cast<int64_t>(b.size()) - 22; p >= 0 && p + 65557 >= (int64_t)b.size();
       --p) {
    if (le(b, p, 4) == kEocdSig) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) {
    return Corrupt(fmt::format(
        "'{}': not a zip archive or truncated (no end-of-central-directory record)", what_));
  }
  uint64_t count = le(b, eocd + 10, 2), dir_size = le(b, eocd + 12, 4),
           dir_off = le(b, eocd + 16, 4);
  if (eocd >= 20 && le(b, eocd - 20, 4) == kEocd64LocSig) {
    uint64_t e64 = le(b, eocd - 12, 8);
    if (e64 + 56 > b.size() || le(b, e64, 4) != kEocd64Sig) {
      return Corrupt(fmt::format("'{}': bad zip64 end-of-central-directory record", what_));
    }
    count = le(b, e64 + 32, 8), dir_size = le(b, e64 + 40, 8), dir_off = le(b, e64 + 48, 8);
  }
  if (dir_off + dir_size > b.size()) {
    return Corrupt(fmt::format("'{}': truncated zip (central directory past end of file)", what_));
  }
  uint64_t p = dir_off;
  for (uint64_t i = 0; i < count; ++i) {
    if (p + 46 > b.size() || le(b, p, 4) != kCentralSig) {
      return Corrupt(fmt::format("'{}': corrupt zip central directory (entry {})", what_, i));
    }
    ZipEntry e;
    e.method = static_cast<uint16_t>(le(b, p + 10, 2));
    e.compressed = le(b, p + 20, 4);
    e.size = le(b, p + 24, 4);
    uint64_t nlen = le(b, p + 28, 2), xlen = le(b, p + 30, 2), clen = le(b, p + 32, 2);
    e.local_offset = le(b, p + 42, 4);
    if (p + 46 + nlen + xlen + clen > b.size()) {
      return Corrupt(fmt::format("'{}': corrupt zip central directory (entry {})", what_, i));
    }
    std::string name = b.substr(p + 46, nlen);
    apply_zip64(b, p + 46 + nlen, xlen, e);
    entries_[name] = e;
    p += 46 + nlen + xlen + clen;
  }
  return Status::Ok();
}

StatusOr<std::string> ZipArchive::read(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound(fmt::format("'{}': no entry '{}'", what_, name));
  const ZipEntry& e = it->second;
  const std::string& b = bytes_;
  uint64_t h = e.local_offset;
  if (h + 30 > b.size() || le(b, h, 4) != kLocalSig) {
    return Corrupt(fmt::format("'{}': entry '{}': bad local header (truncated zip?)", what_, name));
  }
  uint64_t data = h + 30 + le(b, h + 26, 2) + le(b, h + 28, 2);
  if (data + e.compressed > b.size()) {
    return Corrupt(fmt::format("'{}': entry '{}' is truncated", what_, name));
  }
  if (e.method == 0) return b.substr(data, e.size);
  if (e.method != 8) {
    return Unimplemented(
        fmt::format("'{}': entry '{}' uses zip method {} (only stored and deflate are read)", what_,
                    name, e.method));
  }
  std::string out(e.size, '\0');
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return Internal("zlib inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(b.data() + data));
  zs.avail_in = static_cast<uInt>(e.compressed);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != e.size) {
    return Corrupt(fmt::format("'{}': entry '{}' does not inflate (zlib {})", what_, name, rc));
  }
  return out;
}

}  // namespace tessera::ts_fe
