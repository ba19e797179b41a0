#!/usr/bin/env python3
"""A plain, one-file PyTorch reference of DiffCLF (OuYang, Grenioux, Hernández-Lobato, 2026) on the
two-mode mixture in d = 2 (issue 24), written from METHODS.md §2-3.

Problem: data 2/3 N(-2 e1, 0.25^2 I) + 1/3 N(2 e1, 0.25^2 I) (examples/reproduce/diffclf.ts), 8192 samples
drawn with the library's own generator (xoshiro128**, ported below), so both sides train on the same data.

Path: VP, beta linear in [0.1, 20], alpha_t = exp(-1/2 (0.1 t + 1/2 19.9 t^2)), gamma_t = sqrt(1 - alpha_t^2);
64 levels evenly spaced from t = 0.001 to 1.

Energy: E(x, t) = MLP([x, phi(t)]), 3 x 128 SiLU, phi(t) = [sin(w t), cos(w t)] with 8 angular frequencies w
log-spaced from 1 to 64 (16 features), concatenated to the input only.

Loss: DSM (epsilon-prediction error || eps + gamma_t s(x_t, t) ||^2 / d, one level per example, uniform on the
grid) for 2000 steps, then DSM + CLF for 1000 steps:
    logits l_i(x) = -E(x, t_i) - f_i, f in R^L learned (own Adam group, lr 1e-2), re-centred f <- f - f_L
    per example K = 4 distinct levels, a noisy copy x_j at each,
    L_CLF = -(1/K) sum_j [ l_j(x_j) - logsumexp_{i in K} l_i(x_j) ]
Adam lr 1e-3, batch 256, gradient norm clipped to 1 (network parameters), one optimiser for the whole run.

Metrics, measured as examples/reproduce/diffclf.ts measures them:
  weight error  |w1 - 2/3|, w1 = the share of x < 0 in the self-normalised weights exp(-E(x, 0.001)) over the
                200 x 200 cell centres of [-4, 4]^2 (diffclf.ts's gridWeightError);
  R^2 at 0.01   R^2 up to a constant of -E(x, 0.01) against the exact log p_0.01(x) at the 4000 points that
                mixture.sample(4000, 7, { path: 'vp', t: 0.01 }) draws (the same points, via the ported generator).

Flags switch on, one at a time, the choices in which ebm-torch differs (for the investigation of issue 24):
  --time-inject every    the embedding also enters every later hidden layer through a bias-free linear map
                         (native/core/models/mlp.cc)
  --time-max-freq F      top angular frequency of the embedding
  --time-embed-dim D     width of the embedding
  --reset-optimizer      a fresh Adam state when CLF starts (two ebm.train calls)
  --clip-offsets         the clipped gradient norm includes the offsets (native/core/train/trainer.cc)
  --no-clip-pre          no gradient clipping during the DSM phase (ebm's default for 'dsm')
  --dsm-all-k            the DSM term on all K noisy copies instead of one level per example
  --dsm-weighting edm    EDM weighting of the DSM term

Usage: python3 examples/reproduce/diffclf_reference.py --seed 0 [flags]    (prints one JSON object)
       python3 examples/reproduce/diffclf_reference.py --evaluate model.safetensors
           measures an ebm-torch checkpoint (a time-conditioned 'mlp') with this file's evaluate(), so that the two
           sides' measurements can be checked against each other
"""
import argparse
import json
import math
import os
import sys
import time

import torch

MASK = 0xFFFFFFFF
T_MIN = 1e-3
T_EVAL = 0.01
BETA_MIN, BETA_MAX = 0.1, 20.0
MEANS = [[-2.0, 0.0], [2.0, 0.0]]
STDS = [0.25, 0.25]
WEIGHTS = [2 / 3, 1 / 3]


class Random:
    """lib/random.ts: xoshiro128** seeded by splitmix32; Box-Muller normals."""

    def __init__(self, seed):
        x = (seed & MASK) ^ 0x9E3779B9
        state = []
        for _ in range(4):
            x = (x + 0x9E3779B9) & MASK
            z = x
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & MASK
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & MASK
            state.append((z ^ (z >> 16)) & MASK)
        self.s = state

    @staticmethod
    def _rotl(v, k):
        return ((v << k) | (v >> (32 - k))) & MASK

    def uniform(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 9) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 11)
        return result / 4294967296

    def normal(self):
        u = 1 - self.uniform()
        return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * self.uniform())


def vp_alpha(t):
    return math.exp(-0.5 * (BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t))


