// Non-aten callables that traced code uses for shape arithmetic and annotations.
#include <cmath>
#include <cstdlib>

#include "frontends/torchscript/ts_import_internal.h"

namespace tessera::ts_fe {
namespace {

StatusOr<TsVal> num_to_tensor(Importer& c, const TsVal& x) {
  if (x.kind == TsVal::kTensor) return x;
  if (x.kind == TsVal::kFloat) return TsVal::Tensor(c.scalar(DType::kFloat32, x.f));
  TSR_ASSIGN_OR_RETURN(int64_t v, c.to_int(x));
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kInt64;
  d->bytes.assign(reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
  return TsVal::Tensor(c.constant(d, "num"));
}

StatusOr<TsVal> to_float(Importer& c, const TsVal& x) {
  if (x.kind == TsVal::kStr) {
    if (x.s == "inf") return TsVal::Float(HUGE_VAL);
    if (x.s == "-inf") return TsVal::Float(-HUGE_VAL);
    if (x.s == "nan") return TsVal::Float(NAN);
    return TsVal::Float(std::strtod(x.s.c_str(), nullptr));
  }
  TSR_ASSIGN_OR_RETURN(double v, c.to_double(x));
  return TsVal::Float(v);
}

}  // namespace

StatusOr<TsVal> call_builtin(Importer& c, const std::string& fn, const Args& a, bool& handled) {
  static const char* kNames[] = {"torch.device",
                                 "ops.prim.device",
                                 "annotate",
                                 "ops.prim.NumToTensor",
                                 "torch.scalar_tensor",
                                 "int",
                                 "ops.aten.Int",
                                 "ops.aten.IntImplicit",
                                 "float",
                                 "ops.aten.Float",
                                 "ops.aten.FloatImplicit",
                                 "bool",
                                 "ops.aten.Bool",
                                 "len",
                                 "getattr",
                                 "ops.prim.dtype"};
  handled = false;
  for (const char* n : kNames) handled |= fn == n;
  if (!handled) return TsVal();
  const TsVal* x = a.get(0, "self");
  if (fn == "torch.device" || fn == "ops.prim.device") {
    TsVal d;
    d.kind = TsVal::kDevice;
    return d;
  }
  if (fn == "annotate") {  // annotate(Type, value)
    if (a.pos.size() != 2) return c.fail("annotate takes 2 arguments");
    return a.pos[1];
  }
  for (const TsVal& v : a.pos) {
    if (v.kind == TsVal::kUnknown) return TsVal::Unknown();
  }
  if (!x) return c.fail("{} needs an argument", fn);
  if (fn == "ops.prim.NumToTensor" || fn == "torch.scalar_tensor") return num_to_tensor(c, *x);
  if (fn == "int" || fn == "ops.aten.Int" || fn == "ops.aten.IntImplicit") {
    TSR_ASSIGN_OR_RETURN(int64_t v, c.to_int(*x));
    return TsVal::Int(v);
  }
  if (fn == "float" || fn == "ops.aten.Float" || fn == "ops.aten.FloatImplicit") {
    return to_float(c, *x);
  }
  if (fn == "bool" || fn == "ops.aten.Bool") {
    TSR_ASSIGN_OR_RETURN(double v, c.to_double(*x));
    return TsVal::Bool(v != 0);
  }
  if (fn == "len") {
    if (x->kind == TsVal::kList) return TsVal::Int(static_cast<int64_t>(x->items.size()));
    if (x->kind == TsVal::kTensor && c.rank(x->v) > 0) return TsVal::Int(c.shape(x->v)[0]);
    return c.fail("len() of a value without length");
  }
  if (fn == "getattr") {
    if (a.pos.size() != 2 || a.pos[1].kind != TsVal::kStr || x->kind != TsVal::kModule) {
      return c.fail("getattr(module, \"name\") expected");
    }
    PyRef p = x->obj->attr(a.pos[1].s);
    if (!p || p->kind != PyObj::kObject) {
      return c.fail("module '{}' has no submodule '{}'", x->s, a.pos[1].s);
    }
    TsVal m;
    m.kind = TsVal::kModule;
    m.obj = p;
    m.s = x->s.empty() ? a.pos[1].s : x->s + "." + a.pos[1].s;
    return m;
  }
  if (fn == "ops.prim.dtype") {
    if (x->kind != TsVal::kTensor) return c.fail("prim::dtype of a non-tensor");
    static const std::pair<DType, int> codes[] = {
        {DType::kUInt8, 0}, {DType::kInt8, 1},     {DType::kInt16, 2},   {DType::kInt32, 3},
        {DType::kInt64, 4}, {DType::kFloat16, 5},  {DType::kFloat32, 6}, {DType::kFloat64, 7},
        {DType::kBool, 11}, {DType::kBFloat16, 15}};
    for (auto [d, code] : codes) {
      if (d == c.dtype(x->v)) return TsVal::Int(code);
    }
  }
  return c.fail("{}: unsupported argument", fn);
}

}  // namespace tessera::ts_fe
