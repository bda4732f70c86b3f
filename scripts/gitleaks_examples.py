# Extracts the per-rule examples of gitleaks (cmd/generate/config/rules/*.go) into a file outside
# this repository (data taken from other repositories is not committed), to measure the scan
# locally: python3 scripts/gitleaks_examples.py GITLEAKS_CLONE OUT, then
# CCSYNC_SCANNER_EXAMPLES=OUT cargo test --release --test secrets_gitleaks_corpus -- --nocapture
# (the test draws every value afresh from them).
import json, re, subprocess, sys
G = sys.argv[1]  # a clone of github.com/gitleaks/gitleaks
files = subprocess.run(['git','-C',G,'ls-tree','--name-only','HEAD','cmd/generate/config/rules/'],capture_output=True,text=True).stdout.split()
UT = {'Numeric':'[0-9]','Hex':'[a-f0-9]','AlphaNumeric':'[a-z0-9]','AlphaNumericExtendedShort':'[a-z0-9_-]',
      'AlphaNumericExtended':'[a-z0-9=_-]','AlphaNumericExtendedLong':'[a-z0-9/=_+-]'}
STR = r'"(?:[^"\\\n]|\\.)*"|`[^`]*`'
def golit(s):
    if s[0]=='`': return s[1:-1]
    return json.loads(s.replace("\\'", "'"))
def template(expr):
    # concatenation of literals and secrets.NewSecret(...) -> template with {{regex}} parts, or None
    out=[]
    parts = re.split(r'\s*\+\s*(?=(?:"|`|secrets\.|utils\.))', expr.strip())
    for p in parts:
        p=p.strip()
        m=re.fullmatch(STR,p)
        if m: out.append(('l',golit(p))); continue
        m=re.fullmatch(r'secrets\.NewSecret\((.*)\)',p,re.S)
        if m: p=m.group(1).strip()
        m=re.fullmatch(r'utils\.(\w+)\("(\d+)"\)',p)
        if m and m.group(1) in UT: out.append(('r',UT[m.group(1)]+'{'+m.group(2)+'}')); continue
        if p=='utils.Hex8_4_4_4_12()': out.append(('r','[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')); continue
        m=re.fullmatch(STR,p)
        if m: out.append(('r',golit(p))); continue
        return None
    return out
rows=[]
for f in files:
    src=subprocess.run(['git','-C',G,'show','HEAD:'+f],capture_output=True,text=True).stdout
    for fn in re.split(r'\nfunc ', src)[1:]:
        m=re.search(r'RuleID:\s*"([^"]+)"',fn)
        if not m: continue
        rule=m.group(1)
        for m in re.finditer(r'utils\.GenerateSampleSecrets?\(', fn):
            i=m.end(); depth=1; j=i; q=None
            while j<len(fn) and depth:
                c=fn[j]
                if q:
                    if c=='\\' and q=='"': j+=1
                    elif c==q: q=None
                elif c in '"`': q=c
                elif c=='(': depth+=1
                elif c==')': depth-=1
                j+=1
            args=fn[i:j-1]
            a=re.match(r'\s*("[^"]*")\s*,\s*(.*)$',args,re.S)
            if not a: continue
            t=template(a.group(2))
            if t: rows.append({'kind':'gen','rule':rule,'ident':golit(a.group(1)),'parts':t})
        for kind in ('tps','fps'):
            for m in re.finditer(kind+r'\s*:?=\s*(?:append\(\s*'+kind+r'\s*,)?\s*\[\]string\{(.*?)\n\t\}',fn,re.S):
                body=re.sub(r'//[^\n]*','',m.group(1))
                for s in re.finditer(r'(?:^|[\s,{(])('+STR+r')\s*(?=,|\n|$)',body):
                    try: v=golit(s.group(1))
                    except Exception: continue
                    if len(v)>=8: rows.append({'kind':kind[:2],'rule':rule,'text':v})
with open(sys.argv[2],'w') as o:
    o.write('# Extracted from cmd/generate/config/rules/*.go of github.com/gitleaks/gitleaks (MIT) at\n# commit b58d3f102cf3a2c84cb7f923d05c25c9b1aed84b by the test\'s maintainer: the rules\' true- and\n# false-positive examples and sample-secret templates. The test draws every value afresh.\n')
    for r in rows: o.write(json.dumps(r)+'\n')
from collections import Counter
print(Counter(r['kind'] for r in rows), len({r['rule'] for r in rows}))
