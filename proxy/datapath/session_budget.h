#pragma once
// How many sessions the process may hold open at once, shared by every proxy: each
// session costs two descriptors, and a process out of descriptors cannot accept, connect
// upstream, or even answer its own control API. At the cap the proxies stop accepting:
// new clients wait in the kernel's listen backlog, as with HAProxy's maxconn, and are
// accepted as soon as a session ends. No accept-fail loop.
//
//   Proxy accept loop ──has_room? ─ no ─► wait (a waker give_back() calls) ────┐
//          │ yes                                                               │
//          ▼                                                                   │
//   take() ── Session ── every socket closed ──► give_back() ──────────────────┘
//
// Proxies take on the control thread; sessions give back on their workers (`--threads`),
// so the count is behind a mutex, and a waker only posts to its proxy's thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace dropsim {

/// The soft RLIMIT_NOFILE after raising it to the hard limit, and the sessions it allows.
struct DescriptorLimit {
  std::uint64_t before = 0;  ///< the soft limit found at start
  std::uint64_t soft = 0;    ///< the soft limit now
  std::uint64_t hard = 0;
};

/// Raises the soft RLIMIT_NOFILE to the hard limit (as nginx's worker_rlimit_nofile does
/// by hand), and says what it found and set.
DescriptorLimit raise_descriptor_limit();

/// The sessions `descriptors` allow: two each, after `reserve` for everything else (the
/// listeners, the control API and its connections, logs, the event loop). At least 1.
std::size_t session_capacity(std::uint64_t descriptors, std::uint64_t reserve);

/// The control API's connections at once by default (--api-max-connections).
inline constexpr std::uint64_t kDefaultApiConnections = 64;

/// The descriptors session_capacity keeps back by default: the API's connections
/// (kDefaultApiConnections), the proxies' listeners and the process's own (epoll, timers,
/// stdio, files). `dropsim run` adds what a larger --api-max-connections takes.
inline constexpr std::uint64_t kDescriptorReserve = 96;
static_assert(kDefaultApiConnections < kDescriptorReserve, "the API's connections come out of the reserve");

/// The process-wide count of open sessions against a cap.
class SessionBudget {
 public:
  explicit SessionBudget(std::size_t cap) : cap_(cap) {}
  SessionBudget(const SessionBudget&) = delete;
  SessionBudget& operator=(const SessionBudget&) = delete;

  std::size_t cap() const { return cap_; }
  /// Sessions holding descriptors now.
  std::size_t open() const;
  bool has_room() const;
  /// A session was accepted.
  void take();
  /// A session closed its last socket (on any thread): calls every waker when there is room.
  void give_back();

  /// Called by give_back() on the thread that gave back, with no lock held: it must only
  /// post to the waiting proxy's own thread.
  using Waker = std::function<void()>;
  /// Registers `wake` until forget(id); returns its id.
  std::uint64_t wait(Waker wake);
  void forget(std::uint64_t id);

  /// Times accepting stopped at the cap (counted once per stop, not per proxy).
  std::uint64_t pauses() const;
  /// True while accepting is stopped at the cap.
  bool paused() const { return !has_room(); }

 private:
  const std::size_t cap_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::uint64_t pauses_ = 0;
  std::uint64_t next_waker_ = 1;
  std::map<std::uint64_t, Waker> wakers_;
};

}  // namespace dropsim
