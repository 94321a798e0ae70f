#include "frontends/torchscript/pickle.h"

#include <fmt/format.h>

#include <cstring>
#include <map>

namespace tessera::ts_fe {

PyRef PyObj::attr(const std::string& key) const {
  for (const auto& [k, v] : dict) {
    if (k && k->kind == kStr && k->s == key) return v;
  }
  return nullptr;
}

PyRef py_none() { return std::make_shared<PyObj>(); }
PyRef py_int(int64_t v) {
  auto p = std::make_shared<PyObj>();
  p->kind = PyObj::kInt;
  p->i = v;
  return p;
}
PyRef py_str(std::string v) {
  auto p = std::make_shared<PyObj>();
  p->kind = PyObj::kStr;
  p->s = std::move(v);
  return p;
}

DType storage_dtype(const std::string& g) {
  static const std::map<std::string, DType> m = {
      {"torch.FloatStorage", DType::kFloat32}, {"torch.DoubleStorage", DType::kFloat64},
      {"torch.HalfStorage", DType::kFloat16},  {"torch.BFloat16Storage", DType::kBFloat16},
      {"torch.LongStorage", DType::kInt64},    {"torch.IntStorage", DType::kInt32},
      {"torch.ShortStorage", DType::kInt16},   {"torch.CharStorage", DType::kInt8},
      {"torch.ByteStorage", DType::kUInt8},    {"torch.BoolStorage", DType::kBool}};
  auto it = m.find(g);
  return it == m.end() ? DType::kUndefined : it->second;
}

namespace {

PyRef make(PyObj::Kind k) {
  auto p = std::make_shared<PyObj>();
  p->kind = k;
  return p;
}

class Vm {
 public:
  Vm(const std::string& b, const std::string& what) : b_(b), what_(what) {}
  StatusOr<PyRef> run();

 private:
  Status step(uint8_t op, bool& stop);
  Status step_more(uint8_t op);
  Status fail(const std::string& msg) const {
    return Corrupt(fmt::format("{}: bad pickle: {} at byte {}", what_, msg, at_));
  }
  bool need(size_t n) const { return pos_ + n <= b_.size(); }
  uint64_t uint(int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b_[pos_ + i]);
    pos_ += n;
    return v;
  }
  Status read_line(std::string& out);
  Status pop(PyRef& out);
  Status pop_mark(std::vector<PyRef>& out);
  Status reduce(const PyRef& fn, const PyRef& args, PyRef& out);
  Status persistent(const PyRef& pid, PyRef& out);
  Status set_items(const PyRef& d, const std::vector<PyRef>& kv);

  const std::string& b_;
  const std::string& what_;
  size_t pos_ = 0, at_ = 0;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, PyRef> memo_;
};

Status Vm::read_line(std::string& out) {
  size_t nl = b_.find('\n', pos_);
  if (nl == std::string::npos) return fail("unterminated line");
  out = b_.substr(pos_, nl - pos_);
  pos_ = nl + 1;
  return Status::Ok();
}

Status Vm::pop(PyRef& out) {
  if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) {
    return fail("stack underflow");
  }
  out = stack_.back();
  stack_.pop_back();
  return Status::Ok();
}

Status Vm::pop_mark(std::vector<PyRef>& out) {
  if (marks_.empty()) return fail("no MARK");
  size_t m = marks_.back();
  marks_.pop_back();
  out.assign(stack_.begin() + m, stack_.end());
  stack_.resize(m);
  return Status::Ok();
}

Status Vm::set_items(const PyRef& d, const std::vector<PyRef>& kv) {
  if (d->kind != PyObj::kDict) return fail("SETITEMS on a non-dict");
  for (size_t i = 0; i + 1 < kv.size(); i += 2) d->dict.emplace_back(kv[i], kv[i + 1]);
  return Status::Ok();
}

// Storages are ('storage', torch.<T>Storage, key, location, numel).
Status Vm::persistent(const PyRef& pid, PyRef& out) {
  if (pid->kind != PyObj::kTuple || pid->items.size() < 3 || !pid->items[0]->is_str("storage") ||
      pid->items[1]->kind != PyObj::kGlobal || pid->items[2]->kind != PyObj::kStr) {
    return fail("persistent id is not a ('storage', type, key, ...) tuple");
  }
  out = make(PyObj::kStorage);
  out->s = pid->items[2]->s;
  out->dtype = storage_dtype(pid->items[1]->s);
  if (out->dtype == DType::kUndefined) {
    return Unimplemented(
        fmt::format("{}: storage type {} is not supported", what_, pid->items[1]->s));
  }
  return Status::Ok();
}

