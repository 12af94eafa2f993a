import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import HSRC, WORK, LISTS, DATA
#!/usr/bin/env python3
"""Build keywords.tsv for HAProxy 2.6.12 (Debian build 2.6.12-1+deb12u4).

Inputs:
  - lists.json : registered keyword lists dumped from the running binary with gdb
                 (see dump_lists_gdb.py); gives every *registered* keyword.
  - docidx.py  : first-sentence summaries from doc/configuration.txt.
  - the tables below, transcribed by hand from the C parsers (hard-coded
    strcmp() chains), with capability / negation / removal information.
"""
import json, sys, os, re
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from docidx import lookup

LISTS = json.load(open(LISTS))
OUT = os.path.join(DATA, 'keywords.tsv')

rows = []
def add(section, keyword, caps='-', no='no', origin='hardcoded', summary=''):
    summary = re.sub(r'\s+', ' ', summary).strip()
    assert '\t' not in summary
    rows.append((section, keyword, caps, no, origin, summary))

def d(section, *words):
    return lookup(section, words)

def caps_of(capmask):
    # capmask: set of letters among d f b l
    return ''.join(c for c in 'dfbl' if c in capmask) or '-'

# --------------------------------------------------------------------------
# registered lists from the binary
cfg_global = [e['kw'] for l in LISTS['cfg']['lists'] for e in l['entries'] if e['section'] == 1]
cfg_listen = [e['kw'] for l in LISTS['cfg']['lists'] for e in l['entries'] if e['section'] == 2]
def actions(key):
    return [(e['kw'], e['flags']) for l in LISTS[key]['lists'] for e in l['entries']]
HTTP_REQ = actions('act_208f10'); HTTP_RES = actions('act_208f40'); HTTP_AFTER = actions('act_208f70')
TCP_CONN = actions('act_1cb4a0'); TCP_SESS = actions('act_1cb470'); TCP_CONT = actions('act_1cb4d0')
TCP_RES = actions('act_1cb500'); TCPCHK_ACT = actions('act_ece60')
BIND = []
for l in LISTS['bind']['lists']:
    for e in l['entries']:
        BIND.append((e['kw'], e['skip'], l['scope']))
SRV = []
for l in LISTS['srv']['lists']:
    for e in l['entries']:
        SRV.append((e['kw'], e['skip'], e['default_ok'], l['scope']))

# ==========================================================================
# GLOBAL
NEG_OK = {'busy-polling', 'set-dumpable', 'strict-limits', 'insecure-fork-wanted', 'numa-cpu-mapping', 'log'}
GLOBAL_HARD = """global expose-experimental-directives daemon master-worker noepoll nokqueue noevports nopoll busy-polling
set-dumpable h2-workaround-bogus-websocket-clients insecure-fork-wanted insecure-setuid-wanted nosplice nogetaddrinfo
noreuseport quiet zero-warning tune.runqueue-depth tune.maxpollevents tune.maxaccept tune.chksize tune.recv_enough
tune.buffers.limit tune.buffers.reserve tune.bufsize tune.maxrewrite tune.idletimer tune.rcvbuf.client tune.rcvbuf.server
tune.sndbuf.client tune.sndbuf.server tune.pipesize tune.http.cookielen tune.http.logurilen tune.http.maxhdr
tune.comp.maxlevel tune.pattern.cache-size cluster-secret uid gid external-check user group nbproc maxconn
ssl-server-verify maxconnrate maxsessrate maxsslrate maxcomprate maxpipes maxzlibmem maxcompcpuusage fd-hard-limit
ulimit-n chroot description node pidfile unix-bind log log-send-hostname server-state-base server-state-file log-tag
spread-checks max-spread-checks cpu-map setenv presetenv unsetenv resetenv strict-limits localpeer numa-cpu-mapping""".split()
GLOBAL_REMOVED = {
    'tune.chksize': "parsing [%s:%d]: option 'tune.chksize' is not supported any more (tune.bufsize is used instead).",
    'nbproc': "parsing [%s:%d] : nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.",
}
GLOBAL_NOTES = {
    'global': 'Section header (no argument accepted).',
    'h2-workaround-bogus-websocket-clients': "{doc} [parser handles 'no' but readcfgfile() first emits the negation/default ALERT]",
    'insecure-setuid-wanted': "{doc} [parser handles 'no' but readcfgfile() first emits the negation/default ALERT]",
    'strict-limits': "{doc} [only 'no strict-limits' has an effect; plain form is a no-op]",
    'expose-experimental-directives': "{doc} [takes no argument check]",
    'log': "{doc} ['no log' clears inherited log servers]",
    'maxzlibmem': "{doc} [accepted even without zlib (SLZ build)]",
    'cpu-map': "{doc}",
}
for kw in GLOBAL_HARD:
    if kw in GLOBAL_REMOVED:
        add('global', kw, '-', 'no', 'removed', GLOBAL_REMOVED[kw])
        continue
    doc = d('global', kw)
    if kw == 'global':
        doc = 'Section header (no argument accepted).'
    summ = GLOBAL_NOTES.get(kw, '{doc}').format(doc=doc)
    add('global', kw, '-', 'yes' if kw in NEG_OK else 'no', 'hardcoded', summ)
