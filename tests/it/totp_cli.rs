//! `keychain totp` and the TOTP checks of `add`, through the real binary.

use crate::support;

use std::path::Path;

use secrecy::ExposeSecret;
use support::*;

fn code_at(secret: &str, t: u64) -> String {
    keychain::totp::TotpSecret::parse(secret)
        .unwrap()
        .code_at(t)
        .expose_secret()
        .to_string()
}

fn now() -> u64 {
    keychain::clock::Clock::unix(&keychain::clock::SystemClock) as u64
}

#[test]
fn totp_prints_the_current_code_of_the_stored_secret() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let before = now();
    let printed = kc.ok(&["totp", "acme"]);
    let after = now();
    let printed = printed.trim_end();
    assert!(
        printed.len() == 6 && printed.chars().all(|c| c.is_ascii_digit()),
        "{printed}"
    );
    assert!(
        printed == code_at(TOTP_SECRET, before) || printed == code_at(TOTP_SECRET, after),
        "{printed}"
    );
}

#[test]
fn totp_check_accepts_the_right_code_and_refuses_a_wrong_one() {
    let kc = Kc::with_file_store();
    let pw = kc.file("pw.txt", "pw");
    let totp = kc.file("totp.txt", TOTP_SECRET);
    // The code comes from a file (here standard input), never from the argument list.
    let add = |name: &str, code: &str| {
        kc.run_stdin(
            &add_args(
                name,
                &[
                    "--password-file",
                    pw.to_str().unwrap(),
                    "--totp-file",
                    totp.to_str().unwrap(),
                    "--totp-check-file",
                    "-",
                ],
            ),
            &format!("{code}\n"),
        )
    };
    let right = code_at(TOTP_SECRET, now());
    assert_success(&add("good", &right), &["add good"]);
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let out = add("bad", &wrong);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("does not produce the code"),
        "{}",
        stderr(&out)
    );
    assert_exit(&kc.run(&["show", "bad"]), 3);
}

#[test]
fn totp_secret_from_an_otpauth_uri_keeps_its_parameters() {
    let kc = Kc::with_file_store();
    let pw = kc.file("pw.txt", "pw");
    let uri = kc.file("uri.txt", "otpauth://totp/ACME%20Co:john@example.com?secret=hxdm vjec jjws rb3h wizr 4ifu gftm xboz&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60");
    kc.ok(&add_args(
        "acme",
        &[
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-file",
            uri.to_str().unwrap(),
        ],
    ));
    let json: serde_json::Value =
        serde_json::from_str(&kc.ok(&["show", "acme", "--json"])).unwrap();
    assert_eq!(json["totp"]["algorithm"], "SHA256");
    assert_eq!(json["totp"]["digits"], 8);
    assert_eq!(json["totp"]["period"], 60);
    let printed = kc.ok(&["totp", "acme"]);
    assert_eq!(printed.trim_end().len(), 8);
}

#[test]
fn totp_secret_from_a_qr_image() {
    let kc = Kc::with_file_store();
    let pw = kc.file("pw.txt", "pw");
    let qr = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/totp/qr-otpauth.png");
    kc.ok(&add_args(
        "acme",
        &[
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-qr",
            qr.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        kc.ok(&["show", "acme", "--reveal", "totp-secret"]),
        format!("{TOTP_SECRET}\n")
    );
    let not_totp = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/totp/qr-not-totp.png");
    let out = kc.run(&add_args(
        "b",
        &[
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-qr",
            not_totp.to_str().unwrap(),
        ],
    ));
    assert_exit(&out, 2);
}

#[test]
fn totp_fresh_waits_for_the_next_step_when_too_little_time_is_left() {
    let kc = Kc::with_file_store();
    let pw = kc.file("pw.txt", "pw");
    // A 2-second period keeps the wait short; --fresh 2 always asks for a whole step.
    let uri = kc.file(
        "uri.txt",
        &format!("otpauth://totp/x?secret={TOTP_SECRET}&period=2"),
    );
    kc.ok(&add_args(
        "acme",
        &[
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-file",
            uri.to_str().unwrap(),
        ],
    ));
    let totp = keychain::totp::TotpSecret::parse(&format!(
        "otpauth://totp/x?secret={TOTP_SECRET}&period=2"
    ))
    .unwrap();
    // Start in the last second of a step, so that the command has to wait for the next one.
    while totp.seconds_left(now()) != 1 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let before = now();
    let printed = kc.ok(&["totp", "acme", "--fresh", "2"]);
    let after = now();
    let printed = printed.trim_end();
    assert_ne!(
        printed,
        totp.code_at(before).expose_secret(),
        "printed the code of a step with too little time left"
    );
    let later: Vec<String> = (before + 1..=after)
        .map(|t| totp.code_at(t).expose_secret().to_string())
        .collect();
    assert!(
        later.iter().any(|c| c == printed),
        "{printed} not among {later:?}"
    );
}
