-- How many times an Active grant was extended.
ALTER TABLE requests ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
-- One TOTP factor per person. `secret` is sealed (AES-256-GCM under the
-- server's MFA key), never the shared secret itself.
CREATE TABLE mfa_factors (
    user_email TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The first good code confirms an enrolment; until then it can be replaced.
    confirmed_at BIGINT,
    -- The newest time step a code was accepted for: codes are single-use.
    last_step BIGINT NOT NULL DEFAULT 0,
    -- The last successful step-up.
    stepped_up_at BIGINT,
    -- Wrong codes since the last good one, and when the last was.
    failures INTEGER NOT NULL DEFAULT 0,
    failed_at BIGINT
);
