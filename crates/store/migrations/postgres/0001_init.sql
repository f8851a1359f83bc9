CREATE TABLE requests (
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
    username TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    deadline BIGINT,
    revoked_at BIGINT,
    credentials_shown_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX requests_status ON requests (status);
CREATE INDEX requests_requester ON requests (requester);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id),
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    done_at BIGINT
);
CREATE INDEX jobs_due ON jobs (done_at, run_at);
CREATE INDEX jobs_request ON jobs (request_id);

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);



CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    user_email TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE resources (
    integration TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (integration, resource_type, id)
);

CREATE TABLE integration_state (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    message TEXT,
    last_sync BIGINT
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
