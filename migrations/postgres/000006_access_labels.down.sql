DROP INDEX resources_patient_source;
ALTER TABLE resources DROP COLUMN sec_labels;
ALTER TABLE resources DROP COLUMN sensitive;
ALTER TABLE resources DROP COLUMN source;
