//! The shared store on a real OpenBao: the KV v2 client's answers and errors, the record store
//! and the lease lock. Each test starts its own server (~0.2 s) and uses its own mount.

use crate::support;

use std::time::Duration;

use crate::support::openbao::Bao;
use keychain::store::openbao::{BaoError, KvClient};
use serde_json::{Map, Value, json};

fn data(value: &str) -> Map<String, Value> {
    json!({ "v": value }).as_object().unwrap().clone()
}

#[test]
fn kv_client_reads_versions_and_refuses_a_stale_check_and_set() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let client = KvClient::new(&bao.settings(&mount, "kc", bao.root_token_file())).unwrap();

    let absent = client.read(&mount, "kc/records/a").unwrap();
    assert!(absent.data.is_none());
    assert_eq!(absent.version, 0);

    assert_eq!(
        client
            .write(&mount, "kc/records/a", data("one"), 0)
            .unwrap(),
        1
    );
    let err = client
        .write(&mount, "kc/records/a", data("x"), 0)
        .unwrap_err();
    assert!(matches!(err, BaoError::CasConflict { .. }), "{err}");
    assert_eq!(
        client
            .write(&mount, "kc/records/a", data("two"), 1)
            .unwrap(),
        2
    );
    let err = client
        .write(&mount, "kc/records/a", data("three"), 1)
        .unwrap_err();
    assert!(matches!(err, BaoError::CasConflict { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("{mount}/data/kc/records/a")),
        "{err}"
    );

    let entry = client.read(&mount, "kc/records/a").unwrap();
    assert_eq!(entry.version, 2);
    assert_eq!(entry.data.unwrap()["v"], "two");
    assert_eq!(
        client.list(&mount, "kc/records").unwrap(),
        vec!["a".to_string()]
    );
    assert!(client.list(&mount, "kc/nothing").unwrap().is_empty());
    assert!(client.cas_required(&mount).unwrap());

    // Deleting a version leaves the key's version number readable.
    client
        .delete_versions(&mount, "kc/records/a", &[2])
        .unwrap();
    let deleted = client.read(&mount, "kc/records/a").unwrap();
    assert!(deleted.data.is_none());
    assert_eq!(deleted.version, 2);
}

/// Plain http to a loopback OpenBao, through whatever client drives the wire (reqwest's async
/// client on a runtime in the calling thread since issue 20, item 7): answers far past one
/// buffer (OpenBao sends them chunked), a value written and read back byte for byte, and many
/// calls in a row on the connections it keeps.
#[test]
fn kv_client_on_plain_loopback_http_reads_back_large_values_exactly() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let client = KvClient::new(&bao.settings(&mount, "kc", bao.root_token_file())).unwrap();
    // Every byte value JSON escapes differently, and lengths around the buffer sizes.
    let varied: String = (0..4096u32)
        .map(|i| char::from_u32(0x20 + i % 0x5f).unwrap())
        .collect();
    for (i, len) in [0usize, 1, 2047, 2048, 4097, 65_537, 3 << 20]
        .into_iter()
        .enumerate()
    {
        let value: String = varied.chars().cycle().take(len).collect();
        let path = format!("kc/records/v{i}");
        assert_eq!(client.write(&mount, &path, data(&value), 0).unwrap(), 1);
        let read = client.read(&mount, &path).unwrap();
        assert_eq!(
            read.data.unwrap()["v"].as_str(),
            Some(value.as_str()),
            "{len}"
        );
    }
    for _ in 0..50 {
        assert_eq!(client.read(&mount, "kc/records/v1").unwrap().version, 1);
    }
}

