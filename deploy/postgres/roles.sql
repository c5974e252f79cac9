-- The platform's database and its two roles (run as PostgreSQL's superuser, e.g.
-- `sudo -u postgres psql -f deploy/postgres/roles.sql`), then, as the owner,
-- `minetap platform migrate --store postgres://minetap_owner@HOST/minetap`.
-- The owner holds the schema and runs migrations; the ingest (and `inventory --store`) may
-- only INSERT and SELECT: it cannot change or delete what is stored. Set real passwords.
CREATE ROLE minetap_owner LOGIN PASSWORD 'change-me-owner';
CREATE ROLE minetap_ingest LOGIN PASSWORD 'change-me-ingest';
CREATE DATABASE minetap OWNER minetap_owner;
\connect minetap
ALTER DEFAULT PRIVILEGES FOR ROLE minetap_owner IN SCHEMA public
  GRANT SELECT, INSERT ON TABLES TO minetap_ingest;
