// A pickle VM subset for TorchScript archives (data.pkl, constants.pkl, traced_inputs.pkl,
// *.debug_pkl) and torch.save state dicts: protocols 2-4, the ~40 opcodes those files use,
// persistent ids for storages and the few torch globals they REDUCE. No Python objects are ever
// constructed: classes become PyObj::kObject records with their qualified name and state.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera::ts_fe {

struct PyObj;
using PyRef = std::shared_ptr<PyObj>;

// A tensor as pickled: a view (offset, sizes, strides in elements) of a storage entry.
struct PyTensor {
  std::string storage_key;  // "<key>" of data/<key> (or constants/<key>)
  DType dtype = DType::kUndefined;
  int64_t offset = 0;
  Shape sizes, strides;
};

struct PyObj {
  enum Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kStr,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kObject,
    kTensor,
    kStorage
  };
  Kind kind = kNone;
  int64_t i = 0;  // kBool, kInt
  double f = 0;
  std::string s;                              // kStr; kGlobal/kObject: "module.Name"; kStorage: key
  DType dtype = DType::kUndefined;            // kStorage
  std::vector<PyRef> items;                   // kTuple, kList; kObject: constructor args
  std::vector<std::pair<PyRef, PyRef>> dict;  // kDict; kObject: state after BUILD (if a dict)
  std::shared_ptr<PyTensor> tensor;           // kTensor

  bool is_str(const char* v) const { return kind == kStr && s == v; }
  // kDict / kObject attribute lookup by string key; null when absent.
  PyRef attr(const std::string& key) const;
};

PyRef py_none();
PyRef py_int(int64_t v);
PyRef py_str(std::string v);

// torch.<X>Storage global name -> dtype (FloatStorage -> f32); kUndefined when unknown.
DType storage_dtype(const std::string& global);

// Runs the pickle in `bytes`; `what` names it in errors ("data.pkl: bad opcode 0x.. at 17").
StatusOr<PyRef> unpickle(const std::string& bytes, const std::string& what);

}  // namespace tessera::ts_fe
