package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The OpenAPI 3.0 document's shape, cut down to what this package writes.
type (
	openAPIDoc struct {
		OpenAPI      string                `json:"openapi"`
		Info         info                  `json:"info"`
		ExternalDocs *externalDocs         `json:"externalDocs,omitempty"`
		Servers      []server              `json:"servers"`
		Security     []securityRequirement `json:"security,omitempty"`
		Tags         []tag                 `json:"tags"`
		Paths        map[string]*pathItem  `json:"paths"`
		Components   components            `json:"components"`
	}
	info struct {
		Title       string `json:"title"`
		Description string `json:"description,omitempty"`
		Version     string `json:"version"`
	}
	externalDocs struct {
		URL string `json:"url"`
	}
	server struct {
		URL string `json:"url"`
	}
	securityRequirement map[string][]string
	tag                 struct {
		Name         string        `json:"name"`
		Description  string        `json:"description,omitempty"`
		ExternalDocs *externalDocs `json:"externalDocs,omitempty"`
	}
	pathItem struct {
		Parameters []parameter `json:"parameters,omitempty"`
		Get        *operation  `json:"get,omitempty"`
		Put        *operation  `json:"put,omitempty"`
		Post       *operation  `json:"post,omitempty"`
		Delete     *operation  `json:"delete,omitempty"`
		Patch      *operation  `json:"patch,omitempty"`
	}
	operation struct {
		Tags        []string            `json:"tags"`
		Summary     string              `json:"summary"`
		Description string              `json:"description,omitempty"`
		OperationID string              `json:"operationId"`
		Parameters  []parameter         `json:"parameters,omitempty"`
		RequestBody *requestBody        `json:"requestBody,omitempty"`
		Responses   map[string]response `json:"responses"`
		// Security is set only to exempt an operation from the
		// document-wide requirement, which takes a present empty list.
		Security *[]securityRequirement `json:"security,omitempty"`
	}
	parameter struct {
		Ref         string  `json:"$ref,omitempty"`
		Name        string  `json:"name,omitempty"`
		In          string  `json:"in,omitempty"`
		Description string  `json:"description,omitempty"`
		Required    bool    `json:"required,omitempty"`
		Style       string  `json:"style,omitempty"`
		Explode     *bool   `json:"explode,omitempty"`
		Schema      *schema `json:"schema,omitempty"`
	}
	requestBody struct {
		Description string               `json:"description,omitempty"`
		Required    bool                 `json:"required"`
		Content     map[string]mediaType `json:"content"`
	}
	mediaType struct {
		Schema *schema `json:"schema"`
	}
	response struct {
		Ref         string               `json:"$ref,omitempty"`
		Description string               `json:"description,omitempty"`
		Headers     map[string]header    `json:"headers,omitempty"`
		Content     map[string]mediaType `json:"content,omitempty"`
	}
	header struct {
		Ref         string  `json:"$ref,omitempty"`
		Description string  `json:"description,omitempty"`
		Schema      *schema `json:"schema,omitempty"`
	}
	schema struct {
		Ref                  string             `json:"$ref,omitempty"`
		Type                 string             `json:"type,omitempty"`
		Format               string             `json:"format,omitempty"`
		Description          string             `json:"description,omitempty"`
		Enum                 []string           `json:"enum,omitempty"`
		Pattern              string             `json:"pattern,omitempty"`
		Minimum              *int               `json:"minimum,omitempty"`
		Items                *schema            `json:"items,omitempty"`
		Required             []string           `json:"required,omitempty"`
		Properties           map[string]*schema `json:"properties,omitempty"`
		AdditionalProperties *schema            `json:"additionalProperties,omitempty"`
		ExternalDocs         *externalDocs      `json:"externalDocs,omitempty"`
	}
	components struct {
		Schemas         map[string]*schema        `json:"schemas"`
		Parameters      map[string]parameter      `json:"parameters"`
		Responses       map[string]response       `json:"responses"`
		Headers         map[string]header         `json:"headers"`
		SecuritySchemes map[string]securityScheme `json:"securitySchemes,omitempty"`
	}
	securityScheme struct {
		Type         string      `json:"type"`
		Description  string      `json:"description,omitempty"`
		Scheme       string      `json:"scheme,omitempty"`
		BearerFormat string      `json:"bearerFormat,omitempty"`
		Flows        *oauthFlows `json:"flows,omitempty"`
	}
	oauthFlows struct {
		AuthorizationCode *oauthFlow `json:"authorizationCode,omitempty"`
		ClientCredentials *oauthFlow `json:"clientCredentials,omitempty"`
	}
	oauthFlow struct {
		AuthorizationURL string            `json:"authorizationUrl,omitempty"`
		TokenURL         string            `json:"tokenUrl"`
		Scopes           map[string]string `json:"scopes"`
	}
)

