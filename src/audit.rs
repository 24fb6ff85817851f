//! The audit log: an append-only record of every session lifecycle event, who did it (the
//! actor), to whom (the subject), from where, and how it ended. Rows are written in the same
//! transaction as the change they record, so a change and its record stand or fall together.
//! The database refuses to change rows, and deletes only those older than the retention cut-off
//! (triggers in `migrations/*/0002_accountable_sessions.sql`), which only [`Engine::sweep_audit`]
//! moves.

use crate::clock::Timestamp;
use crate::engine::Engine;
use crate::error::Result;
use crate::ids::{PublicSessionId, UserId};
use crate::model::{AlertKind, ClientMeta, Session};
use crate::store::tally;
use futures_util::stream::{BoxStream, StreamExt};
use sqlx::{Any, Executor};
use std::time::Duration;

stored_enum! {
    /// What happened.
    pub enum AuditKind {
        LoginSucceeded = "login_succeeded",
        /// The attempted email (normalised) is the detail; the password never is.
        LoginFailed = "login_failed",
        /// A login refused by the throttle before its password was checked (not counted as a
        /// failure). The detail is the attempted email.
        LoginThrottled = "login_throttled",
        Registered = "registered",
        Logout = "logout",
        SignedOutEverywhere = "signed_out_everywhere",
        /// A login from the same browser, or a password change, replaced the session.
        SessionRotated = "session_rotated",
        PlatformSwitched = "platform_switched",
        SessionExtended = "session_extended",
        SessionExpired = "session_expired",
        /// The detail says by whom: `user`, `admin`, `eviction`, `password_change`, `user_disabled`,
        /// `fingerprint`.
        SessionRevoked = "session_revoked",
        PasswordChanged = "password_changed",
        Reauthenticated = "reauthenticated",
        UserDisabled = "user_disabled",
        UserEnabled = "user_enabled",
        AdminGranted = "admin_granted",
        AdminRevoked = "admin_revoked",
        CsrfRefused = "csrf_refused",
        /// A signed-in user who is not an administrator asked for an administrator's page or
        /// action (refused). The detail says what.
        AccessDenied = "access_denied",
        /// "This wasn't me": the user disowned one of their sessions and every session of the
        /// account ended. The detail names the disowned session.
        SessionDisowned = "session_disowned",
        /// A session was used from a client unlike the one it began on. The detail is the score,
        /// tier and changed traits as JSON, e.g. `{"score":2,"tier":"medium","changed":["network"]}`.
        FingerprintDrift = "fingerprint_drift",
    }
}

stored_enum! {
    /// Whether the action happened or was refused.
    pub enum Outcome {
        Ok = "ok",
        Refused = "refused",
    }
}

/// One event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub kind: AuditKind,
    /// Who did it (`None`: the system, or the CLI).
    pub actor: Option<UserId>,
    /// Whose account or session it concerns.
    pub subject: Option<UserId>,
    /// The session it concerns (its public id; never a token).
    pub session: Option<PublicSessionId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An event of `kind` that happened, with no actor, subject or client yet.
    pub fn new(kind: AuditKind) -> Self {
        Self {
            kind,
            actor: None,
            subject: None,
            session: None,
            ip: None,
            user_agent: None,
            outcome: Outcome::Ok,
            detail: None,
        }
    }

    /// A user acting in their own session, from `meta`: actor and subject are the session's user.
    pub fn by_session(kind: AuditKind, session: &Session, meta: &ClientMeta) -> Self {
        Self::new(kind)
            .actor(session.user_id)
            .subject(session.user_id)
            .session(session)
            .from(meta)
    }

    pub fn actor(mut self, user: UserId) -> Self {
        self.actor = Some(user);
        self
    }

    pub fn subject(mut self, user: UserId) -> Self {
        self.subject = Some(user);
        self
    }

    pub fn session(mut self, session: &Session) -> Self {
        self.session = Some(session.public_id.clone());
        self
    }

    pub fn from(mut self, meta: &ClientMeta) -> Self {
        self.ip = meta.ip.clone();
        self.user_agent = meta.user_agent.as_ref().map(|ua| ua.chars().take(512).collect());
        self
    }

    pub fn refused(mut self) -> Self {
        self.outcome = Outcome::Refused;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: Timestamp,
    pub entry: AuditEntry,
}

#[derive(sqlx::FromRow)]
struct AuditRecord {
    id: i64,
    at: Timestamp,
    kind: String,
    actor_user_id: Option<UserId>,
    subject_user_id: Option<UserId>,
    session_public_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    outcome: String,
    detail: Option<String>,
}

