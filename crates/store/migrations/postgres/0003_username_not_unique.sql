-- Custom integrations pass the requester's identity as the username, so one
-- person's several grants share it. Per-grant logins stay unique by design.
ALTER TABLE requests DROP CONSTRAINT IF EXISTS requests_username_key;
CREATE INDEX requests_integration_username ON requests (integration, username);
