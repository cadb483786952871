//! The report as a table for a terminal and as a self-contained HTML page for a file: no
//! scripts, no external resources, every value HTML-escaped. The report holds no secrets, so
//! neither can these.

use std::fmt::Write as _;

use super::report::{AccountRow, Report};

fn age(days: Option<i64>) -> String {
    days.map(|d| format!("{d}d")).unwrap_or_else(|| "-".into())
}

fn refresh(a: &AccountRow) -> String {
    match &a.refresh_token {
        None => "-".into(),
        // Days left only where the provider has an idle rule (Exact's 30 days).
        Some(r) => match r.days_left {
            Some(left) if left <= 0 => format!("{}d, EXPIRED", r.age_days),
            Some(left) => format!("{}d, {left}d left", r.age_days),
            None => format!("{}d", r.age_days),
        },
    }
}

fn last_use(a: &AccountRow) -> String {
    a.last_use
        .as_ref()
        // A table cell holds an error's class, not its whole text (--json has it whole).
        .map(|u| {
            format!(
                "{} by {} ({}: {})",
                u.at,
                u.by,
                u.action,
                match u.result.split_once(": ") {
                    Some((outcome, why)) =>
                        format!("{outcome}: {}", crate::table::error_class(why)),
                    None => u.result.clone(),
                }
            )
        })
        .unwrap_or_else(|| "never".into())
}

fn cells(a: &AccountRow) -> [String; 9] {
    [
        a.name.clone(),
        a.provider.clone(),
        if a.user.is_empty() {
            "-".into()
        } else {
            a.user.clone()
        },
        age(a.password_age_days),
        age(a.totp_secret_age_days),
        refresh(a),
        format!("{}/{}", a.headless_logons_30d, a.broken_chains_30d),
        if a.secrets.contains_key("client-secret") {
            "yes"
        } else {
            "no"
        }
        .into(),
        last_use(a),
    ]
}

const HEADINGS: [&str; 9] = [
    "ACCOUNT",
    "PROVIDER",
    "USER",
    "PASSWORD",
    "TOTP",
    "REFRESH TOKEN",
    "HEADLESS/BROKEN 30D",
    "CLIENT SECRET",
    "LAST USE",
];

pub fn table(r: &Report) -> String {
    // Fitted to the terminal, '-' for an empty cell, each cell one escaped value
    // (crate::table).
    let mut accounts = crate::table::Table::new(&HEADINGS);
    for a in &r.accounts {
        accounts.row(cells(a).to_vec());
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Keychain {} (key store: {}), {}, {}",
        r.keychain.display(),
        r.key_store,
        crate::output::count(r.accounts.len(), "account", "accounts"),
        r.generated
    );
    if !accounts.is_empty() {
        out.push('\n');
        out.push_str(&accounts.render());
    }
    // Only where several machines used an account: one machine's use is the table's last use.
    let shared: Vec<&AccountRow> = r
        .accounts
        .iter()
        .filter(|a| a.last_use_by_host.len() > 1)
        .collect();
    if !shared.is_empty() {
        let _ = writeln!(out, "\nLast use by host:");
        for a in shared {
            for (host, last) in &a.last_use_by_host {
                let _ = writeln!(out, "  {:<20} {:<20} {last}", a.name, host);
            }
        }
    }
    let _ = writeln!(out, "\nRecipients (config.json {}):", r.config);
    for rc in &r.recipients {
        let _ = writeln!(out, "  {:<8}  {}", rc.role, rc.recipient);
    }
    let _ = writeln!(out, "\nAudit log: {}", log_line(r));
    for p in &r.audit_log.problems {
        let _ = writeln!(out, "  {p}");
    }
    if r.findings.is_empty() {
        let _ = writeln!(out, "\nNo findings.");
    } else {
        let _ = writeln!(out, "\nFINDINGS ({})", r.findings.len());
        for f in &r.findings {
            let _ = writeln!(
                out,
                "  {:<8}  {:<22}  {}{}",
                f.severity.to_string().to_uppercase(),
                f.code,
                if f.accounts.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", crate::output::escape_value(&f.accounts.join(", ")))
                },
                crate::output::escape_value(&f.message)
            );
            let _ = writeln!(
                out,
                "  {:<8}  {:<22}  {}",
                "",
                "",
                crate::output::escape_value(&evidence(f))
            );
        }
    }
    out
}

