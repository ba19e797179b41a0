// Contrastive divergence with sampler negatives:
//   loss = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2)
// Negatives come from any sampler. With a replay buffer (persistent CD) chains resume from
// stored states, a fraction `reinit` restarting from noise; without one they start at the data
// (classic CD-k) or at noise. Noise is Gaussian with the batch's per-coordinate mean and std.
#include <torch/torch.h>

#include "errors.h"
#include "losses/loss_registry.h"
#include "samplers/sampler.h"
#include "tensor_util.h"

namespace ebm {
namespace {

class ContrastiveDivergence : public Loss {
 public:
  explicit ContrastiveDivergence(const json::Value& cfg)
      : sampler_(makeSampler(cfg["sampler"], "loss.sampler")),
        alpha_(json::getNumber(cfg, "alpha", "loss", 0.1)),
        init_(json::getString(cfg, "init", "loss", "data")) {
    if (!(alpha_ >= 0)) throw ConfigError("loss.alpha must be >= 0, got " + std::to_string(alpha_));
    if (init_ != "data" && init_ != "noise") throw ConfigError("loss.init must be 'data' or 'noise'");
    if (cfg.has("buffer")) {
      const json::Value& b = cfg["buffer"];
      bufferSize_ = json::getInt(b, "size", "loss.buffer");
      reinit_ = json::getNumber(b, "reinit", "loss.buffer", 0.05);
      if (bufferSize_ < 1) throw ConfigError("loss.buffer.size must be >= 1");
      if (!(reinit_ >= 0 && reinit_ <= 1)) throw ConfigError("loss.buffer.reinit must be in [0, 1]");
    }
  }

  LossOutput compute(EnergyModel& model, const at::Tensor& x, at::Generator& gen) override {
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
      start = init_ == "data" ? x.detach() : noiseLike(x, n, gen);
    }
    SampleOptions options;
    options.cancel = cancel_;  // a long chain stops within one sampler step of an abort
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

  void setCancelFlag(const std::atomic<bool>* cancel) override { cancel_ = cancel; }

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
  const std::atomic<bool>* cancel_ = nullptr;
  double alpha_;
  std::string init_;
  int64_t bufferSize_ = 0;
  double reinit_ = 0.05;
  at::Tensor buffer_;
};

}  // namespace

std::unique_ptr<Loss> makeContrastiveDivergence(const json::Value& cfg, const EnergyModel& model) {
  if (model.timeConditioned()) throw ConfigError("loss.kind 'cd' needs a model that is not time-conditioned");
  if (!cfg.has("sampler")) throw ConfigError("loss.sampler is required for contrastive divergence");
  return std::make_unique<ContrastiveDivergence>(cfg);
}

}  // namespace ebm
