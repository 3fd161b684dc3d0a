-- The hash chain moves out of audit_events into audit_chain, and the
-- records not yet chained are listed in audit_unsealed. Sealing now inserts
-- links and deletes queue entries, small rows both, where it updated each
-- audit row: that rewrote the row and its nine index entries, left a dead
-- version behind, and cost a read-heavy server a fifth of its throughput.
-- audit_events is written once and never changed.
CREATE TABLE audit_chain (
    pos       bigint PRIMARY KEY,
    seq       bigint NOT NULL UNIQUE,
    prev_hash bytea,
    hash      bytea  NOT NULL
);
CREATE TABLE audit_unsealed (
    seq bigint PRIMARY KEY
);
INSERT INTO audit_chain (pos, seq, prev_hash, hash)
SELECT chain_pos, seq, prev_hash, hash FROM audit_events WHERE chain_pos IS NOT NULL;
INSERT INTO audit_unsealed (seq) SELECT seq FROM audit_events WHERE chain_pos IS NULL;
DROP INDEX audit_events_unsealed;
ALTER TABLE audit_events DROP COLUMN chain_pos, DROP COLUMN prev_hash, DROP COLUMN hash;
