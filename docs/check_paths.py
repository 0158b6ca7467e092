#!/usr/bin/env python3
"""Checks that every repo path named in README.md and docs/**/*.md (src/..., encoders/...,
correlate/..., datasets/..., tests/..., bench/..., docs/...) and every relative link exists.
A module stem (src/conntab) or a built program (bench/mkcapture) counts when its .c or .h exists.
Run from the top of the source tree: python3 docs/check_paths.py"""
import re,os,sys,glob
files=['README.md']+sorted(glob.glob('docs/*.md')+glob.glob('docs/*/*.md'))
pat=re.compile(r'(?<![\w./-])((?:src|encoders|correlate|datasets|tests|bench|docs)/[A-Za-z0-9_./*{},-]*[A-Za-z0-9_/*}])')
link=re.compile(r'\]\(([^)#]+)(#[^)]*)?\)')
bad=0; n=0
for f in files:
    t=open(f).read()
    for m in pat.finditer(t):
        p=m.group(1).rstrip('.')
        if '*' in p or '{' in p: 
            import glob as g
            exp=[p]
            if '{' in p:
                a,rest=p.split('{',1); opts,b=rest.split('}',1); exp=[a+o+b for o in opts.split(',')]
            ok=all(g.glob(e) for e in exp)
        else:
            ok=os.path.exists(p) or os.path.exists(p+".c") or os.path.exists(p+".h")
        n+=1
        if not ok:
            bad+=1; print(f"{f}: missing {p}")
    for m in link.finditer(t):
        u=m.group(1)
        if u.startswith('http'): continue
        q=os.path.normpath(os.path.join(os.path.dirname(f),u)); n+=1
        if not os.path.exists(q): bad+=1; print(f"{f}: broken link {u}")
print(f"{n} paths/links checked, {bad} missing")
sys.exit(1 if bad else 0)
