"""Change notifications for GraphQL subscriptions (api/subscriptions): statement-level triggers
that pg_notify what changed on the channel `rendezvous_changes`.

They run inside the writing transaction, so PostgreSQL delivers them at commit and drops them
on rollback, whatever wrote the rows (the one-statement booking path, the set-based expiry
sweep, the ORM, the admin), and they cost the writer no extra round trip. Identical payloads
within one transaction are delivered once. Payloads are `<kind>:<item>,<item>,...`, at most
about 7,000 bytes each (the limit is 8,000), one notification per chunk:

- `p:<provider id>`: that provider's bookable slots may have changed;
- `u:<user id>`: that user's working hours, time off or connected calendars changed (slots of
  the provider who is that user);
- `g:0`: the global booking policy changed (every provider's slots);
- `r:<reservation id>.<client id>.<provider id>`: that reservation changed;
- `R:<microseconds since the epoch>`: more than 1,000 reservations changed in one statement (a
  bulk sweep): listeners re-read what changed since that time (the transaction's start, by
  `updated_at`) instead of hearing each row;
- `e:<event id>`: that event changed;
- `t:<api token id>` / `a:<event access token id>`: that token changed (revoked, deleted);
- `s:<md5 of a session key>`: that session ended (signed out, rotated, cleared);
- `w:<user id>`: that user was deactivated (their connections close).
"""

from django.db import migrations

CHANNEL = "rendezvous_changes"

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION rendezvous_notify(kind text, items text[]) RETURNS void
LANGUAGE sql AS $$
    SELECT count(pg_notify('{CHANNEL}', kind || ':' || chunk))::int * 0
    FROM (
        SELECT string_agg(item, ',') AS chunk
        FROM (SELECT item, (row_number() OVER () - 1) / 250 AS grp
              FROM unnest(items) AS item WHERE item IS NOT NULL) AS numbered
        GROUP BY grp
    ) AS chunks
$$;

