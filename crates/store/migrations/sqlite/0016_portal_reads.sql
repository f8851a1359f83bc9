-- What the portal reads often: a person's decisions and a request's steps
-- in the audit log, newest first.
CREATE INDEX audit_actor_action ON audit (actor, action, seq);
CREATE INDEX audit_request ON audit (request_id, seq);
