// Sockets under the TCP communicator (comm_tcp.cpp): a rendezvous at rank 0's MASTER_ADDR:PORT
// that builds a full mesh of connections (one socket per pair of ranks: N-1 per process, fine
// for the tens of ranks a CPU job has, not for thousands), and a framed, poll-driven exchange
// that moves one message each way per peer at once so that no send can block a receive.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::runtime::tcp {

// An owned file descriptor; closing it is what tells peers this rank is gone.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.release()) {}
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close(); }
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void close();

 private:
  int fd_ = -1;
};

struct RendezvousOptions {
  int rank = 0;
  int world = 1;
  std::string master_addr;  // MASTER_ADDR: a host name or numeric address of rank 0
  int master_port = 0;      // MASTER_PORT
  double connect_timeout_s = 60;
};

// Returns one connected socket per peer rank (index = rank; the own slot stays invalid). Every
// failure names the rank, MASTER_ADDR:PORT and, for rank 0, the ranks that never arrived.
StatusOr<std::vector<Socket>> connect_mesh(const RendezvousOptions& o);

// One message to or from a peer within an exchange. A receive must get exactly `bytes`.
struct Transfer {
  int peer = -1;
  uint8_t* data = nullptr;  // read from for sends, written to for receives
  int64_t bytes = 0;
};

// The connections of one rank plus the framing: every message carries a 16-byte header (magic,
// kind, length) so that a peer's abort or a size mismatch is reported, not misread as data.
class Mesh {
 public:
  Mesh(int rank, std::vector<Socket> peers, double timeout_s)
      : rank_(rank),
        peers_(std::move(peers)),
        dirty_(peers_.size(), false),
        timeout_s_(timeout_s) {}
  // Progresses all sends and receives together (poll); at most one of each per peer. Fails
  // naming the peer that closed its connection, aborted, or sent another length; then the
  // mesh is unusable and abort() is the way out.
  Status exchange(const std::vector<Transfer>& sends, const std::vector<Transfer>& recvs);
  // Tells every peer whose stream is at a message boundary that this rank aborts, then closes
  // all connections (peers blocked on this rank see the abort or EOF, never wait forever).
  void abort(int code);

 private:
  int rank_;
  std::vector<Socket> peers_;
  std::vector<bool> dirty_;  // a send to this peer stopped mid-message
  double timeout_s_;         // 0: wait for peers as long as it takes
};

}  // namespace tessera::runtime::tcp
