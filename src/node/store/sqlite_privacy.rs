//! The privacy ledger and data-request queue of the [`SqliteStore`] (schema version 2
//! tables `privacy_budgets` and `data_requests`; version 3 adds each budget's RDP total).
//!
//! A charge is read, checked and written in one `IMMEDIATE` transaction that is committed
//! before `charge_budget` returns, so a node killed at any moment after a release left has
//! the charge on disk, and concurrent charges (threads or processes) are serialised.

use super::ledger::{
    Charge, Decision, NewRequest, PrivacyStore, check_new_request, check_pending, check_text,
    decided, plan_charge, policy_allowing, raised_cap,
};
use super::{SqliteStore, StoreError};
use crate::privacy::{Budget, ReleaseCost, Spend};
use crate::protocol::{
    AccessPolicy, BudgetLine, BudgetScope, DataRequest, ObjectId, RequestKind, RequestStatus,
};
use crate::tensor::wire::{WireLimits, decode_exact, encode};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

/// The tables schema version 2 adds to version 1.
pub(super) const SCHEMA_V2_ADDITIONS: &str = "
CREATE TABLE privacy_budgets (
    user          TEXT NOT NULL,   -- '' for all users
    dataset       TEXT NOT NULL,   -- '' for all datasets, else 32 hex digits
    cap_epsilon   REAL NOT NULL,
    cap_delta     REAL NOT NULL,
    spent_epsilon REAL NOT NULL,
    spent_delta   REAL NOT NULL,
    PRIMARY KEY (user, dataset)
) STRICT;

CREATE TABLE data_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user       TEXT NOT NULL,
    object     TEXT NOT NULL,
    dataset    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('raw', 'budget')),
    epsilon    REAL,              -- the extra budget of a 'budget' request
    delta      REAL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    decided_by TEXT,
    note       TEXT NOT NULL
) STRICT;

CREATE INDEX data_requests_by_user ON data_requests (user, status);
";

fn scope_keys(scope: &BudgetScope) -> (String, String) {
    (
        scope.user.clone().unwrap_or_default(),
        scope.dataset.map(|d| d.to_string()).unwrap_or_default(),
    )
}

fn parse_id(text: &str, what: &str) -> Result<ObjectId, StoreError> {
    text.parse().map_err(|e| StoreError::corrupt(what, e))
}

fn budget(epsilon: f64, delta: f64, what: &str) -> Result<Budget, StoreError> {
    Budget::new(epsilon, delta).map_err(|e| StoreError::corrupt(what, e))
}

/// The RDP total as stored: `NULL` when RDP accounting is off, else little-endian f64s (none
/// for the zero curve).
fn rdp_bytes(spend: &Spend) -> Option<Vec<u8>> {
    spend
        .rdp()
        .map(|curve| curve.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn read_rdp(bytes: Option<Vec<u8>>, what: &str) -> Result<Option<Vec<f64>>, StoreError> {
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    if bytes.len() % 8 != 0 {
        return Err(StoreError::corrupt(what, "RDP total is not whole f64s"));
    }
    Ok(Some(
        bytes
            .chunks_exact(8)
            .map(|w| f64::from_le_bytes(w.try_into().unwrap_or_default()))
            .collect(),
    ))
}

fn read_line(row: &Row<'_>) -> rusqlite::Result<Result<BudgetLine, StoreError>> {
    let (user, dataset): (String, String) = (row.get(0)?, row.get(1)?);
    let numbers: [f64; 4] = [row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?];
    let rdp: Option<Vec<u8>> = row.get(6)?;
    Ok((|| {
        let what = format!("budget ({user:?}, {dataset:?})");
        Ok(BudgetLine {
            scope: BudgetScope {
                user: (!user.is_empty()).then_some(user.clone()),
                dataset: if dataset.is_empty() {
                    None
                } else {
                    Some(parse_id(&dataset, &what)?)
                },
            },
            cap: budget(numbers[0], numbers[1], &what)?,
            spent: Spend::from_parts(
                budget(numbers[2], numbers[3], &what)?,
                read_rdp(rdp, &what)?,
            )
            .map_err(|e| StoreError::corrupt(&what, e))?,
        })
    })())
}

fn all_lines(conn: &Connection) -> Result<Vec<BudgetLine>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT user, dataset, cap_epsilon, cap_delta, spent_epsilon, spent_delta, spent_rdp
         FROM privacy_budgets ORDER BY user, dataset",
    )?;
    let rows = select.query_map([], read_line)?;
    let mut lines = Vec::new();
    for row in rows {
        lines.push(row??);
    }
    // The same order as the memory store (by scope).
    lines.sort_by(|a, b| a.scope.cmp(&b.scope));
    Ok(lines)
}

