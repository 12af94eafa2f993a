import os
SCRIPTS = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(SCRIPTS)
HSRC = os.environ.get('HSRC', '/tmp/hsrc/haproxy-2.6.12')
WORK = os.environ.get('WORK', '/tmp/haproxy-conf-data-work')
LISTS = os.path.join(SCRIPTS, 'lists.json')
os.makedirs(WORK, exist_ok=True)
