import GRDB

/// The SQLite schema, as an ordered list of migrations.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-event-log-and-oneid") { db in
            try db.execute(sql: """
                CREATE TABLE sources(
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL, write_key TEXT NOT NULL UNIQUE,
                    created_at INTEGER NOT NULL, revoked_at INTEGER);
                CREATE TABLE admin_tokens(
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);
                CREATE TABLE events(
                    seq INTEGER PRIMARY KEY, message_id TEXT, source_id INTEGER NOT NULL,
                    type TEXT NOT NULL, name TEXT, profile_id INTEGER NOT NULL, ts INTEGER NOT NULL,
                    received_at INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0, payload TEXT NOT NULL);
                CREATE UNIQUE INDEX events_message ON events(source_id, message_id) WHERE message_id IS NOT NULL;
                CREATE INDEX events_profile ON events(profile_id, ts);
                CREATE TABLE profiles(
                    id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, merged_into INTEGER);
                CREATE INDEX profiles_merged_into ON profiles(merged_into) WHERE merged_into IS NOT NULL;
                CREATE TABLE identifiers(
                    type TEXT NOT NULL, value TEXT NOT NULL, profile_id INTEGER NOT NULL, linked_at INTEGER NOT NULL,
                    PRIMARY KEY(type, value)) WITHOUT ROWID;
                CREATE INDEX identifiers_profile ON identifiers(profile_id);
                CREATE TABLE traits(
                    profile_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, at INTEGER NOT NULL,
                    PRIMARY KEY(profile_id, key)) WITHOUT ROWID;
                CREATE TABLE merges(
                    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, event_seq INTEGER, survivor INTEGER NOT NULL,
                    loser INTEGER, identifier_type TEXT NOT NULL, identifier_value TEXT NOT NULL,
                    accepted INTEGER NOT NULL, reason TEXT);
                CREATE INDEX merges_survivor ON merges(survivor);
                CREATE INDEX merges_loser ON merges(loser);
                CREATE TABLE quarantine(
                    id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, source_id INTEGER, position INTEGER NOT NULL,
                    code TEXT NOT NULL, field TEXT, message TEXT NOT NULL, payload TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending', resolved_at INTEGER, replayed_seq INTEGER);
                CREATE INDEX quarantine_status ON quarantine(status, id);
                CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-tags") { db in
            try db.execute(sql: """
                CREATE TABLE tag_definitions(
                    tag_id TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL,
                    status TEXT NOT NULL, created_at INTEGER NOT NULL, author TEXT NOT NULL,
                    PRIMARY KEY(tag_id, version)) WITHOUT ROWID;
                CREATE TABLE tag_audit(
                    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                    tag_id TEXT NOT NULL, version INTEGER NOT NULL, before TEXT, after TEXT);
                CREATE INDEX tag_audit_tag ON tag_audit(tag_id, id);
                CREATE TABLE tag_state(
                    tag_id TEXT NOT NULL, profile_id INTEGER NOT NULL, value TEXT NOT NULL, since INTEGER NOT NULL,
                    PRIMARY KEY(tag_id, profile_id)) WITHOUT ROWID;
                CREATE INDEX tag_state_profile ON tag_state(profile_id);
                CREATE TABLE tag_history(
                    id INTEGER PRIMARY KEY, profile_id INTEGER NOT NULL, tag_id TEXT NOT NULL, old TEXT, new TEXT,
                    at INTEGER NOT NULL, cause TEXT NOT NULL, cause_ref INTEGER, recorded_at INTEGER NOT NULL);
                CREATE INDEX tag_history_profile ON tag_history(profile_id, id);
                CREATE INDEX tag_history_tag ON tag_history(tag_id, id);
                """)
        }
        migrator.registerMigration("v3-delivery") { db in
            try db.execute(sql: """
                CREATE TABLE destinations(
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, url TEXT NOT NULL, headers TEXT NOT NULL,
                    secret TEXT NOT NULL, previous_secret TEXT, previous_secret_until INTEGER, template TEXT, purpose TEXT,
                    rate_limit INTEGER,
                    timeout_ms INTEGER NOT NULL, status TEXT NOT NULL, status_reason TEXT,
                    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                CREATE TABLE automations(
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL, trigger TEXT NOT NULL, destination_id INTEGER NOT NULL,
                    enabled INTEGER NOT NULL, created_at INTEGER NOT NULL);
                CREATE TABLE outbox(
                    id INTEGER PRIMARY KEY, destination_id INTEGER NOT NULL, profile_id INTEGER NOT NULL,
                    automation_id INTEGER, type TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL, last_status INTEGER, last_error TEXT, finished_at INTEGER);
                CREATE INDEX outbox_queue ON outbox(destination_id, profile_id, id) WHERE status = 'pending';
                CREATE INDEX outbox_due ON outbox(next_attempt_at, id) WHERE status = 'pending';
                CREATE INDEX outbox_dead ON outbox(destination_id, id) WHERE status = 'dead';
                CREATE TABLE delivery_attempts(
                    id INTEGER PRIMARY KEY, outbox_id INTEGER NOT NULL, destination_id INTEGER NOT NULL,
                    attempt INTEGER NOT NULL, at INTEGER NOT NULL, status INTEGER, latency_ms INTEGER NOT NULL, error TEXT);
                CREATE INDEX delivery_attempts_destination ON delivery_attempts(destination_id, id);
                CREATE INDEX delivery_attempts_outbox ON delivery_attempts(outbox_id, id);
                """)
        }
        // Only the oldest pending message of each (destination, profile) pair is due; the ones behind it wait
        // with `next_attempt_at` at `OutboxMessage.waiting` until it is done. The dispatcher then reads heads
        // only, per destination, however long the queue behind a failing receiver grows.
        migrator.registerMigration("v4-outbox-heads") { db in
            try db.execute(sql: """
                DROP INDEX outbox_due;
                CREATE INDEX outbox_due ON outbox(destination_id, next_attempt_at, id) WHERE status = 'pending';
                CREATE INDEX outbox_finished ON outbox(finished_at) WHERE status IN ('delivered', 'skipped');
                UPDATE outbox SET next_attempt_at = \(OutboxMessage.waiting)
                WHERE status = 'pending' AND EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending'
                    AND p.destination_id = outbox.destination_id AND p.profile_id = outbox.profile_id AND p.id < outbox.id);
                """)
        }
        migrator.registerMigration("v5-history-by-profile-in-bulk") { db in
            // `tag_state` and the history's files by profile and by tag are the history taken in in bulk
            // (`TagStateLog`), not rows and indexes every change updated. Until now `tag_state` held every change.
            // A profile's current tags are read from the engine: `tag_state` needs no index by profile.
            try db.execute(sql: """
                INSERT OR IGNORE INTO counters(name, value)
                VALUES ('tag_state_history_id', (SELECT coalesce(max(id), 0) FROM tag_history));
                INSERT OR IGNORE INTO counters(name, value)
                VALUES ('tag_history_filed_id', (SELECT coalesce(max(id), 0) FROM tag_history));
                DROP INDEX tag_history_profile;
                DROP INDEX tag_history_tag;
                DROP INDEX tag_state_profile;
                CREATE TABLE tag_history_by_profile(
                    profile_id INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY(profile_id, id)) WITHOUT ROWID;
                CREATE TABLE tag_history_by_tag(tag_id TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY(tag_id, id)) WITHOUT ROWID;
                INSERT INTO tag_history_by_profile(profile_id, id)
                SELECT profile_id, id FROM tag_history
                WHERE id <= (SELECT value FROM counters WHERE name = 'tag_history_filed_id') ORDER BY profile_id, id;
                INSERT INTO tag_history_by_tag(tag_id, id)
                SELECT tag_id, id FROM tag_history
                WHERE id <= (SELECT value FROM counters WHERE name = 'tag_history_filed_id') ORDER BY tag_id, id;
                """)
        }
        migrator.registerMigration("v6-events-by-profile-in-bulk") { db in
            // A profile's events are found through a table `EventFiling` fills in bulk, not an index every
            // event updated at a random place. The events after `events_filed_seq` are not in it yet.
            try db.execute(sql: """
                DROP INDEX events_profile;
                CREATE TABLE events_by_profile(
                    profile_id INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
                    PRIMARY KEY(profile_id, ts, seq)) WITHOUT ROWID;
                INSERT INTO events_by_profile(profile_id, ts, seq) SELECT profile_id, ts, seq FROM events ORDER BY profile_id, ts, seq;
                INSERT INTO counters(name, value) VALUES ('events_filed_seq', (SELECT coalesce(max(seq), 0) FROM events))
                ON CONFLICT(name) DO UPDATE SET value = excluded.value;
                """)
        }
        migrator.registerMigration("v7-message-keys-in-runs") { db in
            // Message ids are found through runs of keys written in bulk (`MessageKeys`), not a unique index
            // every event updated at a random place.
            try db.execute(sql: """
                DROP INDEX events_message;
                CREATE TABLE message_keys(
                    run INTEGER NOT NULL, first_key INTEGER NOT NULL, first_seq INTEGER NOT NULL, entries BLOB NOT NULL,
                    PRIMARY KEY(run, first_key, first_seq)) WITHOUT ROWID;
                CREATE TABLE message_key_runs(
                    run INTEGER PRIMARY KEY, level INTEGER NOT NULL, keys INTEGER NOT NULL, filter BLOB NOT NULL);
                """)
            try MessageKeys.fileLog(db)
        }
        migrator.registerMigration("v8-identifiers-appended") { db in
            // Identifiers are found by value in the identity graph (in memory, loaded from this table at a start),
            // so the table needs no key on them: a new visitor's random anonymous id took a page at a random place.
            try db.execute(sql: """
                CREATE TABLE identifiers_appended(
                    id INTEGER PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL, profile_id INTEGER NOT NULL,
                    linked_at INTEGER NOT NULL);
                INSERT INTO identifiers_appended(type, value, profile_id, linked_at)
                SELECT type, value, profile_id, linked_at FROM identifiers ORDER BY profile_id, linked_at;
                DROP TABLE identifiers;
                ALTER TABLE identifiers_appended RENAME TO identifiers;
                CREATE INDEX identifiers_profile ON identifiers(profile_id);
                """)
        }
        migrator.registerMigration("v9-trait-log") { db in
            // Trait writes are appended with their events and folded into `traits` in bulk (`TraitLog`).
            try db.execute(sql: """
                CREATE TABLE trait_log(
                    id INTEGER PRIMARY KEY, profile_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                    at INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v10-tags-saved-by-profile") { db in
            // The stored state is saved a row a profile, written from the engine (`TagStateLog`): a save writes
            // each profile changed since the last once, however many of its tags changed.
            try db.execute(sql: """
                CREATE TABLE profile_tags(profile_id INTEGER PRIMARY KEY, tags TEXT NOT NULL);
                INSERT INTO profile_tags(profile_id, tags)
                SELECT profile_id, json_group_object(tag_id, json_array(json(value), since)) FROM tag_state
                GROUP BY profile_id ORDER BY profile_id;
                DROP TABLE tag_state;
                """)
        }
        migrator.registerMigration("v11-history-files-a-row-a-key-a-filing") { db in
            // A filing of the history writes one row for each profile and for each tag it files, with their
            // history ids (`HistoryFiles`), not one row a change.
            try db.execute(sql: """
                ALTER TABLE tag_history_by_profile RENAME TO tag_history_by_profile_v5;
                ALTER TABLE tag_history_by_tag RENAME TO tag_history_by_tag_v5;
                CREATE TABLE tag_history_by_profile(
                    profile_id INTEGER NOT NULL, first_id INTEGER NOT NULL, ids BLOB NOT NULL,
                    PRIMARY KEY(profile_id, first_id)) WITHOUT ROWID;
                CREATE TABLE tag_history_by_tag(
                    tag_id TEXT NOT NULL, first_id INTEGER NOT NULL, ids BLOB NOT NULL,
                    PRIMARY KEY(tag_id, first_id)) WITHOUT ROWID;
                """)
            try HistoryFiles.refile(.profile, from: "tag_history_by_profile_v5", db)
            try HistoryFiles.refile(.tag, from: "tag_history_by_tag_v5", db)
            try db.execute(sql: "DROP TABLE tag_history_by_profile_v5; DROP TABLE tag_history_by_tag_v5;")
        }
        return migrator
    }
}