const (
	fhirJSON  = "application/fhir+json"
	jsonPatch = "application/json-patch+json"
	specBase  = "https://hl7.org/fhir/R4/"
	systemTag = "System"
)

// anyObject is additionalProperties: true. Resource schemas name only
// resourceType and let everything else through: the full FHIR schema per
// type would make the document tens of megabytes, and the server validates
// bodies itself, with OperationOutcomes that say far more than a schema error.
var anyObject = &schema{}

// errorResponses are the 4xx answers, each an OperationOutcome, keyed by
// status; the names are their keys under components/responses.
var errorResponses = map[int]struct{ name, description string }{
	400: {"BadRequest", "The request is malformed or a parameter is not understood."},
	401: {"Unauthorized", "No valid bearer token was presented."},
	403: {"Forbidden", "The token's scopes or the caller's access to the record do not permit this."},
	404: {"NotFound", "No such resource, version or endpoint."},
	409: {"Conflict", "A concurrent change won; read the current version and try again."},
	410: {"Gone", "The resource has been deleted."},
	412: {"PreconditionFailed", "If-Match does not name the current version, or the conditional criteria match more than one resource."},
	413: {"PayloadTooLarge", "The request body is too large."},
	415: {"UnsupportedMediaType", "The request body is not in a supported format."},
	422: {"UnprocessableEntity", "The resource is not valid FHIR R4 or breaks a rule of this server; the OperationOutcome says where."},
}

// searchValueSchemas say how each type of search parameter is written in a
// query. Every search parameter may repeat (the values must all match) and a
// value may list alternatives separated by commas (any may match).
var searchValueSchemas = map[string]string{
	"number":    "A number, optionally prefixed by eq, ne, gt, lt, ge, le, sa, eb or ap: gt100.",
	"date":      "A date, dateTime or instant, optionally prefixed by eq, ne, gt, lt, ge, le, sa, eb or ap: ge2024-01-31.",
	"string":    "Text, matched case- and accent-insensitively at the start unless :exact or :contains is used.",
	"token":     "A code, as system|code, code, system| or |code: http://loinc.org|8867-4.",
	"reference": "A reference, as Type/id, id or an absolute URL: Patient/123.",
	"composite": "Values of the component parameters joined by $: http://loinc.org|8480-6$gt100.",
	"quantity":  "A number with an optional prefix, system and code: le5.4|http://unitsofmeasure.org|mg.",
	"uri":       "A URI, matched exactly unless :below or :above is used.",
	"special":   "A value in the syntax the parameter's definition gives.",
}

// OpenAPI renders s as an OpenAPI 3.0.3 document (JSON). It fails only when
// s is inconsistent, which is a mistake in the server's own tables.
func OpenAPI(s Surface) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("api: openapi: %w", err)
	}
	b := newOpenAPIBuilder(&s)
	b.addSystem()
	for i := range s.Types {
		b.addType(&s.Types[i])
	}
	for _, op := range s.Operations {
		b.addOperation(op)
	}
	return json.Marshal(b.doc)
}

type openAPIBuilder struct {
	s   *Surface
	doc openAPIDoc
	// searchKeys names the component of each distinct search parameter.
	// Parameters shared by many types (the official clinical-patient is on
	// 30) are described once, which keeps the document small.
	searchKeys map[SearchParam]string
	usedKeys   map[string]bool
}