Status Vm::reduce(const PyRef& fn, const PyRef& args, PyRef& out) {
  if (fn->kind != PyObj::kGlobal || args->kind != PyObj::kTuple) {
    return fail("REDUCE of a non-global or without an argument tuple");
  }
  const std::string& g = fn->s;
  const auto& a = args->items;
  if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
    if (a.size() < 4 || a[0]->kind != PyObj::kStorage || a[2]->kind != PyObj::kTuple ||
        a[3]->kind != PyObj::kTuple) {
      return fail("malformed _rebuild_tensor_v2 arguments");
    }
    auto t = std::make_shared<PyTensor>();
    t->storage_key = a[0]->s;
    t->dtype = a[0]->dtype;
    t->offset = a[1]->i;
    for (const auto& d : a[2]->items) t->sizes.push_back(d->i);
    for (const auto& d : a[3]->items) t->strides.push_back(d->i);
    out = make(PyObj::kTensor);
    out->tensor = t;
  } else if (g == "torch._utils._rebuild_parameter" || g == "torch.jit._pickle.restore_type_tag") {
    if (a.empty()) return fail(g + " without arguments");
    out = a[0];
  } else if (g == "collections.OrderedDict" || g == "builtins.dict") {
    out = make(PyObj::kDict);
  } else if (g.rfind("torch.jit._pickle.build_", 0) == 0) {  // build_intlist, ...
    if (a.empty()) return fail(g + " without arguments");
    out = a[0];
  } else {  // kept as a record: harmless unless the importer needs it
    out = make(PyObj::kObject);
    out->s = g;
    out->items = a;
  }
  return Status::Ok();
}

StatusOr<PyRef> Vm::run() {
  bool stop = false;
  while (!stop) {
    if (!need(1)) return fail("truncated (no STOP)");
    at_ = pos_;
    uint8_t op = static_cast<uint8_t>(b_[pos_++]);
    TSR_RETURN_IF_ERROR(step(op, stop));
  }
  PyRef r;
  TSR_RETURN_IF_ERROR(pop(r));
  return r;
}

Status Vm::step(uint8_t op, bool& stop) {
  auto push = [&](PyRef p) { stack_.push_back(std::move(p)); };
  auto need_or = [&](size_t n) { return need(n) ? Status::Ok() : fail("truncated operand"); };
  switch (op) {
    case 0x80:  // PROTO
      TSR_RETURN_IF_ERROR(need_or(1));
      if (uint(1) > 5) return fail("unsupported protocol");
      return Status::Ok();
    case 0x95:  // FRAME (protocol 4): the frame is just the following bytes
      TSR_RETURN_IF_ERROR(need_or(8));
      pos_ += 8;
      return Status::Ok();
    case '.':  // STOP
      stop = true;
      return Status::Ok();
    case '(':  // MARK
      marks_.push_back(stack_.size());
      return Status::Ok();
    case 'N':
      push(py_none());
      return Status::Ok();
    case 0x88:    // NEWTRUE
    case 0x89: {  // NEWFALSE
      PyRef p = make(PyObj::kBool);
      p->i = op == 0x88;
      push(p);
      return Status::Ok();
    }
    case 'J':
      TSR_RETURN_IF_ERROR(need_or(4));
      push(py_int(static_cast<int32_t>(uint(4))));
      return Status::Ok();
    case 'K':
      TSR_RETURN_IF_ERROR(need_or(1));
      push(py_int(static_cast<int64_t>(uint(1))));
      return Status::Ok();
    case 'M':
      TSR_RETURN_IF_ERROR(need_or(2));
      push(py_int(static_cast<int64_t>(uint(2))));
      return Status::Ok();
    case 0x8a: {  // LONG1: little-endian two's complement of n bytes
      TSR_RETURN_IF_ERROR(need_or(1));
      size_t n = uint(1);
      if (n > 8) return fail("LONG1 wider than 64 bits");
      TSR_RETURN_IF_ERROR(need_or(n));
      uint64_t v = n ? uint(static_cast<int>(n)) : 0;
      if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
      push(py_int(static_cast<int64_t>(v)));
      return Status::Ok();
    }
    case 'G': {  // BINFLOAT: big-endian double
      TSR_RETURN_IF_ERROR(need_or(8));
      uint64_t v = 0;
      for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b_[pos_ + i]);
      pos_ += 8;
      PyRef p = make(PyObj::kFloat);
      std::memcpy(&p->f, &v, 8);
      push(p);
      return Status::Ok();
    }
    default:
      return step_more(op);
  }
}

