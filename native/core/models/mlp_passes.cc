#include "models/mlp_passes.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "models/gemm.h"

namespace ebm {
namespace {

// Rows per block: 512 KiB per [rows, width] buffer, so a block's activations, derivatives and
// gradients mostly stay in a core's L2 cache (1 MiB here) between the GEMMs and the activation
// passes. Langevin on 10 000 chains, width 128, 1 thread: 1.06M chain-steps/s at 128 KiB, 1.13M
// at 512 KiB, 1.09M at 1 MiB, 0.39M with the whole batch as one block.
// At most that, and sized so every thread gets the same number of equal blocks: a batch of 2176
// rows in blocks of 1024 would leave one of two threads a third of the work (4 blocks of 544 do not).
int64_t blockRows(const MlpTensors& m, int64_t n) {
  int64_t widest = 1;
  for (const at::Tensor& w : m.weights) widest = std::max(widest, w.size(0));
  const int64_t cached = std::clamp<int64_t>((int64_t{1} << 17) / widest, 16, 4096);
  const int64_t threads = std::max(1, at::get_num_threads());
  const int64_t perThread = std::max<int64_t>(1, (n + threads * cached - 1) / (threads * cached));
  return std::max<int64_t>(16, (n + threads * perThread - 1) / (threads * perThread));
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
    torch::NoGradGuard noGrad;  // grad mode is per thread: the workers' is on
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = b * rows;
      body(first, std::min(rows, n - first));
    }
  });
}

// The forward pass of one block: h[i] <- act(pre_i), d[i] <- act'(pre_i), d2[i] <- act''(pre_i)
// when d2 is given, e <- E when e is defined. All are views of the block's rows (the caller's
// storage: per-thread scratch or the tensors a backward pass keeps).
void forwardBlock(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb, std::vector<at::Tensor>& h,
                  std::vector<at::Tensor>& d, at::Tensor e, std::vector<at::Tensor>* d2 = nullptr) {
  const int64_t inputDim = x.size(1);
  for (size_t i = 0; i < m.weights.size(); ++i) {
    // the products only: the activation pass adds the bias
    if (i == 0) {
      if (emb.defined()) {
        // layer 0 reads [x, emb]: two products instead of concatenating the inputs
        product(h[0], x, m.weights[0].narrow(1, 0, inputDim).t());
        addProduct(h[0], emb, m.weights[0].narrow(1, inputDim, emb.size(1)).t());
      } else {
        product(h[0], x, m.weights[0].t());
      }
    } else {
      product(h[i], h[i - 1], m.weights[i].t());
      if (emb.defined() && !m.timeWeights.empty()) addProduct(h[i], emb, m.timeWeights[i - 1].t());
    }
    const float* bias = m.biases[i].data_ptr<float>();
    if (d2)
      activateWithTwoDerivatives(m.activation, h[i].data_ptr<float>(), d[i].data_ptr<float>(),
                                 (*d2)[i].data_ptr<float>(), bias, h[i].size(0), h[i].size(1));
    else
      activateWithDerivative(m.activation, h[i].data_ptr<float>(), d[i].data_ptr<float>(), bias, h[i].size(0),
                             h[i].size(1));
  }
  if (e.defined())
    rowDots(e.data_ptr<float>(), h.back().data_ptr<float>(), m.outWeight.data_ptr<float>(),
            m.outBias.data_ptr<float>()[0], h.back().size(0), h.back().size(1));
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
    product(below, g, m.weights[i]);
    multiplyInPlace(d[i - 1].data_ptr<float>(), below.data_ptr<float>(), below.numel());
    g = d[i - 1];
  }
  product(gx, g, m.weights[0].narrow(1, 0, gx.size(1)));
}

// out [H, K] <- a^T b for a [N, H], b [N, K], split over the rows of out so each thread writes its
// own slice (no reduction across threads).
void transposedProduct(at::Tensor out, const at::Tensor& a, const at::Tensor& b) {
  const int64_t rows = out.size(0);
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard noGrad;
    at::Tensor slice = out.narrow(0, begin, end - begin);
    product(slice, a.narrow(1, begin, end - begin).t(), b);
  });
}

// The tensors an autograd node takes, flat: x, [emb], weights (L), biases (L), [time weights
// (L - 1)], out weight, out bias. unpack() reads them back.
std::vector<at::Tensor> pack(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb) {
  std::vector<at::Tensor> inputs{x.contiguous()};
  if (emb.defined()) inputs.push_back(emb.contiguous());
  inputs.insert(inputs.end(), m.weights.begin(), m.weights.end());
  inputs.insert(inputs.end(), m.biases.begin(), m.biases.end());
  inputs.insert(inputs.end(), m.timeWeights.begin(), m.timeWeights.end());
  inputs.push_back(m.outWeight);
  inputs.push_back(m.outBias);
  return inputs;
}

