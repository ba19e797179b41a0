// Contrastive divergence with sampler negatives:
//   loss = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2)
// Negatives come from any sampler. With a replay buffer (persistent CD) chains resume from
// stored states, a fraction `reinit` restarting from noise; without one they start at the data
// (classic CD-k) or at noise. Noise is Gaussian with the batch's per-coordinate mean and std.
#include <torch/torch.h>

#include <optional>

#include "errors.h"
#include "losses/loss_registry.h"
#include "samplers/sampler.h"
#include "tensor_util.h"

namespace ebm {
namespace {

struct BufferOptions {
  int64_t size{};
  double reinit = 0.05;  // the fraction of chains restarted from noise each step
};
template <typename Fields>
void describe(Fields& f, BufferOptions& o) {
  f.required("size", o.size);
  f.optional("reinit", o.reinit);
}

// Where chains start without a buffer: at the data (CD-k) or at noise.
enum class ChainStart { Data, Noise };
const std::vector<Choice<ChainStart>>& choicesOf(ChainStart) {
  static const std::vector<Choice<ChainStart>> c{{"data", ChainStart::Data}, {"noise", ChainStart::Noise}};
  return c;
}

struct CdOptions {
  json::Value sampler;  // read by the sampler registry
  double alpha = 0.1;   // energy-magnitude regulariser
  std::optional<BufferOptions> buffer;
  ChainStart init = ChainStart::Data;  // chain start without a buffer
};
template <typename Fields>
void describe(Fields& f, CdOptions& o) {
  f.required("sampler", o.sampler);
  f.optional("alpha", o.alpha);
  f.optional("buffer", o.buffer);
  f.optional("init", o.init);
}

class ContrastiveDivergence : public Loss {
 public:
  ContrastiveDivergence(const CdOptions& o, const EnergyModel&)
      : sampler_(makeSampler(o.sampler, "loss.sampler")),
        alpha_(o.alpha),
        init_(o.init),
        bufferSize_(o.buffer ? o.buffer->size : 0),
        reinit_(o.buffer ? o.buffer->reinit : 0.0) {}

  int64_t rowsPerExample() const override { return 2; }

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    at::Generator& gen = step.gen;
    const int64_t n = x.size(0);
    at::Tensor start;
    at::Tensor slots;
    if (bufferSize_ > 0) {
      if (!buffer_.defined()) buffer_ = noiseLike(x, bufferSize_, gen);
      slots = torch::randint(bufferSize_, {n}, gen, torch::TensorOptions().device(x.device()).dtype(torch::kLong));
      start = buffer_.index_select(0, slots);
      at::Tensor fresh = noiseLike(x, n, gen);
      std::vector<int64_t> bshape(static_cast<size_t>(x.dim()), 1);
      bshape[0] = n;
      at::Tensor restart = (torch::rand({n}, gen, x.options()) < reinit_).reshape(bshape);
      start = torch::where(restart, fresh, start);
    } else {
      start = init_ == ChainStart::Data ? x.detach() : noiseLike(x, n, gen);
    }
    SampleOptions options;
    options.cancel = step.cancel;  // a long chain stops within one sampler step of an abort
    SampleResult negatives = sampler_->run(model, start, gen, options);
    at::Tensor neg = negatives.x.detach();
    if (bufferSize_ > 0) {
      torch::NoGradGuard noGrad;
      buffer_.index_copy_(0, slots, neg);
    }
    at::Tensor e = model.energy(torch::cat({x, neg}, 0), at::Tensor());
    at::Tensor ePos = e.narrow(0, 0, n), eNeg = e.narrow(0, n, n);
    at::Tensor loss = ePos.mean() - eNeg.mean() + alpha_ * (ePos.pow(2).mean() + eNeg.pow(2).mean());
    LossOutput out{loss, {}};
    out.metrics["energyPos"] = ePos.detach().mean();
    out.metrics["energyNeg"] = eNeg.detach().mean();
    out.metrics["gap"] = out.metrics["energyNeg"] - out.metrics["energyPos"];
    if (negatives.acceptRate.defined()) out.metrics["acceptRate"] = negatives.acceptRate.mean();
    return out;
  }

  std::vector<NamedTensor> state() const override {
    if (!buffer_.defined()) return {};  // no step has filled it yet
    return {{"cd.buffer", buffer_}};
  }

  void restoreState(const std::map<std::string, at::Tensor>& saved, const c10::Device& device) override {
    auto it = saved.find("cd.buffer");
    if (it == saved.end() || bufferSize_ == 0) return;
    if (it->second.dim() < 1 || it->second.size(0) != bufferSize_ || !it->second.is_floating_point())
      throw IoError("the checkpoint's replay buffer has shape " + shapeString(it->second.sizes()) +
                    ", loss.buffer.size is " + std::to_string(bufferSize_));
    buffer_ = it->second.to(device, torch::kFloat32).clone();
  }

 private:
  static at::Tensor noiseLike(const at::Tensor& x, int64_t rows, at::Generator& gen) {
    at::Tensor mean = x.mean(0, true);
    at::Tensor std = x.size(0) > 1 ? x.std(0, true, true).clamp_min(1e-3) : torch::ones_like(mean);
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape[0] = rows;
    return mean + std * torch::randn(shape, gen, x.options());
  }

  std::unique_ptr<Sampler> sampler_;
  double alpha_;
  ChainStart init_;
  int64_t bufferSize_;
  double reinit_;
  at::Tensor buffer_;
};

}  // namespace

const LossKind& contrastiveDivergenceKind() {
  static const LossKind kind = lossKind<CdOptions, ContrastiveDivergence>(
      "cd", {LossTime::Never, false, nullptr, /*latentPrior=*/true, {"energyPos", "energyNeg", "gap", "acceptRate"}});
  return kind;
}

}  // namespace ebm
