//! The top-level error's classes, sources and advice.

use std::error::Error as _;

use super::*;
use crate::advice::AccountAdvice as _;
use crate::audit::AuditError;
use crate::exit;
use crate::logon::LogonError;
use crate::oauth::{DiscoveryError, TokenError};
use crate::record::RecordError;

fn logon_rejected() -> LogonError {
    LogonError::Rejected {
        step: "password".into(),
        fields: vec!["username".into(), "password".into()],
        said: None,
    }
}

fn token_unavailable() -> TokenError {
    TokenError::Unavailable {
        path: "/oauth2/token".into(),
        reason: "connection refused".into(),
    }
}

fn audit_missing() -> AuditError {
    AuditError::NotInitialised {
        path: "/kc/audit.log".into(),
    }
}

#[test]
fn a_rejected_logon_keeps_the_logon_error_as_its_source() {
    let error = Error::Rejected {
        what: "the headless logon was rejected".into(),
        account: "acme".into(),
        cause: ProviderCause::Logon(Box::new(logon_rejected())),
    };
    let source = error.source().expect("a source");
    let cause = source
        .downcast_ref::<ProviderCause>()
        .expect("a ProviderCause");
    assert!(
        matches!(cause, ProviderCause::Logon(e) if matches!(&**e, LogonError::Rejected { step, .. } if step == "password")),
        "{cause:?}"
    );
    assert_eq!(error.exit_code(), exit::REJECTED);
    assert_eq!(error.code(), "rejected");
}

#[test]
fn an_unavailable_provider_keeps_the_token_error_as_its_source() {
    let error = Error::Unavailable {
        what: "the refresh did not go through".into(),
        retry: None,
        cause: Some(ProviderCause::Token(Box::new(token_unavailable()))),
    };
    let cause = error
        .source()
        .and_then(|s| s.downcast_ref::<ProviderCause>())
        .expect("a ProviderCause");
    assert!(
        matches!(cause, ProviderCause::Token(e) if matches!(**e, TokenError::Unavailable { .. })),
        "{cause:?}"
    );
    assert_eq!(error.exit_code(), exit::UNAVAILABLE);
    assert_eq!(error.code(), "unavailable");
    // The token error's advice is the hint; keychain's own rules add when to come back.
    assert_eq!(error.hint().as_deref(), Some("try again later"));
    let held = Error::Unavailable {
        what: "Exact Online allows a new access token 570 s after the previous one".into(),
        retry: Some("in 12 s".into()),
        cause: None,
    };
    assert_eq!(held.hint().as_deref(), Some("try again in 12 s"));
}

#[test]
fn discovery_errors_are_reachable_through_the_source() {
    let error = Error::Unavailable {
        what: "the provider's endpoints could not be found".into(),
        retry: None,
        cause: Some(ProviderCause::Discovery(Box::new(
            DiscoveryError::Unavailable {
                path: "/.well-known/openid-configuration".into(),
                reason: "timed out".into(),
            },
        ))),
    };
    let cause = error
        .source()
        .and_then(|s| s.downcast_ref::<ProviderCause>());
    assert!(
        matches!(cause, Some(ProviderCause::Discovery(_))),
        "{cause:?}"
    );
    assert!(error.hint().unwrap().contains("reachable"));
}

#[test]
fn a_record_that_does_not_open_keeps_the_record_error_as_its_source() {
    let error = Error::Record {
        path: "/kc/accounts/acme.kcr".into(),
        cause: RecordError::WrongKey,
    };
    let cause = error.source().and_then(|s| s.downcast_ref::<RecordError>());
    assert!(matches!(cause, Some(RecordError::WrongKey)), "{cause:?}");
    assert_eq!(error.exit_code(), exit::INTEGRITY);
    assert_eq!(error.code(), "integrity");
    assert!(error.hint().unwrap().contains("keychain import"));
}

#[test]
fn one_line_holds_the_message_and_each_cause_once() {
    let error = Error::Unavailable {
        what: "the refresh did not go through".into(),
        retry: None,
        cause: Some(ProviderCause::Token(Box::new(token_unavailable()))),
    };
    assert_eq!(
        error.with_causes(),
        "the refresh did not go through: the token endpoint /oauth2/token is unavailable: connection refused"
    );
    // A message that quotes its cause does not repeat it.
    let audit = crate::error::Error::from(audit_missing());
    assert_eq!(audit.with_causes(), audit.to_string());
}

#[test]
fn an_unlogged_change_keeps_the_audit_failure_as_its_source() {
    let error = Error::Unlogged {
        path: "/kc/accounts/acme.kcr".into(),
        change: Unlogged::Written,
        undo: Box::new(crate::store::StoreError::Conflict("acme".into())),
        cause: audit_missing(),
    };
    let audit = error.source().and_then(|s| s.downcast_ref::<AuditError>());
    assert!(
        matches!(audit, Some(AuditError::NotInitialised { .. })),
        "{audit:?}"
    );
    assert_eq!(error.exit_code(), exit::INTEGRITY);
    assert_eq!(error.code(), "integrity");
}

