-- Composite search parameters, indexed as their parts as in the Postgres
-- migration of the same number: each part is a row of the table of its own
-- type under the parameter name "<code>$<part>", and the parts of one
-- composite value share grp (plain rows have 0), so that a search matches
-- parts of the same value and never mixes two.
ALTER TABLE idx_string    ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_token     ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_date      ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_number    ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_quantity  ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_reference ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_uri       ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;

-- _lastUpdated filters and sorts on the resources row itself.
CREATE INDEX resources_type_last_updated ON resources (type, last_updated);

-- A search on a logical reference (subject:identifier=system|value) binds
-- the value as a parameter, which does not prove it non-empty: SQLite then
-- uses no partial index, so the identifier index covers every row here.
DROP INDEX idx_reference_ident;
CREATE INDEX idx_reference_ident ON idx_reference (ident_value, ident_system);
