#include "models/mlp_passes.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

namespace ebm {
namespace {

// Rows per block: about 128 KiB per [rows, width] buffer, so a block's activations, derivatives
// and gradients stay in a core's L2 cache between the GEMMs and the activation passes.
int64_t blockRows(const MlpTensors& m) {
  int64_t widest = 1;
  for (const at::Tensor& w : m.weights) widest = std::max(widest, w.size(0));
  return std::clamp<int64_t>((int64_t{1} << 15) / widest, 16, 1024);
}

// Layer widths H_0..H_{L-1}.
std::vector<int64_t> widths(const MlpTensors& m) {
  std::vector<int64_t> out;
  for (const at::Tensor& w : m.weights) out.push_back(w.size(0));
  return out;
}

// Runs blocks [0, blocks) of `rows` rows over LibTorch's threads; each thread calls body(first,
// count) for its blocks in order.
template <typename Body>
void forEachBlock(int64_t n, int64_t rows, const Body& body) {
  const int64_t blocks = (n + rows - 1) / rows;
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = b * rows;
      body(first, std::min(rows, n - first));
    }
  });
}

// The forward pass of one block: h[i] <- act(pre_i), d[i] <- act'(pre_i), e <- E. h, d and e are
// views of `count` rows (the caller's storage: per-thread scratch or the saved activations).
void forwardBlock(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb, std::vector<at::Tensor>& h,
                  std::vector<at::Tensor>& d, at::Tensor e) {
  const int64_t inputDim = x.size(1);
  for (size_t i = 0; i < m.weights.size(); ++i) {
    if (i == 0) {
      if (emb.defined()) {
        // layer 0 reads [x, emb]: two products instead of concatenating the inputs
        at::addmm_out(h[0], m.biases[0], x, m.weights[0].narrow(1, 0, inputDim).t());
        h[0].addmm_(emb, m.weights[0].narrow(1, inputDim, emb.size(1)).t());
      } else {
        at::addmm_out(h[0], m.biases[0], x, m.weights[0].t());
      }
    } else {
      at::addmm_out(h[i], m.biases[i], h[i - 1], m.weights[i].t());
      if (emb.defined()) h[i].addmm_(emb, m.timeWeights[i - 1].t());
    }
    activateWithDerivative(m.activation, h[i].data_ptr<float>(), d[i].data_ptr<float>(), h[i].numel());
  }
  at::addmv_out(e, m.outBias, h.back(), m.outWeight[0]);
}

// Views of `count` rows of scratch: one [count, width] matrix per layer.
std::vector<at::Tensor> rowsOf(const at::Tensor& flat, const std::vector<int64_t>& widths, int64_t count) {
  std::vector<at::Tensor> out;
  int64_t offset = 0;
  for (int64_t w : widths) {
    out.push_back(flat.narrow(0, offset, count * w).view({count, w}));
    offset += count * w;
  }
  return out;
}

int64_t sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

// Gradient of the summed energies through the layers of one block, from the output down to the
// input: d[i] is overwritten with dE/dpre_i; tmp is scratch of the widest layer.
void inputGradBlock(const MlpTensors& m, std::vector<at::Tensor>& d, const at::Tensor& tmp, at::Tensor gx) {
  const size_t layers = m.weights.size();
  const int64_t count = d[0].size(0);
  at::Tensor g = d[layers - 1];
  outerTimesDerivative(g.data_ptr<float>(), nullptr, m.outWeight.data_ptr<float>(), g.data_ptr<float>(), count,
                       g.size(1));
  for (size_t i = layers - 1; i > 0; --i) {
    at::Tensor below = tmp.narrow(0, 0, count * d[i - 1].size(1)).view({count, d[i - 1].size(1)});
    at::mm_out(below, g, m.weights[i]);
    multiplyInPlace(d[i - 1].data_ptr<float>(), below.data_ptr<float>(), below.numel());
    g = d[i - 1];
  }
  at::mm_out(gx, g, m.weights[0].narrow(1, 0, gx.size(1)));
}