/// Regression (issue 18, item 5): hints said 'keychain set ACCOUNT --totp-file FILE' and
/// 'keychain show ACCOUNT'; a command in a hint names the account, or says "for the
/// account" in words where the caller does not know it.
#[test]
fn no_hint_carries_a_placeholder_for_the_account() {
    let causes = || {
        vec![
            ProviderCause::Logon(Box::new(LogonError::TotpRequired {
                path: "/mfa".into(),
            })),
            ProviderCause::Logon(Box::new(logon_rejected())),
            ProviderCause::Token(Box::new(TokenError::Rejected {
                error: "invalid_grant".into(),
                description: None,
            })),
            ProviderCause::Token(Box::new(token_unavailable())),
            ProviderCause::Discovery(Box::new(DiscoveryError::Protocol {
                path: "/.well-known/openid-configuration".into(),
                detail: "no token_endpoint".into(),
            })),
        ]
    };
    let mut hints = Vec::new();
    for cause in causes() {
        hints.push(cause.hint_for(Some("acme-books")));
        hints.push(cause.hint_for(None));
    }
    for cause in causes() {
        let rejected = Error::Rejected {
            what: "rejected".into(),
            account: "acme-books".into(),
            cause,
        };
        hints.push(rejected.hint());
    }
    for cause in causes() {
        hints.push(
            Error::Unavailable {
                what: "unavailable".into(),
                retry: None,
                cause: Some(cause),
            }
            .hint(),
        );
    }
    for hint in hints.into_iter().flatten() {
        for placeholder in ["ACCOUNT", "NAME", "<account>"] {
            assert!(!hint.contains(placeholder), "{placeholder} in: {hint}");
        }
        if hint.contains("'keychain ") && !hint.contains("for the account") {
            assert!(hint.contains("acme-books"), "{hint}");
        }
    }
}

/// Words of advice: they belong in `hint()`, not in the message.
const ADVICE: &[&str] = &[
    "run '",
    "run `",
    "rerun",
    "try again",
    "check ",
    "; use --",
    "add one",
    "a new logon is needed",
    "is the issuer",
    "store the right one",
];

#[test]
fn messages_say_what_went_wrong_and_hints_say_what_to_do() {
    let path = || PathBuf::from("/kc/audit.log");
    let cases: Vec<(String, Option<String>)> = vec![
        {
            let e = logon_rejected();
            (e.to_string(), Some("(the caller's)".into()))
        },
        {
            let e = LogonError::Unavailable {
                step: "password".into(),
                path: "/login".into(),
                reason: "timed out".into(),
            };
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = LogonError::UnknownPage {
                path: "/login".into(),
                status: 200,
                fields: vec![],
            };
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = LogonError::TotpRequired {
                path: "/mfa".into(),
            };
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = TokenError::Rejected {
                error: "invalid_grant".into(),
                description: None,
            };
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = TokenError::RateLimited {
                error: "slow_down".into(),
                description: None,
                retry_after: None,
                new_refresh_token: None,
            };
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = token_unavailable();
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = DiscoveryError::Unavailable {
                path: "/.well-known/openid-configuration".into(),
                reason: "timed out".into(),
            };
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = DiscoveryError::Protocol {
                path: "/.well-known/openid-configuration".into(),
                detail: "no token_endpoint".into(),
            };
            (e.to_string(), e.hint_for(Some("acme")))
        },
        {
            let e = AuditError::Io {
                what: "open",
                path: path(),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            };
            (e.to_string(), e.hint())
        },
        {
            let e = audit_missing();
            (e.to_string(), e.hint())
        },
        {
            let e = AuditError::StateMissing { path: path() };
            (e.to_string(), e.hint())
        },
        {
            let e = AuditError::AnchorMissing { path: path() };
            (e.to_string(), e.hint())
        },
        {
            let e = AuditError::Corrupt { path: path() };
            (e.to_string(), e.hint())
        },
        {
            let e = AuditError::PartialLine { path: path() };
            (e.to_string(), e.hint())
        },
        {
            let e = AuditError::Mismatch {
                path: path(),
                detail: "the last hash differs".into(),
            };
            (e.to_string(), e.hint())
        },
        {
            let e = Error::RejectedBefore {
                account: "acme".into(),
                step: "password".into(),
                at: "2026-11-30T03:17:00Z".into(),
                by: "etl".into(),
            };
            (e.to_string(), e.hint())
        },
        {
            let e = Error::NotAdmitted(crate::providers::NotAdmitted::TooSoon {
                provider: "Exact Online",
                interval: 570,
                wait: 12,
            });
            (e.to_string(), e.hint())
        },
        {
            let e = Error::NotAdmitted(crate::providers::NotAdmitted::ErrorBudgetSpent {
                provider: "Exact Online",
                errors: 8,
                limit: 10,
                retry_at: 1_000_000,
            });
            (e.to_string(), e.hint())
        },
        {
            let e = Error::Unavailable {
                what: "the TOTP code of this time step was used by the previous logon".into(),
                retry: Some("in 12 s".into()),
                cause: None,
            };
            (e.to_string(), e.hint())
        },
        {
            let e = Error::Unlogged {
                path: "/kc/accounts/acme.kcr".into(),
                change: Unlogged::Removed,
                undo: Box::new(crate::store::StoreError::Conflict("acme".into())),
                cause: audit_missing(),
            };
            (e.to_string(), e.hint())
        },
    ];
    for (message, hint) in cases {
        for word in ADVICE {
            assert!(
                !message.contains(word),
                "advice {word:?} in the message: {message}"
            );
        }
        assert!(
            hint.is_some_and(|h| !h.is_empty()),
            "no hint for: {message}"
        );
    }
}

