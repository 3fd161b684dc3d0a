package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
)

// indexTables are the search index tables, one per parameter type.
var indexTables = []string{"idx_string", "idx_token", "idx_date", "idx_number", "idx_quantity", "idx_reference", "idx_uri"}

// nullable turns an empty decimal string into SQL NULL (an open bound).
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// indexRows collects one version's index values as column arrays, so that
// each table takes one INSERT ... SELECT FROM unnest(...) however many
// values the resource has. The grp arrays number the composite value a
// row is part of (0: none; see migration 000003).
type indexRows struct {
	strParam, strValue, strNorm                                            []string
	tokParam, tokSystem, tokCode, tokDisplay, tokText, tokTSys, tokTCode   []string
	dateParam                                                              []string
	dateLo, dateHi                                                         []time.Time
	numParam                                                               []string
	numValue, numLo, numHi                                                 []*string
	qtyParam, qtySystem, qtyCode, qtyUnit                                  []string
	qtyValue, qtyLo, qtyHi                                                 []*string
	refParam, refType, refID, refVersion, refURL, refIdentSys, refIdentVal []string
	uriParam, uriValue                                                     []string
	strGrp, tokGrp, dateGrp, numGrp, qtyGrp, refGrp, uriGrp                []int32
}

func (x *indexRows) add(param string, v searchparam.Value, grp int32) {
	switch v.Type {
	case searchparam.TypeString:
		x.strParam = append(x.strParam, param)
		x.strValue = append(x.strValue, v.String.Value)
		x.strNorm = append(x.strNorm, v.String.Normalized)
		x.strGrp = append(x.strGrp, grp)
	case searchparam.TypeToken:
		t := v.Token
		x.tokParam = append(x.tokParam, param)
		x.tokSystem = append(x.tokSystem, t.System)
		x.tokCode = append(x.tokCode, t.Code)
		x.tokDisplay = append(x.tokDisplay, t.Display)
		x.tokText = append(x.tokText, t.Text)
		x.tokTSys = append(x.tokTSys, t.TypeSystem)
		x.tokTCode = append(x.tokTCode, t.TypeCode)
		x.tokGrp = append(x.tokGrp, grp)
	case searchparam.TypeDate:
		x.dateParam = append(x.dateParam, param)
		x.dateLo = append(x.dateLo, v.Date.Low)
		x.dateHi = append(x.dateHi, v.Date.High)
		x.dateGrp = append(x.dateGrp, grp)
	case searchparam.TypeNumber:
		x.numParam = append(x.numParam, param)
		x.numValue = append(x.numValue, nullable(v.Number.Value))
		x.numLo = append(x.numLo, nullable(v.Number.Low))
		x.numHi = append(x.numHi, nullable(v.Number.High))
		x.numGrp = append(x.numGrp, grp)
	case searchparam.TypeQuantity:
		q := v.Quantity
		x.qtyParam = append(x.qtyParam, param)
		x.qtyValue = append(x.qtyValue, nullable(q.Value))
		x.qtyLo = append(x.qtyLo, nullable(q.Low))
		x.qtyHi = append(x.qtyHi, nullable(q.High))
		x.qtySystem = append(x.qtySystem, q.System)
		x.qtyCode = append(x.qtyCode, q.Code)
		x.qtyUnit = append(x.qtyUnit, q.Unit)
		x.qtyGrp = append(x.qtyGrp, grp)
	case searchparam.TypeReference:
		r := v.Reference
		x.refParam = append(x.refParam, param)
		x.refType = append(x.refType, r.Type)
		x.refID = append(x.refID, r.ID)
		x.refVersion = append(x.refVersion, r.Version)
		x.refURL = append(x.refURL, r.URL)
		x.refIdentSys = append(x.refIdentSys, r.IdentifierSystem)
		x.refIdentVal = append(x.refIdentVal, r.IdentifierValue)
		x.refGrp = append(x.refGrp, grp)
	case searchparam.TypeURI:
		x.uriParam = append(x.uriParam, param)
		x.uriValue = append(x.uriValue, v.URI)
		x.uriGrp = append(x.uriGrp, grp)
	}
}

// queueIndex queues the statements that replace the index rows of v.
func queueIndex(b *pgx.Batch, v store.Version) {
	if v.VersionID > 1 {
		for _, t := range indexTables {
			b.Queue(`DELETE FROM `+t+` WHERE res_type = $1 AND res_id = $2`, v.Type, v.ID)
		}
	}
	if v.Deleted || len(v.Index) == 0 {
		return
	}
	var x indexBatch
	x.addVersion(v)
	x.queueInto(b)
}
