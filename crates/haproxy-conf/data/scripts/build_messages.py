import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import DATA
from messages_data import M
def esc(s):
    assert '\t' not in s
    return s.replace('\n', '\\n')
seen = set()
with open(os.path.join(DATA, 'messages.tsv'), 'w', encoding='utf-8') as f:
    f.write('id\tlevel\twhere\tformat\twhen\n')
    for mid, level, where, fmt, when, cfg in M:
        assert mid not in seen, mid
        seen.add(mid)
        f.write('\t'.join([mid, level, where, esc(fmt), esc(when)]) + '\n')
print(len(M), 'messages')