GLOBAL_DEPRECATED = {
    'tune.ssl.capture-cipherlist-size': "parsing [%s:%d]: 'tune.ssl.capture-cipherlist-size' is deprecated and will be removed in version 2.7. Please use 'tune.ssl.capture-buffer-size' instead.",
}
seen = set()
for kw in cfg_global:
    if kw in seen: continue
    seen.add(kw)
    if kw in GLOBAL_DEPRECATED:
        add('global', kw, '-', 'no', 'deprecated', GLOBAL_DEPRECATED[kw]); continue
    doc = d('global', kw)
    if kw == 'stats':
        doc = "Global 'stats' statement (sub-keywords: socket, timeout, maxconn, bind-process; see rows 'stats <sub>')."
    if kw == 'grace':
        doc = doc + " [only valid in global; in proxies 'grace' is a removed keyword]"
    add('global', kw, '-', 'no', 'registered', doc)
# global stats sub keywords (cli.c cli_parse_global)
add('global', 'stats socket', '-', 'no', 'registered', d('global', 'stats', 'socket') + " [bind options follow the address]")
add('global', 'stats timeout', '-', 'no', 'registered', d('global', 'stats', 'timeout'))
add('global', 'stats maxconn', '-', 'no', 'registered', d('global', 'stats', 'maxconn'))
add('global', 'stats bind-process', '-', 'no', 'registered', d('global', 'stats', 'bind-process') + " [accepted, no effect since 2.5; no warning]")

# ==========================================================================
# PROXY (defaults / frontend / backend / listen)
FE = 'dfl'; BE = 'dbl'; ALL = 'dfbl'
P = []  # (keyword, caps, no, origin, summary-or-None, note)
def px(kw, caps, note='', origin='hardcoded', no='no', summary=None, docwords=None):
    doc = summary if summary is not None else d('proxy', *(docwords or kw.split()))
    s = (note + ' ' if note else '') + doc
    add('proxy', kw, caps, no, origin, s)

