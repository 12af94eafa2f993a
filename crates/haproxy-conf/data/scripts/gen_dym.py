import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import json, re, sys
SRC=os.path.join(HSRC, 'src') + '/'
r = json.load(open(LISTS))
def c_array(path, name):
    txt = open(path).read()
    m = re.search(r'static const char \*%s\[\] = \{(.*?)\};' % re.escape(name), txt, re.S)
    body = re.sub(r'/\*.*?\*/', '', m.group(1), flags=re.S)
    return re.findall(r'"([^"]*)"', body)
def cfg_opts(path, name):
    txt = open(path).read()
    m = re.search(r'const struct cfg_opt %s\[\] =\s*\{(.*?)\n\};' % name, txt, re.S)
    body = m.group(1)
    # handle #ifdef USE_TPROXY / USE_LINUX_SPLICE: both defined in Debian build -> take first branch
    out = []; skip = False; depth = []
    for line in body.split('\n'):
        s = line.strip()
        if s.startswith('#ifdef') or s.startswith('#if '):
            depth.append('if'); skip = False; continue
        if s.startswith('#else'):
            skip = True; continue
        if s.startswith('#endif'):
            depth.pop(); skip = False; continue
        if skip: continue
        mm = re.match(r'\{\s*"([^"]+)"', s)
        if mm: out.append(mm.group(1))
    return out
rows = []
def add(lst, items):
    for i, (cand, kind) in enumerate(items):
        rows.append((lst, i, cand, kind))
def cfg_list(section):
    return [(e['kw'], 'registered') for l in r['cfg']['lists'] for e in l['entries'] if e['section'] == section]
add('global', cfg_list(1) + [(w, 'extra') for w in c_array(SRC+'cfgparse-global.c', 'common_kw_list')])
add('listen', cfg_list(2) + [(w, 'extra') for w in c_array(SRC+'cfgparse-listen.c', 'common_kw_list')])
add('option', [(w, 'registered') for w in cfg_opts(SRC+'proxy.c', 'cfg_opts')] +
              [(w, 'registered') for w in cfg_opts(SRC+'proxy.c', 'cfg_opts2')] +
              [(w, 'extra') for w in c_array(SRC+'cfgparse-listen.c', 'common_options')])
add('bind', [(e['kw'], 'registered') for l in r['bind']['lists'] for e in l['entries']])
add('server', [(e['kw'], 'registered') for l in r['srv']['lists'] for e in l['entries']] +
              [(w, 'extra') for w in c_array(SRC+'server.c', 'extra_kw_list')])
def act(key):
    return [(e['kw'], 'registered-prefix' if e['flags'] & 2 else 'registered') for l in r[key]['lists'] for e in l['entries']]
add('http-request', act('act_208f10'))
add('http-response', act('act_208f40'))
add('http-after-response', act('act_208f70'))
tcpreq_extra = [(w, 'extra') for w in ["accept", "reject", "capture", "track-sc", "expect-proxy", "expect-netscaler-cip"]]
add('tcp-request connection', act('act_1cb4a0') + tcpreq_extra)
add('tcp-request session', act('act_1cb470') + tcpreq_extra)
add('tcp-request content', act('act_1cb4d0') + tcpreq_extra)
add('tcp-response content', act('act_1cb500') + [(w, 'extra') for w in ["accept", "reject", "close"]])
with open(os.path.join(DATA, 'did-you-mean.tsv'), 'w') as f:
    f.write('list\torder\tcandidate\tkind\n')
    for row in rows:
        f.write('%s\t%d\t%s\t%s\n' % row)
import collections
print(collections.Counter(r[0] for r in rows))
