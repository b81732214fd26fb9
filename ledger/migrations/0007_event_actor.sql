-- Who recorded each event (ledger/actor.py): canonical JSON covered by the event's hash
-- (ledger/store.py chain_hash), and the actor's id beside it for lists that filter by it.
-- Events recorded before this have neither, and their hashes are unchanged.
ALTER TABLE events ADD COLUMN metadata bytea;
ALTER TABLE events ADD COLUMN actor_id uuid;
CREATE INDEX events_actor ON events (actor_id, stream_id) WHERE actor_id IS NOT NULL;
