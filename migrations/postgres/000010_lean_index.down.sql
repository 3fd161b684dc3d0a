-- The _id and _lastUpdated index rows come back with `sharedcare reindex`
-- of a build that writes them.
CREATE INDEX resources_patient ON resources (patient_id, type) WHERE patient_id <> '';
ALTER TABLE resources ALTER COLUMN raw SET COMPRESSION pglz;
ALTER TABLE resource_history ALTER COLUMN raw SET COMPRESSION pglz;
