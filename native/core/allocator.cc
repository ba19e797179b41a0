#include "allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ebm {
namespace {

#if defined(__linux__)

// Blocks from 4 MiB up are cached; smaller ones stay in glibc's heap, which keeps them (see
// keepFreedMemory). Measured here (steps/s, peak RSS): ConvNet ED 3.4 / 584 MB from 4 MiB,
// 3.5 / 556 MB from 1 MiB; the latent step 6.7 / 398 MB from 4 MiB, 6.7 / 423 MB from 1 MiB
// (huge pages round a 1 MiB tensor up to 2 MiB of memory).
constexpr size_t kLargeBytes = size_t(4) << 20;
// Sizes round up to 2 MiB, the huge-page size: close sizes share blocks, and a block is aligned to
// it so that the kernel can back it with huge pages (one fault and one TLB entry per 2 MiB).
constexpr size_t kGranule = size_t(2) << 20;
// Idle cached bytes are kept to a quarter of the peak in use (ConvNet ED, blocks from 1 MiB: peak
// RSS 556 MB at 3.4 steps/s; a half gave 605 MB at 3.6, no limit 675 MB at 4.3, no reuse 524 MB
// at 2.9; PyTorch-Python 605 MB at 2.2) ...
constexpr size_t kIdleShare = 4;
// ... and to at least 64 MiB, so that a job with a small peak does not map its blocks anew each step.
constexpr size_t kIdleFloor = size_t(64) << 20;

// LibTorch's CPU allocator for large tensors: freed blocks stay mapped (their pages already
// faulted in) and serve the next request of the same size or up to a fifth smaller. Small
// requests go to the allocator it replaces. Thread-safe: LibTorch allocates from any thread.
class LargeBlockCache final : public c10::Allocator {
 public:
  explicit LargeBlockCache(c10::Allocator* small) : small_(small) {}

  // LibTorch 1.x declares allocate const, 2.x not: both are defined, and whichever the base
  // declares is the override. copy_data is pure virtual in 2.x and unused in 1.x.
  c10::DataPtr allocate(size_t n) const { return take(n); }
  c10::DataPtr allocate(size_t n) { return take(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  // oneDNN allocates through the raw interface, which frees with this deleter
  c10::DeleterFnPtr raw_deleter() const override { return &giveBack; }

  BlockCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    BlockCacheStats s;
    s.enabled = true;
    s.liveBytes = liveBytes_;
    s.cachedBytes = cachedBytes_;
    s.peakLiveBytes = liveHighWater_;
    s.blocksMapped = mapped_;
    s.blocksReused = reused_;
    return s;
  }

  void beginJob() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++jobs_;
  }

  // The last job to end unmaps the idle blocks.
  void endJob() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (--jobs_ > 0) return;
    liveHighWater_ = liveBytes_;
    unmapIdle(lock);
  }

 private:
  // Takes the idle blocks out under the lock and unmaps them after it.
  void unmapIdle(std::unique_lock<std::mutex>& lock) const {
    std::multimap<size_t, void*> idle;
    idle.swap(free_);
    cachedBytes_ = 0;
    lock.unlock();
    for (const auto& [bytes, ptr] : idle) munmap(ptr, bytes);
  }

