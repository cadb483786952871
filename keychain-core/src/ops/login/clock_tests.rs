//! The time rules of `login`, on a [`ManualClock`]: Exact's 570 s between tokens and its error
//! budget, the cache's `--min-valid` margin and the expiry it stores (`login --format json`'s
//! `expires_in` is rendered by the CLI from it and the keychain's clock), the TOTP step guard and its
//! waits, and the time and user the audit log and the record carry. Nothing here waits in real
//! time and nothing moves the process's clock: the keychain is real (a temporary folder, the
//! `file` key store) and the token endpoint is real HTTP on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::totp::{BOUND, StepGuard};
use super::*;
use crate::clock::ManualClock;
use crate::clock::reference::Now;
use crate::error::Error;
use crate::keychain::testing::{keychain_on, save};
use crate::logon::TotpSource;
use crate::providers::ProviderSettings;
use crate::record::{Account, Header, SecretField};
use crate::scrub::Scrubber;
use crate::totp::TotpSecret;

/// A whole number of TOTP periods (30 s), so that step boundaries are easy to name.
const T: i64 = 1_800_000_000;
const NAME: &str = "acme";

/// A token endpoint on 127.0.0.1 that answers every request with a new token pair and counts
/// the requests.
struct TokenEndpoint {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl TokenEndpoint {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let json = format!(
                    r#"{{"access_token":"at-{n}","token_type":"bearer","expires_in":600,"refresh_token":"rt-{n}"}}"#
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
            }
        });
        TokenEndpoint { url, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// An account whose access token was issued at `T` and expires at `T + lifetime`, with a
/// refresh token, its token endpoint at `token_url`.
fn account(kind: &str, token_url: &str, lifetime: i64) -> Account {
    let provider = ProviderSettings {
        authorize_url: Some(token_url.replace("/token", "/authorize")),
        token_url: Some(token_url.into()),
        client_id: Some("client".into()),
        redirect_uri: Some("http://127.0.0.1:9/callback".into()),
        ..ProviderSettings::new(kind.parse().expect("a provider kind keychain knows"))
    };
    let mut a = Account::new(Header::new(NAME, provider, "etl".into(), T - 86_400));
    let secret = |v: &str| Some(SecretString::from(v.to_string()));
    a.set_secret(SecretField::RefreshToken, secret("rt-0"), T);
    a.set_secret(SecretField::AccessToken, secret("at-0"), T);
    a.header.access_token_issued = Some(T);
    a.header.access_token_expires = Some(T + lifetime);
    a.header.refresh_token_active = Some(T);
    a
}

fn options(min_valid: i64) -> Options {
    Options {
        min_valid,
        debug_pages: None,
        progress: false,
        retry: false,
    }
}

fn access_token(token: &Token) -> &str {
    token.access_token.expose_secret()
}

#[test]
fn exact_serves_the_cached_token_for_570_s_after_it_was_issued_and_refreshes_only_then() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T + 545);
    let (_tmp, kc) = keychain_on(clock.clone());
    save(&kc, &mut account("exact-nl", &endpoint.url, 600));

    // 55 s left, less than --min-valid, but Exact counts an earlier refresh as an error.
    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(
        (token.source, access_token(&token)),
        (Source::Cache, "at-0")
    );
    clock.set_unix(T + 569);
    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(token.source, Source::Cache);
    assert_eq!(endpoint.requests(), 0, "no request within 570 s");

    clock.set_unix(T + 570);
    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(
        (token.source, access_token(&token)),
        (Source::Refresh, "at-1")
    );
    assert_eq!(endpoint.requests(), 1);
    // The expiry and issue time come from the keychain's clock.
    assert_eq!(token.expires_at, Some(T + 570 + 600));
    let (stored, _) = kc.read(NAME).unwrap();
    assert_eq!(stored.header.access_token_issued, Some(T + 570));
    assert_eq!(stored.header.refresh_token_active, Some(T + 570));
}

#[test]
fn exact_refuses_a_new_token_within_570_s_when_the_cached_one_expired() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T + 400);
    let (_tmp, kc) = keychain_on(clock.clone());
    save(&kc, &mut account("exact-nl", &endpoint.url, 300));

    let e = obtain(&kc, NAME, &options(60)).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit::UNAVAILABLE, "{e}");
    assert_eq!(e.hint().as_deref(), Some("try again in 170 s"), "{e}");
    assert_eq!(endpoint.requests(), 0);
}

