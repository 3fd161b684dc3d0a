package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
	"github.com/sharedcare/sharedcare/internal/store/sqlsearch"
)

// indexTable is one search index table: the parameter type whose values it
// holds, and the columns of a value after res_type, res_id, param and
// grp.
type indexTable struct {
	typ     searchparam.Type
	name    string
	columns string
	// args returns the column values of v, in the order of columns.
	args func(v searchparam.Value) ([]any, error)
}

// indexTables are the search index tables, one per indexed parameter type.
// Composite parameters have no table of their own: each part of a value
// is a row of its type's table (see putIndex).
var indexTables = []indexTable{
	{searchparam.TypeString, "idx_string", "value, norm", func(v searchparam.Value) ([]any, error) {
		return []any{v.String.Value, v.String.Normalized}, nil
	}},
	{searchparam.TypeToken, "idx_token", "system, code, display, text, type_system, type_code", func(v searchparam.Value) ([]any, error) {
		t := v.Token
		return []any{t.System, t.Code, t.Display, t.Text, t.TypeSystem, t.TypeCode}, nil
	}},
	{searchparam.TypeDate, "idx_date", "lo, hi", func(v searchparam.Value) ([]any, error) {
		return []any{v.Date.Low.UnixMicro(), v.Date.High.UnixMicro()}, nil
	}},
	{searchparam.TypeNumber, "idx_number", "value, lo, hi", func(v searchparam.Value) ([]any, error) {
		return numbers(v.Number)
	}},
	{searchparam.TypeQuantity, "idx_quantity", "value, lo, hi, system, code, unit", func(v searchparam.Value) ([]any, error) {
		q := v.Quantity
		n, err := numbers(q.NumberValue)
		return append(n, q.System, q.Code, q.Unit), err
	}},
	{searchparam.TypeReference, "idx_reference", "target_type, target_id, target_version, url, ident_system, ident_value", func(v searchparam.Value) ([]any, error) {
		r := v.Reference
		return []any{r.Type, r.ID, r.Version, r.URL, r.IdentifierSystem, r.IdentifierValue}, nil
	}},
	{searchparam.TypeURI, "idx_uri", "value", func(v searchparam.Value) ([]any, error) {
		return []any{v.URI}, nil
	}},
}

// numbers returns a decimal's value, low and high as REAL values, NULL
// where they are empty (a Range has no value, an open end no bound).
func numbers(n searchparam.NumberValue) ([]any, error) {
	out := make([]any, 0, 3)
	for _, s := range []string{n.Value, n.Low, n.High} {
		if s == "" {
			out = append(out, nil)
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", s, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// indexStmts are the statements of one index table, prepared on the writer.
type indexStmts struct {
	table          *indexTable
	delete, insert *sql.Stmt
}

func (s *Store) prepareIndex(ctx context.Context) error {
	s.index = make(map[searchparam.Type]indexStmts, len(indexTables))
	for i := range indexTables {
		t := &indexTables[i]
		del, err := s.w.PrepareContext(ctx, `DELETE FROM `+t.name+` WHERE res_type = ? AND res_id = ?`)
		if err != nil {
			return fmt.Errorf("embedded: prepare: %w", err)
		}
		s.stmts = append(s.stmts, del)
		placeholders := "?, ?, ?, ?" + strings.Repeat(", ?", strings.Count(t.columns, ",")+1)
		ins, err := s.w.PrepareContext(ctx, `INSERT INTO `+t.name+` (res_type, res_id, param, grp, `+t.columns+`)
			VALUES (`+placeholders+`)`)
		if err != nil {
			return fmt.Errorf("embedded: prepare: %w", err)
		}
		s.stmts = append(s.stmts, ins)
		s.index[t.typ] = indexStmts{table: t, delete: del, insert: ins}
	}
	return nil
}

// putIndex replaces the index rows of v's resource with v.Index. replace
// says whether the resource may have rows to delete first: not when v is
// its first version.
func (t *tx) putIndex(ctx context.Context, v store.Version, replace bool) error {
	if replace {
		for _, is := range t.s.index {
			if _, err := t.stmt(ctx, is.delete).ExecContext(ctx, v.Type, v.ID); err != nil {
				return err
			}
		}
	}
	if v.Deleted {
		return nil
	}
	composites := 0
	for _, val := range v.Index {
		if val.Type != searchparam.TypeComposite {
			if err := t.insertIndex(ctx, v, val.Param, 0, val); err != nil {
				return err
			}
			continue
		}
		// Each part goes to the table of its type, tied to the other parts
		// of the same value by grp, as in the Postgres store.
		composites++
		for i, part := range val.Components {
			if err := t.insertIndex(ctx, v, sqlsearch.ComponentParam(val.Param, i), composites, part); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertIndex writes val as an index row of v's resource under param, in
// composite value grp (0: none).
func (t *tx) insertIndex(ctx context.Context, v store.Version, param string, grp int, val searchparam.Value) error {
	is, ok := t.s.index[val.Type]
	if !ok {
		return nil
	}
	args, err := is.table.args(val)
	if err != nil {
		return fmt.Errorf("index %s: %w", param, err)
	}
	_, err = t.stmt(ctx, is.insert).ExecContext(ctx, append([]any{v.Type, v.ID, param, grp}, args...)...)
	return err
}