W_FE = "[WARNING \"'%s' ignored because %%s '%%s' has no frontend capability.\" but the line is still applied]"
W_BE = "[WARNING \"'%s' ignored because %%s '%%s' has no backend capability.\" but the line is still applied]"
A_DEF = "[ALERT in defaults]"
A_ANON = "[ALERT in anonymous defaults]"
px('server', 'bl', "[ALERT in defaults: \"'server' not allowed in 'defaults' section.\"; ALERT (failifnotcap) in frontend]")
px('default-server', 'dbl', "[ALERT (failifnotcap) in frontend: \"'default-server' not allowed because frontend '%s' has no backend capability.\"]")
px('server-template', 'bl', "[ALERT in defaults; ALERT (failifnotcap) in frontend]")
px('bind', 'fl', "[ALERT in defaults: \"'bind' not allowed in 'defaults' section.\"; WARNING in backend but still parsed]")
px('monitor-net', '-', origin='removed', summary="parsing [%s:%d] : 'monitor-net' doesn't exist anymore. Please use 'http-request return status 200 if { src %s }' instead.")
px('monitor-uri', FE, W_FE % 'monitor-uri')
px('mode', ALL, "[values: http, tcp; 'mode health' is removed: \"parsing [%s:%d] : 'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.\"]")
px('id', 'fbl', A_DEF)
px('description', 'fbl', A_DEF + " [without argument the parser returns -1: ALERT \"parsing [%s:%d]: 'description' expects a string argument.\" then readcfgfile() returns -1 and haproxy prints \"Could not open configuration file %s : Success\" and exits 1]")
px('disabled', ALL)
px('enabled', ALL)
px('bind-process', ALL, origin='deprecated', summary="parsing [%s:%d]: 'bind-process' has no effect, is deprecated, and will be removed in version 2.7.")
px('acl', ALL, A_ANON)
px('dynamic-cookie-key', BE, W_BE % 'dynamic-cookie-key')
px('cookie', BE, W_BE % 'cookie')
px('email-alert', ALL, "[sub-keywords: from, level, mailers, myhostname, to]")
px('persist', ALL, "[only 'persist rdp-cookie[(name)]'; no capability check in source (doc: d,l,b)]")
px('appsession', '-', origin='removed', summary="parsing [%s:%d] : 'appsession' is not supported anymore since HAProxy 1.6.")
px('load-server-state-from-file', BE, W_BE % 'load-server-state-from-file')
px('server-state-file-name', BE, W_BE % 'server-state-file-name')
px('max-session-srv-conns', FE, W_FE % 'max-session-srv-conns', summary="Limit the number of server connections a single client session may keep (undocumented in configuration.txt).")
px('capture', 'fl', "[WARNING if no frontend cap; every sub-form ('cookie', 'request header', 'response header') is an ALERT in defaults]")
px('retries', BE, W_BE % 'retries')
px('http-request', ALL, A_ANON + " [a rule that fails to parse returns ERR_ABORT: parsing of the file stops]")
px('http-response', ALL, A_ANON + " [a rule that fails to parse returns ERR_ABORT: parsing of the file stops]")
px('http-after-response', ALL, A_ANON + " [a rule that fails to parse returns ERR_ABORT: parsing of the file stops]")
px('http-send-name-header', BE, W_BE % 'http-send-name-header')
px('block', '-', origin='removed', summary="parsing [%s:%d] : The 'block' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax.")
px('redirect', 'fbl', A_DEF)
px('use_backend', 'fl', A_DEF + " " + W_FE % 'use_backend')
px('use-server', 'bl', A_DEF + " " + W_BE % 'use-server')
px('force-persist', 'bl', A_DEF + " " + W_BE % 'force-persist')
px('ignore-persist', 'bl', A_DEF + " " + W_BE % 'ignore-persist')
px('stick-table', 'fbl', "[ALERT in defaults: \"'stick-table' is not supported in 'defaults' section.\"]")
px('stick', 'bl', A_DEF + " [WARNING + line really ignored if no backend capability]", docwords=['stick', 'on'])
px('stats', ALL, "[sub-keywords in section 'stats'; 'stats admin' and 'stats http-request' are ALERT in defaults]", summary="Statistics page settings (see section 'stats').")
px('option', ALL, "[option names in section 'option'; 'no'/'default' prefixes allowed]", no='yes', summary="Enable/disable a named proxy option (see section 'option').")
px('default_backend', FE, W_FE % 'default_backend')
px('redispatch', '-', origin='removed', summary="parsing [%s:%d] : keyword 'redispatch' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.")
px('redisp', '-', origin='removed', summary="parsing [%s:%d] : keyword 'redisp' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.")
px('http-reuse', BE, W_BE % 'http-reuse' + " [values: never, safe, aggressive, always]")
px('monitor', 'fl', A_DEF + " " + W_FE % 'monitor' + " [only 'monitor fail']", docwords=['monitor', 'fail'])
px('transparent', ALL, "[USE_TPROXY build only; no capability check in source; doc marks it deprecated but no warning is emitted]")
px('maxconn', FE, "[WARNING \"'maxconn' ignored because backend '%s' has no frontend capability. Maybe you want 'fullconn' instead ?\"]")
px('backlog', FE, W_FE % 'backlog')
px('fullconn', BE, "[WARNING \"'fullconn' ignored because frontend '%s' has no backend capability. Maybe you want 'maxconn' instead ?\"]")
px('grace', '-', origin='removed', summary="parsing [%s:%d]: the 'grace' keyword is not supported any more since HAProxy version 2.5.")
px('dispatch', 'bl', A_DEF + " " + W_BE % 'dispatch')
px('balance', BE, W_BE % 'balance' + " [algorithms in section 'balance']")
px('hash-type', BE, W_BE % 'hash-type' + " ['hash-type avalanche' is removed: \"parsing [%s:%d] : experimental feature 'hash-type avalanche' is not supported anymore, please use 'hash-type map-based sdbm avalanche' instead.\"]")
px('hash-balance-factor', ALL, "[no capability check in source]")
px('unique-id-format', ALL)
px('unique-id-header', ALL)
px('log-format', FE, "[in a backend: WARNING \"backend '%s' : 'log-format' directive is ignored in backends.\"]")
px('log-format-sd', FE, "[in a backend: WARNING \"... 'log-format-sd' directive is ignored in backends.\"]")
px('error-log-format', FE, "[in a backend: WARNING \"... 'error-log-format' directive is ignored in backends.\"]")
px('log-tag', ALL)
px('log', ALL, "['no log' and 'log global' supported]", no='yes')
px('source', BE, W_BE % 'source')
px('usesrc', '-', "[always an ALERT when used as a directive: \"parsing [%s:%d] : 'usesrc' only allowed after a 'source' statement.\"]", summary="Sub-keyword of 'source'.")
REMOVED_REQ = {
 'cliexp': "Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead.",
 'reqrep': "Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead.",
 'reqdel': "Use 'http-request del-header' instead.",
 'reqallow': "Use 'http-request allow' instead.",
 'reqtarpit': "Use 'http-request tarpit' instead.",
 'reqirep': "Use 'http-request replace-header' instead.",
 'reqidel': "Use 'http-request del-header' instead.",
 'reqideny': "Use 'http-request deny' instead.",
 'reqiallow': "Use 'http-request allow' instead.",
 'reqitarpit': "Use 'http-request tarpit' instead.",
 'reqadd': "Use 'http-request add-header' instead.",
 'srvexp': "Use 'http-response replace-header' instead.",
 'rsprep': "Use 'http-response replace-header' instead.",
 'rspdel': "Use 'http-response del-header' .",
 'rspdeny': "Use 'http-response deny' instead.",
 'rspirep': "Use 'http-response replace-header' instead.",
 'rspidel': "Use 'http-response del-header' instead.",
 'rspideny': "Use 'http-response deny' instead.",
 'rspadd': "Use 'http-response add-header' instead.",
}
for kw, tail in REMOVED_REQ.items():
    px(kw, '-', origin='removed', summary="parsing [%%s:%%d] : The '%s' directive is not supported anymore since HAProxy 2.1. %s" % (kw, tail))
