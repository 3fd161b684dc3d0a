#!/usr/bin/env bash
# make demo-data: load the NHS UK Core examples into a running dev server
# (started with `make run`), as the GP system of practice A81001, so that the
# first curl has something to return.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="${SHAREDCARE_BASE_URL:-http://localhost:8080/fhir}"
DATA="${SHAREDCARE_DATA_DIR:-./data}"
EXAMPLES="${EXAMPLES:-../shared/fhir/ukcore-examples/json}"

curl -sf "$BASE/metadata" >/dev/null || { echo "no server at $BASE: start it with 'make run' first" >&2; exit 1; }
TOKEN=$(bin/sharedcare token --data-dir "$DATA" --base-url "$BASE" --role system --source gp --org A81001)

ok=0; failed=0
for f in "$EXAMPLES"/*.json; do
  read -r type id < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["resourceType"], d["id"])' "$f" 2>/dev/null || echo "- -")
  case "$type" in -|AuditEvent|OperationOutcome|Subscription|Bundle) continue ;; esac
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$BASE/$type/$id" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/fhir+json' --data-binary @"$f")
  case "$code" in 200|201) ok=$((ok+1)) ;; *) failed=$((failed+1)); echo "  $type/$id: HTTP $code" ;; esac
done
echo "demo data: $ok resources loaded, $failed refused (the UK Core baby example carries an invalid NHS number on purpose)"

# A care home (ODS VM123) takes Richard Smith on: its active EpisodeOfCare is
# the care relationship that lets its staff see his shared record.
CARE=$(bin/sharedcare token --data-dir "$DATA" --base-url "$BASE" --role care-clinical --org VM123)
curl -sf -o /dev/null -X PUT "$BASE/EpisodeOfCare/demo-care-home-stay" \
  -H "Authorization: Bearer $CARE" -H 'Content-Type: application/fhir+json' --data-binary '{
  "resourceType": "EpisodeOfCare", "id": "demo-care-home-stay", "status": "active",
  "patient": {"reference": "Patient/UKCore-Patient-RichardSmith-Example"},
  "managingOrganization": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "VM123"}}}'
cat <<MSG
care home VM123 now looks after Patient/UKCore-Patient-RichardSmith-Example. As its care staff:

  STAFF=\$(bin/sharedcare token --role care-staff --org VM123)
  curl -s -H "Authorization: Bearer \$STAFF" "$BASE/MedicationRequest?patient=Patient/UKCore-Patient-RichardSmith-Example"   # GP medications
  curl -s -H "Authorization: Bearer \$STAFF" "$BASE/Condition?patient=Patient/UKCore-Patient-RichardSmith-Example"           # withheld: "suppressed"
MSG
