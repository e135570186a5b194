#!/usr/bin/env python3
"""Writes the COCO-evaluation golden fixture that CocoEvalGoldenTest compares against.

A seeded random ground truth (3 classes, boxes of every COCO area range, some iscrowd) and detections
(jittered copies of the truths, duplicates, misses and false positives, more than 100 per image on
one image so maxDets matters) are written as COCO JSON, evaluated with pycocotools, and the 12
summary numbers plus per-class AP50 / AP50-95 are stored. Re-run (needs numpy and pycocotools):
    python3 scripts/golden/coco_eval.py yolo/src/test/resources/golden
"""
import json
import os
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

out = sys.argv[1] if len(sys.argv) > 1 else "yolo/src/test/resources/golden"
rng = np.random.RandomState(20261125)
cats = [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}, {"id": 7, "name": "c"}]
images, anns, dets = [], [], []
aid = 1
for img_id in range(1, 31):
    W, H = 640, 480
    images.append({"id": img_id, "file_name": "%06d.jpg" % img_id, "width": W, "height": H})
    n = rng.randint(0, 12)
    for _ in range(n):
        side = float(np.exp(rng.uniform(np.log(6), np.log(300))))
        w, h = side * rng.uniform(0.6, 1.6), side * rng.uniform(0.6, 1.6)
        w, h = min(w, W - 2), min(h, H - 2)
        x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
        cat = cats[rng.randint(0, 3)]["id"]
        crowd = int(rng.rand() < 0.05)
        anns.append({"id": aid, "image_id": img_id, "category_id": cat, "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                     "area": round(w * h * rng.uniform(0.6, 1.0), 2), "iscrowd": crowd})
        aid += 1
        # detections: usually found (jittered), sometimes twice, sometimes with the wrong class
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            j = rng.normal(0, 0.12, 4) * [w, h, w, h]
            dc = cat if rng.rand() < 0.85 else cats[rng.randint(0, 3)]["id"]
            dets.append({"image_id": img_id, "category_id": dc, "bbox": [round(x + j[0], 2), round(y + j[1], 2), round(max(1, w + j[2]), 2),
                         round(max(1, h + j[3]), 2)], "score": round(float(rng.rand()), 4)})
    for _ in range(rng.randint(0, 6) if img_id != 7 else 130):   # false positives; image 7 exceeds maxDets 100
        w, h = rng.uniform(4, 200), rng.uniform(4, 200)
        dets.append({"image_id": img_id, "category_id": cats[rng.randint(0, 3)]["id"], "bbox": [round(rng.uniform(0, W - w), 2),
                     round(rng.uniform(0, H - h), 2), round(w, 2), round(h, 2)], "score": round(float(rng.rand()) * 0.6, 4)})
gt = {"images": images, "annotations": anns, "categories": cats}
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "coco_gt.json"), "w") as f:
    json.dump(gt, f, indent=1)
with open(os.path.join(out, "coco_dets.json"), "w") as f:
    json.dump(dets, f, indent=1)
cg = COCO(os.path.join(out, "coco_gt.json"))
cd = cg.loadRes(os.path.join(out, "coco_dets.json"))
E = COCOeval(cg, cd, "bbox")
E.evaluate()
E.accumulate()
E.summarize()
per_class = []
for k in range(len(cats)):
    p = E.eval["precision"][:, :, k, 0, 2]   # [T, R] at area all, maxDets 100
    per_class.append({"ap50": float(np.mean(p[0][p[0] > -1])) if (p[0] > -1).any() else -1,
                      "ap5095": float(np.mean(p[p > -1])) if (p > -1).any() else -1})
with open(os.path.join(out, "coco_expected.json"), "w") as f:
    json.dump({"stats": [float(s) for s in E.stats], "per_class": per_class, "pycocotools": "2.0.11"}, f, indent=1)
print("wrote", out)
