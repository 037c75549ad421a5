#include "session_budget.h"

#include <sys/resource.h>

#include <algorithm>

namespace dropsim {

DescriptorLimit raise_descriptor_limit() {
  DescriptorLimit limit;
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return limit;
  limit.before = limit.soft = r.rlim_cur;
  limit.hard = r.rlim_max;
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised = r;
    raised.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit.soft = raised.rlim_cur;
  }
  return limit;
}

std::size_t session_capacity(std::uint64_t descriptors, std::uint64_t reserve) {
  if (descriptors <= reserve + 2) return 1;
  return static_cast<std::size_t>((descriptors - reserve) / 2);
}

void SessionBudget::take() {
  ++open_;
  if (open_ == cap_) ++pauses_;
}

void SessionBudget::give_back() {
  if (open_ > 0) --open_;
  if (!has_room()) return;
  for (asio::steady_timer* t : waiting_) t->cancel();
}

void SessionBudget::wait_with(asio::steady_timer& timer) {
  if (std::find(waiting_.begin(), waiting_.end(), &timer) == waiting_.end()) waiting_.push_back(&timer);
}

void SessionBudget::forget(asio::steady_timer& timer) {
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), &timer), waiting_.end());
}

}  // namespace dropsim
