package searchparam

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The shared FHIR examples, relative to this package's directory.
const (
	ukcoreDir  = "../../../shared/fhir/ukcore-examples/json"
	syntheaDir = "../../../shared/fhir/synthea-sample"
)

// ukcore reads a UK Core example by file name.
func ukcore(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(ukcoreDir, name))
	require.NoError(t, err)
	return raw
}

// syntheaResources returns the resources of the Synthea transaction
// bundles, in file and entry order. They are read once per test binary.
func syntheaResources(t testing.TB) [][]byte {
	t.Helper()
	raws, err := loadSynthea()
	require.NoError(t, err)
	require.NotEmpty(t, raws)
	return raws
}

var loadSynthea = sync.OnceValues(func() ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(syntheaDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var b struct {
			ResourceType string `json:"resourceType"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, e := range b.Entry {
			out = append(out, e.Resource)
		}
	}
	return out, nil
})

// synthea returns the Synthea resource with the given id.
func synthea(t testing.TB, id string) []byte {
	t.Helper()
	for _, r := range syntheaResources(t) {
		if _, rid := head(t, r); rid == id {
			return r
		}
	}
	t.Fatalf("no Synthea resource %s", id)
	return nil
}

// firstSynthea returns the first Synthea resource of type rt.
func firstSynthea(t testing.TB, rt string) []byte {
	t.Helper()
	for _, r := range syntheaResources(t) {
		if typ, _ := head(t, r); typ == rt {
			return r
		}
	}
	t.Fatalf("no Synthea %s", rt)
	return nil
}

func head(t testing.TB, raw []byte) (resourceType, id string) {
	t.Helper()
	var h struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &h))
	return h.ResourceType, h.ID
}

// show writes a value compactly for table tests:
//
//	string    SMITH (smith)
//	token     system|code, then " display=", " text=", " type=system|code" when set
//	date      low..high in RFC 3339
//	number    value [low,high]
//	quantity  value [low,high] system|code unit
//	reference Type/id, then " url=", " id=system|value" when set
//	uri       the URI
//	composite the components' forms joined by " $ "
func show(v Value) string {
	switch v.Type {
	case TypeString:
		return fmt.Sprintf("%s (%s)", v.String.Value, v.String.Normalized)
	case TypeToken:
		t := v.Token
		s := t.System + "|" + t.Code
		if t.Display != "" {
			s += " display=" + t.Display
		}
		if t.Text != "" {
			s += " text=" + t.Text
		}
		if t.TypeSystem != "" || t.TypeCode != "" {
			s += " type=" + t.TypeSystem + "|" + t.TypeCode
		}
		return s
	case TypeDate:
		return v.Date.Low.Format(time.RFC3339Nano) + ".." + v.Date.High.Format(time.RFC3339Nano)
	case TypeNumber:
		return fmt.Sprintf("%s [%s,%s]", v.Number.Value, v.Number.Low, v.Number.High)
	case TypeQuantity:
		q := v.Quantity
		return fmt.Sprintf("%s [%s,%s] %s|%s %s", q.Value, q.Low, q.High, q.System, q.Code, q.Unit)
	case TypeReference:
		r := v.Reference
		s := ""
		if r.Type != "" || r.ID != "" {
			s = r.Type + "/" + r.ID
		}
		if r.Version != "" {
			s += "/_history/" + r.Version
		}
		if r.URL != "" {
			s += " url=" + r.URL
		}
		if r.IdentifierSystem != "" || r.IdentifierValue != "" {
			s += " id=" + r.IdentifierSystem + "|" + r.IdentifierValue
		}
		return strings.TrimSpace(s)
	case TypeURI:
		return v.URI
	case TypeComposite:
		parts := make([]string, len(v.Components))
		for i, c := range v.Components {
			parts[i] = c.Param + ":" + show(c)
		}
		return strings.Join(parts, " $ ")
	}
	return string(v.Type)
}

// shown returns the shown values of parameter code, in extraction order.
func shown(vals []Value, code string) []string {
	var out []string
	for _, v := range vals {
		if v.Param == code {
			out = append(out, show(v))
		}
	}
	return out
}
