import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import json, fp, sys
from harness import *
out = []
for lst, sec, hdr in (('global', 'global', ['global']), ('listen', 'frontend', ['frontend f']), ('listen', 'backend', ['backend b'])):
    words = json.load(open(os.path.join(WORK, 'cross_%s.json' % lst)))
    if sec == 'backend': words = words[::3]
    res = batch(lst, words, hdr, '  {w}', per=40)
    for w, r in res:
        if r is None or r[0] != 'HINT':
            print('SKIP', w, r, file=sys.stderr); continue
        pred = fp.best_match(w, L[lst]) or ''
        out.append((sec, w, r[1], pred, 'crosstie'))
bad = [o for o in out if o[2] != o[3]]
print(len(out), 'mismatch', len(bad))
for b in bad: print(b)
with open(os.path.join(WORK, 'cases_cross.tsv'), 'w') as f:
    for o in out: f.write('\t'.join(o) + '\n')
