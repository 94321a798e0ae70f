// Comm base class: mesh bookkeeping, group resolution, and the tensor-level collectives built
// on the backends' contiguous-block primitives, and SingleComm. Launchers: launcher.cpp.
#include "tessera/comm.h"

#include <cstring>

#include "comm_internal.h"
#include "kernels/cpu/cpu_kernels.h"  // widen_16bit / narrow_16bit
#include "layout.h"

namespace tessera::runtime {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

Status check_same(const char* op, const BufferRef& in, const BufferRef& out, const Shape& want) {
  if (in.dtype != out.dtype || dtype_size(in.dtype) == 0)
    return InvalidArgument(std::string(op) + ": input " + dtype_name(in.dtype) + ", output " +
                           dtype_name(out.dtype));
  if (out.shape != want)
    return InvalidArgument(std::string(op) + ": output shape " + shape_str(out.shape) +
                           ", expected " + shape_str(want) + " from input " + shape_str(in.shape));
  return Status::Ok();
}

Status check_dim(const char* op, const BufferRef& in, int64_t dim, int n) {
  if (dim < 0 || dim >= static_cast<int64_t>(in.shape.size()))
    return InvalidArgument(std::string(op) + ": dim " + std::to_string(dim) + " out of range for " +
                           shape_str(in.shape));
  if (in.shape[dim] % n != 0)
    return InvalidArgument(std::string(op) + ": dim " + std::to_string(dim) + " of " +
                           shape_str(in.shape) + " not divisible by group size " +
                           std::to_string(n));
  return Status::Ok();
}

Shape with_dim(Shape s, int64_t dim, int64_t v) {
  s[dim] = v;
  return s;
}

class SingleComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* backend() const override { return "single"; }
  Status barrier() override { return Status::Ok(); }
  Status broadcast(std::vector<uint8_t>*, int root) override {
    return root == 0
               ? Status::Ok()
               : InvalidArgument("broadcast root " + std::to_string(root) + " in a world of 1");
  }
  void abort(int) override {}

 protected:
  // Groups in a world of one always have size 1 and never reach these.
  Status group_all_reduce(const Group&, DType, const void*, void*, int64_t) override {
    return bad();
  }
  Status group_all_gather(const Group&, const void*, void*, int64_t) override { return bad(); }
  Status group_reduce_scatter(const Group&, DType, const void*, void*, int64_t) override {
    return bad();
  }
  Status group_all_to_all(const Group&, const void*, void*, int64_t) override { return bad(); }

 private:
  static Status bad() { return Internal("single-rank communicator asked for a group > 1"); }
};

}  // namespace

Status Comm::set_mesh(const std::vector<std::string>& names, const std::vector<int64_t>& sizes) {
  int64_t prod = 1;
  for (int64_t s : sizes) prod *= s;
  if (prod != size())
    return Status(Code::kComm, "plan mesh has " + std::to_string(prod) +
                                   " ranks but the world has " + std::to_string(size()) +
                                   " (launch with -np " + std::to_string(prod) + ")");
  names_ = names;
  sizes_ = sizes;
  coords_.assign(sizes.size(), 0);
  int64_t r = rank();
  for (size_t i = sizes.size(); i-- > 0;) {  // row-major: last axis fastest
    coords_[i] = r % sizes[i];
    r /= sizes[i];
  }
  return Status::Ok();
}

StatusOr<Group> Comm::group(const std::vector<std::string>& axes) const {
  Group g;
  std::vector<bool> used(names_.size(), false);
  for (const auto& a : axes) {
    int idx = -1;
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == a) idx = static_cast<int>(i);
    if (idx < 0) return InvalidArgument("collective over unknown mesh axis '" + a + "'");
    if (used[idx]) return InvalidArgument("collective lists mesh axis '" + a + "' twice");
    used[idx] = true;
    g.axes.push_back(idx);
    g.rank = static_cast<int>(g.rank * sizes_[idx] + coords_[idx]);
    g.size = static_cast<int>(g.size * sizes_[idx]);
  }
  for (size_t i = 0; i < names_.size(); ++i)
    if (!used[i]) g.color = static_cast<int>(g.color * sizes_[i] + coords_[i]);
  g.key = join(axes);
  return g;
}

Status Comm::all_reduce(const std::vector<std::string>& axes, const BufferRef& in,
                        const BufferRef& out) {
  TSR_RETURN_IF_ERROR(check_same("AllReduce", in, out, in.shape));
  TSR_ASSIGN_OR_RETURN(Group g, group(axes));
  if (g.size == 1) {
    if (in.data != out.data) std::memmove(out.data, in.data, in.bytes());
    return Status::Ok();
  }
  const int64_t n = num_elements(in.shape);
  if (in.dtype == DType::kBFloat16 || in.dtype == DType::kFloat16) {
    // Summed in f32 and rounded once (neither MPI nor the TCP sum has a 16-bit float type).
    std::vector<float> wide(static_cast<size_t>(n));
    kernels::widen_16bit(in.dtype, in.data, wide.data(), n);
    TSR_RETURN_IF_ERROR(group_all_reduce(g, DType::kFloat32, wide.data(), wide.data(), n));
    kernels::narrow_16bit(in.dtype, wide.data(), out.data, n);
    return Status::Ok();
  }
  return group_all_reduce(g, in.dtype, in.data, out.data, n);
}

