#include "pipe.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <asio/post.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "await.h"
#include "shaper.h"

namespace dropsim {
namespace {

using End = PipeResult::End;

bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

bool aborted(const std::error_code& ec) {
  return ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor;
}

/// The bytes to write for a chunk read as `read`, per the observer's verdict.
std::string_view passed(const Verdict& verdict, std::string_view read) {
  if (verdict.action == Verdict::Action::replace || verdict.action == Verdict::Action::finish) {
    return verdict.replacement;
  }
  if (verdict.action == Verdict::Action::cut) return read.substr(0, verdict.prefix);
  return read;
}

/// How long a pipe moves bytes before it yields the thread to the other handlers.
constexpr auto kTurn = std::chrono::microseconds(200);

/// A read at least this big of opaque bytes switches the pipe to splicing: HAProxy's
/// splice-auto test (a read that fills its 16 KiB buffer). Messages, which are smaller,
/// stay on the copy path, where a read and a write cost less than two splices.
constexpr std::size_t kSpliceFrom = 16 * 1024;

/// How often a shaped pipe with no socket worth watching checks that they are open.
constexpr Duration kRecheck = std::chrono::milliseconds(50);

/// The clock of asio::steady_timer, which the shaped pipe's timer runs on.
TimePoint now() { return SteadyClock::instance().now(); }

/// Bytes read but not yet written, in order, with the time each chunk arrived.
class Backlog {
 public:
  /// Bytes held.
  std::size_t size() const { return bytes_.size() - head_; }
  bool empty() const { return chunks_.empty(); }
  /// Appends a chunk read at `arrival` (nothing when empty).
  void push(std::string_view bytes, TimePoint arrival) {
    if (bytes.empty()) return;
    bytes_.append(bytes);
    chunks_.push_back({arrival, bytes.size()});
  }
  /// The oldest chunk's unwritten bytes start here.
  const char* front_data() const { return bytes_.data() + head_; }
  /// The oldest chunk's unwritten size.
  std::size_t front_size() const { return chunks_.front().size; }
  /// When the oldest chunk was read.
  TimePoint front_arrival() const { return chunks_.front().arrival; }
  /// Drops the first `n` bytes, all from the oldest chunk.
  void consume(std::size_t n) {
    head_ += n;
    if ((chunks_.front().size -= n) == 0) chunks_.pop_front();
    if (chunks_.empty()) {
      clear();
    } else if (head_ >= kCompactAt && head_ * 2 >= bytes_.size()) {
      bytes_.erase(0, head_);  // amortized: at most as many bytes moved as were written
      head_ = 0;
    }
  }
  /// Drops everything and gives the memory back.
  void clear() {
    std::string().swap(bytes_);
    std::deque<Chunk>().swap(chunks_);
    head_ = 0;
  }

 private:
  static constexpr std::size_t kCompactAt = 64 * 1024;
  struct Chunk {
    TimePoint arrival;
    std::size_t size;
  };
  std::string bytes_;
  std::size_t head_ = 0;
  std::deque<Chunk> chunks_;
};

/// Bytes of the backlog that may be written now.
struct Due {
  std::size_t bytes = 0;   ///< 0: none yet
  std::size_t pieces = 0;  ///< of the plan
  TimePoint at;            ///< when the first of them may go
};

}  // namespace

/// What a pipe needs only while faults apply: created by set_faults, freed by run() once
/// the faults are gone and the backlog is written.
struct Pipe::Shaping {
  Shaping(const asio::any_io_executor& ex, const DirectionFaults& faults, std::uint64_t seed, TimePoint at)
      : timer(ex), shaper(faults, seed, at), last_write(at) {}

  /// The pipe's one timer: the next piece's time, the FIN's, or set_faults' wake-up.
  asio::steady_timer timer;
  Shaper shaper;
  Backlog backlog;
  std::vector<Piece> plan;  ///< the oldest chunk's pieces; valid while next < plan.size()
  std::size_t next = 0;     ///< the first piece not yet written
  bool replan = false;      ///< set_faults changed the faults: plan the unwritten bytes again
  TimePoint last_write;     ///< when the last write finished
  /// How the source ended (EOF, a read error, a cut): reported once the backlog is written.
  std::optional<PipeResult> source_end;
  TimePoint ended_at;  ///< when source_end was read
  std::optional<PipeResult> result;  ///< how run() ends, once run_shaped() says it does
  bool from_spent = false;  ///< `from` has a lasting error condition: not worth watching
  bool to_spent = false;    ///< `to` has one

