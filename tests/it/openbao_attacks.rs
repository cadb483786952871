//! Issue 20, items 1 to 3: a shared keychain on a real OpenBao attacked by the two parties the
//! README's threat model names: the operator (OpenBao's root token, writing the KV path by hand)
//! and a removed member (its own identity and AppRole token, and the group keys of the
//! generations it was in). Each attack is one a member's binary used to fall for:
//!
//! 1. a record sealed to the members (public keys, readable list) with a higher write counter;
//! 2. a record rolled back one KV version while a peer's copy of the shared trail is behind;
//! 3. an event appended under the group key generation `member rm` retired, carrying an old
//!    counter, followed by the pre-removal record put back.
//!
//! etl1 creates the keychain (root token), etl2 joins with an AppRole limited to the keychain's
//! path and is added. Without OpenBao these tests fail, never skip.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};

use keychain::members::{GroupKey, WrappedGroup, group_key_name};
use keychain::providers::ProviderSettings;
use keychain::record::{self, Account, Header, SecretField};
use keychain::store::kv::{Kv, KvExpect};
use keychain::store::{Expect, RecordStore};
use support::openbao::Bao;
use support::{CANARY_PASSWORD, Kc, assert_exit, stderr};

pub(crate) const PREFIX: &str = "team/etl";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub(crate) struct Team {
    pub(crate) bao: Bao,
    pub(crate) mount: String,
    pub(crate) etl1: Kc,
    pub(crate) etl2: Kc,
}

/// etl1 starts the keychain with account `acme`; etl2 joins with its own AppRole and is added.
pub(crate) fn team() -> Team {
    let bao = Bao::start();
    let mount = bao.new_mount();
    let etl1 = bao.keychain(&mount, PREFIX);
    etl1.add_account("acme");
    let etl2 = join(&bao, &mount, "etl2", &etl1);
    assert!(reveal(&etl2).contains(CANARY_PASSWORD));
    Team {
        bao,
        mount,
        etl1,
        etl2,
    }
}

/// A machine with an AppRole of its own that joins and is added by `member` as `name`.
pub(crate) fn join(bao: &Bao, mount: &str, name: &str, member: &Kc) -> Kc {
    join_at(bao, &bao.addr, mount, name, member)
}

/// [`join`], the new machine reaching the server at `addr` (a relay in front of it).
pub(crate) fn join_at(bao: &Bao, addr: &str, mount: &str, name: &str, member: &Kc) -> Kc {
    let (kc, out) = bao.joining_at(addr, mount, PREFIX, name);
    let recipient = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let code = member.ok(&["member", "add", &recipient, "--name", name]);
    kc.ok(&["member", "join", code.trim()]);
    kc
}

fn identity_of(kc: &Kc) -> keychain::keystore::Identity {
    let config = keychain::config::Config::load(&kc.dir).unwrap();
    keychain::keystore::load_identity(&kc.dir, &config, &keychain::settings::Settings::default())
        .unwrap()
}

/// The machine's record store, with its own credentials (for etl2 once removed: its AppRole
/// token, which nobody revoked).
pub(crate) fn store_of(kc: &Kc) -> Box<dyn RecordStore> {
    let config = keychain::config::Config::load(&kc.dir).unwrap();
    keychain::store::open(&kc.dir, &config.store).unwrap()
}

pub(crate) fn kv_of(kc: &Kc) -> Arc<dyn Kv> {
    store_of(kc).shared_space().unwrap()
}

/// The group key of `generation` as `kc` opens it (a removed member keeps the old ones).
fn group_key(kc: &Kc, generation: u64) -> GroupKey {
    let raw = kv_of(kc).get(&group_key_name(generation)).unwrap().unwrap();
    WrappedGroup::parse(&raw.bytes)
        .unwrap()
        .open(&identity_of(kc))
        .unwrap()
}