MlpTensors unpack(at::TensorList inputs, int64_t layers, bool hasEmb, int64_t activation) {
  MlpTensors m;
  size_t k = hasEmb ? 2 : 1;
  for (int64_t i = 0; i < layers; ++i) m.weights.push_back(inputs[k++]);
  for (int64_t i = 0; i < layers; ++i) m.biases.push_back(inputs[k++]);
  // time weights are packed only for a model that injects the embedding into every layer: what is
  // left before the two output tensors
  while (k + 2 < inputs.size()) m.timeWeights.push_back(inputs[k++]);
  m.outWeight = inputs[k++];
  m.outBias = inputs[k++];
  m.activation = static_cast<FusedActivation>(activation);
  return m;
}

// The gradients a node returns: one per packed input, in order (x and emb get none: the nodes are
// used only when they need none), then none for the three non-tensor arguments.
torch::autograd::variable_list packGrads(bool hasEmb, const std::vector<at::Tensor>& gradW,
                                         const std::vector<at::Tensor>& gradB, const std::vector<at::Tensor>& gradT,
                                         const at::Tensor& gradOutW, const at::Tensor& gradOutB) {
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

// The hand-written backwards build no graph: a caller that differentiates them again
// (create_graph through parameter gradients) gets an error, not a silent constant.
void refuseGraphThroughBackward() {
  if (at::GradMode::is_enabled())
    throw std::runtime_error(
        "the MLP's hand-written backward cannot be differentiated again: build the model with fusedPasses: false");
}

// What a node keeps for its backward: the packed inputs, the layout and named per-layer tensors.
using PerLayer = std::pair<const char*, const std::vector<at::Tensor>*>;
void saveForBackward(torch::autograd::AutogradContext* ctx, at::TensorList inputs, int64_t layers, bool hasEmb,
                     int64_t activation, std::initializer_list<PerLayer> perLayer) {
  ctx->save_for_backward(inputs.vec());
  for (const auto& [key, tensors] : perLayer) ctx->saved_data[key] = *tensors;
  ctx->saved_data["layers"] = layers;
  ctx->saved_data["hasEmb"] = hasEmb;
  ctx->saved_data["activation"] = activation;
}

struct Saved {
  torch::autograd::AutogradContext* ctx;
  torch::autograd::variable_list inputs;
  MlpTensors m;
  at::Tensor x, emb;  // emb undefined without time conditioning
  int64_t layers;
  bool hasEmb;
  std::vector<at::Tensor> perLayer(const char* key) const { return ctx->saved_data[key].toTensorVector(); }
};
// What a backward starts from; refuses a backward that is itself differentiated.
Saved restore(torch::autograd::AutogradContext* ctx) {
  refuseGraphThroughBackward();
  Saved s;
  s.ctx = ctx;
  s.inputs = ctx->get_saved_variables();
  s.layers = ctx->saved_data["layers"].toInt();
  s.hasEmb = ctx->saved_data["hasEmb"].toBool();
  s.m = unpack(s.inputs, s.layers, s.hasEmb, ctx->saved_data["activation"].toInt());
  s.x = s.inputs[0];
  if (s.hasEmb) s.emb = s.inputs[1];
  return s;
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
    forEachBlock(n, blockRows(m, n), [&](int64_t first, int64_t count) {
      std::vector<at::Tensor> hb, db;
      for (size_t i = 0; i < h.size(); ++i) {
        hb.push_back(h[i].narrow(0, first, count));
        db.push_back(d[i].narrow(0, first, count));
      }
      forwardBlock(m, x.narrow(0, first, count), hasEmb ? emb.narrow(0, first, count) : emb, hb, db,
                   e.narrow(0, first, count));
    });
    saveForBackward(ctx, inputs, layers, hasEmb, activation, {{"h", &h}, {"d", &d}});
    return e;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    const Saved saved = restore(ctx);
    const MlpTensors& m = saved.m;
    const at::Tensor &x = saved.x, &emb = saved.emb;
    const int64_t layers = saved.layers;
    const bool hasEmb = saved.hasEmb;
    const std::vector<at::Tensor> h = saved.perLayer("h"), d = saved.perLayer("d");
    const at::Tensor gE = gradOutputs[0].contiguous();
    const int64_t n = x.size(0), rows = blockRows(m, n), blocks = (n + rows - 1) / rows;
    const std::vector<int64_t> w = widths(m);
    const int64_t widest = *std::max_element(w.begin(), w.end());

    // One parallel region for the whole backward: each thread takes a share of the row blocks,
    // carries them from the output down to layer 0 in its own scratch, and sums their parameter
    // gradients into its own slot; the slots are added afterwards. The layout of a slot:
    // weights (L), biases (L), time weights (L - 1), out weight.
    std::vector<at::Tensor> shapes;
    for (auto* group : {&m.weights, &m.biases, &m.timeWeights})
      shapes.insert(shapes.end(), group->begin(), group->end());
    shapes.push_back(m.outWeight);
    int64_t slotSize = 0;
    for (const at::Tensor& t : shapes) slotSize += t.numel();
    const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), blocks));
    // Thread 0's slot becomes the gradients (backward hands them to the parameters, which keep
    // them until the next step); the others' are added into it and freed.
    at::Tensor total = torch::zeros({slotSize}, x.options());
    at::Tensor others = torch::zeros({threads - 1, slotSize}, x.options());
    auto inSlot = [&](const at::Tensor& slot) {
      std::vector<at::Tensor> out;
      int64_t offset = 0;
      for (const at::Tensor& t : shapes) {
        out.push_back(slot.narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
      return out;
    };
    at::parallel_for(0, threads, 1, [&](int64_t tBegin, int64_t tEnd) {
      torch::NoGradGuard noGrad;
      at::Tensor scratch = torch::empty({2, std::min(rows, n) * widest}, x.options());
      for (int64_t t = tBegin; t < tEnd; ++t) {
        const std::vector<at::Tensor> slot = inSlot(t == 0 ? total : others[t - 1]);
        const at::Tensor* gW = slot.data();
        const at::Tensor* gB = gW + layers;
        const at::Tensor* gT = gB + layers;
        const at::Tensor& gOut = slot.back();
        for (int64_t b = blocks * t / threads; b < blocks * (t + 1) / threads; ++b) {
          const int64_t first = b * rows, count = std::min(rows, n - first);
          auto block = [&](const at::Tensor& full) { return full.narrow(0, first, count); };
          auto scratchRows = [&](int64_t k, int64_t width) {
            return scratch[k].narrow(0, 0, count * width).view({count, width});
          };
          const at::Tensor gEb = block(gE);
          // g = dL/dpre of the current layer, starting at the last hidden one
          int64_t k = 0;
          at::Tensor g = scratchRows(k, w.back());
          outerTimesDerivative(g.data_ptr<float>(), gEb.data_ptr<float>(), m.outWeight.data_ptr<float>(),
                               block(d.back()).data_ptr<float>(), count, w.back());
          addWeightedRows(gOut.data_ptr<float>(), gEb.data_ptr<float>(), block(h.back()).data_ptr<float>(), count,
                          w.back());
          for (int64_t i = layers - 1; i >= 0; --i) {
            if (i == 0) {
              const int64_t inputDim = x.size(1);
              addProduct(gW[0].narrow(1, 0, inputDim), g.t(), block(x));
              if (hasEmb) addProduct(gW[0].narrow(1, inputDim, emb.size(1)), g.t(), block(emb));
            } else {
              addProduct(gW[i], g.t(), block(h[i - 1]));
              if (hasEmb && !m.timeWeights.empty()) addProduct(gT[i - 1], g.t(), block(emb));
            }
            addWeightedRows(gB[i].data_ptr<float>(), nullptr, g.data_ptr<float>(), count, w[i]);
            if (i == 0) break;
            k = 1 - k;
            at::Tensor below = scratchRows(k, w[i - 1]);
            product(below, g, m.weights[i]);
            multiplyInPlace(below.data_ptr<float>(), block(d[i - 1]).data_ptr<float>(), below.numel());
            g = below;
          }
        }
      }
    });
    // added one by one: a reduction over the slot dimension would start a parallel region for
    // what is, for a small MLP, a few thousand additions
    for (int64_t t = 1; t < threads; ++t) total.add_(others[t - 1]);
    const std::vector<at::Tensor> grads = inSlot(total);
    const std::vector<at::Tensor> gradW(grads.begin(), grads.begin() + layers);
    const std::vector<at::Tensor> gradB(grads.begin() + layers, grads.begin() + 2 * layers);
    const std::vector<at::Tensor> gradT(grads.begin() + 2 * layers, grads.end() - 1);
    const at::Tensor& gradOutW = grads.back();
    // summed in double: for a loss invariant to an energy shift (ED, DiffCLF) this is zero but
    // for rounding, and a float sum of a few thousand terms would leave noise Adam then scales up
    const at::Tensor gradOutB = gE.sum(at::kDouble).to(at::kFloat).reshape({1});
    return packGrads(hasEmb, gradW, gradB, gradT, gradOutW, gradOutB);
  }
};

