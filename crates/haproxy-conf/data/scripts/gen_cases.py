import fp, random, itertools, re
random.seed(42)
L = fp.load()
def mutations(w):
    out = set()
    for i in range(len(w)):
        out.add(w[:i] + w[i+1:])                 # deletion
        out.add(w[:i] + w[i] + w[i:])            # duplication
        if i+1 < len(w): out.add(w[:i] + w[i+1] + w[i] + w[i+2:])  # swap
    out.add(w.replace('-', '_')); out.add(w.replace('_', '-')); out.add(w.replace('-', ''))
    out.add(w + 's'); out.add(w + '2'); out.add('x' + w)
    return {o for o in out if o and re.fullmatch(r'[A-Za-z0-9._-]+', o) and not o.startswith('.')}
def gen(listname, allknown, n_tie=40, n_plain=40, action=False):
    cands = L[listname]
    words = set()
    for c, k in cands:
        words |= mutations(c)
    words -= allknown
    words = sorted(words)
    ties, plain = [], []
    for w in words:
        rk = fp.ranking(w, cands)
        best = fp.best_match(w, cands, action)
        if len(rk) > 1 and rk[0][0] == rk[1][0] and rk[0][2] != rk[1][2] and best is not None:
            ties.append(w)
        else:
            plain.append(w)
    random.shuffle(ties); random.shuffle(plain)
    return ties[:n_tie], plain[:n_plain]
