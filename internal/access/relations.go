package access

import (
	"encoding/json"
	"slices"
	"strings"
)

// relationStatuses are the statuses in which each resource type that can
// state a care relationship states one (access model, section 3). A
// Patient states its relationships whatever its state.
var relationStatuses = map[string][]string{
	"Patient":       nil,
	"EpisodeOfCare": {"active", "planned", "waitlist"},
	"CareTeam":      {"active"},
}

// StatesRelations reports whether resources of typ can state a care
// relationship, so that the store replaces their relations with each
// version, including one that states none.
func StatesRelations(typ string) bool {
	_, ok := relationStatuses[typ]
	return ok || typ == "Consent"
}

// consentProvision is the part of a Consent provision that names actors.
type consentProvision struct {
	Actor []struct {
		Reference reference `json:"reference"`
	} `json:"actor"`
	Provision []consentProvision `json:"provision"`
}

// consentActors returns the organisations an active Consent names as the
// actors of its provisions. They are not relationships (a permit grants
// one, a deny takes one away: the policy decides), but a search across
// patients must judge the patient for them, which it does for the related
// patients that have a Consent.
func consentActors(raw []byte) []reference {
	var c struct {
		Status    string           `json:"status"`
		Provision consentProvision `json:"provision"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Status != "active" {
		return nil
	}
	var refs []reference
	var walk func(p consentProvision)
	walk = func(p consentProvision) {
		for _, a := range p.Actor {
			refs = append(refs, a.Reference)
		}
		for _, sub := range p.Provision {
			walk(sub)
		}
	}
	walk(c.Provision)
	return refs
}

// relationBody holds every element of a Patient, EpisodeOfCare or CareTeam
// that names an organisation with a care relationship. managingOrganization
// is one Reference on Patient and EpisodeOfCare and a list on CareTeam.
type relationBody struct {
	Status               string          `json:"status"`
	GeneralPractitioner  []reference     `json:"generalPractitioner"`
	ManagingOrganization json.RawMessage `json:"managingOrganization"`
	Participant          []struct {
		Member     reference `json:"member"`
		OnBehalfOf reference `json:"onBehalfOf"`
	} `json:"participant"`
}

// relationRefs returns the organisation references through which a
// resource of typ states a care relationship with its patient; none when
// the resource does not state one (a finished EpisodeOfCare, say).
func relationRefs(typ string, raw []byte) []reference {
	statuses, ok := relationStatuses[typ]
	if !ok {
		return nil
	}
	var b relationBody
	if json.Unmarshal(raw, &b) != nil {
		return nil
	}
	if statuses != nil && !slices.Contains(statuses, b.Status) {
		return nil
	}
	var refs []reference
	if typ == "Patient" {
		refs = append(refs, b.GeneralPractitioner...)
	}
	var one reference
	var many []reference
	if typ == "CareTeam" {
		if json.Unmarshal(b.ManagingOrganization, &many) == nil {
			refs = append(refs, many...)
		}
		for _, p := range b.Participant {
			refs = append(refs, p.Member, p.OnBehalfOf)
		}
	} else if len(b.ManagingOrganization) > 0 && json.Unmarshal(b.ManagingOrganization, &one) == nil {
		refs = append(refs, one)
	}
	return refs
}

// Relations returns the organisations a resource of typ states a care
// relationship with for its patient, as the store keeps them for searches
// across patients: an ODS code for a logical reference, Organization/<id>
// for a literal one (resolved to its ODS identifier when read).
//
// An active Consent's are the organisations its provisions name as actors:
// the search judges such a patient one by one with the policy, which reads
// the Consent itself.
func Relations(typ string, raw []byte) []string {
	refs := relationRefs(typ, raw)
	if typ == "Consent" {
		refs = consentActors(raw)
	}
	var out []string
	for _, ref := range refs {
		key := ""
		switch {
		case ref.Identifier.System == ODSOrganizationSystem:
			key = ref.Identifier.Value
		case strings.HasPrefix(ref.Reference, "Organization/") && len(ref.Reference) > len("Organization/"):
			key = ref.Reference
		}
		if key != "" && !slices.Contains(out, key) {
			out = append(out, key)
		}
	}
	return out
}
