//! Members and the shared audit trail of a keychain on a real OpenBao (dev server on loopback,
//! each test on its own mount). Two machines are two keychain folders with identities of their
//! own; the second logs in with an AppRole whose policy allows only the keychain's path.

use crate::support;

use serde_json::Value;
use support::openbao::Bao;
use support::{Kc, assert_exit, stderr};

const PREFIX: &str = "team/etl";

pub(crate) struct Pair {
    pub(crate) bao: Bao,
    pub(crate) mount: String,
    pub(crate) etl1: Kc,
    pub(crate) etl2: Kc,
    pub(crate) etl2_recipient: String,
}

/// etl1 starts the keychain with one account (`acme`); etl2 runs `init --join` with its own
/// AppRole, not added yet, and is told what to ask a member for and what to run then.
pub(crate) fn joined() -> Pair {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let etl1 = bao.keychain(&mount, PREFIX);
    etl1.add_account("acme");
    let (etl2, out) = bao.joining(&mount, PREFIX, "etl2");
    let etl2_recipient = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_string();
    assert!(etl2_recipient.starts_with("age1"), "{etl2_recipient}");
    assert!(
        stderr(&out).contains(&format!("keychain member add {etl2_recipient} --name")),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("member join"), "{}", stderr(&out));
    Pair {
        bao,
        mount,
        etl1,
        etl2,
        etl2_recipient,
    }
}

/// etl1 adds etl2; etl2 checks the store against the join code etl1 printed.
fn add_etl2(p: &Pair) -> String {
    let code = p
        .etl1
        .ok(&["member", "add", &p.etl2_recipient, "--name", "etl2"]);
    let code = code.trim().to_string();
    assert!(code.starts_with("kcj1-"), "{code}");
    p.etl2.ok(&["member", "join", &code]);
    code
}

fn identity_of(kc: &Kc) -> keychain::keystore::Identity {
    let config = keychain::config::Config::load(&kc.dir).unwrap();
    keychain::keystore::load_identity(&kc.dir, &config, &keychain::settings::Settings::default())
        .unwrap()
}

/// The value and version of `key` under the keychain's prefix, as the `bao` CLI reads it.
fn read_raw(p: &Pair, key: &str) -> (String, u64) {
    let json = p.bao.bao(&[
        "kv",
        "get",
        "-format=json",
        &format!("-mount={}", p.mount),
        &format!("{PREFIX}/{key}"),
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    (
        v["data"]["data"]["value"].as_str().unwrap().to_string(),
        v["data"]["metadata"]["version"].as_u64().unwrap(),
    )
}

/// Overwrites `key` with `value` (base64), as anyone whose policy lets them write the path can.
fn write_raw(p: &Pair, key: &str, value: &str, version: u64) {
    p.bao.bao(&[
        "kv",
        "put",
        &format!("-mount={}", p.mount),
        &format!("-cas={version}"),
        &format!("{PREFIX}/{key}"),
        &format!("value={value}"),
    ]);
}

fn record_opens_with(p: &Pair, name: &str, identity: &keychain::keystore::Identity) -> bool {
    use base64::Engine;
    let json = p.bao.bao(&[
        "kv",
        "get",
        "-format=json",
        &format!("-mount={}", p.mount),
        &format!("{PREFIX}/records/{name}"),
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["data"]["data"]["record"].as_str().unwrap())
        .unwrap();
    keychain::record::open(&bytes, name, identity).is_ok()
}

#[test]
fn a_joined_machine_waits_to_be_added_then_reads_and_both_log_to_one_verified_trail() {
    let p = joined();
    let out = p.etl2.run(&["show", "acme"]);
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains(&format!("keychain member add {}", p.etl2_recipient)),
        "{}",
        stderr(&out)
    );

    add_etl2(&p);
    assert!(record_opens_with(&p, "acme", &identity_of(&p.etl2)));
    assert!(p.etl2.ok(&["show", "acme"]).contains("dwho"));
    p.etl2.ok(&["show", "acme", "--reveal", "password"]);

    let listed: Value = serde_json::from_str(&p.etl2.ok(&["member", "list", "--json"])).unwrap();
    assert_eq!(listed["members"].as_array().unwrap().len(), 2, "{listed}");

    // Both machines' events in one chain, verified from either side; etl1 sees etl2's reveal.
    for kc in [&p.etl1, &p.etl2] {
        let out = kc.run(&["audit", "verify"]);
        assert_exit(&out, 0);
    }
    // The report brings etl1's copy of the trail up to date.
    let report: Value = serde_json::from_slice(&p.etl1.run(&["audit", "--json"]).stdout).unwrap();
    assert_eq!(
        report["accounts"][0]["last_use"]["action"], "reveal",
        "{report}"
    );
    let copy = std::fs::read_to_string(p.etl1.dir.join("shared-audit.log")).unwrap();
    let actions: Vec<String> = copy
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["action"].to_string())
        .collect();
    for wanted in ["init", "add", "member_add", "reseal", "reveal"] {
        assert!(
            actions.iter().any(|a| a.trim_matches('"') == wanted),
            "{wanted} missing in {actions:?}"
        );
    }
    assert!(
        !p.etl1.dir.join("audit.log").exists(),
        "no local log for a shared keychain"
    );
}

#[test]
fn a_recipient_planted_in_the_store_is_refused_with_exit_7_and_reported() {
    let p = joined();
    // The member list names etl2 now, MAC'd under a key it does not have: someone with write
    // access to the path replaces etl1's entry in the list body with etl2's recipient.
    let (value, version) = read_raw(&p, "members");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = String::from_utf8(b64.decode(&value).unwrap()).unwrap();
    let stored: Value = serde_json::from_str(&text).unwrap();
    let mut body: Value = serde_json::from_str(stored["body"].as_str().unwrap()).unwrap();
    let planted = body["members"][0].clone();
    let mut planted = planted;
    planted["name"] = "backup".into();
    planted["recipient"] = p.etl2_recipient.clone().into();
    body["members"].as_array_mut().unwrap().push(planted);
    let forged = serde_json::json!({ "body": body.to_string(), "mac": stored["mac"] });
    write_raw(&p, "members", &b64.encode(forged.to_string()), version);

    let pw = p.etl1.file("new-pw.txt", "another-password\n");
    let out = p
        .etl1
        .run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("MAC does not match"),
        "{}",
        stderr(&out)
    );
    assert!(!record_opens_with(&p, "acme", &identity_of(&p.etl2)));

    let out = p.etl1.run(&["audit", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "members-not-authenticated"),
        "{report}"
    );
}

