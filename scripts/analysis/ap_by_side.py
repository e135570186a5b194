#!/usr/bin/env python3
"""AP50 by object side: python3 scripts/analysis/ap_by_side.py LABELS_DIR DETS_DIR [IMG_PX] [NC]

LABELS_DIR holds YOLO txt ground truth (e.g. runs/synth/labels/val), DETS_DIR the label files of
`jprune detect -w CKPT --source runs/synth/images/val --conf 0.001 --iou 0.6 -o OUT` (OUT/labels).
AP50 (COCO's 101-point interpolation, mean over classes, top 100 detections per image and class)
counting only truths whose side sqrt(w*h) lies in [lo, hi); detections matched to a truth outside
the range, or unmatched and themselves outside it, are ignored (pycocotools' area-range rule, with
sides instead of areas). Needs numpy (Debian: python3-numpy)."""
import sys

import numpy as np

from boxes import iou, load

gtdir, detdir = sys.argv[1], sys.argv[2]
S = int(sys.argv[3]) if len(sys.argv) > 3 else 160
NC = int(sys.argv[4]) if len(sys.argv) > 4 else 8
imgs = load(gtdir, detdir, S)
def ap50(lo, hi):
    aps = []
    for c in range(NC):
        scores, tps, npos = [], [], 0
        for gc, gb, d in imgs:
            gi = np.where(gc == c)[0]; dd = d[d[:,0] == c]; dd = dd[np.argsort(-dd[:,1], kind='stable')][:100]
            side = np.sqrt((gb[gi,2]-gb[gi,0])*(gb[gi,3]-gb[gi,1]))
            ign = (side < lo) | (side >= hi); npos += (~ign).sum()
            order = np.argsort(ign, kind='stable'); gi, ign = gi[order], ign[order]
            used = np.zeros(len(gi), bool)
            for det in dd:
                best, bj = 0.5, -1
                if len(gi):
                    io = iou(det[2:6], gb[gi])
                    for j in range(len(gi)):
                        if used[j]: continue
                        if bj >= 0 and not ign[bj] and ign[j]: break
                        if io[j] < best: continue
                        best, bj = io[j], j
                if bj >= 0:
                    used[bj] = True
                    if ign[bj]: continue
                    scores.append(det[1]); tps.append(1)
                else:
                    ds = np.sqrt((det[4]-det[2])*(det[5]-det[3]))
                    if ds < lo or ds >= hi: continue
                    scores.append(det[1]); tps.append(0)
        if npos == 0: continue
        o = np.argsort(-np.array(scores), kind='mergesort'); tp = np.array(tps)[o]
        ctp, cfp = np.cumsum(tp), np.cumsum(1-tp)
        rec, prec = ctp/npos, ctp/np.maximum(ctp+cfp, 1e-9)
        for i in range(len(prec)-2, -1, -1): prec[i] = max(prec[i], prec[i+1])
        q = [prec[np.searchsorted(rec, r, 'left')] if np.searchsorted(rec, r, 'left') < len(rec) else 0 for r in np.linspace(0,1,101)]
        aps.append(np.mean(q))
    return np.mean(aps)
for lo, hi in [(0,1e9),(0,12),(12,16),(16,24),(24,32),(32,1e9),(16,1e9),(12,1e9)]:
    print(f"side [{lo}, {'inf' if hi >= 1e9 else hi}) px: AP50 {ap50(lo, hi):.3f}")
