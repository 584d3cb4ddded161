#!/usr/bin/python3
"""PyTorch peer for bench/backend.ts: the MoDL denoiser alone (5 x conv3x3 64 + BN,
ReLU between, residual), NCHW float32 on the CPU. Prints one JSON line with the
median forward (eval mode, no grad) and training-step (Adam, MSE) times in ms.

usage: torch_denoiser.py H W B [threads] [reps]"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn

H, W, B = (int(a) for a in sys.argv[1:4])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
reps = int(sys.argv[5]) if len(sys.argv) > 5 else 5
torch.set_num_threads(threads)
torch.manual_seed(0)

ch = [2, 64, 64, 64, 64, 2]
layers = []
for i in range(5):
    layers += [nn.Conv2d(ch[i], ch[i + 1], 3, padding=1, bias=False), nn.BatchNorm2d(ch[i + 1])]
    if i < 4:
        layers.append(nn.ReLU())
net = nn.Sequential(*layers)
x = torch.randn(B, 2, H, W)
target = torch.randn(B, 2, H, W)
opt = torch.optim.Adam(net.parameters(), 1e-3)


def median_ms(f, n, warmup=1):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def forward():
    with torch.no_grad():
        x + net(x)


def train_step():
    opt.zero_grad()
    loss = ((x + net(x) - target) ** 2).mean()
    loss.backward()
    opt.step()


net.eval()
forward_ms = median_ms(forward, reps)
net.train()
train_ms = median_ms(train_step, reps)
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "H": H, "W": W, "B": B,
                  "forward_ms": forward_ms, "train_ms": train_ms}))