// out [H, K] <- a^T b for a [N, H], b [N, K], split over the rows of out so each thread writes its
// own slice (no reduction across threads).
void transposedProduct(at::Tensor out, const at::Tensor& a, const at::Tensor& b) {
  const int64_t rows = out.size(0);
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    at::Tensor slice = out.narrow(0, begin, end - begin);
    at::mm_out(slice, a.narrow(1, begin, end - begin).t(), b);
  });
}

class MlpEnergyNode : public torch::autograd::Function<MlpEnergyNode> {
 public:
  // inputs: x, [emb], weights (L), biases (L), [time weights (L - 1)], out weight, out bias.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::TensorList inputs, int64_t layers, bool hasEmb,
                            int64_t activation) {
    const MlpTensors m = unpack(inputs, layers, hasEmb, activation);
    const at::Tensor& x = inputs[0];
    const at::Tensor emb = hasEmb ? inputs[1] : at::Tensor();
    const int64_t n = x.size(0);
    std::vector<at::Tensor> h, d;
    for (int64_t w : widths(m)) {
      h.push_back(torch::empty({n, w}, x.options()));
      d.push_back(torch::empty({n, w}, x.options()));
    }
    at::Tensor e = torch::empty({n}, x.options());
    forEachBlock(n, blockRows(m), [&](int64_t first, int64_t count) {
      std::vector<at::Tensor> hb, db;
      for (size_t i = 0; i < h.size(); ++i) {
        hb.push_back(h[i].narrow(0, first, count));
        db.push_back(d[i].narrow(0, first, count));
      }
      forwardBlock(m, x.narrow(0, first, count), hasEmb ? emb.narrow(0, first, count) : emb, hb, db,
                   e.narrow(0, first, count));
    });
    ctx->save_for_backward(inputs.vec());
    ctx->saved_data["h"] = h;
    ctx->saved_data["d"] = d;
    ctx->saved_data["layers"] = layers;
    ctx->saved_data["hasEmb"] = hasEmb;
    ctx->saved_data["activation"] = activation;
    return e;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    const torch::autograd::variable_list inputs = ctx->get_saved_variables();
    const int64_t layers = ctx->saved_data["layers"].toInt();
    const bool hasEmb = ctx->saved_data["hasEmb"].toBool();
    const MlpTensors m = unpack(inputs, layers, hasEmb, ctx->saved_data["activation"].toInt());
    const std::vector<at::Tensor> h = ctx->saved_data["h"].toTensorVector();
    const std::vector<at::Tensor> d = ctx->saved_data["d"].toTensorVector();
    const at::Tensor& x = inputs[0];
    const at::Tensor emb = hasEmb ? inputs[1] : at::Tensor();
    const at::Tensor gE = gradOutputs[0].contiguous();
    const int64_t n = x.size(0), rows = blockRows(m);

    std::vector<at::Tensor> gradW(layers), gradB(layers), gradT(hasEmb ? layers - 1 : 0);
    // g = dL/dpre of the current layer, starting at the last hidden one.
    at::Tensor g = torch::empty_like(d.back());
    forEachBlock(n, rows, [&](int64_t first, int64_t count) {
      outerTimesDerivative(g.narrow(0, first, count).data_ptr<float>(), gE.data_ptr<float>() + first,
                           m.outWeight.data_ptr<float>(), d.back().narrow(0, first, count).data_ptr<float>(), count,
                           g.size(1));
    });
    const at::Tensor gradOutW = torch::mv(h.back().t(), gE).unsqueeze(0);
    const at::Tensor gradOutB = gE.sum().reshape({1});
    for (int64_t i = layers - 1; i >= 0; --i) {
      gradW[i] = torch::empty_like(m.weights[i]);
      if (i == 0) {
        const int64_t inputDim = x.size(1);
        transposedProduct(gradW[0].narrow(1, 0, inputDim), g, x);
        if (hasEmb) transposedProduct(gradW[0].narrow(1, inputDim, emb.size(1)), g, emb);
      } else {
        transposedProduct(gradW[i], g, h[i - 1]);
        if (hasEmb) {
          gradT[i - 1] = torch::empty_like(m.timeWeights[i - 1]);
          transposedProduct(gradT[i - 1], g, emb);
        }
      }
      gradB[i] = g.sum(0);
      if (i == 0) break;
      at::Tensor below = torch::empty_like(d[i - 1]);
      forEachBlock(n, rows, [&](int64_t first, int64_t count) {
        at::Tensor out = below.narrow(0, first, count);
        at::mm_out(out, g.narrow(0, first, count), m.weights[i]);
        multiplyInPlace(out.data_ptr<float>(), d[i - 1].narrow(0, first, count).data_ptr<float>(), out.numel());
      });
      g = below;
    }
    // One gradient per forward input, in order; x and emb get none (this node is used only when they
    // need none), nor do the three non-tensor arguments.
    torch::autograd::variable_list grads{at::Tensor()};
    if (hasEmb) grads.emplace_back();
    grads.insert(grads.end(), gradW.begin(), gradW.end());
    grads.insert(grads.end(), gradB.begin(), gradB.end());
    grads.insert(grads.end(), gradT.begin(), gradT.end());
    grads.push_back(gradOutW);
    grads.push_back(gradOutB);
    grads.resize(grads.size() + 3);
    return grads;
  }

 private:
  static MlpTensors unpack(at::TensorList inputs, int64_t layers, bool hasEmb, int64_t activation) {
    MlpTensors m;
    size_t k = hasEmb ? 2 : 1;
    for (int64_t i = 0; i < layers; ++i) m.weights.push_back(inputs[k++]);
    for (int64_t i = 0; i < layers; ++i) m.biases.push_back(inputs[k++]);
    if (hasEmb)
      for (int64_t i = 1; i < layers; ++i) m.timeWeights.push_back(inputs[k++]);
    m.outWeight = inputs[k++];
    m.outBias = inputs[k++];
    m.activation = static_cast<FusedActivation>(activation);
    return m;
  }
};

}  // namespace

