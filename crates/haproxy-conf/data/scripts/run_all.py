import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import fp, sys
from harness import *
cases = []  # (section/list, typed, real_hint, predicted)
known_all = set(c for lst in L.values() for c, k in lst) | SECTIONS
def do(listname, section_label, header, linefmt, ntie, nplain, action=False, per=40, single=False):
    ties, plain = gen(listname, known_all, ntie, nplain, action)
    words = ties + plain
    if single:
        res = []
        for w in words:
            res += batch(listname, [w], header, linefmt, per=1)
    else:
        res = batch(listname, words, header, linefmt, per=per)
    for w, r in res:
        if r is None or r[0] != 'HINT':
            print('SKIP', listname, w, r, file=sys.stderr); continue
        pred = fp.best_match(w, L[listname], action) or ''
        cases.append((section_label, w, r[1], pred, 'tie' if w in ties else ''))
# extra hand-picked words
do('global', 'global', ['global'], '  {w}', 40, 45)
do('listen', 'frontend', ['frontend f'], '  {w}', 40, 45)
do('listen', 'backend', ['backend b'], '  {w}', 10, 10)
do('listen', 'defaults', ['defaults'], '  {w}', 10, 10)
do('option', 'option', ['defaults', '  mode http'], '  option {w}', 25, 25)
do('bind', 'bind', ['frontend f'], '  bind :{j}80 {w}', 20, 20)
do('server', 'server', ['backend b'], '  server s{j} 127.0.0.1:80 {w}', 20, 20)
do('http-request', 'http-request', ['frontend f', '  mode http'], '  http-request {w}', 12, 12, action=True, single=True)
do('http-response', 'http-response', ['backend b', '  mode http'], '  http-response {w}', 6, 6, action=True, single=True)
do('http-after-response', 'http-after-response', ['backend b', '  mode http'], '  http-after-response {w}', 4, 4, action=True, single=True)
do('tcp-request content', 'tcp-request content', ['frontend f'], '  tcp-request content {w}', 12, 12, action=True)
do('tcp-request connection', 'tcp-request connection', ['frontend f'], '  tcp-request connection {w}', 8, 8, action=True)
do('tcp-response content', 'tcp-response content', ['backend b'], '  tcp-response content {w}', 8, 8, action=True)
bad = [c for c in cases if c[2] != c[3]]
print('cases', len(cases), 'mismatches', len(bad), 'ties', sum(1 for c in cases if c[4]))
for c in bad: print('MISMATCH', c)
import collections
print(collections.Counter(c[0] for c in cases))
with open(os.path.join(WORK, 'cases.tsv'), 'w') as f:
    f.write('section\ttyped\texpected\n')
    for c in cases:
        f.write('%s\t%s\t%s\n' % (c[0], c[1], c[2]))
with open(os.path.join(WORK, 'cases_detail.tsv'), 'w') as f:
    for c in cases:
        f.write('\t'.join(c) + '\n')
