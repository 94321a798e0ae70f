// Internal to the TorchScript frontend: the evaluator's values, the import context (graph being
// built, module scope, error collection) and the aten converter table's signature.
#pragma once
#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frontends/torchscript/archive.h"
#include "frontends/torchscript/torchscript_import.h"
#include "ir/graph.h"

namespace tessera::ts_fe {

// A TorchScript value during import. Tensors are graph value ids; everything shape-like is a
// Python value (traced shapes are static, so size()/int()/NumToTensor fold as they go).
struct TsVal {
  enum Kind { kNone, kBool, kInt, kFloat, kStr, kList, kTensor, kModule, kDevice, kUnknown };
  Kind kind = kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;             // kStr; kModule: module path ("transformer.h.0")
  std::vector<TsVal> items;  // kList (lists and tuples)
  int v = -1;                // kTensor: value id
  PyRef obj;                 // kModule

  static TsVal Int(int64_t x) {
    TsVal t;
    t.kind = kInt;
    t.i = x;
    return t;
  }
  static TsVal Float(double x) {
    TsVal t;
    t.kind = kFloat;
    t.f = x;
    return t;
  }
  static TsVal Bool(bool x) {
    TsVal t;
    t.kind = kBool;
    t.i = x;
    return t;
  }
  static TsVal Tensor(int id) {
    TsVal t;
    t.kind = kTensor;
    t.v = id;
    return t;
  }
  static TsVal List(std::vector<TsVal> xs) {
    TsVal t;
    t.kind = kList;
    t.items = std::move(xs);
    return t;
  }
  static TsVal Unknown() {
    TsVal t;
    t.kind = kUnknown;
    return t;
  }
  bool is_number() const { return kind == kInt || kind == kFloat || kind == kBool; }
};

struct Args {
  std::vector<TsVal> pos;
  std::map<std::string, TsVal> kw;
  // Positional i, else keyword `name`, else null (the schema default applies).
  const TsVal* get(size_t i, const char* name) const;
};

struct Importer {
  Archive& ar;
  const ImportOptions& opts;
  ir::Graph g;
  std::string scope;                       // module path of the code being run, for node names
  std::string location;                    // of the call being converted, for errors
  std::vector<std::string> unsupported;    // "aten::x (location)", reported all at once
  std::map<const PyTensor*, int> tensors;  // module tensors already in the graph
  int counter = 0;
  int depth = 0;

  Importer(Archive& a, const ImportOptions& o) : ar(a), opts(o) {}

  template <class... A>
  Status fail(fmt::format_string<A...> f, A&&... a) const {
    return InvalidArgument(fmt::format("{} ({})", fmt::format(f, std::forward<A>(a)...), location));
  }
  const ir::Value& val(int id) const { return g.values[id]; }
  const Shape& shape(int id) const { return g.values[id].shape; }
  DType dtype(int id) const { return g.values[id].dtype; }
  int rank(int id) const { return static_cast<int>(g.values[id].shape.size()); }
  const ir::TensorData* const_data(int id) const {
    const ir::Value& x = g.values[id];
    return x.kind == ir::ValueKind::kConstant ? x.data.get() : nullptr;
  }

  // Graph building (ts_builder.cpp). emit() runs shape inference, and folds the node into
  // constants when every input is constant and the result is at most max_fold_elements.
  StatusOr<std::vector<int>> emit(const std::string& op, std::vector<int> in, AttrMap attrs = {},
                                  int num_outputs = 1);
  StatusOr<int> emit1(const std::string& op, std::vector<int> in, AttrMap attrs = {});
  int constant(ir::TensorDataPtr data, const std::string& hint = "const");
  int scalar(DType t, double v);                // rank-0 constant
  int int_list(const std::vector<int64_t>& v);  // 1-D int64 constant
  StatusOr<int> cast(int v, DType to);          // no-op when already `to`
  StatusOr<int> module_tensor(const PyRef& t, const std::string& name);
  // Scalars, lists and tensors as a tensor; `like` picks a Python scalar's dtype (-1: default).
  StatusOr<int> as_tensor(const TsVal& x, int like = -1);
  // Converts operands to their common dtype by torch's promotion rules (tensors with dims beat
  // zero-dim tensors beat Python scalars within a category: bool < int < float).
  StatusOr<std::vector<int>> promote(const std::vector<TsVal>& xs);

