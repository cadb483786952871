//! Files a hostile neighbour or a careless migration puts in keychain's way: symlinks planted
//! beside an output file, bare output names, FIFOs among the records, QR images built to make
//! the decoder work for minutes, backups with invalid accounts, and Invantive's own documented
//! settings layout (secrets on `<database>`), each driven through the real binary.

use crate::support;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use support::*;

fn settings_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/settings")
        .join(name)
}

/// The recipient (public key) of a keychain with the `file` key store.
fn recipient_of(kc: &Kc) -> String {
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kc.dir.join("config.json")).unwrap()).unwrap();
    config["recipient"].as_str().unwrap().to_string()
}

/// A victim file of someone else's, with its own content and mode.
fn victim(dir: &Path) -> PathBuf {
    let path = dir.join("victim.txt");
    std::fs::write(&path, "someone else's file\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn assert_victim_untouched(path: &Path) {
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        "someone else's file\n",
        "the planted symlink was followed"
    );
    assert_eq!(
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
        0o644,
        "the planted symlink was followed and chmod'ed"
    );
}

// ---- files written beside other people's ----------------------------------------------------

#[test]
fn export_does_not_follow_a_symlink_planted_at_the_old_fixed_temp_name() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let victim = victim(kc.tmp.path());
    symlink(&victim, kc.tmp.path().join(".backup.age.tmp")).unwrap();
    let target = kc.tmp.path().join("backup.age");
    let out = kc.run(&[
        "export",
        "--recipient",
        &recipient_of(&kc),
        target.to_str().unwrap(),
    ]);
    assert_success(&out, &["export"]);
    assert_victim_untouched(&victim);
    let meta = std::fs::symlink_metadata(&target).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the export is a file of its own"
    );
    assert!(
        std::fs::read(&target)
            .unwrap()
            .starts_with(b"age-encryption.org/v1")
    );
}

#[test]
fn audit_html_does_not_follow_a_symlink_planted_at_the_old_fixed_temp_name() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let victim = victim(kc.tmp.path());
    symlink(&victim, kc.tmp.path().join(".report.html.tmp")).unwrap();
    let target = kc.tmp.path().join("report.html");
    let out = kc.run(&[
        "audit",
        "--fail-on",
        "critical",
        "--html",
        target.to_str().unwrap(),
    ]);
    assert_success(&out, &["audit", "--html"]);
    assert_victim_untouched(&victim);
    assert!(
        std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_file()
    );
}

#[test]
fn export_and_audit_html_accept_a_bare_file_name() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let out = kc
        .cmd()
        .current_dir(kc.tmp.path())
        .args(["export", "--recipient", &recipient_of(&kc), "backup.age"])
        .output()
        .unwrap();
    assert_success(&out, &["export", "backup.age"]);
    assert!(kc.tmp.path().join("backup.age").is_file());
    let out = kc
        .cmd()
        .current_dir(kc.tmp.path())
        .args(["audit", "--fail-on", "critical", "--html", "report.html"])
        .output()
        .unwrap();
    assert_success(&out, &["audit", "--html", "report.html"]);
    assert!(kc.tmp.path().join("report.html").is_file());
}

