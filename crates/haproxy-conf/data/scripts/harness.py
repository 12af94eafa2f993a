import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import fp, subprocess, re, os, sys, random
from gen_cases import gen, L
SECTIONS = {'global','defaults','listen','frontend','backend','peers','resolvers','userlist','mailers','program','cache','ring','http-errors','log-forward','fcgi-app','namespace_list','spoe-agent','spoe-group','spoe-message','ot-tracer','ot-group','ot-scope','no','default'}
def run(cfg_text, name='t.cfg'):
    path = os.path.join(WORK, 'run', name)
    os.makedirs(os.path.join(WORK, 'run'), exist_ok=True)
    open(path, 'w').write(cfg_text)
    p = subprocess.run(['haproxy', '-c', '-f', name], capture_output=True, text=True, cwd=os.path.join(WORK, 'run'))
    return p.stdout + p.stderr
def parse_hints(out, name='t.cfg'):
    res = {}
    for line in out.splitlines():
        m = re.search(r'\[%s:(\d+)\]' % re.escape(name), line)
        if not m: continue
        ln = int(m.group(1))
        if not re.search(r"unknown keyword|unknown option|expects .* but got|\(got '", line):
            res.setdefault(ln, ('OTHER', line)); continue
        h = re.search(r"[Dd]id you mean '(.*?)' maybe \?", line)
        res[ln] = ('HINT', h.group(1) if h else '')
    return res
def batch(kind, words, header, linefmt, per=40):
    results = []
    for i in range(0, len(words), per):
        chunk = words[i:i+per]
        lines = header[:]
        base = len(lines)
        for j, w in enumerate(chunk):
            lines.append(linefmt.format(w=w, j=j))
        out = run('\n'.join(lines) + '\n')
        hints = parse_hints(out)
        for j, w in enumerate(chunk):
            ln = base + j + 1
            r = hints.get(ln)
            results.append((w, r))
    return results