#[test]
fn a_policy_without_the_path_gets_a_403_naming_path_and_capability() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let dir = tempfile::tempdir().unwrap();
    let auth = bao.approle(
        "other",
        &Bao::keychain_policy(&mount, "other"),
        "15m",
        dir.path(),
    );
    let client = KvClient::new(&bao.settings(&mount, "kc", auth)).unwrap();

    let err = client.read(&mount, "kc/records/a").unwrap_err();
    assert!(
        matches!(
            err,
            BaoError::Forbidden {
                capability: "read",
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("{mount}/data/kc/records/a")),
        "{text}"
    );
    assert!(text.contains("'read'"), "{text}");
    let err = client
        .write(&mount, "kc/records/a", data("x"), 0)
        .unwrap_err();
    assert!(
        matches!(
            err,
            BaoError::Forbidden {
                capability: "create",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.exit_code(), 8);
    // Its own path works.
    client
        .write(&mount, "other/records/a", data("x"), 0)
        .unwrap();
}

#[test]
fn sealed_and_unreachable_servers_are_named_and_fail_fast() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let client = KvClient::new(&bao.settings(&mount, "kc", bao.root_token_file())).unwrap();
    client
        .write(&mount, "kc/records/a", data("one"), 0)
        .unwrap();

    bao.seal();
    let err = client.read(&mount, "kc/records/a").unwrap_err();
    assert!(matches!(err, BaoError::Sealed { .. }), "{err}");
    assert!(err.to_string().contains(&bao.addr), "{err}");
    assert_eq!(err.exit_code(), 5);

    bao.stop();
    let started = std::time::Instant::now();
    let err = client.read(&mount, "kc/records/a").unwrap_err();
    assert!(matches!(err, BaoError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&bao.addr), "{err}");
    assert!(err.is_unavailable());
    assert!(started.elapsed() < keychain::store::openbao::client::REQUEST_TIMEOUT);
}

#[test]
fn an_approle_token_that_expires_mid_run_is_obtained_again() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let dir = tempfile::tempdir().unwrap();
    // A TTL shorter than the client's margin: every cached token is used once at most; the
    // server revokes it after 2 s whatever the client thinks.
    let auth = bao.approle("etl", &Bao::keychain_policy(&mount, "kc"), "2s", dir.path());
    let client = KvClient::new(&bao.settings(&mount, "kc", auth)).unwrap();
    client
        .write(&mount, "kc/records/a", data("one"), 0)
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let entry = client.read(&mount, "kc/records/a").unwrap();
    assert_eq!(entry.version, 1);
    let logins = bao.audit_log().matches("auth/approle/login").count();
    assert!(
        logins >= 2,
        "expected a second login, audit log shows {logins}"
    );
}

#[test]
fn a_dead_token_that_cannot_be_renewed_fails_clearly() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let token = bao.bao(&["token", "create", "-field=token", "-ttl=1h", "-policy=root"]);
    let token_file = bao.base.path().join("short.token");
    support::openbao::write_private(&token_file, &token);
    let auth = keychain::store::openbao::AuthSettings::TokenFile {
        token_file: token_file.clone(),
    };
    let client = KvClient::new(&bao.settings(&mount, "kc", auth)).unwrap();
    client
        .write(&mount, "kc/records/a", data("one"), 0)
        .unwrap();
    let out = bao.bao_output(&["token", "revoke", &token], None);
    assert!(out.status.success());
    let err = client.read(&mount, "kc/records/a").unwrap_err();
    assert!(
        matches!(err, BaoError::TokenExpired { relogged: true, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains(&token));
    assert_eq!(err.exit_code(), 6);
}

#[test]
fn a_keychain_on_openbao_keeps_the_same_sealed_bytes_and_names_its_records_by_url() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let kc = bao.keychain(&mount, "team/etl");
    assert!(!kc.dir.join("accounts").exists(), "no local records folder");
    kc.add_account("acme");
    assert_eq!(kc.ok(&["list", "--json"]).matches("\"acme\"").count(), 1);
    assert!(kc.ok(&["show", "acme"]).contains("dwho"));

    // What OpenBao holds is the age-sealed record: no secret in the clear.
    let stored = bao.bao(&[
        "kv",
        "get",
        "-format=json",
        &format!("-mount={mount}"),
        "team/etl/records/acme",
    ]);
    assert!(!stored.contains(support::CANARY_PASSWORD));
    assert!(!stored.contains(support::TOTP_SECRET));
    let config = std::fs::read_to_string(kc.dir.join("config.json")).unwrap();
    assert!(config.contains("\"kind\": \"openbao\""), "{config}");
    assert!(!config.contains(support::openbao::ROOT_TOKEN), "{config}");

    // Adding it again is refused by check-and-set (cas 0 on an existing key).
    let out = kc.run(&support::add_args("acme", &[]));
    support::assert_exit(&out, 2);
    assert!(
        support::stderr(&out).contains("already exists"),
        "{}",
        support::stderr(&out)
    );

    // A damaged record is named by its URL.
    let stored: Value = serde_json::from_str(&stored).unwrap();
    let version = stored["data"]["metadata"]["version"].as_u64().unwrap();
    bao.bao(&[
        "kv",
        "put",
        &format!("-mount={mount}"),
        &format!("-cas={version}"),
        "team/etl/records/acme",
        "record=bm90IGEgcmVjb3Jk",
    ]);
    let out = kc.run(&["show", "acme"]);
    support::assert_exit(&out, 7);
    let err = support::stderr(&out);
    assert!(
        err.contains(&format!(
            "openbao://127.0.0.1:{}/{mount}/team/etl/acme",
            bao.port
        )),
        "{err}"
    );

    kc.ok(&["rm", "-f", "acme"]);
    assert!(!kc.ok(&["list"]).contains("acme"));
    kc.add_account("acme");
}