#[test]
fn export_never_replaces_a_file_that_appears_under_its_name() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    // A dangling symlink "does not exist" to a naive check, yet renaming over it would replace
    // someone's link: the export must refuse the name.
    let target = kc.tmp.path().join("backup.age");
    symlink(kc.tmp.path().join("nowhere"), &target).unwrap();
    let out = kc.run(&[
        "export",
        "--recipient",
        &recipient_of(&kc),
        target.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(
        std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

// ---- hangs and slow paths --------------------------------------------------------------------

/// Runs `keychain ARGS` and returns its output, failing the test (and killing the process) if it
/// has not finished within a minute: the defect pinned here is a hang, which would otherwise
/// hang the test suite instead of failing it. No speed is asserted.
fn run_or_fail_on_hang(kc: &Kc, args: &[&str]) -> Output {
    let child = kc
        .std_cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("keychain {args:?} hung on a FIFO among the records");
        }
    }
}

#[test]
fn a_fifo_among_the_records_is_skipped_with_a_warning_not_waited_on() {
    let kc = Kc::with_file_store();
    kc.add_account("acme");
    let fifo = kc.dir.join("accounts").join("trap.kcr");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");

    let out = run_or_fail_on_hang(&kc, &["list"]);
    assert_success(&out, &["list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme"));
    assert!(
        stderr(&out).contains("trap.kcr") && stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );

    // The officer's report also lists it, as a critical finding.
    let out = run_or_fail_on_hang(&kc, &["audit", "--json"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("trap.kcr"), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("record-unreadable") && report.contains("trap.kcr"),
        "{report}"
    );

    let out = run_or_fail_on_hang(&kc, &["refresh", "--all", "--idle-days", "20"]);
    assert_success(&out, &["refresh", "--all"]);
    assert!(stderr(&out).contains("trap.kcr"), "{}", stderr(&out));

    // Named directly, the FIFO is refused, not opened for a blocking read.
    let out = run_or_fail_on_hang(&kc, &["show", "trap"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_fifo_given_to_scan_or_import_is_refused_not_waited_on() {
    let kc = Kc::with_file_store();
    let fifo = kc.tmp.path().join("settings-trap.xml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let out = run_or_fail_on_hang(&kc, &["scan", fifo.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    let out = run_or_fail_on_hang(&kc, &["import", fifo.to_str().unwrap(), "--strip"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    let out = run_or_fail_on_hang(
        &kc,
        &add_args(
            "acme",
            &["--no-password", "--totp-qr", fifo.to_str().unwrap()],
        ),
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

/// A PNG of tiled QR finder patterns (one pixel per module): a couple of kilobytes that give
/// the QR detector thousands of candidate corners to pair up.
fn finder_pattern_bomb(path: &Path) {
    use image::ImageEncoder;
    const PITCH: u32 = 9;
    let side = 600;
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x % PITCH, y % PITCH);
        if mx >= 7 || my >= 7 {
            return image::Luma([255]);
        }
        let ring = mx == 0 || my == 0 || mx == 6 || my == 6;
        let core = (2..=4).contains(&mx) && (2..=4).contains(&my);
        image::Luma([if ring || core { 0 } else { 255 }])
    });
    let file = std::fs::File::create(path).unwrap();
    image::codecs::png::PngEncoder::new_with_quality(
        file,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(&image, side, side, image::ExtendedColorType::L8)
    .unwrap();
}

#[test]
fn a_qr_image_of_tiled_finder_patterns_is_refused_with_a_clear_message() {
    let kc = Kc::with_file_store();
    let png = kc.tmp.path().join("bomb.png");
    finder_pattern_bomb(&png);
    let size = std::fs::metadata(&png).unwrap().len();
    assert!(size < 16 * 1024, "the bomb is small: {size} bytes");
    let out = run_or_fail_on_hang(
        &kc,
        &add_args(
            "acme",
            &["--no-password", "--totp-qr", png.to_str().unwrap()],
        ),
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("bomb.png"), "{err}");
    assert!(err.contains("too many QR"), "{err}");
    assert!(!kc.record("acme").exists());
}

#[test]
fn a_qr_image_larger_than_any_screenshot_is_refused_before_decoding() {
    let kc = Kc::with_file_store();
    let png = kc.tmp.path().join("huge.png");
    image::GrayImage::from_pixel(20_000, 8, image::Luma([255]))
        .save(&png)
        .unwrap();
    let out = kc.run(&add_args(
        "acme",
        &["--no-password", "--totp-qr", png.to_str().unwrap()],
    ));
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("huge.png") && err.contains("pixels"), "{err}");
}

// ---- backups are validated like `add` ------------------------------------------------------

/// An export of one account from `source`, decrypted with the officer's identity, edited by
/// `edit`, and encrypted to the officer again: what anyone holding the officer's public key
/// can make.
fn forged_export(
    source: &Kc,
    officer: &Kc,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let recipient = recipient_of(officer);
    let path = source.tmp.path().join(format!("{name}.age"));
    source.ok(&["export", "--recipient", &recipient, path.to_str().unwrap()]);
    let identity_text = std::fs::read_to_string(officer.dir.join("identity.txt")).unwrap();
    let identity = identity_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .map(|l| age::x25519::Identity::from_str(l.trim()).unwrap())
        .unwrap();
    let plain = age::decrypt(&identity, &std::fs::read(&path).unwrap()).unwrap();
    let mut export: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    edit(&mut export["accounts"][0]);
    let recipient = age::x25519::Recipient::from_str(&recipient).unwrap();
    let forged = age::encrypt(&recipient, &serde_json::to_vec(&export).unwrap()).unwrap();
    std::fs::write(&path, forged).unwrap();
    path
}

#[test]
fn an_imported_backup_is_validated_like_add_and_invalid_accounts_are_refused() {
    let source = Kc::with_file_store();
    source.add_account("acme");
    let officer = Kc::with_file_store();
    let identity = officer.dir.join("identity.txt");
    type Edit = fn(&mut serde_json::Value);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "crlf-token",
            |a| a["secrets"]["refresh-token"] = "rt\r\nX-Injected: 1".into(),
            "refresh token",
        ),
        (
            "digits",
            |a| a["header"]["totp"]["digits"] = 99.into(),
            "digits",
        ),
        (
            "period",
            |a| a["header"]["totp"]["period"] = 0.into(),
            "period",
        ),
        (
            "url",
            |a| a["header"]["provider"]["issuer"] = "file:///etc/passwd".into(),
            "URL",
        ),
        (
            "name",
            |a| a["header"]["name"] = "../escape".into(),
            "account name",
        ),
        (
            "provider",
            |a| a["header"]["provider"]["kind"] = "keycloak".into(),
            "the provider \"keycloak\" is not one keychain knows",
        ),
    ];
    for (case, edit, why) in cases {
        let target = Kc::with_file_store();
        std::fs::copy(&identity, target.tmp.path().join("officer.key")).unwrap();
        let forged = forged_export(&source, &officer, case, edit);
        let out = target.run(&[
            "import",
            forged.to_str().unwrap(),
            "--identity",
            target.tmp.path().join("officer.key").to_str().unwrap(),
        ]);
        assert_exit(&out, 2);
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            report.starts_with("refused") && report.contains(why),
            "{case}: {report}"
        );
        assert!(!contains(&out.stdout, "X-Injected") && !contains(&out.stderr, "X-Injected"));
        let listed: serde_json::Value =
            serde_json::from_str(&target.ok(&["list", "--json"])).unwrap();
        assert_eq!(
            listed["accounts"],
            serde_json::json!([]),
            "{case}: nothing stored"
        );
        std::fs::remove_file(&forged).unwrap();
    }
}

// ---- Invantive's documented layout: secrets on <database> ----------------------------------

#[test]
fn import_strip_of_the_documented_example_moves_user_password_and_totp_and_strips_exactly_them() {
    let kc = Kc::with_file_store();
    let file = kc.tmp.path().join("settings-seed-example.xml");
    std::fs::copy(settings_fixture("settings-seed-example.xml"), &file).unwrap();
    let original = std::fs::read_to_string(&file).unwrap();

    let out = kc.run(&["import", file.to_str().unwrap(), "--strip"]);
    assert_success(&out, &["import", "--strip"]);
    let name = "exact-online-background-eol";
    let show: serde_json::Value = serde_json::from_str(&kc.ok(&["show", name, "--json"])).unwrap();
    assert_eq!(show["user"], "john.doe@acme.com");
    assert_eq!(show["provider"]["kind"], "exact-nl");
    assert_eq!(
        kc.ok(&["show", name, "--reveal", "password"]),
        "seed-Pw-canary-42\n"
    );
    assert_eq!(
        kc.ok(&["show", name, "--reveal", "totp-secret"]),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
    );

    // Exactly the two moved values are gone; every other byte is as it was.
    let expected = original
        .replace(" defaultPassword=\"seed-Pw-canary-42\"", "")
        .replace("totp-secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ;", "");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);

    // The report names each value moved, never the value itself.
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    for key in ["defaultPassword", "totp-secret"] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("moved") && l.contains(key) && l.contains(name)),
            "{key} not reported as moved:\n{report}"
        );
    }
    assert!(!report.contains("seed-Pw-canary") && !report.contains("GEZDGNBVGY3TQOJQ"));

    // The audit log names the values moved (line and key), recorded before the file changed.
    let log = std::fs::read_to_string(kc.dir.join("audit.log")).unwrap();
    assert!(
        log.contains(&format!("defaultPassword to {name} password"))
            && log.contains(&format!("totp-secret to {name} totp-secret")),
        "{log}"
    );
    assert!(!log.contains("seed-Pw-canary") && !log.contains("GEZDGNBVGY3TQOJQ"));
    kc.ok(&["audit", "verify"]);
}

