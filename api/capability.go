package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// The CapabilityStatement's shape, cut down to the elements this server
// fills. Slices are omitted when empty because FHIR JSON forbids empty arrays.
type (
	capabilityStatement struct {
		ResourceType   string         `json:"resourceType"`
		Status         string         `json:"status"`
		Date           string         `json:"date"`
		Kind           string         `json:"kind"`
		Software       software       `json:"software"`
		Implementation implementation `json:"implementation"`
		FHIRVersion    string         `json:"fhirVersion"`
		Format         []string       `json:"format"`
		PatchFormat    []string       `json:"patchFormat"`
		Rest           []rest         `json:"rest"`
	}
	software struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	implementation struct {
		Description string `json:"description"`
		URL         string `json:"url"`
	}
	rest struct {
		Mode        string         `json:"mode"`
		Security    *security      `json:"security,omitempty"`
		Resource    []resource     `json:"resource,omitempty"`
		Interaction []interaction  `json:"interaction,omitempty"`
		SearchParam []searchParam  `json:"searchParam,omitempty"`
		Operation   []operationRef `json:"operation,omitempty"`
	}
	security struct {
		Extension   []extension       `json:"extension,omitempty"`
		CORS        bool              `json:"cors"`
		Service     []codeableConcept `json:"service"`
		Description string            `json:"description,omitempty"`
	}
	extension struct {
		URL       string      `json:"url"`
		ValueURI  string      `json:"valueUri,omitempty"`
		Extension []extension `json:"extension,omitempty"`
	}
	codeableConcept struct {
		Coding []coding `json:"coding"`
		Text   string   `json:"text,omitempty"`
	}
	coding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	resource struct {
		Type              string         `json:"type"`
		Profile           string         `json:"profile"`
		Interaction       []interaction  `json:"interaction,omitempty"`
		Versioning        string         `json:"versioning,omitempty"`
		ReadHistory       bool           `json:"readHistory"`
		UpdateCreate      bool           `json:"updateCreate"`
		ConditionalCreate bool           `json:"conditionalCreate"`
		ConditionalRead   string         `json:"conditionalRead,omitempty"`
		ConditionalUpdate bool           `json:"conditionalUpdate"`
		ConditionalDelete string         `json:"conditionalDelete,omitempty"`
		SearchInclude     []string       `json:"searchInclude,omitempty"`
		SearchRevInclude  []string       `json:"searchRevInclude,omitempty"`
		SearchParam       []searchParam  `json:"searchParam,omitempty"`
		Operation         []operationRef `json:"operation,omitempty"`
	}
	interaction struct {
		Code string `json:"code"`
	}
	searchParam struct {
		Name          string `json:"name"`
		Definition    string `json:"definition,omitempty"`
		Type          string `json:"type"`
		Documentation string `json:"documentation,omitempty"`
	}
	operationRef struct {
		Name          string `json:"name"`
		Definition    string `json:"definition"`
		Documentation string `json:"documentation,omitempty"`
	}
)

// smartOAuthURIs is the SMART extension that tells apps where to get a token.
const smartOAuthURIs = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

// CapabilityStatement renders s as an R4 CapabilityStatement (JSON). It
// fails only when s is inconsistent, which is a mistake in the server's
// own tables.
func CapabilityStatement(s Surface) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("api: capability statement: %w", err)
	}
	description := s.Description
	if description == "" {
		description = s.Software
	}
	r := rest{
		Mode:        "server",
		Security:    capabilitySecurity(s.Security),
		Interaction: interactions(s.SystemInteractions),
		SearchParam: searchParams(s.SearchParams),
	}
	// An operation on a type is listed once under that type even when it
	// exists both on the type and on its instances: R4 has one entry per name.
	listed := make(map[string]bool)
	byType := make(map[string][]operationRef)
	for _, op := range s.Operations {
		key := op.Type + "$" + op.Name
		if listed[key] {
			continue
		}
		listed[key] = true
		ref := operationRef{Name: op.Name, Definition: op.Definition, Documentation: op.Documentation}
		if op.Type == "" {
			r.Operation = append(r.Operation, ref)
		} else {
			byType[op.Type] = append(byType[op.Type], ref)
		}
	}
	for _, t := range s.Types {
		profile := t.Profile
		if profile == "" {
			profile = "http://hl7.org/fhir/StructureDefinition/" + t.Name
		}
		r.Resource = append(r.Resource, resource{
			Type:              t.Name,
			Profile:           profile,
			Interaction:       interactions(t.Interactions),
			Versioning:        t.Versioning,
			ReadHistory:       t.ReadHistory,
			UpdateCreate:      t.UpdateCreate,
			ConditionalCreate: t.ConditionalCreate,
			ConditionalRead:   t.ConditionalRead,
			ConditionalUpdate: t.ConditionalUpdate,
			ConditionalDelete: t.ConditionalDelete,
			SearchInclude:     t.SearchInclude,
			SearchRevInclude:  t.SearchRevInclude,
			SearchParam:       searchParams(t.SearchParams),
			Operation:         byType[t.Name],
		})
	}
	return json.Marshal(capabilityStatement{
		ResourceType:   "CapabilityStatement",
		Status:         "active",
		Date:           s.Date.UTC().Format(time.RFC3339),
		Kind:           "instance",
		Software:       software{Name: s.Software, Version: s.Version},
		Implementation: implementation{Description: description, URL: s.BaseURL},
		FHIRVersion:    "4.0.1",
		Format:         []string{"json", "application/fhir+json"},
		PatchFormat:    []string{"application/json-patch+json", "application/fhir+json"},
		Rest:           []rest{r},
	})
}

func capabilitySecurity(sec *Security) *security {
	if sec == nil {
		return nil
	}
	out := &security{
		CORS: sec.CORS,
		Service: []codeableConcept{{
			Coding: []coding{{
				System:  "http://terminology.hl7.org/CodeSystem/restful-security-service",
				Code:    "SMART-on-FHIR",
				Display: "SMART-on-FHIR",
			}},
			Text: "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
		}},
		Description: sec.Description,
	}
	var uris []extension
	if sec.AuthorizeURL != "" {
		uris = append(uris, extension{URL: "authorize", ValueURI: sec.AuthorizeURL})
	}
	if sec.TokenURL != "" {
		uris = append(uris, extension{URL: "token", ValueURI: sec.TokenURL})
	}
	if uris != nil {
		out.Extension = []extension{{URL: smartOAuthURIs, Extension: uris}}
	}
	return out
}

func interactions(codes []string) []interaction {
	var out []interaction
	for _, c := range codes {
		out = append(out, interaction{Code: c})
	}
	return out
}

func searchParams(params []SearchParam) []searchParam {
	var out []searchParam
	for _, p := range params {
		out = append(out, searchParam{Name: p.Name, Definition: p.Definition, Type: p.Type, Documentation: p.Documentation})
	}
	return out
}