  c10::DataPtr take(size_t n) const {
    if (n < kLargeBytes) return small_->allocate(n);
    TORCH_CHECK(n <= static_cast<size_t>(PTRDIFF_MAX) - kGranule, "cannot allocate a CPU tensor of ", n, " bytes");
    const size_t wanted = (n + kGranule - 1) / kGranule * kGranule;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // the smallest cached block that fits, unless it is over a quarter larger
      auto it = free_.lower_bound(wanted);
      if (it != free_.end() && it->first - wanted <= wanted / 4) {
        const auto [bytes, ptr] = *it;
        free_.erase(it);
        cachedBytes_ -= bytes;
        ++reused_;
        return track(ptr, bytes);
      }
    }
    void* ptr = map(wanted);  // outside the lock: a system call
    std::lock_guard<std::mutex> lock(mutex_);
    ++mapped_;
    return track(ptr, wanted);
  }

  // Registers a block handed out; under the lock.
  c10::DataPtr track(void* ptr, size_t bytes) const {
    live_.emplace(ptr, bytes);
    liveBytes_ += bytes;
    if (liveBytes_ > liveHighWater_) liveHighWater_ = liveBytes_;
    return {ptr, ptr, &giveBack, c10::Device(c10::kCPU)};
  }

  // A fresh block aligned to the granule, marked for huge pages.
  void* map(size_t bytes) const {
    void* ptr = mapAligned(bytes);
    if (!ptr) {
      // the idle blocks may hold what is missing
      std::unique_lock<std::mutex> lock(mutex_);
      unmapIdle(lock);
      ptr = mapAligned(bytes);
    }
    TORCH_CHECK(ptr, "out of memory: could not map ", bytes >> 20, " MiB for a CPU tensor");
    return ptr;
  }

  static void* mapAligned(size_t bytes) {
    const size_t span = bytes + kGranule;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (start + kGranule - 1) / kGranule * kGranule;
    if (aligned > start) munmap(raw, aligned - start);
    const uintptr_t tail = start + span - (aligned + bytes);
    if (tail > 0) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    void* ptr = reinterpret_cast<void*>(aligned);
#if defined(MADV_HUGEPAGE)
    madvise(ptr, bytes, MADV_HUGEPAGE);  // advice only: a kernel without THP ignores it
#endif
    return ptr;
  }

  static void giveBack(void* ptr);

  void keep(void* ptr) const {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) {
      // a small block, freed through the raw interface: the default CPU allocator has a raw deleter
      lock.unlock();
      small_->raw_deleter()(ptr);
      return;
    }
    const size_t bytes = it->second;
    live_.erase(it);
    liveBytes_ -= bytes;
    // outside jobs nothing is kept: a tensor freed after a job is not memory a next step will reuse
    if (jobs_ == 0 || cachedBytes_ + bytes > std::max(liveHighWater_ / kIdleShare, kIdleFloor)) {
      lock.unlock();
      munmap(ptr, bytes);
      return;
    }
    free_.emplace(bytes, ptr);
    cachedBytes_ += bytes;
  }

  c10::Allocator* small_;
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;
  mutable std::unordered_map<void*, size_t> live_;
  int jobs_ = 0;
  mutable size_t liveBytes_ = 0, cachedBytes_ = 0, liveHighWater_ = 0, mapped_ = 0, reused_ = 0;
};

// Never destroyed: tensors may be freed during static destruction at exit.
LargeBlockCache* cache = nullptr;

void LargeBlockCache::giveBack(void* ptr) { cache->keep(ptr); }

#endif

bool disabledByEnvironment() {
  const char* v = std::getenv("EBM_TORCH_KEEP_FREED");
  return v && std::string(v) == "0";
}

}  // namespace

void keepFreedMemory() {
  if (disabledByEnvironment()) return;
#if defined(__GLIBC__)
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_") && !std::getenv("MALLOC_TRIM_THRESHOLD_")) {
    // Both: a fixed trim threshold alone turns off glibc's adaptive mmap threshold, and every block
    // over 128 KiB would be mapped anew (slower than the default, measured).
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
#endif
#if defined(__linux__)
  // the addon's Init runs once per Node thread that loads it
  static std::once_flag once;
  std::call_once(once, [] {
    c10::Allocator* previous = c10::GetCPUAllocator();
    // the raw interface (oneDNN's) frees small blocks through the previous allocator's raw deleter
    if (!previous->raw_deleter()) return;
    cache = new LargeBlockCache(previous);
    // above the priority (0) LibTorch registers its own CPU allocator with
    c10::SetCPUAllocator(cache, 1);
  });
#endif
}

BlockCacheStats blockCacheStats() {
#if defined(__linux__)
  if (cache) return cache->stats();
#endif
  return {};
}

JobMemoryScope::JobMemoryScope() {
#if defined(__linux__)
  if (cache) cache->beginJob();
#endif
}

JobMemoryScope::~JobMemoryScope() {
#if defined(__linux__)
  if (cache) cache->endJob();
#endif
}

}  // namespace ebm
