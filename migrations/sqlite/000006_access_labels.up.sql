-- See the Postgres migration of the same number.
ALTER TABLE resources ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE resources ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE resources ADD COLUMN sec_labels TEXT NOT NULL DEFAULT '';
CREATE INDEX resources_patient_source ON resources (patient_id, type, source) WHERE patient_id <> '';
