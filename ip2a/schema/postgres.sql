-- The IP2A schema for PostgreSQL. Idempotent: every statement is IF NOT EXISTS.
-- Constraint-light on purpose (like a legacy import database): no foreign
-- keys, no unique member_number, nullable names, so that every fault the
-- checks look for can be stored and found.

CREATE TABLE IF NOT EXISTS locations (
    id          serial PRIMARY KEY,
    name        varchar(200),
    address     varchar(255),
    city        varchar(100),
    state       varchar(2),
    zip_code    varchar(10),
    capacity    integer,
    created_at  timestamp NOT NULL DEFAULT now(),
    updated_at  timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS instructors (
    id          serial PRIMARY KEY,
    first_name  varchar(100),
    last_name   varchar(100),
    email       varchar(255),
    phone       varchar(50),
    bio         text,
    created_at  timestamp NOT NULL DEFAULT now(),
    updated_at  timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS organizations (
    id             serial PRIMARY KEY,
    name           varchar(255),
    org_type       varchar(50),
    address        varchar(255),
    city           varchar(100),
    state          varchar(2),
    zip_code       varchar(10),
    phone          varchar(50),
    email          varchar(255),
    website        varchar(255),
    salting_score  integer,
    salting_notes  text,
    is_deleted     boolean NOT NULL DEFAULT false,
    deleted_at     timestamp,
    created_at     timestamp NOT NULL DEFAULT now(),
    updated_at     timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS organization_contacts (
    id               serial PRIMARY KEY,
    organization_id  integer,
    first_name       varchar(100),
    last_name        varchar(100),
    title            varchar(100),
    phone            varchar(50),
    email            varchar(255),
    is_primary       boolean NOT NULL DEFAULT false,
    notes            text,
    is_deleted       boolean NOT NULL DEFAULT false,
    deleted_at       timestamp,
    created_at       timestamp NOT NULL DEFAULT now(),
    updated_at       timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS members (
    id              serial PRIMARY KEY,
    member_number   varchar(50),
    first_name      varchar(100),
    last_name       varchar(100),
    middle_name     varchar(100),
    address         varchar(255),
    city            varchar(100),
    state           varchar(2),
    zip_code        varchar(10),
    phone           varchar(50),
    email           varchar(255),
    date_of_birth   date,
    hire_date       date,
    status          varchar(20) NOT NULL DEFAULT 'active',
    classification  varchar(30),
    notes           text,
    is_deleted      boolean NOT NULL DEFAULT false,
    deleted_at      timestamp,
    created_at      timestamp NOT NULL DEFAULT now(),
    updated_at      timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS member_employments (
    id               serial PRIMARY KEY,
    member_id        integer,
    organization_id  integer,
    start_date       date NOT NULL,
    end_date         date,
    job_title        varchar(100),
    hourly_rate      numeric(10,2),
    is_current       boolean NOT NULL DEFAULT true,
    created_at       timestamp NOT NULL DEFAULT now(),
    updated_at       timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS students (
    id                        serial PRIMARY KEY,
    member_id                 integer,
    student_number            varchar(50),
    first_name                varchar(100),
    last_name                 varchar(100),
    email                     varchar(255),
    phone                     varchar(50),
    status                    varchar(30),
    application_date          date,
    enrollment_date           date,
    expected_completion_date  date,
    is_deleted                boolean NOT NULL DEFAULT false,
    deleted_at                timestamp,
    created_at                timestamp NOT NULL DEFAULT now(),
    updated_at                timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS grievances (
    id                serial PRIMARY KEY,
    grievance_number  varchar(50),
    member_id         integer,
    organization_id   integer,
    title             varchar(255),
    status            varchar(30),
    filed_date        date,
    created_at        timestamp NOT NULL DEFAULT now(),
    updated_at        timestamp NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS file_attachments (
    id             serial PRIMARY KEY,
    record_type    varchar(50),
    record_id      integer,
    file_category  varchar(50) NOT NULL DEFAULT 'general',
    file_name      varchar(255),
    original_name  varchar(255),
    file_path      varchar(500) NOT NULL,
    file_type      varchar(100),
    file_size      bigint,
    description    text,
    is_deleted     boolean NOT NULL DEFAULT false,
    deleted_at     timestamp,
    created_at     timestamp NOT NULL DEFAULT now(),
    updated_at     timestamp NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS ix_org_contacts_org ON organization_contacts (organization_id);
CREATE INDEX IF NOT EXISTS ix_members_number ON members (member_number);
CREATE INDEX IF NOT EXISTS ix_employments_member ON member_employments (member_id);
CREATE INDEX IF NOT EXISTS ix_employments_org ON member_employments (organization_id);
CREATE INDEX IF NOT EXISTS ix_students_member ON students (member_id);
CREATE INDEX IF NOT EXISTS ix_students_email ON students (email);
CREATE INDEX IF NOT EXISTS ix_attachments_record ON file_attachments (record_type, record_id);