impl AuditRecord {
    fn event(self) -> Result<AuditEvent> {
        let unreadable = |what: &str, text: &str| crate::Error::Internal(format!("audit row {}: unknown {what} {text:?}", self.id));
        Ok(AuditEvent {
            id: self.id,
            at: self.at,
            entry: AuditEntry {
                kind: AuditKind::parse(&self.kind).ok_or_else(|| unreadable("kind", &self.kind))?,
                actor: self.actor_user_id,
                subject: self.subject_user_id,
                session: self.session_public_id.and_then(|s| PublicSessionId::parse(&s).ok()),
                ip: self.ip,
                user_agent: self.user_agent,
                outcome: Outcome::parse(&self.outcome).ok_or_else(|| unreadable("outcome", &self.outcome))?,
                detail: self.detail,
            },
        })
    }
}

const AUDIT_COLUMNS: &str = "id, at, kind, actor_user_id, subject_user_id, session_public_id, ip, user_agent, outcome, detail";

/// `INSERT` of one audit entry whose values are the binds `$first` to `$first + 8`, as a
/// `SELECT` followed by `then` (for example `" WHERE changes() = 1"`, to write it only if the
/// statement before it changed a row). Bind the values with [`bind_entry!`].
pub(crate) fn insert_entry_sql(first: usize, then: &str) -> String {
    let values: Vec<String> = (first..first + 9).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO audit_events (at, kind, actor_user_id, subject_user_id, session_public_id, ip, user_agent, outcome, detail) \
         SELECT {}{then}",
        values.join(", ")
    )
}

/// Binds an entry's values, in the order [`insert_entry_sql`] names them, to a query (`query`
/// or `query_as`) whose earlier binds are already in place.
macro_rules! bind_entry {
    ($query:expr, $at:expr, $entry:expr) => {{
        let entry: &$crate::audit::AuditEntry = $entry;
        $query
            .bind($at)
            .bind(entry.kind.as_str())
            .bind(entry.actor)
            .bind(entry.subject)
            .bind(entry.session.as_ref().map($crate::ids::PublicSessionId::as_str))
            .bind(entry.ip.as_deref())
            .bind(entry.user_agent.as_deref())
            .bind(entry.outcome.as_str())
            .bind(entry.detail.as_deref())
    }};
}
pub(crate) use bind_entry;

/// Writes `entry` at `at`, on `exec` (a transaction, so the record goes with the change), and
/// notes it to be counted when the transaction commits ([`Engine::event_counts`]).
pub(crate) async fn record<'e, E: Executor<'e, Database = Any>>(exec: E, at: Timestamp, entry: &AuditEntry) -> Result<()> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_entry_sql(1, ""));
    bind_entry!(sqlx::query(&SQL), at, entry).execute(exec).await?;
    tally::note(slot(entry.kind, entry.outcome));
    Ok(())
}

/// The counter of `kind` with `outcome` in the store's tally.
pub(crate) fn slot(kind: AuditKind, outcome: Outcome) -> usize {
    kind as usize * Outcome::ALL.len() + outcome as usize
}

/// The counter of switches refused because the session had moved on (a version conflict),
/// after those of the events.
pub(crate) const SWITCH_CONFLICTS: usize = AuditKind::ALL.len() * Outcome::ALL.len();

/// The counter of alerts of `kind` raised, after the conflicts.
pub(crate) fn alert_slot(kind: AlertKind) -> usize {
    SWITCH_CONFLICTS + 1 + kind as usize
}
const _: () = assert!(SWITCH_CONFLICTS + 1 + AlertKind::ALL.len() <= tally::SLOTS);

/// How many events of one kind and outcome this process has recorded (committed) since it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCount {
    pub kind: AuditKind,
    pub outcome: Outcome,
    pub count: u64,
}

/// Which events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events whose actor or subject is this user.
    pub user: Option<UserId>,
    pub kind: Option<AuditKind>,
    /// From this time (inclusive).
    pub from: Option<Timestamp>,
    /// Before this time (exclusive).
    pub to: Option<Timestamp>,
    /// Only events older than this id (paging: pass the last id of the previous page).
    pub before_id: Option<i64>,
}