func newOpenAPIBuilder(s *Surface) *openAPIBuilder {
	title := s.Software + " FHIR R4 API"
	description := s.Description
	if description != "" {
		description += "\n\n"
	}
	description += "The FHIR CapabilityStatement at " + s.BaseURL + "/metadata is the authoritative description of this API."
	b := &openAPIBuilder{
		s: s,
		doc: openAPIDoc{
			OpenAPI:      "3.0.3",
			Info:         info{Title: title, Description: description, Version: s.Version},
			ExternalDocs: &externalDocs{URL: specBase + "http.html"},
			Servers:      []server{{URL: s.BaseURL}},
			Tags:         []tag{{Name: systemTag, Description: "Whole-server interactions", ExternalDocs: &externalDocs{URL: specBase + "http.html"}}},
			Paths:        make(map[string]*pathItem),
			Components: components{
				Schemas:    baseSchemas(s.Types),
				Parameters: commonParameters(),
				Responses:  make(map[string]response),
				Headers:    commonHeaders(),
			},
		},
		searchKeys: make(map[SearchParam]string),
		usedKeys:   make(map[string]bool),
	}
	for _, r := range errorResponses {
		b.doc.Components.Responses[r.name] = response{Description: r.description, Content: fhirContent("OperationOutcome")}
	}
	for typ, description := range searchValueSchemas {
		b.doc.Components.Schemas[searchValueSchema(typ)] = &schema{Type: "string", Description: description}
	}
	if s.Security != nil {
		b.doc.Components.SecuritySchemes, b.doc.Security = securitySchemes(s.Security)
	}
	return b
}

// addSystem describes the endpoints that are not about one resource type.
func (b *openAPIBuilder) addSystem() {
	public := []securityRequirement{}
	metadata := b.op(systemTag, "capabilities", "The CapabilityStatement: what this server supports", nil, nil,
		map[string]response{"200": {Description: "The CapabilityStatement", Content: fhirContent("CapabilityStatement")}})
	metadata.Security = &public
	b.path("/metadata").Get = metadata

	has := set(b.s.SystemInteractions...)
	if has["history-system"] {
		b.path("/_history").Get = b.op(systemTag, "historySystem", "Changes to every resource, newest first",
			historyParams(), nil, b.responses(bundleOK("A history Bundle"), 400, 401, 403))
	}
	if has["search-system"] {
		params := append(refs("_type"), searchResultParams()...)
		for _, p := range b.s.SearchParams {
			params = append(params, b.searchParam(p))
		}
		b.path("/").Get = b.op(systemTag, "searchSystem", "Search resources of every type",
			params, nil, b.responses(bundleOK("A searchset Bundle"), 400, 401, 403))
	}
	id, summary := "", ""
	switch {
	case has["batch"] && has["transaction"]:
		id, summary = "batchOrTransaction", "Run a batch or transaction Bundle"
	case has["batch"]:
		id, summary = "batch", "Run a batch Bundle"
	case has["transaction"]:
		id, summary = "transaction", "Run a transaction Bundle"
	}
	if id != "" {
		b.path("/").Post = b.op(systemTag, id, summary, refs("Prefer"),
			fhirBody("Bundle", "A Bundle of type batch or transaction"),
			b.responses(bundleOK("The batch-response or transaction-response Bundle"), 400, 401, 403, 409, 412, 413, 415, 422))
	}
}

