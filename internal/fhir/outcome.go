package fhir

import "encoding/json"

type outcomeIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

type operationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []outcomeIssue `json:"issue"`
}

// OperationOutcome renders issues as an OperationOutcome resource.
func OperationOutcome(issues ...Issue) []byte {
	oo := operationOutcome{ResourceType: "OperationOutcome"}
	for _, is := range issues {
		sev := is.Severity
		if sev == "" {
			sev = "error"
		}
		code := is.Code
		if code == "" {
			code = "processing"
		}
		oo.Issue = append(oo.Issue, outcomeIssue{Severity: sev, Code: code, Diagnostics: is.Diagnostics, Expression: is.Expression})
	}
	if len(oo.Issue) == 0 {
		oo.Issue = []outcomeIssue{{Severity: "information", Code: "informational", Diagnostics: "All OK"}}
	}
	b, _ := json.Marshal(oo)
	return b
}
