// LibTorch's intra-op thread count is a per-thread setting under OpenMP: a count set on the JS
// thread does not reach the libuv workers that run the jobs. So the counts are kept here, and
// every job applies its own on its own thread before it starts.
//
// Which count a job uses: the caller's (setNumThreads, for every later job), else OMP_NUM_THREADS
// (LibTorch reads it), else the job's preference: one thread for jobs that run faster serially,
// the library default (all cores) for the rest. Serial: latent image priors (LibTorch 1.13's CPU
// transposed convolutions lose time to threading at these sizes), and training or sampling whose
// passes are small: rows per pass x the model's weights below 2^24 (measured on 2 cores: DSM, 512
// rows x 25k weights, 225 steps/s on one thread against 160 on two; ED, 2176 rows x 17k, equal;
// DiffCLF, 8192 rows, and Langevin, 10 000 chains, faster on two).
#pragma once

#include <cstdint>

namespace ebm {

enum class ThreadPreference { AllCores, OneThread };

class EnergyModel;
// The preference of a job whose passes take rowsPerPass rows through `model` (its weights and
// buffers counted as the work per row).
ThreadPreference preferenceForWork(const EnergyModel& model, int64_t rowsPerPass);

// Validates n (1..1024), applies it on this thread and to every later job.
void setNumThreads(int n);
// The count of AllCores jobs when neither the caller nor OMP_NUM_THREADS chose one.
void setDefaultThreads(int n);
// At the start of a job on a worker thread.
void applyJobThreads(ThreadPreference preference = ThreadPreference::AllCores);

}  // namespace ebm
