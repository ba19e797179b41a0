"""PyTorch-Python references for the workloads of `npm run bench` (bench/run.ts).

Each workload is written the way a PyTorch user would write it (nn.Module, torch.optim.Adam,
torch.autograd.grad, batched tensor code), computing what ebm-torch computes (METHODS.md and the
native sources): the same energies, losses, sampler updates, hyper-parameters and work per step,
started from the same weights and data (the fixture files the bench writes).

    python3 bench/reference.py '<job JSON>'

The job names the workload, its settings, the warm-up and timed step counts, the fixture files
and the intra-op thread count. Prints one JSON line: the rate, the loss (or energy) diagnostics
and the peak RSS of this process.
"""
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
import safetensors_reader  # noqa: E402  (the tests' reader of the format)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flops import FlopCounter  # noqa: E402


def read_checkpoint(path):
    """Tensors and config of a checkpoint written by EnergyModel.save()."""
    tensors, meta = safetensors_reader.read(path)
    return {name: t for name, (_dtype, t) in tensors.items()}, json.loads(meta["ebm_torch.config"])


def read_f32(path, shape):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)


ACTIVATIONS = {
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
}


class MLP(nn.Module):
    """E(x), or E(x, t) with a sinusoidal time embedding (log-spaced frequencies from 1 to
    timeMaxFrequency) concatenated to the input and added to every later hidden layer."""

    def __init__(self, cfg):
        super().__init__()
        self.time_conditioned = cfg.get("timeConditioned", False)
        d = cfg["inputDim"]
        if self.time_conditioned:
            half = cfg.get("timeEmbedDim", 32) // 2
            top = cfg.get("timeMaxFrequency", 64.0)
            self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(top), half)), persistent=False)
            d += 2 * half
        self.layers = nn.ModuleList()
        self.time = nn.ModuleDict()
        for i, h in enumerate(cfg["hidden"]):
            self.layers.append(nn.Linear(d, h))
            if self.time_conditioned and i > 0:
                self.time[str(i)] = nn.Linear(2 * half, h, bias=False)
            d = h
        self.act = ACTIVATIONS[cfg.get("activation", "silu")]()
        self.out = nn.Linear(d, 1)

    def forward(self, x, t=None):
        h = x.flatten(1)
        emb = None
        if self.time_conditioned:
            angles = t[:, None] * self.freqs[None, :]
            emb = torch.cat([torch.sin(angles), torch.cos(angles)], 1)
            h = torch.cat([h, emb], 1)
        for i, layer in enumerate(self.layers):
            pre = layer(h)
            if emb is not None and i > 0:
                pre = pre + self.time[str(i)](emb)
            h = self.act(pre)
        return self.out(h).squeeze(1)


class ConvNet(nn.Module):
    """Per stage a 3x3 convolution and a 4x4 stride-2 convolution (padding 1), then a linear read-out."""

    def __init__(self, cfg):
        super().__init__()
        c, h, w = cfg["inputShape"]
        convs = []
        for out in cfg["channels"]:
            convs += [nn.Conv2d(c, out, 3, 1, 1), nn.Conv2d(out, out, 4, 2, 1)]
            c, h, w = out, (h + 2 - 4) // 2 + 1, (w + 2 - 4) // 2 + 1
        self.convs = nn.ModuleList(convs)
        self.act = ACTIVATIONS[cfg.get("activation", "silu")]()
        self.out = nn.Linear(c * h * w, 1)

    def forward(self, x):
        for conv in self.convs:
            x = self.act(conv(x))
        return self.out(x.flatten(1)).squeeze(1)


