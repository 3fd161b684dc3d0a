package rest

import (
	"net/http"
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir/elements"
)

// subset applies _summary and _elements to a resource body. With neither,
// the stored bytes go out untouched.
func subset(r *http.Request, raw []byte) ([]byte, error) {
	q := r.URL.Query()
	if mode := q.Get("_summary"); mode != "" {
		return elements.Summary(raw, mode)
	}
	if list := q.Get("_elements"); list != "" {
		return elements.Elements(raw, strings.Split(list, ","))
	}
	return raw, nil
}
