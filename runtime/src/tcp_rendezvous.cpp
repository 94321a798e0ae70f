// Rendezvous of the TCP communicator (tcp_transport.h). Rank 0 listens on MASTER_PORT (all
// interfaces of MASTER_ADDR's address family, like torchrun's store); every other rank opens
// its own listener on the interface that reaches rank 0, connects to rank 0 (retrying until
// TSR_CONNECT_TIMEOUT) and says hello: rank, world size, listener address. Rank 0 answers
// with the table of all listeners; rank r then connects to ranks 1..r-1 and accepts r+1..N-1.
// Integers travel in host byte order: all ranks of a job are assumed to share one architecture.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tcp_transport.h"

namespace tessera::runtime::tcp {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kHello = 0x31525354;      // "TSR1": rank -> rank 0
constexpr uint32_t kPeerHello = 0x32525354;  // "TSR2": rank -> lower rank
constexpr uint32_t kMaxHost = 1024;

struct Endpoint {
  std::string host;
  uint32_t port = 0;
};

Status comm_error(std::string m) { return Status(Code::kComm, std::move(m)); }

std::string secs(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", s);
  return b;
}

int ms_left(Clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return d.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(d.count(), 1 << 30));
}

// False on timeout; true when ready (or on a poll error, which the next call reports).
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const int ms = ms_left(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms);
    if (r != 0 && !(r < 0 && errno == EINTR)) return true;
  }
}

Status read_full(int fd, void* buf, size_t n, Clock::time_point deadline, const std::string& who) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    if (!wait_fd(fd, POLLIN, deadline)) return comm_error("timed out waiting for " + who);
    const ssize_t k = ::recv(fd, p, n, MSG_DONTWAIT);
    if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (k == 0) return comm_error(who + " closed the connection");
    if (k < 0) return comm_error("reading from " + who + ": " + std::strerror(errno));
    p += k;
    n -= static_cast<size_t>(k);
  }
  return Status::Ok();
}

Status write_full(int fd, const std::vector<uint8_t>& b, Clock::time_point deadline,
                  const std::string& who) {
  size_t done = 0;
  while (done < b.size()) {
    if (!wait_fd(fd, POLLOUT, deadline)) return comm_error("timed out writing to " + who);
    const ssize_t k = ::send(fd, b.data() + done, b.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (k < 0) return comm_error("writing to " + who + ": " + std::strerror(errno));
    done += static_cast<size_t>(k);
  }
  return Status::Ok();
}

void put_u32(std::vector<uint8_t>* b, uint32_t v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b->insert(b->end(), p, p + 4);
}
void put_endpoint(std::vector<uint8_t>* b, const Endpoint& e) {
  put_u32(b, e.port);
  put_u32(b, static_cast<uint32_t>(e.host.size()));
  b->insert(b->end(), e.host.begin(), e.host.end());
}
Status get_u32(int fd, uint32_t* v, Clock::time_point dl, const std::string& who) {
  return read_full(fd, v, 4, dl, who);
}
Status get_endpoint(int fd, Endpoint* e, Clock::time_point dl, const std::string& who) {
  uint32_t len = 0;
  TSR_RETURN_IF_ERROR(get_u32(fd, &e->port, dl, who));
  TSR_RETURN_IF_ERROR(get_u32(fd, &len, dl, who));
  if (len > kMaxHost) return comm_error(who + " sent a malformed address");
  e->host.resize(len);
  return read_full(fd, e->host.data(), len, dl, who);
}

void tune(int fd) {
  int one = 1;  // collectives are latency-bound request/response patterns
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Non-blocking connect to host:port, retried (the listener may not exist yet) until deadline.
StatusOr<Socket> connect_to(const std::string& host, uint32_t port, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string last = "no attempt";
  for (;;) {
    addrinfo* res = nullptr;
    const int g = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (g != 0) last = std::string("cannot resolve: ") + ::gai_strerror(g);
    for (addrinfo* a = g == 0 ? res : nullptr; a; a = a->ai_next) {
      Socket s(::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!s.valid()) continue;
      int rc = ::connect(s.fd(), a->ai_addr, a->ai_addrlen);
      if (rc < 0 && errno == EINPROGRESS) {
        if (!wait_fd(s.fd(), POLLOUT, deadline)) {
          if (last == "no attempt") last = "connect timed out";  // else keep the refusal
          continue;
        }
        socklen_t len = sizeof rc;
        ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &rc, &len);
        errno = rc;
        rc = rc == 0 ? 0 : -1;
      }
      if (rc == 0) {
        ::freeaddrinfo(res);
        tune(s.fd());
        return s;
      }
      last = std::strerror(errno);
    }
    if (res) ::freeaddrinfo(res);
    if (ms_left(deadline) == 0) return comm_error(last);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, ms_left(deadline))));
  }
}

