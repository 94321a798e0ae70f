// TCP backend of Comm: what torchrun-style launches (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// no MPI) use on the CPU. Correct and dependency-free, not fast: every collective is a direct
// exchange between the group's members over the full mesh of sockets (tcp_transport.h), with
// no pipelining, so it suits tests, small jobs and CPU runs; GPUs move tensors through NCCL.
//
// AllReduce is a reduce-scatter of group-rank chunks followed by an all-gather of the sums:
// each chunk is summed once, in group-rank order, so every rank ends with the same bits.
// abort() notifies the peers, closes every connection and exits the process, like MPI_Abort.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "comm_internal.h"
#include "tcp_transport.h"

namespace tessera::runtime {
namespace {

// memcpy that accepts an empty range: a rank's share of a small tensor can be zero bytes, and
// an empty std::vector's data() is null, which memcpy may not receive even for size 0 (UBSan).
void copy_bytes(void* dst, const void* src, size_t n) {
  if (n > 0) std::memcpy(dst, src, n);
}

template <class T>
void add_into(T* acc, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

// acc += x for `count` elements of dt; the dtypes of MpiComm's sum.
Status add_typed(DType dt, void* acc, const void* x, int64_t count) {
  switch (dt) {
#define TSR_SUM_CASE(D, T)                                           \
  case DType::D:                                                     \
    add_into(static_cast<T*>(acc), static_cast<const T*>(x), count); \
    return Status::Ok();
    TSR_SUM_CASE(kFloat32, float)
    TSR_SUM_CASE(kFloat64, double)
    TSR_SUM_CASE(kInt8, int8_t)
    TSR_SUM_CASE(kUInt8, uint8_t)
    TSR_SUM_CASE(kInt16, int16_t)
    TSR_SUM_CASE(kUInt16, uint16_t)
    TSR_SUM_CASE(kInt32, int32_t)
    TSR_SUM_CASE(kUInt32, uint32_t)
    TSR_SUM_CASE(kInt64, int64_t)
    TSR_SUM_CASE(kUInt64, uint64_t)
#undef TSR_SUM_CASE
    default:
      return Unimplemented(std::string("TCP sum of ") + dtype_name(dt) + " is not supported");
  }
}

class TcpComm final : public Comm {
 public:
  TcpComm(int rank, int size, std::vector<tcp::Socket> peers, double timeout_s)
      : rank_(rank), size_(size), mesh_(rank, std::move(peers), timeout_s) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "tcp"; }
  Status barrier() override;
  Status broadcast(std::vector<uint8_t>* bytes, int root) override;
  void abort(int code) override {
    mesh_.abort(code);
    std::fflush(nullptr);
    std::_Exit(code);  // as MPI_Abort: no return, no static destructors that might wait on peers
  }

 protected:
  Status group_all_reduce(const Group& g, DType dt, const void* in, void* out,
                          int64_t count) override;
  Status group_all_gather(const Group& g, const void* in, void* out, int64_t block_bytes) override;
  Status group_reduce_scatter(const Group& g, DType dt, const void* in, void* out,
                              int64_t block_count) override;
  Status group_all_to_all(const Group& g, const void* in, void* out, int64_t block_bytes) override;

 private:
  std::vector<int> members(const Group& g) const;
  // Block j of `send` to member j and member j's block into `recv` + j * block (own block
  // skipped: the callers copy it).
  Status swap_blocks(const std::vector<int>& m, int self, const uint8_t* send, int64_t send_block,
                     uint8_t* recv, int64_t block);
  Status check(Status s) {
    if (!s.ok()) return Status(s.code(), "rank " + std::to_string(rank_) + ": " + s.message());
    return s;
  }

  int rank_, size_;
  tcp::Mesh mesh_;
};

// World ranks of the group's members in group-rank order: this rank's coordinates with the
// group's axes replaced by each member's (major-first in the listed order, as Comm::group).
std::vector<int> TcpComm::members(const Group& g) const {
  const std::vector<int64_t>& sizes = mesh_sizes();
  std::vector<int> out(g.size);
  for (int i = 0; i < g.size; ++i) {
    std::vector<int64_t> c = coords();
    int64_t rem = i;
    for (size_t k = g.axes.size(); k-- > 0;) {
      c[g.axes[k]] = rem % sizes[g.axes[k]];
      rem /= sizes[g.axes[k]];
    }
    int64_t r = 0;
    for (size_t a = 0; a < c.size(); ++a) r = r * sizes[a] + c[a];
    out[i] = static_cast<int>(r);
  }
  return out;
}

Status TcpComm::swap_blocks(const std::vector<int>& m, int self, const uint8_t* send,
                            int64_t send_block, uint8_t* recv, int64_t block) {
  std::vector<tcp::Transfer> s, r;
  for (size_t j = 0; j < m.size(); ++j) {
    if (static_cast<int>(j) == self) continue;
    s.push_back({m[j], const_cast<uint8_t*>(send + j * send_block), block});
    r.push_back({m[j], recv + j * block, block});
  }
  return check(mesh_.exchange(s, r));
}

Status TcpComm::barrier() {
  std::vector<tcp::Transfer> s, r;  // an empty message to and from everyone
  for (int p = 0; p < size_; ++p)
    if (p != rank_) s.push_back({p, nullptr, 0}), r.push_back({p, nullptr, 0});
  return check(mesh_.exchange(s, r));
}

Status TcpComm::broadcast(std::vector<uint8_t>* bytes, int root) {
  if (root < 0 || root >= size_) return InvalidArgument("broadcast root " + std::to_string(root));
  uint64_t n = bytes->size();
  std::vector<tcp::Transfer> s, r;
  if (rank_ == root) {
    for (int p = 0; p < size_; ++p)
      if (p != root) s.push_back({p, reinterpret_cast<uint8_t*>(&n), 8});
    TSR_RETURN_IF_ERROR(check(mesh_.exchange(s, {})));
    for (auto& t : s) t.data = bytes->data(), t.bytes = static_cast<int64_t>(n);
    return check(mesh_.exchange(s, {}));
  }
  TSR_RETURN_IF_ERROR(check(mesh_.exchange({}, {{root, reinterpret_cast<uint8_t*>(&n), 8}})));
  bytes->resize(n);
  return check(mesh_.exchange({}, {{root, bytes->data(), static_cast<int64_t>(n)}}));
}

Status TcpComm::group_all_gather(const Group& g, const void* in, void* out, int64_t block_bytes) {
  auto* o = static_cast<uint8_t*>(out);
  copy_bytes(o + g.rank * block_bytes, in, static_cast<size_t>(block_bytes));
  const std::vector<int> m = members(g);
  std::vector<tcp::Transfer> s, r;
  for (int j = 0; j < g.size; ++j) {
    if (j == g.rank) continue;
    s.push_back({m[j], static_cast<uint8_t*>(const_cast<void*>(in)), block_bytes});
    r.push_back({m[j], o + j * block_bytes, block_bytes});
  }
  return check(mesh_.exchange(s, r));
}

Status TcpComm::group_all_to_all(const Group& g, const void* in, void* out, int64_t block_bytes) {
  const auto* i = static_cast<const uint8_t*>(in);
  auto* o = static_cast<uint8_t*>(out);
  copy_bytes(o + g.rank * block_bytes, i + g.rank * block_bytes, static_cast<size_t>(block_bytes));
  return swap_blocks(members(g), g.rank, i, block_bytes, o, block_bytes);
}

Status TcpComm::group_reduce_scatter(const Group& g, DType dt, const void* in, void* out,
                                     int64_t block_count) {
  const int64_t es = dtype_size(dt), bb = block_count * es;
  const auto* i = static_cast<const uint8_t*>(in);
  std::vector<uint8_t> got(static_cast<size_t>(bb * g.size));
  TSR_RETURN_IF_ERROR(swap_blocks(members(g), g.rank, i, bb, got.data(), bb));
  copy_bytes(got.data() + g.rank * bb, i + g.rank * bb, static_cast<size_t>(bb));
  std::vector<uint8_t> acc(got.begin(), got.begin() + bb);  // group-rank order: same bits as
  for (int j = 1; j < g.size; ++j)                          // the all-reduce below
    TSR_RETURN_IF_ERROR(add_typed(dt, acc.data(), got.data() + j * bb, block_count));
  copy_bytes(out, acc.data(), static_cast<size_t>(bb));
  return Status::Ok();
}

Status TcpComm::group_all_reduce(const Group& g, DType dt, const void* in, void* out,
                                 int64_t count) {
  const int64_t es = dtype_size(dt);
  std::vector<uint8_t> probe(static_cast<size_t>(es));  // reject unsupported dtypes up front
  TSR_RETURN_IF_ERROR(add_typed(dt, probe.data(), probe.data(), 0));
  const std::vector<int> m = members(g);
  auto lo = [&](int j) { return count * j / g.size; };  // chunk j = [lo(j), lo(j+1))
  const int64_t mine = lo(g.rank + 1) - lo(g.rank);
  const auto* i = static_cast<const uint8_t*>(in);
  auto* o = static_cast<uint8_t*>(out);
  // Phase 1: chunk j of my input to member j; every member's copy of my chunk to me.
  std::vector<uint8_t> got(static_cast<size_t>(mine * es * g.size));
  std::vector<tcp::Transfer> s, r;
  for (int j = 0; j < g.size; ++j) {
    if (j == g.rank) continue;
    s.push_back({m[j], const_cast<uint8_t*>(i + lo(j) * es), (lo(j + 1) - lo(j)) * es});
    r.push_back({m[j], got.data() + j * mine * es, mine * es});
  }
  TSR_RETURN_IF_ERROR(check(mesh_.exchange(s, r)));
  copy_bytes(got.data() + g.rank * mine * es, i + lo(g.rank) * es, static_cast<size_t>(mine * es));
  std::vector<uint8_t> sum(got.begin(), got.begin() + mine * es);
  for (int j = 1; j < g.size; ++j)
    TSR_RETURN_IF_ERROR(add_typed(dt, sum.data(), got.data() + j * mine * es, mine));
  // Phase 2 (in may alias out: phase 1 has finished reading it): my sum to all, theirs to me.
  copy_bytes(o + lo(g.rank) * es, sum.data(), static_cast<size_t>(mine * es));
  s.clear();
  r.clear();
  for (int j = 0; j < g.size; ++j) {
    if (j == g.rank) continue;
    s.push_back({m[j], sum.data(), mine * es});
    r.push_back({m[j], o + lo(j) * es, (lo(j + 1) - lo(j)) * es});
  }
  return check(mesh_.exchange(s, r));
}

}  // namespace

StatusOr<std::shared_ptr<Comm>> make_tcp_comm(const TcpCommOptions& o) {
  tcp::RendezvousOptions ro;
  ro.rank = o.rank;
  ro.world = o.world;
  ro.master_addr = o.master_addr;
  ro.master_port = o.master_port;
  ro.connect_timeout_s = o.connect_timeout_s;
  TSR_ASSIGN_OR_RETURN(std::vector<tcp::Socket> peers, tcp::connect_mesh(ro));
  return std::shared_ptr<Comm>(
      std::make_shared<TcpComm>(o.rank, o.world, std::move(peers), o.timeout_s));
}

}  // namespace tessera::runtime
