"""PyTorch (Python, eager) reference for bench/ed-step.ts: the same ED training step on the same
network, batch and M, timed the same way. Prints one JSON line."""
import json
import math
import sys
import time

import torch

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
layers, d = [], 2
for h in cfg["hidden"]:
    layers += [torch.nn.Linear(d, h), torch.nn.SiLU()]
    d = h
net = torch.nn.Sequential(*layers, torch.nn.Linear(d, 1))
opt = torch.optim.Adam(net.parameters(), 1e-3)
data = torch.randn(20000, 2)
B, M, t = cfg["batch"], cfg["m"], 1.0
g = torch.Generator().manual_seed(0)


def step():
    x = data[torch.randint(data.shape[0], (B,), generator=g)]
    y = x + math.sqrt(t) * torch.randn(x.shape, generator=g)
    neg = y[:, None, :] + math.sqrt(t) * torch.randn((B, M, 2), generator=g)
    e = net(torch.cat([x, neg.reshape(-1, 2)])).squeeze(1)
    v = torch.cat([e[:B, None] - e[B:].reshape(B, M), torch.zeros(B, 1)], 1)
    loss = torch.logsumexp(v, 1).mean() - math.log(M)
    opt.zero_grad()
    loss.backward()
    opt.step()


for _ in range(cfg["warmup"]):
    step()
t0 = time.perf_counter()
for _ in range(cfg["steps"]):
    step()
print(json.dumps({"stepsPerSecond": cfg["steps"] / (time.perf_counter() - t0), "torch": torch.__version__}))