-- Reservations: which providers' slots (only when what blocks time changed) and which rows
-- (past 1,000 rows in one statement, one `R:` with the transaction's start instead).
CREATE OR REPLACE FUNCTION rendezvous_reservation_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its operation has (a DELETE has no
    -- new_rows, and a query naming it fails even where it would not be reached).
    IF TG_OP = 'DELETE' THEN
        PERFORM rendezvous_notify('p', array(
            SELECT DISTINCT provider_id::text FROM old_rows
            WHERE status IN ('HELD', 'CONFIRMED')));
    ELSIF (SELECT count(*) > 1000 FROM new_rows) THEN
        PERFORM rendezvous_notify('p', array(
            SELECT DISTINCT provider_id::text FROM new_rows));
        IF TG_OP = 'UPDATE' THEN
            PERFORM rendezvous_notify('p', array(
                SELECT DISTINCT provider_id::text FROM old_rows));
        END IF;
        PERFORM pg_notify('{CHANNEL}', 'R:' ||
            (extract(epoch FROM transaction_timestamp()) * 1000000)::bigint);
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM rendezvous_notify('p', array(
            SELECT DISTINCT provider_id::text FROM new_rows
            WHERE status IN ('HELD', 'CONFIRMED')));
        PERFORM rendezvous_notify('r', array(
            SELECT id || '.' || client_id || '.' || provider_id FROM new_rows));
    ELSE
        PERFORM rendezvous_notify('p', array(
            SELECT DISTINCT v.provider_id::text
            FROM new_rows AS n JOIN old_rows AS o USING (id),
                LATERAL (VALUES (n.provider_id), (o.provider_id)) AS v(provider_id)
            WHERE (n.status, n.start, n."end", n.expires_at, n.provider_id)
                IS DISTINCT FROM (o.status, o.start, o."end", o.expires_at, o.provider_id)));
        PERFORM rendezvous_notify('r', array(
            SELECT n.id || '.' || n.client_id || '.' || n.provider_id
            FROM new_rows AS n JOIN old_rows AS o USING (id)
            WHERE n.* IS DISTINCT FROM o.*));
    END IF;
    RETURN NULL;
END $$;

-- Rows that belong to a provider (windows, policy, coach assignments, the provider itself) or
-- to a user (working hours, time off, connected calendars' busy time), events and tokens:
-- TG_ARGV[0] is the kind, TG_ARGV[1] the column holding the id (NULL: `g:0`).
CREATE OR REPLACE FUNCTION rendezvous_rows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids text[];
    has_null boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('SELECT array(SELECT DISTINCT %1$I::text FROM new_rows),
                        bool_or(%1$I IS NULL) FROM new_rows', TG_ARGV[1])
            INTO ids, has_null;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format('SELECT array(SELECT DISTINCT x::text FROM (
                            SELECT %1$I AS x FROM new_rows UNION SELECT %1$I FROM old_rows) AS u),
                        (SELECT bool_or(%1$I IS NULL) FROM new_rows)
                            OR (SELECT bool_or(%1$I IS NULL) FROM old_rows)', TG_ARGV[1])
            INTO ids, has_null;
    ELSE
        EXECUTE format('SELECT array(SELECT DISTINCT %1$I::text FROM old_rows),
                        bool_or(%1$I IS NULL) FROM old_rows', TG_ARGV[1])
            INTO ids, has_null;
    END IF;
    PERFORM rendezvous_notify(TG_ARGV[0], ids);
    IF has_null THEN
        PERFORM rendezvous_notify('g', ARRAY['0']);
    END IF;
    RETURN NULL;
END $$;
"""

# A session deleted (sign-out, a new key at sign-in, clearsessions): its key's digest only.
SESSIONS = f"""
CREATE OR REPLACE FUNCTION rendezvous_session_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rendezvous_notify('s', array(SELECT md5(session_key) FROM old_rows));
    RETURN NULL;
END $$;
CREATE TRIGGER rendezvous_delete_notify AFTER DELETE ON django_session
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rendezvous_session_ended();
"""

# A user deactivated: a row trigger, as it is rare and only this one column matters (sign-ins
# update the row too, and need not wake anyone).
USERS = """
CREATE OR REPLACE FUNCTION rendezvous_user_deactivated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rendezvous_notify('w', ARRAY[NEW.id::text]);
    RETURN NULL;
END $$;
CREATE TRIGGER rendezvous_deactivated_notify AFTER UPDATE OF is_active ON reservation_user
FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
EXECUTE FUNCTION rendezvous_user_deactivated();
"""

# (table, kind, column)
WATCHED = [
    ("reservation_availabilitywindow", "p", "provider_id"),
    ("reservation_bookingpolicy", "p", "provider_id"),
    ("reservation_coachassignment", "p", "provider_id"),
    ("reservation_provider", "p", "id"),
    ("reservation_workinghours", "u", "user_id"),
    ("reservation_timeoff", "u", "user_id"),
    ("reservation_externalbusy", "u", "user_id"),
    ("reservation_event", "e", "id"),
    ("reservation_apitoken", "t", "id"),
    ("reservation_eventaccesstoken", "a", "id"),
]


def _triggers(table: str, function: str, args: str = "") -> str:
    return "\n".join(
        f"CREATE TRIGGER rendezvous_{op.lower()}_notify AFTER {op} ON {table} "
        f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {function}({args});"
        for op, refs in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        )
    )


def _drop(table: str) -> str:
    return "\n".join(
        f"DROP TRIGGER IF EXISTS rendezvous_{op}_notify ON {table};"
        for op in ("insert", "update", "delete")
    )


FORWARD = "\n".join(
    [
        FUNCTIONS,
        _triggers("reservation_reservation", "rendezvous_reservation_changed"),
        *(
            _triggers(table, "rendezvous_rows_changed", f"'{kind}', '{column}'")
            for table, kind, column in WATCHED
        ),
        SESSIONS,
        USERS,
    ]
)
BACKWARD = "\n".join(
    [
        _drop("reservation_reservation"),
        *(_drop(table) for table, _, _ in WATCHED),
        "DROP TRIGGER IF EXISTS rendezvous_delete_notify ON django_session;",
        "DROP TRIGGER IF EXISTS rendezvous_deactivated_notify ON reservation_user;",
        "DROP FUNCTION IF EXISTS rendezvous_user_deactivated();",
        "DROP FUNCTION IF EXISTS rendezvous_session_ended();",
        "DROP FUNCTION IF EXISTS rendezvous_reservation_changed();",
        "DROP FUNCTION IF EXISTS rendezvous_rows_changed();",
        "DROP FUNCTION IF EXISTS rendezvous_notify(text, text[]);",
    ]
)


class Migration(migrations.Migration):
    dependencies = [("reservation", "0015_sweep_lean_indexes"), ("sessions", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
