//! The shared store on a real OpenBao: the KV v2 client's answers and errors, the record store
//! and the lease lock. Each test starts its own server (~0.2 s) and uses its own mount.

mod support;

use std::time::Duration;

use keychain::store::openbao::{BaoError, KvClient};
use serde_json::{Map, Value, json};
use support::openbao::Bao;

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