// out = a b, split over the rows of a across the threads (one BLAS call each).
void rowsProduct(at::Tensor out, const at::Tensor& a, const at::Tensor& b) {
  at::parallel_for(0, a.size(0), 256, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard noGrad;
    at::Tensor slice = out.narrow(0, begin, end - begin);
    product(slice, a.narrow(0, begin, end - begin), b);
  });
}

// The score s = -grad_x E as one autograd node: the forward pass and the backward pass to x by
// hand, and a hand-written backward of that (second derivatives of the activations) for the
// parameters' gradients of a loss on s. With z_i the pre-activations, a_i the layer inputs,
// D_i = act'(z_i): delta_{L-1} = w * D_{L-1}, p_{i-1} = delta_i W_i, delta_{i-1} = p_{i-1} * D_{i-1},
// s = -delta_0 W_0x (W_0x: layer 0's columns for x).
class MlpScoreNode : public torch::autograd::Function<MlpScoreNode> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::TensorList inputs, int64_t layers, bool hasEmb,
                            int64_t activation) {
    const MlpTensors m = unpack(inputs, layers, hasEmb, activation);
    const at::Tensor& x = inputs[0];
    const at::Tensor emb = hasEmb ? inputs[1] : at::Tensor();
    const int64_t n = x.size(0), inputDim = x.size(1);
    const at::Tensor w0x = m.weights[0].narrow(1, 0, inputDim);
    std::vector<at::Tensor> h, d, d2, delta, p;
    for (int64_t w : widths(m)) {
      for (auto* v : {&h, &d, &d2, &delta, &p}) v->push_back(torch::empty({n, w}, x.options()));
    }
    p.pop_back();  // p_i exists below the top layer only
    at::Tensor score = torch::empty_like(x);
    forEachBlock(n, blockRows(m, n), [&](int64_t first, int64_t count) {
      auto rows = [&](const std::vector<at::Tensor>& v) {
        std::vector<at::Tensor> out;
        for (const at::Tensor& t : v) out.push_back(t.narrow(0, first, count));
        return out;
      };
      std::vector<at::Tensor> hb = rows(h), db = rows(d), d2b = rows(d2), deltab = rows(delta), pb = rows(p);
      forwardBlock(m, x.narrow(0, first, count), hasEmb ? emb.narrow(0, first, count) : emb, hb, db, at::Tensor(),
                   &d2b);
      const size_t top = hb.size() - 1;
      outerTimesDerivative(deltab[top].data_ptr<float>(), nullptr, m.outWeight.data_ptr<float>(),
                           db[top].data_ptr<float>(), count, deltab[top].size(1));
      for (size_t i = top; i > 0; --i) {
        product(pb[i - 1], deltab[i], m.weights[i]);
        at::mul_out(deltab[i - 1], pb[i - 1], db[i - 1]);
      }
      at::Tensor sb = score.narrow(0, first, count);
      product(sb, deltab[0], w0x);
      sb.neg_();
    });
    saveForBackward(ctx, inputs, layers, hasEmb, activation,
                    {{"h", &h}, {"d", &d}, {"d2", &d2}, {"delta", &delta}, {"p", &p}});
    return score;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    const Saved saved = restore(ctx);
    const MlpTensors& m = saved.m;
    const at::Tensor &x = saved.x, &emb = saved.emb;
    const int64_t layers = saved.layers;
    const bool hasEmb = saved.hasEmb;
    const std::vector<at::Tensor> h = saved.perLayer("h"), d = saved.perLayer("d"), d2 = saved.perLayer("d2"),
                                  delta = saved.perLayer("delta"), p = saved.perLayer("p");
    const int64_t inputDim = x.size(1);
    const size_t top = static_cast<size_t>(layers) - 1;
    // u = dL/d(grad_x E) = -dL/ds
    const at::Tensor u = gradOutputs[0].neg().contiguous();

    std::vector<at::Tensor> gradW(layers), gradB(layers), gradT(m.timeWeights.size()), zbar(layers);
    for (int64_t i = 0; i < layers; ++i) gradW[i] = torch::zeros_like(m.weights[i]);
    // Through grad_x E = delta_0 W_0x, up the delta chain: deltaBar_i = dL/ddelta_i. Each step
    // also gives zbar_i's direct part (D_i depends on z_i) and W_{i+1}'s part from p_i.
    transposedProduct(gradW[0].narrow(1, 0, inputDim), delta[0], u);
    at::Tensor deltaBar = torch::empty_like(delta[0]);
    rowsProduct(deltaBar, u, m.weights[0].narrow(1, 0, inputDim).t());
    for (size_t i = 0; i < top; ++i) {
      at::Tensor pBar = deltaBar * d[i];
      zbar[i] = torch::empty_like(pBar);
      multiplyThree(zbar[i].data_ptr<float>(), deltaBar.data_ptr<float>(), p[i].data_ptr<float>(),
                    d2[i].data_ptr<float>(), pBar.numel());
      at::Tensor part = torch::empty_like(m.weights[i + 1]);
      transposedProduct(part, delta[i + 1], pBar);
      gradW[i + 1].add_(part);
      at::Tensor above = torch::empty_like(delta[i + 1]);
      rowsProduct(above, pBar, m.weights[i + 1].t());
      deltaBar = above;
    }
    // delta_top = w * D_top
    const at::Tensor gradOutW = (deltaBar * d[top]).sum(0).unsqueeze(0);
    zbar[top] = deltaBar * d2[top];
    outerTimesDerivative(zbar[top].data_ptr<float>(), nullptr, m.outWeight.data_ptr<float>(),
                         zbar[top].data_ptr<float>(), zbar[top].size(0), zbar[top].size(1));
    // Down the forward chain: zbar_i collects what reaches it through a_{i+1} = act(z_i).
    for (size_t i = top;; --i) {
      const at::Tensor& input = i == 0 ? x : h[i - 1];
      at::Tensor part = torch::empty({m.weights[i].size(0), input.size(1)}, x.options());
      transposedProduct(part, zbar[i], input);
      gradW[i].narrow(1, 0, input.size(1)).add_(part);
      if (hasEmb && (i == 0 || !m.timeWeights.empty())) {
        at::Tensor embPart = torch::empty({m.weights[i].size(0), emb.size(1)}, x.options());
        transposedProduct(embPart, zbar[i], emb);
        if (i == 0)
          gradW[0].narrow(1, inputDim, emb.size(1)).add_(embPart);
        else
          gradT[i - 1] = embPart;
      }
      gradB[i] = zbar[i].sum(0);
      if (i == 0) break;
      at::Tensor below = torch::empty_like(d[i - 1]);
      rowsProduct(below, zbar[i], m.weights[i]);
      zbar[i - 1].addcmul_(below, d[i - 1]);
    }
    return packGrads(hasEmb, gradW, gradB, gradT, gradOutW, torch::zeros_like(m.outBias));
  }
};

}  // namespace

