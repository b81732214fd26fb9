-- Trigram matching for the lists' text search (projections/lists.py): GIN indexes
-- with gin_trgm_ops serve LIKE/ILIKE substring searches, Chinese included (a
-- trigram of three CJK characters is as good as one of three letters).
-- pg_trgm ships with PostgreSQL (the embedded wheel too) and is a trusted
-- extension, so a database owner without superuser rights may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
