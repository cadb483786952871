//! Issue 20, items 4 and 5, tried as the OpenBao operator would (root token, `bao` CLI): a group
//! key and member list planted between `member add` and the new machine's first use, and a
//! member list rolled back to the one from before `member add`. Two machines are two keychain
//! folders on a real OpenBao dev server, each test on its own mount.

use crate::support;

use crate::openbao_members::{Pair, joined};
use base64::Engine;
use keychain::members::{GroupKey, Member, MemberList};
use serde_json::Value;
use support::openbao::Bao;
use support::{Kc, assert_exit, stderr};

const PREFIX: &str = "team/etl";

fn member_add(p: &Pair) -> String {
    let code = p
        .etl1
        .ok(&["member", "add", &p.etl2_recipient, "--name", "etl2"]);
    let code = code.trim().to_string();
    assert!(code.starts_with("kcj1-"), "member add printed {code}");
    code
}

/// The value (decoded) and version of `key` under the prefix, as root reads it.
fn read_raw(p: &Pair, key: &str) -> (Vec<u8>, u64) {
    let json = p.bao.bao(&[
        "kv",
        "get",
        "-format=json",
        &format!("-mount={}", p.mount),
        &format!("{PREFIX}/{key}"),
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    (
        base64::engine::general_purpose::STANDARD
            .decode(v["data"]["data"]["value"].as_str().unwrap())
            .unwrap(),
        v["data"]["metadata"]["version"].as_u64().unwrap(),
    )
}

/// Root overwrites `key` with `bytes` (check-and-set on the version it just read).
fn write_raw(p: &Pair, key: &str, bytes: &[u8]) {
    let (_, version) = read_raw(p, key);
    p.bao.bao(&[
        "kv",
        "put",
        &format!("-mount={}", p.mount),
        &format!("-cas={version}"),
        &format!("{PREFIX}/{key}"),
        &format!(
            "value={}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
    ]);
}

fn record_bytes(p: &Pair, name: &str) -> Option<Vec<u8>> {
    let out = p.bao.bao_output(
        &[
            "kv",
            "get",
            "-format=json",
            &format!("-mount={}", p.mount),
            &format!("{PREFIX}/records/{name}"),
        ],
        None,
    );
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(v["data"]["data"]["record"].as_str().unwrap())
            .unwrap(),
    )
}

fn identity_of(kc: &Kc) -> keychain::keystore::Identity {
    let config = keychain::config::Config::load(&kc.dir).unwrap();
    keychain::keystore::load_identity(&kc.dir, &config, &keychain::settings::Settings::default())
        .unwrap()
}

fn opens_with(p: &Pair, name: &str, identity: &keychain::keystore::Identity) -> bool {
    record_bytes(p, name).is_some_and(|b| keychain::record::open(&b, name, identity).is_ok())
}

/// The serial the stored list claims (anyone can read it).
fn list_serial(bytes: &[u8]) -> u64 {
    MemberList::claimed_version(bytes).unwrap().1
}

fn as_member(name: &str, recipient: &str) -> Member {
    Member {
        name: name.into(),
        recipient: recipient.into(),
        added_at: 1_700_000_000,
        added_by: "root@bao".into(),
    }
}

/// The shared trail's events as root reads them, by key.
fn trail_events(p: &Pair) -> Vec<(String, Vec<u8>)> {
    let out = p.bao.bao_output(
        &[
            "kv",
            "list",
            "-format=json",
            &format!("-mount={}", p.mount),
            &format!("{PREFIX}/audit"),
        ],
        None,
    );
    // No key left under the prefix: `kv list` answers 404.
    let keys: Vec<String> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    keys.into_iter()
        .map(|k| {
            let key = format!("audit/{k}");
            let (bytes, _) = read_raw(p, &key);
            (key, bytes)
        })
        .collect()
}

/// Root destroys every event of the trail (a new machine has seen none, so it cannot tell: a
/// fresh trail under the planted key is what it would start).
fn delete_trail(p: &Pair) {
    for (key, _) in trail_events(p) {
        p.bao.bao(&[
            "kv",
            "metadata",
            "delete",
            &format!("-mount={}", p.mount),
            &format!("{PREFIX}/{key}"),
        ]);
    }
}

/// Root puts the events back as they were.
fn restore_trail(p: &Pair, events: &[(String, Vec<u8>)]) {
    delete_trail(p);
    for (key, bytes) in events {
        p.bao.bao(&[
            "kv",
            "put",
            &format!("-mount={}", p.mount),
            "-cas=0",
            &format!("{PREFIX}/{key}"),
            &format!(
                "value={}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
        ]);
    }
}

/// What root plants so that the new machine would seal to mallory: a group key of root's own at
/// `generation` (linked from nothing, or by a made-up link), wrapped to etl2 and mallory, and a
/// list MAC'd under it naming etl2 and mallory (as "etl1"), with the serial `serial`.
fn plant(p: &Pair, mallory: &str, generation: u64, serial: u64) {
    let hers = GroupKey::generate();
    let list = MemberList {
        generation,
        serial,
        members: vec![
            as_member("etl1", mallory),
            as_member("etl2", &p.etl2_recipient),
        ],
    };
    let link = (generation > 0).then(|| GroupKey::generate().link_to(generation, &hers.id()));
    let wrapped = hers
        .wrap(generation, &list.recipients().unwrap(), link)
        .unwrap();
    let group = format!("group/{generation}");
    let exists = p
        .bao
        .bao_output(
            &[
                "kv",
                "get",
                &format!("-mount={}", p.mount),
                &format!("{PREFIX}/{group}"),
            ],
            None,
        )
        .status
        .success();
    if exists {
        write_raw(p, &group, &wrapped.to_bytes());
    } else {
        p.bao.bao(&[
            "kv",
            "put",
            &format!("-mount={}", p.mount),
            "-cas=0",
            &format!("{PREFIX}/{group}"),
            &format!(
                "value={}",
                base64::engine::general_purpose::STANDARD.encode(wrapped.to_bytes())
            ),
        ]);
    }
    write_raw(p, "members", &list.seal(&hers));
}

/// Item 4. Between `member add` and etl2's first command, root plants a group key and member
/// list of its own (generation and serial as the join code names them, a newer generation, or
/// the serial before the add) and destroys the trail, whose MACs would not check under the
/// planted key (etl2 has seen none of it, so it could not tell a fresh trail from the real one). etl2 uses nothing before its join code, refuses each planted
/// state, and never seals to mallory; once the store is put back, the code is accepted.
#[test]
fn a_group_key_planted_before_the_first_use_is_refused_and_nothing_is_sealed_to_the_planter() {
    let p = joined();
    let mallory = age::x25519::Identity::generate();
    let mallory_recipient = mallory.to_public().to_string();
    let code = member_add(&p);
    let (real_list, _) = read_raw(&p, "members");
    let (real_group, _) = read_raw(&p, "group/0");
    let serial = list_serial(&real_list);
    let real_trail = trail_events(&p);
    assert!(!real_trail.is_empty());

    for (generation, planted_serial, says) in [
        (
            0,
            serial,
            "not the ones the member who added this machine saw",
        ),
        (0, serial + 1, "changed after the code was made"),
        (1, serial + 1, "changed after the code was made"),
        (0, serial - 1, "older list"),
    ] {
        plant(&p, &mallory_recipient, generation, planted_serial);
        delete_trail(&p);

        // The first use, without the code: refused before anything is read or sealed.
        let pw = p.etl2.file("pw.txt", "a-new-password\n");
        let out = p.etl2.run(&support::add_args(
            "beta",
            &["--password-file", pw.to_str().unwrap()],
        ));
        assert_exit(&out, 6);
        assert!(stderr(&out).contains("member join"), "{}", stderr(&out));
        assert!(record_bytes(&p, "beta").is_none(), "etl2 sealed a record");
        let pw = p.etl2.file("pw2.txt", "another-password\n");
        let out = p
            .etl2
            .run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
        assert_exit(&out, 6);
        assert!(!opens_with(&p, "acme", &mallory));

        let out = p.etl2.run(&["member", "join", &code]);
        assert_exit(&out, 7);
        assert!(
            stderr(&out).contains(says),
            "{generation}/{planted_serial}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("nothing was trusted"),
            "{}",
            stderr(&out)
        );
        let out = p.etl2.run(&["show", "acme"]);
        assert_exit(&out, 6);

        // Root puts the real state back (a planted newer generation is removed).
        write_raw(&p, "group/0", &real_group);
        write_raw(&p, "members", &real_list);
        restore_trail(&p, &real_trail);
        if generation > 0 {
            p.bao.bao(&[
                "kv",
                "metadata",
                "delete",
                &format!("-mount={}", p.mount),
                &format!("{PREFIX}/group/{generation}"),
            ]);
        }
    }

    // A code that is not the one printed: refused the same way.
    let mut wrong = code.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    let out = p.etl2.run(&["member", "join", &wrong]);
    assert_exit(&out, 7);

    p.etl2.ok(&["member", "join", &code]);
    assert!(p.etl2.ok(&["show", "acme"]).contains("dwho"));
    let pw = p.etl2.file("pw3.txt", "third-password\n");
    p.etl2
        .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert!(!opens_with(&p, "acme", &mallory));
    assert!(opens_with(&p, "acme", &identity_of(&p.etl1)));

    // Pinned now: the same plant is refused before anything is sealed (reading goes on with
    // the key etl2 trusts).
    plant(&p, &mallory_recipient, 0, serial);
    let out = p
        .etl2
        .run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert_exit(&out, 7);
    assert!(!opens_with(&p, "acme", &mallory));
}

/// Item 5. Root puts back the member list from before `member add etl2` (same generation, a
/// valid MAC): etl1 refuses to seal to itself only, etl2 is told the list was rolled back (not
/// to restore from an export), and `audit` reports it. The same for a rollback that etl1 never
/// used after the add, and for the group key's wrapping put back to before the add.
#[test]
fn a_member_list_rolled_back_to_before_member_add_is_refused_by_both_machines() {
    let p = joined();
    let (before_add, _) = read_raw(&p, "members");
    let (group_before_add, _) = read_raw(&p, "group/0");
    let code = member_add(&p);
    let (after_add, _) = read_raw(&p, "members");
    assert!(list_serial(&after_add) > list_serial(&before_add));

    // Right after the add, before either machine ran anything else.
    write_raw(&p, "members", &before_add);
    let out = p.etl2.run(&["member", "join", &code]);
    assert_exit(&out, 7);
    assert!(stderr(&out).contains("older list"), "{}", stderr(&out));
    let pw = p.etl1.file("pw.txt", "a-new-password\n");
    let out = p
        .etl1
        .run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert_exit(&out, 7);
    assert!(stderr(&out).contains("rolled back"), "{}", stderr(&out));
    assert!(opens_with(&p, "acme", &identity_of(&p.etl2)));

    write_raw(&p, "members", &after_add);
    p.etl2.ok(&["member", "join", &code]);
    p.etl2.ok(&["show", "acme"]);
    p.etl1
        .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);

    // After both used it.
    write_raw(&p, "members", &before_add);
    for kc in [&p.etl1, &p.etl2] {
        let out = kc.run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
        assert_exit(&out, 7);
        let err = stderr(&out);
        assert!(err.contains("rolled back"), "{err}");
        assert!(!err.contains("export"), "{err}");
        // Reading seals nothing, so it goes on: the record is still sealed to both.
        assert!(kc.ok(&["show", "acme"]).contains("dwho"));
    }
    assert!(opens_with(&p, "acme", &identity_of(&p.etl2)));
    let report: Value = serde_json::from_slice(&p.etl1.run(&["audit", "--json"]).stdout).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "members-not-authenticated"
                && f.to_string().contains("rolled back")),
        "{report}"
    );
    write_raw(&p, "members", &after_add);

    // The group key's wrapping from before the add (the same key, not sealed to etl2): etl2
    // keeps the key it trusts in its own copy and goes on; without that copy it is told the
    // key was rolled back, not that it should ask to be added.
    write_raw(&p, "group/0", &group_before_add);
    p.etl2
        .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert!(opens_with(&p, "acme", &identity_of(&p.etl1)));
    std::fs::remove_file(p.etl2.dir.join("group.key")).unwrap();
    let out = p
        .etl2
        .run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert_exit(&out, 7);
    assert!(stderr(&out).contains("rolled back"), "{}", stderr(&out));
}

