// Window ops (Conv, ConvTranspose, MaxPool, AveragePool): every window attribute explicit and
// auto_pad / output_shape resolved into pads, so kernels and sharding read one form.
#include "frontends/onnx/canonicalize.h"

namespace tessera::onnx_fe {

namespace {

// SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning.
void same_pads(bool upper, int64_t total, int64_t& begin, int64_t& end) {
  total = std::max<int64_t>(total, 0);
  begin = upper ? total / 2 : total - total / 2;
  end = total - begin;
}

Status resolve_pads(Cn& c, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                    const std::vector<int64_t>& d, std::vector<int64_t>& pads) {
  const std::string ap = attr_str(c.a(), "auto_pad", "NOTSET");
  c.a().erase("auto_pad");
  const size_t sp = k.size();
  if (ap == "NOTSET") return Status::Ok();
  if (ap == "VALID") {
    pads.assign(2 * sp, 0);
    return Status::Ok();
  }
  if (ap != "SAME_UPPER" && ap != "SAME_LOWER") return c.err("auto_pad '{}' is not valid", ap);
  const bool upper = ap == "SAME_UPPER";
  const bool transposed = c.p.n.op == "ConvTranspose";
  const auto outpad = attr_ints(c.a(), "output_padding", std::vector<int64_t>(sp, 0));
  for (size_t i = 0; i < sp; ++i) {
    const int64_t in = c.shape()[i + 2], span = (k[i] - 1) * d[i] + 1;
    if (transposed) {  // output = in * stride; pads split per the ConvTranspose spec
      const int64_t total = s[i] * (in - 1) + outpad[i] + span - in * s[i];
      same_pads(upper, total, pads[i], pads[i + sp]);
    } else {
      const int64_t out = (in + s[i] - 1) / s[i];
      same_pads(upper, (out - 1) * s[i] + span - in, pads[i], pads[i + sp]);
    }
  }
  return Status::Ok();
}

// ConvTranspose output_shape (spatial, or with N and C) -> pads.
Status resolve_output_shape(Cn& c, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                            const std::vector<int64_t>& d, std::vector<int64_t>& pads) {
  if (!attr_has(c.a(), "output_shape")) return Status::Ok();
  auto os = attr_ints(c.a(), "output_shape");
  c.a().erase("output_shape");
  const size_t sp = k.size();
  if (os.size() == sp + 2) os.erase(os.begin(), os.begin() + 2);
  if (os.size() != sp)
    return c.err("output_shape has {} entries for {} spatial dims", os.size(), sp);
  const bool upper = attr_str(c.a(), "auto_pad", "NOTSET") != "SAME_LOWER";
  c.a().erase("auto_pad");
  const auto outpad = attr_ints(c.a(), "output_padding", std::vector<int64_t>(sp, 0));
  for (size_t i = 0; i < sp; ++i) {
    const int64_t total = s[i] * (c.shape()[i + 2] - 1) + outpad[i] + (k[i] - 1) * d[i] + 1 - os[i];
    if (total < 0) return c.err("output_shape {} is larger than the op can produce", shape_str(os));
    same_pads(upper, total, pads[i], pads[i + sp]);
  }
  return Status::Ok();
}

}  // namespace

Status canon_window(Cn& c) {
  if (c.rank() < 3) return c.err("input {} must have rank >= 3", shape_str(c.shape()));
  const size_t sp = static_cast<size_t>(c.rank()) - 2;
  const bool has_w = c.p.n.op == "Conv" || c.p.n.op == "ConvTranspose";
  for (const char* key : {"kernel_shape", "strides", "dilations", "pads", "output_padding"}) {
    TSR_RETURN_IF_ERROR(c.want(key, Attr::kInts));
  }
  std::vector<int64_t> k = attr_ints(c.a(), "kernel_shape");
  if (!attr_has(c.a(), "kernel_shape")) {
    if (!has_w || c.in.size() < 2 || c.rank(1) != c.rank())
      return c.err("kernel_shape is required");
    k.assign(c.shape(1).begin() + 2, c.shape(1).end());
  }
  const auto s = attr_ints(c.a(), "strides", std::vector<int64_t>(sp, 1));
  const auto d = attr_ints(c.a(), "dilations", std::vector<int64_t>(sp, 1));
  auto pads = attr_ints(c.a(), "pads", std::vector<int64_t>(2 * sp, 0));
  if (k.size() != sp || s.size() != sp || d.size() != sp || pads.size() != 2 * sp) {
    return c.err("kernel_shape/strides/dilations/pads sizes do not match {} spatial dims", sp);
  }
  for (size_t i = 0; i < sp; ++i) {
    if (k[i] < 1 || s[i] < 1 || d[i] < 1)
      return c.err("kernel_shape, strides and dilations must be positive");
  }
  if (c.p.n.op == "ConvTranspose") {
    c.a().emplace("output_padding", Attr::Ints(std::vector<int64_t>(sp, 0)));
    TSR_RETURN_IF_ERROR(resolve_output_shape(c, k, s, d, pads));
  }
  TSR_RETURN_IF_ERROR(resolve_pads(c, k, s, d, pads));
  c.a()["kernel_shape"] = Attr::Ints(k);
  c.a()["strides"] = Attr::Ints(s);
  c.a()["dilations"] = Attr::Ints(d);
  c.a()["pads"] = Attr::Ints(pads);
  if (has_w) TSR_RETURN_IF_ERROR(c.set_int_default("group", 1));
  if (c.p.n.op == "MaxPool" || c.p.n.op == "AveragePool") {
    c.a().erase("storage_order");
    TSR_RETURN_IF_ERROR(c.set_int_default("ceil_mode", 0));
  }
  if (c.p.n.op == "AveragePool") TSR_RETURN_IF_ERROR(c.set_int_default("count_include_pad", 0));
  return Status::Ok();
}

}  // namespace tessera::onnx_fe
