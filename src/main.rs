//! The `keychain` binary: hardens the process, parses the command line, dispatches, and prints
//! an error once with its causes and a hint, exiting with the documented code.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error as _;

use std::process::ExitCode;

use keychain::outcome::{Outcome, status};
use keychain::output;

fn main() -> ExitCode {
    keychain::hardening::disable_core_dumps();
    keychain::progress::install(Box::new(output::StderrObserver));
    keychain::prompt::install(Box::new(keychain::input::Prompter::detect()));
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = keychain::cli::json_in_raw_args(&args);
    if let Some(completions) = keychain::complete::from_env(args.clone()) {
        return match completions.and_then(|bytes| output::raw(&bytes)) {
            Ok(()) => Outcome::Success.exit_code(),
            Err(error) => fail(error, false),
        };
    }
    // `keychain help cron` is a topic, not a command: clap's help knows only commands.
    if let [_, help, name] = &args[..]
        && help == "help"
        && let Some(text) = name.to_str().and_then(keychain::cli::topic)
    {
        return match output::out(&format!("{}\n", text.trim_end())) {
            Ok(()) => Outcome::Success.exit_code(),
            Err(error) => fail(error, false),
        };
    }
    let cli = match parse(&args, json) {
        Ok(cli) => cli,
        Err(done) => return done,
    };
    // Now that the command is known: `KEYCHAIN_FORMAT=json` makes errors JSON only for a
    // command that prints a document.
    let json = cli.json_errors();
    // `status` is a monitoring check: whatever stops it from checking is "unknown" (3).
    let is_status = matches!(cli.command, keychain::cli::Command::Status(_));
    match keychain::cmd::dispatch(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(error) if is_status && !error.is_closed_pipe() => {
            fail_with(error, json, keychain::outcome::nagios::UNKNOWN)
        }
        Err(error) => fail(error, json),
    }
}

/// Parses the command line; `--help`, `--version` and usage errors are written through
/// `output` like everything else (clap would print them itself, ignoring a failed write, and a
/// usage error quotes the user's argument, which must be escaped). `Err` carries the status to
/// end with when there is nothing to run.
fn parse(args: &[std::ffi::OsString], json: bool) -> Result<keychain::cli::Cli, ExitCode> {
    let error = match keychain::cli::parse(args) {
        Ok(cli) => return Ok(cli),
        Err(error) => error,
    };
    let text = error.render().to_string();
    if error.use_stderr() {
        // `status` is a monitoring check: a command line it cannot use is "unknown" (3), not
        // "critical" (2).
        let code = if status_in_args() {
            keychain::outcome::nagios::UNKNOWN
        } else {
            error.exit_code()
        };
        // The status says "usage error" even when standard error cannot be written.
        let _ = if json {
            let (message, hint) = usage_error_parts(&text);
            output::raw_err(
                keychain::json::error(
                    code,
                    keychain_core::exit::Class::Usage.code(),
                    &message,
                    Some(&hint),
                )
                .as_bytes(),
            )
        } else {
            output::err(&text)
        };
        return Err(status(code));
    }
    Err(match output::out(&text) {
        Ok(()) => status(error.exit_code()),
        Err(write) => fail(write, json),
    })
}

/// A usage error as clap renders it, made into the JSON error's message and hint. The message
/// is everything clap says before its "Usage:" line, on one line: each missing argument, the
/// possible values, the "tip:" with a similar name. The hint is the usage line and where help
/// is.
fn usage_error_parts(text: &str) -> (String, String) {
    let mut message: Vec<&str> = Vec::new();
    let mut usage = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Usage:") {
            usage = Some(rest.trim());
            break;
        }
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        message.push(line.strip_prefix("error: ").unwrap_or(line));
    }
    let mut joined = String::new();
    for part in message {
        if !joined.is_empty() {
            // "...were not provided:" then each argument; otherwise each part its own clause.
            joined.push_str(if joined.ends_with(':') || part.starts_with('[') {
                " "
            } else {
                "; "
            });
        }
        joined.push_str(part);
    }
    let help = "see 'keychain --help' or 'keychain help COMMAND'";
    let hint = match usage {
        Some(usage) => format!("usage: {usage}; {help}"),
        None => help.to_string(),
    };
    (joined, hint)
}

/// Whether the command line, as far as clap can read it, runs `status`.
fn status_in_args() -> bool {
    use clap::CommandFactory;
    keychain::cli::Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(std::env::args_os())
        .is_ok_and(|m| m.subcommand_name() == Some("status"))
}

fn fail(error: keychain::error::Error, json: bool) -> ExitCode {
    let code = error.exit_code();
    fail_with(error, json, code)
}

/// Prints the error and ends with `code`.
fn fail_with(error: keychain::error::Error, json: bool, code: i32) -> ExitCode {
    // A reader that went away gets no message (there is no one to read it), only the status.
    if json && !error.is_closed_pipe() {
        let text = keychain::json::error(
            code,
            error.code(),
            &error.with_causes(),
            error.hint().as_deref(),
        );
        let _ = output::raw_err(text.as_bytes());
    } else if !error.is_closed_pipe() {
        let mut shown = error.to_string();
        let mut text = format!("error: {shown}\n");
        let mut source = error.source();
        while let Some(cause) = source {
            // Many messages already quote their cause; print each text once.
            let cause_text = cause.to_string();
            if !shown.contains(&cause_text) {
                text.push_str(&format!("  caused by: {cause_text}\n"));
                shown.push_str(&cause_text);
            }
            source = cause.source();
        }
        if let Some(hint) = error.hint() {
            text.push_str(&format!("hint: {hint}\n"));
        }
        // The exit status carries the error when standard error itself cannot be written.
        let _ = output::err(&text);
    }
    status(code)
}
