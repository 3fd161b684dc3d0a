CREATE INDEX resources_patient_owner ON resources (patient_id, owner) WHERE patient_id <> '';
DELETE FROM care_relations WHERE src_type = '';
