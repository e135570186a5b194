"""Shared by the analysis scripts: IoU and reading YOLO txt ground truth beside detection files."""
import glob
import os

import numpy as np


def iou(a, b):
    """IoU of box a (x1, y1, x2, y2) with each row of b."""
    iw = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0])
    ih = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)


def load(gtdir, detdir, size):
    """Per image (sorted by file name): truth classes, truth boxes in pixels (x1, y1, x2, y2) of a
    size x size image, and the detections (class, conf, x1, y1, x2, y2; none when the file is
    missing or empty)."""
    images = []
    for f in sorted(glob.glob(os.path.join(gtdir, '*.txt'))):
        g = np.loadtxt(f, ndmin=2).reshape(-1, 5)
        gb = np.stack([(g[:, 1] - g[:, 3] / 2) * size, (g[:, 2] - g[:, 4] / 2) * size,
                       (g[:, 1] + g[:, 3] / 2) * size, (g[:, 2] + g[:, 4] / 2) * size], 1)
        dp = os.path.join(detdir, os.path.basename(f))
        d = np.loadtxt(dp, ndmin=2).reshape(-1, 6) if os.path.exists(dp) and os.path.getsize(dp) > 0 else np.zeros((0, 6))
        images.append((g[:, 0].astype(int), gb, d))
    return images