Status Comm::all_gather(const std::vector<std::string>& axes, int64_t dim, const BufferRef& in,
                        const BufferRef& out) {
  TSR_ASSIGN_OR_RETURN(Group g, group(axes));
  TSR_RETURN_IF_ERROR(check_dim("AllGather", in, dim, 1));
  TSR_RETURN_IF_ERROR(
      check_same("AllGather", in, out, with_dim(in.shape, dim, in.shape[dim] * g.size)));
  if (g.size == 1) {
    if (in.data != out.data) std::memmove(out.data, in.data, in.bytes());
    return Status::Ok();
  }
  // Gathered blocks are rank-major; merge_blocks interleaves them along dim (one extra copy).
  std::vector<uint8_t> blocks(static_cast<size_t>(out.bytes()));
  TSR_RETURN_IF_ERROR(group_all_gather(g, in.data, blocks.data(), in.bytes()));
  merge_blocks(blocks.data(), in.shape, dim, g.size, dtype_size(in.dtype),
               static_cast<uint8_t*>(out.data));
  return Status::Ok();
}

Status Comm::reduce_scatter(const std::vector<std::string>& axes, int64_t dim, const BufferRef& in,
                            const BufferRef& out) {
  TSR_ASSIGN_OR_RETURN(Group g, group(axes));
  TSR_RETURN_IF_ERROR(check_dim("ReduceScatter", in, dim, g.size));
  TSR_RETURN_IF_ERROR(
      check_same("ReduceScatter", in, out, with_dim(in.shape, dim, in.shape[dim] / g.size)));
  if (g.size == 1) {
    if (in.data != out.data) std::memmove(out.data, in.data, in.bytes());
    return Status::Ok();
  }
  std::vector<uint8_t> blocks(static_cast<size_t>(in.bytes()));
  split_blocks(static_cast<const uint8_t*>(in.data), in.shape, dim, g.size, dtype_size(in.dtype),
               blocks.data());
  const int64_t n = num_elements(out.shape);
  if (in.dtype == DType::kBFloat16 || in.dtype == DType::kFloat16) {  // as all_reduce
    std::vector<float> wide(static_cast<size_t>(num_elements(in.shape))), part(n);
    kernels::widen_16bit(in.dtype, blocks.data(), wide.data(), num_elements(in.shape));
    TSR_RETURN_IF_ERROR(group_reduce_scatter(g, DType::kFloat32, wide.data(), part.data(), n));
    kernels::narrow_16bit(in.dtype, part.data(), out.data, n);
    return Status::Ok();
  }
  return group_reduce_scatter(g, in.dtype, blocks.data(), out.data, n);
}

Status Comm::all_to_all(const std::vector<std::string>& axes, int64_t split_dim, int64_t concat_dim,
                        const BufferRef& in, const BufferRef& out) {
  TSR_ASSIGN_OR_RETURN(Group g, group(axes));
  TSR_RETURN_IF_ERROR(check_dim("AllToAll", in, split_dim, g.size));
  TSR_RETURN_IF_ERROR(check_dim("AllToAll", in, concat_dim, 1));
  const Shape block = with_dim(in.shape, split_dim, in.shape[split_dim] / g.size);
  TSR_RETURN_IF_ERROR(
      check_same("AllToAll", in, out, with_dim(block, concat_dim, block[concat_dim] * g.size)));
  if (g.size == 1) {
    if (in.data != out.data) std::memmove(out.data, in.data, in.bytes());
    return Status::Ok();
  }
  const int64_t es = dtype_size(in.dtype);
  std::vector<uint8_t> send(static_cast<size_t>(in.bytes())), recv(send.size());
  split_blocks(static_cast<const uint8_t*>(in.data), in.shape, split_dim, g.size, es, send.data());
  TSR_RETURN_IF_ERROR(group_all_to_all(g, send.data(), recv.data(), in.bytes() / g.size));
  merge_blocks(recv.data(), block, concat_dim, g.size, es, static_cast<uint8_t*>(out.data));
  return Status::Ok();
}

Status Comm::make_partial(const std::vector<std::string>& axes, const BufferRef& in,
                          const BufferRef& out) {
  TSR_ASSIGN_OR_RETURN(Group g, group(axes));
  TSR_RETURN_IF_ERROR(check_same("MakePartial", in, out, in.shape));
  const size_t n = static_cast<size_t>(in.bytes());
  if (g.rank == 0) {
    if (out.data != in.data) std::memcpy(out.data, in.data, n);
  } else {
    std::memset(out.data, 0, n);
  }
  return Status::Ok();
}

Status Comm::shard_slice(const std::vector<std::string>& axes, int64_t dim, const BufferRef& in,
                         const BufferRef& out) {
  TSR_ASSIGN_OR_RETURN(Group g, group(axes));
  TSR_RETURN_IF_ERROR(check_dim("ShardSlice", in, dim, g.size));
  const int64_t c = in.shape[dim] / g.size;
  TSR_RETURN_IF_ERROR(check_same("ShardSlice", in, out, with_dim(in.shape, dim, c)));
  Shape starts(in.shape.size(), 0);
  starts[dim] = c * g.rank;
  copy_box(static_cast<const uint8_t*>(in.data), in.shape, starts, out.shape, dtype_size(in.dtype),
           static_cast<uint8_t*>(out.data));
  return Status::Ok();
}

std::shared_ptr<Comm> make_single_comm() { return std::make_shared<SingleComm>(); }

}  // namespace tessera::runtime
