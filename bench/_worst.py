import warnings; warnings.simplefilter("ignore")
from bench.common import load_goldset, bigram_f1
from bench.extraction import ours, bare
from collections import defaultdict
rows = load_goldset()
res=[]
persite=defaultdict(list)
for r in rows:
    o = ours(r["html"], r["page_url"]); 
    p,rc,f = bigram_f1(o, r["gold"])
    res.append((f,p,rc,r["id"],r["site"],len(o),len(r["gold"])))
    persite[r["site"]].append((p,rc,f))
res.sort()
for x in res[:40]: print("%.2f P%.2f R%.2f %s %s out=%d gold=%d"%x)
print()
import statistics
for s,v in sorted(persite.items(), key=lambda kv: statistics.mean(x[2] for x in kv[1])):
    print(s, len(v), "P%.2f R%.2f F%.2f"%tuple(statistics.mean(x[i] for x in v) for i in range(3)))
print("OVERALL P%.3f R%.3f F%.3f" % tuple(statistics.mean(x[i] for x in res) for i in (1,2,0)))