class Generator(nn.Module):
    """Transposed convolutions from a 1x1 latent: the base (7x7 for 28x28), then stride-2 stages."""

    def __init__(self, cfg):
        super().__init__()
        c, h, w = cfg["imageShape"]
        stages = 0
        while stages < 4 and h % (2 << stages) == 0 and w % (2 << stages) == 0 and min(h, w) >> (stages + 1) >= 3:
            stages += 1
        width = cfg["generator"]["channels"]
        channels = [width << (stages - 1 - i) for i in range(stages)] + [c]
        layers = [nn.ConvTranspose2d(cfg["latentDim"], channels[0], (h >> stages, w >> stages))]
        for i in range(1, stages + 1):
            layers.append(nn.ConvTranspose2d(channels[i - 1], channels[i], 4, 2, 1))
        self.layers = nn.ModuleList(layers)

    def forward(self, z):
        h = z[:, :, None, None]
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i + 1 < len(self.layers):
                h = F.leaky_relu(h, 0.2)
        return torch.tanh(h)


class LatentEBM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.generator = Generator(cfg)
        prior = {"inputDim": cfg["latentDim"], "hidden": cfg["prior"]["hidden"], "activation": cfg["prior"]["activation"]}
        self.prior = MLP(prior)

    def energy(self, z):
        """The prior energy E(z) + |z|^2 / 2."""
        return self.prior(z) + 0.5 * (z**2).sum(1)


def load_model(job):
    params, cfg = read_checkpoint(job["model"])
    kind = cfg["kind"]
    net = {"mlp": MLP, "convnet": ConvNet, "latent": LatentEBM}[kind](cfg)
    net.load_state_dict(params)
    return net


def load_data(job):
    return read_f32(job["data"]["path"], job["data"]["shape"])


# ---- training loops ----


def batches(data, batch_size):
    """Shuffled epochs without replacement, like the trainer's default."""
    while True:
        order = torch.randperm(data.shape[0])
        for s in range(0, data.shape[0] - batch_size + 1, batch_size):
            yield data[order[s : s + batch_size]]


def timed_training(job, step, data, batch_size):
    """Runs warm-up + timed steps; the loss means over the first and last `warmup` steps."""
    warmup, steps = job["warmup"], job["steps"]
    means, total = [], torch.zeros(())
    it = batches(data, batch_size)
    if job.get("countFlops"):
        step(next(it))  # lazily made state (Adam's moments) is made outside the count
        with FlopCounter() as counter:
            step(next(it))
        return {"seconds": 0.0, "rate": 0.0, "flopsPerStep": counter.flops}
    t0 = None
    for k in range(warmup + steps):
        if k == warmup:
            t0 = time.perf_counter()
        total += step(next(it)).detach()
        if (k + 1) % warmup == 0:
            means.append(float(total) / warmup)
            total = torch.zeros(())
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rate": steps / seconds, "lossFirst": means[0], "lossLast": means[-1]}


def ed_loss(energy, x, t, m, w):
    """Energy Discrepancy with Gaussian perturbations; positives and negatives in one pass."""
    n, sd = x.shape[0], math.sqrt(t)
    y = x + sd * torch.randn_like(x)
    neg = y[:, None] + sd * torch.randn((n, m) + x.shape[1:])
    e = energy(torch.cat([x, neg.flatten(0, 1)]))
    v = e[:n, None] - e[n:].reshape(n, m)
    if w > 0:
        v = torch.cat([v, torch.full((n, 1), math.log(w))], 1)
    return torch.logsumexp(v, 1).mean() - math.log(m)