fn write_line(conn: &Connection, line: &BudgetLine) -> Result<(), StoreError> {
    let (user, dataset) = scope_keys(&line.scope);
    conn.prepare_cached(
        "INSERT INTO privacy_budgets
             (user, dataset, cap_epsilon, cap_delta, spent_epsilon, spent_delta, spent_rdp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (user, dataset) DO UPDATE SET
             cap_epsilon = excluded.cap_epsilon, cap_delta = excluded.cap_delta,
             spent_epsilon = excluded.spent_epsilon, spent_delta = excluded.spent_delta,
             spent_rdp = excluded.spent_rdp",
    )?
    .execute(params![
        user,
        dataset,
        line.cap.epsilon,
        line.cap.delta,
        line.spent.basic().epsilon,
        line.spent.basic().delta,
        rdp_bytes(&line.spent)
    ])?;
    Ok(())
}

/// Schema version 3: the RDP total of every budget (`NULL`: RDP accounting off). Budgets
/// carried over with something spent keep basic composition only, since what they were
/// charged for is not known; untouched ones start with the zero curve.
pub(super) const SCHEMA_V3_CHANGES: &str = "
ALTER TABLE privacy_budgets ADD COLUMN spent_rdp BLOB;
UPDATE privacy_budgets SET spent_rdp = X'' WHERE spent_epsilon = 0 AND spent_delta = 0;
";

const REQUEST_COLUMNS: &str =
    "id, user, object, dataset, reason, kind, epsilon, delta, status, decided_by, note";

type RawRequest = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<f64>,
    Option<f64>,
    String,
    Option<String>,
    String,
);

fn read_raw_request(row: &Row<'_>) -> rusqlite::Result<RawRequest> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
    ))
}

fn decode_request(raw: RawRequest) -> Result<DataRequest, StoreError> {
    let (id, user, object, dataset, reason, kind, epsilon, delta, status, decided_by, note) = raw;
    let what = format!("data request {id}");
    let kind = match (kind.as_str(), epsilon, delta) {
        ("raw", _, _) => RequestKind::RawAccess,
        ("budget", Some(e), Some(d)) => RequestKind::Budget(budget(e, d, &what)?),
        _ => return Err(StoreError::corrupt(&what, "bad kind or budget")),
    };
    let status = match status.as_str() {
        "pending" => RequestStatus::Pending,
        "approved" => RequestStatus::Approved,
        "denied" => RequestStatus::Denied,
        other => return Err(StoreError::corrupt(&what, format!("status {other:?}"))),
    };
    Ok(DataRequest {
        id: u64::try_from(id).map_err(|e| StoreError::corrupt(&what, e))?,
        user,
        object: parse_id(&object, &what)?,
        dataset: parse_id(&dataset, &what)?,
        reason,
        kind,
        status,
        decided_by,
        note,
    })
}

fn get_request(conn: &Connection, id: i64) -> Result<Option<DataRequest>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {REQUEST_COLUMNS} FROM data_requests WHERE id = ?1"
    ))?
    .query_row([id], read_raw_request)
    .optional()?
    .map(decode_request)
    .transpose()
}

/// Adds `user` to the policy of `dataset`, returning the new policy.
fn widen_policy(
    conn: &Connection,
    dataset: ObjectId,
    user: &str,
) -> Result<AccessPolicy, StoreError> {
    let key = dataset.to_string();
    let blob: Vec<u8> = conn
        .query_row("SELECT policy FROM objects WHERE id = ?1", [&key], |row| {
            row.get(0)
        })
        .optional()?
        .ok_or(StoreError::ObjectNotFound(dataset))?;
    let policy: AccessPolicy = decode_exact(&blob, &WireLimits::default()).map_err(|e| {
        StoreError::corrupt(format!("object {dataset}"), format_args!("policy: {e}"))
    })?;
    let widened = policy_allowing(policy, user);
    conn.execute(
        "UPDATE objects SET policy = ?1 WHERE id = ?2",
        params![encode(&widened), key],
    )?;
    Ok(widened)
}

