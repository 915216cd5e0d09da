-- +goose Up
-- Secrets per realm (issue 10), envelope-encrypted by server/secrets: each
-- realm has one data key, stored only wrapped (AES-256-GCM) by the master
-- key that lives outside the database; each secret value is sealed with the
-- realm's data key. Nothing here is readable without the master key.
CREATE TABLE realm_keys (
    realm_id    bigint PRIMARY KEY REFERENCES realms(id) ON DELETE CASCADE,
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE secrets (
    id         bigserial PRIMARY KEY,
    realm_id   bigint NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    name       text NOT NULL,
    ciphertext bytea NOT NULL,
    nonce      bytea NOT NULL CHECK (length(nonce) = 12),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (realm_id, name)
);

-- +goose Down
DROP TABLE secrets;
DROP TABLE realm_keys;
