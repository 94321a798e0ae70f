// Framed, poll-driven exchange over the full mesh of sockets (tcp_transport.h). All sockets are
// non-blocking; a process-wide SIGPIPE is avoided with MSG_NOSIGNAL on every send.
#include "tcp_transport.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace tessera::runtime::tcp {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMsgMagic = 0x4D525354;  // "TSRM"
constexpr uint32_t kKindData = 0, kKindAbort = 1;
constexpr int64_t kHeader = 16;

void put_header(uint8_t* h, uint32_t kind, uint64_t len) {
  std::memcpy(h, &kMsgMagic, 4);
  std::memcpy(h + 4, &kind, 4);
  std::memcpy(h + 8, &len, 8);
}

std::string peer_gone(int peer, const char* how) {
  return "peer rank " + std::to_string(peer) + " " + how +
         " (that process exited, failed or was killed; see its error)";
}

struct Out {  // one send: header then payload
  int peer;
  uint8_t hdr[kHeader];
  const uint8_t* data;
  int64_t bytes, done = 0;
};
struct In {  // one receive: header (checked) then payload
  int peer;
  uint8_t hdr[kHeader];
  uint8_t* data;
  int64_t bytes, done = 0;
};

Status check_header(const In& in) {
  uint32_t magic = 0, kind = 0;
  uint64_t len = 0;
  std::memcpy(&magic, in.hdr, 4);
  std::memcpy(&kind, in.hdr + 4, 4);
  std::memcpy(&len, in.hdr + 8, 8);
  const std::string p = "peer rank " + std::to_string(in.peer);
  if (magic != kMsgMagic) return Status(Code::kComm, p + " sent bytes that are not a message");
  if (kind == kKindAbort)
    return Status(Code::kComm, p + " aborted the job (exit code " + std::to_string(len) + ")");
  if (len != static_cast<uint64_t>(in.bytes))
    return Status(Code::kComm, p + " sent " + std::to_string(len) + " bytes where " +
                                   std::to_string(in.bytes) +
                                   " were expected (do all ranks run the same plan?)");
  return Status::Ok();
}

// Moves what the socket takes now; false with *err set on a failure.
bool pump_send(int fd, Out* o, Status* err) {
  const int64_t total = kHeader + o->bytes;
  while (o->done < total) {
    iovec iov[2];
    int n = 0;
    if (o->done < kHeader) iov[n++] = {o->hdr + o->done, static_cast<size_t>(kHeader - o->done)};
    const int64_t off = std::max<int64_t>(0, o->done - kHeader);
    if (o->bytes > off)
      iov[n++] = {const_cast<uint8_t*>(o->data) + off, static_cast<size_t>(o->bytes - off)};
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = n;
    const ssize_t k = ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (k < 0) {
      *err = Status(Code::kComm,
                    peer_gone(o->peer, "closed its connection") + ": " + std::strerror(errno));
      return false;
    }
    o->done += k;
  }
  return true;
}

bool pump_recv(int fd, In* in, Status* err) {
  const int64_t total = kHeader + in->bytes;
  while (in->done < total) {
    uint8_t* dst = in->done < kHeader ? in->hdr + in->done : in->data + (in->done - kHeader);
    const int64_t want = in->done < kHeader ? kHeader - in->done : total - in->done;
    const ssize_t k = ::recv(fd, dst, static_cast<size_t>(want), MSG_DONTWAIT);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (k <= 0) {
      *err = Status(Code::kComm, peer_gone(in->peer, "closed its connection") +
                                     (k < 0 ? std::string(": ") + std::strerror(errno) : ""));
      return false;
    }
    const bool had_header = in->done >= kHeader;
    in->done += k;
    if (!had_header && in->done >= kHeader) {
      *err = check_header(*in);
      if (!err->ok()) return false;
    }
  }
  return true;
}

}  // namespace

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.release();
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status Mesh::exchange(const std::vector<Transfer>& sends, const std::vector<Transfer>& recvs) {
  std::vector<Out> outs;
  std::vector<In> ins;
  for (const Transfer& t : sends) {
    if (t.peer < 0 || t.peer >= static_cast<int>(peers_.size()) || !peers_[t.peer].valid())
      return Internal("TCP exchange: no connection to rank " + std::to_string(t.peer));
    outs.push_back({t.peer, {}, t.data, t.bytes});
    put_header(outs.back().hdr, kKindData, static_cast<uint64_t>(t.bytes));
  }
  for (const Transfer& t : recvs) {
    if (t.peer < 0 || t.peer >= static_cast<int>(peers_.size()) || !peers_[t.peer].valid())
      return Internal("TCP exchange: no connection to rank " + std::to_string(t.peer));
    ins.push_back({t.peer, {}, t.data, t.bytes});
  }
  const auto t0 = Clock::now();
  Status err;
  auto fail = [&](Status s) {
    for (const Out& o : outs)  // a half-sent message: no abort frame may follow it
      if (o.done > 0 && o.done < kHeader + o.bytes) dirty_[o.peer] = true;
    return s;
  };
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::pair<bool, size_t>> what;  // (is send, index)
    for (size_t i = 0; i < outs.size(); ++i)
      if (outs[i].done < kHeader + outs[i].bytes) {
        fds.push_back({peers_[outs[i].peer].fd(), POLLOUT, 0});
        what.push_back({true, i});
      }
    for (size_t i = 0; i < ins.size(); ++i)
      if (ins[i].done < kHeader + ins[i].bytes) {
        fds.push_back({peers_[ins[i].peer].fd(), POLLIN, 0});
        what.push_back({false, i});
      }
    if (fds.empty()) return Status::Ok();
    int ms = -1;
    if (timeout_s_ > 0) {
      const double left = timeout_s_ - std::chrono::duration<double>(Clock::now() - t0).count();
      if (left <= 0) {
        std::string who;
        for (auto [send, i] : what) who += " " + std::to_string(send ? outs[i].peer : ins[i].peer);
        return fail(Status(Code::kComm, "collective not finished after " +
                                            std::to_string(timeout_s_) + " s, waiting for rank(s)" +
                                            who + " (TSR_COMM_TIMEOUT sets the limit)"));
      }
      ms = static_cast<int>(left * 1000) + 1;
    }
    const int r = ::poll(fds.data(), fds.size(), ms);
    if (r < 0 && errno != EINTR)
      return fail(Internal(std::string("poll: ") + std::strerror(errno)));
    for (size_t k = 0; r > 0 && k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      const auto [send, i] = what[k];
      const bool ok =
          send ? pump_send(fds[k].fd, &outs[i], &err) : pump_recv(fds[k].fd, &ins[i], &err);
      if (!ok) return fail(err);
    }
  }
}

void Mesh::abort(int code) {
  uint8_t h[kHeader];
  put_header(h, kKindAbort, static_cast<uint64_t>(code));
  for (size_t p = 0; p < peers_.size(); ++p) {
    if (!peers_[p].valid()) continue;
    // Best effort: a full socket buffer just drops the notice; the close below still ends it.
    const int fd = peers_[p].fd();
    if (!dirty_[p]) (void)!::send(fd, h, sizeof h, MSG_NOSIGNAL | MSG_DONTWAIT);
    // Unread input would make close() send a reset, which can drop the notice still queued.
    uint8_t sink[4096];
    while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    ::shutdown(fd, SHUT_WR);
    peers_[p].close();
  }
}

}  // namespace tessera::runtime::tcp
