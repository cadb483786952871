//! The short tree of `parse` against the whole tree, and the rule that no flag takes a secret.

use clap::{Args, CommandFactory};

/// The short tree of `parse` must parse as the whole tree does: each subcommand that
/// `one_subcommand` builds is, once built, the whole tree's own but for its help texts
/// (every flag, every nested subcommand, every setting).
#[test]
fn one_subcommand_parses_as_the_whole_tree() {
    // The examples (after_help) of nested subcommands too: help only, which the whole tree shows.
    fn strip_examples(c: clap::Command) -> clap::Command {
        let c = c.after_help(None).after_long_help(None);
        // Its -h says "see more with '--help'" when the command has a long help.
        let c = if c.get_arguments().any(|a| a.get_id() == "help") {
            c.mut_arg("help", |a| a.help(None).long_help(None))
        } else {
            c
        };
        c.mut_subcommands(strip_examples)
    }
    let strip = |c: clap::Command| {
        strip_examples(c)
            .about(None)
            .long_about(None)
            .after_help(None)
            .after_long_help(None)
            // Where `--help` lists it among the others.
            .display_order(0)
            // Its -h says "see more with '--help'" when the command has a long about.
            .mut_arg("help", |a| a.help(None).long_help(None))
    };
    let mut whole = crate::cli::command();
    whole.build();
    let mut listed = 0;
    for name in whole.get_subcommands().map(|c| c.get_name().to_string()) {
        let Some(sub) = crate::cli::one_subcommand(&name) else {
            continue;
        };
        listed += 1;
        let mut short = crate::cli::GlobalArgs::augment_args(clap::Command::new("keychain"))
            .version(env!("CARGO_PKG_VERSION"))
            .subcommand(sub);
        short.build();
        let full = strip(whole.find_subcommand(&name).unwrap().clone());
        let fast = strip(short.find_subcommand(&name).unwrap().clone());
        // Whether help has a long form: help only.
        let text = |c: &clap::Command| {
            format!("{c:#?}")
                .lines()
                .filter(|l| !l.trim_start().starts_with("long_help_exists:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (fast, full) = (text(&fast), text(&full));
        let differ: Vec<(&str, &str)> = fast
            .lines()
            .zip(full.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert!(
            differ.is_empty() && fast.lines().count() == full.lines().count(),
            "keychain {name}: short tree vs whole tree: {differ:#?}"
        );
    }
    assert!(listed >= 9, "only {listed} subcommands have a short tree");
    // The top: the same global flags, in the same order.
    let top = |c: &clap::Command| {
        c.get_arguments()
            .filter(|a| a.get_id() != "help")
            .map(|a| format!("{a:#?}"))
            .collect::<Vec<_>>()
    };
    let mut short = crate::cli::GlobalArgs::augment_args(clap::Command::new("keychain"))
        .version(env!("CARGO_PKG_VERSION"));
    short.build();
    assert_eq!(top(&short), top(&whole));
}

/// The short tree gives what the whole tree gives, and falls back to it for everything it
/// does not parse cleanly.
#[test]
fn parse_agrees_with_the_whole_tree() {
    let cases: &[&[&str]] = &[
        &["totp", "bench"],
        &["totp", "bench", "--fresh", "5", "--json"],
        &["--dir", "/x", "totp", "bench"],
        &["--dir", "totp", "totp", "bench"],
        &["--dir", "totp", "list"],
        &["show", "a", "--reveal", "password"],
        &["login", "a"],
        &["audit", "--fail-on", "critical"],
        &["audit", "verify"],
        &["lock"],
        &["unlock", "--for", "30m"],
        &["status"],
        &["list", "--lock-timeout", "5"],
        &["--version"],
        &["-V"],
        &["totp"],
        &["totp", "--help"],
        &["totp", "a", "b"],
        &["help", "totp"],
        &["nope"],
        &[],
        &["login", "a", "--json", "--format", "env"],
        &["login", "a", "--json", "--format", "json"],
        &["--json", "login", "a", "--format", "header"],
        &["login", "a", "--json"],
    ];
    for case in cases {
        let args: Vec<std::ffi::OsString> = std::iter::once("keychain")
            .chain(case.iter().copied())
            .map(Into::into)
            .collect();
        let ours = crate::cli::parse(&args);
        let theirs = crate::cli::parse_whole(&args);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{case:?}"),
            (Err(a), Err(b)) => {
                assert_eq!(a.kind(), b.kind(), "{case:?}");
                assert_eq!(a.render().to_string(), b.render().to_string(), "{case:?}");
            }
            (a, b) => panic!("{case:?}: {a:?} vs {b:?}"),
        }
    }
}

/// No flag of any command takes a secret (password, TOTP secret or code, client secret,
/// token) as its value: the argument list is visible to every user of the machine. A flag
/// named after a secret takes a FILE (or a picture of one), or selects without holding one.
#[test]
fn no_flag_takes_a_secret_value() {
    const SECRET_WORDS: [&str; 5] = ["password", "secret", "token", "totp", "code"];
    // Named after a secret but holding none: which entry of an export, a policy in days, an
    // endpoint.
    const NOT_SECRETS: [&str; 3] = ["totp_select", "max_password_age", "token_url"];
    let mut checked = 0;
    let mut offenders: Vec<String> = Vec::new();
    let mut stack = vec![crate::cli::Cli::command()];
    while let Some(command) = stack.pop() {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let takes_value = arg.get_action().takes_values();
            if !takes_value
                || arg.is_positional()
                || NOT_SECRETS.contains(&id)
                || !SECRET_WORDS.iter().any(|w| id.contains(w))
            {
                continue;
            }
            checked += 1;
            let names: Vec<&str> = arg
                .get_value_names()
                .unwrap_or_default()
                .iter()
                .map(|n| n.as_str())
                .collect();
            if !(id.ends_with("_file")
                || id.ends_with("_qr")
                || names == ["FILE"]
                || names == ["IMAGE"])
            {
                offenders.push(format!(
                    "keychain {} --{} {names:?}",
                    command.get_name(),
                    arg.get_long().unwrap_or(id)
                ));
            }
        }
        stack.extend(command.get_subcommands().cloned());
    }
    assert!(
        offenders.is_empty(),
        "a flag named after a secret must read it from a file, not take it as its value: {offenders:#?}"
    );
    assert!(
        checked >= 5,
        "only {checked} secret-named flags found: is the walk broken?"
    );
}

/// Every command the help lists (nested ones too), by its path after `keychain`.
fn visible_commands() -> Vec<(String, clap::Command)> {
    let mut whole = crate::cli::command();
    whole.build();
    let mut found = Vec::new();
    let mut stack: Vec<(String, clap::Command)> = vec![(String::new(), whole)];
    while let Some((path, command)) = stack.pop() {
        for sub in command.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            let sub_path = format!("{path} {}", sub.get_name()).trim().to_string();
            stack.push((sub_path, sub.clone()));
        }
        found.push((path, command));
    }
    found
}

/// Issue 23 (5): no command had examples and `<NAME>` had no description. Every visible
/// command has 2 to 4 examples from the one table, shown after its options, and every
/// positional argument says what it is.
#[test]
fn every_visible_command_has_examples_and_every_positional_a_description() {
    let commands = visible_commands();
    assert!(commands.len() > 30, "{} commands", commands.len());
    for (path, mut command) in commands {
        let examples = crate::cli::examples(&path);
        assert!(
            (2..=4).contains(&examples.len()),
            "keychain {path}: {} examples",
            examples.len()
        );
        assert!(
            examples.iter().all(|e| e.contains("keychain")),
            "keychain {path}: {examples:?}"
        );
        for positional in command.get_positionals() {
            assert!(
                positional
                    .get_help()
                    .is_some_and(|h| !h.to_string().trim().is_empty()),
                "keychain {path}: <{}> has no description",
                positional.get_id()
            );
        }
        let help = command.render_long_help().to_string();
        if !path.is_empty() {
            assert!(
                help.contains("Examples:") && help.contains(examples[0].lines().next().unwrap()),
                "keychain {path} --help:\n{help}"
            );
        }
    }
    // Every row of the table is a command, so that none is left behind by a rename.
    let paths: Vec<String> = visible_commands().into_iter().map(|(p, _)| p).collect();
    for (name, _) in crate::cli::EXAMPLES {
        assert!(
            paths.iter().any(|p| p == name),
            "examples of no command: {name}"
        );
    }
}

/// Issue 23 (5): every command's `--help` interleaved the seven global options with its own
/// flags, and a test-only option showed. The command's own options come first; the global ones
/// follow under their own heading; test-only ones are hidden (and still parse).
#[test]
fn global_options_follow_the_commands_own_under_their_heading() {
    let globals: Vec<String> = {
        let top = crate::cli::GlobalArgs::augment_args(clap::Command::new("keychain"));
        top.get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    };
    assert!(globals.len() >= 7, "{globals:?}");
    for (path, mut command) in visible_commands() {
        let help = command.render_long_help().to_string();
        let heading = format!("\n{}:\n", crate::cli::GLOBAL_OPTIONS);
        let at = help
            .find(&heading)
            .unwrap_or_else(|| panic!("keychain {path} --help has no global heading:\n{help}"));
        let (own, global) = help.split_at(at);
        // Flags as the option lists show them: at the start of a line, after the indent.
        let listed = |text: &str, flag: &str| {
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{flag} ")) || l.trim() == flag)
        };
        for flag in &globals {
            assert!(
                !listed(own, flag),
                "keychain {path}: {flag} among its own options"
            );
        }
        assert!(!help.contains("--scrypt-work-factor"), "keychain {path}");
        assert!(listed(global, "--dir"), "keychain {path}:\n{help}");
        assert!(
            !global
                .lines()
                .any(|l| l.trim_start().starts_with("-h, --help")),
            "keychain {path}: --help is the command's own"
        );
    }
    // Hidden, not gone: the tests' work factor still parses.
    assert!(
        crate::cli::parse_whole(
            &["keychain", "--scrypt-work-factor", "10", "lock"].map(Into::into)
        )
        .is_ok()
    );
}
