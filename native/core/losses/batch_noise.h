// Noise drawn per batch row. In data-parallel training each rank holds a slice of the global
// batch; with a RowShard in scope every rank draws the noise of the whole global batch and keeps
// its own rows, so a row's noise does not depend on which rank holds it and 2 ranks x B/2 rows
// compute what 1 process x B rows does. Without a shard these are the plain torch draws.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace ebm {

// The rows [offset, offset + local) of a global batch of `global` rows, for the current thread.
struct RowShard {
  RowShard(int64_t offset, int64_t local, int64_t global);
  ~RowShard();
  RowShard(const RowShard&) = delete;
  RowShard& operator=(const RowShard&) = delete;

  const int64_t offset, local, global;

 private:
  const RowShard* previous_;
};

// shape[0] is the number of batch rows the draw is for.
at::Tensor batchRandn(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options);
at::Tensor batchRand(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options);
at::Tensor batchRandint(int64_t high, at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options);

}  // namespace ebm
