-- +goose Up
-- Realms (issue 10): users are installation-wide, but act in a realm only
-- when they are its members (superusers act in any). A token and a web
-- session are bound to one realm, so LAVA clients that know nothing of
-- realms (lavacli) act in the realm their token was made for.
CREATE TABLE realm_members (
    realm_id bigint NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (realm_id, user_id)
);
CREATE INDEX realm_members_user ON realm_members (user_id);
INSERT INTO realm_members (realm_id, user_id) SELECT 1, id FROM users;

ALTER TABLE tokens ADD COLUMN realm_id bigint NOT NULL DEFAULT 1 REFERENCES realms(id) ON DELETE CASCADE;
ALTER TABLE web_sessions ADD COLUMN realm_id bigint NOT NULL DEFAULT 1 REFERENCES realms(id) ON DELETE CASCADE;
-- Groups belong to one realm; names stay unique installation-wide so that
-- LAVA's group-name references (job visibility, permissions) stay unambiguous.
ALTER TABLE groups ADD COLUMN realm_id bigint NOT NULL DEFAULT 1 REFERENCES realms(id) ON DELETE CASCADE;
CREATE INDEX groups_realm ON groups (realm_id);

-- Artifact lifecycle per area, in days; 0 keeps artifacts until deleted.
ALTER TABLE realms ADD COLUMN payload_days integer NOT NULL DEFAULT 0 CHECK (payload_days >= 0),
    ADD COLUMN temp_days integer NOT NULL DEFAULT 7 CHECK (temp_days >= 0);

-- +goose Down
ALTER TABLE realms DROP COLUMN temp_days, DROP COLUMN payload_days;
DROP INDEX groups_realm;
ALTER TABLE groups DROP COLUMN realm_id;
ALTER TABLE web_sessions DROP COLUMN realm_id;
ALTER TABLE tokens DROP COLUMN realm_id;
DROP TABLE realm_members;
