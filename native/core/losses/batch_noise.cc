#include "losses/batch_noise.h"

#include <torch/torch.h>

#include <vector>

namespace ebm {

namespace {
thread_local const RowShard* current = nullptr;
}  // namespace

struct RowShardAccess {
  // The shard a draw of `rows` rows belongs to, or null for a plain draw.
  static const RowShard* forRows(int64_t rows) {
    return current != nullptr && current->local_ == rows && current->global_ != rows ? current : nullptr;
  }
  template <typename Draw>
  static at::Tensor draw(at::IntArrayRef shape, Draw&& draw) {
    const RowShard* shard = shape.empty() ? nullptr : forRows(shape[0]);
    if (shard == nullptr) return draw(shape);
    std::vector<int64_t> global(shape.begin(), shape.end());
    global[0] = shard->global_;
    return draw(at::IntArrayRef(global)).narrow(0, shard->offset_, shard->local_);
  }
};

RowShard::RowShard(int64_t offset, int64_t local, int64_t global)
    : previous_(current), offset_(offset), local_(local), global_(global) {
  current = this;
}

RowShard::~RowShard() { current = previous_; }

at::Tensor batchRandn(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options) {
  return RowShardAccess::draw(shape, [&](at::IntArrayRef s) { return torch::randn(s, gen, options); });
}

at::Tensor batchRand(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options) {
  return RowShardAccess::draw(shape, [&](at::IntArrayRef s) { return torch::rand(s, gen, options); });
}

at::Tensor batchRandint(int64_t high, at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& options) {
  return RowShardAccess::draw(shape, [&](at::IntArrayRef s) { return torch::randint(high, s, gen, options); });
}

}  // namespace ebm