at::Tensor mlpEnergyAndGrad(const MlpTensors& m, const at::Tensor& xIn, const at::Tensor& embIn, at::Tensor* gradOut) {
  torch::NoGradGuard noGrad;
  const at::Tensor x = xIn.detach().contiguous();
  const at::Tensor emb = embIn.defined() ? embIn.detach().contiguous() : embIn;
  const int64_t n = x.size(0), rows = blockRows(m);
  const std::vector<int64_t> w = widths(m);
  const int64_t widest = *std::max_element(w.begin(), w.end());
  at::Tensor e = torch::empty({n}, x.options());
  at::Tensor gx = gradOut ? torch::empty_like(x) : at::Tensor();
  at::parallel_for(0, (n + rows - 1) / rows, 1, [&](int64_t begin, int64_t end) {
    // scratch for this thread's blocks: activations, derivatives and one layer of gradient
    at::Tensor hStore = torch::empty({rows * sum(w)}, x.options());
    at::Tensor dStore = torch::empty({rows * sum(w)}, x.options());
    at::Tensor tmp = torch::empty({rows * widest}, x.options());
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = b * rows, count = std::min(rows, n - first);
      std::vector<at::Tensor> h = rowsOf(hStore, w, count), d = rowsOf(dStore, w, count);
      forwardBlock(m, x.narrow(0, first, count), emb.defined() ? emb.narrow(0, first, count) : emb, h, d,
                   e.narrow(0, first, count));
      if (gradOut) inputGradBlock(m, d, tmp, gx.narrow(0, first, count));
    }
  });
  if (gradOut) *gradOut = gx;
  return e;
}

at::Tensor mlpEnergyWithParameterGrads(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb) {
  std::vector<at::Tensor> inputs{x.contiguous()};
  if (emb.defined()) inputs.push_back(emb.contiguous());
  inputs.insert(inputs.end(), m.weights.begin(), m.weights.end());
  inputs.insert(inputs.end(), m.biases.begin(), m.biases.end());
  inputs.insert(inputs.end(), m.timeWeights.begin(), m.timeWeights.end());
  inputs.push_back(m.outWeight);
  inputs.push_back(m.outBias);
  return MlpEnergyNode::apply(at::TensorList(inputs), static_cast<int64_t>(m.weights.size()), emb.defined(),
                              static_cast<int64_t>(m.activation));
}

}  // namespace ebm
