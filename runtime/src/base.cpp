#include <cstdio>

#include "tessera/attr.h"
#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera {

const char* code_name(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kIo: return "i/o error";
    case Code::kCorrupt: return "corrupt";
    case Code::kVersion: return "version mismatch";
    case Code::kUnimplemented: return "unimplemented";
    case Code::kComm: return "communication error";
    case Code::kOutOfMemory: return "out of memory";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "";
  return std::string(code_name(code_)) + ": " + message_;
}

int64_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: case DType::kInt32: case DType::kUInt32: return 4;
    case DType::kFloat64: case DType::kInt64: case DType::kUInt64: return 8;
    case DType::kFloat16: case DType::kBFloat16: case DType::kInt16: case DType::kUInt16: return 2;
    case DType::kInt8: case DType::kUInt8: case DType::kBool: return 1;
    default: return 0;
  }
}

namespace {
struct DTypeName {
  DType t;
  const char* name;
};
constexpr DTypeName kNames[] = {
    {DType::kFloat32, "f32"}, {DType::kUInt8, "u8"},    {DType::kInt8, "i8"},
    {DType::kUInt16, "u16"},  {DType::kInt16, "i16"},   {DType::kInt32, "i32"},
    {DType::kInt64, "i64"},   {DType::kString, "str"},  {DType::kBool, "i1"},
    {DType::kFloat16, "f16"}, {DType::kFloat64, "f64"}, {DType::kUInt32, "u32"},
    {DType::kUInt64, "u64"},  {DType::kBFloat16, "bf16"},
};
}  // namespace

const char* dtype_name(DType t) {
  for (const auto& n : kNames)
    if (n.t == t) return n.name;
  return "?";
}

DType dtype_from_name(const std::string& name) {
  for (const auto& n : kNames)
    if (name == n.name) return n.t;
  return DType::kUndefined;
}

bool dtype_is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 ||
         t == DType::kBFloat16;
}

int64_t num_elements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  if (s.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

bool Attr::operator==(const Attr& o) const {
  return kind == o.kind && i == o.i && f == o.f && s == o.s && ints == o.ints &&
         floats == o.floats && strings == o.strings;
}

int64_t attr_int(const AttrMap& m, const std::string& k, int64_t dflt) {
  auto it = m.find(k);
  return it != m.end() && it->second.kind == Attr::kInt ? it->second.i : dflt;
}
double attr_float(const AttrMap& m, const std::string& k, double dflt) {
  auto it = m.find(k);
  if (it == m.end()) return dflt;
  if (it->second.kind == Attr::kFloat) return it->second.f;
  if (it->second.kind == Attr::kInt) return static_cast<double>(it->second.i);
  return dflt;
}
std::string attr_str(const AttrMap& m, const std::string& k, const std::string& dflt) {
  auto it = m.find(k);
  return it != m.end() && it->second.kind == Attr::kString ? it->second.s : dflt;
}
std::vector<int64_t> attr_ints(const AttrMap& m, const std::string& k,
                               const std::vector<int64_t>& dflt) {
  auto it = m.find(k);
  return it != m.end() && it->second.kind == Attr::kInts ? it->second.ints : dflt;
}
std::vector<double> attr_floats(const AttrMap& m, const std::string& k,
                                const std::vector<double>& dflt) {
  auto it = m.find(k);
  return it != m.end() && it->second.kind == Attr::kFloats ? it->second.floats : dflt;
}
std::vector<std::string> attr_strs(const AttrMap& m, const std::string& k) {
  auto it = m.find(k);
  return it != m.end() && it->second.kind == Attr::kStrings ? it->second.strings
                                                             : std::vector<std::string>{};
}
bool attr_has(const AttrMap& m, const std::string& k) { return m.count(k) != 0; }

}  // namespace tessera
