package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
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
	var x indexRows
	var composites int32
	for _, val := range v.Index {
		if val.Type != searchparam.TypeComposite {
			x.add(val.Param, val, 0)
			continue
		}
		// Each part goes to the table of its type, tied to the other
		// parts of the same value by grp.
		composites++
		for i, part := range val.Components {
			x.add(sqlsearch.ComponentParam(val.Param, i), part, composites)
		}
	}
	key := []any{v.Type, v.ID, v.PatientID}
	if len(x.strParam) > 0 {
		b.Queue(`INSERT INTO idx_string (res_type, res_id, patient_id, param, value, norm, grp)
			SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::int[])`,
			append(key, x.strParam, x.strValue, x.strNorm, x.strGrp)...)
	}
	if len(x.tokParam) > 0 {
		b.Queue(`INSERT INTO idx_token (res_type, res_id, patient_id, param, system, code, display, text, type_system, type_code, grp)
			SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[])`,
			append(key, x.tokParam, x.tokSystem, x.tokCode, x.tokDisplay, x.tokText, x.tokTSys, x.tokTCode, x.tokGrp)...)
	}
	if len(x.dateParam) > 0 {
		b.Queue(`INSERT INTO idx_date (res_type, res_id, patient_id, param, lo, hi, grp)
			SELECT $1, $2, $3, * FROM unnest($4::text[], $5::timestamptz[], $6::timestamptz[], $7::int[])`,
			append(key, x.dateParam, x.dateLo, x.dateHi, x.dateGrp)...)
	}
	if len(x.numParam) > 0 {
		b.Queue(`INSERT INTO idx_number (res_type, res_id, patient_id, param, value, lo, hi, grp)
			SELECT $1, $2, $3, * FROM unnest($4::text[], $5::numeric[], $6::numeric[], $7::numeric[], $8::int[])`,
			append(key, x.numParam, x.numValue, x.numLo, x.numHi, x.numGrp)...)
	}
	if len(x.qtyParam) > 0 {
		b.Queue(`INSERT INTO idx_quantity (res_type, res_id, patient_id, param, value, lo, hi, system, code, unit, grp)
			SELECT $1, $2, $3, * FROM unnest($4::text[], $5::numeric[], $6::numeric[], $7::numeric[], $8::text[], $9::text[], $10::text[], $11::int[])`,
			append(key, x.qtyParam, x.qtyValue, x.qtyLo, x.qtyHi, x.qtySystem, x.qtyCode, x.qtyUnit, x.qtyGrp)...)
	}
	if len(x.refParam) > 0 {
		b.Queue(`INSERT INTO idx_reference (res_type, res_id, patient_id, param, target_type, target_id, target_version, url, ident_system, ident_value, grp)
			SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int[])`,
			append(key, x.refParam, x.refType, x.refID, x.refVersion, x.refURL, x.refIdentSys, x.refIdentVal, x.refGrp)...)
	}
	if len(x.uriParam) > 0 {
		b.Queue(`INSERT INTO idx_uri (res_type, res_id, patient_id, param, value, grp)
			SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::int[])`,
			append(key, x.uriParam, x.uriValue, x.uriGrp)...)
	}
}