  /// Records how the pipe ends; true, for run_shaped() to return.
  bool end(const PipeResult& r) {
    result = r;
    return true;
  }
  /// The source ended at `at` (EOF, an error, a cut): reported once the backlog is written.
  void source_ended(const PipeResult& r, TimePoint at) {
    source_end = r;
    ended_at = at;
  }
  /// New faults: the unwritten bytes are planned again (or, under drop, discarded).
  void start_over() {
    replan = false;
    plan.clear();
    next = 0;
    // Toxiproxy's timeout toxic swallows what is still inside the link, too.
    if (shaper.faults().drop) backlog.clear();
  }
  /// What of the oldest chunk may be written at `t`: nothing yet (then `at` says when),
  /// one slice (each slice goes alone, as the peer should see it), or every other piece
  /// due by then, in one write.
  Due due(TimePoint t) {
    if (next == plan.size()) {
      plan = shaper.plan(backlog.front_size(), backlog.front_arrival());
      next = 0;
    }
    Due d{0, 0, plan[next].at};
    if (d.at > t) return d;
    const bool one = shaper.faults().slice_average > 0;
    do {
      d.bytes += plan[next + d.pieces++].size;
    } while (!one && next + d.pieces < plan.size() && plan[next + d.pieces].at <= t);
    return d;
  }
  /// `d` was written.
  void wrote(const Due& d) {
    backlog.consume(d.bytes);
    next += d.pieces;
  }
};

Pipe::Pipe(Direction direction, asio::ip::tcp::socket& from, asio::ip::tcp::socket& to,
           BufferPool& pool, PipeObserver& observer, SplicePool* splice)
    : direction_(direction), from_(from), to_(to), pool_(pool), observer_(observer), splice_(splice) {}

Pipe::~Pipe() = default;

void Pipe::set_faults(const DirectionFaults& faults, std::uint64_t seed) {
  if (faults == this->faults()) return;  // nothing changed: no new draws, the limit keeps counting
  const TimePoint at = now();
  if (!shaping_) {
    shaping_ = std::make_unique<Shaping>(from_.get_executor(), faults, seed, at);
    return;
  }
  // The backlog and plan are run()'s (a write in progress points into them): change them
  // there, at the top of its loop.
  Shaping& s = *shaping_;
  // Toxiproxy keeps a limit_data toxic's count while other toxics come and go.
  const bool same_limit = faults.limit == s.shaper.faults().limit;
  s.shaper = Shaper(faults, seed, s.last_write, same_limit ? s.shaper.admitted() : 0);
  s.replan = true;
  s.timer.cancel();
}

void Pipe::stop() {
  stopped_ = true;
  if (shaping_) shaping_->timer.cancel();
}

const DirectionFaults& Pipe::faults() const {
  static const DirectionFaults none;
  return shaping_ ? shaping_->shaper.faults() : none;
}

std::size_t Pipe::backlog() const { return shaping_ ? shaping_->backlog.size() : 0; }

asio::awaitable<PipeResult> Pipe::run() {
  for (;;) {
    if (stopped_) co_return PipeResult{};
    if (shaping_) {
      // (A bool, not the result: it keeps this frame, which every idle pipe holds, small.)
      if (co_await run_shaped()) co_return *shaping_->result;
      continue;
    }
    // Wait for readability before borrowing a chunk: an idle pipe holds no buffer.
    auto [wait_ec] = co_await from_.async_wait(asio::socket_base::wait_read, kAwait);
    if (stopped_ || wait_ec == asio::error::operation_aborted || !from_.is_open()) co_return PipeResult{};
    if (wait_ec) co_return PipeResult{End::failed, source(direction_), wait_ec};
    if (shaping_) continue;  // faults arrived while it waited

    // The copying lives in its own frame, made per wake-up: this one, which every idle
    // pipe holds while it waits, keeps only what the wait needs.
    if (auto end = co_await move_bytes()) co_return *end;
  }
}

asio::awaitable<std::optional<PipeResult>> Pipe::move_bytes() {
  bool bulk = false;  // a read of kSpliceFrom or more of opaque bytes: splice the rest
  {
    BufferPool::Lease chunk = pool_.take();
    // Read on while data keeps coming, so a bulk transfer costs a read and a write per
    // chunk rather than a trip through the reactor per chunk. The turn's clock starts
    // at the first full read: a message (one short read) never reads the clock here.
    std::chrono::steady_clock::time_point turn{};
    for (;;) {
      std::error_code ec;
      const std::size_t n = from_.read_some(asio::buffer(chunk.data(), chunk.size()), ec);
      if (would_block(ec)) break;
      if (ec) co_return read_failed(ec);
      const Verdict verdict = observer_.on_chunk(direction_, {chunk.data(), n});
      const std::string_view out = passed(verdict, {chunk.data(), n});
      // Most writes complete at once: only what the socket did not take needs
      // write_all's coroutine frame and a wait.
      std::error_code write_ec;
      const std::size_t wrote = write_now(out, write_ec);
      if (write_ec) co_return write_failed(write_ec);
      if (wrote < out.size()) {
        if (auto rest_ec = co_await write_all(out.data() + wrote, out.size() - wrote)) co_return write_failed(rest_ec);
      }
      if (verdict.action == Verdict::Action::cut) co_return PipeResult{End::cut, source(direction_), {}};
      if (verdict.action == Verdict::Action::finish) co_return PipeResult{End::finished, source(direction_), {}};
      if (shaping_) break;  // faults arrived while it wrote
      // A read of kSpliceFrom or more: the sender outpaces us, a bulk transfer.
      if (n >= kSpliceFrom && splice_ && splice_->enabled() && observer_.opaque(direction_)) {
        bulk = true;
        break;
      }
      // A short read means the socket is most likely drained; skip the EAGAIN read.
      if (n < chunk.size()) break;
      if (turn == std::chrono::steady_clock::time_point{}) {
        turn = std::chrono::steady_clock::now();
      } else if (!within_turn(turn) && !co_await next_turn(turn)) {
        break;
      }
    }
  }
  if (bulk) {
    // (No pipe to be had: the next wake-up finds the bytes still there and copies.)
    if (auto pipe = splice_->take()) {
      if (auto end = co_await splice_turn(*pipe)) co_return *end;
    }
  }
  co_return std::nullopt;
}

bool Pipe::within_turn(std::chrono::steady_clock::time_point turn) {
  return std::chrono::steady_clock::now() - turn <= kTurn;
}

asio::awaitable<bool> Pipe::next_turn(std::chrono::steady_clock::time_point& turn) {
  // A pipe reads on while data keeps coming, but not for long: every pipe, the control
  // API and the timers share this thread, so after a turn's budget the pipe lets the
  // others run (and the reactor poll) before it goes on. Without this, 64 bulk streams
  // held an API call 281 ms.
  co_await asio::post(from_.get_executor(), asio::use_awaitable);
  // The session may have ended meanwhile, and a cancel() (blackhole, close frame) leaves
  // the sockets open: the flag is what says so. run() then returns `stopped`.
  if (stopped_ || !from_.is_open() || shaping_) co_return false;
  turn = std::chrono::steady_clock::now();
  co_return true;
}

asio::awaitable<std::optional<PipeResult>> Pipe::splice_turn(SplicePool::Lease& pipe) {
  constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  auto turn = std::chrono::steady_clock::now();
  for (bool first = true;; first = false) {
    if (!first && !within_turn(turn) && !co_await next_turn(turn)) co_return std::nullopt;
    // The kernel pipe is empty here (every splice in is spliced out before the next), so
    // EAGAIN means the socket has nothing to read.
    const ssize_t n = ::splice(from_.native_handle(), nullptr, pipe.write_fd(), nullptr, pipe.capacity(), kFlags);
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EINTR) co_return std::nullopt;
      if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP) {
        // This kernel (or a sandbox) does not splice these sockets: copy from now on.
        splice_->disable();
        co_return std::nullopt;
      }
      co_return read_failed(std::error_code(err, asio::error::get_system_category()));
    }
    if (n == 0) co_return read_failed(asio::error::eof);
    const auto moved = static_cast<std::size_t>(n);
    pipe.filled(moved);
    observer_.on_passed(direction_, moved);
    if (auto ec = co_await splice_all(pipe, moved)) co_return write_failed(ec);
    if (shaping_ || !observer_.opaque(direction_)) co_return std::nullopt;
    if (moved < pipe.capacity()) co_return std::nullopt;  // most likely drained
  }
}

