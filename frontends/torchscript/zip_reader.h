// A read-only zip reader for TorchScript archives: central directory (with zip64 sizes and
// offsets), stored and deflate entries (zlib). The whole file is read into memory once; archives
// of traced models are small next to the graphs we compile, and entries are then plain slices.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::ts_fe {

struct ZipEntry {
  uint16_t method = 0;  // 0 stored, 8 deflate
  uint64_t compressed = 0;
  uint64_t size = 0;
  uint64_t local_offset = 0;  // of the local file header
};

class ZipArchive {
 public:
  // Errors name the file and what is wrong (not a zip, truncated, bad directory).
  static StatusOr<ZipArchive> open(const std::string& path);
  static StatusOr<ZipArchive> from_bytes(std::string bytes, const std::string& what);

  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  // The entry's uncompressed bytes; NotFound when absent, Corrupt when it does not inflate.
  StatusOr<std::string> read(const std::string& name) const;
  const std::map<std::string, ZipEntry>& entries() const { return entries_; }
  const std::string& what() const { return what_; }

 private:
  Status parse_directory();
  std::string bytes_;
  std::string what_;
  std::map<std::string, ZipEntry> entries_;
};

}  // namespace tessera::ts_fe
