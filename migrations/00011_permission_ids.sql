-- +goose Up
-- REST permissions/devicetypes/ and permissions/devices/ address grants by id,
-- as LAVA's GroupDeviceTypePermission and GroupDevicePermission rows.
ALTER TABLE device_type_permissions ADD COLUMN id bigserial UNIQUE;
ALTER TABLE device_permissions ADD COLUMN id bigserial UNIQUE;

-- +goose Down
ALTER TABLE device_permissions DROP COLUMN id;
ALTER TABLE device_type_permissions DROP COLUMN id;