impl AuditFilter {
    /// The query for this filter (newest first, at most `limit` rows), its integer binds in order,
    /// and the kind to bind last, if any.
    fn sql(&self, limit: u32) -> (String, Vec<i64>, Option<&'static str>) {
        let mut clauses = Vec::new();
        let mut binds: Vec<i64> = Vec::new();
        if let Some(user) = self.user {
            binds.push(user.get());
            let n = binds.len();
            clauses.push(format!("(actor_user_id = ${n} OR subject_user_id = ${n})"));
        }
        for (value, clause) in [
            (self.from.map(Timestamp::millis), "at >="),
            (self.to.map(Timestamp::millis), "at <"),
            (self.before_id, "id <"),
        ] {
            if let Some(value) = value {
                binds.push(value);
                clauses.push(format!("{clause} ${}", binds.len()));
            }
        }
        let kind = self.kind.map(AuditKind::as_str);
        if kind.is_some() {
            clauses.push(format!("kind = ${}", binds.len() + 1));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        (
            format!("SELECT {AUDIT_COLUMNS} FROM audit_events{filter} ORDER BY id DESC LIMIT {limit}"),
            binds,
            kind,
        )
    }

    async fn fetch(&self, pool: &sqlx::AnyPool, limit: u32) -> Result<Vec<AuditRecord>> {
        let (sql, binds, kind) = self.sql(limit);
        let mut query = sqlx::query_as::<_, AuditRecord>(&sql);
        for b in binds {
            query = query.bind(b);
        }
        if let Some(kind) = kind {
            query = query.bind(kind);
        }
        Ok(query.fetch_all(pool).await?)
    }
}

impl Engine {
    /// Records one event now, on its own (for events no engine change goes with, such as a
    /// refused CSRF token).
    pub async fn audit(&self, entry: AuditEntry) -> Result<()> {
        record(self.db().writer(), self.now(), &entry).await?;
        self.db().tally().add(slot(entry.kind, entry.outcome), 1);
        Ok(())
    }

    /// Every kind and outcome of event with how many this process has recorded since it began
    /// (committed writes only: the events of a write that rolled back are not counted). For
    /// metrics: logins that succeeded and failed, switches, revocations, expiries, ...
    pub fn event_counts(&self) -> Vec<EventCount> {
        let tally = self.db().tally();
        AuditKind::ALL
            .iter()
            .flat_map(|&kind| Outcome::ALL.iter().map(move |&outcome| (kind, outcome)))
            .map(|(kind, outcome)| EventCount {
                kind,
                outcome,
                count: tally.get(slot(kind, outcome)),
            })
            .collect()
    }

    /// Switches refused because the session had moved on since the tab last saw it (a version
    /// conflict), since the process began.
    pub fn switch_conflicts(&self) -> u64 {
        self.db().tally().get(SWITCH_CONFLICTS)
    }

    /// One page of events, newest first.
    pub async fn audit_events(&self, filter: &AuditFilter, limit: u32) -> Result<Vec<AuditEvent>> {
        filter
            .fetch(self.db().reader(), limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(AuditRecord::event)
            .collect()
    }

    /// Every event the filter selects, newest first, read as a stream (an export does not hold
    /// them all in memory).
    pub fn audit_stream(&self, filter: AuditFilter) -> BoxStream<'static, Result<AuditEvent>> {
        let pool = self.db().reader().clone();
        Box::pin(async_stream(pool, filter))
    }

    /// Deletes events older than `retention` (moving the cut-off the database enforces first),
    /// `batch` rows per statement, so a large backlog never holds the database for long.
    #[tracing::instrument(skip_all)]
    pub async fn sweep_audit(&self, retention: Duration, batch: u32) -> Result<u64> {
        let cutoff = Timestamp(self.now().millis().saturating_sub(retention.as_millis() as i64));
        sqlx::query("UPDATE audit_retention SET delete_before = $1 WHERE id = 1 AND delete_before < $1")
            .bind(cutoff)
            .execute(self.db().writer())
            .await?;
        self.db()
            .delete_in_batches(
                "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
                cutoff,
                batch,
                &|_| {},
            )
            .await
    }
}

/// The rows of `filter`, fetched a page at a time so a connection is not held for the whole
/// export and memory stays flat.
fn async_stream(pool: sqlx::AnyPool, filter: AuditFilter) -> impl futures_util::Stream<Item = Result<AuditEvent>> + Send {
    const PAGE: u32 = 500;
    futures_util::stream::unfold(Some(filter), move |state| {
        let pool = pool.clone();
        async move {
            let filter = state?;
            match filter.fetch(&pool, PAGE).await {
                Err(e) => Some((vec![Err(e)], None)),
                Ok(rows) => {
                    let next = (rows.len() == PAGE as usize).then(|| AuditFilter {
                        before_id: rows.last().map(|r| r.id),
                        ..filter
                    });
                    if rows.is_empty() {
                        return None;
                    }
                    Some((rows.into_iter().map(AuditRecord::event).collect(), next))
                }
            }
        }
    })
    .flat_map(futures_util::stream::iter)
}
