// A TorchScript archive (torch.jit.save, file format versions 1-10 as written by PyTorch 1.x
// and 2.x): the zip, its entry prefix, the unpickled module tree and constants, tensor storages,
// and the code/ sources and their debug info, each parsed on first use.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frontends/torchscript/pickle.h"
#include "frontends/torchscript/ts_ast.h"
#include "frontends/torchscript/zip_reader.h"
#include "ir/graph.h"

namespace tessera::ts_fe {

// Source ranges of one code file (from <file>.debug_pkl): byte offset in the code -> text.
struct DebugInfo {
  std::vector<std::pair<size_t, std::string>> ranges;  // sorted by offset; text = origin frame
  std::string at(size_t offset) const;                 // "" when unknown
};

class Archive {
 public:
  static StatusOr<std::unique_ptr<Archive>> open(const std::string& path);
  static StatusOr<std::unique_ptr<Archive>> from_zip(ZipArchive zip);

  const PyRef& root() const { return root_; }                         // data.pkl
  const std::vector<PyRef>& constants() const { return constants_; }  // CONSTANTS.cN
  int version() const { return version_; }
  const std::string& path() const { return zip_.what(); }

  // Row-major bytes of a pickled tensor; `dir` is "data", "constants" or "traced_inputs".
  StatusOr<ir::TensorDataPtr> tensor(const PyTensor& t, const std::string& dir);
  // The parsed class for a qualified name "__torch__.a.b.Cls" (file code/__torch__/a/b.py).
  StatusOr<const ClassDef*> find_class(const std::string& qualname, std::string* file = nullptr);
  // "code/...py:LINE (traced at origin)" for an expression of that file.
  std::string location(const std::string& file, size_t offset, int line);
  // dtype and shape of forward's example inputs, recorded by torch >= 2.0 in traced_inputs.pkl
  // (their storages are written empty, so only the metadata is usable); empty when absent.
  StatusOr<std::vector<std::pair<DType, Shape>>> traced_inputs();

 private:
  explicit Archive(ZipArchive z) : zip_(std::move(z)) {}
  Status load();
  std::string entry(const std::string& rel) const { return prefix_ + rel; }

  ZipArchive zip_;
  std::string prefix_;  // "model.torchscript/"
  int version_ = 0;
  PyRef root_;
  std::vector<PyRef> constants_;
  std::map<std::string, std::shared_ptr<std::string>> storages_;
  std::map<std::string, std::unique_ptr<SourceFile>> sources_;
  std::map<std::string, std::unique_ptr<DebugInfo>> debug_;
};

}  // namespace tessera::ts_fe