/// Issue 21 put the exit codes and JSON codes in one table (`exit::Class`); each class of the
/// store and the key store keeps the code pair it had.
#[test]
fn each_class_keeps_its_exit_code_and_json_code() {
    use crate::keystore::KeyStoreError;
    use crate::store::StoreError;
    let busy = || {
        Box::new(crate::lockfile::LockBusy {
            what: "account 'acme'".into(),
            path: "/kc/locks/acme.lock".into(),
            waited: std::time::Duration::from_secs(1),
            holder: None,
        })
    };
    let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let cases: Vec<(Error, i32, &str)> = vec![
        (Error::usage("bad"), 2, "usage"),
        (Error::NotFound("acme".into()), 3, "not-found"),
        (Error::Store(StoreError::BadName("a/b".into())), 2, "usage"),
        (Error::Store(StoreError::Exists("acme".into())), 2, "usage"),
        (
            Error::Store(StoreError::Conflict("acme".into())),
            2,
            "usage",
        ),
        (
            Error::Store(StoreError::NotFound("acme".into())),
            3,
            "not-found",
        ),
        (Error::Store(StoreError::Busy(busy())), 5, "unavailable"),
        (
            Error::Store(StoreError::NotARecord {
                path: "/kc/accounts/x.kcr".into(),
                reason: "a folder".into(),
            }),
            7,
            "integrity",
        ),
        (
            Error::Store(StoreError::Io {
                context: "cannot read".into(),
                source: io(),
            }),
            8,
            "io",
        ),
        (
            Error::KeyStore(KeyStoreError::LockBusy(busy())),
            5,
            "unavailable",
        ),
        (
            Error::NotAMember {
                recipient: "age1x".into(),
            },
            6,
            "not-a-member",
        ),
        (
            Error::NotJoined {
                recipient: "age1x".into(),
            },
            6,
            "not-joined",
        ),
        (Error::io("cannot read", io()), 8, "io"),
        (
            Error::Output {
                stream: "output",
                source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
            },
            141,
            "output",
        ),
        (
            Error::Output {
                stream: "output",
                source: io(),
            },
            8,
            "output",
        ),
        (
            Error::Program {
                message: "no such program".into(),
                code: exit::NO_PROGRAM,
            },
            127,
            "no-program",
        ),
        (
            Error::Program {
                message: "not executable".into(),
                code: exit::CANNOT_RUN,
            },
            126,
            "cannot-run",
        ),
        (crate::error::Error::from(audit_missing()), 2, "audit-log"),
    ];
    for (error, exit_code, code) in cases {
        assert_eq!(
            (error.exit_code(), error.code()),
            (exit_code, code),
            "{error}"
        );
    }
}

/// The convention of issue 21: a small error says its class and advice once; converting it into
/// the top-level error keeps both.
#[test]
fn a_small_error_keeps_its_class_and_hint_through_the_conversion() {
    use crate::config::ConfigError;
    use crate::exit::Failure;
    use crate::record::TotpUnusable;
    use crate::settings::SettingsError;
    use crate::validate::Invalid;
    fn check<E: Failure + Into<Error>>(e: E) {
        let (class, hint, message) = (e.class(), e.hint(), e.to_string());
        let converted: Error = e.into();
        assert_eq!(converted.class(), class, "{message}");
        assert_eq!(converted.hint(), hint, "{message}");
        assert_eq!(converted.to_string(), message);
    }
    check(SettingsError::LockTimeout("ten".into()));
    check(SettingsError::OpenbaoLease("too long".into()));
    check(TotpUnusable::Missing("acme".into()));
    check(TotpUnusable::NotBase32("acme".into()));
    check(TotpUnusable::BadParams {
        name: "acme".into(),
        detail: "digits must be 6 to 8".into(),
    });
    check(Invalid::Url {
        field: "token URL",
        url: "ftp://x".into(),
    });
    check(Invalid::User);
    for e in [
        ConfigError::NoFolder,
        ConfigError::NotInitialised { dir: "/kc".into() },
        ConfigError::Exists { dir: "/kc".into() },
        ConfigError::BadRecipient("age1nope".into()),
        ConfigError::Corrupt {
            path: "/kc/config.json".into(),
            reason: "line 1".into(),
        },
        ConfigError::Unauthenticated {
            path: "/kc/config.json".into(),
            reason: "its MAC does not match".into(),
        },
    ] {
        check(e);
    }
}
