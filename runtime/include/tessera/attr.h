// Op attributes as carried from the frontend through the IR into plans and kernels.
// Ordered map: iteration order is part of plan determinism.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

struct Attr {
  enum Kind { kInt, kFloat, kString, kInts, kFloats, kStrings };
  Kind kind = kInt;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  static Attr Int(int64_t v) { Attr a; a.kind = kInt; a.i = v; return a; }
  static Attr Float(double v) { Attr a; a.kind = kFloat; a.f = v; return a; }
  static Attr Str(std::string v) { Attr a; a.kind = kString; a.s = std::move(v); return a; }
  static Attr Ints(std::vector<int64_t> v) { Attr a; a.kind = kInts; a.ints = std::move(v); return a; }
  static Attr Floats(std::vector<double> v) { Attr a; a.kind = kFloats; a.floats = std::move(v); return a; }
  static Attr Strs(std::vector<std::string> v) { Attr a; a.kind = kStrings; a.strings = std::move(v); return a; }
  bool operator==(const Attr& o) const;
};

using AttrMap = std::map<std::string, Attr>;

// Lookups with defaults; a present attribute of the wrong kind yields the default
// (the frontend validates kinds, so kernels can stay terse).
int64_t attr_int(const AttrMap& m, const std::string& k, int64_t dflt);
double attr_float(const AttrMap& m, const std::string& k, double dflt);
std::string attr_str(const AttrMap& m, const std::string& k, const std::string& dflt);
std::vector<int64_t> attr_ints(const AttrMap& m, const std::string& k,
                               const std::vector<int64_t>& dflt = {});
std::vector<double> attr_floats(const AttrMap& m, const std::string& k,
                                const std::vector<double>& dflt = {});
std::vector<std::string> attr_strs(const AttrMap& m, const std::string& k);
bool attr_has(const AttrMap& m, const std::string& k);

}  // namespace tessera
