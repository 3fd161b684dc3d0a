package searchparam

// PatientRefs returns the ids of the Patients whose compartment holds the
// resource raw of type resourceType: its own id for a Patient, then the
// Patients its compartment parameters (r4.PatientCompartment) point to, in
// the order of those parameters. It returns nil for a resource outside the
// Patient compartment or one that is not valid JSON of that type.
func PatientRefs(resourceType string, raw []byte) []string {
	params := reg.compartment[resourceType]
	if len(params) == 0 && resourceType != "Patient" {
		return nil
	}
	root, err := decode(resourceType, raw)
	if err != nil {
		return nil
	}
	c := getCtx(root)
	defer putCtx(c)
	var vals []Value
	if id, ok := root["id"].(string); ok && resourceType == "Patient" {
		vals = append(vals, Value{Param: "_id", Type: TypeToken, Token: TokenValue{Code: id}})
	}
	for _, p := range params {
		vals = p.prog.appendValues(c, vals)
	}
	return PatientRefsFromValues(resourceType, vals)
}

// PatientRefsFromValues is PatientRefs over the values Extract returned for
// the resource, so that the write path decodes a resource only once.
//
// Only relative references (Patient/id) count: an absolute URL names a
// resource on another server, even when its id matches one of ours.
func PatientRefsFromValues(resourceType string, vals []Value) []string {
	var ids []string
	add := func(id string) {
		for _, x := range ids {
			if x == id {
				return
			}
		}
		ids = append(ids, id)
	}
	if resourceType == "Patient" {
		for _, v := range vals {
			if v.Param == "_id" && v.Type == TypeToken && v.Token.Code != "" {
				add(v.Token.Code)
				break
			}
		}
	}
	for _, p := range reg.compartment[resourceType] {
		for _, v := range vals {
			r := v.Reference
			if v.Param == p.Code && v.Type == TypeReference && r.Type == "Patient" && r.ID != "" && r.URL == "" {
				add(r.ID)
			}
		}
	}
	return ids
}