#[test]
fn exact_error_budget_stops_at_8_errors_in_an_hour_and_lifts_when_the_oldest_is_an_hour_old() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T);
    let (_tmp, kc) = keychain_on(clock.clone());
    // A token long expired, so that the 570 s rule does not apply.
    let mut a = account("exact-nl", &endpoint.url, 600);
    a.header.access_token_issued = Some(T - 4_000);
    a.header.access_token_expires = Some(T - 3_400);
    a.header.provider_errors = (0..8).map(|i| T - 3_000 + 10 * i).collect();
    save(&kc, &mut a);

    let e = obtain(&kc, NAME, &options(60)).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit::UNAVAILABLE, "{e}");
    let until = crate::clock::rfc3339(T + 600);
    assert!(e.to_string().contains("8 errors"), "{e}");
    assert!(e.hint().is_some_and(|h| h.contains(&until)), "{e}");
    clock.set_unix(T + 599);
    assert!(obtain(&kc, NAME, &options(60)).is_err());
    assert_eq!(endpoint.requests(), 0, "nothing sent while over budget");

    // At the time the message named, the oldest error is an hour old and leaves the budget.
    clock.set_unix(T + 600);
    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(token.source, Source::Refresh);
    assert_eq!(endpoint.requests(), 1);
    let (stored, _) = kc.read(NAME).unwrap();
    assert_eq!(stored.header.provider_errors.len(), 7);
}

#[test]
fn a_cached_token_is_served_while_it_stays_valid_for_more_than_min_valid() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T + 39);
    let (_tmp, kc) = keychain_on(clock.clone());
    save(&kc, &mut account("oauth2", &endpoint.url, 100));

    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(token.source, Source::Cache, "61 s left");
    assert_eq!(token.expires_at, Some(T + 100));
    clock.set_unix(T + 40);
    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(
        token.source,
        Source::Refresh,
        "60 s left is not more than 60"
    );
    assert_eq!(endpoint.requests(), 1);

    assert_eq!(token.expires_at, Some(T + 40 + 600));
    // Served from the cache for as long as the margin allows, then refreshed.
    clock.set_unix(T + 40 + 539);
    assert_eq!(
        obtain(&kc, NAME, &options(60)).unwrap().source,
        Source::Cache
    );
    clock.set_unix(T + 40 + 540);
    assert_eq!(
        obtain(&kc, NAME, &options(60)).unwrap().source,
        Source::Refresh
    );
    assert_eq!(endpoint.requests(), 2);
}

/// The audit line's time is the keychain's clock, and its user is the one the record names.
#[test]
fn the_audit_log_and_the_record_agree_on_when_and_by_whom() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T + 1_000);
    let (_tmp, kc) = keychain_on(clock.clone());
    save(&kc, &mut account("oauth2", &endpoint.url, 100));

    obtain(&kc, NAME, &options(60)).unwrap();
    let (stored, _) = kc.read(NAME).unwrap();
    let used = stored.header.last_use.unwrap();
    assert_eq!(used.at, T + 1_000);
    assert_eq!(used.by, crate::whoami::whoami());

    let log = std::fs::read_to_string(kc.dir.join(crate::audit::LOG_FILE)).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "login_refresh");
    assert_eq!(last["user"], used.by.as_str());
    let when = humantime::parse_rfc3339(last["time"].as_str().unwrap()).unwrap();
    assert_eq!(crate::clock::unix_seconds(when), T + 1_000);
}

/// A session over the stored account, as `obtain` holds one under the lock.
fn with_session<R>(kc: &Keychain, work: impl FnOnce(&mut Session<'_>) -> R) -> R {
    let opts = options(60);
    let lock = kc.lock(NAME).unwrap();
    let (account, revision) = kc.read(NAME).unwrap();
    let mut session = Session {
        kc,
        lock: &*lock,
        account,
        revision,
        opts: &opts,
        guard: Guard {
            policy: CredentialPolicy::default(),
            scrubber: Scrubber::new(),
        },
        steps: None,
    };
    work(&mut session)
}

fn totp_account(last_step: Option<u64>) -> Account {
    let mut a = account("oauth2", "http://127.0.0.1:9/token", 600);
    a.set_secret(
        SecretField::TotpSecret,
        Some(SecretString::from("JBSWY3DPEHPK3PXP".to_string())),
        T,
    );
    a.header.last_totp_step = last_step;
    a
}

fn step(t: i64) -> u64 {
    t as u64 / 30
}

#[test]
fn the_step_guard_waits_for_the_next_step_on_the_clock_and_records_it_before_the_code() {
    // The step of T was used; 3 s before the next one starts.
    let now = T + 27;
    let clock = ManualClock::at_unix(now);
    let (_tmp, kc) = keychain_on(clock.clone());
    save(&kc, &mut totp_account(Some(step(T))));
    let totp = kc.read(NAME).unwrap().0.totp().unwrap();

    let code = with_session(&kc, |session| {
        session.check_fresh_step(&totp).unwrap();
        StepGuard {
            totp: &totp,
            session,
        }
        .code(now as u64)
        .unwrap()
    });
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(3)],
        "one wait, not in real time"
    );
    assert_eq!(
        code.expose_secret(),
        totp.code_at((T + 30) as u64).expose_secret()
    );
    // Written to the record before the code was handed out.
    let (stored, _) = kc.read(NAME).unwrap();
    assert_eq!(stored.header.last_totp_step, Some(step(T) + 1));
}

