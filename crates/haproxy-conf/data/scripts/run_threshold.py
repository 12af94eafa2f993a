# Words whose best fingerprint distance sits at or just beyond the
# 2*strlen() acceptance threshold, checked against the real binary.
import os, sys, random
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fp
from paths import WORK
from harness import batch, L, SECTIONS
random.seed(3)
out = []
for lst, sec, hdr in (('global', 'global', ['global']), ('listen', 'backend', ['backend b']), ('option', 'option', ['defaults'])):
    cands = L[lst]
    known = set(c for c, k in cands) | SECTIONS
    picked = {'at': [], 'over': []}
    alpha = 'abcdefghijklmnopqrstuvwxyz-._0123456789'
    tries = 0
    while (len(picked['at']) < 8 or len(picked['over']) < 8) and tries < 200000:
        tries += 1
        w = ''.join(random.choice(alpha) for _ in range(random.randint(1, 9)))
        if w in known or w[0] in '.-_' or w[0].isdigit(): continue
        wf = fp.fingerprint(w)
        d, i, c = min((fp.dist(wf, fp.fingerprint(c)), i, c) for i, (c, k) in enumerate(cands))
        lim = 2 * min(len(w), len(c))
        key = 'at' if d == lim else ('over' if d == lim + 1 or d == lim + 2 else None)
        if key and len(picked[key]) < 8 and w not in picked[key]:
            picked[key].append(w)
    words = picked['at'] + picked['over']
    fmt = '  option {w}' if lst == 'option' else '  {w}'
    for w, r in batch(lst, words, hdr, fmt, per=40):
        if r is None or r[0] != 'HINT':
            print('SKIP', w, r, file=sys.stderr); continue
        pred = fp.best_match(w, cands) or ''
        out.append((sec, w, r[1], pred, 'threshold'))
bad = [o for o in out if o[2] != o[3]]
print(len(out), 'mismatch', len(bad))
for b in bad: print(b)
with open(os.path.join(WORK, 'cases_threshold.tsv'), 'w') as f:
    for o in out: f.write('\t'.join(o) + '\n')
