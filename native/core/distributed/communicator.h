// Data-parallel training on PyTorch's own collective engine (c10d): a TCPStore rendezvous and a
// Gloo process group on CPU (NCCL on CUDA, when the LibTorch found was built with it). The
// trainer uses it to start every rank from rank 0's weights, average gradients in a few large
// buckets per step, agree on aborts and reduce the reported metrics.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace ebm {

struct DistributedConfig {
  std::string backend = "gloo";  // 'gloo' | 'nccl'
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  double timeoutSeconds = 60;  // a collective that waits longer on a silent rank fails
};
template <typename Fields>
void describe(Fields& f, DistributedConfig& d) {
  f.optional("backend", d.backend);
  f.required("rank", d.rank);
  f.required("worldSize", d.worldSize);
  f.optional("masterAddr", d.masterAddr);
  f.optional("masterPort", d.masterPort);
  f.optional("timeoutSeconds", d.timeoutSeconds);
}

class Communicator {
 public:
  virtual ~Communicator() = default;
  int rank() const { return rank_; }
  int worldSize() const { return worldSize_; }
  // In place, on every rank: rank `root`'s values.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  // In place, on every rank: the element-wise sum over ranks.
  virtual void allReduceSum(std::vector<at::Tensor>& tensors) = 0;

 protected:
  Communicator(int rank, int worldSize) : rank_(rank), worldSize_(worldSize) {}

 private:
  int rank_, worldSize_;
};

// Joins the process group (every rank calls it; rank 0 hosts the store). Throws ConfigError when
// this build has no distributed support, DistributedError when the rendezvous fails.
std::unique_ptr<Communicator> connect(const DistributedConfig& config);

// What this build supports: e.g. "gloo", "gloo nccl", or "" with the reason in `missing`.
std::string distributedBackends(std::string* missing = nullptr);

// Sums `tensors` (same shapes on every rank) across ranks, times `scale`, in place, in buckets of
// about 25 MB: each bucket is flattened into one buffer and reduced in one call.
void allReduceBucketed(Communicator& comm, const std::vector<at::Tensor>& tensors, double scale = 1.0);

}  // namespace ebm
