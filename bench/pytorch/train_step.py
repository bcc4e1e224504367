"""PyTorch side of the training-step and inference benchmarks (bench/train-step.ts).

The same models and step as the studio's benchmark worker, written from their definitions:
- resnet-small: 3x3 conv stem (32) + BN + ReLU; four stages of one basic block, widths
  32/64/128/256, stride 2 from the second stage, 1x1 conv + BN shortcut where the shape
  changes; global average pool -> 256.
- vit-tiny: 4x4 patches -> 192, class token + learned positions, 12 pre-norm blocks (3 heads,
  MLP x4, GELU), final LayerNorm, class token as the feature.
- projector: Linear -> BatchNorm -> ReLU -> Linear (feature -> 512 -> 128).
- step: both views through the encoder in one batch, projector, LeJEPA loss (prediction
  against the mean of the global views + SIGReg on fresh random directions, lambda 0.05),
  backward, AdamW (lr 1e-3, weight decay 0.05 except norms and biases).

Protocol: one JSON request per stdin line, one JSON reply per stdout line, like
bench/train-step-worker.ts: init, step, embed, exit.
"""

import json
import math
import os
import resource
import sys
import time

# The BLAS under torch's matrix products (OpenBLAS where installed) keeps its own thread pool:
# it gets the same thread count as torch, set before torch loads it.
_THREADS = sys.argv[1] if len(sys.argv) > 1 else "1"
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResnetSmall(nn.Module):
    def __init__(self, channels=3, stem=32, widths=(32, 64, 128, 256)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU())
        blocks, cin = [], stem
        for i, w in enumerate(widths):
            blocks.append(Block(cin, w, 1 if i == 0 else 2))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.dim = cin

    def forward(self, x):
        return self.blocks(self.stem(x)).mean(dim=(2, 3))


class VitTiny(nn.Module):
    def __init__(self, channels=3, size=32, patch=4, dim=192, depth=12, heads=3, mlp=4):
        super().__init__()
        self.embed = nn.Conv2d(channels, dim, patch, patch)
        tokens = (size // patch) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * mlp, 0.0, activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.dim = dim

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        return self.norm(self.blocks(t))[:, 0]


def projector(dim, hidden=512, out=128):
    return nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))


def quadrature(t_max=3.0, n=17):
    t = torch.linspace(0, t_max, n)
    h = t_max / (n - 1)
    trap = torch.full((n,), h)
    trap[0] = trap[-1] = h / 2
    phi = torch.exp(-t * t / 2)
    return t, phi, 2 * trap * phi


def sigreg(z, directions, quad):
    """Epps-Pulley statistic of every slice, averaged over slices and views. z: [V, N, K]."""
    t, phi, w = quad
    u = z @ directions  # [V, N, M]
    tu = u.unsqueeze(-1) * t  # [V, N, M, T]
    re = torch.cos(tu).mean(1)
    im = torch.sin(tu).mean(1)
    stat = z.shape[1] * (((re - phi) ** 2 + im**2) * w).sum(-1)
    return stat.mean()


def lejepa_loss(proj, n_global, directions, quad, lam):
    centre = proj[:n_global].mean(0, keepdim=True)
    pred = ((proj - centre) ** 2).mean()
    return (1 - lam) * pred + lam * sigreg(proj, directions, quad)


class Bench:
    def __init__(self, req):
        torch.manual_seed(0)
        self.batch = req.get("batch", 128)
        self.views = req.get("views", 2)
        self.slices = req.get("slices", 256)
        self.size = req.get("size", 32)
        self.encoder = ResnetSmall() if req["model"] == "resnet-small" else VitTiny(size=self.size)
        self.projector = projector(self.encoder.dim)
        params = list(self.encoder.named_parameters()) + list(self.projector.named_parameters())
        decay = [p for n, p in params if p.ndim > 1 and "pos" not in n and "cls" not in n]
        rest = [p for n, p in params if not (p.ndim > 1 and "pos" not in n and "cls" not in n)]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)
        self.x = torch.randn(self.views * self.batch, 3, self.size, self.size)
        self.quad = quadrature()
        self.params = sum(p.numel() for _, p in params)

    def step(self):
        self.encoder.train()
        self.projector.train()
        directions = F.normalize(torch.randn(128, self.slices), dim=0)
        z = self.projector(self.encoder(self.x)).reshape(self.views, self.batch, -1)
        loss = lejepa_loss(z, self.views, directions, self.quad, 0.05)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss)

    @torch.no_grad()
    def embed(self, n):
        self.encoder.eval()
        return self.encoder(self.x[:n]).sum().item()


def blas_library():
    """The BLAS library torch's matrix products load (Debian's torch links the generic libblas.so.3,
    which the alternatives system points at the reference BLAS or an optimised one)."""
    try:
        with open(f"/proc/{os.getpid()}/maps") as maps:
            names = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(os.path.realpath(n) for n in names)) or "none loaded"
    except OSError:
        return "unknown"


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    bench = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "init":
                bench = Bench(req)
                reply = {
                    "params": bench.params,
                    "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    "blas": blas_library(),
                }
            elif op == "step":
                start = time.perf_counter()
                loss = bench.step()
                reply = {"ms": (time.perf_counter() - start) * 1000, "loss": loss}
                if not math.isfinite(loss):
                    reply = {"error": "non-finite loss"}
            elif op == "embed":
                start = time.perf_counter()
                bench.embed(req.get("n", 256))
                reply = {"ms": (time.perf_counter() - start) * 1000}
            elif op == "exit":
                print(json.dumps({"peakRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}), flush=True)
                return
            else:
                reply = {"error": f"unknown op {op}"}
        except Exception as err:  # reported to the harness as the reply's error
            reply = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
