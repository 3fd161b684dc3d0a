DROP VIEW audit_all;
CREATE TABLE audit_unsealed (
    seq bigint PRIMARY KEY
);
INSERT INTO audit_events (seq, id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw)
SELECT seq, id, recorded, patient_id, agent, org, purpose, break_glass, action, outcome, entities, raw FROM audit_inbox;
INSERT INTO audit_unsealed (seq) SELECT seq FROM audit_inbox;
DROP TABLE audit_inbox;
