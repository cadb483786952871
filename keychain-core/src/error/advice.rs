//! What a person can do about an error: [`Error::hint`], the advice printed under it (and the
//! JSON error object's `"hint"`). The library says what happened and what to do; every text of
//! advice for the top-level error is here or in the small error it wraps.

use super::{Error, ProviderCause};
use crate::advice::AccountAdvice;
use crate::exit;
use crate::exit::Failure as _;

impl AccountAdvice for ProviderCause {
    /// The cause's own advice, where its module gives one; a command in it names `account`
    /// when given.
    fn hint_for(&self, account: Option<&str>) -> Option<String> {
        match self {
            ProviderCause::Logon(e) => e.hint_for(account),
            ProviderCause::Token(e) => e.hint_for(account),
            ProviderCause::Discovery(e) => e.hint_for(account),
            ProviderCause::Client(_) => None,
        }
    }
}

impl Error {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } => hint.clone(),
            Error::NotFoundSimilar { similar, .. } => Some(format!(
                "did you mean {}? ('keychain list' shows every account)",
                similar
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
            Error::NotFound(_) => Some("run 'keychain list' to see the accounts, or 'keychain add' to create one".into()),
            Error::KeyStore(e) => e.hint(),
            Error::Record { .. } => Some(
                "the file was left untouched; restore the account from an export ('keychain import FILE.age --replace'; an older record file copied back is refused as a replay), or remove it with 'keychain rm' and add the account again"
                    .into(),
            ),
            Error::Integrity { .. } => Some("the file was left untouched; check that it is the right file and that it is whole".into()),
            Error::Unlogged { .. } => Some("the record and the audit log disagree: fix what stopped the log (its folder, the disk), then run 'keychain audit verify' and check the account against its events before the next change".into()),
            Error::Replayed { .. } => Some("the file was left untouched; find out who put the older copy back ('keychain audit' lists the account's events and 'keychain audit verify' checks the log); to keep the current secrets, restore the newest copy; to start over, 'keychain rm' the account and add it again".into()),
            Error::Unauthenticated { hint, .. } => Some(hint.clone()),
            Error::NotAMember { recipient } => Some(format!(
                "ask a member to run `keychain member add {recipient} --name HOST`, then run this again"
            )),
            Error::NotJoined { recipient } => Some(format!(
                "run `keychain member join CODE` with that code (a member that added {recipient} can print it again by running the same `keychain member add` once more); nothing is read or sealed until then"
            )),
            Error::WritableByOthers { fix, .. } => Some(fix.clone()),
            Error::Store(e) => e.hint(),
            // A refused code follows a logon that went through: the client's settings, not the
            // credentials, are what to check.
            Error::Rejected { cause: ProviderCause::Token(_), account, .. } => Some(format!("check the account's client id, client secret and redirect URI ('keychain show {account}'); keychain will not retry, so the account is not locked out")),
            Error::Rejected { cause, account, .. } => Some(cause.hint_for(Some(account)).unwrap_or_else(|| format!("check the password and TOTP secret with 'keychain set {account}'; keychain will not retry, so the account is not locked out"))),
            Error::RejectedBefore { account, .. } => Some(format!("store the right one with 'keychain set {account} --password-file FILE' (or --totp-file FILE), or, once the cause is fixed at the provider, allow one attempt with 'keychain login {account} --retry'")),
            Error::NotAdmitted(e) => e.hint(),
            Error::Unavailable { retry, cause, .. } => {
                let when = format!("try again {}", retry.as_deref().unwrap_or("later"));
                Some(match cause.as_ref().and_then(|c| c.hint_for(None)) {
                    // The cause's advice ends in its own "try again later" where it has one.
                    Some(own) if retry.is_none() => own,
                    Some(own) => format!("{own}; {when}"),
                    None => when,
                })
            }
            Error::Audit { source, .. } => Some(match source.hint() {
                Some(own) => format!("nothing was changed, revealed or handed out; {own}"),
                None => "nothing was changed, revealed or handed out; run 'keychain audit verify' to see what is wrong with the log".into(),
            }),
            Error::Program { code, .. } if *code == exit::NO_PROGRAM => Some("check the name and PATH, or give the program's full path".into()),
            Error::Program { .. } => Some("check that the file is an executable program (chmod +x) and not a folder".into()),
            Error::Io { .. } | Error::Output { .. } => None,
        }
    }

    /// Adds the accounts whose names look like the one not found (a typo, a case slip), so the
    /// hint can say "did you mean". Other errors are returned as they are.
    pub fn with_similar_names(self, names: impl FnOnce() -> Vec<String>) -> Self {
        let name = match self {
            Error::NotFound(name) | Error::Store(crate::store::StoreError::NotFound(name)) => name,
            other => return other,
        };
        let mut scored: Vec<(f64, String)> = names()
            .into_iter()
            .map(|n| (similarity(&name, &n), n))
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        // The best few, and only those nearly as close as the best.
        let best = scored.first().map_or(0.0, |s| s.0);
        let similar: Vec<String> = scored
            .into_iter()
            .take_while(|(score, _)| *score >= best - 0.05)
            .take(3)
            .map(|(_, n)| n)
            .collect();
        if similar.is_empty() {
            Error::NotFound(name)
        } else {
            Error::NotFoundSimilar { name, similar }
        }
    }
}

/// How alike two account names are (0..1): Jaro-Winkler, which favours a shared start, over
/// the lower-cased names, so `Acme-prod` finds `acme-prod`.
fn similarity(typed: &str, name: &str) -> f64 {
    strsim::jaro_winkler(&typed.to_lowercase(), &name.to_lowercase())
}
