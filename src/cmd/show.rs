//! `keychain show`: one account with a short fingerprint of each secret, or exactly one secret
//! revealed (`ops::show`, where the why of fingerprints is).

use clap::Args;

use secrecy::ExposeSecret;
use serde_json::json;

use crate::clock;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use crate::ops::show::{ShowOptions, Shown, show};
use crate::record::{Account, SecretField};

use super::shared_args::{RevealField, account_name, account_names};

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(add = account_names())]
    pub name: String,
    /// Print exactly this one secret and a newline, for scripts
    #[arg(long, value_enum, value_name = "FIELD")]
    pub reveal: Option<RevealField>,
}

pub fn run(ctx: &Ctx, args: ShowArgs) -> Result<()> {
    let (kc, json) = (&ctx.open()?, ctx.json());
    if json && args.reveal.is_some() {
        return Err(Error::usage(
            "--reveal prints the bare secret; it has no JSON form",
        ));
    }
    let options = ShowOptions {
        name: account_name(&args.name)?,
        reveal: args.reveal.map(SecretField::from),
    };
    match show(kc, &options)? {
        Shown::Secret(value) => {
            let line = zeroize::Zeroizing::new(format!("{}\n", value.expose_secret()));
            crate::output::raw(line.as_bytes())
        }
        Shown::Account {
            account,
            fingerprints,
            now,
        } if json => crate::output::raw(to_json(&account, &fingerprints, now).as_bytes()),
        Shown::Account {
            account,
            fingerprints,
            now,
        } => crate::output::out(&to_text(&account, &fingerprints, now)),
    }
}

fn to_json(account: &Account, fingerprints: &[(SecretField, String)], now: i64) -> String {
    let fingerprints: serde_json::Map<String, serde_json::Value> = fingerprints
        .iter()
        .map(|(f, fp)| (f.as_str().to_string(), json!(fp)))
        .collect();
    let mut doc = crate::json::account(&account.header, now);
    doc["fingerprints"] = serde_json::Value::Object(fingerprints);
    crate::json::document(doc)
}

fn to_text(account: &Account, fingerprints: &[(SecretField, String)], now: i64) -> String {
    let h = &account.header;
    let p = &h.provider;
    let mut out = String::new();
    // Every value is on one line of its own: a line break in it must not start another.
    let mut line =
        |k: &str, v: &str| out.push_str(&format!("{k:<15} {}\n", crate::output::escape_value(v)));
    line("name", &h.name);
    line("provider", p.kind.name());
    for (k, v) in [
        ("issuer", &p.issuer),
        ("authorize-url", &p.authorize_url),
        ("token-url", &p.token_url),
        ("client-id", &p.client_id),
        ("redirect-uri", &p.redirect_uri),
        ("scope", &p.scope),
    ] {
        if let Some(v) = v {
            line(k, v);
        }
    }
    line("flow", &p.flow.to_string());
    if !p.allow_hosts.is_empty() {
        line("allow-hosts", &p.allow_hosts.join(", "));
    }
    if p.insecure_http {
        line(
            "insecure-http",
            "yes: credentials may travel over plain http",
        );
    }
    line("user", &h.user);
    if let Some(t) = &h.totp {
        line(
            "totp",
            &format!("{}, {} digits, {} s", t.algorithm, t.digits, t.period),
        );
    }
    for (field, fingerprint) in fingerprints {
        let age = h
            .secrets
            .get(field)
            .map(|i| clock::age(i.changed, now))
            .unwrap_or_default();
        line(field.as_str(), &format!("{fingerprint}  (set {age} ago)"));
    }
    if let Some(exp) = h.access_token_expires {
        line("token-expires", &clock::rfc3339(exp));
    }
    line("created", &clock::rfc3339(h.created));
    if let Some(u) = &h.last_use {
        line(
            "last-use",
            &format!(
                "{} by {} ({}, {})",
                clock::rfc3339(u.at),
                u.by,
                u.action,
                if u.ok { "ok" } else { "failed" }
            ),
        );
    }
    if let Some(r) = &h.logon_rejected {
        line(
            "logon-rejected",
            &format!(
                "{} by {} ({}): logons refused until 'keychain set' or 'keychain login --retry'",
                clock::rfc3339(r.at),
                r.by,
                r.step
            ),
        );
    }
    out
}