asio::awaitable<bool> Pipe::run_shaped() {
  using namespace asio::experimental::awaitable_operators;
  Shaping& s = *shaping_;
  for (;;) {
    if (stopped_ || !from_.is_open() || !to_.is_open()) co_return s.end(PipeResult{});
    const DirectionFaults& f = s.shaper.faults();
    if (s.replan) s.start_over();

    TimePoint wake = TimePoint::max();
    if (!f.hold) {
      if (!s.backlog.empty()) {
        const Due due = s.due(now());
        if (due.bytes == 0) {
          wake = due.at;
        } else {
          const std::size_t allowed = s.shaper.admit(due.bytes);
          if (allowed > 0) {
            if (auto ec = co_await write_all(s.backlog.front_data(), allowed)) co_return s.end(write_failed(ec));
            s.last_write = now();
          }
          // Toxiproxy's limit_data writes the bytes up to the limit, then closes at once.
          if (s.shaper.exhausted()) co_return s.end(PipeResult{End::limited, source(direction_), {}});
          s.wrote(due);
          continue;
        }
      } else if (s.source_end) {
        if (s.source_end->end != End::finished) co_return s.end(*s.source_end);
        // Toxiproxy's slow_close: the FIN waits `delay` after the bytes before it.
        const TimePoint fin = s.shaper.fin_time(s.ended_at, s.last_write);
        if (fin <= now()) co_return s.end(*s.source_end);
        wake = fin;
      } else if (f.none()) {
        shaping_.reset();  // frees `s`: nothing below may touch it
        co_return false;
      }
    }

    bool reading = !f.hold && !s.source_end && s.backlog.size() < kMaxBacklog;
    if (reading) {
      std::size_t cap = pool_.chunk_size();
      if (const auto left = s.shaper.remaining()) {
        // Bytes past the limit stay unread: the observer sees only what may pass.
        cap = static_cast<std::size_t>(std::min<std::uint64_t>(cap, *left - std::min<std::uint64_t>(*left, s.backlog.size())));
      }
      if (cap == 0 && !s.backlog.empty()) {
        reading = false;  // the backlog holds all the limit lets through
      } else if (read_once(s, cap)) {
        if (s.result) co_return true;
        continue;
      }
    }

    // Sleep until the next piece's time, readability when reading, or set_faults. A
    // socket wait is part of it whenever possible, so that the session closing the
    // sockets ends the pipe at once: when not reading, a wait for an error condition,
    // which otherwise sleeps. One that ends uncancelled found a lasting condition (RST,
    // both halves shut, urgent data) that would end every later one at once too, so that
    // socket is not watched again; with neither left, the timer checks every kRecheck.
    asio::ip::tcp::socket* watch = (reading || !s.from_spent) ? &from_ : (!s.to_spent ? &to_ : nullptr);
    if (!watch) wake = std::min(wake, now() + kRecheck);
    s.timer.expires_at(wake);
    if (!watch) {
      co_await s.timer.async_wait(kAwait);
      continue;
    }
    const auto wait = reading ? asio::socket_base::wait_read : asio::socket_base::wait_error;
    auto woke = co_await (watch->async_wait(wait, kAwait) || s.timer.async_wait(kAwait));
    if (woke.index() == 0) {
      const auto [ec] = std::get<0>(woke);
      if (ec == asio::error::operation_aborted || !watch->is_open()) co_return s.end(PipeResult{});
      if (!reading) (watch == &from_ ? s.from_spent : s.to_spent) = true;
      // A failed wait for readability: the next read reports why.
    }
  }
}

