// Size queries and tensor factories: all compile-time constants (traced shapes are static).
#include <cmath>
#include <cstring>

#include "frontends/torchscript/aten_util.h"

namespace tessera::ts_fe {
namespace {

// A filled constant of any dtype (half types are made in f32 and cast, which folds).
StatusOr<int> make_filled(Importer& c, DType t, const Shape& s, double v) {
  if (t == DType::kFloat16 || t == DType::kBFloat16) {
    int f = c.constant(filled(DType::kFloat32, s, v), "filled");
    return c.cast(f, t);
  }
  if (dtype_size(t) == 0) return c.fail("cannot make a constant of dtype {}", dtype_name(t));
  return c.constant(filled(t, s, v), "filled");
}

DType number_dtype(const TsVal& v) {
  return v.kind == TsVal::kFloat  ? DType::kFloat32
         : v.kind == TsVal::kBool ? DType::kBool
                                  : DType::kInt64;
}

Status factory(Importer& c, const TsVal* size, const TsVal* dt, DType dflt, const TsVal& fill,
               TsVal& out) {
  if (!size) return c.fail("missing size");
  TSR_ASSIGN_OR_RETURN(auto s, c.to_ints(*size));
  TSR_ASSIGN_OR_RETURN(DType t, dtype_arg(c, dt));
  TSR_ASSIGN_OR_RETURN(double v, c.to_double(fill));
  return set_tensor(make_filled(c, t == DType::kUndefined ? dflt : t, s, v), out);
}

Status like(Importer& c, const Args& a, const TsVal& fill, size_t dtype_pos, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TsVal s = TsVal::List({});
  for (int64_t d : c.shape(x)) s.items.push_back(TsVal::Int(d));
  return factory(c, &s, a.get(dtype_pos, "dtype"), c.dtype(x), fill, out);
}

Status trilu(Importer& c, const Args& a, bool upper, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  int64_t k = 0;
  if (given(a.get(1, "diagonal"))) {
    TSR_ASSIGN_OR_RETURN(k, c.to_int(*a.get(1, "diagonal")));
  }
  return set_tensor(c.emit1("Trilu", {x}, {{"upper", Attr::Int(upper)}, {"k", Attr::Int(k)}}), out);
}

}  // namespace

Status cv_size(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  const TsVal* d = a.get(1, "dim");
  if (given(d)) {
    TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(d, c.rank(x), 0));
    out = TsVal::Int(c.shape(x)[ax]);
    return Status::Ok();
  }
  out = TsVal::List({});
  for (int64_t s : c.shape(x)) out.items.push_back(TsVal::Int(s));
  return Status::Ok();
}

Status cv_numel(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  out = TsVal::Int(num_elements(c.shape(x)));
  return Status::Ok();
}

Status cv_dim(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  out = TsVal::Int(c.rank(x));
  return Status::Ok();
}

// arange(end) / arange(start, end) / arange(start, end, step); the numbers are the positional
// arguments (traced code passes dtype, layout, device as keywords).
Status cv_arange(Importer& c, const Args& a, TsVal& out) {
  std::vector<double> num;
  bool is_float = false;
  for (const TsVal& v : a.pos) {
    if (v.kind == TsVal::kNone || v.kind == TsVal::kDevice) break;
    TSR_ASSIGN_OR_RETURN(double d, c.to_double(v));
    is_float |=
        v.kind == TsVal::kFloat || (v.kind == TsVal::kTensor && dtype_is_float(c.dtype(v.v)));
    num.push_back(d);
  }
  if (num.empty() || num.size() > 3) return c.fail("arange takes 1 to 3 numbers");
  double start = num.size() > 1 ? num[0] : 0, end = num.size() > 1 ? num[1] : num[0];
  double step = num.size() > 2 ? num[2] : 1;
  if (step == 0) return c.fail("arange step is zero");
  TSR_ASSIGN_OR_RETURN(DType t, dtype_arg(c, a.get(99, "dtype")));
  if (t == DType::kUndefined) t = is_float ? DType::kFloat32 : DType::kInt64;
  int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  TSR_ASSIGN_OR_RETURN(int base, make_filled(c, DType::kFloat64, {n}, 0));
  auto d = std::make_shared<ir::TensorData>(*c.const_data(base));
  for (int64_t i = 0; i < n; ++i) reinterpret_cast<double*>(d->bytes.data())[i] = start + i * step;
  return set_tensor(c.cast(c.constant(d, "arange"), t), out);
}

