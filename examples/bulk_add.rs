//! Creates many accounts at once through the library, for benchmarks that measure whether the
//! cost of a call grows with the number of accounts.
//!
//!     cargo run --release --example bulk_add -- DIR COUNT
//!
//! Each account is a real record (sealed to the keychain's recipients, written atomically) with
//! its `add` event in the audit log.

use std::path::PathBuf;

use keychain::audit::{Action, Event};
use keychain::keychain::{Keychain, OnAuditFailure};
use keychain::providers::ProviderSettings;
use keychain::record::{Account, Header, SecretField};
use keychain::store::Expect;
use secrecy::SecretString;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: bulk_add DIR COUNT")?);
    let count: usize = args.next().ok_or("usage: bulk_add DIR COUNT")?.parse()?;
    let kc = Keychain::open(&dir)?;
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    for i in 0..count {
        let name = format!("bulk-{i:05}");
        let provider = ProviderSettings {
            issuer: Some("http://127.0.0.1:9".into()),
            client_id: Some("cli".into()),
            ..ProviderSettings::new(keychain::providers::ProviderKind::Oidc)
        };
        let mut account = Account::new(Header::new(&name, provider, format!("user{i}"), now));
        account.set_secret(
            SecretField::Password,
            Some(SecretString::from(format!("bulk-password-{i}"))),
            now,
        );
        let lock = kc.lock(&name)?;
        // One transaction each, with its audit event, as `keychain add` does: the log then holds
        // what a real keychain of this size holds (replay checks read it).
        let event = Event::new("add", Action::Add).account(&name);
        kc.commit(
            &*lock,
            Expect::Absent,
            &mut account,
            vec![event],
            OnAuditFailure::Undo,
        )?;
    }
    eprintln!("added {count} accounts to {}", dir.display());
    Ok(())
}
