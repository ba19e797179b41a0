#include "distributed/communicator.h"

#include <torch/torch.h>

#include <chrono>

#include "errors.h"

#ifdef EBM_TORCH_DISTRIBUTED
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace ebm {
namespace {

#ifdef EBM_TORCH_DISTRIBUTED
std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// Any c10d/Gloo failure during a collective: a peer closed its connection (it died or was killed)
// or did not answer within the timeout.
[[noreturn]] void collectiveFailed(const std::string& what, int rank, const std::exception& e) {
  throw DistributedError("rank " + std::to_string(rank) + ": " + what +
                         " failed: another rank died, was stopped or did not answer in time (" + e.what() + ")");
}

// LibTorch 2.4+ asks for the libuv TCPStore by default, and a build without libuv (Debian 13's)
// then refuses to start the store; the classic store serves the same protocol. 1.x has no choice.
template <typename Options>
auto useClassicStore(Options& o, int) -> decltype(o.useLibUV = false, bool()) {
  o.useLibUV = false;
  return true;
}
template <typename Options>
bool useClassicStore(Options&, long) {
  return false;
}

// A c10d error's first line: the rest is LibTorch's C++ stack.
std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// The c10d process group type differs between LibTorch versions (a ProcessGroup in 1.x, a
// Backend in 2.x); the ops used here have the same signature on both.
template <typename Group>
class GroupCommunicator : public Communicator {
 public:
  GroupCommunicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group, int rank, int worldSize)
      : Communicator(rank, worldSize), store_(std::move(store)), group_(std::move(group)) {}

  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    try {
      c10d::BroadcastOptions options;
      options.rootRank = root;
      for (auto& t : tensors) {
        std::vector<at::Tensor> one{t};
        group_->broadcast(one, options)->wait();
      }
    } catch (const DistributedError&) {
      throw;
    } catch (const std::exception& e) {
      collectiveFailed("broadcasting rank 0's weights", rank(), e);
    }
  }

  void allReduceSum(std::vector<at::Tensor>& tensors) override {
    try {
      for (auto& t : tensors) {
        std::vector<at::Tensor> one{t};
        group_->allreduce(one)->wait();
      }
    } catch (const std::exception& e) {
      collectiveFailed("an all-reduce", rank(), e);
    }
  }

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Group> group_;
};
#endif

}  // namespace

std::string distributedBackends(std::string* missing) {
  std::string out;
#if defined(EBM_TORCH_DISTRIBUTED) && defined(USE_C10D_GLOO)
  out = "gloo";
#endif
#if defined(EBM_TORCH_DISTRIBUTED) && defined(USE_C10D_NCCL)
  out += out.empty() ? "nccl" : " nccl";
#endif
  if (out.empty() && missing)
    *missing =
        "this build of the ebm-torch addon has no distributed support: it needs LibTorch's c10d headers "
        "(torch/csrc/distributed/c10d) and Gloo's (Debian/Ubuntu: sudo apt-get install -y libgloo-dev), "
        "found when the addon is compiled; install them and run npm rebuild ebm-torch";
  return out;
}

std::unique_ptr<Communicator> connect(const DistributedConfig& cfg) {
  std::string missing;
  const std::string backends = distributedBackends(&missing);
  if (backends.empty()) throw ConfigError("train.distributed: " + missing);
  if (backends.find(cfg.backend) == std::string::npos)
    throw ConfigError("train.distributed.backend '" + cfg.backend + "' is not in this build (it has: " + backends +
                      (cfg.backend == "nccl" ? "; NCCL needs a CUDA LibTorch built with it)" : ")"));
#ifdef EBM_TORCH_DISTRIBUTED
  const std::string where = "rank " + std::to_string(cfg.rank) + " of " + std::to_string(cfg.worldSize) + " (" +
                            cfg.masterAddr + ":" + std::to_string(cfg.masterPort) + ")";
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(cfg.masterPort);
    options.isServer = cfg.rank == 0;
    options.numWorkers = static_cast<std::size_t>(cfg.worldSize);
    options.waitWorkers = true;
    options.timeout = millis(cfg.timeoutSeconds);
    try {
      store = c10::make_intrusive<c10d::TCPStore>(cfg.masterAddr, options);
    } catch (const std::exception& e) {
      if (std::string(e.what()).find("libuv") == std::string::npos || !useClassicStore(options, 0)) throw;
      store = c10::make_intrusive<c10d::TCPStore>(cfg.masterAddr, options);
    }
  } catch (const std::exception& e) {
    const std::string full = e.what(), text = firstLine(full);
    if (cfg.rank == 0 && full.find("in use") != std::string::npos)
      throw DistributedError(where + ": masterPort " + std::to_string(cfg.masterPort) +
                             " is already in use on this machine; pick another port");
    throw DistributedError(where + ": the rendezvous failed (every rank must start within " +
                           std::to_string(static_cast<int>(cfg.timeoutSeconds)) + " s and reach " + cfg.masterAddr +
                           "): " + text);
  }
  try {
#ifdef USE_C10D_NCCL
    if (cfg.backend == "nccl") {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = millis(cfg.timeoutSeconds);
      auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, cfg.rank, cfg.worldSize, options);
      return std::make_unique<GroupCommunicator<c10d::ProcessGroupNCCL>>(store, group, cfg.rank, cfg.worldSize);
    }
#endif
#ifdef USE_C10D_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(millis(cfg.timeoutSeconds));
    // Loopback for a single machine; otherwise the interface that reaches the master.
    const bool local = cfg.masterAddr == "127.0.0.1" || cfg.masterAddr == "localhost";
    options->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                     : c10d::ProcessGroupGloo::createDefaultDevice());
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, cfg.rank, cfg.worldSize, options);
    return std::make_unique<GroupCommunicator<c10d::ProcessGroupGloo>>(store, group, cfg.rank, cfg.worldSize);
#endif
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError(where + ": could not set up the " + cfg.backend + " process group: " + e.what());
  }
#endif
  throw ConfigError("train.distributed: no backend available");
}

void allReduceBucketed(Communicator& comm, const std::vector<at::Tensor>& tensors, double scale) {
  constexpr int64_t bucketBytes = 25 << 20;
  torch::NoGradGuard noGrad;
  size_t begin = 0;
  while (begin < tensors.size()) {
    size_t end = begin;
    int64_t bytes = 0;
    std::vector<at::Tensor> flat;
    while (end < tensors.size() &&
           (flat.empty() || bytes + static_cast<int64_t>(tensors[end].nbytes()) <= bucketBytes)) {
      bytes += static_cast<int64_t>(tensors[end].nbytes());
      flat.push_back(tensors[end].reshape({-1}));
      ++end;
    }
    std::vector<at::Tensor> bucket{torch::cat(flat)};
    comm.allReduceSum(bucket);
    if (scale != 1.0) bucket[0].mul_(scale);
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(bucket[0].narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
    begin = end;
  }
}

}  // namespace ebm
