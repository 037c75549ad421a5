#include "buffer_pool.h"

namespace dropsim {

BufferPool::Lease BufferPool::take() {
  ++in_use_;
  if (free_.empty()) {
    // for_overwrite: the chunk is filled by read(); zeroing 64 KiB would be wasted work.
    return Lease(*this, std::make_unique_for_overwrite<char[]>(chunk_size_));
  }
  auto chunk = std::move(free_.back());
  free_.pop_back();
  return Lease(*this, std::move(chunk));
}

void BufferPool::give_back(std::unique_ptr<char[]> chunk) {
  --in_use_;
  if (free_.size() < keep_free_) free_.push_back(std::move(chunk));
}

}  // namespace dropsim