/// The members' public keys, as anyone who can read the path reads them.
fn member_recipients(kv: &dyn Kv) -> Vec<age::x25519::Recipient> {
    let raw = kv.get("members").unwrap().unwrap();
    let stored: Value = serde_json::from_slice(&raw.bytes).unwrap();
    let body: Value = serde_json::from_str(stored["body"].as_str().unwrap()).unwrap();
    body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["recipient"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The bytes of account `name`'s record and their KV version, as root reads them (`version`:
/// an older one).
pub(crate) fn record_raw(t: &Team, name: &str, version: Option<u64>) -> (Vec<u8>, u64) {
    let mut args = vec![
        "kv".to_string(),
        "get".into(),
        "-format=json".into(),
        format!("-mount={}", t.mount),
    ];
    if let Some(v) = version {
        args.push(format!("-version={v}"));
    }
    args.push(format!("{PREFIX}/records/{name}"));
    let json = t
        .bao
        .bao(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let v: Value = serde_json::from_str(&json).unwrap();
    (
        B64.decode(v["data"]["data"]["record"].as_str().unwrap())
            .unwrap(),
        v["data"]["metadata"]["version"].as_u64().unwrap(),
    )
}

/// The operator writes `bytes` as account `name`'s record (a new KV version, root token; the
/// mount wants check-and-set, which the operator satisfies by reading the version first).
pub(crate) fn operator_puts(t: &Team, name: &str, bytes: &[u8]) {
    let (_, version) = record_raw(t, name, None);
    t.bao.bao(&[
        "kv",
        "put",
        &format!("-mount={}", t.mount),
        &format!("-cas={version}"),
        &format!("{PREFIX}/records/{name}"),
        &format!("record={}", B64.encode(bytes)),
    ]);
}

/// The removed member writes `bytes` as `acme`'s record with its own token, under the lease.
fn removed_member_puts(kc: &Kc, bytes: &[u8]) {
    let store = store_of(kc);
    let lock = store.lock("acme", Duration::from_secs(30)).unwrap();
    store.write(&*lock, Expect::Any, bytes).unwrap();
}

/// A complete record of `acme` sealed to `recipients`: the forger's password and a cached
/// access token valid for an hour, with write counter `writes`.
fn forged_record(recipients: &[age::x25519::Recipient], writes: u64) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut header = Header::new(
        "acme",
        ProviderSettings::new(keychain::providers::ProviderKind::Oidc),
        "dwho".into(),
        now,
    );
    header.writes = writes;
    let mut account = Account::new(header);
    account.set_secret(
        SecretField::Password,
        Some(SecretString::from("forged-password")),
        now,
    );
    account.set_secret(
        SecretField::AccessToken,
        Some(SecretString::from("forged-access-token")),
        now,
    );
    account.header.access_token_expires = Some(now + 3600);
    account.header.access_token_issued = Some(now);
    let recipients: Vec<&dyn age::Recipient> = recipients
        .iter()
        .map(|r| r as &dyn age::Recipient)
        .collect();
    record::seal(&account, &recipients).unwrap()
}

fn reveal(kc: &Kc) -> String {
    kc.ok(&["show", "acme", "--reveal", "password"])
}

/// `show --reveal password` and a cached `login` on `kc` are refused with exit 7 (before any
/// secret of the record is used), saying `why`.
fn refused(kc: &Kc, why: &str, what: &str) {
    for args in [
        &["show", "acme", "--reveal", "password"][..],
        &["login", "acme"],
    ] {
        let out = kc.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("forged") && !stdout.contains("pw-old-"),
            "{what}: {args:?} handed out the planted record's secret: {stdout}"
        );
        assert_exit(&out, 7);
        assert!(
            stderr(&out).contains(why),
            "{what}: {args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_record_sealed_to_the_members_by_the_operator_is_refused_before_use() {
    let t = team();
    t.etl1.add_account("beta");
    let (genuine, _) = record_raw(&t, "acme", None);
    let recipients = member_recipients(&*kv_of(&t.etl1));

    // Sealed to every member with a counter far above the trail's, no MAC.
    operator_puts(&t, "acme", &forged_record(&recipients, 1000));
    for kc in [&t.etl1, &t.etl2] {
        refused(kc, "not a member", "no MAC");
    }
    // And `keychain audit` says so, instead of a clean report.
    let out = t.etl1.run(&["audit", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["findings"].as_array().unwrap().iter().any(|f| {
            f["accounts"][0]["name"] == "acme"
                && f["severity"] == "critical"
                && f.to_string().contains("not a member")
        }),
        "{report}"
    );

    // With a MAC line, under a group key of the operator's own (another keychain's).
    let foreign = GroupKey::generate();
    let forged = forged_record(&recipients, 1000);
    operator_puts(
        &t,
        "acme",
        &keychain::members::record_auth::seal(&foreign, 0, "acme", &forged),
    );
    for kc in [&t.etl1, &t.etl2] {
        refused(kc, "not written by a member", "foreign key");
    }

    // Another account's genuine record copied to this account's path.
    let (beta, _) = record_raw(&t, "beta", None);
    operator_puts(&t, "acme", &beta);
    for kc in [&t.etl1, &t.etl2] {
        let out = kc.run(&["show", "acme", "--reveal", "password"]);
        assert_exit(&out, 7);
    }

    // The genuine record back: both members read it again, and the trail is whole.
    operator_puts(&t, "acme", &genuine);
    for kc in [&t.etl1, &t.etl2] {
        assert!(reveal(kc).contains(CANARY_PASSWORD));
        kc.ok(&["audit", "verify"]);
    }
}

#[test]
fn a_removed_member_cannot_plant_a_record_under_the_key_it_kept_nor_bring_back_an_old_one() {
    let t = team();
    let (before_rm, _) = record_raw(&t, "acme", None);
    let old_key = group_key(&t.etl2, 0);
    let out = t.etl1.run(&["member", "rm", "etl2"]);
    assert_exit(&out, 0);
    assert!(reveal(&t.etl1).contains(CANARY_PASSWORD));

    // etl2, removed, seals to the remaining members and MACs under generation 0, which it
    // still holds, with its own token.
    let recipients = member_recipients(&*kv_of(&t.etl2));
    let forged = forged_record(&recipients, 1000);
    removed_member_puts(
        &t.etl2,
        &keychain::members::record_auth::seal(&old_key, 0, "acme", &forged),
    );
    refused(&t.etl1, "retired", "MAC'd under the retired generation");

    // The same, claiming the current generation: its MAC does not check.
    removed_member_puts(
        &t.etl2,
        &keychain::members::record_auth::seal(&old_key, 1, "acme", &forged),
    );
    refused(
        &t.etl1,
        "not written by a member",
        "wrong key for generation 1",
    );

    // The record as it was before the removal, served again.
    removed_member_puts(&t.etl2, &before_rm);
    let out = t.etl1.run(&["show", "acme", "--reveal", "password"]);
    assert_exit(&out, 7);

    // Put right by a member: the current record back, then work goes on.
    let pw = t.etl1.file("pw-new.txt", "pw-new-after-rm\n");
    let out = t
        .etl1
        .run(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    assert_exit(&out, 7);
    t.etl1.ok(&["rm", "-f", "acme"]);
    t.etl1.add_account("acme");
    assert!(reveal(&t.etl1).contains(CANARY_PASSWORD));
    t.etl1.ok(&["audit", "verify"]);
}

#[test]
fn a_record_rolled_back_one_version_is_refused_by_a_peer_whose_trail_copy_is_behind() {
    let t = team();
    // etl2's copy of the trail ends here; it runs nothing until the rollback.
    for password in ["pw-old-second", "pw-now-third"] {
        let pw = t.etl1.file("pw.txt", &format!("{password}\n"));
        t.etl1
            .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    }
    // The operator puts back the version before the last one (a valid member MAC: a member
    // wrote it; only its counter is behind the trail's).
    let (_, current) = record_raw(&t, "acme", None);
    let (previous, _) = record_raw(&t, "acme", Some(current - 1));
    operator_puts(&t, "acme", &previous);
    for kc in [&t.etl2, &t.etl1] {
        refused(kc, "older copy put back", "rolled back one version");
    }
    // Rolled back two versions: the same.
    let (older, _) = record_raw(&t, "acme", Some(current - 2));
    operator_puts(&t, "acme", &older);
    refused(&t.etl2, "older copy put back", "rolled back two versions");
}

/// HMAC-SHA256, as anyone can compute it from the published construction.
fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The trail's next position.
pub(crate) fn trail_end(kv: &dyn Kv) -> u64 {
    let mut seq = 0;
    while kv.get(&format!("audit/{seq}")).unwrap().is_some() {
        seq += 1;
    }
    seq
}

/// The removed member appends an event at the trail's end, chained to it, MAC'd with the
/// audit key of the group key `key` under `generation`, about `acme` with write `counter`.
fn append_event_under(kv: &dyn Kv, key: &GroupKey, generation: u64, counter: u64) {
    let seq = trail_end(kv);
    let tail = kv
        .get(&format!("audit/{}", seq - 1))
        .unwrap()
        .unwrap()
        .bytes;
    let mut event: Value = serde_json::from_slice(&tail).unwrap();
    let event = event.as_object_mut().unwrap();
    event.remove("mac");
    event.insert("seq".into(), seq.into());
    event.insert("prev".into(), hex(&Sha256::digest(&tail)).into());
    event.insert("generation".into(), generation.into());
    event.insert("account".into(), "acme".into());
    event.insert("counter".into(), counter.into());
    let unsigned = serde_json::to_vec(&event).unwrap();
    let mac_root = hmac(key.audit_secret().expose_secret(), b"keychain audit mac v1");
    let mac = hex(&hmac(&mac_root, &unsigned));
    let mut line = unsigned[..unsigned.len() - 1].to_vec();
    line.extend_from_slice(format!(",\"mac\":\"{mac}\"}}").as_bytes());
    kv.put(&format!("audit/{seq}"), &line, KvExpect::Absent)
        .unwrap();
}

#[test]
fn an_event_under_the_generation_a_removal_retired_is_refused_and_reported() {
    let t = team();
    let pw = t.etl1.file("pw.txt", "pw-old-before-rm\n");
    t.etl1
        .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    let (before_rm, _) = record_raw(&t, "acme", None);
    let counter_before = record::peek(&before_rm).unwrap().writes;
    let old_key = group_key(&t.etl2, 0);
    let out = t.etl1.run(&["member", "rm", "etl2"]);
    assert_exit(&out, 0);
    let pw = t.etl1.file("pw.txt", &format!("{CANARY_PASSWORD}\n"));
    t.etl1
        .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);

    // etl2, removed, logs the old counter under generation 0, then puts the old record back.
    let kv = kv_of(&t.etl2);
    append_event_under(&*kv, &old_key, 0, counter_before);
    removed_member_puts(&t.etl2, &before_rm);

    let out = t.etl1.run(&["audit", "verify"]);
    assert_exit(&out, 7);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("retired"), "{report}{}", stderr(&out));
    refused(&t.etl1, "retired", "event under a retired generation");
}

/// Records written before records were authenticated carry no MAC: refused with advice, until a
/// member upgrades them once by running `member add` again for an existing member.
#[test]
fn a_record_from_before_records_were_authenticated_is_refused_until_a_member_upgrades_it() {
    let t = team();
    let (current, _) = record_raw(&t, "acme", None);
    let (auth, old_format) = record::split_auth(&current).unwrap();
    assert!(auth.is_some(), "a shared record carries a MAC line");
    operator_puts(&t, "acme", old_format);

    let out = t.etl2.run(&["show", "acme", "--reveal", "password"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("keychain member add"),
        "{}",
        stderr(&out)
    );

    let listed: Value = serde_json::from_str(&t.etl1.ok(&["member", "list", "--json"])).unwrap();
    let etl2 = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "etl2")
        .unwrap()
        .clone();
    t.etl1.ok(&[
        "member",
        "add",
        etl2["recipient"].as_str().unwrap(),
        "--name",
        "etl2",
    ]);
    let (upgraded, _) = record_raw(&t, "acme", None);
    assert!(record::split_auth(&upgraded).unwrap().0.is_some());
    for kc in [&t.etl1, &t.etl2] {
        assert!(reveal(kc).contains(CANARY_PASSWORD));
    }
}

/// Items 2 and 3 together: the operator cuts the trail back to before `member rm` (deleting the
/// removal's events and every later one), the removed member appends events of the retired
/// generation there with a low counter, and the operator rolls the record back to the version
/// `member rm` sealed. A member whose copy of the trail ended before the removal sees no event
/// of the new generation: it must not trust the counters it was shown for a record written
/// under that generation.
#[test]
fn a_trail_cut_back_past_a_removal_does_not_let_a_behind_member_take_a_rolled_back_record() {
    let t = team();
    let etl3 = join(&t.bao, &t.mount, "etl3", &t.etl1);
    assert!(reveal(&etl3).contains(CANARY_PASSWORD));
    // etl3's copy of the trail ends here.
    let kv = kv_of(&t.etl2);
    let cut = trail_end(&*kv);
    let old_key = group_key(&t.etl2, 0);
    t.etl1.ok(&["member", "rm", "etl2"]);
    let (resealed, _) = record_raw(&t, "acme", None);
    for password in ["pw-old-after-rm", "pw-now-current"] {
        let pw = t.etl1.file("pw.txt", &format!("{password}\n"));
        t.etl1
            .ok(&["set", "acme", "--password-file", pw.to_str().unwrap()]);
    }
    let end = trail_end(&*kv);
    for seq in cut..end {
        t.bao.bao(&[
            "kv",
            "metadata",
            "delete",
            &format!("-mount={}", t.mount),
            &format!("{PREFIX}/audit/{seq}"),
        ]);
    }
    append_event_under(&*kv, &old_key, 0, 1);
    operator_puts(&t, "acme", &resealed);
    refused(
        &etl3,
        "shows nothing past generation 0",
        "trail cut back past the removal",
    );
    // etl1, whose copy saw the removal, notices the cut.
    let out = t.etl1.run(&["show", "acme", "--reveal", "password"]);
    assert_exit(&out, 7);
}

/// A refused record never becomes the local copy `login` serves from while OpenBao is down: the
/// operator plants a record with a cached token, then stops the server.
#[test]
fn a_planted_record_is_not_served_from_the_local_copy_when_openbao_is_down() {
    let t = team();
    let recipients = member_recipients(&*kv_of(&t.etl1));
    operator_puts(&t, "acme", &forged_record(&recipients, 1000));
    refused(&t.etl1, "not a member", "planted before the outage");
    t.bao.stop();
    let out = t.etl1.run(&["login", "acme"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("forged"),
        "the planted token was served from the local copy"
    );
    assert_exit(&out, 5);
}
