#include "pipe.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace dropsim {
namespace {

constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

}  // namespace

Pipe::Pipe(Direction direction, asio::ip::tcp::socket& from, asio::ip::tcp::socket& to,
           BufferPool& pool, PipeObserver& observer)
    : direction_(direction), from_(from), to_(to), pool_(pool), observer_(observer) {}

asio::awaitable<PipeResult> Pipe::run() {
  using End = PipeResult::End;
  for (;;) {
    // Wait for readability before borrowing a chunk: an idle pipe holds no buffer.
    auto [wait_ec] = co_await from_.async_wait(asio::socket_base::wait_read, kAwait);
    if (wait_ec == asio::error::operation_aborted || !from_.is_open()) co_return PipeResult{};
    if (wait_ec) co_return PipeResult{End::failed, source(direction_), wait_ec};

    BufferPool::Lease chunk = pool_.take();
    // Read on while data keeps coming, so a bulk transfer costs a read and a write per
    // chunk rather than a trip through the reactor per chunk.
    for (;;) {
      std::error_code ec;
      const std::size_t n = from_.read_some(asio::buffer(chunk.data(), chunk.size()), ec);
      if (would_block(ec)) break;
      if (ec == asio::error::eof) co_return PipeResult{End::finished, source(direction_), {}};
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return PipeResult{};
      if (ec) co_return PipeResult{End::failed, source(direction_), ec};
      const Verdict verdict = observer_.on_chunk(direction_, {chunk.data(), n});
      std::string_view out(chunk.data(), n);
      if (verdict.action == Verdict::Action::replace) out = verdict.replacement;
      if (verdict.action == Verdict::Action::cut) out = out.substr(0, verdict.prefix);
      if (auto write_ec = co_await write_all(out.data(), out.size())) {
        if (write_ec == asio::error::operation_aborted || !to_.is_open()) co_return PipeResult{};
        co_return PipeResult{End::failed, destination(direction_), write_ec};
      }
      if (verdict.action == Verdict::Action::cut) co_return PipeResult{End::cut, source(direction_), {}};
      // A short read means the socket is most likely drained; skip the EAGAIN read.
      if (n < chunk.size()) break;
    }
  }
}

asio::awaitable<std::error_code> Pipe::write_all(const char* data, std::size_t n) {
  std::size_t done = 0;
  bool blocked = false;
  while (done < n) {
    std::error_code ec;
    const std::size_t wrote = to_.write_some(asio::buffer(data + done, n - done), ec);
    if (ec && !would_block(ec)) co_return ec;
    done += wrote;
    if (blocked && wrote > 0) observer_.on_write_progress(direction_, n - done);
    if (done == n) break;
    if (!blocked) {
      blocked = true;
      observer_.on_write_blocked(direction_, n - done);
    }
    auto [wait_ec] = co_await to_.async_wait(asio::socket_base::wait_write, kAwait);
    if (wait_ec) co_return wait_ec;
  }
  co_return std::error_code{};
}

}  // namespace dropsim