/// The line under a finding: its ID, the log lines it rests on, how to acknowledge it or who
/// did (the same line `status` prints).
fn evidence(f: &crate::ops::finding::Finding) -> String {
    crate::cmd::status::id_line(f)
}

fn log_line(r: &Report) -> String {
    let l = &r.audit_log;
    match l.status {
        "chain-intact" => format!(
            "hash chain and anchor intact ({} in {}); MACs not checked without the key",
            crate::output::count(l.lines as usize, "line", "lines"),
            crate::output::count(l.files, "file", "files")
        ),
        "intact" => format!(
            "intact ({} in {})",
            crate::output::count(l.lines as usize, "line", "lines"),
            crate::output::count(l.files, "file", "files")
        ),
        "damaged" => format!(
            "DAMAGED ({})",
            crate::output::count(l.problems.len(), "problem", "problems")
        ),
        _ => "not verified (the key was not used)".into(),
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#eee}.critical{background:#f8c0c0}.high{background:#fbd9b0}.medium{background:#fdf2b0}\
.low{background:#e4f0fb}.info{background:#f4f4f4}";

pub fn html(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>keychain audit report</title><style>{STYLE}{}</style></head><body>\n\
<h1>keychain audit report</h1>\n<p id=\"summary\">Keychain <code>{}</code>, key store <b>{}</b>, \
{}, {}; generated {}.</p>\n",
        super::charts::STYLE,
        esc(&r.keychain.display().to_string()),
        esc(&r.key_store.to_string()),
        crate::output::count(r.accounts.len(), "account", "accounts"),
        crate::output::count(r.findings.len(), "finding", "findings"),
        esc(&r.generated)
    );
    // The pictures first: patterns show there; the tables below give every value in words.
    out.push_str(&super::charts::section(r));
    out.push_str("<h2>Accounts</h2>\n<table id=\"accounts\"><tr>");
    for h in HEADINGS {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for a in &r.accounts {
        out.push_str("<tr>");
        for c in cells(a) {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    let _ = writeln!(
        out,
        "<h2>Recipients</h2>\n<p>Every record is encrypted to these keys; config.json is <b id=\"config\">{}</b>.</p>\n<table id=\"recipients\"><tr><th>Role</th><th>Recipient</th></tr>",
        esc(r.config)
    );
    for rc in &r.recipients {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            esc(rc.role),
            esc(&rc.recipient)
        );
    }
    out.push_str("</table>\n");
    let _ = writeln!(
        out,
        "<h2>Audit log</h2>\n<p id=\"audit-log\">{}</p>",
        esc(&log_line(r))
    );
    if !r.audit_log.problems.is_empty() {
        out.push_str("<ul>");
        for p in &r.audit_log.problems {
            let _ = write!(out, "<li>{}</li>", esc(p));
        }
        out.push_str("</ul>\n");
    }
    let _ = writeln!(
        out,
        "<h2>Findings</h2>\n<table id=\"findings\"><tr><th>Severity</th><th>Finding</th><th>Account</th><th>Details</th></tr>"
    );
    for f in &r.findings {
        let sev = f.severity.to_string();
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&sev),
            esc(&sev),
            esc(f.code),
            esc(&if f.accounts.is_empty() {
                "-".to_string()
            } else {
                f.accounts.join(", ")
            }),
            esc(&f.message) + &format!("<br><small>{}</small>", esc(&evidence(f)))
        );
    }
    out.push_str("</table>\n");
    out.push_str("</body></html>\n");
    out
}