mod lease {
    use super::*;
    use keychain::store::openbao::OpenBaoStore;
    use keychain::store::{Expect, RecordStore, StoreError};

    fn store(bao: &Bao, mount: &str, lease: Duration) -> OpenBaoStore {
        OpenBaoStore::open(&bao.settings(mount, "kc", bao.root_token_file()), lease).unwrap()
    }

    #[test]
    fn two_machines_incrementing_under_the_lease_never_lose_an_update() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let first = store(&bao, &mount, Duration::from_secs(10));
        let lock = first.lock("n", Duration::from_secs(5)).unwrap();
        first.write(&*lock, Expect::Absent, b"0").unwrap();
        drop(lock);
        const EACH: usize = 25;
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let store = store(&bao, &mount, Duration::from_secs(10));
                    for _ in 0..EACH {
                        let lock = store.lock("n", Duration::from_secs(30)).unwrap();
                        let raw = store.read("n").unwrap().unwrap();
                        let n: usize = String::from_utf8(raw.bytes).unwrap().parse().unwrap();
                        store
                            .write(
                                &*lock,
                                Expect::At(raw.revision),
                                (n + 1).to_string().as_bytes(),
                            )
                            .unwrap();
                    }
                });
            }
        });
        let raw = first.read("n").unwrap().unwrap();
        assert_eq!(
            String::from_utf8(raw.bytes).unwrap(),
            (2 * EACH).to_string()
        );
    }

    #[test]
    fn a_holder_whose_lease_ran_out_stops_and_its_stale_write_is_refused() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let lease = Duration::from_secs(3);
        // A's own token, so that A alone can be cut off from the server.
        let token = bao.bao(&["token", "create", "-field=token", "-ttl=1h", "-policy=root"]);
        let token_file = bao.base.path().join("a.token");
        support::openbao::write_private(&token_file, &token);
        let auth = keychain::store::openbao::AuthSettings::TokenFile {
            token_file: token_file.clone(),
        };
        let a = OpenBaoStore::open(&bao.settings(&mount, "kc", auth), lease).unwrap();
        let b = store(&bao, &mount, lease);
        let lock_a = a.lock("acct", Duration::from_secs(5)).unwrap();
        let rev = a.write(&*lock_a, Expect::Absent, b"v1").unwrap();

        // Held: B waits and gives up, naming the holder (pid, host, since when: issue 25).
        let err = b.lock("acct", Duration::from_millis(300)).err().unwrap();
        assert!(matches!(err, StoreError::LockTimeout { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains(&keychain::host::host_name())
                && text.contains(" since "),
            "{text}"
        );

        // A can no longer renew (its token revoked): its lease runs out on the server's
        // clock and B takes over, then writes.
        bao.bao(&["token", "revoke", &token]);
        let lock_b = b.lock("acct", Duration::from_secs(10)).unwrap();
        b.write(&*lock_b, Expect::At(rev.clone()), b"v2-by-b")
            .unwrap();

        // A's own clock tells it its lease may have run out: it must write nothing more.
        let err = lock_a.still_held().unwrap_err();
        assert!(
            matches!(err, StoreError::Bao(BaoError::LeaseLost { .. })),
            "{err}"
        );
        assert_eq!(err.exit_code(), 5);
        // And a write it tries anyway (with a working token again) is refused by
        // check-and-set on the version it read.
        let fresh = bao.bao(&["token", "create", "-field=token", "-ttl=1h", "-policy=root"]);
        support::openbao::write_private(&token_file, &fresh);
        let err = a.write(&*lock_a, Expect::At(rev), b"v2-by-a").unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert_eq!(b.read("acct").unwrap().unwrap().bytes, b"v2-by-b");

        // A's release does not free B's lock.
        drop(lock_a);
        let err = a.lock("acct", Duration::from_millis(300)).err().unwrap();
        assert!(matches!(err, StoreError::LockTimeout { .. }), "{err}");
        drop(lock_b);
        a.lock("acct", Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn a_holder_renews_while_it_works_longer_than_the_lease() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let lease = Duration::from_secs(2);
        let a = store(&bao, &mount, lease);
        let b = store(&bao, &mount, lease);
        let lock = a.lock("slow", Duration::from_secs(5)).unwrap();
        // Three leases long (a slow headless logon): B never gets in, A may still write.
        let err = b.lock("slow", 3 * lease).err().unwrap();
        assert!(matches!(err, StoreError::LockTimeout { .. }), "{err}");
        a.write(&*lock, Expect::Absent, b"done").unwrap();
        drop(lock);
        b.lock("slow", Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn a_holder_killed_with_sigkill_is_taken_over_after_its_lease() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let kc = bao.keychain(&mount, "kc");
        // A token endpoint that accepts connections and never answers: `login` holds the lock
        // while it waits for the refresh.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let token_url = format!("http://{}/token", silent.local_addr().unwrap());
        let rt = kc.file("rt.txt", "refresh-token-1");
        let pw = kc.file("pw.txt", "pw");
        let totp = kc.file("totp.txt", support::TOTP_SECRET);
        // The lock key gets its lease when first used (here, by add).
        let add = [
            "add",
            "--no-client-secret",
            "acct",
            "--password-file",
            pw.to_str().unwrap(),
            "--totp-file",
            totp.to_str().unwrap(),
            "--provider",
            "oauth2",
            "--authorize-url",
            "http://127.0.0.1:9/auth",
            "--token-url",
            &token_url,
            "--client-id",
            "cli",
            "--user",
            "dwho",
            "--refresh-token-file",
            rt.to_str().unwrap(),
        ];
        let out = kc
            .cmd()
            .env("KEYCHAIN_OPENBAO_LEASE", "3")
            .args(add)
            .output()
            .unwrap();
        support::assert_success(&out, &add);
        let mut holder = kc
            .std_cmd()
            .args(["login", "acct"])
            .env("KEYCHAIN_OPENBAO_LEASE", "3")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the holder has its lease and is inside the refresh.
        let (_conn, _) = silent.accept().unwrap();
        holder.kill().unwrap();
        holder.wait().unwrap();
        let killed = std::time::Instant::now();

        let other = keychain::keychain::Keychain::open(&kc.dir).unwrap();
        let err = other
            .store()
            .lock("acct", Duration::from_millis(500))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::LockTimeout { .. }), "{err}");
        let lock = other.store().lock("acct", Duration::from_secs(10)).unwrap();
        let waited = killed.elapsed();
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
            "taken over after {waited:?} (lease 3 s)"
        );
        drop(lock);
        // The record is intact.
        assert!(kc.ok(&["show", "acct"]).contains("dwho"));
    }
}

