package embedded

import (
	"context"
	"strings"

	"github.com/sharedcare/sharedcare/internal/searchparam"
	"github.com/sharedcare/sharedcare/internal/store"
)

// nhsNumberTaken explains a unique violation on the NHS number index: it
// returns the number and the id of the Patient already holding it, or ""
// when err is something else. SQLite names only the column in its message.
func (t *tx) nhsNumberTaken(ctx context.Context, v store.Version, err error) (number, holder string) {
	if v.Type != "Patient" || !strings.Contains(err.Error(), "UNIQUE constraint failed: idx_token.code") {
		return "", ""
	}
	for _, val := range v.Index {
		if val.Type != searchparam.TypeToken || val.Param != "identifier" || val.Token.System != store.NHSNumberSystem {
			continue
		}
		var id string
		if t.sqlTx.QueryRowContext(ctx, `SELECT res_id FROM idx_token WHERE res_type = 'Patient' AND param = 'identifier'
			AND system = ? AND code = ? AND res_id <> ?`, store.NHSNumberSystem, val.Token.Code, v.ID).Scan(&id) == nil {
			return val.Token.Code, id
		}
	}
	return "", ""
}
