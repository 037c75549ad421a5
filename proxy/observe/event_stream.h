#pragma once
// One client of GET /events: an EventLog tap that queues Server-Sent Events frames for
// the API connection to write. The tap runs on the data path (inside a session's log
// call, on that session's worker thread), so it only appends to a bounded queue under a
// short lock: a client that reads too slowly loses events, counted and announced with an
// `event: dropped` frame, and never slows a session down.
//
//   Session ──EventLog::event──► tap ──filter──► queue (bounded) ──take()──► socket
//                                                  └─ full: dropped_++ ──► "event: dropped"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "event_log.h"

namespace dropsim {

/// Which events a stream wants; empty fields match everything.
struct EventFilter {
  std::string proxy;       ///< events of this proxy's connections (and its own, conn 0)
  std::uint64_t conn = 0;  ///< events of this one connection
};

/// `data` as one SSE frame: "event: <type>\ndata: <line>\n...\n\n" (each line of `data`
/// its own data: field, as the format requires).
std::string sse_frame(std::string_view event, std::string_view data);

/// The `"conn":N` of an EventLog JSON object; 0 when it has none.
std::uint64_t event_conn(std::string_view json);
/// The `"proxy":"..."` of an EventLog JSON object, still JSON-escaped; "" when none.
std::string_view event_proxy(std::string_view json);

/// A subscription to `log`, undone by the destructor.
class EventStream {
 public:
  /// `wake` is called (from the tap, on the logging thread, under the stream's lock: it
  /// must only post) when the queue goes from empty to not empty, or an event is dropped:
  /// the writer should take(). Never called once the destructor has returned.
  EventStream(EventLog& log, EventFilter filter, std::size_t max_queued, std::function<void()> wake);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  /// Every frame queued since the last call, then an `event: dropped` frame when events
  /// were lost since then; "" when there is nothing.
  std::string take();
  /// Events lost since the stream began.
  std::uint64_t dropped_total() const;
  /// Frames waiting.
  std::size_t queued() const;

 private:
  /// What the tap touches: shared with it, so that a tap call already under way on another
  /// thread when the stream goes finds it alive (and `closed`).
  struct State {
    std::mutex mutex;
    bool closed = false;
    EventFilter filter;
    std::size_t max_queued;
    std::function<void()> wake;
    std::deque<std::string> queue;
    std::uint64_t dropped = 0;        ///< since the last take()
    std::uint64_t dropped_total = 0;
    std::string proxy_escaped;        ///< filter.proxy as it appears in the JSON
    std::set<std::uint64_t> conns;    ///< proxy filter: live connections opened on it
    /// proxy filter: connections closed lately, whose last lines (the heartbeat verdict)
    /// come after their close event.
    std::deque<std::uint64_t> closed_conns;

    void on_event(std::string_view event, const std::string& json);
    bool wanted(std::string_view event, std::string_view json);
  };

  EventLog& log_;
  std::shared_ptr<State> state_;
  std::uint64_t tap_ = 0;
};

}  // namespace dropsim