px('reqdeny', '-', origin='removed', summary="parsing [%s:%d] : The 'reqdeny' not supported anymore since HAProxy 2.1. Use 'http-request deny' instead.")
px('reqpass', '-', origin='removed', summary="parsing [%s:%d] : The 'reqpass' not supported anymore since HAProxy 2.1.")
px('reqipass', '-', origin='removed', summary="parsing [%s:%d] : The 'reqipass' directive is not supported anymore since HAProxy 2.1.")

# registered CFG_LISTEN keywords
REG_LISTEN = {
 'http-check': (BE, W_BE % 'http-check' + " [the capability warning is followed by a second WARNING 'parsing [%s:%d] : (null)'] [sub-keywords in section 'http-check']"),
 'tcp-check': (BE, W_BE % 'tcp-check' + " [the capability warning is followed by a second WARNING 'parsing [%s:%d] : (null)'] [sub-keywords in section 'tcp-check']"),
 'timeout': (ALL, "[per-timeout capability in section 'timeout'; missing capability is a WARNING \"'timeout %s' will be ignored because %s '%s' has no %s capability\"]"),
 'rate-limit': (FE, "[only 'rate-limit sessions'; WARNING \"rate-limit sessions will be ignored because %s '%s' has no frontend capability\"]"),
 'max-keep-alive-queue': (BE, "[WARNING \"max-keep-alive-queue will be ignored because %s '%s' has no backend capability\"]"),
 'declare': ('fl', "[ALERT in defaults: \"'declare' not available in default section\"; ALERT in backend: \"'declare' only available in frontend or listen section\"]"),
 'retry-on': (BE, "[ALERT (not warning) if no backend capability: \"'retry-on' only available in backend or listen section\"]"),
 'clitcpka-cnt': (FE, "[WARNING if no frontend capability]"),
 'clitcpka-idle': (FE, "[WARNING if no frontend capability]"),
 'clitcpka-intvl': (FE, "[WARNING if no frontend capability]"),
 'srvtcpka-cnt': (BE, "[WARNING if no backend capability]"),
 'srvtcpka-idle': (BE, "[WARNING if no backend capability]"),
 'srvtcpka-intvl': (BE, "[WARNING if no backend capability]"),
 'errorloc': (ALL, ''), 'errorloc302': (ALL, ''), 'errorloc303': (ALL, ''),
 'errorfile': (ALL, ''), 'errorfiles': (ALL, ''), 'http-error': (ALL, ''),
 'tcp-request': (ALL, "[sub-keywords in section 'tcp-request'; not allowed in anonymous defaults]"),
 'tcp-response': (BE, "[ALERT if no backend cap or in anonymous defaults: \"tcp-response ... is only allowed in 'backend' sections or 'defaults' section with a name\"]"),
 'filter': ('fbl', "[ALERT in defaults: \"parsing [%s:%d] : parsing [%s:%d] : filter is not allowed in a 'default' section.\" (prefix doubled)]"),
 'use-fcgi-app': ('bl', "[ALERT in defaults or frontend: \"'use-fcgi-app' only available in backend or listen section\"]"),
 'compression': (ALL, "['compression offload' in defaults: WARNING \"'compression' : 'offload' ignored in 'defaults' section.\"]"),
 'external-check': (ALL, "[sub-keywords: command, path; no capability check in source (doc: d,l,b)]"),
}
REG_LISTEN_REMOVED = {
 'clitimeout': "parsing [%s:%d] : the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout client'.",
 'contimeout': "parsing [%s:%d] : the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'.",
 'srvtimeout': "parsing [%s:%d] : the 'srvtimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout server'.",
}
for kw in cfg_listen:
    if kw in REG_LISTEN_REMOVED:
        add('proxy', kw, '-', 'no', 'removed', REG_LISTEN_REMOVED[kw] + " [still a registered keyword, listed by -dKcfg]")
        continue
    caps, note = REG_LISTEN[kw]
    words = kw.split()
    if kw == 'rate-limit': words = ['rate-limit', 'sessions']
    if kw == 'declare': words = ['declare', 'capture']
    if kw == 'external-check': words = ['external-check', 'command']
    if kw == 'compression': words = ['compression', 'algo']
    if kw == 'http-error': words = ['http-error', 'status']
    if kw == 'http-check': words = ['http-check', 'send']
    if kw in ('tcp-check', 'tcp-request', 'tcp-response', 'timeout'):
        summary = {'tcp-check': 'Raw TCP health-check rules (see section tcp-check).',
                   'tcp-request': 'TCP request rules: inspect-delay, connection, session, content (see section tcp-request).',
                   'tcp-response': 'TCP response rules: inspect-delay, content (see section tcp-response).',
                   'timeout': 'Proxy timeouts (see section timeout).'}[kw]
    else:
        summary = d('proxy', *words)
    add('proxy', kw, caps, 'no', 'registered', (note + ' ' if note else '') + summary)

