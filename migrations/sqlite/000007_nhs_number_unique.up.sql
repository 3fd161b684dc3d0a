-- One Patient per NHS number, enforced by the database rather than by
-- check-then-insert, so that concurrent pushes from several sources cannot
-- both create the person. A Patient's index rows go when it is deleted, so a
-- deleted Patient frees its number.
CREATE UNIQUE INDEX idx_token_nhs_number ON idx_token (code)
    WHERE res_type = 'Patient' AND param = 'identifier' AND system = 'https://fhir.nhs.uk/Id/nhs-number';