// addType describes the endpoints of one resource type.
func (b *openAPIBuilder) addType(t *Type) {
	b.doc.Tags = append(b.doc.Tags, tag{
		Name:         t.Name,
		Description:  "FHIR R4 " + t.Name + " resources",
		ExternalDocs: &externalDocs{URL: specBase + strings.ToLower(t.Name) + ".html"},
	})
	has := set(t.Interactions...)
	name := t.Name
	collection, instance := "/"+name, "/"+name+"/{id}"
	idParam := parameter{Ref: ref("parameters", "id")}

	if has["search-type"] {
		params := searchResultParams()
		if len(t.SearchInclude) > 0 {
			params = append(params, refs("_include")...)
		}
		if len(t.SearchRevInclude) > 0 {
			params = append(params, refs("_revinclude")...)
		}
		for _, p := range t.SearchParams {
			params = append(params, b.searchParam(p))
		}
		b.path(collection).Get = b.op(name, "search"+name, "Search "+name+" resources",
			params, nil, b.responses(bundleOK("A searchset Bundle"), 400, 401, 403))
	}
	if has["create"] {
		params := refs("Prefer")
		if t.ConditionalCreate {
			params = append(params, refs("If-None-Exist")...)
		}
		b.path(collection).Post = b.op(name, "create"+name, "Create a "+name,
			params, fhirBody(name, "The new "+name+"; any id is replaced"),
			b.responses(map[string]response{
				"200": resourceOK(name, "A resource matched If-None-Exist, so nothing was created"),
				"201": b.created(name),
			}, 400, 401, 403, 412, 413, 415, 422))
	}
	if has["update"] && t.ConditionalUpdate {
		b.path(collection).Put = b.op(name, "conditionalUpdate"+name, "Update the "+name+" that the criteria match, or create one if none does",
			refs("criteria", "Prefer"), fhirBody(name, "The "+name),
			b.responses(map[string]response{"200": b.stored(name), "201": b.created(name)},
				400, 401, 403, 412, 413, 415, 422))
	}
	if has["delete"] && (t.ConditionalDelete == "single" || t.ConditionalDelete == "multiple") {
		summary := "Delete the " + name + " that the criteria match"
		if t.ConditionalDelete == "multiple" {
			summary = "Delete every " + name + " that the criteria match"
		}
		b.path(collection).Delete = b.op(name, "conditionalDelete"+name, summary,
			refs("criteria"), nil, b.responses(deleted(), 400, 401, 403, 412))
	}

	if has["read"] {
		params := refs("_summary", "_elements")
		success := map[string]response{"200": b.stored(name)}
		cr := t.ConditionalRead
		if cr == "modified-since" || cr == "full-support" {
			params = append(params, refs("If-Modified-Since")...)
		}
		if cr == "not-match" || cr == "full-support" {
			params = append(params, refs("If-None-Match")...)
		}
		if cr != "" && cr != "not-supported" {
			success["304"] = response{Description: "Not modified since the version the client holds"}
		}
		b.path(instance, idParam).Get = b.op(name, "read"+name, "Read a "+name,
			params, nil, b.responses(success, 401, 403, 404, 410))
	}
	if has["update"] {
		success := map[string]response{"200": b.stored(name)}
		if t.UpdateCreate {
			success["201"] = b.created(name)
		}
		b.path(instance, idParam).Put = b.op(name, "update"+name, "Replace a "+name,
			refs("If-Match", "Prefer"), fhirBody(name, "The whole new version; its id must match the URL"),
			b.responses(success, 400, 401, 403, 404, 409, 412, 413, 415, 422))
	}
	if has["patch"] {
		b.path(instance, idParam).Patch = b.op(name, "patch"+name, "Change part of a "+name,
			refs("If-Match", "Prefer"), &requestBody{
				Description: "A JSON Patch, or a FHIRPath Patch Parameters resource",
				Required:    true,
				Content: map[string]mediaType{
					jsonPatch: {Schema: &schema{Ref: ref("schemas", "JSONPatch")}},
					fhirJSON:  {Schema: &schema{Ref: ref("schemas", "Parameters")}},
				},
			},
			b.responses(map[string]response{"200": b.stored(name)}, 400, 401, 403, 404, 409, 412, 413, 415, 422))
	}
	if has["delete"] {
		b.path(instance, idParam).Delete = b.op(name, "delete"+name, "Delete a "+name,
			refs("If-Match"), nil, b.responses(deleted(), 401, 403, 409, 412))
	}
	if has["history-instance"] {
		b.path(instance+"/_history", idParam).Get = b.op(name, "historyInstance"+name, "Every version of a "+name+", newest first",
			historyParams(), nil, b.responses(bundleOK("A history Bundle"), 400, 401, 403, 404))
	}
	if has["vread"] {
		b.path(instance+"/_history/{vid}", idParam, parameter{Ref: ref("parameters", "vid")}).Get = b.op(name, "vread"+name, "Read one version of a "+name,
			refs("_summary", "_elements"), nil,
			b.responses(map[string]response{"200": b.stored(name)}, 401, 403, 404, 410))
	}
	if has["history-type"] {
		b.path(collection + "/_history").Get = b.op(name, "historyType"+name, "Changes to "+name+" resources, newest first",
			historyParams(), nil, b.responses(bundleOK("A history Bundle"), 400, 401, 403))
	}
}

