// Archive: code/ sources (parsed on first use) and their .debug_pkl source ranges.
#include <fmt/format.h>

#include <algorithm>

#include "frontends/torchscript/archive.h"

namespace tessera::ts_fe {
namespace {

// The frame to show: traced ranges hold the tracer's Python stack, innermost first; the first
// frame outside torch's own files is where the user's model called the op.
std::string pick_frame(const std::string& text) {
  std::string first;
  size_t p = 0;
  while (p < text.size()) {
    size_t nl = text.find('\n', p);
    std::string line = text.substr(p, nl == std::string::npos ? std::string::npos : nl - p);
    p = nl == std::string::npos ? text.size() : nl + 1;
    if (line.empty()) continue;
    if (first.empty()) first = line;
    if (line.find("/torch/") == std::string::npos) return line;
  }
  return first;
}

// One range's source: (text, filename, line) where text is a string (torch 1.x) or a list of
// string-table ids (FORMAT_WITH_STRING_TABLE, torch 2.x).
std::string range_text(const PyRef& src, const std::vector<PyRef>& table) {
  if (!src || src->kind != PyObj::kTuple || src->items.empty()) return "";
  const PyRef& t = src->items[0];
  if (t->kind == PyObj::kStr) return pick_frame(t->s);
  std::string s;
  for (const PyRef& id : t->items) {
    if (id->kind == PyObj::kInt && id->i >= 0 && id->i < static_cast<int64_t>(table.size())) {
      s += table[id->i]->s;
    }
  }
  return pick_frame(s);
}

DebugInfo parse_debug(const PyRef& p) {
  DebugInfo d;
  if (!p || p->kind != PyObj::kTuple) return d;
  std::vector<PyRef> table;
  size_t first = 0;
  if (p->items.size() >= 2 && p->items[0]->is_str("FORMAT_WITH_STRING_TABLE")) {
    table = p->items[1]->items;
    first = 2;
  }
  for (size_t k = first; k < p->items.size(); ++k) {
    const PyRef& list = p->items[k];
    auto add = [&](const PyRef& e) {  // (offset, (source, start, end)[, handle])
      if (e->kind != PyObj::kTuple || e->items.size() < 2 || e->items[0]->kind != PyObj::kInt)
        return;
      const PyRef& r = e->items[1];
      if (r->kind != PyObj::kTuple || r->items.empty()) return;
      d.ranges.emplace_back(static_cast<size_t>(e->items[0]->i), range_text(r->items[0], table));
    };
    if (list->kind == PyObj::kTuple && !list->items.empty() &&
        list->items[0]->kind == PyObj::kInt) {
      add(list);
    } else {
      for (const PyRef& e : list->items) add(e);
    }
  }
  std::stable_sort(d.ranges.begin(), d.ranges.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return d;
}

}  // namespace

std::string DebugInfo::at(size_t offset) const {
  std::string best;
  for (const auto& [off, text] : ranges) {
    if (off > offset) break;
    if (!text.empty()) best = text;
  }
  return best;
}

StatusOr<const ClassDef*> Archive::find_class(const std::string& qualname, std::string* file) {
  size_t dot = qualname.rfind('.');
  if (qualname.rfind("__torch__", 0) != 0 || dot == std::string::npos) {
    return InvalidArgument(
        fmt::format("'{}': object of class '{}' is not a TorchScript module", path(), qualname));
  }
  std::string mod = qualname.substr(0, dot), cls = qualname.substr(dot + 1);
  std::replace(mod.begin(), mod.end(), '.', '/');
  std::string rel = "code/" + mod + ".py";
  auto& src = sources_[rel];
  if (!src) {
    auto text = zip_.read(entry(rel));
    if (!text.ok()) {
      return Corrupt(
          fmt::format("'{}': class {} has no source ({} missing)", path(), qualname, rel));
    }
    TSR_ASSIGN_OR_RETURN(SourceFile f, parse_source(*text, rel));
    src = std::make_unique<SourceFile>(std::move(f));
  }
  if (file) *file = rel;
  const ClassDef* c = src->find_class(cls);
  if (!c) return Corrupt(fmt::format("'{}': {} defines no class {}", path(), rel, cls));
  return c;
}

std::string Archive::location(const std::string& file, size_t offset, int line) {
  auto& d = debug_[file];
  if (!d) {
    d = std::make_unique<DebugInfo>();
    auto bytes = zip_.read(entry(file + ".debug_pkl"));
    if (bytes.ok()) {
      auto p = unpickle(*bytes, file + ".debug_pkl");
      if (p.ok()) *d = parse_debug(*p);  // debug info is optional: ignore a bad one
    }
  }
  std::string origin = d->at(offset);
  std::string loc = fmt::format("{}:{}", file, line);
  return origin.empty() ? loc : fmt::format("{}, traced at {}", loc, origin);
}

}  // namespace tessera::ts_fe
