//! Changing the members of a keychain: the list and group key first ([`crate::members::Shared`]), then
//! every record sealed again to the new set, each in its own transaction (the account's lock,
//! read, check-and-set write, a `reseal` event in the trail).
//!
//! Order, and why: the list changes first and is logged, so that from then on every write (a
//! login on another machine included) seals to the new set; the records follow one by one. A
//! run cut short leaves records sealed to the old set, which the old members can still open and
//! the same command run again finishes (`member add` of a member already in the list with the
//! same name seals what is left; `member rm` says which accounts it could not reach).
#![deny(missing_docs)]

use crate::audit::{Action, Event};
use crate::error::{Error, Result};
use crate::keychain::{Keychain, LOCAL_MEMBERS_DIR, OnAuditFailure};
use crate::store::Expect;
use crate::store::kv::LocalKv;

use crate::members::Member;

/// What a change did.
#[derive(Debug)]
pub struct Change {
    /// The member added or removed.
    pub member: Member,
    /// The accounts sealed again to the new set.
    pub resealed: Vec<String>,
    /// After `add`: the code the added machine needs for its first use (`member join CODE`),
    /// naming the group key and member list as they are now.
    pub join_code: Option<crate::members::JoinCode>,
}

/// The default name of a member added without `--name`: the start of its public key, which a
/// person can match against what `init --join` printed.
pub fn default_name(recipient: &str) -> String {
    recipient.trim().chars().take(12).collect()
}

/// Adds `recipient` as a member named `name`, then seals every record to the new set. A local
/// keychain without a member list gets one first (this machine as its first member).
pub fn add(kc: &Keychain, recipient: &str, name: Option<&str>) -> Result<Change> {
    let recipient = crate::config::parse_recipient(recipient)?.to_string();
    let name = name.map_or_else(|| default_name(&recipient), str::to_string);
    check_name(&name)?;
    let kc_local;
    let kc = match kc.shared_kv() {
        Some(_) => kc,
        None => {
            kc_local = start_local(kc)?;
            &kc_local
        }
    };
    kc.check_config()?;
    let shared = kc.shared().expect("a member list was set up above");
    if kc.members()?.is_none() {
        let opened = shared.create(
            kc.identity()?,
            &crate::host::host_name(),
            &crate::audit::user_at_host(),
            kc.now(),
        )?;
        kc.set_members(opened);
    }
    // Every record's MAC checked now (and a record without one, written before records were
    // authenticated, upgraded by the reseal below): see `Keychain::vouch_for_records`.
    kc.vouch_for_records()?;
    let existing = kc.members()?.and_then(|m| m.list.find(&recipient).cloned());
    let member = match existing {
        // Run again after an interruption: the list has it, the records may not all.
        Some(member) if member.name == name => member,
        _ => {
            let member = Member {
                name: name.clone(),
                recipient,
                added_at: kc.now(),
                added_by: crate::audit::user_at_host(),
            };
            let opened = {
                let current = kc.members()?.expect("created above");
                shared.add(&current, member.clone())?
            };
            // Pinned before anything else: the list from before the add, put back, is refused.
            shared.trust(kc.identity()?, &opened)?;
            kc.set_members(opened);
            kc.log_event(Event::new("member", Action::MemberAdd(name.clone())))?;
            member
        }
    };
    let resealed = reseal_all(kc, &format!("add {name}"))?;
    // A machine of a shared keychain needs it for its first use; a local keychain's members
    // (an officer's key) only receive sealed records.
    let join_code = if kc.trail_in_store() {
        kc.members()?.map(|m| m.join_code())
    } else {
        None
    };
    Ok(Change {
        member,
        resealed,
        join_code,
    })
}

/// Removes the member named `name` (a new group key it cannot open), then seals every record
/// to the others. The removed member may have kept what it could read: the caller says so.
///
/// Run again after an interruption, on any member: a name no longer in the list that the trail
/// shows as a member once (added, or removed by the run cut short) finishes the removal: the
/// `member_rm` event if the run before did not get to write it, then every record sealed again
/// to the current members (which no longer include it).
pub fn remove(kc: &Keychain, name: &str) -> Result<Change> {
    kc.check_config()?;
    let Some(shared) = kc.shared() else {
        return Err(no_members());
    };
    // Before the group key rotates: the records are read under the retired generation only as
    // the bytes checked here (or, when this finishes an interrupted run, as the bytes that run
    // checked), so a record the removed member plants meanwhile is refused.
    kc.vouch_for_records()?;
    let Some(current) = kc.members()? else {
        return Err(no_members());
    };
    let member = if current.list.members.iter().any(|m| m.name == name) {
        let (opened, member) = shared.remove(kc.identity()?, &current, name)?;
        drop(current);
        kc.set_members(opened);
        kc.log_event(Event::new("member", Action::MemberRm(name.to_string())))?;
        member
    } else {
        drop(current);
        let Some((member, logged_rm)) = former_member(kc, name)? else {
            return Err(Error::usage_hint(
                format!("no member named '{name}'"),
                "'keychain member list' shows the members",
            ));
        };
        if !logged_rm {
            kc.log_event(Event::new("member", Action::MemberRm(name.to_string())))?;
        }
        member
    };
    let resealed = reseal_all(kc, &format!("rm {name}"))?;
    Ok(Change {
        member,
        resealed,
        join_code: None,
    })
}