// addOperation describes one extended operation: POST with a Parameters
// body always, and GET with query parameters when the operation is safe.
func (b *openAPIBuilder) addOperation(op Operation) {
	path, id, summary, tagName := "/$"+op.Name, camel(op.Name)+"System", "$"+op.Name, systemTag
	var pathParams []parameter
	switch {
	case op.Instance:
		path, id = "/"+op.Type+"/{id}/$"+op.Name, camel(op.Name)+op.Type+"Instance"
		summary, tagName = "$"+op.Name+" on one "+op.Type, op.Type
		pathParams = []parameter{{Ref: ref("parameters", "id")}}
	case op.Type != "":
		path, id = "/"+op.Type+"/$"+op.Name, camel(op.Name)+op.Type+"Type"
		summary, tagName = "$"+op.Name+" on "+op.Type+" resources", op.Type
	}
	description := op.Documentation
	if description != "" {
		description += "\n\n"
	}
	description += "Defined by " + op.Definition
	returns := op.Returns
	if returns == "" {
		returns = "Resource"
	}
	statuses := []int{400, 401, 403, 422}
	if op.Instance {
		statuses = append(statuses, 404)
	}
	success := func() map[string]response {
		return map[string]response{"200": {Description: "The result", Content: fhirContent(returns)}}
	}
	item := b.path(path, pathParams...)

	post := b.op(tagName, id, summary, nil, &requestBody{
		Description: "The in parameters",
		Content:     fhirContent("Parameters"),
	}, b.responses(success(), slices.Concat(statuses, []int{413, 415})...))
	post.Description = description
	item.Post = post
	if op.AffectsState {
		return
	}
	post.OperationID += "Post"
	var params []parameter
	for _, p := range op.Parameters {
		params = append(params, parameter{Name: p.Name, In: "query", Description: p.Documentation, Schema: primitiveSchema(p.Type)})
	}
	get := b.op(tagName, id, summary, params, nil, b.responses(success(), statuses...))
	get.Description = description
	item.Get = get
}

// path returns the path item for p, creating it with the given path-level
// parameters the first time. _format and _pretty apply to every FHIR
// interaction, so they are stated once per path rather than per operation.
func (b *openAPIBuilder) path(p string, params ...parameter) *pathItem {
	item := b.doc.Paths[p]
	if item == nil {
		item = &pathItem{Parameters: append(params, refs("_format", "_pretty")...)}
		b.doc.Paths[p] = item
	}
	return item
}

func (b *openAPIBuilder) op(tagName, id, summary string, params []parameter, body *requestBody, responses map[string]response) *operation {
	return &operation{
		Tags:        []string{tagName},
		Summary:     summary,
		OperationID: id,
		Parameters:  params,
		RequestBody: body,
		Responses:   responses,
	}
}

// responses adds the OperationOutcome answers for the given statuses to
// the success responses. 401 and 403 are left out of an API that needs no
// credentials.
func (b *openAPIBuilder) responses(success map[string]response, statuses ...int) map[string]response {
	for _, status := range statuses {
		if b.s.Security == nil && (status == 401 || status == 403) {
			continue
		}
		success[strconv.Itoa(status)] = response{Ref: ref("responses", errorResponses[status].name)}
	}
	return success
}

