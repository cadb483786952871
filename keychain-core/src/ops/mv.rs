//! `mv`: rename an account, under the locks of both names.
//!
//! A record carries its name inside its authenticated header, so a rename is a new record, not
//! a file rename. The order makes every crash point a state the next command explains:
//!
//! 1. OLD is marked `moved_to: NEW` and saved. From here on, logons of OLD are refused: the two
//!    names must never use (and so rotate) one refresh token each on their own.
//! 2. NEW is written, without the mark; it must not exist yet.
//! 3. OLD is removed.
//!
//! Each step is one transaction of its own (`Keychain::commit`, `Keychain::remove`) and is
//! recorded with it: the mark as a `set` of `moved-to` on OLD, the new record as `mv` on NEW
//! with OLD as its detail, the removal as `rm` of OLD by the `mv` command.
//!
//! After a crash between 1 and 3, `mv OLD NEW` again finishes the move (it checks that an
//! existing NEW is OLD's copy); `list` and `status` show OLD as "moving to NEW".

use crate::audit::Action;
use crate::audit::Event;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, OnAuditFailure};
use crate::name::AccountName;
use crate::record::Header;
use crate::store::Expect;

/// What to rename: the account's current name and its new one.
#[derive(Debug, Clone)]
pub struct MvOptions {
    /// The account's current name.
    pub old: AccountName,
    /// Its new name; must not exist (unless it is the copy an interrupted move wrote).
    pub new: AccountName,
}

/// A rename done: OLD is gone, NEW holds the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The name the account had.
    pub old: AccountName,
    /// The name it has now.
    pub new: AccountName,
}

/// Renames `options.old` to `options.new`, or finishes an interrupted rename of the same pair.
pub fn mv(kc: &Keychain, options: &MvOptions) -> Result<Moved> {
    let (old, new) = (options.old.as_str(), options.new.as_str());
    if old == new {
        return Err(Error::usage(format!(
            "'{old}' and '{new}' are the same name"
        )));
    }
    // The key before the locks, so a passphrase prompt never holds them; the locks in name
    // order, so two crossing renames cannot wait for each other forever.
    kc.identity()?;
    let (first, second) = if old < new { (old, new) } else { (new, old) };
    let first_lock = kc.lock(first)?;
    let second_lock = kc.lock(second)?;
    let (old_lock, new_lock) = if old < new {
        (&*first_lock, &*second_lock)
    } else {
        (&*second_lock, &*first_lock)
    };
    let moved = Moved {
        old: options.old.clone(),
        new: options.new.clone(),
    };

    let (mut account, revision) = kc.read(old)?;
    match account.header.moved_to.as_deref() {
        None => {
            if kc.store().read(new)?.is_some() {
                // mv has no --replace: the advice names what it does have.
                return Err(Error::usage_hint(
                    format!("account '{new}' already exists"),
                    format!(
                        "choose another name, or remove '{new}' first ('keychain rm -f {new}') if it is not needed"
                    ),
                ));
            }
            account.header.moved_to = Some(new.to_string());
            kc.commit(
                old_lock,
                Expect::At(revision),
                &mut account,
                vec![Event::new("mv", Action::Set("moved-to".into())).account(old)],
                OnAuditFailure::Undo,
            )?;
        }
        Some(target) if target == new => {
            // An interrupted move: NEW may already be written; it must be OLD's copy.
            if kc.store().read(new)?.is_some() {
                let (copy, _) = kc.read(new)?;
                if !same_account(&copy.header, &account.header) {
                    return Err(Error::usage_hint(
                        format!(
                            "'{new}' exists and is not the copy of '{old}' that an interrupted move wrote"
                        ),
                        format!(
                            "rename '{new}' first, or finish with 'keychain rm {old}' once '{new}' is checked"
                        ),
                    ));
                }
                kc.remove(old_lock, removal(old))?;
                return Ok(moved);
            }
        }
        Some(target) => {
            return Err(Error::usage_hint(
                format!("'{old}' is being moved to '{target}'"),
                format!("finish that first: keychain mv {old} {target}"),
            ));
        }
    }

    account.header.name = new.to_string();
    account.header.moved_to = None;
    account.header.updated = kc.now();
    kc.commit(
        new_lock,
        Expect::Absent,
        &mut account,
        vec![Event::new("mv", Action::Mv(old.to_string())).account(new)],
        OnAuditFailure::Undo,
    )?;
    kc.remove(old_lock, removal(old))?;
    Ok(moved)
}

/// The event of step 3: OLD's record removed by the rename.
fn removal(old: &str) -> Event {
    Event::new("mv", Action::Rm).account(old)
}

/// Whether `copy` is what step 2 wrote from `original` (names, the mark, the update time and
/// the write counter aside).
fn same_account(copy: &Header, original: &Header) -> bool {
    let mut a = copy.clone();
    let mut b = original.clone();
    b.name = a.name.clone();
    b.moved_to = None;
    b.updated = a.updated;
    b.writes = a.writes;
    a.moved_to = None;
    a == b
}
