-- +goose Up
-- Per-group permissions on device types and devices (LAVA's
-- GroupDeviceTypePermission and GroupDevicePermission). An object with no
-- "view" row is visible to all; with some, only to members of those groups
-- (and superusers). Likewise "submit" (for authenticated users). "change"
-- is granted only by a row (or superuser).
CREATE TABLE device_type_permissions (
    device_type_id bigint NOT NULL REFERENCES device_types(id) ON DELETE CASCADE,
    group_id       bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    permission     text NOT NULL CHECK (permission IN ('view', 'submit', 'change')),
    PRIMARY KEY (device_type_id, permission, group_id)
);
CREATE INDEX device_type_permissions_group ON device_type_permissions (group_id);

CREATE TABLE device_permissions (
    device_id  bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    group_id   bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    permission text NOT NULL CHECK (permission IN ('view', 'submit', 'change')),
    PRIMARY KEY (device_id, permission, group_id)
);
CREATE INDEX device_permissions_group ON device_permissions (group_id);

-- +goose Down
DROP TABLE device_permissions, device_type_permissions;
