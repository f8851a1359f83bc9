-- Sign-in through an OpenID Provider.
-- A sign-in under way: a browser's `state` (its nonce and PKCE verifier) or
-- a device code's answer, under the SHA-256 of its key; used once or expired.
CREATE TABLE signin_pending (
    key        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Who signed in, as their provider said (groups as a JSON array), while
-- their session lasts.
CREATE TABLE signins (
    email   TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    name    TEXT,
    groups  TEXT NOT NULL,
    at      BIGINT NOT NULL,
    until   BIGINT NOT NULL
);