def train_ed(job):
    s = job["settings"]
    net, data = load_model(job), load_data(job)
    opt = torch.optim.Adam(net.parameters(), s["lr"])
    c = s["loss"]

    def step(x):
        loss = ed_loss(net, x, c["t"], c["m"], c["w"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return timed_training(job, step, data, s["batchSize"])


class VPPath:
    def __init__(self, c):
        self.bmin, self.bmax, self.tmin = c.get("betaMin", 0.1), c.get("betaMax", 20.0), c.get("tMin", 1e-3)

    def alpha(self, t):
        return torch.exp(-0.5 * (self.bmin * t + 0.5 * (self.bmax - self.bmin) * t * t))

    def gamma(self, t):
        return torch.sqrt(torch.clamp_min(1 - self.alpha(t) ** 2, 1e-12))


def dsm_rows(net, path, x, t):
    """Per-row ||eps + gamma_t s(x_t, t)||^2 / d, with the score kept in the graph."""
    a, g = path.alpha(t)[:, None], path.gamma(t)[:, None]
    eps = torch.randn_like(x)
    xt = (a * x + g * eps).requires_grad_(True)
    s = -torch.autograd.grad(net(xt, t).sum(), xt, create_graph=True)[0]
    return ((eps + g * s) ** 2).mean(1)


def train_dsm(job):
    s = job["settings"]
    net, data = load_model(job), load_data(job)
    opt = torch.optim.Adam(net.parameters(), s["lr"])
    path = VPPath(s["loss"])

    def step(x):
        t = path.tmin + (1 - path.tmin) * torch.rand(x.shape[0])
        loss = dsm_rows(net, path, x, t).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return timed_training(job, step, data, s["batchSize"])


def train_diffclf(job):
    s = job["settings"]
    net, data = load_model(job), load_data(job)
    c = s["loss"]
    path, L, K = VPPath(c), c["levels"], c["k"]
    grid = torch.linspace(path.tmin, 1.0, L)
    offsets = torch.zeros(L, requires_grad=True)
    opt = torch.optim.Adam([{"params": net.parameters()}, {"params": [offsets]}], s["lr"])
    params = list(net.parameters()) + [offsets]

    def step(x):
        n = x.shape[0]
        idx = torch.rand(n, L).argsort(1)[:, :K]  # K distinct levels per point
        dsm = dsm_rows(net, path, x, grid[idx[:, 0]]).mean()
        t = grid[idx]  # [n, K]
        xj = path.alpha(t)[..., None] * x[:, None] + path.gamma(t)[..., None] * torch.randn(n, K, x.shape[1])
        # E(x_j, t_i) for all K^2 pairs in one batch
        e = net(xj[:, :, None].expand(n, K, K, x.shape[1]).reshape(-1, x.shape[1]), t[:, None].expand(n, K, K).reshape(-1))
        logits = -e.reshape(n, K, K) - offsets[idx][:, None, :]
        clf = -(logits.diagonal(0, 1, 2) - torch.logsumexp(logits, 2)).mean()
        loss = c.get("dsmWeight", 1.0) * dsm + c["clfWeight"] * clf
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, s["gradClip"])
        opt.step()
        with torch.no_grad():
            offsets.sub_(offsets[-1].clone())  # re-centred: the last level's offset is 0
        return loss

    return timed_training(job, step, data, s["batchSize"])


def train_latent(job):
    s = job["settings"]
    net, images = load_model(job), load_data(job)
    gen, prior = net.generator, net.prior
    betas = tuple(s["betas"])
    gen_opt = torch.optim.Adam(gen.parameters(), s["generatorLr"], betas=betas)
    prior_opt = torch.optim.Adam(prior.parameters(), s["prior"]["lr"], betas=betas)
    post, c = s["posterior"], s["prior"]["loss"]
    assert c["kind"] == "ed" and not post["persistent"] and not s["prior"]["gradClip"], "not written here"
    precision = 1.0 / (2 * post["sigma"] ** 2)
    sd, drift = post["stepSize"], 0.5 * post["stepSize"] ** 2
    d = net.prior.layers[0].in_features

    def step(x):
        # 1. posterior latents: short-run Langevin on |x - g(z)|^2 / 2 sigma^2 + E(z) + |z|^2 / 2
        z = torch.randn(x.shape[0], d)
        for _ in range(post["steps"]):
            z.requires_grad_(True)
            u = ((x - gen(z)) ** 2).flatten(1).sum(1) * precision + net.energy(z)
            (grad,) = torch.autograd.grad(u.sum(), z)
            z = z.detach() - drift * grad + sd * torch.randn_like(z)
        # 2. generator step
        gen_loss = ((x - gen(z)) ** 2).flatten(1).sum(1).mean() * precision
        gen_opt.zero_grad()
        gen_loss.backward()
        gen_opt.step()
        # 3. prior step: ED on the posterior latents
        prior_loss = ed_loss(net.energy, z, c["t"], c["m"], c["w"])
        prior_opt.zero_grad()
        prior_loss.backward()
        prior_opt.step()
        return gen_loss

    return timed_training(job, step, images, s["batchSize"])


# ---- samplers ----


def energy_grad(net, x):
    x = x.detach().requires_grad_(True)
    e = net(x)
    (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


def langevin(net, x, steps, eta):
    noise = math.sqrt(2 * eta)
    for _ in range(steps):
        _, g = energy_grad(net, x)
        x = x - eta * g + noise * torch.randn_like(x)
    return x, {}


def mala(net, x, steps, eta):
    e, g = energy_grad(net, x)
    accepted = torch.zeros(x.shape[0])
    for _ in range(steps):
        y = x - eta * g + math.sqrt(2 * eta) * torch.randn_like(x)
        ey, gy = energy_grad(net, y)
        log_q_yx = -((y - x + eta * g) ** 2).sum(1) / (4 * eta)
        log_q_xy = -((x - y + eta * gy) ** 2).sum(1) / (4 * eta)
        accept = torch.rand(x.shape[0]).log() < (e - ey + log_q_xy - log_q_yx).nan_to_num(-math.inf)
        x = torch.where(accept[:, None], y, x)
        g = torch.where(accept[:, None], gy, g)
        e = torch.where(accept, ey, e)
        accepted += accept
    return x, {"acceptRate": float(accepted.mean()) / steps}


def wgf(net, x, steps, tau, cfg):
    """Blob particle scheme for the Fokker-Planck flow, Heun steps, bandwidth 2.5 x the median
    nearest-neighbour distance (recomputed every step), full n x n kernel matrices."""
    scale = cfg.get("bandwidthScale", 2.5)

    def distances(xc):
        sq = (xc**2).sum(1)
        d2 = (sq[:, None] + sq[None, :] - 2 * xc @ xc.T).clamp_min(0)
        d2.fill_diagonal_(0)
        return d2

    def velocity(x, h, xc=None, d2=None):
        _, grad = energy_grad(net, x)
        if xc is None:
            xc = x - x.mean(0)
            d2 = distances(xc)
        k = torch.exp(-d2 / (2 * h * h))
        dsum = k.sum(1)
        kr = k @ torch.cat([xc, 1 / dsum[:, None], xc / dsum[:, None]], 1)
        dim = xc.shape[1]
        rep = xc - kr[:, :dim] / dsum[:, None] + xc * kr[:, dim : dim + 1] - kr[:, dim + 1 :]
        return -grad + rep / (h * h)

    h = None
    for _ in range(steps):
        xc = x - x.mean(0)
        d2 = distances(xc)
        nearest = d2.masked_fill(d2 <= 0, math.inf).min(1).values
        med = nearest.masked_fill(torch.isinf(nearest), math.nan).nanmedian().sqrt().nan_to_num(0.0)
        h = torch.maximum(scale * med, (1e-3 * xc.var(0).mean().sqrt()).clamp_min(1e-6))
        v = velocity(x, h, xc, d2)
        x = x + 0.5 * tau * (v + velocity(x + tau * v, h))
    return x, {"bandwidth": float(h)}


def sample(job):
    s = job["settings"]
    net = load_model(job)
    cfg = s["sampler"]
    kind, eta = cfg["kind"], cfg["stepSize"]

    def run(steps, seed):
        torch.manual_seed(seed)
        x = torch.randn(s["chains"], 2)
        if kind == "langevin":
            return langevin(net, x, steps, eta)
        if kind == "mala":
            return mala(net, x, steps, eta)
        return wgf(net, x, steps, eta, cfg)

    run(job["warmup"], 1)
    if job.get("countFlops"):
        with FlopCounter() as counter:
            run(1, 1)
        per_unit = s["chains"] if job["unit"] == "chain-steps/s" else 1
        return {"seconds": 0.0, "rate": 0.0, "flopsPerStep": counter.flops / per_unit}
    t0 = time.perf_counter()
    x, extra = run(job["steps"], 0)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        energy = float(net(x).mean())
    rate = s["chains"] * job["steps"] / seconds if job["unit"] == "chain-steps/s" else job["steps"] / seconds
    return {"seconds": seconds, "rate": rate, "energy": energy, **extra}


# ---- sequential Monte Carlo ----


class GaussianMixture:
    """E(x) = -log sum_k w_k N(x; mu_k, s_k^2 I) with its analytic gradient, as a careful user writes
    an isotropic mixture: squared distances by one matrix product (|x|^2 - 2 x mu^T + |mu|^2), the
    energy a logsumexp over components, and grad E = sum_k r_k (x - mu_k) / s_k^2 from the
    responsibilities r = softmax of the same logits, by a second matrix product; no autograd graph."""

    def __init__(self, path):
        tensors, cfg = read_checkpoint(path)
        self.means = tensors["means"]  # [K, D]
        var = tensors["variances"]  # [K, D], isotropic here: one variance per component
        assert bool((var == var[:, :1]).all()), "written for isotropic components"
        self.precision = 1 / var[:, 0]  # [K]
        d = self.means.shape[1]
        self.log_coef = tensors["log_weights"] - 0.5 * d * torch.log(2 * math.pi * var[:, 0])
        self.sq_means = (self.means**2).sum(1)
        self.means_scaled = self.means * self.precision[:, None]  # mu_k / s_k^2

    def energy_grad(self, x):
        d2 = ((x * x).sum(1, keepdim=True) - 2 * (x @ self.means.T) + self.sq_means).clamp_min(0)
        logits = self.log_coef - 0.5 * self.precision * d2
        energy = -torch.logsumexp(logits, 1)
        r = torch.exp(logits + energy[:, None])  # responsibilities
        grad = x * (r @ self.precision)[:, None] - r @ self.means_scaled
        return energy, grad

    def energy(self, x):
        return self.energy_grad(x)[0]


def systematic_resample(logw):
    """Indices of n draws: one uniform offset, n evenly spaced points through the cumulative weights."""
    n = logw.shape[0]
    w = torch.softmax(logw, 0)
    u = (torch.arange(n, dtype=torch.float64) + torch.rand(1, dtype=torch.float64)) / n
    cdf = torch.cumsum(w, 0)
    cdf[-1] = 1.0
    return torch.searchsorted(cdf, u).clamp_max(n - 1)


def smc_run(mix, n, levels, cfg, seed):
    """SMC on the geometric bridge pi_b ~ q^(1-b) exp(-b E), q = N(0, s^2 I), b_k = (k/K)^4: weights
    by pi_k / pi_{k-1}, systematic resampling when the ESS falls under the threshold, then
    `steps` MALA steps on pi_k with the step fixed within the level and adapted after it. E(x) and
    grad E(x) of the particles are carried from the moves into the next level's weights."""
    assert cfg["mcmc"] == "mala" and cfg["resampling"] == "systematic", "written for MALA and systematic resampling"
    torch.manual_seed(seed)
    s2 = cfg["base"]["std"] ** 2
    d = mix.means.shape[1]
    log_norm = 0.5 * d * math.log(2 * math.pi * s2)
    x = math.sqrt(s2) * torch.randn(n, d)
    e, g = mix.energy_grad(x)
    sq = (x * x).sum(1)
    logw = torch.zeros(n, dtype=torch.float64)
    log_z, log_step, beta_prev = 0.0, math.log(cfg["stepSize"]), 0.0
    accepts, resamplings = [], 0
    for k in range(levels):
        beta = ((k + 1) / levels) ** 4
        # log pi_k - log pi_{k-1} = -(b_k - b_{k-1}) (E(x) + log q(x))
        delta = -(beta - beta_prev) * (e - 0.5 * sq / s2 - log_norm)
        logw = logw + delta.double().nan_to_num(-math.inf, -math.inf, -math.inf)
        lse = torch.logsumexp(logw, 0)
        ess = float(torch.exp(2 * lse - torch.logsumexp(2 * logw, 0))) / n
        if ess < cfg["essThreshold"]:
            log_z += float(lse) - math.log(n)
            idx = systematic_resample(logw)
            x, e, g, sq = x[idx], e[idx], g[idx], sq[idx]
            logw = torch.zeros_like(logw)
            resamplings += 1
        # MALA on pi_k: U = b E + (1 - b) |x|^2 / (2 s^2)
        eta = math.exp(log_step)
        u = beta * e + (1 - beta) * 0.5 * sq / s2
        gu = beta * g + (1 - beta) / s2 * x
        accepted = torch.zeros(n)
        for _ in range(cfg["steps"]):
            y = x - eta * gu + math.sqrt(2 * eta) * torch.randn_like(x)
            ey, gy = mix.energy_grad(y)
            sqy = (y * y).sum(1)
            uy = beta * ey + (1 - beta) * 0.5 * sqy / s2
            guy = beta * gy + (1 - beta) / s2 * y
            log_q_yx = -((y - x + eta * gu) ** 2).sum(1) / (4 * eta)
            log_q_xy = -((x - y + eta * guy) ** 2).sum(1) / (4 * eta)
            accept = torch.rand(n).log() < (u - uy + log_q_xy - log_q_yx).nan_to_num(-math.inf)
            keep = accept[:, None]
            x, g, gu = torch.where(keep, y, x), torch.where(keep, gy, g), torch.where(keep, guy, gu)
            e, u, sq = torch.where(accept, ey, e), torch.where(accept, uy, u), torch.where(accept, sqy, sq)
            accepted += accept
        rate = float(accepted.mean()) / cfg["steps"]
        log_step += cfg["adaptRate"] * (rate - cfg["targetAccept"])
        accepts.append(rate)
        beta_prev = beta
    log_z += float(torch.logsumexp(logw, 0)) - math.log(n)
    accept_rate = sum(accepts) / len(accepts)
    return {"logZ": log_z, "energy": float(e.mean()), "acceptRate": accept_rate, "resamplings": resamplings}


def smc(job):
    s = job["settings"]
    mix = GaussianMixture(job["model"])
    with torch.no_grad():
        smc_run(mix, s["particles"], job["warmup"], s["sampler"], 1)
        if job.get("countFlops"):
            with FlopCounter() as counter:
                smc_run(mix, s["particles"], job["steps"], s["sampler"], 1)
            return {"seconds": 0.0, "rate": 0.0, "flopsPerStep": counter.flops / job["steps"]}
        t0 = time.perf_counter()
        out = smc_run(mix, s["particles"], job["steps"], s["sampler"], 0)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rate": job["steps"] / seconds, **out}


WORKLOADS = {
    "ed-2d": train_ed,
    "dsm": train_dsm,
    "diffclf": train_diffclf,
    "langevin": sample,
    "mala": sample,
    "wgf": sample,
    "convnet-ed": train_ed,
    "latent": train_latent,
    "smc": smc,
}


def allocator():
    """'jemalloc' when it is mapped into this process (LD_PRELOAD took), else glibc's malloc."""
    try:
        with open("/proc/self/maps") as f:
            return "jemalloc" if "libjemalloc" in f.read() else "glibc"
    except OSError:
        return "unknown"


def main():
    job = json.loads(sys.argv[1])
    torch.set_num_threads(job["threads"])
    torch.manual_seed(0)
    out = WORKLOADS[job["workload"]](job)
    out.update(
        side="python",
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        allocator=allocator(),
        maxRssMB=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    print(json.dumps(out))


main()
