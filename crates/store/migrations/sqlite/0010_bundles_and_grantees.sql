-- A request for a bundle is several rows, one per grant, sharing
-- `bundle_request` (the group's id) and naming the bundle.
ALTER TABLE requests ADD COLUMN bundle TEXT;
ALTER TABLE requests ADD COLUMN bundle_request TEXT;
CREATE INDEX requests_bundle_request ON requests (bundle_request);
-- Who gets the access when someone asked for them (the seed's request_for);
-- NULL: the requester.
ALTER TABLE requests ADD COLUMN grantee TEXT;
