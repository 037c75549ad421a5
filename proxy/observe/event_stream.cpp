#include "event_stream.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace dropsim {
namespace {

/// Connections remembered after their close event for the proxy filter.
constexpr std::size_t kClosedRemembered = 256;

}  // namespace

std::string sse_frame(std::string_view event, std::string_view data) {
  std::string out = fmt::format("event: {}\n", event);
  while (true) {
    const std::size_t nl = data.find('\n');
    out.append("data: ").append(data.substr(0, nl)).append("\n");
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  return out + "\n";
}

std::uint64_t event_conn(std::string_view json) {
  // EventLog writes `"conn":N` right after the event name, outside any string; inside a
  // string every quote is escaped, so this key cannot be matched there.
  constexpr std::string_view kKey = "\"conn\":";
  const std::size_t at = json.find(kKey);
  if (at == std::string_view::npos) return 0;
  std::uint64_t id = 0;
  const char* first = json.data() + at + kKey.size();
  std::from_chars(first, json.data() + json.size(), id);
  return id;
}

std::string_view event_proxy(std::string_view json) {
  constexpr std::string_view kKey = "\"proxy\":\"";
  const std::size_t at = json.find(kKey);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + kKey.size();
  std::size_t end = start;
  while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
  return json.substr(start, std::min(end, json.size()) - start);
}

EventStream::EventStream(EventLog& log, EventFilter filter, std::size_t max_queued, std::function<void()> wake)
    : log_(log), state_(std::make_shared<State>()) {
  state_->filter = std::move(filter);
  state_->max_queued = std::max<std::size_t>(max_queued, 1);
  state_->wake = std::move(wake);
  state_->proxy_escaped = json_escape(state_->filter.proxy);
  tap_ = log_.subscribe(
      [state = state_](std::string_view event, const std::string& json) { state->on_event(event, json); });
}

EventStream::~EventStream() {
  log_.unsubscribe(tap_);
  const std::lock_guard lock(state_->mutex);
  state_->closed = true;  // a call that took the tap before unsubscribe does nothing now
}

bool EventStream::State::wanted(std::string_view event, std::string_view json) {
  const std::uint64_t conn = event_conn(json);
  if (filter.conn != 0 && conn != filter.conn) return false;
  if (filter.proxy.empty()) return true;
  if (conn == 0) return event_proxy(json) == proxy_escaped;
  if (event == "open" && event_proxy(json) == proxy_escaped) conns.insert(conn);
  if (conns.count(conn) != 0) {
    if (event == "close") {
      conns.erase(conn);
      closed_conns.push_back(conn);
      if (closed_conns.size() > kClosedRemembered) closed_conns.pop_front();
    }
    return true;
  }
  return std::find(closed_conns.begin(), closed_conns.end(), conn) != closed_conns.end();
}

void EventStream::State::on_event(std::string_view event, const std::string& json) {
  const std::lock_guard lock(mutex);
  if (closed || !wanted(event, json)) return;
  if (queue.size() >= max_queued) {
    ++dropped;
    ++dropped_total;
    if (dropped == 1) wake();
    return;
  }
  queue.push_back(sse_frame(event, json));
  if (queue.size() == 1) wake();
}

std::string EventStream::take() {
  const std::lock_guard lock(state_->mutex);
  State& s = *state_;
  std::string out;
  for (const std::string& frame : s.queue) out += frame;
  s.queue.clear();
  // The queued events came before the ones lost (a full queue is what lost them).
  if (s.dropped != 0) {
    out += sse_frame("dropped", fmt::format(R"({{"event":"dropped","dropped":{},"dropped_total":{}}})", s.dropped,
                                            s.dropped_total));
    s.dropped = 0;
  }
  return out;
}

std::uint64_t EventStream::dropped_total() const {
  const std::lock_guard lock(state_->mutex);
  return state_->dropped_total;
}

std::size_t EventStream::queued() const {
  const std::lock_guard lock(state_->mutex);
  return state_->queue.size();
}

}  // namespace dropsim
