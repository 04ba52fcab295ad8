import sys, warnings; warnings.simplefilter("ignore")
from bench.common import load_goldset
from bench.extraction import ours
rows = {r["id"]: r for r in load_goldset()}
r = rows[sys.argv[1]]
print("=== OURS"); print(ours(r["html"], r["page_url"]))
print("=== GOLD"); print(r["gold"])
