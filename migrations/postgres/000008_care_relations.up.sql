-- The care relationships that resources state (access model, section 3), so
-- that a search across patients can apply the patient gate in SQL: one row
-- per organisation a Patient (generalPractitioner, managingOrganization), an
-- active, planned or waitlist EpisodeOfCare (managingOrganization) or an
-- active CareTeam (managingOrganization, participant) names for its patient.
-- org is an ODS code (a logical reference) or an Organization/<id>
-- reference, resolved to its ODS identifier when a search reads it, so that
-- a later change to the Organization counts. The rows of a resource are
-- replaced with each of its versions and go when it is deleted.
CREATE TABLE care_relations (
    patient_id text NOT NULL,
    org        text NOT NULL,
    src_type   text NOT NULL,
    src_id     text NOT NULL,
    PRIMARY KEY (patient_id, org, src_type, src_id)
);
CREATE INDEX care_relations_src ON care_relations (src_type, src_id);

-- Owning any record of a patient is a care relationship too; this index
-- answers "does this organisation own a record of that patient" directly.
CREATE INDEX resources_patient_owner ON resources (patient_id, owner) WHERE patient_id <> '';

-- Rows for the resources already stored.
INSERT INTO care_relations (patient_id, org, src_type, src_id)
SELECT DISTINCT patient_id, org, type, id FROM (
    SELECT r.patient_id, r.type, r.id,
        CASE WHEN ref->'identifier'->>'system' = 'https://fhir.nhs.uk/Id/ods-organization-code'
                THEN ref->'identifier'->>'value'
             WHEN ref->>'reference' LIKE 'Organization/%' THEN ref->>'reference'
        END AS org
    FROM resources r,
        LATERAL (SELECT convert_from(r.raw, 'UTF8')::jsonb AS body) b,
        LATERAL (
            SELECT g AS ref FROM jsonb_array_elements(CASE WHEN r.type = 'Patient' THEN coalesce(b.body->'generalPractitioner', '[]') ELSE '[]' END) g
            UNION ALL
            SELECT b.body->'managingOrganization' WHERE r.type IN ('Patient', 'EpisodeOfCare') AND jsonb_typeof(b.body->'managingOrganization') = 'object'
            UNION ALL
            SELECT m FROM jsonb_array_elements(CASE WHEN r.type = 'CareTeam' AND jsonb_typeof(b.body->'managingOrganization') = 'array' THEN b.body->'managingOrganization' ELSE '[]' END) m
            UNION ALL
            SELECT p->x FROM jsonb_array_elements(CASE WHEN r.type = 'CareTeam' AND jsonb_typeof(b.body->'participant') = 'array' THEN b.body->'participant' ELSE '[]' END) p,
                unnest(ARRAY['member', 'onBehalfOf']) x
            WHERE jsonb_typeof(p->x) = 'object'
        ) refs
    WHERE NOT r.deleted AND r.patient_id <> '' AND r.raw IS NOT NULL
      AND (r.type = 'Patient'
        OR (r.type = 'EpisodeOfCare' AND b.body->>'status' IN ('active', 'planned', 'waitlist'))
        OR (r.type = 'CareTeam' AND b.body->>'status' = 'active'))
) s
WHERE org IS NOT NULL AND org <> '';
