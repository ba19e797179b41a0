"""Reference for the latent EBM: reads an ebm-torch latent checkpoint with plain json + torch and
recomputes the generator g(z) (PyTorch's ConvTranspose2d / BatchNorm2d in eval mode) and the prior
energy E(z) + |z|^2 / 2 with torch.nn.functional, independently of the C++ code.
Request on stdin: { "file": path, "z": [[...], ...] }. Reply: { "images": flat list, "energy": [...] }."""
import json
import struct
import sys

import torch
import torch.nn.functional as F


def read_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__')
    data = raw[8 + n:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        assert entry['dtype'] == 'F32'
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(entry['shape'])
    return tensors, json.loads(meta['ebm_torch.config'])


def main():
    request = json.load(sys.stdin)
    p, cfg = read_safetensors(request['file'])
    z = torch.tensor(request['z'], dtype=torch.float32)
    layers = sorted({int(k.split('.')[2]) for k in p if k.startswith('generator.layers.')})
    h = z.reshape(z.shape[0], cfg['latentDim'], 1, 1)
    for i in layers:
        w, b = p[f'generator.layers.{i}.weight'], p[f'generator.layers.{i}.bias']
        h = F.conv_transpose2d(h, w, b) if i == 0 else F.conv_transpose2d(h, w, b, stride=2, padding=1)
        if i == layers[-1]:
            break
        if cfg['generator']['batchNorm']:
            q = f'generator.norms.{i}'
            h = F.batch_norm(h, p[q + '.running_mean'], p[q + '.running_var'], p[q + '.weight'], p[q + '.bias'],
                             training=False, eps=1e-5)
        h = F.leaky_relu(h, 0.2)
    images = torch.tanh(h)
    assert list(images.shape[1:]) == cfg['imageShape']
    e = z
    hidden = sorted({int(k.split('.')[2]) for k in p if k.startswith('prior.layers.')})
    assert cfg['prior']['activation'] == 'leaky_relu'
    for i in hidden:
        e = F.leaky_relu(F.linear(e, p[f'prior.layers.{i}.weight'], p[f'prior.layers.{i}.bias']), 0.2)
    e = F.linear(e, p['prior.out.weight'], p['prior.out.bias']).squeeze(1) + 0.5 * (z ** 2).sum(1)
    print(json.dumps({'images': images.flatten().tolist(), 'energy': e.tolist()}))


main()
