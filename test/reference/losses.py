"""Direct PyTorch computation of each loss formula (METHODS.md), for the loss tests.

Reads {model, params, batch, loss, seed} as JSON on stdin and prints {"loss": value}. The noise is
drawn from a torch.Generator seeded like the native loss, in the same order, so both sides see
the same random numbers; everything else is written here from the formulas.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

ACTS = {
    "silu": F.silu,
    "softplus": F.softplus,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.2),
    "elu": F.elu,
    "tanh": torch.tanh,
}


def make_energy(cfg, P):
    act = ACTS[cfg.get("activation", "silu")]

    def energy(x, t=None):
        h = x.reshape(x.shape[0], -1)
        emb = None
        if cfg.get("timeConditioned"):
            half = cfg.get("timeEmbedDim", 32) // 2
            top = cfg.get("timeMaxFrequency", 64.0)
            freqs = torch.exp(torch.linspace(0.0, math.log(top), half))
            ang = t.reshape(-1, 1) * freqs.reshape(1, -1)
            emb = torch.cat([torch.sin(ang), torch.cos(ang)], 1)
            h = torch.cat([h, emb], 1)
        i = 0
        while f"layers.{i}.weight" in P:
            pre = F.linear(h, P[f"layers.{i}.weight"], P[f"layers.{i}.bias"])
            if emb is not None and i > 0 and f"time.{i}.weight" in P:
                pre = pre + F.linear(emb, P[f"time.{i}.weight"])
            h = act(pre)
            i += 1
        return F.linear(h, P["out.weight"], P["out.bias"]).squeeze(1)

    return energy


def score(E, x, t=None, create_graph=True):
    xg = x if x.requires_grad else x.detach().requires_grad_(True)
    return -torch.autograd.grad(E(xg, t).sum(), xg, create_graph=create_graph)[0], xg


def path_fns(c):
    kind = c.get("path", "vp")
    bmin, bmax = c.get("betaMin", 0.1), c.get("betaMax", 20.0)
    smin, smax = c.get("sigmaMin", 0.01), c.get("sigmaMax", 10.0)
    if kind == "vp":
        alpha = lambda t: torch.exp(-0.5 * (bmin * t + 0.5 * (bmax - bmin) * t * t))
        gamma = lambda t: torch.sqrt(torch.clamp_min(1 - alpha(t) ** 2, 1e-12))
    else:
        alpha = lambda t: torch.ones_like(t)
        gamma = lambda t: smin * torch.pow(torch.tensor(smax / smin), t)
    return alpha, gamma


def path_dsm_rows(E, x, t, c, g):
    alpha, gamma = path_fns(c)
    a, s_ = alpha(t)[:, None], gamma(t)[:, None]
    eps = torch.randn(x.shape, generator=g)
    xt = a * x + s_ * eps
    s, _ = score(E, xt, t)
    err = ((eps + s_ * s) ** 2).mean(1)
    if c.get("weighting", "noise") == "edm":
        sd = c.get("sigmaData", 1.0)
        sigma2 = (gamma(t) / alpha(t)) ** 2
        err = err * (sigma2 + sd * sd) / (sd * sd)
    return err


def main():
    req = json.load(sys.stdin)
    P = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in req["params"].items()}
    for p in P.values():
        p.requires_grad_(True)
    E = make_energy(req["model"], P)
    x = torch.tensor(req["batch"]["data"], dtype=torch.float32).reshape(req["batch"]["shape"])
    c = req["loss"]
    g = torch.Generator().manual_seed(req["seed"])
    n = x.shape[0]
    kind = c["kind"]

    if kind == "ed":
        m, w = c["m"], c["w"]
        if c.get("perturbation", "gaussian") == "gaussian":
            sd = math.sqrt(c["t"])
            y = x + sd * torch.randn(x.shape, generator=g)
            neg = y[:, None, :] + sd * torch.randn((n, m, x.shape[1]), generator=g)
        else:
            eps = c.get("epsilon", 0.1)
            y = torch.abs(x - (torch.rand(x.shape, generator=g) < eps).float())
            neg = torch.abs(y[:, None, :] - (torch.rand((n, m, x.shape[1]), generator=g) < eps).float())
        e = E(torch.cat([x, neg.reshape(n * m, -1)]))
        v = e[:n, None] - e[n:].reshape(n, m)
        if w > 0:
            v = torch.cat([v, torch.full((n, 1), math.log(w))], 1)
        loss = torch.logsumexp(v, 1).mean() - math.log(m)
    elif kind == "dsm" and "sigma" in c:
        sigma = c["sigma"]
        eps = torch.randn(x.shape, generator=g)
        s, _ = score(E, x + sigma * eps)
        loss = 0.5 * ((sigma * s + eps) ** 2).sum(1).mean()
    elif kind == "dsm":
        tmin = c.get("tMin", 1e-3)
        if c.get("levels"):
            grid = torch.linspace(tmin, 1.0, c["levels"])
            t = grid[torch.randint(c["levels"], (n,), generator=g)]
        else:
            t = tmin + (1 - tmin) * torch.rand((n,), generator=g)
        loss = path_dsm_rows(E, x, t, c, g).mean()
    elif kind == "diffclf":
        L, K = c["levels"], c["k"]
        grid = torch.linspace(c.get("tMin", 1e-3), 1.0, L)
        idx = torch.rand((n, L), generator=g).argsort(1)[:, :K]
        dsm = path_dsm_rows(E, x, grid[idx[:, 0]], c, g).mean()
        alpha, gamma = path_fns(c)
        t = grid[idx]  # [n, K]
        xj = alpha(t)[..., None] * x[:, None, :] + gamma(t)[..., None] * torch.randn((n, K, x.shape[1]), generator=g)
        offsets = torch.tensor(c.get("offsets", [0.0] * L), dtype=torch.float32)  # zeros unless given
        logits = torch.empty(n, K, K)
        for j in range(K):
            for i in range(K):
                logits[:, j, i] = -E(xj[:, j], t[:, i]) - offsets[idx[:, i]]
        own = torch.stack([logits[:, j, j] for j in range(K)], 1)
        clf = -(own - torch.logsumexp(logits, 2)).mean()
        loss = c.get("dsmWeight", 1.0) * dsm + c["clfWeight"] * clf
    elif kind == "ssm":
        s, xg = score(E, x)
        P = c.get("projections", 1)
        trace = torch.zeros(x.shape[0])
        for _ in range(P):  # v^T grad(v^T s), averaged over the projections
            v = torch.randn(x.shape, generator=g)
            jvp = torch.autograd.grad((s * v).sum(), xg, create_graph=True)[0]
            trace = trace + (v * jvp).sum(1)
        loss = (0.5 * (s ** 2).sum(1) + trace / P).mean()
    elif kind == "cd":
        sc = c["sampler"]
        noise = sc.get("noiseScale", math.sqrt(2 * sc["stepSize"] * sc.get("temperature", 1.0)))
        xs = x.clone()
        for _ in range(sc["steps"]):
            s, _ = score(E, xs.detach(), create_graph=False)
            xs = xs - sc["stepSize"] * (-s) + noise * torch.randn(x.shape, generator=g)
        e = E(torch.cat([x, xs.detach()]))
        ep, en = e[:n], e[n:]
        loss = ep.mean() - en.mean() + c.get("alpha", 0.1) * ((ep ** 2).mean() + (en ** 2).mean())
    else:
        raise SystemExit(f"no reference for {kind}")
    print(json.dumps({"loss": float(loss)}))


main()
