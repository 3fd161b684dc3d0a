-- Access labels of the current version, classified at write time (access
-- model, section 5), so that searches can apply the GP restricted view and
-- the sensitivity rule in SQL: the record source, whether the record is
-- sensitive (security label or sensitive clinical code), and its
-- meta.security labels as newline-delimited system|code ("\nS|C\n...").
ALTER TABLE resources ADD COLUMN source text NOT NULL DEFAULT '';
ALTER TABLE resources ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
ALTER TABLE resources ADD COLUMN sec_labels text NOT NULL DEFAULT '';
CREATE INDEX resources_patient_source ON resources (patient_id, type, source) WHERE patient_id <> '';