Status Vm::step_more(uint8_t op) {
  auto push = [&](PyRef p) { stack_.push_back(std::move(p)); };
  auto need_or = [&](size_t n) { return need(n) ? Status::Ok() : fail("truncated operand"); };
  switch (op) {
    case 'X':
    case 0x8c:
    case 0x8d:
    case 'T':
    case 'U':
    case 'B':
    case 'C': {  // strings, bytes
      int w = op == 'X' || op == 'T' || op == 'B' ? 4 : op == 0x8d ? 8 : 1;
      TSR_RETURN_IF_ERROR(need_or(w));
      uint64_t n = uint(w);
      TSR_RETURN_IF_ERROR(need_or(n));
      push(py_str(b_.substr(pos_, n)));
      pos_ += n;
      return Status::Ok();
    }
    case 'c': {  // GLOBAL "module\nname\n"
      std::string mod, name;
      TSR_RETURN_IF_ERROR(read_line(mod));
      TSR_RETURN_IF_ERROR(read_line(name));
      PyRef g = make(PyObj::kGlobal);
      g->s = mod + "." + name;
      push(g);
      return Status::Ok();
    }
    case 0x93: {  // STACK_GLOBAL
      PyRef name, mod;
      TSR_RETURN_IF_ERROR(pop(name));
      TSR_RETURN_IF_ERROR(pop(mod));
      PyRef g = make(PyObj::kGlobal);
      g->s = mod->s + "." + name->s;
      push(g);
      return Status::Ok();
    }
    case 'q':
    case 'r':
    case 0x94: {  // BINPUT, LONG_BINPUT, MEMOIZE
      if (stack_.empty()) return fail("memo of an empty stack");
      uint64_t k = memo_.size();
      if (op != 0x94) {
        TSR_RETURN_IF_ERROR(need_or(op == 'q' ? 1 : 4));
        k = uint(op == 'q' ? 1 : 4);
      }
      memo_[k] = stack_.back();
      return Status::Ok();
    }
    case 'h':
    case 'j': {  // BINGET, LONG_BINGET
      TSR_RETURN_IF_ERROR(need_or(op == 'h' ? 1 : 4));
      auto it = memo_.find(uint(op == 'h' ? 1 : 4));
      if (it == memo_.end()) return fail("memo key not found");
      push(it->second);
      return Status::Ok();
    }
    case ')':
      push(make(PyObj::kTuple));
      return Status::Ok();
    case ']':
      push(make(PyObj::kList));
      return Status::Ok();
    case '}':
      push(make(PyObj::kDict));
      return Status::Ok();
    case 't':
    case 'l':
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE, LIST, TUPLE1-3
      PyRef t = make(op == 'l' ? PyObj::kList : PyObj::kTuple);
      if (op == 't' || op == 'l') {
        TSR_RETURN_IF_ERROR(pop_mark(t->items));
      } else {
        size_t n = op - 0x84;
        if (stack_.size() < n) return fail("stack underflow");
        t->items.assign(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
      }
      push(t);
      return Status::Ok();
    }
    case 'a':
    case 'e': {  // APPEND, APPENDS
      std::vector<PyRef> xs(1);
      if (op == 'e') {
        TSR_RETURN_IF_ERROR(pop_mark(xs));
      } else {
        TSR_RETURN_IF_ERROR(pop(xs[0]));
      }
      if (stack_.empty() || stack_.back()->kind != PyObj::kList)
        return fail("APPEND to a non-list");
      for (auto& x : xs) stack_.back()->items.push_back(x);
      return Status::Ok();
    }
    case 's':
    case 'u': {  // SETITEM, SETITEMS
      std::vector<PyRef> kv(2);
      if (op == 'u') {
        TSR_RETURN_IF_ERROR(pop_mark(kv));
      } else {
        TSR_RETURN_IF_ERROR(pop(kv[1]));
        TSR_RETURN_IF_ERROR(pop(kv[0]));
      }
      if (stack_.empty()) return fail("SETITEM without a dict");
      return set_items(stack_.back(), kv);
    }
    case 'Q': {  // BINPERSID
      PyRef pid, out;
      TSR_RETURN_IF_ERROR(pop(pid));
      TSR_RETURN_IF_ERROR(persistent(pid, out));
      push(out);
      return Status::Ok();
    }
    case 'R':
    case 0x81: {  // REDUCE, NEWOBJ
      PyRef args, fn, out;
      TSR_RETURN_IF_ERROR(pop(args));
      TSR_RETURN_IF_ERROR(pop(fn));
      if (op == 'R') {
        TSR_RETURN_IF_ERROR(reduce(fn, args, out));
      } else {
        out = make(PyObj::kObject);
        out->s = fn->s;
        out->items = args->items;
      }
      push(out);
      return Status::Ok();
    }
    case 'b': {  // BUILD: a module's attribute dict; tensors' hook dicts are dropped
      PyRef state;
      TSR_RETURN_IF_ERROR(pop(state));
      if (stack_.empty()) return fail("BUILD without an object");
      if (stack_.back()->kind == PyObj::kObject && state->kind == PyObj::kDict) {
        stack_.back()->dict = state->dict;
      }
      return Status::Ok();
    }
    case '0': {
      PyRef x;
      return pop(x);
    }  // POP
    case '1': {
      std::vector<PyRef> x;
      return pop_mark(x);
    }          // POP_MARK
    case '2':  // DUP
      if (stack_.empty()) return fail("DUP of an empty stack");
      push(stack_.back());
      return Status::Ok();
    default:
      return fail(fmt::format("unsupported opcode 0x{:02x}", op));
  }
}

}  // namespace

StatusOr<PyRef> unpickle(const std::string& bytes, const std::string& what) {
  Vm vm(bytes, what);
  return vm.run();
}

}  // namespace tessera::ts_fe