StatusOr<Socket> listen_on(const sockaddr* addr, socklen_t len, const std::string& what) {
  Socket s(::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.valid())
    return comm_error("cannot create a socket for " + what + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(s.fd(), addr, len) < 0 || ::listen(s.fd(), SOMAXCONN) < 0)
    return comm_error("cannot listen on " + what + ": " + std::strerror(errno));
  return s;
}

StatusOr<Socket> accept_one(int lfd, Clock::time_point deadline) {
  for (;;) {
    if (!wait_fd(lfd, POLLIN, deadline)) return comm_error("timed out");
    const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      tune(fd);
      return Socket(fd);
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
      return comm_error(std::string("accept: ") + std::strerror(errno));
  }
}

std::string missing(const std::vector<Socket>& peers, int self, int from) {
  std::string m;
  for (int r = from; r < static_cast<int>(peers.size()); ++r)
    if (r != self && !peers[r].valid()) m += (m.empty() ? "" : ", ") + std::to_string(r);
  return m;
}

Status rank0(const RendezvousOptions& o, const std::string& master, Clock::time_point dl,
             std::vector<Socket>* peers) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int g = ::getaddrinfo(o.master_addr.c_str(), nullptr, &hints, &res);
  if (g != 0)
    return comm_error("rank 0: cannot resolve MASTER_ADDR " + master + ": " + ::gai_strerror(g));
  const int family = res->ai_family;
  ::freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;  // dual stack on Linux: IPv4 peers reach it too
    a->sin6_port = htons(static_cast<uint16_t>(o.master_port));
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(static_cast<uint16_t>(o.master_port));
    len = sizeof *a;
  }
  TSR_ASSIGN_OR_RETURN(Socket l, listen_on(reinterpret_cast<sockaddr*>(&ss), len,
                                           "MASTER_PORT " + std::to_string(o.master_port) +
                                               " (rank 0, MASTER_ADDR " + master + ")"));
  std::vector<Endpoint> table(o.world);
  for (int arrived = 0; arrived < o.world - 1;) {
    auto s = accept_one(l.fd(), dl);
    if (!s.ok())
      return comm_error("rank 0: rank(s) " + missing(*peers, 0, 1) + " of " +
                        std::to_string(o.world) + " did not connect to " + master + " within " +
                        secs(o.connect_timeout_s) + " (TSR_CONNECT_TIMEOUT)");
    uint32_t hdr[3] = {0, 0, 0};
    Endpoint e;
    if (!read_full(s->fd(), hdr, sizeof hdr, dl, "a new connection").ok() || hdr[0] != kHello ||
        !get_endpoint(s->fd(), &e, dl, "a new connection").ok())
      continue;  // not one of ours (a port scan, a stale job): ignore it
    const int r = static_cast<int>(hdr[1]);
    if (static_cast<int>(hdr[2]) != o.world)
      return comm_error("rank 0: rank " + std::to_string(r) + " says WORLD_SIZE=" +
                        std::to_string(hdr[2]) + ", rank 0 has " + std::to_string(o.world));
    if (r <= 0 || r >= o.world || (*peers)[r].valid())
      return comm_error("rank 0: two processes claim RANK=" + std::to_string(r) +
                        " (or it is out of range for WORLD_SIZE=" + std::to_string(o.world) + ")");
    table[r] = e;
    (*peers)[r] = std::move(*s);
    ++arrived;
  }
  std::vector<uint8_t> msg;
  for (const Endpoint& e : table) put_endpoint(&msg, e);
  for (int r = 1; r < o.world; ++r)
    TSR_RETURN_IF_ERROR(write_full((*peers)[r].fd(), msg, dl, "rank " + std::to_string(r)));
  return Status::Ok();
}

