//! The JSON contract: one shape per concept, shared by every command's `--json` document.
//!
//! - Every document is an object whose first field is `"format": 1`, the contract's version;
//!   a change that breaks a reader raises it.
//! - Keys are snake_case; values that name things keychain defines (secret fields, actions,
//!   severities, finding codes) are kebab-case strings, as typed on the command line.
//! - Every time is an RFC 3339 UTC string (`2026-11-30T03:17:00Z`) or `null`.
//! - An account's provider is always the [`provider`] object; its secrets always the
//!   [`secrets`] map; a use or logon always a [`usage`]; a finding always the serialization of
//!   `ops::finding::Finding`; an account's name always `name`, a list of accounts always
//!   `accounts`, an array of objects with their `name`; `ok` in every document.
//! - Under `--json`, an error is one object on standard error (see [`error`]).
//!
//! The schema of each document is kept in `tests/schemas/`; a test validates every `--json`
//! output against it.

use serde_json::{Map, Value, json};

use crate::clock;
use crate::providers::ProviderSettings;
use crate::record::{Header, Rejection, Usage};

/// The contract's version, the first field of every document.
pub const FORMAT: u64 = 1;

/// A document: `{"format": 1, ...fields}`, written pretty with a final newline. Every document
/// says whether the command succeeded (`ok`, issue 23): a command whose answer can be a
/// failure or a finding sets it; any other document is printed only on success, so `ok` is
/// `true` unless given.
pub fn document(fields: Value) -> String {
    let mut fields = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    fields.remove("format");
    fields.entry("ok").or_insert(Value::Bool(true));
    // serde_json sorts keys; "format" is spliced in first so a reader sees the version before
    // anything else.
    let body = serde_json::to_string_pretty(&Value::Object(fields)).expect("JSON of plain values");
    match body.strip_prefix("{\n") {
        Some(rest) => format!("{{\n  \"format\": {FORMAT},\n{rest}\n"),
        None => format!("{{\n  \"format\": {FORMAT}\n}}\n"),
    }
}

/// A time: RFC 3339 UTC.
pub fn time(unix: i64) -> Value {
    json!(clock::rfc3339(unix))
}

/// An optional time: RFC 3339 UTC or `null`.
pub fn time_opt(unix: Option<i64>) -> Value {
    unix.map_or(Value::Null, time)
}

/// A provider: its settings, never a secret. Absent settings are `null`, so every key is always
/// there.
pub fn provider(p: &ProviderSettings) -> Value {
    json!({
        "kind": p.kind,
        "issuer": p.issuer,
        "authorize_url": p.authorize_url,
        "token_url": p.token_url,
        "client_id": p.client_id,
        "redirect_uri": p.redirect_uri,
        "scope": p.scope,
        "flow": p.flow.as_str(),
        "allow_hosts": p.allow_hosts,
        "insecure_http": p.insecure_http,
    })
}

/// The secrets an account holds: `{"password": {"changed": TIME, "age_days": N}, ...}`.
pub fn secrets(h: &Header, now: i64) -> Value {
    let map: Map<String, Value> = h
        .secrets
        .iter()
        .map(|(field, info)| {
            (
                field.as_str().to_string(),
                json!({ "changed": time(info.changed), "age_days": clock::days_between(info.changed, now) }),
            )
        })
        .collect();
    Value::Object(map)
}

/// A use or logon of an account: `{"at", "by", "action", "ok"}`.
pub fn usage(u: Option<&Usage>) -> Value {
    u.map_or(
        Value::Null,
        |u| json!({ "at": time(u.at), "by": u.by, "action": u.action, "ok": u.ok }),
    )
}

/// The lockout guard: `{"at", "by", "step"}` when the provider rejected the credentials.
pub fn rejection(r: Option<&Rejection>) -> Value {
    r.map_or(
        Value::Null,
        |r| json!({ "at": time(r.at), "by": r.by, "step": r.step }),
    )
}

/// An account, from its header: the same shape in `list`, `show` and `export`'s listing.
pub fn account(h: &Header, now: i64) -> Value {
    json!({
        "name": h.name,
        "provider": provider(&h.provider),
        "user": h.user,
        "secrets": secrets(h, now),
        "totp": h.totp.as_ref().map(|t| json!({
            "algorithm": t.algorithm, "digits": t.digits, "period": t.period,
            "issuer": t.issuer, "label": t.label,
        })),
        "created": time(h.created),
        "updated": time(h.updated),
        "access_token_expires_at": time_opt(h.access_token_expires),
        "refresh_token_active": time_opt(h.refresh_token_active),
        "last_use": usage(h.last_use.as_ref()),
        "last_logon": usage(h.last_logon.as_ref()),
        "logon_rejected": rejection(h.logon_rejected.as_ref()),
        "moving_to": h.moved_to,
    })
}

/// Accounts by name, as every document lists them: `[{"name": "a"}, ...]` (issue 23: never
/// bare strings in one document and objects in another).
pub fn names<S: AsRef<str>>(names: &[S]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|n| json!({ "name": n.as_ref() }))
            .collect(),
    )
}

/// A document on one line (a token for a pipe, an error for a reader of standard error that
/// reads line by line), "format" first; `ok` as in [`document`] (an error says `false`).
pub fn line(fields: Value) -> String {
    let mut fields = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    fields.remove("format");
    fields.entry("ok").or_insert(Value::Bool(true));
    let body = Value::Object(fields).to_string();
    match body.strip_prefix('{').filter(|rest| *rest != "}") {
        Some(rest) => format!("{{\"format\":{FORMAT},{rest}\n"),
        None => format!("{{\"format\":{FORMAT}}}\n"),
    }
}

/// The error object written on standard error under `--json`.
pub fn error(exit: i32, code: &str, message: &str, hint: Option<&str>) -> String {
    line(json!({ "ok": false, "exit": exit, "code": code, "message": message, "hint": hint }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_starts_with_its_format() {
        for fields in [
            json!({"b": 1, "a": [1, 2]}),
            json!({}),
            json!({"format": 9}),
        ] {
            let text = document(fields);
            assert!(text.starts_with("{\n  \"format\": 1"), "{text}");
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["format"], 1);
        }
        let error = error(3, "not-found", "no account", None);
        assert!(error.starts_with("{\"format\":1,\"code\""), "{error}");
        assert_eq!(error.lines().count(), 1);
        serde_json::from_str::<Value>(&error).unwrap();
    }
}
