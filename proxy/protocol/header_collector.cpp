#include "header_collector.h"

namespace dropsim {
namespace {

/// ": " and CRLF around every header line, counted toward the head limit as sent.
constexpr std::size_t kHeaderOverhead = 4;

}  // namespace

std::size_t HeaderCollector::field(HeaderList& headers, const char* at, std::size_t n) {
  std::size_t cost = n;
  if (!field_open_) {
    headers.emplace_back();
    field_open_ = true;
    cost += kHeaderOverhead;
  }
  headers.back().first.append(at, n);
  return cost;
}

bool HeaderCollector::field_complete(const HeaderList& headers) {
  if (!field_open_ || headers.back().first.empty()) return false;
  field_open_ = false;
  return true;
}

std::size_t HeaderCollector::value(HeaderList& headers, const char* at, std::size_t n) {
  if (headers.empty()) headers.emplace_back();  // never, by llhttp's grammar
  headers.back().second.append(at, n);
  return n;
}

void HeaderCollector::value_complete(HeaderList& headers) {
  if (headers.empty()) return;
  std::string& value = headers.back().second;
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
}

}  // namespace dropsim