// This rank's listener on the address its connection to rank 0 leaves from.
StatusOr<Socket> own_listener(int master_fd, Endpoint* me) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(master_fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0)
    return comm_error(std::string("getsockname: ") + std::strerror(errno));
  if (ss.ss_family == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = 0;
  else
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = 0;
  TSR_ASSIGN_OR_RETURN(Socket l, listen_on(reinterpret_cast<sockaddr*>(&ss), len, "a peer port"));
  len = sizeof ss;
  ::getsockname(l.fd(), reinterpret_cast<sockaddr*>(&ss), &len);
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return comm_error("cannot print this rank's listener address");
  me->host = host;
  me->port = static_cast<uint32_t>(std::atoi(serv));
  return l;
}

Status other_rank(const RendezvousOptions& o, const std::string& master, Clock::time_point dl,
                  std::vector<Socket>* peers) {
  const std::string me = "rank " + std::to_string(o.rank);
  auto m = connect_to(o.master_addr, static_cast<uint32_t>(o.master_port), dl);
  if (!m.ok())
    return comm_error(me + ": cannot reach rank 0 at MASTER_ADDR:MASTER_PORT " + master +
                      " within " + secs(o.connect_timeout_s) + " (" + m.status().message() +
                      "; is rank 0 running? TSR_CONNECT_TIMEOUT)");
  Endpoint self;
  TSR_ASSIGN_OR_RETURN(Socket l, own_listener(m->fd(), &self));
  std::vector<uint8_t> hello;
  for (uint32_t v : {kHello, static_cast<uint32_t>(o.rank), static_cast<uint32_t>(o.world)})
    put_u32(&hello, v);
  put_endpoint(&hello, self);
  const std::string r0 = "rank 0 (" + master + ")";
  TSR_RETURN_IF_ERROR(write_full(m->fd(), hello, dl, r0));
  std::vector<Endpoint> table(o.world);
  for (Endpoint& e : table) {
    Status s = get_endpoint(m->fd(), &e, dl, r0);
    if (!s.ok())
      return comm_error(me + ": rendezvous with " + r0 + " failed: " + s.message() +
                        " (rank 0 reports why)");
  }
  (*peers)[0] = std::move(*m);
  std::vector<uint8_t> ph;
  for (uint32_t v : {kPeerHello, static_cast<uint32_t>(o.rank), static_cast<uint32_t>(o.world)})
    put_u32(&ph, v);
  for (int j = 1; j < o.rank; ++j) {
    const std::string who =
        "rank " + std::to_string(j) + " at " + table[j].host + ":" + std::to_string(table[j].port);
    auto s = connect_to(table[j].host, table[j].port, dl);
    if (!s.ok()) return comm_error(me + ": cannot connect to " + who + ": " + s.status().message());
    TSR_RETURN_IF_ERROR(write_full(s->fd(), ph, dl, who));
    (*peers)[j] = std::move(*s);
  }
  for (int k = o.rank + 1; k < o.world; ++k) {
    auto s = accept_one(l.fd(), dl);
    uint32_t h[3] = {0, 0, 0};
    if (!s.ok() || !read_full(s->fd(), h, sizeof h, dl, "a peer").ok())
      return comm_error(me + ": rank(s) " + missing(*peers, o.rank, o.rank + 1) +
                        " did not connect within TSR_CONNECT_TIMEOUT");
    const int r = static_cast<int>(h[1]);
    if (h[0] != kPeerHello || h[2] != static_cast<uint32_t>(o.world) || r <= o.rank ||
        r >= o.world || (*peers)[r].valid())
      return comm_error(me + ": unexpected peer connection (claims rank " + std::to_string(r) +
                        ")");
    (*peers)[r] = std::move(*s);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<Socket>> connect_mesh(const RendezvousOptions& o) {
  if (o.world < 1 || o.rank < 0 || o.rank >= o.world)
    return InvalidArgument("RANK=" + std::to_string(o.rank) +
                           " is not in WORLD_SIZE=" + std::to_string(o.world));
  if (o.master_port <= 0 || o.master_port > 65535)
    return InvalidArgument("MASTER_PORT=" + std::to_string(o.master_port) + " is not a TCP port");
  const std::string master = o.master_addr + ":" + std::to_string(o.master_port);
  const auto dl =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.connect_timeout_s * 1000));
  std::vector<Socket> peers(o.world);
  if (o.world == 1) return peers;
  TSR_RETURN_IF_ERROR(o.rank == 0 ? rank0(o, master, dl, &peers)
                                  : other_rank(o, master, dl, &peers));
  return peers;
}

}  // namespace tessera::runtime::tcp