#[test]
fn while_openbao_is_down_login_serves_only_a_still_valid_token_from_the_local_copy() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let kc = bao.keychain(&mount, "kc");
    kc.add_account("valid");
    kc.add_account("expiring");
    let now = support::unix_now() as i64;
    for (name, lifetime) in [("valid", 600), ("expiring", 30)] {
        kc.edit_account(name, |account| {
            account.set_secret(
                keychain::record::SecretField::AccessToken,
                Some(format!("at-{name}").into()),
                now,
            );
            account.header.access_token_expires = Some(now + lifetime);
        });
    }
    // Seen once while OpenBao answered: the local copy is what this machine read last.
    assert_eq!(kc.ok(&["login", "valid"]).trim(), "at-valid");
    let copy = kc.dir.join("shared-copy/valid.kcr");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&copy).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !support::contains(&std::fs::read(&copy).unwrap(), "at-valid"),
        "still sealed"
    );

    bao.seal();
    assert_eq!(kc.ok(&["login", "valid"]).trim(), "at-valid");
    // Valid for less than --min-valid (60 s): no refresh is possible, so it fails, naming
    // the server and saying it is sealed.
    let out = kc.run(&["login", "expiring"]);
    support::assert_exit(&out, 5);
    assert!(
        support::stderr(&out).contains("sealed"),
        "{}",
        support::stderr(&out)
    );
    assert!(
        support::stderr(&out).contains(&bao.addr),
        "{}",
        support::stderr(&out)
    );
    // Everything else fails fast.
    let out = kc.run(&["show", "valid"]);
    support::assert_exit(&out, 5);

    bao.stop();
    let started = std::time::Instant::now();
    assert_eq!(kc.ok(&["login", "valid"]).trim(), "at-valid");
    let out = kc.run(&["login", "valid", "--min-valid", "900"]);
    support::assert_exit(&out, 5);
    let err = support::stderr(&out);
    assert!(
        err.contains(&format!("OpenBao at {} did not answer", bao.addr)),
        "{err}"
    );
    let out = kc.run(&support::add_args("new", &[]));
    support::assert_exit(&out, 5);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn store_copy_moves_a_local_keychain_into_a_shared_one_and_back() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let local = support::Kc::with_file_store();
    local.add_account("acme");
    local.add_account("beta");
    let shared = bao.keychain(&mount, "kc");
    let shared_dir = shared.dir.to_str().unwrap();

    // A typo copies nothing.
    let out = local.run(&["store", "copy", "--to", shared_dir, "acme", "nope"]);
    support::assert_exit(&out, 3);
    assert!(!shared.ok(&["list"]).contains("acme"));

    let out = local.run(&["store", "copy", "--to", shared_dir, "--move"]);
    support::assert_success(&out, &["store", "copy"]);
    let err = support::stderr(&out);
    assert!(
        err.contains(&format!(
            "Moved account 'acme' to openbao://127.0.0.1:{}/{mount}/kc/acme",
            bao.port
        )),
        "{err}"
    );
    assert!(!local.ok(&["list"]).contains("acme"));
    let listed = shared.ok(&["list"]);
    assert!(
        listed.contains("acme") && listed.contains("beta"),
        "{listed}"
    );
    let secret = shared.ok(&["show", "acme", "--reveal", "password"]);
    assert_eq!(secret.trim(), support::CANARY_PASSWORD);

    // And back, into a new local keychain; another account of a name already there is
    // refused (the same account would be left as it is, unchanged).
    let back = support::Kc::with_file_store();
    back.add_account("beta");
    back.ok(&["set", "beta", "--user", "someone-else"]);
    let back_dir = back.dir.to_str().unwrap();
    shared.ok(&["store", "copy", "--to", back_dir, "acme"]);
    assert_eq!(
        back.ok(&["show", "acme", "--reveal", "password"]).trim(),
        support::CANARY_PASSWORD
    );
    let out = shared.run(&["store", "copy", "--to", back_dir, "beta"]);
    support::assert_exit(&out, 2);
    assert!(
        support::stderr(&out).contains("already exists"),
        "{}",
        support::stderr(&out)
    );
    assert!(
        shared.ok(&["list"]).contains("beta"),
        "nothing removed on failure"
    );
}

