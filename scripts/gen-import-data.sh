#!/usr/bin/env bash
# Generate a data set for timing `sharedcare import`: the Synthea sample
# bundles replicated COPIES times, each copy with fresh ids (every UUID in a
# bundle replaced consistently), a different family name and a unique valid
# NHS number on its Patient. Writes OUT/bundles/*.json (transaction Bundles)
# and OUT/ndjson/<Type>.ndjson (the same resources, one a line, references
# as Type/id), about 950 resources per copy.
#
#   scripts/gen-import-data.sh OUT [COPIES=55]
#   time bin/sharedcare import --source gp --org A81001 OUT/bundles
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: scripts/gen-import-data.sh OUT [COPIES]}"
COPIES="${2:-55}"
SRC="${SYNTHEA:-../shared/fhir/synthea-sample}"

python3 - "$SRC" "$OUT" "$COPIES" <<'EOF'
import glob, json, os, re, sys, uuid

src, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out + "/bundles", exist_ok=True)
os.makedirs(out + "/ndjson", exist_ok=True)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

def nhs_number(p):
    """The first valid NHS number (Modulus 11) whose nine digits are p or
    more, and the nine digits to look from next."""
    while True:
        d = "%09d" % p
        check = 11 - sum(int(c) * (10 - i) for i, c in enumerate(d)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return d + str(check), p + 1
        p += 1

samples = [open(f).read() for f in sorted(glob.glob(src + "/*.json"))]
ndjson = {}
seq = 990000000
for c in range(copies):
    for i, text in enumerate(samples):
        fresh = {}
        text = UUID.sub(lambda m: fresh.setdefault(m.group(0), str(uuid.uuid4())), text)
        b = json.loads(text)
        for e in b["entry"]:
            r = e["resource"]
            if r["resourceType"] == "Patient":
                number, seq = nhs_number(seq)
                r.setdefault("identifier", []).append({"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number})
                for name in r.get("name", []):
                    name["family"] = "%s%d" % (name.get("family", "Test"), c)
        with open("%s/bundles/copy%03d-%d.json" % (out, c, i), "w") as f:
            json.dump(b, f)
        refs = {e["fullUrl"]: e["resource"]["resourceType"] + "/" + e["fullUrl"][len("urn:uuid:"):] for e in b["entry"]}
        for e in b["entry"]:
            line = json.dumps(e["resource"], separators=(",", ":"))
            line = re.sub(r'"(urn:uuid:[^"]+)"', lambda m: '"%s"' % refs.get(m.group(1), m.group(1)), line)
            ndjson.setdefault(e["resource"]["resourceType"], []).append(line)
total = 0
for typ, lines in ndjson.items():
    with open("%s/ndjson/%s.ndjson" % (out, typ), "w") as f:
        f.write("\n".join(lines) + "\n")
    total += len(lines)
print("%d bundles and %d NDJSON lines in %s" % (copies * len(samples), total, out))
EOF
