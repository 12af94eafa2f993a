import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import fp, sys
from harness import *
manual = {
 ('global','global',('global',)): ['foo','xyzzy','maxcon','daemonn','nbthreads','chroott','stat','log-sendhostname','tune.ssl.cachsize','ssl-default-bind-cipher','zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz','a','hardstopafter','pidfil','ulimitn','cpumap','Maxconn','MAXCONN','lua_load','tune.bufsiz'],
 ('listen','frontend',('frontend f',)): ['defualt_backend','use-backend','use_backends','bnd','mod','timout','optoin','http-reqest','acls','zzzzzzzzzzzzzzzzzzzzzzzzzzzzz','a','tcp_request','errorfil','filtre','Bind','MODE','logformat','capture_request'],
 ('listen','listen',('listen l',)): ['balanse','servr','default-servr','stik-table','hashtype','cokie'],
}
out = []
for (lst, sec, hdr), words in manual.items():
    res = batch(lst, words, list(hdr), '  {w}', per=40)
    for w, r in res:
        if r is None or r[0] != 'HINT':
            print('SKIP', w, r, file=sys.stderr); continue
        pred = fp.best_match(w, L[lst]) or ''
        out.append((sec, w, r[1], pred, 'manual'))
bad = [o for o in out if o[2] != o[3]]
print(len(out), 'mismatch', len(bad))
for b in bad: print(b)

with open(os.path.join(WORK, 'cases_manual.tsv'), 'w') as f:
    for o in out: f.write('\t'.join(o) + '\n')