mod init {
    use super::*;
    use support::{Kc, assert_exit, stderr};

    #[test]
    fn init_turns_on_cas_required_or_says_why_it_cannot() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        bao.bao(&["write", &format!("{mount}/config"), "cas_required=false"]);
        let kc = bao.keychain(&mount, "kc");
        assert!(kc.dir.join("config.json").exists());
        let config = bao.bao(&["read", "-field=cas_required", &format!("{mount}/config")]);
        assert_eq!(config, "true");

        // A machine whose policy may not change the mount: init goes on and says what to ask.
        bao.bao(&["write", &format!("{mount}/config"), "cas_required=false"]);
        let dir = tempfile::tempdir().unwrap();
        let auth = bao.approle(
            "etl",
            &Bao::keychain_policy(&mount, "etl"),
            "15m",
            dir.path(),
        );
        let keychain::store::openbao::AuthSettings::AppRole {
            role_id_file,
            secret_id_file,
        } = auth
        else {
            unreachable!()
        };
        let kc = Kc::new();
        let out = kc.run(&bao.init_args(
            &mount,
            "etl",
            &[
                "--role-id-file",
                role_id_file.to_str().unwrap(),
                "--secret-id-file",
                secret_id_file.to_str().unwrap(),
            ],
        ));
        support::assert_success(&out, &["init"]);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("bao write {mount}/config cas_required=true")),
            "{err}"
        );
        let config = std::fs::read_to_string(kc.dir.join("config.json")).unwrap();
        assert!(config.contains("secret_id_file"), "{config}");
        let secret_id = std::fs::read_to_string(&secret_id_file).unwrap();
        assert!(
            !config.contains(secret_id.trim()),
            "the secret id itself is never kept"
        );
        kc.add_account("acme");
        assert!(kc.ok(&["list"]).contains("acme"));
    }

    /// Two new keychains on `mount`, each with its `init`'s output: `wide`, whose role's tokens
    /// also carry OpenBao's `default` policy (as a role gets it unless told otherwise), and
    /// `narrow`, set up as docs/shared-keychain.md says.
    fn wide_and_narrow(bao: &Bao, mount: &str) -> [(Kc, std::process::Output); 2] {
        let dir = tempfile::tempdir().unwrap();
        let wide = bao.approle_with_default_policy(
            "wide",
            &Bao::keychain_policy(mount, "wide"),
            "15m",
            dir.path(),
        );
        let narrow = bao.approle(
            "narrow",
            &Bao::keychain_policy(mount, "narrow"),
            "15m",
            dir.path(),
        );
        [("wide", wide), ("narrow", narrow)].map(|(prefix, auth)| {
            let kc = Kc::new();
            let out = Bao::run_init(&kc, &bao.addr, mount, prefix, auth, &[]);
            support::assert_success(&out, &["init"]);
            (kc, out)
        })
    }

    const DEFAULT_POLICY_NOTE: &str = "token_no_default_policy=true";

    #[test]
    fn init_says_when_the_token_carries_the_default_policy_and_only_then() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let [(wide, wide_init), (narrow, narrow_init)] = wide_and_narrow(&bao, &mount);
        let err = stderr(&wide_init);
        assert!(err.contains(DEFAULT_POLICY_NOTE), "{err}");
        assert!(err.contains("auth/token/lookup-self"), "{err}");
        let err = stderr(&narrow_init);
        assert!(!err.contains(DEFAULT_POLICY_NOTE), "{err}");
        // Both work.
        wide.add_account("acme");
        narrow.add_account("acme");
    }

    #[test]
    fn status_names_a_token_with_the_default_policy_or_without_lookup_self() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let [(wide, _), (narrow, _)] = wide_and_narrow(&bao, &mount);
        let stdout = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).to_string();

        let out = wide.run(&["status"]);
        assert_exit(&out, 1);
        let text = stdout(&out);
        assert!(text.contains("openbao-default-policy"), "{text}");
        assert!(!text.contains("openbao-token-lookup"), "{text}");

        let out = narrow.run(&["status"]);
        assert_exit(&out, 0);
        assert!(!stdout(&out).contains("openbao-"), "{}", stdout(&out));

        // The operator takes lookup-self out of the policy after init: the same token, now
        // refused it.
        let policy =
            Bao::keychain_policy(&mount, "narrow").replace(support::openbao::LOOKUP_SELF, "");
        let written = bao.bao_output(&["policy", "write", "narrow", "-"], Some(&policy));
        assert!(written.status.success());
        let out = narrow.run(&["status"]);
        assert_exit(&out, 1);
        let text = stdout(&out);
        assert!(text.contains("openbao-token-lookup"), "{text}");
        assert!(text.contains("auth/token/lookup-self"), "{text}");
    }

    #[test]
    fn init_refuses_a_token_that_may_not_look_itself_up_and_creates_nothing() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let dir = tempfile::tempdir().unwrap();
        let policy = Bao::keychain_policy(&mount, "kc").replace(support::openbao::LOOKUP_SELF, "");
        assert!(!policy.contains("lookup-self"), "{policy}");
        let auth = bao.approle("blind", &policy, "15m", dir.path());
        let kc = Kc::new();
        let out = Bao::run_init(&kc, &bao.addr, &mount, "kc", auth, &[]);
        assert_exit(&out, 8);
        let err = stderr(&out);
        assert!(
            err.contains("'read' on auth/token/lookup-self"),
            "names the call and the capability: {err}"
        );
        assert!(err.contains("docs/shared-keychain.md"), "{err}");
        assert!(!kc.dir.join("config.json").exists(), "nothing created");
    }

    #[test]
    fn init_fails_before_creating_anything_when_the_server_or_the_flags_are_wrong() {
        let bao = Bao::start();
        let mount = bao.new_mount();
        let kc = Kc::new();
        // Unreachable: named, exit 5, no keychain made.
        let closed = support::closed_port();
        let addr = format!("http://127.0.0.1:{}", closed.port);
        let out = kc
            .cmd()
            .args([
                "init",
                "--key-store",
                "file",
                "--store",
                "openbao",
                "--mount",
                &mount,
                "--path",
                "kc",
            ])
            .env("BAO_ADDR", &addr)
            .env("BAO_TOKEN", support::openbao::ROOT_TOKEN)
            .output()
            .unwrap();
        assert_exit(&out, 5);
        assert!(stderr(&out).contains(&addr), "{}", stderr(&out));
        assert!(!kc.dir.join("config.json").exists());

        // Plain http off loopback: refused before any connection.
        let out = kc
            .cmd()
            .args([
                "init",
                "--key-store",
                "file",
                "--store",
                "openbao",
                "--addr",
                "http://10.0.0.1:8200",
                "--mount",
                &mount,
                "--path",
                "kc",
            ])
            .env("BAO_TOKEN", support::openbao::ROOT_TOKEN)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("plain http"), "{}", stderr(&out));

        // No token at all.
        let out = kc
            .cmd()
            .args(bao.init_args(&mount, "kc", &[]))
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_TOKEN")
            .output()
            .unwrap();
        assert_exit(&out, 6);
        assert!(stderr(&out).contains("BAO_TOKEN"), "{}", stderr(&out));

        // A missing --path is clap's to say.
        let out = kc
            .cmd()
            .args([
                "init", "--store", "openbao", "--addr", &bao.addr, "--mount", &mount,
            ])
            .output()
            .unwrap();
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("--path"), "{}", stderr(&out));
        assert!(!kc.dir.join("config.json").exists());

        // The token from the environment works, and is not kept.
        let out = kc
            .cmd()
            .args(bao.init_args(&mount, "kc", &[]))
            .env("BAO_TOKEN", support::openbao::ROOT_TOKEN)
            .output()
            .unwrap();
        support::assert_success(&out, &["init"]);
        let config = std::fs::read_to_string(kc.dir.join("config.json")).unwrap();
        assert!(!config.contains(support::openbao::ROOT_TOKEN));
        assert!(config.contains("\"method\": \"environment\""), "{config}");
    }

    #[test]
    fn https_with_a_private_ca_needs_ca_cert() {
        let bao = Bao::start_tls();
        let mount = bao.new_mount();
        let ca = bao.ca_cert.clone().unwrap();
        let token_file = bao.base.path().join("t");
        support::openbao::write_private(&token_file, support::openbao::ROOT_TOKEN);
        let kc = Kc::new();
        let out = kc.run(&bao.init_args(
            &mount,
            "kc",
            &["--token-file", token_file.to_str().unwrap()],
        ));
        assert_exit(&out, 5);
        let err = stderr(&out);
        assert!(
            err.contains(&bao.addr) && err.contains("certificate"),
            "{err}"
        );

        kc.ok(&bao.init_args(
            &mount,
            "kc",
            &[
                "--token-file",
                token_file.to_str().unwrap(),
                "--ca-cert",
                ca.to_str().unwrap(),
            ],
        ));
        kc.add_account("acme");
        assert!(kc.ok(&["list"]).contains("acme"));
    }
}

