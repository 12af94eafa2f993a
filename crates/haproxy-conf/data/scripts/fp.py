import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
import csv
def fingerprint(word):
    fp = [0]*1024
    frm = 28
    for ch in word.encode('latin1', 'replace') if isinstance(word, str) else word:
        c = ch
        if 65 <= c <= 90: c += 32
        if 97 <= c <= 122: to = c - 97 + 1
        elif 48 <= c <= 57: to = 27
        else: to = 28
        fp[to] = 1
        fp[32*frm + to] = (fp[32*frm + to] + 1) & 0xff
        frm = to
    fp[32*frm + 28] = (fp[32*frm + 28] + 1) & 0xff
    return fp
def dist(a, b):
    return sum(abs(x - y) for x, y in zip(a, b))
def load(path=os.path.join(DATA, 'did-you-mean.tsv')):
    lists = {}
    with open(path) as f:
        next(f)
        for line in f:
            lst, order, cand, kind = line.rstrip('\n').split('\t')
            lists.setdefault(lst, []).append((cand, kind))
    return lists
def best_match(word, cands, action=False):
    """cands: list of (candidate, kind) in order. Returns hint or None."""
    if action and not word:
        return None
    w = fingerprint(word)
    best = None; bestd = None; bestkind = None
    for cand, kind in cands:
        d = dist(w, fingerprint(cand))
        if bestd is None or d < bestd:
            bestd, best, bestkind = d, cand, kind
    if best is None: return None
    mult = 2
    if action and bestkind == 'registered-prefix':
        mult = 3
    if bestd > mult*len(word) or bestd > mult*len(best):
        return None
    return best
def ranking(word, cands):
    w = fingerprint(word)
    return sorted(((dist(w, fingerprint(c)), i, c) for i, (c, k) in enumerate(cands)))
