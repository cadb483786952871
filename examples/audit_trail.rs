//! Writes a synthetic audit trail into an existing keychain, through the library (one lock, one
//! fsync), for the report benchmark and for looking at the report's pictures.
//!
//!     cargo run --release --example audit_trail -- DIR EVENTS [ACCOUNTS]
//!
//! The events spread over the 30 days before now: per account a cron job on a server (cache
//! hits through the working day, a refresh every hour, a headless logon each morning), an
//! operator who sometimes reveals a password, a few failed logons and broken chains. A few
//! anomalies are planted: a new host, a night-time headless logon, a burst of failures.
//! Every line is chained and MAC'd like any other: `keychain audit verify` passes.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use keychain::audit::{Action, Event, Stamp};
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: audit_trail DIR EVENTS [ACCOUNTS]";
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    let total: usize = args.next().ok_or(usage)?.parse()?;
    let accounts: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let now = keychain::clock::Clock::unix(&keychain::clock::SystemClock);
    let start = now - 30 * DAY;
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);

    let names: Vec<String> = (0..accounts).map(|i| format!("acct-{i:03}")).collect();
    let mut trail: Vec<(i64, Event, &str, &str)> = Vec::with_capacity(total);
    let per_account = total / accounts.max(1);
    for (a, name) in names.iter().enumerate() {
        let host = if a % 2 == 0 { "etl-1" } else { "etl-2" };
        let mut t = start + HOUR * 2 + a as i64 * 60;
        for i in 0..per_account {
            // Through the working day (06:00-18:00 UTC), denser on weekdays.
            // The working hours of 30 days, shared out with some jitter around the mean step.
            let step = ((30 * DAY * 12 / 24) / per_account.max(1) as i64).max(8);
            t += step - step / 8 + rng.gen_range(0..=step / 4);
            let mut hour = t.rem_euclid(DAY) / HOUR;
            if !(6..18).contains(&hour) {
                t = t.div_euclid(DAY) * DAY + DAY * i64::from(hour >= 18) + 6 * HOUR;
                hour = 6;
            }
            let roll: u32 = rng.gen_range(0..1000);
            let (action, user, origin) = match roll {
                _ if hour == 6 && i % 40 == 0 => (Action::LoginHeadless, "etl", host),
                0..=3 => (Action::LoginFailed("invalid_grant".into()), "etl", host),
                4 => (Action::ChainBroken, "etl", host),
                5..=7 => (Action::Reveal("password".into()), "ops", "desk-7"),
                8..=80 => (Action::LoginRefresh, "etl", host),
                _ => (Action::LoginCache, "etl", host),
            };
            trail.push((
                t.min(now),
                Event::new("login", action).account(name),
                user,
                origin,
            ));
        }
    }
    // Planted anomalies on the first account.
    if let Some(first) = names.first() {
        let night = now - 2 * DAY - now.rem_euclid(DAY) + 3 * HOUR + 17 * 60;
        trail.push((
            night,
            Event::new("login", Action::LoginHeadless).account(first),
            "etl",
            "etl-1",
        ));
        trail.push((
            now - 3 * DAY,
            Event::new("login", Action::LoginCache).account(first),
            "etl",
            "laptop-eve",
        ));
        for k in 0..5 {
            trail.push((
                now - 5 * DAY + k * 300,
                Event::new("login", Action::LoginFailed("password rejected".into())).account(first),
                "etl",
                "etl-1",
            ));
        }
    }
    trail.sort_by_key(|(t, ..)| *t);
    let stamps: Vec<Stamp> = trail
        .iter()
        .map(|(t, _, user, host)| Stamp {
            time: UNIX_EPOCH
                + Duration::from_secs(*t as u64)
                + Duration::from_millis(rng.gen_range(0..1000)),
            user: (*user).into(),
            host: (*host).into(),
        })
        .collect();
    keychain::audit::log_of(&dir, &keychain::clock::system())
        .append_stamped(trail.iter().map(|(_, e, ..)| e).zip(&stamps))?;
    eprintln!("wrote {} events for {} accounts", trail.len(), names.len());
    Ok(())
}