#[test]
fn an_approle_token_revoked_mid_run_is_replaced_once_then_fails_clearly() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let dir = tempfile::tempdir().unwrap();
    let auth = bao.approle(
        "etl",
        &Bao::keychain_policy(&mount, "kc"),
        "15m",
        dir.path(),
    );
    let client = KvClient::new(&bao.settings(&mount, "kc", auth.clone())).unwrap();
    client
        .write(&mount, "kc/records/a", data("one"), 0)
        .unwrap();

    // Every token AppRole handed out is revoked while the client still holds one.
    bao.bao(&["token", "revoke", "-mode=path", "auth/approle/"]);
    assert_eq!(client.read(&mount, "kc/records/a").unwrap().version, 1);
    assert!(bao.audit_log().matches("auth/approle/login").count() >= 2);

    // Now the secret id is gone too: one login attempt, then a clear error.
    let keychain::store::openbao::AuthSettings::AppRole { secret_id_file, .. } = auth else {
        unreachable!()
    };
    let secret_id = std::fs::read_to_string(&secret_id_file).unwrap();
    bao.bao(&[
        "write",
        "auth/approle/role/etl/secret-id/destroy",
        &format!("secret_id={}", secret_id.trim()),
    ]);
    bao.bao(&["token", "revoke", "-mode=path", "auth/approle/"]);
    let err = client.read(&mount, "kc/records/a").unwrap_err();
    assert!(matches!(err, BaoError::LoginRefused { .. }), "{err}");
    assert!(err.to_string().contains("AppRole login"), "{err}");
    assert_eq!(err.exit_code(), 6);
    let text = format!("{err} {err:?} {}", err.hint().unwrap());
    assert!(!text.contains(secret_id.trim()), "{text}");
}

