-- Custom integrations pass the requester's identity as the username, so one
-- person's several grants share it. SQLite cannot drop a constraint: rebuild
-- the table, with foreign-key checks deferred to the commit (jobs point at it).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE requests_new (
    id TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    integration TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resources TEXT NOT NULL,
    permission TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    justification TEXT,
    status TEXT NOT NULL,
    flow TEXT NOT NULL,
    approvers TEXT NOT NULL,
    decided_by TEXT,
    decision_reason TEXT,
    username TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deadline BIGINT,
    revoked_at BIGINT,
    credentials_shown_at BIGINT,
    updated_at BIGINT NOT NULL,
    credentials_created_at BIGINT
);
INSERT INTO requests_new (id, requester, integration, resource_type, resources, permission, duration_ms, justification,
    status, flow, approvers, decided_by, decision_reason, username, created_at, deadline, revoked_at,
    credentials_shown_at, updated_at, credentials_created_at)
SELECT id, requester, integration, resource_type, resources, permission, duration_ms, justification,
    status, flow, approvers, decided_by, decision_reason, username, created_at, deadline, revoked_at,
    credentials_shown_at, updated_at, credentials_created_at FROM requests;
DROP TABLE requests;
ALTER TABLE requests_new RENAME TO requests;
CREATE INDEX requests_status ON requests (status);
CREATE INDEX requests_requester ON requests (requester);
CREATE INDEX requests_integration_username ON requests (integration, username);