#[test]
fn after_member_rm_new_writes_cannot_be_opened_by_the_removed_machine() {
    let p = joined();
    add_etl2(&p);
    p.etl2.ok(&["show", "acme"]);
    let out = p.etl1.run(&["member", "rm", "etl2"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("acme"), "{}", stderr(&out));

    let pw = p.etl1.file("new-pw.txt", "another-password\n");
    p.etl1
        .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert!(!record_opens_with(&p, "acme", &identity_of(&p.etl2)));
    assert!(record_opens_with(&p, "acme", &identity_of(&p.etl1)));
    let out = p.etl2.run(&["show", "acme"]);
    assert_exit(&out, 6);
    p.etl1.ok(&["audit", "verify"]);
}

#[test]
fn audit_verify_on_either_machine_detects_an_edited_deleted_or_reordered_shared_event() {
    let p = joined();
    add_etl2(&p);
    for _ in 0..3 {
        p.etl2.ok(&["show", "acme", "--reveal", "password"]);
    }
    p.etl1.ok(&["audit", "verify"]);
    p.etl2.ok(&["audit", "verify"]);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;

    // Edited: one event's account renamed.
    let (value, version) = read_raw(&p, "audit/1");
    let text = String::from_utf8(b64.decode(&value).unwrap()).unwrap();
    let edited = text.replacen("\"seq\":1,", "\"seq\":1, ", 1);
    write_raw(&p, "audit/1", &b64.encode(edited), version);
    for kc in [&p.etl1, &p.etl2] {
        let out = kc.run(&["audit", "verify"]);
        assert_exit(&out, 7);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("MAC does not match"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    write_raw(&p, "audit/1", &value, version + 1);

    // Reordered: two events swapped.
    let (a, va) = read_raw(&p, "audit/2");
    let (b, vb) = read_raw(&p, "audit/3");
    write_raw(&p, "audit/2", &b, va);
    write_raw(&p, "audit/3", &a, vb);
    for kc in [&p.etl1, &p.etl2] {
        let out = kc.run(&["audit", "verify"]);
        assert_exit(&out, 7);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("reordered"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    write_raw(&p, "audit/2", &a, va + 1);
    write_raw(&p, "audit/3", &b, vb + 1);
    p.etl1.ok(&["audit", "verify"]);

    // Deleted: one event's every version and metadata destroyed.
    p.bao.bao(&[
        "kv",
        "metadata",
        "delete",
        &format!("-mount={}", p.mount),
        &format!("{PREFIX}/audit/2"),
    ]);
    for kc in [&p.etl1, &p.etl2] {
        let out = kc.run(&["audit", "verify"]);
        assert_exit(&out, 7);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("deleted"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
