// Importer: Python-value conversions for converter arguments.
#include <cstring>

#include "frontends/torchscript/ts_import_internal.h"

namespace tessera::ts_fe {

const TsVal* Args::get(size_t i, const char* name) const {
  if (i < pos.size()) return &pos[i];
  auto it = kw.find(name);
  return it == kw.end() ? nullptr : &it->second;
}

DType dtype_from_torch(int64_t st) {
  switch (st) {
    case 0:
      return DType::kUInt8;
    case 1:
      return DType::kInt8;
    case 2:
      return DType::kInt16;
    case 3:
      return DType::kInt32;
    case 4:
      return DType::kInt64;
    case 5:
      return DType::kFloat16;
    case 6:
      return DType::kFloat32;
    case 7:
      return DType::kFloat64;
    case 11:
      return DType::kBool;
    case 15:
      return DType::kBFloat16;
    default:
      return DType::kUndefined;
  }
}

namespace {

// The single element of a constant tensor as double (NumToTensor results, 0-d CONSTANTS).
bool const_scalar(const ir::TensorData& d, double& out) {
  if (d.numel() != 1) return false;
  const void* p = d.bytes.data();
  switch (d.dtype) {
    case DType::kFloat32:
      out = *static_cast<const float*>(p);
      return true;
    case DType::kFloat64:
      out = *static_cast<const double*>(p);
      return true;
    case DType::kInt64:
      out = static_cast<double>(*static_cast<const int64_t*>(p));
      return true;
    case DType::kInt32:
      out = *static_cast<const int32_t*>(p);
      return true;
    case DType::kBool:
    case DType::kUInt8:
      out = *static_cast<const uint8_t*>(p);
      return true;
    default:
      return false;
  }
}

}  // namespace

StatusOr<double> Importer::to_double(const TsVal& x) const {
  if (x.kind == TsVal::kFloat) return x.f;
  if (x.kind == TsVal::kInt || x.kind == TsVal::kBool) return static_cast<double>(x.i);
  if (x.kind == TsVal::kTensor) {
    const ir::TensorData* d = const_data(x.v);
    double v;
    if (d && const_scalar(*d, v)) return v;
    return fail("a number is needed but '{}' depends on the model inputs' values", val(x.v).name);
  }
  return fail("expected a number");
}

StatusOr<int64_t> Importer::to_int(const TsVal& x) const {
  if (x.kind == TsVal::kTensor && const_data(x.v) && dtype(x.v) == DType::kInt64 &&
      const_data(x.v)->numel() == 1) {
    int64_t v;
    std::memcpy(&v, const_data(x.v)->bytes.data(), 8);
    return v;  // exact for large values (INT64_MAX slice ends)
  }
  if (x.kind == TsVal::kInt || x.kind == TsVal::kBool) return x.i;
  TSR_ASSIGN_OR_RETURN(double d, to_double(x));
  return static_cast<int64_t>(d);
}

StatusOr<std::vector<int64_t>> Importer::to_ints(const TsVal& x) const {
  std::vector<int64_t> out;
  if (x.kind == TsVal::kList) {
    for (const TsVal& e : x.items) {
      TSR_ASSIGN_OR_RETURN(int64_t v, to_int(e));
      out.push_back(v);
    }
    return out;
  }
  if (x.kind == TsVal::kTensor && const_data(x.v) && rank(x.v) == 1) {
    const ir::TensorData* d = const_data(x.v);
    for (int64_t i = 0; i < d->numel(); ++i) {
      if (d->dtype == DType::kInt64)
        out.push_back(d->as<int64_t>()[i]);
      else if (d->dtype == DType::kInt32)
        out.push_back(d->as<int32_t>()[i]);
      else
        return fail("expected an integer list");
    }
    return out;
  }
  TSR_ASSIGN_OR_RETURN(int64_t v, to_int(x));  // an int where a list is allowed: [v]
  return std::vector<int64_t>{v};
}

StatusOr<int> Importer::tensor_arg(const TsVal* x, const char* what) const {
  if (!x || x->kind != TsVal::kTensor) return fail("argument '{}' must be a tensor", what);
  return x->v;
}

StatusOr<int64_t> Importer::axis(const TsVal* x, int r, int64_t dflt) const {
  int64_t a = dflt;
  if (x && x->kind != TsVal::kNone) {
    TSR_ASSIGN_OR_RETURN(a, to_int(*x));
  }
  int64_t n = std::max(r, 1);
  if (a < -n || a >= n) return fail("dimension {} out of range for rank {}", a, r);
  return a < 0 ? a + n : a;
}

}  // namespace tessera::ts_fe
