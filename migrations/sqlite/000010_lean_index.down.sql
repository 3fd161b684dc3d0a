CREATE INDEX resources_patient ON resources (patient_id, type) WHERE patient_id <> '';
ALTER TABLE idx_string ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idx_token ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idx_date ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idx_number ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idx_quantity ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idx_reference ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE idx_uri ADD COLUMN patient_id TEXT NOT NULL DEFAULT '';
CREATE INDEX idx_date_patient ON idx_date (patient_id, res_type, param, lo) WHERE patient_id <> '';