Status cv_ones(Importer& c, const Args& a, TsVal& out) {
  return factory(c, a.get(0, "size"), a.get(1, "dtype"), DType::kFloat32, TsVal::Int(1), out);
}
Status cv_zeros(Importer& c, const Args& a, TsVal& out) {
  return factory(c, a.get(0, "size"), a.get(1, "dtype"), DType::kFloat32, TsVal::Int(0), out);
}
Status cv_full(Importer& c, const Args& a, TsVal& out) {
  const TsVal* v = a.get(1, "fill_value");
  if (!v) return c.fail("full needs a fill_value");
  return factory(c, a.get(0, "size"), a.get(2, "dtype"), number_dtype(*v), *v, out);
}
Status cv_ones_like(Importer& c, const Args& a, TsVal& out) {
  return like(c, a, TsVal::Int(1), 1, out);
}
Status cv_zeros_like(Importer& c, const Args& a, TsVal& out) {
  return like(c, a, TsVal::Int(0), 1, out);
}
Status cv_full_like(Importer& c, const Args& a, TsVal& out) {
  const TsVal* v = a.get(1, "fill_value");
  if (!v) return c.fail("full_like needs a fill_value");
  return like(c, a, *v, 2, out);
}
Status cv_new_ones(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  return factory(c, a.get(1, "size"), a.get(2, "dtype"), c.dtype(x), TsVal::Int(1), out);
}
Status cv_new_zeros(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  return factory(c, a.get(1, "size"), a.get(2, "dtype"), c.dtype(x), TsVal::Int(0), out);
}
Status cv_new_full(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  const TsVal* v = a.get(2, "fill_value");
  if (!v) return c.fail("new_full needs a fill_value");
  return factory(c, a.get(1, "size"), a.get(3, "dtype"), c.dtype(x), *v, out);
}
Status cv_triu(Importer& c, const Args& a, TsVal& out) { return trilu(c, a, true, out); }
Status cv_tril(Importer& c, const Args& a, TsVal& out) { return trilu(c, a, false, out); }

Status cv_scalar_tensor(Importer& c, const Args& a, TsVal& out) {
  const TsVal* v = a.get(0, "s");
  if (!v) return c.fail("scalar_tensor needs a value");
  TsVal empty = TsVal::List({});
  return factory(c, &empty, a.get(1, "dtype"), DType::kFloat32, *v, out);
}

// torch.tensor([..]) of numbers (traced code rarely has it; constants usually are CONSTANTS.cN).
Status cv_tensor(Importer& c, const Args& a, TsVal& out) {
  const TsVal* v = a.get(0, "data");
  if (!v) return c.fail("tensor needs data");
  if (v->kind != TsVal::kList) {
    TsVal empty = TsVal::List({});
    return factory(c, &empty, a.get(1, "dtype"), number_dtype(*v), *v, out);
  }
  bool fl = false;
  std::vector<double> xs;
  for (const TsVal& e : v->items) {
    TSR_ASSIGN_OR_RETURN(double d, c.to_double(e));
    fl |= e.kind == TsVal::kFloat;
    xs.push_back(d);
  }
  TSR_ASSIGN_OR_RETURN(DType t, dtype_arg(c, a.get(1, "dtype")));
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kFloat64;
  d->shape = {static_cast<int64_t>(xs.size())};
  d->bytes.resize(xs.size() * 8);
  if (!xs.empty()) std::memcpy(d->bytes.data(), xs.data(), xs.size() * 8);
  if (t == DType::kUndefined) t = fl ? DType::kFloat32 : DType::kInt64;
  return set_tensor(c.cast(c.constant(d, "tensor"), t), out);
}

}  // namespace tessera::ts_fe
