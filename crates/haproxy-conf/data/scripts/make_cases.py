import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import DATA, WORK
LIST_OF = {'global': 'global', 'frontend': 'listen', 'backend': 'listen', 'defaults': 'listen', 'listen': 'listen'}
rows, seen = [], set()
for fn in ('cases_detail.tsv', 'cases_cross.tsv', 'cases_manual.tsv', 'cases_threshold.tsv'):
    for line in open(os.path.join(WORK, fn)):
        sec, typed, real, pred, kind = line.rstrip('\n').split('\t')
        assert real == pred, line
        if (sec, typed) in seen: continue
        seen.add((sec, typed))
        rows.append((sec, typed, real, LIST_OF.get(sec, sec)))
with open(os.path.join(DATA, 'did-you-mean-cases.tsv'), 'w') as f:
    f.write('section\ttyped\texpected\tlist\n')
    for r in rows:
        f.write('\t'.join(r) + '\n')
print(len(rows), 'cases')
