package rest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

// capabilityStatement describes what this server implements. It is built
// from the same tables that drive the routes, so it cannot drift from them.
func (s *Server) capabilityStatement() []byte {
	type interaction struct {
		Code string `json:"code"`
	}
	type resource struct {
		Type              string        `json:"type"`
		Profile           string        `json:"profile"`
		Interaction       []interaction `json:"interaction"`
		Versioning        string        `json:"versioning"`
		ReadHistory       bool          `json:"readHistory"`
		UpdateCreate      bool          `json:"updateCreate"`
		ConditionalRead   string        `json:"conditionalRead"`
		ConditionalDelete string        `json:"conditionalDelete,omitempty"`
	}
	var resources []resource
	for _, t := range r4.ResourceTypes {
		resources = append(resources, resource{
			Type:    t,
			Profile: "http://hl7.org/fhir/StructureDefinition/" + t,
			Interaction: []interaction{
				{"read"}, {"vread"}, {"update"}, {"patch"}, {"delete"}, {"history-instance"}, {"history-type"}, {"create"},
			},
			Versioning:      "versioned-update",
			ReadHistory:     true,
			UpdateCreate:    true,
			ConditionalRead: "full-support",
		})
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         time.Now().UTC().Format("2006-01-02"),
		"publisher":    "sharedcare",
		"kind":         "instance",
		"software":     map[string]string{"name": "sharedcare", "version": s.version},
		"implementation": map[string]string{
			"description": "sharedcare: a FHIR R4 shared care record server",
			"url":         s.base,
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"patchFormat": []string{"application/json-patch+json", "application/fhir+json"},
		"rest": []map[string]any{{
			"mode":        "server",
			"resource":    resources,
			"interaction": []interaction{{"history-system"}},
		}},
	}
	b, _ := json.Marshal(cs)
	return b
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	s.capOnce.Do(func() { s.capability = s.capabilityStatement() })
	s.writeBody(w, r, http.StatusOK, s.capability)
	return nil
}
