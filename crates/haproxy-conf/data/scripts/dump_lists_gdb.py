# Run inside gdb (see README.md):
#   gdb -q -batch -ex 'catch syscall exit_group' -ex 'run -c -f /path/empty.cfg' \
#       -ex 'source dump_lists_gdb.py' /usr/sbin/haproxy
# Walks the *runtime* keyword lists of the (stripped) haproxy binary, in list
# order (= registration order), and writes lists.json next to this script.
# The initcall function addresses below are specific to the Debian build
# 2.6.12-1+deb12u4 (BuildID 5bc7e7075a58e3b8cdcb4a2aabc3a4e01b84c28e); they were
# identified by inspecting the structures referenced by each initcall (see README).
import gdb, struct, json, os, re, subprocess
HERE = os.path.dirname(os.path.abspath(__file__)) if '__file__' in globals() else os.getcwd()
EXE = '/usr/sbin/haproxy'
inf = gdb.selected_inferior()
maps = gdb.execute('info proc mappings', to_string=True)
BASE = min(int(l.split()[0], 16) for l in maps.splitlines() if l.strip().endswith(EXE))
sec = subprocess.run(['readelf', '-W', '-S', EXE], capture_output=True, text=True).stdout
m = re.search(r'i_STG_REGISTER\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)', sec)
SEC_ADDR, SEC_SIZE = int(m.group(1), 16), int(m.group(2), 16)
def rd(a, n): return bytes(inf.read_memory(a, n))
def q(a): return struct.unpack('<Q', rd(a, 8))[0]
def i32(a): return struct.unpack('<i', rd(a, 4))[0]
def cstr(a):
    if not a: return None
    return rd(a, 256).split(b'\0')[0].decode('latin1')
calls = []
for k in range(SEC_SIZE // 8):
    p = q(BASE + SEC_ADDR + 8 * k)
    if p:
        fct, a1 = struct.unpack('<QQ', rd(p, 16))
        calls.append((fct - BASE, a1))
def cfg_entry(a): return {'section': i32(a), 'kw': cstr(q(a + 8)), 'flags': i32(a + 24)}, q(a + 8)
def bind_entry(a): return {'kw': cstr(q(a)), 'skip': i32(a + 16)}, q(a)
def srv_entry(a): return {'kw': cstr(q(a)), 'skip': i32(a + 16), 'default_ok': i32(a + 20), 'dynamic_ok': i32(a + 24)}, q(a)
def act_entry(a): return {'kw': cstr(q(a)), 'flags': i32(a + 16)}, q(a)
# name: (initcall fct offset, list offset in struct, kw[] offset, entry size, decoder, has scope)
KINDS = {
 'cfg':  (0x155df0, 0, 16, 32, cfg_entry, False),   # cfg_register_keywords
 'bind': (0x1bb110, 8, 24, 24, bind_entry, True),   # bind_register_keywords
 'srv':  (0x119e90, 8, 24, 32, srv_entry, True),    # srv_register_keywords
 'act_208f10': (0x208f10, 0, 16, 32, act_entry, False),  # http_req_keywords_register
 'act_208f40': (0x208f40, 0, 16, 32, act_entry, False),  # http_res_keywords_register
 'act_208f70': (0x208f70, 0, 16, 32, act_entry, False),  # http_after_res_keywords_register
 'act_1cb4d0': (0x1cb4d0, 0, 16, 32, act_entry, False),  # tcp_req_cont_keywords_register
 'act_1cb500': (0x1cb500, 0, 16, 32, act_entry, False),  # tcp_res_cont_keywords_register
 'act_1cb4a0': (0x1cb4a0, 0, 16, 32, act_entry, False),  # tcp_req_conn / tcp_req_sess (identical contents)
 'act_1cb470': (0x1cb470, 0, 16, 32, act_entry, False),  # tcp_req_sess / tcp_req_conn
 'act_ece60':  (0x0ece60, 0, 16, 32, act_entry, False),  # tcp_check_keywords_register
}
res = {}
for name, (fct, loff, kwoff, esz, ent, scoped) in KINDS.items():
    structs = [a1 for f, a1 in calls if f == fct]
    nodes = set(s + loff for s in structs)
    start = structs[0] + loff
    order, cur = [], start
    while True:
        order.append(cur); cur = q(cur)
        if cur == start or len(order) > 1000: break
    heads = [n for n in order if n not in nodes]
    hi = order.index(heads[0])
    walk = [n - loff for n in order[hi + 1:] + order[:hi]]
    lists = []
    for s in walk:
        entries, a = [], s + kwoff
        while True:
            e, kp = ent(a)
            if not kp: break
            entries.append(e); a += esz
        lists.append({'struct': hex(s - BASE), 'scope': cstr(q(s)) if scoped else None, 'entries': entries})
    res[name] = {'head': hex(heads[0] - BASE), 'list_order_equals_initcall_order': walk == structs, 'lists': lists}
json.dump(res, open(os.path.join(HERE, 'lists.json'), 'w'), indent=1)
print({k: (v['list_order_equals_initcall_order'], sum(len(l['entries']) for l in v['lists'])) for k, v in res.items()})
