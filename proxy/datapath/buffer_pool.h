#pragma once
// Chunks for the data path, lent only while bytes are in flight: an idle session holds
// none (it waits for readability first), so thousands of idle WebSockets cost a few KB
// each. Single-threaded by design: one pool per io_context thread.

#include <cstddef>
#include <memory>
#include <vector>

namespace dropsim {

/// A free list of fixed-size chunks.
class BufferPool {
 public:
  /// 64 KiB: large enough that a bulk transfer needs few syscalls per MiB.
  static constexpr std::size_t kDefaultChunk = 64 * 1024;

  /// A chunk on loan; it goes back to the pool when the lease ends.
  class Lease {
   public:
    Lease(BufferPool& pool, std::unique_ptr<char[]> chunk) : pool_(&pool), chunk_(std::move(chunk)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;  // would drop the chunk it holds uncounted
    ~Lease() {
      if (chunk_) pool_->give_back(std::move(chunk_));
    }
    char* data() { return chunk_.get(); }            ///< the bytes
    std::size_t size() const { return pool_->chunk_size(); }  ///< always the pool's chunk size

   private:
    BufferPool* pool_;
    std::unique_ptr<char[]> chunk_;
  };

  /// `keep_free` bounds the chunks kept for reuse; more are freed when given back.
  explicit BufferPool(std::size_t chunk_size = kDefaultChunk, std::size_t keep_free = 256)
      : chunk_size_(chunk_size), keep_free_(keep_free) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// Lends a chunk (reused when one is free).
  Lease take();
  /// Bytes per chunk.
  std::size_t chunk_size() const { return chunk_size_; }
  /// Chunks currently lent out.
  std::size_t in_use() const { return in_use_; }
  /// Chunks waiting for reuse.
  std::size_t free_count() const { return free_.size(); }

 private:
  void give_back(std::unique_ptr<char[]> chunk);

  std::size_t chunk_size_;
  std::size_t keep_free_;
  std::size_t in_use_ = 0;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace dropsim
