-- Wirepost 0002: URL groups (QStash "topics"). Publishing to a group's name fans out into one
-- message per endpoint. A group exists while it has endpoints: removing the last one drops it.

CREATE TABLE url_groups (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- `id` only orders endpoints (the order they were first added); (group, url) identifies one.
CREATE TABLE url_group_endpoints (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    group_name text NOT NULL
               CONSTRAINT url_group_endpoints_group_fkey
               REFERENCES url_groups (name) ON DELETE CASCADE,
    url        text NOT NULL,
    name       text,
    CONSTRAINT url_group_endpoints_pkey PRIMARY KEY (group_name, url)
);
