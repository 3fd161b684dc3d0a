DROP INDEX IF EXISTS resources_type_last_updated;
ALTER TABLE idx_uri       DROP COLUMN grp;
ALTER TABLE idx_reference DROP COLUMN grp;
ALTER TABLE idx_quantity  DROP COLUMN grp;
ALTER TABLE idx_number    DROP COLUMN grp;
ALTER TABLE idx_date      DROP COLUMN grp;
ALTER TABLE idx_token     DROP COLUMN grp;
ALTER TABLE idx_string    DROP COLUMN grp;
