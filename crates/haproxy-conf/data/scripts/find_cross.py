import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import json, fp, random, re, sys
from gen_cases import mutations
random.seed(7)
r = json.load(open(LISTS))
L = fp.load()
idx = {}
for i, l in enumerate(r['cfg']['lists']):
    for e in l['entries']:
        idx.setdefault((e['section'], e['kw']), i)
SECTIONS = {'global','defaults','listen','frontend','backend','peers','resolvers','userlist','mailers','program','cache','ring','http-errors','log-forward','fcgi-app','namespace_list','no','default'}
def sfp(w):
    f = fp.fingerprint(w)
    return {i: v for i, v in enumerate(f) if v}
def sdist(a, b):
    d = 0
    for k, v in a.items():
        d += abs(v - b.get(k, 0))
    for k, v in b.items():
        if k not in a: d += v
    return d
lst, secn = sys.argv[1], int(sys.argv[2])
cands = L[lst]
known = set(c for c,k in cands) | SECTIONS
words = set()
for c, k in cands:
    words |= mutations(c)
cl = [c for c,k in cands]
for _ in range(6000):
    a, b = random.sample(cl, 2)
    i = random.randint(1, len(a)); j = random.randint(0, len(b)-1)
    words.add(a[:i] + b[j:])
alpha = 'abcdefghijklmnopqrstuvwxyz-.'
for _ in range(4000):
    words.add(''.join(random.choice(alpha) for _ in range(random.randint(2, 7))))
words = {w for w in words if re.fullmatch(r'[a-z0-9][a-z0-9._-]*', w)} - known
fps = [(c, sfp(c)) for c in cl]
found = {}
for w in sorted(words):
    wf = sfp(w)
    ds = [(sdist(wf, f), i, c) for i, (c, f) in enumerate(fps)]
    m = min(ds)[0]
    top = [(i, c) for d, i, c in ds if d == m]
    if len(top) < 2: continue
    if fp.best_match(w, cands) is None: continue
    groups = tuple(idx.get((secn, c), 'extra') for i, c in top)
    if len(set(groups)) > 1:
        key = tuple(sorted(set(groups), key=str))
        found.setdefault(key, []).append((w, [c for i, c in top]))
for k, v in sorted(found.items(), key=str):
    v.sort(key=lambda x: (len(x[0]), x[0]))
    print(k, len(v), v[:4])
import json as _j
sel = []
for k, v in sorted(found.items(), key=str):
    sel += [w for w, t in v[:2]]
_j.dump(sel, open(os.path.join(WORK, 'cross_%s.json' % lst), 'w'))
