#include "frontends/torchscript/archive.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace tessera::ts_fe {
namespace {

// caffe2::serialize accepts file format versions 1..10 (kMin/kMaxSupportedFileFormatVersion).
constexpr int kMinVersion = 1, kMaxVersion = 10;

// The archive's entries share one top-level folder (the name given to torch.jit.save).
StatusOr<std::string> find_prefix(const ZipArchive& z) {
  for (const auto& [name, e] : z.entries()) {
    size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    std::string p = name.substr(0, slash + 1);
    if (z.has(p + "data.pkl")) return p;
  }
  if (z.has("data.pkl")) return std::string();
  for (const auto& [name, e] : z.entries()) {
    if (name.find("archive_format") != std::string::npos ||
        name.find("models/model.json") != std::string::npos) {
      return InvalidArgument(fmt::format(
          "'{}' is a torch.export (.pt2) archive, not TorchScript; save the module with "
          "torch.jit.save(torch.jit.trace(m, x)) or export it to ONNX",
          z.what()));
    }
  }
  return Corrupt(fmt::format("'{}': not a TorchScript archive (no data.pkl entry)", z.what()));
}

}  // namespace

StatusOr<std::unique_ptr<Archive>> Archive::open(const std::string& path) {
  TSR_ASSIGN_OR_RETURN(ZipArchive z, ZipArchive::open(path));
  return from_zip(std::move(z));
}

StatusOr<std::unique_ptr<Archive>> Archive::from_zip(ZipArchive zip) {
  std::unique_ptr<Archive> a(new Archive(std::move(zip)));
  TSR_RETURN_IF_ERROR(a->load());
  return a;
}

Status Archive::load() {
  TSR_ASSIGN_OR_RETURN(prefix_, find_prefix(zip_));
  auto ver = zip_.read(entry("version"));
  if (!ver.ok()) ver = zip_.read(entry(".data/version"));
  if (!ver.ok()) return Corrupt(fmt::format("'{}': no version entry", path()));
  version_ = std::atoi(ver->c_str());
  if (version_ < kMinVersion || version_ > kMaxVersion) {
    return Status(Code::kVersion,
                  fmt::format("'{}': TorchScript file format version {} is not supported "
                              "(versions {}..{}, PyTorch 1.x-2.x)",
                              path(), *ver, kMinVersion, kMaxVersion));
  }
  auto order = zip_.read(entry("byteorder"));  // torch >= 2.1; absent means little-endian
  if (order.ok() && *order != "little") {
    return Unimplemented(fmt::format("'{}': byteorder '{}' is not supported", path(), *order));
  }
  bool has_code = false;
  for (const auto& [name, e] : zip_.entries()) has_code |= name.rfind(entry("code/"), 0) == 0;
  if (!has_code) {
    return InvalidArgument(fmt::format(
        "'{}' has no code/ entries: a torch.save checkpoint, not a TorchScript module", path()));
  }
  TSR_ASSIGN_OR_RETURN(std::string data, zip_.read(entry("data.pkl")));
  TSR_ASSIGN_OR_RETURN(root_, unpickle(data, path() + ": data.pkl"));
  if (zip_.has(entry("constants.pkl"))) {
    TSR_ASSIGN_OR_RETURN(std::string cs, zip_.read(entry("constants.pkl")));
    TSR_ASSIGN_OR_RETURN(PyRef c, unpickle(cs, path() + ": constants.pkl"));
    if (c->kind != PyObj::kTuple && c->kind != PyObj::kList) {
      return Corrupt(fmt::format("'{}': constants.pkl is not a tuple", path()));
    }
    constants_ = c->items;
  }
  return Status::Ok();
}

// Gathers a strided view into row-major bytes; element-size-generic.
StatusOr<ir::TensorDataPtr> Archive::tensor(const PyTensor& t, const std::string& dir) {
  std::string key = dir + "/" + t.storage_key;
  auto& st = storages_[key];
  if (!st) {
    TSR_ASSIGN_OR_RETURN(std::string bytes, zip_.read(entry(key)));
    st = std::make_shared<std::string>(std::move(bytes));
  }
  auto out = std::make_shared<ir::TensorData>();
  out->dtype = t.dtype;
  out->shape = t.sizes;
  const int64_t es = dtype_size(t.dtype), n = out->numel();
  out->bytes.resize(n * es);
  if (t.strides.size() != t.sizes.size())
    return Corrupt(fmt::format("'{}': tensor {} has a bad stride", path(), key));
  int64_t max_off = t.offset;
  for (size_t d = 0; d < t.sizes.size(); ++d) {
    if (t.sizes[d] == 0) max_off = -1;
    if (max_off >= 0) max_off += (t.sizes[d] - 1) * t.strides[d];
  }
  if (t.offset < 0 || (n > 0 && (max_off + 1) * es > static_cast<int64_t>(st->size()))) {
    return Corrupt(fmt::format("'{}': tensor view past the end of storage {}", path(), key));
  }
  std::vector<int64_t> idx(t.sizes.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = t.offset;
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides[d];
    std::memcpy(out->bytes.data() + i * es, st->data() + off * es, es);
    for (int d = static_cast<int>(idx.size()) - 1; d >= 0; --d) {
      if (++idx[d] < t.sizes[d]) break;
      idx[d] = 0;
    }
  }
  return ir::TensorDataPtr(out);
}

StatusOr<std::vector<std::pair<DType, Shape>>> Archive::traced_inputs() {
  std::vector<std::pair<DType, Shape>> out;
  if (!zip_.has(entry("traced_inputs.pkl"))) return out;
  TSR_ASSIGN_OR_RETURN(std::string b, zip_.read(entry("traced_inputs.pkl")));
  TSR_ASSIGN_OR_RETURN(PyRef p, unpickle(b, path() + ": traced_inputs.pkl"));
  PyRef fwd = p->kind == PyObj::kDict ? p->attr("forward") : nullptr;
  if (!fwd) return out;
  for (const PyRef& x : fwd->items) {
    if (x->kind != PyObj::kTensor) return std::vector<std::pair<DType, Shape>>{};  // non-tensor
    out.emplace_back(x->tensor->dtype, x->tensor->sizes);
  }
  return out;
}

}  // namespace tessera::ts_fe
