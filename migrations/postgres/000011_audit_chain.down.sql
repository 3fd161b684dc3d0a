ALTER TABLE audit_events ADD COLUMN chain_pos bigint UNIQUE, ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;
UPDATE audit_events a SET chain_pos = c.pos, prev_hash = c.prev_hash, hash = c.hash FROM audit_chain c WHERE c.seq = a.seq;
CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE chain_pos IS NULL;
DROP TABLE audit_chain, audit_unsealed;
