#include "losses/batch_noise.h"

#include <torch/torch.h>

#include <vector>

namespace ebm {

namespace {
thread_local const RowShard* current = nullptr;

// A draw for `shape` (shape[0] = batch rows): the global batch's, narrowed to this rank's rows,
// when a shard is in scope and the draw is for its rows; else the plain draw.
template <typename Draw>
at::Tensor draw(at::IntArrayRef shape, Draw&& plain) {
  const RowShard* shard = current;
  if (shard == nullptr || shape.empty() || shape[0] != shard->local || shard->global == shard->local)
    return plain(shape);
  std::vector<int64_t> global(shape.begin(), shape.end());
  global[0] = shard->global;
  return plain(at::IntArrayRef(global)).narrow(0, shard->offset, shard->local);
}
}  // namespace

RowShard::RowShard(int64_t offset, int64_t local, int64_t global)
    : offset(offset), local(local), global(global), previous_(current) {
  current = this;
}

RowShard::~RowShard() { current = previous_; }

at::Tensor batchRandn(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options) {
  return draw(shape, [&](at::IntArrayRef s) { return torch::randn(s, gen, options); });
}

at::Tensor batchRand(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options) {
  return draw(shape, [&](at::IntArrayRef s) { return torch::rand(s, gen, options); });
}

at::Tensor batchRandint(int64_t high, at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options) {
  return draw(shape, [&](at::IntArrayRef s) { return torch::randint(high, s, gen, options); });
}

}  // namespace ebm