bool Pipe::read_once(Shaping& s, std::size_t cap) {
  std::error_code ec;
  const TimePoint arrival = now();
  if (cap == 0) {
    // The limit is used up and nothing waits: Toxiproxy closes when the next chunk
    // arrives (a FIN still passes as a FIN). Peek, so nothing is taken.
    char c;
    from_.receive(asio::buffer(&c, 1), asio::socket_base::message_peek, ec);
    if (!ec) return s.end(PipeResult{End::limited, source(direction_), {}});
  } else {
    // Read before waiting: after a write, a release or a drained backlog bytes are likely
    // there, and a read that finds none costs less than a trip through the reactor.
    BufferPool::Lease chunk = pool_.take();
    const std::size_t n = from_.read_some(asio::buffer(chunk.data(), cap), ec);
    if (!ec) {
      if (s.shaper.faults().drop) return true;  // Toxiproxy's timeout toxic: read, never passed on
      const Verdict verdict = observer_.on_chunk(direction_, {chunk.data(), n});
      s.backlog.push(passed(verdict, {chunk.data(), n}), arrival);
      if (verdict.action == Verdict::Action::cut) s.source_ended(PipeResult{End::cut, source(direction_), {}}, arrival);
      if (verdict.action == Verdict::Action::finish) {
        s.source_ended(PipeResult{End::finished, source(direction_), {}}, arrival);
      }
      return true;
    }
  }
  if (would_block(ec)) return false;
  const PipeResult r = read_failed(ec);
  if (r.end == End::stopped) return s.end(r);
  s.source_ended(r, arrival);
  return true;
}

