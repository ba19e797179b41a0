// How CPU memory that LibTorch frees is kept for reuse.
#pragma once

#include <cstddef>

namespace ebm {

// glibc hands large freed blocks back to the kernel (munmap, or madvise when a thread arena
// shrinks), so a training step that frees and reallocates the same megabytes faults every page
// in again: 12 % of an ED step here, in the kernel, and a third of a ConvNet ED step, whose
// activations are over glibc's ceiling for heap blocks (32 MiB) and are mapped afresh each time.
// This does two things, both undone by EBM_TORCH_KEEP_FREED=0:
// - glibc: blocks below 32 MiB stay in the heap, and up to 256 MiB of free heap is kept (a user's
//   MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ wins);
// - Linux: LibTorch's CPU tensors of 4 MiB and more come from a cache of blocks that stay mapped
//   (on huge pages where the kernel allows) for the next allocation of about the same size; idle
//   blocks are kept up to a quarter of the peak in use (at least 64 MiB) while a job runs.
// Call once, before the first tensor.
void keepFreedMemory();

// Around each native job: while any job runs, freed blocks are kept for reuse; when the last one
// ends its idle blocks are unmapped, and blocks freed between jobs are unmapped at once.
class JobMemoryScope {
 public:
  JobMemoryScope();
  ~JobMemoryScope();
  JobMemoryScope(const JobMemoryScope&) = delete;
  JobMemoryScope& operator=(const JobMemoryScope&) = delete;
};

// What the block cache holds: for ebm.memoryStats() and the test that blocks are reused.
struct BlockCacheStats {
  bool enabled = false;
  std::size_t liveBytes = 0;    // in blocks that tensors use
  std::size_t cachedBytes = 0;  // in idle blocks, kept for reuse
  std::size_t peakLiveBytes = 0;
  std::size_t blocksMapped = 0;  // since the process started
  std::size_t blocksReused = 0;
};
BlockCacheStats blockCacheStats();

}  // namespace ebm