#[test]
fn import_strip_through_a_symlink_rewrites_the_target_and_keeps_the_link() {
    let kc = Kc::with_file_store();
    let real_dir = kc.tmp.path().join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("settings-seed-example.xml");
    std::fs::copy(settings_fixture("settings-seed-example.xml"), &real).unwrap();
    let link = kc.tmp.path().join("settings-link.xml");
    symlink(&real, &link).unwrap();

    kc.ok(&["import", link.to_str().unwrap(), "--strip"]);
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    assert_eq!(std::fs::read_link(&link).unwrap(), real);
    let stripped = std::fs::read_to_string(&real).unwrap();
    assert!(!stripped.contains("seed-Pw-canary-42"), "{stripped}");
    // The backup sits beside the file that was rewritten.
    assert!(std::fs::read_dir(&real_dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".keychain-backup-")
    }));
}

#[test]
fn import_strip_leaves_a_value_the_keychain_holds_differently() {
    let kc = Kc::with_file_store();
    let file = kc.tmp.path().join("settings-seed-example.xml");
    std::fs::copy(settings_fixture("settings-seed-example.xml"), &file).unwrap();
    kc.ok(&["import", file.to_str().unwrap()]);
    let name = "exact-online-background-eol";
    let other = kc.file("other-pw", "a-different-password\n");
    kc.ok(&["set", name, "--password-file", other.to_str().unwrap()]);

    // The account exists: the TOTP secret in it equals the file's and is stripped; the
    // password differs, so the file's password stays and the command says so.
    let out = kc.run(&["import", file.to_str().unwrap(), "--strip"]);
    assert_exit(&out, 2);
    let stripped = std::fs::read_to_string(&file).unwrap();
    assert!(stripped.contains("defaultPassword=\"seed-Pw-canary-42\""));
    assert!(!stripped.contains("GEZDGNBVGY3TQOJQ"));
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("left") && l.contains("defaultPassword")),
        "{report}"
    );
}
