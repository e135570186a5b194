#!/usr/bin/env python3
"""Where a detector's errors are: python3 scripts/analysis/fp_types.py LABELS_DIR DETS_DIR [CONF] [IMG_PX]

LABELS_DIR holds YOLO txt ground truth (e.g. runs/synth/labels/val), DETS_DIR the label files of
`jprune detect -w CKPT --source runs/synth/images/val --conf 0.001 --iou 0.6 -o OUT` (OUT/labels).
Detections with confidence >= CONF (default 0.25) are matched greedily by score to the unmatched
truth of their class with the highest IoU >= 0.5 (true positives); every other one is counted as
  dup  IoU >= 0.5 with a truth of its class that an earlier detection already matched
  loc  IoU 0.1-0.5 with a truth of its class (a box of the wrong size or place)
  cls  IoU >= 0.5 with a truth of another class only
  bg   none of these (background)
each by the side sqrt(w*h) of that truth (of the detection for bg). Then, for the duplicates, their
IoU with the detection that matched the truth and their area relative to it, and for the loc
errors, their area relative to the truth. Needs numpy (Debian: python3-numpy)."""
import sys
from collections import Counter

import numpy as np

from boxes import iou, load

gtdir, detdir = sys.argv[1], sys.argv[2]
thr = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
S = int(sys.argv[4]) if len(sys.argv) > 4 else 160


def bucket(s):
    return '<12' if s < 12 else '12-16' if s < 16 else '16-24' if s < 24 else '>=24'


def area(b):
    return (b[2] - b[0]) * (b[3] - b[1])


fp, tpc, sizes, miss = Counter(), Counter(), Counter(), Counter()
dup_iou_kept, dup_area_ratio, loc_area_ratio = [], [], []
for gc, gb, d in load(gtdir, detdir, S):
    side = np.sqrt((gb[:, 2] - gb[:, 0]) * (gb[:, 3] - gb[:, 1]))
    for s in side:
        sizes[bucket(s)] += 1
    d = d[d[:, 1] >= thr]
    d = d[np.argsort(-d[:, 1], kind='stable')]
    matched_by = -np.ones(len(gc), int)
    for k, det in enumerate(d):
        io = iou(det[2:6], gb) if len(gc) else np.zeros(0)
        same = gc == int(det[0])
        cand = np.where(same & (io >= 0.5) & (matched_by < 0))[0]
        if len(cand):
            j = cand[np.argmax(io[cand])]
            matched_by[j] = k
            tpc[bucket(side[j])] += 1
            continue
        taken = np.where(same & (io >= 0.5))[0]
        near = np.where(same & (io >= 0.1))[0]
        other = np.where(~same & (io >= 0.5))[0]
        if len(taken):
            j = taken[0]
            kept = d[matched_by[j]]
            fp['dup ' + bucket(side[j])] += 1
            dup_iou_kept.append(iou(det[2:6], kept[None, 2:6])[0])
            dup_area_ratio.append(area(det[2:6]) / area(kept[2:6]))
        elif len(near):
            j = near[np.argmax(io[near])]
            fp['loc ' + bucket(side[j])] += 1
            loc_area_ratio.append(area(det[2:6]) / area(gb[j]))
        elif len(other):
            fp['cls ' + bucket(side[other[0]])] += 1
        else:
            fp['bg ' + bucket(np.sqrt(area(det[2:6])))] += 1
    for j in np.where(matched_by < 0)[0]:
        miss[bucket(side[j])] += 1

order = ['<12', '12-16', '16-24', '>=24']
print(f'confidence >= {thr}; object side (px): ' + '  '.join(f'{b:>6s}' for b in order) + '     all')
for name, c in [('truths', sizes), ('true positives', tpc), ('missed', miss)]:
    print(f'{name:>36s}: ' + '  '.join(f'{c[b]:6d}' for b in order) + f'  {sum(c.values()):6d}')
for t in ['dup', 'loc', 'cls', 'bg']:
    row = [fp[t + ' ' + b] for b in order]
    print(f'{"false positives, " + t:>36s}: ' + '  '.join(f'{v:6d}' for v in row) + f'  {sum(row):6d}')
q = [10, 25, 50, 75, 90]
if dup_iou_kept:
    print(f'dup: IoU with the kept box, percentiles {q}: {np.percentile(dup_iou_kept, q).round(2).tolist()}')
    print(f'dup: area / kept box area, percentiles {q}: {np.percentile(dup_area_ratio, q).round(2).tolist()}')
if loc_area_ratio:
    print(f'loc: area / truth area, percentiles {q}: {np.percentile(loc_area_ratio, q).round(2).tolist()}')
