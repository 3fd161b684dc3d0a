DROP FUNCTION sharedcare_conflict;
DROP TABLE resources;
DROP TABLE resource_history;
