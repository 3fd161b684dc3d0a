CREATE INDEX resources_patient ON resources (patient_id, type) WHERE patient_id <> '';
