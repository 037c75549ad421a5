#include "session_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <vector>

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

std::size_t SessionBudget::open() const {
  const std::lock_guard lock(mutex_);
  return open_;
}

bool SessionBudget::has_room() const {
  const std::lock_guard lock(mutex_);
  return open_ < cap_;
}

std::uint64_t SessionBudget::pauses() const {
  const std::lock_guard lock(mutex_);
  return pauses_;
}

void SessionBudget::take() {
  const std::lock_guard lock(mutex_);
  ++open_;
  if (open_ == cap_) ++pauses_;
}

void SessionBudget::give_back() {
  std::vector<Waker> wake;
  {
    const std::lock_guard lock(mutex_);
    if (open_ > 0) --open_;
    if (open_ >= cap_) return;
    for (const auto& [id, w] : wakers_) wake.push_back(w);
  }
  // Outside the lock: a waker may run its proxy's code at once (one thread, no workers).
  for (const Waker& w : wake) w();
}

std::uint64_t SessionBudget::wait(Waker wake) {
  const std::lock_guard lock(mutex_);
  const std::uint64_t id = next_waker_++;
  wakers_.emplace(id, std::move(wake));
  return id;
}

void SessionBudget::forget(std::uint64_t id) {
  const std::lock_guard lock(mutex_);
  wakers_.erase(id);
}

}  // namespace dropsim