PipeResult Pipe::read_failed(const std::error_code& ec) const {
  if (ec == asio::error::eof) return PipeResult{End::finished, source(direction_), {}};
  if (aborted(ec)) return PipeResult{};
  return PipeResult{End::failed, source(direction_), ec};
}

PipeResult Pipe::write_failed(const std::error_code& ec) const {
  if (stopped_ || ec == asio::error::operation_aborted || !to_.is_open()) return PipeResult{};
  return PipeResult{End::failed, destination(direction_), ec};
}

std::size_t Pipe::write_now(std::string_view out, std::error_code& ec) {
  if (out.empty()) return 0;
  const std::size_t wrote = to_.write_some(asio::buffer(out.data(), out.size()), ec);
  if (would_block(ec)) ec.clear();
  written_ += wrote;
  return wrote;
}

asio::awaitable<std::error_code> Pipe::write_all(const char* data, std::size_t n) {
  // Not a coroutine itself: deliver's frame is the only one.
  return deliver(n, [this, data, n](std::size_t want, std::error_code& ec) {
    return to_.write_some(asio::buffer(data + (n - want), want), ec);
  });
}

asio::awaitable<std::error_code> Pipe::splice_all(SplicePool::Lease& pipe, std::size_t n) {
  return deliver(n, [this, &pipe](std::size_t want, std::error_code& ec) -> std::size_t {
    const ssize_t wrote = ::splice(pipe.read_fd(), nullptr, to_.native_handle(), nullptr, want,
                                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (wrote < 0) {
      ec = std::error_code(errno == EINTR ? EAGAIN : errno, asio::error::get_system_category());
      return 0;
    }
    pipe.drained(static_cast<std::size_t>(wrote));
    return static_cast<std::size_t>(wrote);
  });
}

template <class WriteSome>
asio::awaitable<std::error_code> Pipe::deliver(std::size_t n, WriteSome write_some) {
  std::size_t done = 0;
  bool blocked = false;
  while (done < n) {
    std::error_code ec;
    const std::size_t wrote = write_some(n - done, ec);
    if (ec && !would_block(ec)) co_return ec;
    done += wrote;
    written_ += wrote;
    if (blocked && wrote > 0) observer_.on_write_progress(direction_, n - done);
    if (done == n) break;
    if (!blocked) {
      blocked = true;
      observer_.on_write_blocked(direction_, n - done);
    }
    auto [wait_ec] = co_await to_.async_wait(asio::socket_base::wait_write, kAwait);
    if (stopped_) co_return asio::error::operation_aborted;  // the rest is never written
    if (wait_ec) co_return wait_ec;
  }
  co_return std::error_code{};
}

}  // namespace dropsim
