# Extracts the public per-rule examples of Betterleaks (cmd/generate/config/rules/*.go, MIT) and
# Kingfisher (data/rules/*.yml, Apache-2.0) into a file outside this repository (not committed),
# each row with the rule's own pattern so the test keeps only values the rule describes:
#   python3 scripts/scanner_examples.py BETTERLEAKS_CLONE KINGFISHER_CLONE OUT
# Betterleaks' rule files have gitleaks' layout: scripts/gitleaks_examples.py reads them.
import json, subprocess, sys, tomllib, runpy, tempfile, os
import yaml

BL, KF, OUT = sys.argv[1:4]
here = os.path.dirname(os.path.abspath(__file__))
def git(repo, *args):
    return subprocess.run(['git', '-C', repo, *args], capture_output=True, text=True, check=True).stdout

rows = []
# Betterleaks: the examples as the gitleaks extractor reads them, the patterns from its config.
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'bl.jsonl')
    subprocess.run([sys.executable, os.path.join(here, 'gitleaks_examples.py'), BL, out], check=True,
                   capture_output=True)
    config = tomllib.loads(git(BL, 'show', 'HEAD:config/betterleaks.toml'))
    patterns = {r['id']: r['regex'] for r in config['rules'] if 'regex' in r}
    # A rule with skipReport finds a companion (an id, a host) that another rule's finding needs;
    # Betterleaks never reports it on its own.
    unreported = {r['id'] for r in config['rules'] if r.get('skipReport')}
    for line in open(out):
        if not line.startswith('{'):
            continue
        row = json.loads(line)
        row['source'] = 'betterleaks'
        row['pattern'] = patterns.get(row['rule'])
        row['reported'] = row['rule'] not in unreported
        if row['kind'] != 'fp' and not row['pattern']:
            continue
        rows.append(row)
# Kingfisher: examples and negative examples of every rule, with its pattern.
for path in git(KF, 'ls-tree', '-r', '--name-only', 'HEAD', 'data/rules').split():
    if not path.endswith(('.yml', '.yaml')):
        continue
    doc = yaml.safe_load(git(KF, 'show', 'HEAD:' + path)) or {}
    for rule in doc.get('rules', []):
        rid, pattern = rule.get('id'), rule.get('pattern')
        # `visible: false`: a companion for another rule's validation, never reported itself.
        reported = rule.get('visible', True) is not False
        for text in rule.get('examples') or []:
            if isinstance(text, str) and len(text) >= 8 and pattern:
                rows.append({'source': 'kingfisher', 'kind': 'tp', 'rule': rid, 'text': text,
                             'pattern': pattern, 'reported': reported})
        for text in rule.get('negative_examples') or []:
            if isinstance(text, str) and len(text) >= 8:
                rows.append({'source': 'kingfisher', 'kind': 'fp', 'rule': rid, 'text': text})
bl_head = git(BL, 'rev-parse', 'HEAD').strip()
kf_head = git(KF, 'rev-parse', 'HEAD').strip()
with open(OUT, 'w') as o:
    o.write('# Extracted from the rule definitions of github.com/betterleaks/betterleaks (MIT, see\n'
            f'# LICENSE-betterleaks) at {bl_head} and github.com/mongodb/kingfisher\n'
            f'# (Apache-2.0, see LICENSE-kingfisher and NOTICE-kingfisher) at {kf_head} by\n'
            '# scripts/scanner_examples.py: each rule\'s true- and false-positive examples, sample-secret\n'
            '# templates and pattern. The test draws every value afresh and keeps it only when the\n'
            '# rule\'s pattern still matches it.\n')
    for r in rows:
        o.write(json.dumps(r) + '\n')
from collections import Counter
print(Counter((r['source'], r['kind']) for r in rows), len({(r['source'], r['rule']) for r in rows}))
