import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import re, subprocess, os, sys

from messages_data import M
def fmt2re(fmt):
    out = ''
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == '%':
            m = re.match(r'%(%|-?\*?\.?\*?\d*(?:l|ll|z)?[sdcuXx]|02X|lx)', fmt[i:])
            if not m: raise ValueError(fmt[i:i+5])
            spec = m.group(0)
            if spec == '%%': out += '%'
            elif spec.endswith('s'): out += '.*?'
            elif spec.endswith('c'): out += '.?'
            elif spec.endswith(('d', 'u')): out += '-?\\d+'
            else: out += '[0-9A-Fa-f]+'
            i += len(spec); continue
        if fmt[i:i+2] == '\\n':
            out += '\n'; i += 2; continue
        out += re.escape(c); i += 1
    return out
VM = os.path.join(WORK, 'vm'); os.makedirs(VM, exist_ok=True)
ok = bad = 0
for mid, level, where, fmt, when, cfg in M:
    if cfg is None: continue
    path = os.path.join(VM, '%s.cfg' % mid)
    open(path, 'w').write(cfg)
    p = subprocess.run(['haproxy', '-c', '-f', '%s.cfg' % mid], capture_output=True, text=True, cwd=VM)
    out = p.stdout + p.stderr
    lvl = {'alert': 'ALERT', 'warning': 'WARNING', 'notice': 'NOTICE'}[level]
    text = re.sub(r'(?m)^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\) : (config : )?', lambda m: '<%s>' % m.group(1), out)
    rx = '(?m)^<%s>' % lvl + fmt2re(fmt) + '$'
    if re.search(rx, text):
        ok += 1
    else:
        bad += 1
        print('FAIL', mid, '\n   fmt:', fmt, '\n   out:', '\n        '.join(l for l in text.splitlines() if not l.startswith('<NOTICE>')))
print('ok', ok, 'bad', bad)
