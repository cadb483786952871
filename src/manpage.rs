//! Man pages rendered from the clap definition plus hand-written sections: `keychain.1` and one
//! page per subcommand. A test regenerates them and fails when the committed ones under `man/`
//! are stale; `keychain man --install` writes the same pages where `man` finds them.
//!
//! Each page: NAME, SYNOPSIS (the command as typed, `keychain login`, with the global options
//! and without a `-V` subcommands do not take), DESCRIPTION, OPTIONS, EXIT STATUS (a tbl table,
//! so roff cannot reflow it), ENVIRONMENT, FILES, EXAMPLES and SEE ALSO naming only pages that
//! exist. `keychain.1` adds COMMANDS, JSON OUTPUT and UNATTENDED USE (cron and systemd).

use std::io::Write;

/// Every page as (file name, roff text).
pub fn render_all() -> Vec<(String, Vec<u8>)> {
    let mut command = crate::cli::command();
    // Built, so that the global options (--dir, --json) appear on every page.
    command.build();
    let mut pages = vec![("keychain.1".to_string(), page(command.clone(), None))];
    for sub in command.get_subcommands() {
        let name = sub.get_name().to_string();
        if name == "help" {
            continue;
        }
        let file = format!("keychain-{name}");
        let sub = sub
            .clone()
            .name(file.clone())
            .bin_name(format!("keychain {name}"))
            .version(env!("CARGO_PKG_VERSION"))
            .disable_version_flag(true);
        pages.push((format!("{file}.1"), page(sub, Some(&name))));
    }
    pages
}

/// The names of the pages (`keychain`, `keychain-login`, ...), for SEE ALSO.
fn page_names() -> Vec<String> {
    let command = crate::cli::command();
    std::iter::once("keychain".to_string())
        .chain(
            command
                .get_subcommands()
                .map(|s| format!("keychain-{}", s.get_name())),
        )
        .collect()
}