// searchParam returns a reference to the component describing p, adding
// the component the first time p is seen. Components are named after the
// SearchParameter's id, the last segment of its canonical URL.
func (b *openAPIBuilder) searchParam(p SearchParam) parameter {
	key, ok := b.searchKeys[p]
	if !ok {
		base := p.Name
		if p.Definition != "" {
			base = p.Definition[strings.LastIndexByte(p.Definition, '/')+1:]
		}
		base = "search." + componentName(base)
		key = base
		for n := 2; b.usedKeys[key]; n++ {
			key = base + "." + strconv.Itoa(n)
		}
		b.usedKeys[key] = true
		b.searchKeys[p] = key
		b.doc.Components.Parameters[key] = parameter{
			Name:        p.Name,
			In:          "query",
			Description: p.Documentation,
			Schema:      &schema{Type: "array", Items: &schema{Ref: ref("schemas", searchValueSchema(p.Type))}},
		}
	}
	return parameter{Ref: ref("parameters", key)}
}

// componentName replaces what OpenAPI does not allow in a component name.
func componentName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

func searchValueSchema(typ string) string { return "search-" + typ }

// camel turns an operation name such as validate-code into validateCode.
func camel(s string) string {
	parts := strings.Split(s, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func ref(kind, name string) string { return "#/components/" + kind + "/" + name }

func refs(names ...string) []parameter {
	out := make([]parameter, len(names))
	for i, n := range names {
		out[i] = parameter{Ref: ref("parameters", n)}
	}
	return out
}

func searchResultParams() []parameter {
	return refs("_summary", "_elements", "_count", "_sort")
}

func historyParams() []parameter {
	return refs("_count", "_since", "_at")
}

// primitiveSchema maps a FHIR primitive type to the JSON type of its
// query-string value. Dates stay plain strings: FHIR allows partial dates
// (2024, 2024-01) that OpenAPI's date format rejects.
func primitiveSchema(fhirType string) *schema {
	switch fhirType {
	case "integer", "positiveInt", "unsignedInt":
		return &schema{Type: "integer"}
	case "decimal":
		return &schema{Type: "number"}
	case "boolean":
		return &schema{Type: "boolean"}
	}
	return &schema{Type: "string"}
}

func fhirContent(schemaName string) map[string]mediaType {
	return map[string]mediaType{fhirJSON: {Schema: &schema{Ref: ref("schemas", schemaName)}}}
}

func fhirBody(schemaName, description string) *requestBody {
	return &requestBody{Description: description, Required: true, Content: fhirContent(schemaName)}
}

func resourceOK(name, description string) response {
	return response{
		Description: description,
		Headers:     headerRefs("ETag", "Last-Modified"),
		Content:     fhirContent(name),
	}
}

// stored refers to the answer that carries one version of a resource of
// type name, adding it to the components the first time. Read, vread,
// update and patch of a type all answer with it, so it is described once
// per type.
func (b *openAPIBuilder) stored(name string) response {
	if _, ok := b.doc.Components.Responses[name]; !ok {
		b.doc.Components.Responses[name] = resourceOK(name, "The "+name+" version; after a write, the body is per the Prefer header")
	}
	return response{Ref: ref("responses", name)}
}

// created is stored for a write that created the resource.
func (b *openAPIBuilder) created(name string) response {
	key := name + ".created"
	if _, ok := b.doc.Components.Responses[key]; !ok {
		b.doc.Components.Responses[key] = response{
			Description: "Created; the body is per the Prefer header (the resource by default)",
			Headers:     headerRefs("Location", "ETag", "Last-Modified"),
			Content:     fhirContent(name),
		}
	}
	return response{Ref: ref("responses", key)}
}

func deleted() map[string]response {
	return map[string]response{"204": {Description: "Deleted, or there was nothing to delete"}}
}

func bundleOK(description string) map[string]response {
	return map[string]response{"200": {Description: description, Content: fhirContent("Bundle")}}
}

func headerRefs(names ...string) map[string]header {
	out := make(map[string]header, len(names))
	for _, n := range names {
		out[n] = header{Ref: ref("headers", n)}
	}
	return out
}

func commonHeaders() map[string]header {
	str := func(description string) header {
		return header{Description: description, Schema: &schema{Type: "string"}}
	}
	return map[string]header{
		"ETag":          str(`The version, as a weak ETag: W/"3"`),
		"Location":      str("The URL of the version written: [base]/[type]/[id]/_history/[vid]"),
		"Last-Modified": str("When the version was written (HTTP date)"),
	}
}

// idPattern is the FHIR id datatype, which resource ids and version ids share.
const idPattern = `^[A-Za-z0-9\-\.]{1,64}$`

func commonParameters() map[string]parameter {
	query := func(name, description string, s *schema) parameter {
		return parameter{Name: name, In: "query", Description: description, Schema: s}
	}
	headerParam := func(name, description string) parameter {
		return parameter{Name: name, In: "header", Description: description, Schema: &schema{Type: "string"}}
	}
	stringArray := &schema{Type: "array", Items: &schema{Type: "string"}}
	commaList := func(name, description string) parameter {
		p := query(name, description, stringArray)
		p.Explode = new(bool)
		return p
	}
	zero := 0
	return map[string]parameter{
		"id": {Name: "id", In: "path", Required: true, Description: "The resource's logical id",
			Schema: &schema{Type: "string", Pattern: idPattern}},
		"vid": {Name: "vid", In: "path", Required: true, Description: "The version id",
			Schema: &schema{Type: "string", Pattern: idPattern}},
		"_format": query("_format", "Overrides the Accept header",
			&schema{Type: "string", Enum: []string{"json", fhirJSON, "application/json"}}),
		"_pretty": query("_pretty", "Indent the JSON for people", &schema{Type: "boolean"}),
		"_summary": query("_summary", "Return only a summary of each resource",
			&schema{Type: "string", Enum: []string{"true", "text", "data", "count", "false"}}),
		"_elements": commaList("_elements", "Return only these top-level elements (and the mandatory ones)"),
		"_count":    query("_count", "Page size", &schema{Type: "integer", Minimum: &zero}),
		"_sort":     commaList("_sort", "Sort by these search parameters; a leading - sorts descending"),
		"_since":    query("_since", "Only versions written after this instant", &schema{Type: "string"}),
		"_at":       query("_at", "Only versions current at some point in this period", &schema{Type: "string"}),
		"_type":     commaList("_type", "Search only these resource types"),
		"_include": query("_include", "Also return the resources that the matches refer to, as Type:parameter[:target] or *. "+
			"The CapabilityStatement lists the values each type accepts.", stringArray),
		"_revinclude": query("_revinclude", "Also return the resources that refer to the matches, as Type:parameter[:target] or *. "+
			"The CapabilityStatement lists the values each type accepts.", stringArray),
		"criteria": {Name: "criteria", In: "query", Required: true,
			Description: "Search parameters that select the resource, as in a search of the type",
			Schema:      &schema{Type: "object", AdditionalProperties: &schema{Type: "string"}}},
		"If-Match":          headerParam("If-Match", `Write only if this is the current version: W/"3"`),
		"If-None-Match":     headerParam("If-None-Match", `Answer 304 if this is the current version: W/"3"`),
		"If-Modified-Since": headerParam("If-Modified-Since", "Answer 304 unless changed since this HTTP date"),
		"If-None-Exist":     headerParam("If-None-Exist", "Create only if this search (a query string without ?) matches nothing"),
		"Prefer":            headerParam("Prefer", "return=minimal, return=representation or return=OperationOutcome"),
	}
}

// baseSchemas are the resource schemas: one per type naming only its
// resourceType, a Resource schema for any of them, and a fuller shape for
// the few resources the API itself speaks in (Bundle, OperationOutcome,
// Parameters), so that generated clients can read results and errors.
func baseSchemas(types []Type) map[string]*schema {
	m := make(map[string]*schema)
	var names []string
	for _, name := range []string{"Bundle", "CapabilityStatement", "OperationOutcome", "Parameters"} {
		names = append(names, name)
		m[name] = resourceSchema(name)
	}
	for _, t := range types {
		if m[t.Name] == nil {
			names = append(names, t.Name)
			m[t.Name] = resourceSchema(t.Name)
		}
	}
	slices.Sort(names)
	m["Resource"] = &schema{
		Type:                 "object",
		Description:          "Any FHIR R4 resource",
		Required:             []string{"resourceType"},
		Properties:           map[string]*schema{"resourceType": {Type: "string", Enum: names}},
		AdditionalProperties: anyObject,
	}

	str := &schema{Type: "string"}
	object := func(required []string, props map[string]*schema) *schema {
		return &schema{Type: "object", Required: required, Properties: props, AdditionalProperties: anyObject}
	}
	array := func(items *schema) *schema { return &schema{Type: "array", Items: items} }

	m["Bundle"].Required = []string{"resourceType", "type"}
	m["Bundle"].Properties["type"] = &schema{Type: "string", Enum: []string{
		"document", "message", "transaction", "transaction-response", "batch",
		"batch-response", "history", "searchset", "collection"}}
	m["Bundle"].Properties["total"] = &schema{Type: "integer"}
	m["Bundle"].Properties["link"] = array(object([]string{"relation", "url"}, map[string]*schema{"relation": str, "url": str}))
	m["Bundle"].Properties["entry"] = array(object(nil, map[string]*schema{
		"fullUrl":  str,
		"resource": {Ref: ref("schemas", "Resource")},
		"request": object([]string{"method", "url"}, map[string]*schema{
			"method": {Type: "string", Enum: []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}},
			"url":    str,
		}),
		"response": object([]string{"status"}, map[string]*schema{"status": str, "location": str, "etag": str}),
	}))

	m["OperationOutcome"].Required = []string{"resourceType", "issue"}
	m["OperationOutcome"].Properties["issue"] = array(object([]string{"severity", "code"}, map[string]*schema{
		"severity":    {Type: "string", Enum: []string{"fatal", "error", "warning", "information"}},
		"code":        str,
		"diagnostics": str,
		"expression":  array(str),
	}))

	m["Parameters"].Properties["parameter"] = array(object([]string{"name"}, map[string]*schema{"name": str}))

	m["JSONPatch"] = &schema{
		Type:        "array",
		Description: "RFC 6902 JSON Patch",
		Items: object([]string{"op", "path"}, map[string]*schema{
			"op":    {Type: "string", Enum: []string{"add", "remove", "replace", "move", "copy", "test"}},
			"path":  str,
			"from":  str,
			"value": anyObject,
		}),
	}
	return m
}

// resourceSchema is a resource of one type: its resourceType, then anything.
func resourceSchema(name string) *schema {
	return &schema{
		Type:                 "object",
		Required:             []string{"resourceType"},
		Properties:           map[string]*schema{"resourceType": {Type: "string", Enum: []string{name}}},
		AdditionalProperties: anyObject,
		ExternalDocs:         &externalDocs{URL: specBase + strings.ToLower(name) + ".html"},
	}
}

// securitySchemes offers a bearer token always and, where the token
// endpoint is known, the SMART OAuth flows that obtain one: client
// credentials for backend systems, and the authorization code flow for
// user-facing apps when there is an authorization endpoint. Any one scheme
// satisfies the requirement.
func securitySchemes(sec *Security) (map[string]securityScheme, []securityRequirement) {
	schemes := map[string]securityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: sec.Description},
	}
	requirements := []securityRequirement{{"bearer": {}}}
	if sec.TokenURL == "" {
		return schemes, requirements
	}
	scopes := sec.Scopes
	if scopes == nil {
		scopes = map[string]string{}
	}
	flows := &oauthFlows{ClientCredentials: &oauthFlow{TokenURL: sec.TokenURL, Scopes: scopes}}
	if sec.AuthorizeURL != "" {
		flows.AuthorizationCode = &oauthFlow{AuthorizationURL: sec.AuthorizeURL, TokenURL: sec.TokenURL, Scopes: scopes}
	}
	schemes["smart"] = securityScheme{Type: "oauth2", Description: "SMART on FHIR", Flows: flows}
	return schemes, append(requirements, securityRequirement{"smart": {}})
}
