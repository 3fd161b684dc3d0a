-- The _id and _lastUpdated index rows come back with `sharedcare reindex`
-- of a build that writes them.
CREATE INDEX resources_patient ON resources (patient_id, type) WHERE patient_id <> '';
ALTER TABLE resources ALTER COLUMN raw SET COMPRESSION pglz;
ALTER TABLE resource_history ALTER COLUMN raw SET COMPRESSION pglz;
ALTER TABLE idx_string ADD COLUMN patient_id text NOT NULL DEFAULT '';
ALTER TABLE idx_token ADD COLUMN patient_id text NOT NULL DEFAULT '';
ALTER TABLE idx_date ADD COLUMN patient_id text NOT NULL DEFAULT '';
ALTER TABLE idx_number ADD COLUMN patient_id text NOT NULL DEFAULT '';
ALTER TABLE idx_quantity ADD COLUMN patient_id text NOT NULL DEFAULT '';
ALTER TABLE idx_reference ADD COLUMN patient_id text NOT NULL DEFAULT '';
ALTER TABLE idx_uri ADD COLUMN patient_id text NOT NULL DEFAULT '';
-- Empty until `sharedcare reindex` of a build that writes it.
CREATE INDEX idx_date_patient ON idx_date (patient_id, res_type, param, lo) WHERE patient_id <> '';