def mixture_at(t):
    """(means, per-coordinate variances, weights) of p_t; t = None: the data."""
    variances = [[s * s] * 2 for s in STDS]
    means = [list(m) for m in MEANS]
    if t is not None:
        a = vp_alpha(t)
        g = math.sqrt(max(1 - a * a, 1e-12))
        means = [[a * v for v in m] for m in means]
        variances = [[math.sqrt(a * a * v + g * g) ** 2 for v in var] for var in variances]
    return means, variances, list(WEIGHTS)


def sample_mixture(n, seed, t=None):
    """GaussianMixture.sample(n, seed, at) of lib/data/mixture.ts, value for value (float32 rows)."""
    means, variances, weights = mixture_at(t)
    r = Random(seed)
    cumulative, acc = [], 0.0
    for w in weights:
        acc += w
        cumulative.append(acc)
    stds = [[math.sqrt(v) for v in var] for var in variances]
    out = []
    for _ in range(n):
        u = r.uniform()
        k = 0
        while k < len(weights) - 1 and u >= cumulative[k]:
            k += 1
        out.append([means[k][j] + stds[k][j] * r.normal() for j in range(2)])
    return torch.tensor(out, dtype=torch.float32)


def log_density(x, t):
    means, variances, weights = mixture_at(t)
    x = x.double()
    terms = []
    for m, v, w in zip(means, variances, weights):
        m = torch.tensor(m, dtype=torch.float64)
        v = torch.tensor(v, dtype=torch.float64)
        const = math.log(w) - 0.5 * (2 * math.log(2 * math.pi) + torch.log(v).sum())
        terms.append(const - 0.5 * ((x - m) ** 2 / v).sum(1))
    return torch.logsumexp(torch.stack(terms, 1), 1)


def alpha(t):
    return torch.exp(-0.5 * (BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t))


def gamma(t):
    return torch.sqrt(torch.clamp_min(1 - alpha(t) ** 2, 1e-12))


class Energy(torch.nn.Module):
    def __init__(self, dim, hidden, embed_dim, max_freq, inject):
        super().__init__()
        self.inject = inject
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(max_freq), embed_dim // 2)))
        widths = [dim + embed_dim] + hidden
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.time = torch.nn.ModuleList(
            torch.nn.Linear(embed_dim, h, bias=False) for h in (hidden[1:] if inject == "every" else [])
        )
        self.out = torch.nn.Linear(hidden[-1], 1)

    def forward(self, x, t):
        angles = t.reshape(-1, 1) * self.freqs
        emb = torch.cat([torch.sin(angles), torch.cos(angles)], 1)
        h = torch.cat([x, emb], 1)
        for i, layer in enumerate(self.layers):
            pre = layer(h)
            if self.inject == "every" and i > 0:
                pre = pre + self.time[i - 1](emb)
            h = torch.nn.functional.silu(pre)
        return self.out(h).squeeze(1)


def dsm_loss(model, x0, t, weighting):
    a, g = alpha(t)[:, None], gamma(t)[:, None]
    eps = torch.randn_like(x0)
    xt = (a * x0 + g * eps).requires_grad_(True)
    score = -torch.autograd.grad(model(xt, t).sum(), xt, create_graph=True)[0]
    err = ((eps + g * score) ** 2).mean(1)
    if weighting == "edm":
        sigma2 = (g / a).squeeze(1) ** 2
        err = err * (sigma2 + 1.0)
    return err.mean()


def clf_loss(model, offsets, x0, idx, grid):
    n, k = idx.shape
    t = grid[idx]  # [n, K]
    xj = alpha(t)[..., None] * x0[:, None] + gamma(t)[..., None] * torch.randn(n, k, x0.shape[1])  # [n, K(j), d]
    xs = xj[:, :, None].expand(n, k, k, x0.shape[1])  # copy j ...
    ts = t[:, None, :].expand(n, k, k)  # ... at level i
    e = model(xs.reshape(-1, x0.shape[1]), ts.reshape(-1)).reshape(n, k, k)
    logits = -e - offsets[idx][:, None, :]
    own = logits.diagonal(0, 1, 2)
    accuracy = (logits.detach().argmax(2) == torch.arange(k)).float().mean().item()
    return -(own - torch.logsumexp(logits, 2)).mean(), accuracy


@torch.no_grad()
def evaluate(model):
    h = 8 / 200
    axis = torch.tensor([-4 + (i + 0.5) * h for i in range(200)], dtype=torch.float32)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    e = model(points, torch.full((points.shape[0],), T_MIN)).double()
    p = torch.exp(-(e - e.min()))
    w1 = (p[points[:, 0] < 0].sum() / p.sum()).item()
    x = sample_mixture(4000, 7, T_EVAL)
    minus_e = -model(x, torch.full((x.shape[0],), T_EVAL)).double()
    truth = log_density(x, T_EVAL)
    a, b = minus_e - minus_e.mean(), truth - truth.mean()
    r2 = (1 - ((a - b) ** 2).sum() / (b**2).sum()).item()
    return {"weight": w1, "weightError": abs(w1 - WEIGHTS[0]), "r2At001": r2}


