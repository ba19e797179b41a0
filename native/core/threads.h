// LibTorch's intra-op thread count is a per-thread setting under OpenMP: a count set on the JS
// thread does not reach the libuv workers that run the jobs. So the requested count is kept
// here, and every job applies it on its own thread before it starts.
#pragma once

namespace ebm {

// Validates n (1..1024), applies it on this thread and to every later job.
void setNumThreads(int n);
// At the start of a job on a worker thread: applies the last requested count, if any.
void applyRequestedThreads();

}  // namespace ebm
