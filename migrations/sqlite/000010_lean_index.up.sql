-- See the Postgres migration of the same number.
DELETE FROM idx_token WHERE param = '_id';
DELETE FROM idx_date WHERE param = '_lastUpdated';
DROP INDEX resources_patient;