#[test]
fn the_step_guard_never_submits_a_code_with_less_than_3_s_left() {
    let now = T + 28;
    let clock = ManualClock::at_unix(now);
    let (_tmp, kc) = keychain_on(clock.clone());
    save(&kc, &mut totp_account(None));
    let totp = kc.read(NAME).unwrap().0.totp().unwrap();

    with_session(&kc, |session| {
        StepGuard {
            totp: &totp,
            session,
        }
        .code(now as u64)
        .unwrap()
    });
    assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
    assert_eq!(
        kc.read(NAME).unwrap().0.header.last_totp_step,
        Some(step(T) + 1)
    );
}

// Issue 25, item 3: time trusted in both directions. Each rule that counts from a stored time
// (the token's validity, Exact's 570 s, its error budget's hour) when the clock went back past
// that time.

#[test]
fn a_token_fetched_while_the_clock_was_a_day_ahead_is_expired_when_the_clock_goes_back() {
    let endpoint = TokenEndpoint::start();
    // Fetched at T + 1 day (the clock ahead then), granted 600 s; now the clock reads T.
    let clock = ManualClock::at_unix(T);
    let (_tmp, kc) = keychain_on(clock.clone());
    let mut a = account("oauth2", &endpoint.url, 600);
    a.header.access_token_issued = Some(T + 86_400);
    a.header.access_token_expires = Some(T + 86_400 + 600);
    save(&kc, &mut a);

    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(token.source, Source::Refresh, "not served for a day");
    assert_eq!(token.expires_at, Some(T + 600));
    assert_eq!(endpoint.requests(), 1);
}

#[test]
fn a_token_is_never_believed_valid_for_longer_than_granted_nor_before_its_issue() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T);
    let (_tmp, kc) = keychain_on(clock.clone());
    let a = account("oauth2", &endpoint.url, 600);
    // Granted 600 s at T: served with 539 s left over the margin at T + 0 ... T + 539.
    assert!(cached(&a, Now::local(T), 60).is_some());
    assert!(cached(&a, Now::local(T + 539), 60).is_some());
    assert!(cached(&a, Now::local(T + 540), 60).is_none());
    // One second before its issue time (the clock went back): expired.
    assert!(cached(&a, Now::local(T - 1), 0).is_none());
    assert!(cached(&a, Now::local(T - 86_400), 0).is_none());
    // Without an issue time (an older record) only the expiry is known.
    let mut b = account("oauth2", &endpoint.url, 600);
    b.header.access_token_issued = None;
    assert!(cached(&b, Now::local(T), 0).is_some());
    assert!(cached(&b, Now::local(T + 600), 0).is_none());
    drop(kc);
}

#[test]
fn exact_570_s_counted_from_a_refresh_in_the_future_holds_570_s_from_now_not_a_day() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T);
    let (_tmp, kc) = keychain_on(clock.clone());
    let mut a = account("exact-nl", &endpoint.url, 600);
    a.header.access_token_issued = Some(T + 86_400);
    a.header.access_token_expires = Some(T + 86_400 + 600);
    save(&kc, &mut a);

    // When the last token really came is unknown: the full 570 s, from now.
    let e = obtain(&kc, NAME, &options(60)).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit::UNAVAILABLE, "{e}");
    assert_eq!(e.hint().as_deref(), Some("try again in 570 s"), "{e}");
    clock.set_unix(T + 569);
    let e = obtain(&kc, NAME, &options(60)).unwrap_err();
    assert_eq!(e.hint().as_deref(), Some("try again in 1 s"), "{e}");
    assert_eq!(endpoint.requests(), 0);
    clock.set_unix(T + 570);
    let token = obtain(&kc, NAME, &options(60)).unwrap();
    assert_eq!(token.source, Source::Refresh);
    assert_eq!(endpoint.requests(), 1);
}

#[test]
fn provider_errors_recorded_in_the_future_still_count_and_lift_an_hour_from_now() {
    let endpoint = TokenEndpoint::start();
    let clock = ManualClock::at_unix(T);
    let (_tmp, kc) = keychain_on(clock.clone());
    let mut a = account("exact-nl", &endpoint.url, 600);
    a.header.access_token_issued = Some(T - 4_000);
    a.header.access_token_expires = Some(T - 3_400);
    a.header.provider_errors = (0..8).map(|i| T + 86_400 + i).collect();
    save(&kc, &mut a);

    let e = obtain(&kc, NAME, &options(60)).unwrap_err();
    assert!(e.to_string().contains("8 errors"), "{e}");
    let until = crate::clock::rfc3339(T + 3_600);
    assert!(e.hint().is_some_and(|h| h.contains(&until)), "{e}");
    clock.set_unix(T + 3_599);
    assert!(obtain(&kc, NAME, &options(60)).is_err());
    assert_eq!(endpoint.requests(), 0);
    clock.set_unix(T + 3_600);
    assert_eq!(
        obtain(&kc, NAME, &options(60)).unwrap().source,
        Source::Refresh
    );
}

mod per_secret;
mod shared_clock;