# ==========================================================================
# OPTIONS
def cfg_opt_table(name):
    src = open(os.path.join(HSRC, 'src/proxy.c')).read()
    m = re.search(r'const struct cfg_opt %s\[\] =\s*\{(.*?)\n\};' % name, src, re.S)
    out = []; skip = False
    for line in m.group(1).split('\n'):
        s = line.strip()
        if s.startswith('#if'): skip = False; continue
        if s.startswith('#else'): skip = True; continue
        if s.startswith('#endif'): skip = False; continue
        if skip: continue
        mm = re.match(r'\{\s*"([^"]+)",\s*([A-Z0-9_]+),\s*([A-Z_ |]+),\s*\d+,\s*([A-Z_0-9]+)', s)
        if mm:
            out.append((mm.group(1), mm.group(3).replace(' ', ''), mm.group(4)))
    return out
for name, cap, mode in cfg_opt_table('cfg_opts') + cfg_opt_table('cfg_opts2'):
    c = {'PR_CAP_BE': BE, 'PR_CAP_FE': FE, 'PR_CAP_FE|PR_CAP_BE': ALL, 'PR_CAP_BE|PR_CAP_FE': ALL}[cap]
    note = ''
    if c != ALL:
        note = "[WARNING + ignored if no %s capability] " % ('frontend' if c == FE else 'backend')
    if mode == 'PR_MODE_HTTP':
        note += "[requires mode http: WARNING \"'option %s' ignored for %%s '%%s' as it requires HTTP mode.\"] " % name
    note += "[table option: 'no option' allowed; 'default option' fails with \"'option %s' cannot handle unexpected argument '%s'.\"] " % (name, name)
    add('option', name, c, 'yes', 'registered', note + d('proxy', 'option', name))
