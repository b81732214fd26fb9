-- Double-entry postings (ARCHITECTURE.md decision 7). Each journal entry is
-- caused by one event (its log position) and belongs to one institution and
-- currency; its postings sum to zero. Debits are positive, credits negative.
CREATE TABLE journal_entries (
    position        bigint  NOT NULL,
    seq             integer NOT NULL,
    institution_id  uuid    NOT NULL,
    currency        text    NOT NULL,
    entry_date      date    NOT NULL,
    kind            text    NOT NULL,
    description     text    NOT NULL,
    stream_id       uuid    NOT NULL,
    reverses_position bigint,
    reverses_seq    integer,
    PRIMARY KEY (position, seq)
);
CREATE INDEX journal_entries_institution ON journal_entries (institution_id, entry_date);

CREATE TABLE postings (
    position   bigint  NOT NULL,
    seq        integer NOT NULL,
    line       integer NOT NULL,
    account    text    NOT NULL,
    amount_fen bigint  NOT NULL CHECK (amount_fen <> 0),
    PRIMARY KEY (position, seq, line),
    FOREIGN KEY (position, seq) REFERENCES journal_entries (position, seq)
);
CREATE INDEX postings_account ON postings (account);

-- Rule entry_balanced: the database refuses an unbalanced entry, whatever wrote it.
CREATE FUNCTION postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT position, seq, sum(amount_fen) AS total INTO bad
      FROM new_postings GROUP BY position, seq HAVING sum(amount_fen) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry_balanced: journal entry (%, %) does not balance: postings sum to % fen',
            bad.position, bad.seq, bad.total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER postings_balanced AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION postings_balanced();
