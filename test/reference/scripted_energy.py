"""Writes TorchScript energy modules for the tests (scripted from this file: the scripter reads the
source) and returns their energies and scores -dE/dx computed by PyTorch itself.
Request on stdin: { "kind": "plain" | "time" | "wide" | "three" | "nanfar", "path": out.pt, "x": [[...]], "t": [...]? }."""
import json
import sys

import torch


class Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.SiLU(), torch.nn.Linear(32, 32), torch.nn.Tanh())
        self.out = torch.nn.Linear(32, 1)

    def forward(self, x):
        return self.out(self.layers(x)).squeeze(1)


class Timed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(3, 16)
        self.out = torch.nn.Linear(16, 1)

    def forward(self, x, t):
        h = torch.nn.functional.softplus(self.inp(torch.cat([x, t.unsqueeze(1)], 1)))
        return self.out(h)  # [N, 1] is accepted too


class Wide(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x)  # two numbers per row: not an energy


class Three(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 1)

    def forward(self, x):
        return self.lin(x).squeeze(1)


class NanFar(torch.nn.Module):
    def forward(self, x):
        # a quadratic bowl that is NaN beyond x_0 = 2: an energy that breaks somewhere on a path
        e = 0.5 * (x * x).sum(1)
        return torch.where(x[:, 0] > 2.0, torch.full_like(e, float('nan')), e)


def main():
    req = json.load(sys.stdin)
    torch.manual_seed(0)
    module = {'plain': Plain, 'time': Timed, 'wide': Wide, 'three': Three, 'nanfar': NanFar}[req['kind']]()
    scripted = torch.jit.script(module)
    scripted.save(req['path'])
    reply = {}
    if 'x' in req:
        x = torch.tensor(req['x'], dtype=torch.float32, requires_grad=True)
        args = [x] + ([torch.tensor(req['t'], dtype=torch.float32)] if 't' in req else [])
        e = scripted(*args).reshape(-1)
        (g,) = torch.autograd.grad(e.sum(), x)
        reply = {'energy': e.tolist(), 'score': (-g).flatten().tolist()}
    print(json.dumps(reply))


main()
