-- Composite search parameters (Observation's code-value-quantity, ...) are
-- indexed as their parts: each part is a row of the table of its own type,
-- under the parameter name "<code>$<part>" (code-value-quantity$0 for the
-- code, code-value-quantity$1 for the value), and the parts of one
-- composite value share grp, so that a search matches parts of the same
-- value (the same Observation.component) and never mixes two. Plain rows
-- have grp 0. Adding a column with a constant default rewrites nothing.
ALTER TABLE idx_string    ADD COLUMN grp integer NOT NULL DEFAULT 0;
ALTER TABLE idx_token     ADD COLUMN grp integer NOT NULL DEFAULT 0;
ALTER TABLE idx_date      ADD COLUMN grp integer NOT NULL DEFAULT 0;
ALTER TABLE idx_number    ADD COLUMN grp integer NOT NULL DEFAULT 0;
ALTER TABLE idx_quantity  ADD COLUMN grp integer NOT NULL DEFAULT 0;
ALTER TABLE idx_reference ADD COLUMN grp integer NOT NULL DEFAULT 0;
ALTER TABLE idx_uri       ADD COLUMN grp integer NOT NULL DEFAULT 0;

-- _lastUpdated filters and sorts on the resources row itself.
CREATE INDEX resources_type_last_updated ON resources (type, last_updated);
