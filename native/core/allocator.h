// How the C allocator treats what LibTorch frees.
#pragma once

namespace ebm {

// glibc hands large freed blocks back to the kernel (munmap, or madvise when a thread arena
// shrinks), so a training step that frees and reallocates the same megabytes faults every page
// in again: 12 % of an ED step here, in the kernel. This keeps blocks below 32 MiB in the heap
// and up to 256 MiB of free heap for reuse (the process keeps its peak, as PyTorch's caching
// allocators do). A user's MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ wins; elsewhere
// than glibc this does nothing.
void keepFreedMemory();

}  // namespace ebm
