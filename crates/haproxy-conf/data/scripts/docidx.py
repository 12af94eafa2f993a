import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import re
DOC = os.path.join(HSRC, 'doc/configuration.txt')
lines = open(DOC, encoding='utf-8').read().split('\n')
# locate chapter starts
def find(title):
    for i, l in enumerate(lines):
        if l.strip() == title and i + 1 < len(lines) and set(lines[i+1].strip()) <= set('-='):
            return i
    raise KeyError(title)
CH = {}
titles = ['3.1. Process management and security', '3.2. Performance tuning', '3.3. Debugging', '3.4. Userlists',
 '3.5. Peers', '3.6. Mailers', '3.7. Programs', '3.8. HTTP-errors', '3.9. Rings', '3.10. Log forwarding', '4. Proxies',
 '4.1. Proxy keywords matrix', '4.2. Alphabetically sorted keywords reference', '5. Bind and server options', '5.1. Bind options',
 '5.2. Server and default-server options', '5.3. Server IP address resolution using DNS', '5.3.2. The resolvers section', '6. Cache',
 '6.2.1. Cache section', '6.2.2. Proxy section', '7. Using ACLs and fetching samples', '10. FastCGI applications', '10.1.1. Fcgi-app section', '10.1.2. Proxy section']
for t in titles:
    CH[t] = find(t)
def rng(a, b):
    return CH[a], CH[b]
RANGES = {
 'global': (CH['3.1. Process management and security'], CH['3.4. Userlists']),
 'userlist': rng('3.4. Userlists', '3.5. Peers'),
 'peers': rng('3.5. Peers', '3.6. Mailers'),
 'mailers': rng('3.6. Mailers', '3.7. Programs'),
 'program': rng('3.7. Programs', '3.8. HTTP-errors'),
 'http-errors': rng('3.8. HTTP-errors', '3.9. Rings'),
 'ring': rng('3.9. Rings', '3.10. Log forwarding'),
 'log-forward': rng('3.10. Log forwarding', '4. Proxies'),
 'proxy': rng('4.2. Alphabetically sorted keywords reference', '5. Bind and server options'),
 'bind': rng('5.1. Bind options', '5.2. Server and default-server options'),
 'server': rng('5.2. Server and default-server options', '5.3. Server IP address resolution using DNS'),
 'resolvers': rng('5.3.2. The resolvers section', '6. Cache'),
 'cache': rng('6.2.1. Cache section', '6.2.2. Proxy section'),
 'fcgi-app': rng('10.1.1. Fcgi-app section', '10.1.2. Proxy section'),
}
def key_tokens(head):
    toks = head.split()
    out = []
    for t in toks:
        if t[0] in '<[{(|"\'' or t in ('...', '|', '=') :
            break
        t = re.sub(r'\(.*$', '', t)   # add-acl(<file>) -> add-acl
        if not t: break
        out.append(t)
        if t != toks[0] and len(out) >= 4: break
    return tuple(out)
def first_sentence(par):
    s = ' '.join(par)
    s = re.sub(r'\s+', ' ', s).strip()
    m = re.search(r'^(.*?[.:;])(\s|$)', s)
    if m and len(m.group(1)) > 15:
        s = m.group(1)
    if len(s) > 220:
        s = s[:217].rstrip() + '...'
    return s
def build(section):
    a, b = RANGES[section]
    idx = {}
    i = a + 2
    while i < b:
        l = lines[i]
        if l and not l[0].isspace() and re.match(r'^[a-z0-9.][A-Za-z0-9_.\-]*', l) and not re.match(r'^\d+(\.\d+)*\. ', l):
            heads = [l]
            j = i + 1
            # consecutive heading lines or deeply-indented continuation lines
            while j < b and lines[j] and (not lines[j][0].isspace() or lines[j].startswith('   ') or lines[j].startswith('\t')):
                if not lines[j][0].isspace():
                    heads.append(lines[j])
                j += 1
            # description
            par = []
            while j < b:
                t = lines[j]
                if t and not t[0].isspace():
                    break
                if not t.strip():
                    if par: break
                    j += 1; continue
                if t.startswith('  ') and not t.startswith('    '):
                    st = t.strip()
                    if st.startswith('May be used in sections') or st.startswith('Arguments') or st.startswith('Example'):
                        if par: break
                        j += 1; continue
                    par.append(st)
                    j += 1
                else:
                    if par: break
                    j += 1
                    if j - i > 30: break
            desc = first_sentence(par) if par else ''
            for h in heads:
                k = key_tokens(h)
                if k and k not in idx:
                    idx[k] = desc
                # also keyed without leading 'no'
                if k and k[0] == 'no' and k[1:] not in idx:
                    idx[k[1:]] = desc
            i = j
        else:
            i += 1
    return idx
IDX = {s: build(s) for s in RANGES}
def lookup(section, words):
    """words: tuple of keyword tokens, longest-prefix match"""
    idx = IDX[section]
    w = tuple(words)
    if w in idx and idx[w]:
        return idx[w]
    # a longer heading starting with these words (e.g. 'expose-fd listeners')
    for k, v in idx.items():
        if v and len(k) > len(w) and k[:len(w)] == w:
            return v
    for n in range(len(w) - 1, 0, -1):
        if w[:n] in idx and idx[w[:n]]:
            return idx[w[:n]]
    return ''
if __name__ == '__main__':
    import sys
    for s in sys.argv[1:]:
        for k, v in IDX[s].items():
            print(s, '|', ' '.join(k), '|', v)