/// The `fp:` a `show` prints for `field`.
fn shown_fingerprint(kc: &Kc, name: &str, field: &str) -> String {
    let shown = kc.ok(&["show", name]);
    shown
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("fp:")))
        .unwrap_or_else(|| panic!("no {field} fingerprint in {shown}"))
        .to_string()
}

/// Item 6: a secret's fingerprint is keyed with the group key, so every member shows the same
/// one for the same value (an officer compares machines), and it changes with the value.
#[test]
fn every_member_shows_the_same_fingerprint_of_the_same_secret() {
    let p = joined();
    let code = member_add(&p);
    p.etl2.ok(&["member", "join", &code]);
    for field in ["password", "totp-secret"] {
        let one = shown_fingerprint(&p.etl1, "acme", field);
        assert_eq!(one, shown_fingerprint(&p.etl2, "acme", field), "{field}");
    }
    let before = shown_fingerprint(&p.etl1, "acme", "password");
    let pw = p.etl2.file("pw.txt", "a-new-password\n");
    p.etl2
        .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    let after = shown_fingerprint(&p.etl1, "acme", "password");
    assert_ne!(before, after);
    assert_eq!(after, shown_fingerprint(&p.etl2, "acme", "password"));
}

/// Item 6: `audit --no-key` on a shared keychain checks the shared trail in the store (order,
/// hash chain, the events this machine saw), not only this machine's own file log.
#[test]
fn audit_without_the_key_checks_the_shared_trail_in_the_store() {
    let p = joined();
    member_add(&p);
    p.etl1.ok(&["show", "acme", "--reveal", "password"]);
    let report: Value =
        serde_json::from_slice(&p.etl1.run(&["audit", "--no-key", "--json"]).stdout).unwrap();
    assert_eq!(report["audit_log"]["status"], "chain-intact", "{report}");
    let events = report["audit_log"]["lines"].as_u64().unwrap();
    assert!(events >= 4, "{report}");
    assert_eq!(
        report["accounts"][0]["last_use"]["action"], "reveal",
        "{report}"
    );

    // Without the identity at all (the key store cannot answer): the same report.
    let identity = p.etl1.dir.join("identity.txt");
    let away = p.etl1.tmp.path().join("identity.away");
    std::fs::rename(&identity, &away).unwrap();
    let out = p.etl1.run(&["audit", "--no-key", "--json"]);
    std::fs::rename(&away, &identity).unwrap();
    let keyless: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    assert_eq!(keyless["audit_log"], report["audit_log"], "{keyless}");
    assert_eq!(
        keyless["accounts"][0]["last_use"]["action"], "reveal",
        "{keyless}"
    );

    // Root edits one event (its bytes change, the next one's chain no longer matches).
    let (event, _) = read_raw(&p, "audit/1");
    let edited = String::from_utf8(event)
        .unwrap()
        .replacen("\"seq\":1,", "\"seq\":1, ", 1);
    write_raw(&p, "audit/1", edited.as_bytes());
    let out = p.etl1.run(&["audit", "--no-key", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audit_log"]["status"], "damaged", "{report}");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "audit-log-damaged"),
        "{report}"
    );
}

/// Item 6: a login served from the local copy while OpenBao was down is logged on this machine
/// and copied into the shared trail once OpenBao answers again, once.
#[test]
fn an_offline_login_is_copied_into_the_shared_trail_when_the_store_is_back() {
    let mut bao = Bao::persistent();
    let mount = bao.new_mount();
    let kc = bao.keychain(&mount, PREFIX);
    kc.add_account("acme");
    let now = support::unix_now() as i64;
    kc.edit_account("acme", |account| {
        account.set_secret(
            keychain::record::SecretField::AccessToken,
            Some("at-cached".to_string().into()),
            now,
        );
        account.header.access_token_expires = Some(now + 600);
    });
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");

    bao.stop();
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");
    bao.start_again();
    bao.unseal();

    let offline = |kc: &Kc| {
        std::fs::read_to_string(kc.dir.join("shared-audit.log"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"action\":\"offline\""))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(kc.ok(&["login", "acme"]).trim(), "at-cached");
    let copied = offline(&kc);
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert!(
        copied[0].contains("login_cache") && copied[0].contains("\"account\":\"acme\""),
        "{copied:?}"
    );
    kc.ok(&["login", "acme"]);
    assert_eq!(offline(&kc).len(), 1, "copied twice");
    kc.ok(&["audit", "verify"]);
}