impl PrivacyStore for SqliteStore {
    fn set_budget(&self, scope: &BudgetScope, cap: Budget) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let spent = all_lines(&tx)?
            .into_iter()
            .find(|l| &l.scope == scope)
            .map_or_else(Spend::none, |l| l.spent);
        write_line(
            &tx,
            &BudgetLine {
                scope: scope.clone(),
                cap,
                spent,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    fn budgets(&self) -> Result<Vec<BudgetLine>, StoreError> {
        all_lines(&self.conn())
    }

    fn charge_budget(
        &self,
        user: &str,
        datasets: &[ObjectId],
        cost: &ReleaseCost,
    ) -> Result<Charge, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut lines = all_lines(&tx)?;
        match plan_charge(&lines, user, datasets, cost) {
            Err(refusal) => Ok(Charge::Refused(refusal)),
            Ok((updates, remaining)) => {
                for (index, spent) in updates {
                    if let Some(line) = lines.get_mut(index) {
                        line.spent = spent;
                        write_line(&tx, line)?;
                    }
                }
                tx.commit()?;
                Ok(Charge::Charged { remaining })
            }
        }
    }

    fn file_request(&self, request: NewRequest) -> Result<DataRequest, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending: i64 = tx.query_row(
            "SELECT count(*) FROM data_requests WHERE user = ?1 AND status = 'pending'",
            [&request.user],
            |row| row.get(0),
        )?;
        check_new_request(&request, usize::try_from(pending).unwrap_or(usize::MAX))?;
        let (kind, epsilon, delta) = match request.form.kind {
            RequestKind::RawAccess => ("raw", None, None),
            RequestKind::Budget(b) => ("budget", Some(b.epsilon), Some(b.delta)),
        };
        tx.execute(
            "INSERT INTO data_requests
                 (user, object, dataset, reason, kind, epsilon, delta, status, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', '')",
            params![
                request.user,
                request.form.object.to_string(),
                request.dataset.to_string(),
                request.form.reason,
                kind,
                epsilon,
                delta
            ],
        )?;
        let id = tx.last_insert_rowid();
        let filed = get_request(&tx, id)?
            .ok_or_else(|| StoreError::corrupt("data requests", "inserted row vanished"))?;
        tx.commit()?;
        Ok(filed)
    }

    fn list_requests(&self) -> Result<Vec<DataRequest>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(&format!(
            "SELECT {REQUEST_COLUMNS} FROM data_requests ORDER BY id"
        ))?;
        let rows = select.query_map([], read_raw_request)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode_request(row?)?);
        }
        Ok(out)
    }

    fn decide_request(
        &self,
        id: u64,
        approve: bool,
        note: &str,
        owner: &str,
    ) -> Result<Option<Decision>, StoreError> {
        check_text("note", note)?;
        let Ok(key) = i64::try_from(id) else {
            return Ok(None);
        };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(request) = get_request(&tx, key)? else {
            return Ok(None);
        };
        check_pending(&request)?;
        let mut policy = None;
        if approve {
            match request.kind {
                RequestKind::RawAccess => {
                    policy = Some(widen_policy(&tx, request.dataset, &request.user)?);
                }
                RequestKind::Budget(extra) => {
                    let scope = BudgetScope::user_on(&request.user, request.dataset);
                    let old = all_lines(&tx)?.into_iter().find(|l| l.scope == scope);
                    let line = BudgetLine {
                        cap: raised_cap(old.as_ref(), extra),
                        spent: old.map_or_else(Spend::none, |l| l.spent),
                        scope,
                    };
                    write_line(&tx, &line)?;
                }
            }
        }
        let request = decided(request, approve, note, owner);
        tx.execute(
            "UPDATE data_requests SET status = ?1, decided_by = ?2, note = ?3 WHERE id = ?4",
            params![request.status.as_str(), owner, note, key],
        )?;
        tx.commit()?;
        Ok(Some(Decision { request, policy }))
    }
}