fn page(command: clap::Command, sub: Option<&str>) -> Vec<u8> {
    // The footer's centre names the program and version, as git's pages do: the page's own
    // name there ("keychain-git-credential 0.1.0") ran into its name on the right at 80 columns.
    let man = clap_mangen::Man::new(command)
        .date("")
        .source(format!("keychain {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    // Tells man(1) to run the page through tbl(1), for the EXIT STATUS table.
    out.extend_from_slice(b"'\\\" t\n");
    let w: &mut dyn Write = &mut out;
    man.render_title(w)
        // No hyphenation: a command or page name split across lines cannot be copied.
        .and_then(|()| w.write_all(b".nh\n"))
        .and_then(|()| man.render_name_section(w))
        .and_then(|()| man.render_synopsis_section(w))
        .and_then(|()| man.render_description_section(w))
        .and_then(|()| man.render_options_section(w))
        .expect("rendering to memory cannot fail");
    if sub.is_none() {
        man.render_subcommands_section(w)
            .expect("rendering to memory cannot fail");
    }
    let mut roff = String::new();
    exit_status(&mut roff, sub.unwrap_or(""));
    environment(&mut roff);
    files(&mut roff);
    examples(&mut roff, sub.unwrap_or(""));
    if sub == Some("login") {
        section(&mut roff, "JSON OUTPUT", LOGIN_JSON);
    }
    if sub.is_none() {
        section(&mut roff, "JSON OUTPUT", JSON_OUTPUT);
        section(
            &mut roff,
            "UNATTENDED USE (CRON AND SYSTEMD)",
            crate::cli::CRON_HELP,
        );
    }
    see_also(&mut roff, sub);
    out.extend_from_slice(roff.as_bytes());
    out
}

/// Roff text: a backslash, and a dot or quote at the start of a line, would be commands.
fn escape(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e").replace('-', "\\-");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A section of plain paragraphs; an indented line keeps its place (no fill).
fn section(roff: &mut String, title: &str, body: &str) {
    roff.push_str(&format!(
        ".SH \"{title}\"\n.nf\n{}\n.fi\n",
        escape(body.trim_end())
    ));
}

/// The exit codes of a command (`""` for `keychain` itself), as a tbl table.
fn exit_status(roff: &mut String, sub: &str) {
    roff.push_str(".SH \"EXIT STATUS\"\n.TS\ntab(|);\nl lx.\n");
    for (code, text) in exit_codes(sub) {
        roff.push_str(&format!("{code}|T{{\n{}\nT}}\n", escape(&text)));
    }
    roff.push_str(".TE\n");
}

/// Per command: the codes it can exit with and what each means for it. `keychain.1` lists the
/// whole table (`keychain_core::exit::STATUSES`); a command's page lists the codes of the table
/// it can exit with, each in the table's words unless the command has more to say (exec adds
/// "other", the program's own status).
pub fn exit_codes(sub: &str) -> Vec<(String, String)> {
    use keychain_core::exit;
    if sub.is_empty() {
        return exit::STATUSES
            .iter()
            .map(|s| (s.code.to_string(), s.meaning.to_string()))
            .collect();
    }
    // (code, what it means for this command; None: the table's words).
    let mut codes: Vec<(i32, Option<&str>)> = vec![(exit::OK, None)];
    let named = matches!(
        sub,
        "show"
            | "set"
            | "totp"
            | "rm"
            | "mv"
            | "login"
            | "exec"
            | "refresh"
            | "read"
            | "inject"
            | "git-credential"
            | "kube-credential"
    );
    // The commands that obtain a token as login does.
    let logs_on = matches!(
        sub,
        "login" | "exec" | "refresh" | "read" | "inject" | "git-credential" | "kube-credential"
    );
    match sub {
        "status" => {
            codes[0] = (0, Some("ok: nothing found that would stop a job"));
            codes.push((
                1,
                Some("warning: a job will soon fail or needs a person (each finding is listed)"),
            ));
            codes.push((
                2,
                Some("critical: a job would fail (each finding is listed)"),
            ));
            codes.push((3, Some("unknown: the check could not be made (a shared store that does not answer, no keychain, no such account or no match for a pattern)")));
        }
        "audit" => {
            codes.push((1, Some("audit report: a finding at or above --fail-on; audit fingerprint: the value is not the current one")));
        }
        "scan" => codes.push((1, Some("plain-text secrets were found"))),
        _ => {}
    }
    if sub == "status" {
        // The monitoring plugins' convention: nothing else, whatever went wrong.
        codes.push((
            exit::PIPE,
            Some("standard output was closed by its reader (| head)"),
        ));
        return table_words(codes);
    }
    codes.push(match sub {
        "rm" => (2, Some("usage error or bad input; or the removal was not confirmed")),
        "import" => (2, Some("usage error or bad input; an account was refused, or --strip left a secret in the file")),
        "scan" => (2, Some("a file is not well-formed XML or has a DTD (the others are still scanned)")),
        "login" | "exec" | "refresh" => (2, Some("usage error, or the account cannot log on as configured (no password and no usable refresh token, no client id or redirect URI; a TOTP secret or client secret the provider asks for; a credential would go to a host the account does not allow); the hint names the account")),
        "read" | "inject" => (2, Some("usage error; a reference that is not one (an unknown field, a bad account name, no '}}' on its line, the line named) or a field the account does not hold; or the account cannot log on as configured. inject then writes nothing")),
        "git-credential" => (2, Some("usage error; git asked for a protocol, host, port or path not given with --url (nothing is printed, so git gets no credential); or the account cannot log on as configured")),
        "kube-credential" => (2, Some("usage error; kubectl asked for an ExecCredential apiVersion other than client.authentication.k8s.io/v1 or v1beta1; or the account cannot log on as configured")),
        _ => (2, Some("usage error or bad input (a flag, a file's content, a missing secret)")),
    });
    if named || sub == "audit" {
        codes.push((exit::NOT_FOUND, Some("no such account")));
    }
    if logs_on {
        codes.push((4, Some("the provider rejected the password or one-time code: a person must act; later logons are refused until 'keychain set' or one 'keychain login --retry'")));
        codes.push((5, Some("the provider is unreachable, timed out, rate-limited, answered 5xx, or refused a refresh for another reason than a dead grant (the refresh token is kept)")));
    }
    if !matches!(sub, "scan" | "completions" | "man") {
        codes.push((exit::LOCKED, None));
        codes.push((exit::INTEGRITY, None));
    }
    codes.push((exit::IO, None));
    if sub == "exec" {
        codes.push((exit::CANNOT_RUN, None));
        codes.push((exit::NO_PROGRAM, None));
    }
    codes.push((exit::PIPE, None));
    let mut rows = table_words(codes);
    if sub == "exec" {
        let pipe = rows.pop().expect("141 is listed");
        rows.push((
            "other".to_string(),
            "the program's own exit status, or 128 + the signal that ended it".to_string(),
        ));
        rows.push(pipe);
    }
    rows
}

/// Rows of [`exit_codes`]: a code without words of its own gets the table's.
fn table_words(codes: Vec<(i32, Option<&str>)>) -> Vec<(String, String)> {
    codes
        .into_iter()
        .map(|(code, text)| {
            let text = text
                .or_else(|| keychain_core::exit::meaning(code))
                .expect("every code listed is in keychain_core::exit::STATUSES");
            (code.to_string(), text.to_string())
        })
        .collect()
}

fn environment(roff: &mut String) {
    roff.push_str(".SH ENVIRONMENT\n");
    for (name, text) in environment_variables() {
        roff.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(&name),
            escape(&text)
        ));
    }
}

/// Every environment variable keychain reads, with what it does: first those of the global
/// options, taken from the clap definition (`#[arg(env)]`, the same text `--help` shows), then
/// the ones no option stands for.
pub fn environment_variables() -> Vec<(String, String)> {
    let command = crate::cli::command();
    let mut vars: Vec<(String, String)> = command
        .get_arguments()
        // A hidden option is for tests; its variable is not documented either.
        .filter(|arg| !arg.is_hide_set())
        .filter_map(|arg| {
            let name = arg.get_env()?.to_string_lossy().into_owned();
            let help = arg.get_long_help().or(arg.get_help())?.to_string();
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            let text = match arg.get_long() {
                Some(long) => format!("as --{long}: {help}"),
                None => help,
            };
            Some((name, text))
        })
        .collect();
    vars.extend(
        OTHER_ENVIRONMENT
            .iter()
            .map(|(name, text)| (name.to_string(), text.to_string())),
    );
    vars
}

/// The environment variables that no option stands for.
const OTHER_ENVIRONMENT: [(&str, &str); 6] = [
    (
        "KEYCHAIN_FORMAT",
        "json: the commands that print a document print JSON, as with --json; text or empty: human output. Only a default: a bare value (login's token in any --format, totp, show --reveal, read, inject, man, completions, exec's program) is never turned into JSON, and an explicit --json always applies",
    ),
    (
        "CREDENTIALS_DIRECTORY",
        "set by systemd for a service with LoadCredentialEncrypted=keychain-identity:FILE (the identity, read first: no passphrase, no key derivation) or LoadCredential=keychain-passphrase:FILE (the passphrase)",
    ),
    (
        "KEYCHAIN_COMPLETE",
        "set by the completion script of keychain completions SHELL: the call answers a Tab",
    ),
    (
        "KEYCHAIN_EXEC_ACCOUNT",
        "set by keychain exec in the program's environment (the accounts used); a nested keychain exec refuses",
    ),
    (
        "NO_COLOR",
        "when set and not empty, no colours (https://no-color.org); colours are used only on a terminal",
    ),
    (
        "COLUMNS",
        "the width tables are fitted to; without it, the terminal's width, or whole values in a pipe",
    ),
];

fn files(roff: &mut String) {
    roff.push_str(".SH FILES\n");
    for (name, text) in FILES {
        roff.push_str(&format!(
            ".TP\n\\fI{}\\fR\n{}\n",
            escape(name),
            escape(text)
        ));
    }
}

const FILES: [(&str, &str); 7] = [
    (
        "$KEYCHAIN_DIR/config.json",
        "the key store chosen at init and the public keys every record is encrypted to",
    ),
    (
        "$KEYCHAIN_DIR/accounts/NAME.kcr",
        "one account: a public, authenticated header and an age-encrypted payload (mode 0600)",
    ),
    (
        "$KEYCHAIN_DIR/audit.log, audit.log.N",
        "the audit log, hash-chained and MACed; rotated files keep the chain",
    ),
    (
        "$KEYCHAIN_DIR/audit.anchor",
        "the log's length, last hash and current key (mode 0600)",
    ),
    (
        "$KEYCHAIN_DIR/audit.index",
        "every account's last write counter up to a line of the log, MACed: what the replay check reads instead of the whole log; rebuilt from the log when deleted (mode 0600)",
    ),
    (
        "$KEYCHAIN_DIR/identity.age, identity.txt",
        "the identity of a passphrase or file key store",
    ),
    (
        "~/.local/share/man/man1",
        "where keychain man --install puts these pages by default",
    ),
];

/// EXAMPLES: the command's own from the one table (`cli::EXAMPLES`), then its subcommands'.
fn examples(roff: &mut String, sub: &str) {
    let mut lines: Vec<&str> = crate::cli::examples(sub).to_vec();
    if !sub.is_empty() {
        let nested = format!("{sub} ");
        for (_, more) in crate::cli::EXAMPLES
            .iter()
            .filter(|(name, _)| name.starts_with(&nested))
        {
            lines.extend(
                more.iter()
                    .filter(|line| !lines.contains(line))
                    .collect::<Vec<_>>(),
            );
        }
    }
    if lines.is_empty() {
        return;
    }
    roff.push_str(".SH EXAMPLES\n.nf\n");
    for line in lines {
        roff.push_str(&format!("{}\n", escape(line)));
    }
    roff.push_str(".fi\n");
}

fn see_also(roff: &mut String, sub: Option<&str>) {
    let this = sub.map_or("keychain".to_string(), |s| format!("keychain-{s}"));
    let related: &[&str] = match sub {
        None => &[
            "keychain-status",
            "keychain-login",
            "keychain-exec",
            "keychain-audit",
        ],
        Some("login") | Some("exec") => &[
            "keychain",
            "keychain-status",
            "keychain-refresh",
            "keychain-set",
        ],
        Some("status") => &[
            "keychain",
            "keychain-refresh",
            "keychain-unlock",
            "keychain-audit",
        ],
        Some("mv") | Some("rm") | Some("set") | Some("add") | Some("show") => {
            &["keychain", "keychain-list", "keychain-audit"]
        }
        _ => &["keychain", "keychain-status"],
    };
    let existing = page_names();
    let names: Vec<String> = related
        .iter()
        .filter(|n| **n != this && existing.iter().any(|e| e == *n))
        .map(|n| format!("\\fB{}\\fR(1)", escape(n)))
        .collect();
    roff.push_str(&format!(".SH \"SEE ALSO\"\n{}\n", names.join(", ")));
}

/// What `login --json` prints.
const LOGIN_JSON: &str = "\
login --json (or --format json) prints one line:
  {\"format\":1,\"access_token\":\"...\",\"expires_at\":\"2026-11-30T03:27:00Z\",
   \"expires_in\":600,\"scope\":\"...\",\"token_type\":\"bearer\"}
expires_at is RFC 3339 UTC or null, expires_in whole seconds or null; see keychain(1),
JSON OUTPUT, for the contract every document follows.";

/// The JSON contract, for `keychain.1`.
const JSON_OUTPUT: &str = "\
--json makes every command that prints a document write one JSON document on standard
output, and an error one JSON object on one line of standard error; KEYCHAIN_FORMAT=json
makes it the default of those commands. A bare value (login's token, totp, read, show
--reveal) stays bare under KEYCHAIN_FORMAT=json; --json gives the JSON form of login and
totp, and is refused (exit 2) where there is none (show --reveal, read, man, completions)
and with login's --format other than json:
  {\"format\":1,\"exit\":3,\"code\":\"not-found\",\"message\":\"...\",\"hint\":\"...\"}
The contract, format 1:
  - \"format\": 1 is the first field of every document; a change a reader must know raises it.
  - Keys are snake_case; names keychain defines (secret fields, actions, finding codes,
    severities) are kebab-case values, as typed on the command line.
  - Every time is RFC 3339 UTC (2026-11-30T03:17:00Z) or null.
  - One shape per concept: an account (list, show, audit) has name, provider (always an
    object: kind, issuer, authorize_url, token_url, client_id, redirect_uri, scope, flow,
    allow_hosts, insecure_http), user, secrets ({\"password\": {\"changed\", \"age_days\"}, ...}),
    totp, created, updated, access_token_expires_at, refresh_token_active, last_use and
    last_logon ({\"at\", \"by\", \"action\", \"ok\"}), logon_rejected ({\"at\", \"by\", \"step\"}),
    moving_to. A finding is {\"severity\", \"code\", \"account\", \"message\"}.
  - Commands that only change something (add, set, rm, mv, unlock, lock, export, audit rotate)
    confirm with {\"format\":1,\"ok\":true,\"command\":...,\"accounts\":[...]}.
The schema of each document is in the source tree under tests/schemas/.";
