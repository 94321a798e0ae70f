// Create-time preparation of a Session: weight placement, instruction steps, input shards.
#include <cstring>

#include "session_internal.h"

namespace tessera::runtime {
namespace {

constexpr int64_t kAlign = 64;
int64_t align64(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

std::string tname(const plan::TensorInfo& t) {
  return "tensor " + std::to_string(t.id()) + " '" + t.name() + "'";
}

Attr to_attr(const plan::AttrProto& a) {
  switch (a.kind()) {
    case plan::AttrProto::FLOAT:
      return Attr::Float(a.f());
    case plan::AttrProto::STRING:
      return Attr::Str(a.s());
    case plan::AttrProto::INTS:
      return Attr::Ints({a.ints().begin(), a.ints().end()});
    case plan::AttrProto::FLOATS:
      return Attr::Floats({a.floats().begin(), a.floats().end()});
    case plan::AttrProto::STRINGS:
      return Attr::Strs({a.strings().begin(), a.strings().end()});
    default:
      return Attr::Int(a.i());
  }
}

kernels::TensorRef ref(const plan::Plan& p, const Session::Impl& s, int32_t id) {
  if (id < 0) return {};
  const plan::TensorInfo& t = p.tensors(id);
  return {static_cast<DType>(t.dtype()), Shape(t.shape().begin(), t.shape().end()),
          s.tensor_data[id]};
}

Status classify(Step* st, const plan::Instruction& ins, const std::string& where) {
  static const struct {
    const char* op;
    Step::Kind kind;
  } kColl[] = {{"AllReduce", Step::kAllReduce},
               {"AllGather", Step::kAllGather},
               {"ReduceScatter", Step::kReduceScatter},
               {"AllToAll", Step::kAllToAll},
               {"ShardSlice", Step::kShardSlice},
               {"MakePartial", Step::kMakePartial}};
  for (const auto& c : kColl)
    if (ins.op() == c.op) st->kind = c.kind;
  if (st->kind == Step::kKernel) {
    if (!kernels::find_cpu_kernel(ins.op()))
      return Unimplemented(where + ": op '" + ins.op() + "' has no CPU kernel");
    return Status::Ok();
  }
  if (ins.inputs_size() != 1 || ins.outputs_size() != 1 || ins.inputs(0) < 0)
    return Corrupt(where + ": collective needs one input and one output");
  st->axes =
      attr_has(st->attrs, "axes") ? st->attrs.at("axes").strings : std::vector<std::string>{};
  if (st->axes.empty()) return Corrupt(where + ": collective without 'axes'");
  st->dim = attr_int(st->attrs, "dim", 0);
  st->split_dim = attr_int(st->attrs, "split_dim", 0);
  st->concat_dim = attr_int(st->attrs, "concat_dim", 0);
  return Status::Ok();
}

}  // namespace

Status AlignedBuffer::allocate(int64_t bytes, const std::string& what) {
  const int64_t n = align64(bytes > 0 ? bytes : 1);
  ptr_.reset(static_cast<uint8_t*>(std::aligned_alloc(kAlign, static_cast<size_t>(n))));
  if (!ptr_)
    return Status(Code::kOutOfMemory,
                  what + ": cannot allocate " + std::to_string(bytes) + " bytes");
  size_ = bytes;
  return Status::Ok();
}

Status place_weights(const Plan& plan, int rank, Session::Impl* s) {
  const plan::Plan& p = plan.meta();
  const std::string& file = plan.file().path();
  // Pick each weight tensor's section: this rank's own, else the shared (-1) one.
  std::vector<const plan::WeightSection*> pick(p.tensors_size(), nullptr);
  for (const auto& w : p.weights())
    if (w.rank() == rank || (w.rank() == -1 && !pick[w.tensor()])) pick[w.tensor()] = &w;
  int64_t total = 0;
  std::vector<int64_t> offset(p.tensors_size(), -1);
  for (const auto& t : p.tensors()) {
    if (t.storage() != plan::TensorInfo::WEIGHT) continue;
    if (!pick[t.id()])
      return Corrupt(file + ": " + tname(t) + " has no weight section for rank " +
                     std::to_string(rank));
    offset[t.id()] = total;
    total = align64(total + t.nbytes());
  }
  TSR_RETURN_IF_ERROR(
      s->weights.allocate(total, file + ": weights of rank " + std::to_string(rank)));
  TSR_RETURN_IF_ERROR(s->arena.allocate(p.arena_bytes(), file + ": arena"));
  s->tensor_data.assign(p.tensors_size(), nullptr);
  for (const auto& t : p.tensors()) {
    if (t.storage() == plan::TensorInfo::ARENA) {
      s->tensor_data[t.id()] = s->arena.data() + t.offset();
    } else {
      s->tensor_data[t.id()] = s->weights.data() + offset[t.id()];
      std::memcpy(s->tensor_data[t.id()], plan.file().section_data(*pick[t.id()]), t.nbytes());
    }
  }
  return Status::Ok();
}

Status build_steps(const Plan& plan, Session::Impl* s) {
  const plan::Plan& p = plan.meta();
  for (int i = 0; i < p.instructions_size(); ++i) {
    const plan::Instruction& ins = p.instructions(i);
    Step st;
    st.index = i;
    st.op = ins.op();
    for (const auto& a : ins.attrs()) st.attrs[a.name()] = to_attr(a);
    const std::string where = plan.file().path() + ": instruction " + std::to_string(i) +
                              (ins.node().empty() ? "" : " (node '" + ins.node() + "')");
    TSR_RETURN_IF_ERROR(classify(&st, ins, where));
    for (int32_t id : ins.inputs()) st.ins.push_back(ref(p, *s, id));
    for (int32_t id : ins.outputs()) st.outs.push_back(ref(p, *s, id));
    s->steps.push_back(std::move(st));
  }
  return Status::Ok();
}

Status shard_box(const plan::TensorInfo& t, const Comm& comm, Shape* starts, Shape* sizes) {
  // A replicated tensor may omit global_shape: then it is its local shape.
  const auto& gs = t.global_shape().empty() ? t.shape() : t.global_shape();
  const Shape global(gs.begin(), gs.end());
  starts->assign(global.size(), 0);
  *sizes = global;
  for (int d = 0; d < t.dims_size() && d < static_cast<int>(global.size()); ++d) {
    std::vector<std::string> axes(t.dims(d).axes().begin(), t.dims(d).axes().end());
    if (axes.empty()) continue;
    TSR_ASSIGN_OR_RETURN(Group g, comm.group(axes));
    if (global[d] % g.size != 0)
      return InvalidArgument(tname(t) + ": dim " + std::to_string(d) + " of " + shape_str(global) +
                             " not divisible by " + std::to_string(g.size) + " shards");
    (*sizes)[d] = global[d] / g.size;
    (*starts)[d] = (*sizes)[d] * g.rank;
  }
  return Status::Ok();
}

}  // namespace tessera::runtime