OPT_HARD = [
 ('httpclose', ALL, 'yes', "['no' resets only if this mode is the current one; 'default option httpclose' fails with a too-many-args ALERT]"),
 ('http-server-close', ALL, 'yes', "['no' resets only if this mode is the current one; 'default' form fails (too many args)]"),
 ('http-keep-alive', ALL, 'yes', "['no' resets only if this mode is the current one; 'default' form fails (too many args)]"),
 ('redispatch', BE, 'yes', "[WARNING + ignored if no backend capability; optional <interval>; 'no' and 'default' supported]"),
 ('httplog', FE, 'no', "[optional 'clf'; in a backend: WARNING \"backend '%s' : 'option httplog' directive is ignored in backends.\"]"),
 ('tcplog', FE, 'no', "[in a backend: WARNING \"backend '%s' : 'option tcplog' directive is ignored in backends.\"]"),
 ('httpslog', FE, 'no', "[in a backend: WARNING \"backend '%s' : 'option httpslog' directive is ignored in backends.\"]"),
 ('tcpka', ALL, 'no', ''),
 ('httpchk', BE, 'no', "[WARNING \"'httpchk' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('ssl-hello-chk', BE, 'no', "[WARNING \"'ssl-hello-chk' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('smtpchk', BE, 'no', "[WARNING \"'smtpchk' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('pgsql-check', BE, 'no', "[WARNING \"'pgsql-check' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('redis-check', BE, 'no', "[WARNING \"'redis-check' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('mysql-check', BE, 'no', "[WARNING \"'mysql-check' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('ldap-check', BE, 'no', "[WARNING \"'ldap-check' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('spop-check', BE, 'no', "[WARNING \"'spop-check' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('tcp-check', BE, 'no', "[WARNING \"'tcp-check' ignored because %s '%s' has no backend capability.\" but still applied]"),
 ('external-check', ALL, 'no', "[no capability check in source; requires global 'external-check' (checked later)]"),
 ('forwardfor', ALL, 'no', "[sub-options: except, header, if-none; requires mode http (WARNING later)]"),
 ('originalto', ALL, 'no', "[sub-options: except, header; requires mode http (WARNING later)]"),
 ('http-restrict-req-hdr-names', ALL, 'no', "[values: preserve, reject, delete]"),
]
for name, c, no, note in OPT_HARD:
    add('option', name, c, no, 'hardcoded', (note + ' ' if note else '') + d('proxy', 'option', name))
add('option', 'forceclose', '-', 'no', 'removed', "parsing [%s:%d]: option 'forceclose' is not supported any more since HAProxy 2.0, please just remove it, or use 'option httpclose' if absolutely needed.")
add('option', 'http-tunnel', '-', 'no', 'removed', "parsing [%s:%d]: option 'http-tunnel' is not supported any more since HAProxy 2.1, please just remove it, it shouldn't be needed.")
add('option', 'http_proxy', '-', 'no', 'removed', "parsing [%s:%d]: option 'http_proxy' is not supported any more since HAProxy 2.5. This option stopped working in HAProxy 1.9 and usually had nasty side effects. It can be more reliably implemented with combinations of 'http-request set-dst' and 'http-request set-uri', and even 'http-request do-resolve' if DNS resolution is desired.")

# ==========================================================================
# STATS (proxy)
STATS = [
 ('admin', 'fbl', "[ALERT in defaults; requires 'if'/'unless' condition]"),
 ('uri', ALL, ''), ('realm', ALL, ''), ('refresh', ALL, ''),
 ('http-request', 'fbl', "[ALERT in defaults]"),
 ('auth', ALL, ''), ('scope', ALL, ''), ('enable', ALL, ''), ('hide-version', ALL, ''),
 ('show-legends', ALL, ''), ('show-modules', ALL, "[undocumented in configuration.txt 2.6; not listed in the 'expects' message]"),
 ('show-node', ALL, ''), ('show-desc', ALL, ''),
]
for kw, c, note in STATS:
    add('stats', kw, c, 'no', 'hardcoded', (note + ' ' if note else '') + d('proxy', 'stats', kw))

# ==========================================================================
# TIMEOUT (proxy)
TIMEOUTS = [('client', FE), ('tarpit', ALL), ('http-keep-alive', ALL), ('http-request', ALL), ('server', BE),
            ('connect', BE), ('check', BE), ('queue', BE), ('tunnel', BE), ('client-fin', FE), ('server-fin', BE)]
for kw, c in TIMEOUTS:
    note = '' if c == ALL else "[WARNING \"'timeout %s' will be ignored because %%s '%%s' has no %s capability\"] " % (kw, 'frontend' if c == FE else 'backend')
    add('timeout', kw, c, 'no', 'registered', note + d('proxy', 'timeout', kw))

# ==========================================================================
# BALANCE
BAL = [('roundrobin', ''), ('static-rr', ''), ('first', ''), ('leastconn', ''),
       ('random', "[also random(<draws>)]"), ('source', ''), ('uri', "[options: len, depth, whole, path-only]"),
       ('url_param', "[optional check_post]"), ('hash', "[takes a sample expression]"),
       ('hdr', "[written hdr(<name>), optional use_domain_only]"), ('rdp-cookie', "[also rdp-cookie(<name>)]")]
bal_doc = {
 'roundrobin': 'Each server is used in turns, according to their weights.',
 'static-rr': 'Each server is used in turns, according to their weights (static, no dynamic weight changes).',
 'leastconn': 'The server with the lowest number of connections receives the connection.',
 'first': 'The first server with available connection slots receives the connection.',
 'hash': 'Takes a regular sample expression in argument, hashed and divided by the total weight of running servers.',
 'source': 'The source IP address is hashed and divided by the total weight of the running servers.',
 'uri': 'This algorithm hashes either the left part of the URI or the whole URI.',
 'url_param': 'The URL parameter specified in argument will be looked up in the query string of each HTTP GET request.',
 'hdr': 'The HTTP header <name> will be looked up in each HTTP request.',
 'random': 'A random number will be used as the key for the consistent hashing function.',
 'rdp-cookie': 'The RDP cookie <name> (or "mstshash" if omitted) will be looked up and hashed for each incoming TCP request.',
}
for kw, note in BAL:
    add('balance', kw, BE, 'no', 'hardcoded', (note + ' ' if note else '') + bal_doc[kw])

# ==========================================================================
# TCP-CHECK / HTTP-CHECK
for kw in ['connect', 'send', 'send-binary', 'send-lf', 'send-binary-lf', 'expect', 'comment']:
    add('tcp-check', kw, BE, 'no', 'hardcoded', d('proxy', 'tcp-check', kw))
for kw, fl in TCPCHK_ACT:
    add('tcp-check', kw, BE, 'no', 'registered', ("[prefix match, written %s(<var-name>)] " % kw if fl & 2 else '') + d('proxy', 'tcp-check', kw))
for kw in ['disable-on-404', 'send-state', 'connect', 'send', 'expect', 'comment']:
    add('http-check', kw, BE, 'no', 'hardcoded', d('proxy', 'http-check', kw))
for kw, fl in TCPCHK_ACT:
    add('http-check', kw, BE, 'no', 'registered', ("[prefix match, written %s(<var-name>)] " % kw if fl & 2 else '') + d('proxy', 'http-check', kw))

# ==========================================================================
# HTTP actions
def act_rows(section, lst, docprefix):
    seen = set()
    for kw, fl in lst:
        if kw in seen: continue
        seen.add(kw)
        notes = []
        if fl & 2: notes.append('[prefix match]')
        if fl & 1: notes.append("[experimental: requires global 'expose-experimental-directives']")
        s = d('proxy', docprefix, kw)
        if not s and kw in ('track-sc',):
            s = d('proxy', docprefix, 'track-sc0')
        add(section, kw, '-', 'no', 'registered', ' '.join(notes + [s]))
act_rows('http-request', HTTP_REQ, 'http-request')
act_rows('http-response', HTTP_RES, 'http-response')
act_rows('http-after-response', HTTP_AFTER, 'http-after-response')

# ==========================================================================
# TCP-REQUEST / TCP-RESPONSE
add('tcp-request', 'inspect-delay', ALL, 'no', 'registered', "[not allowed in anonymous defaults] " + d('proxy', 'tcp-request', 'inspect-delay'))
add('tcp-request', 'connection', 'dfl', 'no', 'registered', "[ALERT if no frontend capability: \"tcp-request connection is not allowed because %s %s is not a frontend\"; named defaults only] " + d('proxy', 'tcp-request', 'connection'))
add('tcp-request', 'session', 'dfl', 'no', 'registered', "[ALERT if no frontend capability; named defaults only] " + d('proxy', 'tcp-request', 'session'))
add('tcp-request', 'content', ALL, 'no', 'registered', "[named defaults only] " + d('proxy', 'tcp-request', 'content'))
TCPREQ_HARD = [('accept', ''), ('reject', ''), ('capture', "[content only; ALERT elsewhere]"),
               ('track-sc', "[prefix match: track-sc0..track-sc2]"), ('expect-proxy', "[connection only; needs 'layer4']"),
               ('expect-netscaler-cip', "[connection only; needs 'layer4']")]
for phase, lst in (('connection', TCP_CONN), ('session', TCP_SESS), ('content', TCP_CONT)):
    for kw, note in TCPREQ_HARD:
        add('tcp-request', phase + ' ' + kw, '-', 'no', 'hardcoded', (note + ' ' if note else '') + d('proxy', 'tcp-request', phase, kw if kw != 'track-sc' else 'track-sc0'))
    for kw, fl in lst:
        add('tcp-request', phase + ' ' + kw, '-', 'no', 'registered', ('[prefix match] ' if fl & 2 else '') + d('proxy', 'tcp-request', phase, kw))
add('tcp-response', 'inspect-delay', BE, 'no', 'registered', "[ALERT if no backend cap or anonymous defaults] " + d('proxy', 'tcp-response', 'inspect-delay'))
add('tcp-response', 'content', BE, 'no', 'registered', "[ALERT if no backend cap or anonymous defaults] " + d('proxy', 'tcp-response', 'content'))
for kw in ('accept', 'reject', 'close'):
    add('tcp-response', 'content ' + kw, '-', 'no', 'hardcoded', d('proxy', 'tcp-response', 'content', kw))
for kw, fl in TCP_RES:
    s = d('proxy', 'tcp-response', 'content', kw) or d('proxy', 'tcp-resposne', 'content', kw)
    add('tcp-response', 'content ' + kw, '-', 'no', 'registered', ('[prefix match] ' if fl & 2 else '') + s)

# ==========================================================================
# BIND / SERVER options
seen = set()
for kw, skip, scope in BIND:
    if kw in seen: continue
    seen.add(kw)
    note = "[args=%d] [scope %s]" % (skip, scope)
    origin = 'registered'
    s = d('bind', kw)
    if kw == 'process':
        origin = 'deprecated'
        s = "parsing [%s:%d] : 'bind %s' in section '%s' : 'process %s' on 'bind' lines is deprecated and will be removed in 2.7. (WARNING; with '/thread' adds \" Please use 'thread %s' instead.\")"
    add('bind', kw, '-', 'no', origin, note + ' ' + s)
seen = set()
for kw, skip, dok, scope in SRV:
    if kw in seen: continue
    seen.add(kw)
    note = "[args=%s] [scope %s]" % ('var' if skip < 0 else skip, scope)
    if not dok:
        note += " [not accepted on default-server: ALERT \"'%s' option is not accepted in default-server sections\"]" % kw
    add('server', kw, '-', 'no', 'registered', note + ' ' + d('server', kw))

# ==========================================================================
# OTHER SECTIONS
def sec(section, kw, origin='hardcoded', no='no', note='', docwords=None, docsec=None, summary=None):
    s = summary if summary is not None else d(docsec or section, *(docwords or kw.split()))
    add(section, kw, '-', no, origin, (note + ' ' if note else '') + s)
# userlist (cfg_parse_users)
sec('userlist', 'userlist', note='[section header; unknown keywords reported as \"unknown keyword \'%s\' in \'users\' section\"]', summary='Userlist section header: userlist <listname>.')
sec('userlist', 'group', note='[option: users]')
sec('userlist', 'user', note='[options: password, insecure-password, groups]')
# peers
sec('peers', 'peers', summary='Peers section header: peers <peersect>.')
for kw in ['bind', 'default-bind', 'default-server', 'disabled', 'enabled', 'peer', 'server', 'table']:
    sec('peers', kw)
sec('peers', 'log', no='yes', summary="Log servers for the peers frontend (same syntax as proxy 'log').")
# resolvers
sec('resolvers', 'resolvers', summary='Resolvers section header: resolvers <resolvers id>.')
for kw in ['nameserver', 'parse-resolv-conf', 'hold', 'accepted_payload_size', 'resolve_retries']:
    sec('resolvers', kw)
sec('resolvers', 'timeout resolve', docwords=['timeout'])
sec('resolvers', 'timeout retry', docwords=['timeout'])
add('resolvers', 'resolution_pool_size', '-', 'no', 'removed', "parsing [%s:%d] : 'resolution_pool_size' directive is not supported anymore (it never appeared in a stable release).")
# mailers
sec('mailers', 'mailers', summary='Mailers section header: mailers <mailersect>.')
sec('mailers', 'mailer')
sec('mailers', 'timeout mail', docwords=['timeout', 'mail'])
# http-errors
sec('http-errors', 'http-errors', summary='http-errors section header: http-errors <name>.')
sec('http-errors', 'errorfile')
# ring
sec('ring', 'ring', summary='Ring section header: ring <ringname>.')
for kw in ['backing-file', 'description', 'format', 'maxlen', 'server', 'size']:
    sec('ring', kw)
sec('ring', 'timeout connect', docwords=['timeout', 'connect'])
sec('ring', 'timeout server', docwords=['timeout', 'server'])
# cache
sec('cache', 'cache', summary='Cache section header: cache <name>.')
for kw in ['total-max-size', 'max-object-size', 'max-age', 'process-vary', 'max-secondary-entries']:
    sec('cache', kw, note='[invalid values only WARN]' if kw != 'total-max-size' else '[invalid value only WARNs]')
# program
sec('program', 'program', summary='Program section header: program <name> (used in master-worker mode).')
sec('program', 'command')
sec('program', 'user')
sec('program', 'group')
sec('program', 'option start-on-reload', no='yes', docwords=['option', 'start-on-reload'])
# log-forward
sec('log-forward', 'log-forward', summary='Log-forward section header: log-forward <name>.')
for kw in ['maxconn', 'backlog', 'bind', 'dgram-bind', 'timeout client']:
    sec('log-forward', kw)
sec('log-forward', 'log', no='yes')
# fcgi-app
sec('fcgi-app', 'fcgi-app', summary='FastCGI application section header: fcgi-app <name>.')
for kw in ['acl', 'docroot', 'index', 'log-stderr', 'option get-values', 'option keep-conn', 'option max-reqs', 'option mpxs-conns',
           'pass-header', 'path-info', 'set-param']:
    sec('fcgi-app', kw, no='yes' if kw.startswith('option ') and kw != 'option max-reqs' else 'no')
# undocumented fcgi-app keywords present in the parser
add('fcgi-app', 'hide-header', '-', 'no', 'hardcoded', 'Undocumented in configuration.txt; hides a response header (parser keyword).')
add('fcgi-app', 'unset-param', '-', 'no', 'hardcoded', 'Undocumented in configuration.txt; unsets a FastCGI parameter (parser keyword).')

# top-level section headers
SECTIONS = [
 ('global', 'Process-wide parameters.'),
 ('defaults', "Defaults for following proxies; optional name; 'defaults [<name>] [from <defaults>]'."),
 ('frontend', "'frontend <name> [from <defaults>]'; a listening address here gives: ALERT \"parsing [%s:%d] : please use the 'bind' keyword for listening addresses.\""),
 ('backend', "'backend <name> [from <defaults>]'."),
 ('listen', "'listen <name> [from <defaults>]'; the old 'listen <name> <addr>' form gives: ALERT \"parsing [%s:%d] : please use the 'bind' keyword for listening addresses.\""),
 ('userlist', 'Userlist section.'), ('peers', 'Peers section.'), ('mailers', 'Mailers section.'),
 ('resolvers', 'DNS resolvers section.'), ('http-errors', 'HTTP errors section.'), ('ring', 'Ring buffer section.'),
 ('cache', 'Cache section.'), ('program', 'External program section.'), ('log-forward', 'Syslog forwarding section.'),
 ('fcgi-app', 'FastCGI application section.'), ('namespace_list', 'Network namespace list (lines: namespace <name>).'),
]
for kw, s in SECTIONS:
    add('section', kw, '-', 'no', 'hardcoded', s)

# ==========================================================================
SECTION_ORDER = ['section', 'global', 'proxy', 'option', 'stats', 'timeout', 'balance', 'tcp-check', 'http-check',
                 'http-request', 'http-response', 'http-after-response', 'tcp-request', 'tcp-response', 'bind', 'server',
                 'userlist', 'peers', 'resolvers', 'mailers', 'http-errors', 'ring', 'cache', 'program', 'log-forward', 'fcgi-app']
rank = {s: i for i, s in enumerate(SECTION_ORDER)}
# de-duplicate (section, keyword)
uniq = {}
for r in rows:
    k = (r[0], r[1])
    if k in uniq:
        raise SystemExit('duplicate %r' % (k,))
    uniq[k] = r
OVERRIDE = {
 ('server', 'usesrc'): 'Sub-keyword of the server "source" option; used alone it is rejected by its parser (usesrc must follow "source").',
 ('fcgi-app', 'docroot'): 'Define the document root on the remote host.',
 ('global', 'tune.vars.check-max-size'): 'Sets the maximum amount of memory usable by variables in the "check" scope (not documented in configuration.txt 2.6.12).',
 ('server', 'no-check-send-proxy'): 'Disables "check-send-proxy" inherited from default-server (not documented in configuration.txt 2.6.12).',
}
for k, v in OVERRIDE.items():
    r = uniq[k]
    pre = re.match(r'^((?:\[[^\]]*\] ?)*)', r[5]).group(1)
    uniq[k] = r[:5] + ((pre + v).strip(),)
out = sorted(uniq.values(), key=lambda r: (rank[r[0]], r[1]))
with open(OUT, 'w', encoding='utf-8') as f:
    f.write('section\tkeyword\tcaps\tno\torigin\tsummary\n')
    for r in out:
        f.write('\t'.join(r) + '\n')
import collections
print(len(out), collections.Counter(r[0] for r in out))
missing = [r for r in out if r[5].strip() == '' or r[5].endswith('] ')]
for r in out:
    if not re.sub(r'\[[^\]]*\]', '', r[5]).strip():
        print('NO DOC:', r[0], r[1], file=sys.stderr)