/// The first use of a machine that joined: checks the store against `code` (what the member
/// that added it saw) and pins it. Nothing is sealed or logged: the machine's first command
/// after this one does that, under the pin.
pub fn join(kc: &Keychain, code: &str) -> Result<crate::members::Accepted> {
    let code = crate::members::JoinCode::parse(code)?;
    let Some(shared) = kc.shared() else {
        return Err(Error::usage_hint(
            "this keychain is not shared",
            "'keychain member join' is for a machine set up with 'keychain init --store openbao ... --join'",
        ));
    };
    shared.accept_join(kc.identity()?, &code)
}

/// A member named `name` the trail knows (its last `member_add`), and whether a `member_rm` of
/// it follows that; `None` when the trail never added it.
fn former_member(kc: &Keychain, name: &str) -> Result<Option<(Member, bool)>> {
    let mut found: Option<(Member, bool)> = None;
    for file in kc.trail()?.files().map_err(crate::error::Error::from)? {
        let text = match std::fs::read(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("cannot read {}", file.display()), e)),
        };
        for line in text.split(|&b| b == b'\n') {
            // The one decoder of the log's lines; a line that is not one is not evidence.
            let Some(event) = crate::audit::lines::LineFields::decode(line) else {
                continue;
            };
            if event.detail.as_deref() != Some(name) {
                continue;
            }
            match event.action.as_deref() {
                Some("member_add") => {
                    found = Some((
                        Member {
                            name: name.to_string(),
                            recipient: String::new(),
                            added_at: 0,
                            added_by: event.user.unwrap_or_default(),
                        },
                        false,
                    ));
                }
                Some("member_rm") => {
                    if let Some((_, removed)) = found.as_mut() {
                        *removed = true;
                    } else {
                        found = Some((
                            Member {
                                name: name.to_string(),
                                recipient: String::new(),
                                added_at: 0,
                                added_by: String::new(),
                            },
                            true,
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(found)
}

/// The members, checked; empty for a keychain without a member list.
pub fn list(kc: &Keychain) -> Result<Vec<Member>> {
    kc.check_config()?;
    Ok(kc
        .members()?
        .map(|m| m.list.members.clone())
        .unwrap_or_default())
}

/// Seals every record again to the current set, each under its lock with a check-and-set write
/// and a `reseal` event carrying its new write counter.
fn reseal_all(kc: &Keychain, why: &str) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for name in kc.store().list()? {
        let lock = kc.lock(&name)?;
        let (mut account, revision) = match kc.read(&name) {
            Ok(read) => read,
            // Removed meanwhile by another process: nothing left to seal.
            Err(Error::NotFound(_)) => continue,
            Err(e) => return Err(interrupted(e, &done, why)),
        };
        let event = Event::new("member", Action::Reseal(why.to_string())).account(&name);
        kc.commit(
            &*lock,
            Expect::At(revision),
            &mut account,
            vec![event],
            OnAuditFailure::Undo,
        )
        .map_err(|e| interrupted(e, &done, why))?;
        done.push(name);
    }
    Ok(done)
}

/// A reseal cut short: the cause, and which accounts were done.
fn interrupted(e: Error, done: &[String], why: &str) -> Error {
    let code = e.exit_code();
    let message = format!(
        "the member list changed ({why}), but sealing the records again stopped: {e}; sealed again so far: {} (once the cause is fixed, run the same 'keychain member' command again: it seals the rest)",
        if done.is_empty() {
            "none".to_string()
        } else {
            done.join(", ")
        }
    );
    match code {
        crate::exit::INTEGRITY => Error::Integrity {
            path: std::path::PathBuf::from("members"),
            reason: message,
        },
        _ => Error::usage_hint(
            message,
            "fix the cause and run the same 'keychain member' command again: it seals the rest",
        ),
    }
}

/// A local keychain's member list lives in `<dir>/members/`, created at the first `member add`.
fn start_local(kc: &Keychain) -> Result<Keychain> {
    let folder = kc.dir.join(LOCAL_MEMBERS_DIR);
    LocalKv::open(&folder)?;
    Keychain::open_with(&kc.dir, kc.settings().clone(), kc.clock().clone())
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::usage_hint(
            format!("'{}' is not a valid member name", name.escape_debug()),
            "use 1 to 64 letters, digits, '.', '_' or '-' (a host name)",
        ))
    }
}

fn no_members() -> Error {
    Error::usage_hint(
        "this keychain has no members besides its own key",
        "'keychain member add RECIPIENT --name HOST' adds one",
    )
}
