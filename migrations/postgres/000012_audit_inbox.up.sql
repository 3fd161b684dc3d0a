-- Audit records are written to audit_inbox, a table with no index but its
-- key, which grows at its right edge. A read waits for its audit record to
-- commit: it waited for the record to enter audit_events and its eight
-- auditor indexes (a unique id, patient, agent, organisation, time, entities
-- by GIN), whose pages, at millions of records, are no longer in memory.
--
-- The sealer moves records from the inbox into audit_events and links them
-- into audit_chain, in one transaction: every record is in exactly one of
-- the two tables, and the inbox is the queue of records not yet chained
-- (audit_unsealed is gone). Readers of the trail read audit_all, both
-- tables as one; a statement's snapshot sees a moved record once.
CREATE TABLE audit_inbox (
    seq         bigint      PRIMARY KEY DEFAULT nextval('audit_events_seq_seq'),
    id          text        NOT NULL,
    recorded    timestamptz NOT NULL,
    patient_id  text        NOT NULL DEFAULT '',
    agent       text        NOT NULL DEFAULT '',
    org         text        NOT NULL DEFAULT '',
    purpose     text        NOT NULL DEFAULT '',
    break_glass boolean     NOT NULL DEFAULT false,
    action      text        NOT NULL,
    outcome     text        NOT NULL,
    entities    text[]      NOT NULL DEFAULT '{}',
    raw         bytea       NOT NULL
);
DO $$
BEGIN
    ALTER TABLE audit_inbox ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'this server has no lz4: audit bodies stay compressed with pglz';
END;
$$;

INSERT INTO audit_inbox (seq, id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw)
SELECT a.seq, a.id, a.recorded, a.patient_id, a.agent, a.org, a.purpose, a.break_glass, a.action, a.outcome, a.entities, a.raw
FROM audit_events a JOIN audit_unsealed u ON u.seq = a.seq;
DELETE FROM audit_events a USING audit_unsealed u WHERE a.seq = u.seq;
DROP TABLE audit_unsealed;

CREATE VIEW audit_all AS
SELECT seq, id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw FROM audit_events
UNION ALL
SELECT seq, id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw FROM audit_inbox;