def load_ebm_checkpoint(path):
    """An ebm-torch 'mlp' checkpoint as this file's Energy (parameter names as native/core/models/mlp.cc writes them)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "reference"))
    import safetensors_reader

    tensors, meta = safetensors_reader.read(path)
    cfg = json.loads(meta["ebm_torch.config"])
    if cfg.get("kind") != "mlp" or not cfg.get("timeConditioned") or cfg.get("activation", "silu") != "silu":
        raise SystemExit(f"{path}: not a time-conditioned SiLU 'mlp' checkpoint")
    inject = cfg.get("timeInjection", "every")
    model = Energy(cfg["inputDim"], cfg["hidden"], cfg.get("timeEmbedDim", 32), cfg.get("timeMaxFrequency", 64), inject)
    state = {}
    for name, (_, t) in tensors.items():
        if name.startswith("time."):
            state[f"time.{int(name.split('.')[1]) - 1}.weight"] = t
        else:
            state[name] = t
    state["freqs"] = model.freqs
    model.load_state_dict(state)
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", type=int, default=64)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--pre-steps", type=int, default=2000)
    p.add_argument("--clf-steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--data-size", type=int, default=8192)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--offset-lr", type=float, default=1e-2)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--hidden", type=str, default="128,128,128")
    p.add_argument("--time-embed-dim", type=int, default=16)
    p.add_argument("--time-max-freq", type=float, default=64.0)
    p.add_argument("--time-inject", choices=["input", "every"], default="input")
    p.add_argument("--reset-optimizer", action="store_true")
    p.add_argument("--clip-offsets", action="store_true")
    p.add_argument("--no-clip-pre", action="store_true")
    p.add_argument("--dsm-all-k", action="store_true")
    p.add_argument("--dsm-weighting", choices=["noise", "edm"], default="noise")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--evaluate", type=str, default=None)
    o = p.parse_args()
    torch.set_num_threads(o.threads)
    if o.evaluate:
        print(json.dumps({"impl": "ebm-torch checkpoint", **evaluate(load_ebm_checkpoint(o.evaluate))}))
        return
    torch.manual_seed(o.seed)
    start = time.time()

    data = sample_mixture(o.data_size, o.seed)
    model = Energy(2, [int(h) for h in o.hidden.split(",")], o.time_embed_dim, o.time_max_freq, o.time_inject)
    offsets = torch.zeros(o.levels, requires_grad=True)
    grid = torch.linspace(T_MIN, 1.0, o.levels)

    def make_optimizer():
        return torch.optim.Adam([{"params": model.parameters()}, {"params": [offsets], "lr": o.offset_lr}], lr=o.lr)

    optimizer = make_optimizer()
    order, cursor = torch.randperm(o.data_size), 0
    history = []
    for step in range(o.pre_steps + o.clf_steps):
        clf_on = step >= o.pre_steps
        if clf_on and step == o.pre_steps and o.reset_optimizer:
            optimizer = make_optimizer()
        if cursor + o.batch_size > o.data_size:
            order, cursor = torch.randperm(o.data_size), 0
        x0 = data[order[cursor : cursor + o.batch_size]]
        cursor += o.batch_size
        n = x0.shape[0]
        idx = torch.rand(n, o.levels).argsort(1)[:, : o.k]
        if o.dsm_all_k and clf_on:
            dsm = dsm_loss(model, x0.repeat_interleave(o.k, 0), grid[idx.reshape(-1)], o.dsm_weighting)
        else:
            dsm = dsm_loss(model, x0, grid[idx[:, 0]], o.dsm_weighting)
        loss, clf, accuracy = dsm, None, None
        if clf_on:
            clf, accuracy = clf_loss(model, offsets, x0, idx, grid)
            loss = dsm + clf
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = 0.0 if (o.no_clip_pre and not clf_on) else o.clip
        if clip > 0:
            params = list(model.parameters()) + ([offsets] if o.clip_offsets and clf_on else [])
            torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        with torch.no_grad():
            offsets -= offsets[-1].clone()
        if (step + 1) % 500 == 0:
            history.append(
                {"step": step + 1, "dsm": dsm.item(), "clf": None if clf is None else clf.item(), "clfAccuracy": accuracy}
            )

    out = {"impl": "pytorch-reference", "seed": o.seed, **evaluate(model), "seconds": time.time() - start}
    out["options"] = {k: v for k, v in vars(o).items() if k not in ("seed", "threads")}
    out["history"] = history
    print(json.dumps(out))


if __name__ == "__main__":
    main()
