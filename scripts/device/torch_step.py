#!/usr/bin/env python3
"""The PyTorch side of the GPU comparison (run by scripts/device/gpu-suite.sh on the GPU machine).

Builds YOLOv5s (v6.0 layout: 6x6 stem, C3 with 1/3/3/1 bottlenecks at depth 0.33, SPPF, PAN neck,
Detect 1x1 heads; 80 classes) in plain PyTorch and times one training step at batch 16, 640 x 640:
forward, a stand-in loss (mean of squares of the three head outputs: the YOLO loss itself is
small next to the network), backward, SGD step. FP32 (TF32 off) and TF32, cudnn.benchmark on.
Prints JSON. Parameter count is printed so it can be checked against `jprune model summary`.
"""
import json
import time

import torch
import torch.nn as nn


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c, c, 1), Conv(c, c, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True):
        super().__init__()
        c = c2 // 2
        self.cv1, self.cv2, self.cv3 = Conv(c1, c, 1), Conv(c1, c, 1), Conv(2 * c, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c, shortcut) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        c = c1 // 2
        self.cv1, self.cv2, self.m = Conv(c1, c, 1), Conv(c * 4, c2, 1), nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class YOLOv5s(nn.Module):
    def __init__(self, nc=80):
        super().__init__()
        no = 3 * (nc + 5)
        self.b0, self.b1, self.b2 = Conv(3, 32, 6, 2, 2), Conv(32, 64, 3, 2), C3(64, 64, 1)
        self.b3, self.b4, self.b5 = Conv(64, 128, 3, 2), C3(128, 128, 2), Conv(128, 256, 3, 2)
        self.b6, self.b7, self.b8, self.b9 = C3(256, 256, 3), Conv(256, 512, 3, 2), C3(512, 512, 1), SPPF(512, 512)
        self.h10, self.h13, self.h14, self.h17 = Conv(512, 256, 1), C3(512, 256, 1, False), Conv(256, 128, 1), C3(256, 128, 1, False)
        self.h18, self.h20, self.h21, self.h23 = Conv(128, 128, 3, 2), C3(256, 256, 1, False), Conv(256, 256, 3, 2), C3(512, 512, 1, False)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.d = nn.ModuleList(nn.Conv2d(c, no, 1) for c in (128, 256, 512))

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        x10 = self.h10(self.b9(self.b8(self.b7(p4))))
        x14 = self.h14(self.h13(torch.cat((self.up(x10), p4), 1)))
        o3 = self.h17(torch.cat((self.up(x14), p3), 1))
        o4 = self.h20(torch.cat((self.h18(o3), x14), 1))
        o5 = self.h23(torch.cat((self.h21(o4), x10), 1))
        return [m(o) for m, o in zip(self.d, (o3, o4, o5))]


def step_time(model, opt, x, reps=10):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = sum((o * o).mean() for o in model(x))
        loss.backward()
        opt.step()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def main():
    out = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    if not torch.cuda.is_available():
        out["error"] = "no CUDA device"
        print(json.dumps(out, indent=2))
        return
    out["gpu"] = torch.cuda.get_device_name(0)
    torch.backends.cudnn.benchmark = True
    model = YOLOv5s().cuda().train()
    out["parameters"] = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.937, nesterov=True, weight_decay=5e-4)
    x = torch.rand(16, 3, 640, 640, device="cuda")
    for name, tf32 in (("fp32", False), ("tf32", True)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        t = step_time(model, opt, x)
        out[name] = {"batch": 16, "size": 640, "step_ms": t * 1e3, "img_per_s": 16 / t}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