  // Python values (ts_values.cpp).
  StatusOr<int64_t> to_int(const TsVal& x) const;
  StatusOr<double> to_double(const TsVal& x) const;
  StatusOr<std::vector<int64_t>> to_ints(const TsVal& x) const;
  StatusOr<int> tensor_arg(const TsVal* x, const char* what) const;
  StatusOr<int64_t> axis(const TsVal* x, int rank, int64_t dflt) const;  // normalised
};

using ConvertFn = Status (*)(Importer& c, const Args& a, TsVal& out);
struct AtenOp {
  const char* name;  // aten name without the in-place suffix: "add" serves add and add_
  ConvertFn fn;
};
// The one table of aten converters (aten_table.cpp), sorted by name.
const AtenOp* find_aten(const std::string& name);
const std::vector<AtenOp>& aten_table();

// The converter groups, each in its own file.
#define TS_CONVERTER(fn) Status fn(Importer& c, const Args& a, TsVal& out)
// aten_math.cpp
TS_CONVERTER(cv_add);
TS_CONVERTER(cv_sub);
TS_CONVERTER(cv_rsub);
TS_CONVERTER(cv_mul);
TS_CONVERTER(cv_div);
TS_CONVERTER(cv_pow);
TS_CONVERTER(cv_eq);
TS_CONVERTER(cv_ne);
TS_CONVERTER(cv_lt);
TS_CONVERTER(cv_le);
TS_CONVERTER(cv_gt);
TS_CONVERTER(cv_ge);
TS_CONVERTER(cv_and);
TS_CONVERTER(cv_or);
TS_CONVERTER(cv_not);
TS_CONVERTER(cv_where);
TS_CONVERTER(cv_masked_fill);
TS_CONVERTER(cv_relu);
TS_CONVERTER(cv_gelu);
TS_CONVERTER(cv_silu);
TS_CONVERTER(cv_tanh);
TS_CONVERTER(cv_sigmoid);
TS_CONVERTER(cv_exp);
TS_CONVERTER(cv_log);
TS_CONVERTER(cv_sqrt);
TS_CONVERTER(cv_rsqrt);
TS_CONVERTER(cv_neg);
TS_CONVERTER(cv_abs);
TS_CONVERTER(cv_erf);
TS_CONVERTER(cv_sin);
TS_CONVERTER(cv_cos);
TS_CONVERTER(cv_clamp);
TS_CONVERTER(cv_mean);
TS_CONVERTER(cv_sum);
TS_CONVERTER(cv_amax);
TS_CONVERTER(cv_cumsum);
TS_CONVERTER(cv_softmax);
TS_CONVERTER(cv_log_softmax);
TS_CONVERTER(cv_square);
TS_CONVERTER(cv_reciprocal);
TS_CONVERTER(cv_floor);
// aten_nn.cpp
TS_CONVERTER(cv_linear);
TS_CONVERTER(cv_matmul);
TS_CONVERTER(cv_addmm);
TS_CONVERTER(cv_convolution);
TS_CONVERTER(cv_conv2d);
TS_CONVERTER(cv_batch_norm);
TS_CONVERTER(cv_layer_norm);
TS_CONVERTER(cv_group_norm);
TS_CONVERTER(cv_embedding);
TS_CONVERTER(cv_max_pool2d);
TS_CONVERTER(cv_avg_pool2d);
TS_CONVERTER(cv_adaptive_avg_pool2d);
TS_CONVERTER(cv_sdpa);
TS_CONVERTER(cv_identity);
TS_CONVERTER(cv_baddbmm);
// aten_shape.cpp
TS_CONVERTER(cv_view);
TS_CONVERTER(cv_permute);
TS_CONVERTER(cv_transpose);
TS_CONVERTER(cv_t);
TS_CONVERTER(cv_slice);
TS_CONVERTER(cv_select);
TS_CONVERTER(cv_cat);
TS_CONVERTER(cv_stack);
TS_CONVERTER(cv_split);
TS_CONVERTER(cv_chunk);
TS_CONVERTER(cv_unsqueeze);
TS_CONVERTER(cv_squeeze);
TS_CONVERTER(cv_expand);
TS_CONVERTER(cv_expand_as);
TS_CONVERTER(cv_flatten);
TS_CONVERTER(cv_to);
TS_CONVERTER(cv_type_as);
TS_CONVERTER(cv_gather);
TS_CONVERTER(cv_index);
TS_CONVERTER(cv_diff);
TS_CONVERTER(cv_repeat);
// aten_create.cpp
TS_CONVERTER(cv_size);
TS_CONVERTER(cv_numel);
TS_CONVERTER(cv_dim);
TS_CONVERTER(cv_arange);
TS_CONVERTER(cv_ones);
TS_CONVERTER(cv_zeros);
TS_CONVERTER(cv_full);
TS_CONVERTER(cv_ones_like);
TS_CONVERTER(cv_zeros_like);
TS_CONVERTER(cv_full_like);
TS_CONVERTER(cv_new_ones);
TS_CONVERTER(cv_new_zeros);
TS_CONVERTER(cv_new_full);
TS_CONVERTER(cv_triu);
TS_CONVERTER(cv_tril);
TS_CONVERTER(cv_scalar_tensor);
TS_CONVERTER(cv_tensor);
#undef TS_CONVERTER

DType dtype_from_torch(int64_t scalar_type);
// A constant filled with v (f32, f64, integer and bool dtypes).
ir::TensorDataPtr filled(DType t, const Shape& s,
                         double v);  // c10::ScalarType code -> DType (kUndefined: none)

// Non-aten callables of traced code (ts_builtins.cpp): int(), float(), annotate(), getattr(),
// torch.device(), ops.prim.NumToTensor ...; `handled` is false for names it does not know.
StatusOr<TsVal> call_builtin(Importer& c, const std::string& fn, const Args& a, bool& handled);

// The evaluator (ts_eval.cpp): runs a module's forward with `args`, inlining submodule calls.
StatusOr<TsVal> run_method(Importer& c, const TsVal& module, const std::string& method,
                           const std::vector<TsVal>& args);

}  // namespace tessera::ts_fe
