// tests/faults/fault_proxy.h — `FaultProxy`: a TCP proxy on 127.0.0.1 (port 0) between a worker
// and a cluster, for the network fault tests. One thread runs a poll() loop over every socket.
// What it does to the bytes is set at any time:
//
//   kPass       forwards both ways
//   kDelay      forwards both ways, each chunk held for `delay` first
//   kBlackhole  connections stay open, every byte is read and dropped (a partition)
//   kDropDown   requests reach the cluster, its answers are dropped (lost responses)
//   kRefuse     new connections are reset as soon as they are accepted
//
// and to the connections open now:
//   ResetAll()     RST to both sides of every connection
//   HalfOpenAll()  closes the cluster's side (the cluster sees its client leave) and keeps the
//                  worker's side open and silent (the worker sees nothing until its deadlines)
//
// Thread safety: every method may be called from any thread.
//
//   FaultProxy proxy(cluster.address());
//   KilnWorker worker(proxy.address(), "q", log);
//   proxy.SetMode(FaultProxy::Mode::kRefuse); proxy.ResetAll();   // an outage
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kiln::testing {

class FaultProxy {
 public:
  enum class Mode { kPass, kDelay, kBlackhole, kDropDown, kRefuse };
  using Clock = std::chrono::steady_clock;

  explicit FaultProxy(const std::string& upstream) {
    const auto colon = upstream.rfind(':');
    upstream_.sin_family = AF_INET;
    upstream_.sin_port = htons(static_cast<uint16_t>(std::stoi(upstream.substr(colon + 1))));
    inet_pton(AF_INET, upstream.substr(0, colon).c_str(), &upstream_.sin_addr);
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listener_, 64);
    socklen_t len = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    address_ = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    if (pipe(wake_) != 0) wake_[0] = wake_[1] = -1;
    thread_ = std::thread([this] { Loop(); });
  }
  ~FaultProxy() {
    stop_ = true;
    Wake();
    thread_.join();
    for (Conn& c : conns_) Close(c, true);
    close(listener_);
    close(wake_[0]);
    close(wake_[1]);
  }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  const std::string& address() const { return address_; }

  void SetMode(Mode mode, std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
    std::lock_guard lock(mu_);
    mode_ = mode;
    delay_ = delay;
  }
  void ResetAll() { Command(kResetAll); }
  void HalfOpenAll() { Command(kHalfOpenAll); }

  // Connections accepted so far, and when.
  std::vector<Clock::time_point> Accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  // Connections open to the cluster now.
  int OpenUpstream() {
    std::lock_guard lock(mu_);
    return open_upstream_;
  }

 private:
  enum Pending { kNone, kResetAll, kHalfOpenAll };
  struct Chunk {
    Clock::time_point due;
    std::string bytes;
  };
  struct Conn {
    int client = -1, upstream = -1;
    std::deque<Chunk> up, down;  // to the cluster, to the worker
    bool closed = false;
  };

  void Command(Pending what) {
    {
      std::lock_guard lock(mu_);
      pending_.push_back(what);
    }
    Wake();
    // Applied by the loop within a few ms; callers rely on it having happened.
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mu_);
        if (pending_.empty()) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // waiting for the loop
    }
  }
  void Wake() {
    char c = 1;
    [[maybe_unused]] ssize_t n = write(wake_[1], &c, 1);
  }
  static void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }
  static void Reset(int fd) {
    linger l{1, 0};  // close with RST
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
  }
  void CloseUpstream(Conn& c, bool rst) {
    if (c.upstream < 0) return;
    rst ? Reset(c.upstream) : static_cast<void>(close(c.upstream));
    c.upstream = -1;
    c.up.clear();
    std::lock_guard lock(mu_);
    --open_upstream_;
  }
  void Close(Conn& c, bool rst) {
    CloseUpstream(c, rst);
    if (c.client >= 0) rst ? Reset(c.client) : static_cast<void>(close(c.client));
    c.client = -1;
    c.closed = true;
  }

  void Accept() {
    const int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    Mode mode;
    {
      std::lock_guard lock(mu_);
      accepted_.push_back(Clock::now());
      mode = mode_;
    }
    if (mode == Mode::kRefuse) return Reset(fd);
    const int up = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(up, reinterpret_cast<const sockaddr*>(&upstream_), sizeof(upstream_)) != 0) {
      close(up);
      return Reset(fd);
    }
    SetNonBlocking(fd);
    SetNonBlocking(up);
    Conn conn;
    conn.client = fd;
    conn.upstream = up;
    conns_.push_back(std::move(conn));
    std::lock_guard lock(mu_);
    ++open_upstream_;
  }

  // Reads what `from` has into `queue` (or drops it); false when `from` ended.
  bool Read(int from, std::deque<Chunk>& queue, bool drop, std::chrono::milliseconds delay) {
    char buffer[65536];
    const ssize_t n = read(from, buffer, sizeof(buffer));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return false;
    if (n > 0 && !drop) queue.push_back({Clock::now() + delay, std::string(buffer, n)});
    return true;
  }
  // Writes the chunks that are due; false when `to` is broken.
  static bool Flush(int to, std::deque<Chunk>& queue) {
    const auto now = Clock::now();
    while (!queue.empty() && queue.front().due <= now) {
      std::string& bytes = queue.front().bytes;
      const ssize_t n = write(to, bytes.data(), bytes.size());
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      bytes.erase(0, static_cast<size_t>(n));
      if (!bytes.empty()) return true;
      queue.pop_front();
    }
    return true;
  }

  void Loop() {
    while (!stop_) {
      Mode mode;
      std::chrono::milliseconds delay;
      std::vector<Pending> pending;
      {
        std::lock_guard lock(mu_);
        mode = mode_;
        delay = mode_ == Mode::kDelay ? delay_ : std::chrono::milliseconds(0);
        pending.swap(pending_);
      }
      for (Pending p : pending) {
        for (Conn& c : conns_) p == kResetAll ? Close(c, true) : CloseUpstream(c, false);
      }
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int timeout_ms = 100;
      for (Conn& c : conns_) {
        fds.push_back({c.client, static_cast<short>(POLLIN | (c.down.empty() ? 0 : POLLOUT)), 0});
        fds.push_back({c.upstream, static_cast<short>(POLLIN | (c.up.empty() ? 0 : POLLOUT)), 0});
        for (auto* q : {&c.up, &c.down}) {
          if (q->empty()) continue;
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(q->front().due -
                                                                            Clock::now());
          timeout_ms = std::max(0, std::min(timeout_ms, static_cast<int>(left.count()) + 1));
        }
      }
      poll(fds.data(), fds.size(), timeout_ms);
      if (fds[1].revents & POLLIN) {
        char drain[64];
        [[maybe_unused]] ssize_t n = read(wake_[0], drain, sizeof(drain));
      }
      if (fds[0].revents & POLLIN) Accept();
      size_t i = 2;
      for (Conn& c : conns_) {
        if (i + 1 >= fds.size()) break;
        const short client_ev = fds[i++].revents, up_ev = fds[i++].revents;
        if (c.closed) continue;
        const bool half_open = c.upstream < 0;
        if (client_ev & (POLLIN | POLLHUP | POLLERR)) {
          if (!Read(c.client, c.up, half_open || mode == Mode::kBlackhole, delay)) {
            Close(c, false);
            continue;
          }
        }
        if (!half_open && (up_ev & (POLLIN | POLLHUP | POLLERR))) {
          const bool drop = mode == Mode::kBlackhole || mode == Mode::kDropDown;
          if (!Read(c.upstream, c.down, drop, delay)) {
            Close(c, false);
            continue;
          }
        }
        if ((c.upstream >= 0 && !Flush(c.upstream, c.up)) || !Flush(c.client, c.down)) {
          Close(c, true);
        }
      }
      conns_.remove_if([](const Conn& c) { return c.closed; });
    }
  }

  sockaddr_in upstream_{};
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::string address_;
  std::atomic<bool> stop_{false};
  std::list<Conn> conns_;  // the loop thread's

  std::mutex mu_;
  Mode mode_ = Mode::kPass;
  std::chrono::milliseconds delay_{0};
  std::vector<Pending> pending_;
  std::vector<Clock::time_point> accepted_;
  int open_upstream_ = 0;

  std::thread thread_;  // last: started once everything above is set
};

}  // namespace kiln::testing
