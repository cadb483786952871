//! Issue 25, item 4: what keychain creates has its own mode whatever the umask, and a keychain
//! whose parent folder another user can write is refused.
//!
//! Every command that creates a folder or file runs under `umask 000` (through `sh`, which sets
//! it and execs keychain); then every folder under the keychain folder must be 0700 and every
//! file 0600, the man folders 0755 and pages 0644 (never group/other-writable), outputs 0600.
//! Before the fix `man --install` made `~/.local`, `~/.local/share`, `man` and `man1` 0777.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support;
use support::*;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Runs keychain with `args` under `umask 000`.
fn under_umask_000(kc: &Kc, home: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin("keychain"))
        .args(args)
        .env("KEYCHAIN_DIR", &kc.dir)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("KEYCHAIN_PASSPHRASE_FILE")
        .env("KEYCHAIN_SCRYPT_WORK_FACTOR", "10")
        .current_dir(kc.tmp.path())
        .output()
        .unwrap();
    assert_success(&out, args);
    out
}

#[test]
fn every_folder_and_file_keychain_creates_has_its_mode_under_umask_000() {
    let kc = Kc::new();
    let home = kc.tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let pw = kc.file("pw.txt", "pw-umask\n");
    let totp = kc.file("totp.txt", TOTP_SECRET);
    let config_recipient = || {
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(kc.dir.join("config.json")).unwrap()).unwrap();
        config["recipient"].as_str().unwrap().to_string()
    };

    under_umask_000(&kc, &home, &["init", "--key-store", "file"]);
    let add = add_args(
        "acme",
        &[
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-file",
            totp.to_str().unwrap(),
        ],
    );
    under_umask_000(&kc, &home, &add);
    under_umask_000(&kc, &home, &["totp", "acme"]);
    under_umask_000(&kc, &home, &["set", "acme", "--user", "other"]);
    let member = keychain::keystore::Identity::generate()
        .to_public()
        .to_string();
    under_umask_000(&kc, &home, &["member", "add", &member, "--name", "m2"]);
    under_umask_000(&kc, &home, &["audit", "rotate"]);
    let recipient = config_recipient();
    under_umask_000(
        &kc,
        &home,
        &["export", "--recipient", &recipient, "backup.age"],
    );
    under_umask_000(
        &kc,
        &home,
        &["audit", "--fail-on", "critical", "--html", "report.html"],
    );
    under_umask_000(&kc, &home, &["man", "--install"]);

    let mut checked = 0;
    for path in files_under(&kc.dir)
        .into_iter()
        .chain(std::iter::once(kc.dir.clone()))
    {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{}", path.display());
        checked += 1;
    }
    // files_under lists files; the folders too:
    for dir in ["accounts", "locks", "members"] {
        assert_eq!(mode(&kc.dir.join(dir)), 0o700, "{dir}");
    }
    assert!(checked > 5, "{checked}");
    for output in ["backup.age", "report.html"] {
        assert_eq!(mode(&kc.tmp.path().join(output)), 0o600, "{output}");
    }
    for dir in [
        ".local",
        ".local/share",
        ".local/share/man",
        ".local/share/man/man1",
    ] {
        assert_eq!(mode(&home.join(dir)), 0o755, "{dir}");
    }
    let page = home.join(".local/share/man/man1/keychain.1");
    assert_eq!(mode(&page), 0o644);
}

#[test]
fn a_keychain_under_a_folder_others_can_write_is_refused_unless_it_is_sticky() {
    let kc = Kc::new();
    let open = kc.tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    let kc_dir = open.join("kc");
    let run = |args: &[&str]| {
        kc.cmd()
            .env("KEYCHAIN_DIR", &kc_dir)
            .args(args)
            .output()
            .unwrap()
    };
    assert_success(&run(&["init", "--key-store", "file"]), &["init"]);
    assert_success(&run(&["list"]), &["list"]);

    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    // `status` is a monitoring plugin: a check it cannot make is unknown (3), not exit 7.
    for (args, code) in [
        (&["list"][..], 7),
        (&["status"][..], 3),
        (&["totp", "acme"][..], 7),
    ] {
        let out = run(args);
        assert_exit(&out, code);
        let err = stderr(&out);
        assert!(err.contains(&*open.to_string_lossy()), "{args:?}: {err}");
        assert!(err.contains("chmod"), "{args:?}: {err}");
    }
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o775)).unwrap();
    assert_exit(&run(&["list"]), 7);
    // Sticky, like /tmp: others cannot rename or remove what is not theirs.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert_success(&run(&["list"]), &["list"]);
}
