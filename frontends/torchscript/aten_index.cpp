// Advanced indexing (aten::index) and aten::diff, built from canonical ops so that the mask
// computations traced code does on arange() results fold to constants.
#include "frontends/torchscript/aten_util.h"
#include "ir/shape_infer.h"

namespace tessera::ts_fe {

// x[i0, i1, ..., ik-1] with k leading index tensors: the indices broadcast to B, stack to
// [B..., k] and feed GatherND, whose result B + x.shape[k:] is torch's for leading indices.
Status cv_index(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  const TsVal* list = a.get(1, "indices");
  if (!list || list->kind != TsVal::kList || list->items.empty())
    return c.fail("index needs a list");
  std::vector<int> idx;
  Shape b;
  for (const TsVal& t : list->items) {
    if (t.kind != TsVal::kTensor) {
      return c.fail("index with None (x[:, i]) or non-tensor entries is not supported");
    }
    if (c.dtype(t.v) == DType::kBool) return c.fail("boolean mask indexing is not supported");
    TSR_ASSIGN_OR_RETURN(int i, c.cast(t.v, DType::kInt64));
    idx.push_back(i);
    auto bs = ir::broadcast_shapes(b, c.shape(i));
    if (!bs.ok()) return c.fail("index tensors do not broadcast: {}", bs.status().message());
    b = *bs;
  }
  if (idx.size() > static_cast<size_t>(c.rank(x))) return c.fail("too many indices");
  int64_t r = static_cast<int64_t>(b.size());
  for (int& i : idx) {
    if (c.shape(i) != b) {
      TSR_ASSIGN_OR_RETURN(i, c.emit1("Expand", {i}, {{"shape", Attr::Ints(b)}}));
    }
    TSR_ASSIGN_OR_RETURN(i, c.emit1("Unsqueeze", {i}, {{"axes", Attr::Ints({r})}}));
  }
  int stacked = idx[0];
  if (idx.size() > 1) {
    TSR_ASSIGN_OR_RETURN(stacked, c.emit1("Concat", idx, {{"axis", Attr::Int(r)}}));
  }
  return set_tensor(c.emit1("GatherND", {x, stacked}, {{"batch_dims", Attr::Int(0)}}), out);
}

// diff(x, n=1, dim, prepend, append) = y[1:] - y[:-1] along dim, y = cat(prepend, x, append).
Status cv_diff(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  int64_t n = 1;
  if (given(a.get(1, "n"))) {
    TSR_ASSIGN_OR_RETURN(n, c.to_int(*a.get(1, "n")));
  }
  if (n != 1) return c.fail("diff with n={} is not supported (only n=1)", n);
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(2, "dim"), c.rank(x), -1));
  if (c.dtype(x) == DType::kBool) return c.fail("diff of a bool tensor is not supported");
  std::vector<int> parts;
  auto add = [&](const TsVal* p) -> Status {
    if (!given(p)) return Status::Ok();
    TSR_ASSIGN_OR_RETURN(int t, c.tensor_arg(p, "prepend/append"));
    TSR_ASSIGN_OR_RETURN(t, c.cast(t, c.dtype(x)));
    parts.push_back(t);
    return Status::Ok();
  };
  TSR_RETURN_IF_ERROR(add(a.get(3, "prepend")));
  parts.push_back(x);
  TSR_RETURN_IF_ERROR(add(a.get(4, "append")));
  int y = x;
  if (parts.size() > 1) {
    TSR_ASSIGN_OR_RETURN(y, c.emit1("Concat", parts, {{"axis", Attr::Int(ax)}}));
  }
  int64_t len = c.shape(y)[ax];
  auto sl = [&](int64_t s, int64_t e) {
    return c.emit1("Slice", {y},
                   {{"starts", Attr::Ints({s})},
                    {"ends", Attr::Ints({e})},
                    {"axes", Attr::Ints({ax})},
                    {"steps", Attr::Ints({1})}});
  };
  TSR_ASSIGN_OR_RETURN(int hi, sl(1, len));
  TSR_ASSIGN_OR_RETURN(int lo, sl(0, len - 1));
  return set_tensor(c.emit1("Sub", {hi, lo}), out);
}

}  // namespace tessera::ts_fe