at::Tensor mlpEnergyAndGrad(const MlpTensors& m, const at::Tensor& xIn, const at::Tensor& embIn, at::Tensor* gradOut) {
  torch::NoGradGuard noGrad;
  const at::Tensor x = xIn.detach().contiguous();
  const at::Tensor emb = embIn.defined() ? embIn.detach().contiguous() : embIn;
  const int64_t n = x.size(0), rows = blockRows(m, n);
  const std::vector<int64_t> w = widths(m);
  const int64_t widest = *std::max_element(w.begin(), w.end());
  at::Tensor e = torch::empty({n}, x.options());
  at::Tensor gx = gradOut ? torch::empty_like(x) : at::Tensor();
  at::parallel_for(0, (n + rows - 1) / rows, 1, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard noGrad;
    // scratch for this thread's blocks: activations, derivatives and one layer of gradient
    const int64_t most = std::min(rows, n);
    at::Tensor hStore = torch::empty({most * sum(w)}, x.options());
    at::Tensor dStore = torch::empty({most * sum(w)}, x.options());
    at::Tensor tmp = torch::empty({most * widest}, x.options());
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
  return MlpEnergyNode::apply(at::TensorList(pack(m, x, emb)), static_cast<int64_t>(m.weights.size()), emb.defined(),
                              static_cast<int64_t>(m.activation));
}

at::Tensor mlpScoreWithParameterGrads(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb) {
  return MlpScoreNode::apply(at::TensorList(pack(m, x, emb)), static_cast<int64_t>(m.weights.size()), emb.defined(),
                             static_cast<int64_t>(m.activation));
}

}  // namespace ebm
