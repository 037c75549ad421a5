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
    : log_(log),
      filter_(std::move(filter)),
      max_queued_(std::max<std::size_t>(max_queued, 1)),
      wake_(std::move(wake)),
      proxy_escaped_(json_escape(filter_.proxy)) {
  tap_ = log_.subscribe([this](std::string_view event, const std::string& json) { on_event(event, json); });
}

EventStream::~EventStream() { log_.unsubscribe(tap_); }

bool EventStream::wanted(std::string_view event, std::string_view json) {
  const std::uint64_t conn = event_conn(json);
  if (filter_.conn != 0 && conn != filter_.conn) return false;
  if (filter_.proxy.empty()) return true;
  if (conn == 0) return event_proxy(json) == proxy_escaped_;
  if (event == "open" && event_proxy(json) == proxy_escaped_) conns_.insert(conn);
  if (conns_.count(conn) != 0) {
    if (event == "close") {
      conns_.erase(conn);
      closed_.push_back(conn);
      if (closed_.size() > kClosedRemembered) closed_.pop_front();
    }
    return true;
  }
  return std::find(closed_.begin(), closed_.end(), conn) != closed_.end();
}

void EventStream::on_event(std::string_view event, const std::string& json) {
  if (!wanted(event, json)) return;
  if (queue_.size() >= max_queued_) {
    ++dropped_;
    ++dropped_total_;
    if (dropped_ == 1) wake_();
    return;
  }
  queue_.push_back(sse_frame(event, json));
  if (queue_.size() == 1) wake_();
}

std::string EventStream::take() {
  std::string out;
  for (const std::string& frame : queue_) out += frame;
  queue_.clear();
  // The queued events came before the ones lost (a full queue is what lost them).
  if (dropped_ != 0) {
    out += sse_frame("dropped", fmt::format(R"({{"event":"dropped","dropped":{},"dropped_total":{}}})", dropped_,
                                            dropped_total_));
    dropped_ = 0;
  }
  return out;
}

}  // namespace dropsim