/// Item 5 of issue 7: the state that keeps a provider's rules lives in the record, so every
/// machine of a shared keychain sees it. Two keychain folders stand for two machines (here with
/// a copy of one identity; members with their own keys come with `member add`).
#[test]
fn what_one_machine_learns_about_an_account_every_machine_sees() {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let first = bao.keychain(&mount, "kc");
    first.add_account("acme");
    let second = support::Kc::new();
    std::fs::create_dir_all(&second.dir).unwrap();
    // The same identity, so also the group key generation it trusts (group.pin): a copy
    // without it is refused as a pin removed by someone (exit 7).
    for file in ["config.json", "identity.txt", "group.pin"] {
        std::fs::copy(first.dir.join(file), second.dir.join(file)).unwrap();
    }
    // The audit log and its anchor come along; from here on each machine appends to its own.
    let dir = std::fs::read_dir(&first.dir).unwrap();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("audit") {
            std::fs::copy(entry.path(), second.dir.join(&name)).unwrap();
        }
    }

    // The access-token cache: what the first machine stored, the second serves.
    let now = support::unix_now() as i64;
    first.edit_account("acme", |account| {
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some("at-shared".to_string().into()),
            now,
        );
        account.header.access_token_expires = Some(now + 600);
        account.header.access_token_issued = Some(now);
        account.header.last_totp_step = Some(now as u64 / 30);
        account.header.provider_errors = vec![now - 10];
    });
    assert_eq!(second.ok(&["login", "acme"]).trim(), "at-shared");

    // The lockout guard: a rejection recorded by one machine stops the other (exit 4), with
    // no request sent.
    first.edit_account("acme", |account| {
        account.set_secret(keychain::record::SecretField::AccessToken, None, now);
        account.header.access_token_expires = None;
        account.header.logon_rejected = Some(keychain::record::Rejection {
            at: now,
            by: "first".into(),
            step: "password".into(),
        });
    });
    let out = second.run(&["login", "acme"]);
    support::assert_exit(&out, 4);
    let chain = keychain::keychain::Keychain::open(&second.dir).unwrap();
    let (account, _) = chain.read("acme").unwrap();
    assert_eq!(account.header.last_totp_step, Some(now as u64 / 30));
    assert_eq!(account.header.provider_errors, vec![now - 10]);
}
