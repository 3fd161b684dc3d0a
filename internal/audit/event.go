// Package audit keeps the audit trail: one AuditEvent (IHE BALP shape) per
// interaction, allowed or denied, written durably before a read's response
// leaves and inside a write's own transaction, and linked into a hash chain
// that `sharedcare audit verify` checks.
package audit

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/store"
)

// Event is what happened, as the REST layer saw it.
type Event struct {
	Time        time.Time
	Interaction string         // FHIR restful-interaction code, e.g. read, search-type, create
	Caller      *access.Caller // nil when the token was missing or invalid
	Status      int            // HTTP status of the response
	Entities    []string       // references of the resources involved, Type/id or Type/id/_history/n
	PatientID   string         // the patient whose record was touched, if one
	Query       string         // the query string of a search
	RequestID   string
	Address     string // client network address
	Diagnostics string // outcome description for a failure
}

// action returns the BALP action code of an interaction; an update that
// created its resource is a create.
func action(interaction string, status int) string {
	switch {
	case interaction == "update" && status == 201:
		return "C"
	}
	switch interaction {
	case "create":
		return "C"
	case "update", "patch":
		return "U"
	case "delete":
		return "D"
	case "read", "vread", "history-instance", "history-type", "history-system", "search-type", "search-system":
		return "R"
	default:
		return "E"
	}
}

// outcome returns the AuditEvent outcome code of an HTTP status: 0 success,
// 4 minor failure (the client's fault), 8 serious failure (the server's).
func outcome(status int) string {
	switch {
	case status < 400:
		return "0"
	case status < 500:
		return "4"
	default:
		return "8"
	}
}

// Purpose codes (v3 ActReason) recorded in purposeOfEvent.
const (
	PurposeTreatment  = "TREAT"
	PurposeBreakGlass = "BTG"
)

func purpose(c *access.Caller) string {
	switch {
	case c == nil:
		return ""
	case c.BreakGlass():
		return PurposeBreakGlass
	case c.DirectCare():
		return PurposeTreatment
	}
	return ""
}

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

type network struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type agent struct {
	Type      *concept  `json:"type,omitempty"`
	Role      []concept `json:"role,omitempty"`
	Who       reference `json:"who"`
	AltID     string    `json:"altId,omitempty"`
	Name      string    `json:"name,omitempty"`
	Requestor bool      `json:"requestor"`
	Network   *network  `json:"network,omitempty"`
}

type detail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

type entity struct {
	What   *reference `json:"what,omitempty"`
	Type   *coding    `json:"type,omitempty"`
	Role   *coding    `json:"role,omitempty"`
	Query  string     `json:"query,omitempty"`
	Detail []detail   `json:"detail,omitempty"`
}

type auditEvent struct {
	ResourceType   string    `json:"resourceType"`
	ID             string    `json:"id"`
	Meta           any       `json:"meta"`
	Type           coding    `json:"type"`
	Subtype        []coding  `json:"subtype"`
	Action         string    `json:"action"`
	Recorded       string    `json:"recorded"`
	Outcome        string    `json:"outcome"`
	OutcomeDesc    string    `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []concept `json:"purposeOfEvent,omitempty"`
	Agent          []agent   `json:"agent"`
	Source         any       `json:"source"`
	Entity         []entity  `json:"entity,omitempty"`
}

// Record turns an event into the row the store keeps, with its AuditEvent JSON.
func Record(e Event) store.AuditRecord {
	rec := store.AuditRecord{
		// Time-ordered, as record.NewID: the unique index on id grows at
		// its right edge.
		ID:        uuid.Must(uuid.NewV7()).String(),
		Recorded:  e.Time.UTC().Truncate(time.Microsecond),
		PatientID: e.PatientID,
		Action:    action(e.Interaction, e.Status),
		Outcome:   outcome(e.Status),
		Entities:  e.Entities,
	}
	ae := auditEvent{
		ResourceType: "AuditEvent",
		ID:           rec.ID,
		Meta: map[string]any{
			"versionId":   "1",
			"lastUpdated": rec.Recorded.Format(fhir.LastUpdatedFormat),
			"profile":     []string{"https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read"},
		},
		Type:     coding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		Subtype:  []coding{{System: "http://hl7.org/fhir/restful-interaction", Code: e.Interaction}},
		Action:   rec.Action,
		Recorded: rec.Recorded.Format(time.RFC3339Nano),
		Outcome:  rec.Outcome,
		Source: map[string]any{
			"observer": map[string]string{"display": "sharedcare"},
			"type":     []coding{{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}},
		},
	}
	if e.Status >= 400 {
		ae.OutcomeDesc = strconv.Itoa(e.Status) + " " + e.Diagnostics
	}
	user := agent{
		Type:      &concept{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/extra-security-role-type", Code: "humanuser"}}},
		Who:       reference{Display: "unauthenticated"},
		Requestor: true,
	}
	if e.Address != "" {
		user.Network = &network{Address: e.Address, Type: "2"}
	}
	if c := e.Caller; c != nil {
		rec.Agent = c.Subject
		rec.Org = c.Organization
		rec.Purpose = purpose(c)
		rec.BreakGlass = rec.Purpose == PurposeBreakGlass
		user.Who = reference{Identifier: &identifier{Value: c.Subject}}
		if c.CareRole == access.CareRoleSystem {
			user.Type.Coding[0].Code = "dataprocessor"
		}
		user.Role = []concept{{Coding: []coding{{System: "https://sharedcare.dev/fhir/CodeSystem/care-role", Code: string(c.CareRole)}}}}
		user.AltID = c.Practitioner.ID
		user.Name = c.Practitioner.Display
		ae.Agent = append(ae.Agent, user, agent{
			Type:      &concept{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "custodian"}}},
			Who:       reference{Identifier: &identifier{System: access.ODSOrganizationSystem, Value: c.Organization}},
			Requestor: false,
		})
		if rec.Purpose != "" {
			ae.PurposeOfEvent = []concept{{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: rec.Purpose}}}}
			if rec.BreakGlass {
				ae.PurposeOfEvent[0].Text = c.BreakGlassReason
			}
		}
	} else {
		ae.Agent = append(ae.Agent, user)
	}
	if e.PatientID != "" {
		ae.Entity = append(ae.Entity, entity{
			What: &reference{Reference: "Patient/" + e.PatientID},
			Type: &coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "1", Display: "Person"},
			Role: &coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "1", Display: "Patient"},
		})
	}
	for _, ref := range e.Entities {
		ae.Entity = append(ae.Entity, entity{
			What: &reference{Reference: ref},
			Type: &coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2", Display: "System Object"},
			Role: &coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "4", Display: "Domain Resource"},
		})
	}
	if e.Query != "" {
		ae.Entity = append(ae.Entity, entity{
			Type:  &coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2", Display: "System Object"},
			Role:  &coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "24", Display: "Query"},
			Query: base64.StdEncoding.EncodeToString([]byte(e.Query)),
		})
	}
	if e.RequestID != "" {
		ae.Entity = append(ae.Entity, entity{
			Type:   &coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "4", Display: "Other"},
			Detail: []detail{{Type: "X-Request-Id", ValueString: e.RequestID}},
		})
	}
	rec.Raw, _ = json.Marshal(ae)
	return rec
}
