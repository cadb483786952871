//! The TOTP step guard: a code is never of a step used before (by this secret, in any account,
//! process or machine), never with too little time left, and its step is recorded **before** the
//! code leaves the process. Waits are bounded by [`max_totp_wait`].

use std::time::Duration;

use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::logon::{LogonError, MAX_CLOCK_OFFSET, TotpSource};
use crate::totp::TotpSecret;

use super::session::Session;

/// Never submit a code with fewer seconds than this left in its time step.
pub(super) const TOTP_MIN_SECONDS_LEFT: u64 = 3;
/// The longest a logon waits for a fresh TOTP time step, in seconds, for a period longer than
/// [`TOTP_WAIT_LONGEST_PERIOD`] (see [`max_totp_wait`]).
pub const TOTP_WAIT: u64 = 30;
/// The longest period a logon waits through whole: a step used by the previous logon (of this
/// account or another with the same secret) is waited out when the next one comes within it.
pub const TOTP_WAIT_LONGEST_PERIOD: u64 = 120;

/// The longest a logon waits for a fresh TOTP time step (while holding the account's and the
/// secret's locks): one period when the period is at most [`TOTP_WAIT_LONGEST_PERIOD`] (and at
/// least [`TOTP_WAIT`]), else [`TOTP_WAIT`]. A longer wait fails with exit 5 and the time to try
/// again: waiting a whole period of an hour would hold the locks as long.
pub fn max_totp_wait(period: u64) -> u64 {
    if period <= TOTP_WAIT_LONGEST_PERIOD {
        period.max(TOTP_WAIT)
    } else {
        TOTP_WAIT
    }
}

impl Session<'_> {
    /// Fails before anything is sent when the TOTP step this logon would need was used by the
    /// previous one and the next comes later than [`max_totp_wait`].
    pub(super) fn check_fresh_step(&mut self, totp: &TotpSecret) -> Result<()> {
        let local = self.kc.now().max(0) as u64;
        let last = self.last_used_step(totp, local)?;
        // A step further ahead was recorded on a provider's clock (followed within the bound):
        // only the logon itself, which sees that clock, can tell whether a fresh one is near.
        if last.is_some_and(|l| l > totp.step_at(local).saturating_add(1)) {
            return Ok(());
        }
        let min_left = TOTP_MIN_SECONDS_LEFT.min(totp.period);
        match wait_for_fresh_step(totp, last, local, min_left) {
            Ok(pause) if pause > max_totp_wait(totp.period) => Err(Error::Unavailable {
                what: format!(
                    "the TOTP code of this time step was used by the previous logon (of this account or another with the same secret); the next one comes in {pause} s, later than keychain waits ({} s)",
                    max_totp_wait(totp.period)
                ),
                retry: Some(format!("in {pause} s")),
                cause: None,
            }),
            Ok(_) => Ok(()),
            Err(what) => Err(Error::Unavailable {
                what,
                retry: None,
                cause: None,
            }),
        }
    }

    /// The last step used with this account's TOTP secret, as it may be believed: the
    /// secret's own (any account, process or machine) when it has one; else, as before steps
    /// were kept per secret, the record's. Either is believed only up to the bound past when it
    /// was written (the record's: its last logon) and never beyond our clock plus the bound, so
    /// a step recorded ahead blocks logons for at most that long.
    pub(super) fn last_used_step(&mut self, totp: &TotpSecret, local: u64) -> Result<Option<u64>> {
        let of_secret = match &mut self.steps {
            Some(steps) => steps.last_used(totp, local, BOUND)?,
            None => None,
        };
        let last = of_secret.or_else(|| {
            let written = self
                .account
                .header
                .last_logon
                .as_ref()
                .map_or(local, |u| u64::try_from(u.at).unwrap_or(0).min(local));
            self.account
                .header
                .last_totp_step
                .map(|l| l.min(totp.step_at(written.saturating_add(BOUND))))
        });
        Ok(used_step(totp, last, local))
    }
}

/// Hands the logon a TOTP code, never of a step used before, never with too little time left,
/// and records the step in the account **before** the code leaves the process.
pub(super) struct StepGuard<'s, 'a> {
    pub(super) totp: &'s TotpSecret,
    pub(super) session: &'s mut Session<'a>,
}

impl TotpSource for StepGuard<'_, '_> {
    fn code(&mut self, provider_time: u64) -> std::result::Result<SecretString, LogonError> {
        let totp = self.totp;
        let min_left = TOTP_MIN_SECONDS_LEFT.min(totp.period);
        let mut waited = 0;
        loop {
            // Whatever the engine was told, never a time beyond our clock ± the bound: a step
            // recorded as used a year ahead would block every later logon.
            let local = self.session.kc.now().max(0) as u64;
            let t = provider_time
                .saturating_add(waited)
                .clamp(local.saturating_sub(BOUND), local.saturating_add(BOUND));
            let last = self
                .session
                .last_used_step(totp, local)
                .map_err(|e| LogonError::Totp(format!("cannot read the used TOTP step: {e}")))?;
            let bound = max_totp_wait(totp.period);
            let pause = match wait_for_fresh_step(totp, last, t, min_left) {
                Ok(0) => {
                    let step = totp.step_at(t);
                    // The secret's step first: it is what other accounts and machines see.
                    if let Some(steps) = &mut self.session.steps {
                        steps.record(step, totp.period, local as i64).map_err(|e| {
                            LogonError::Totp(format!("cannot record the TOTP step: {e}"))
                        })?;
                    }
                    self.session.account.header.last_totp_step = Some(step);
                    self.session.save().map_err(|e| {
                        LogonError::Totp(format!("cannot record the TOTP step: {e}"))
                    })?;
                    let code = totp.code_at(t);
                    self.session.guard.scrubber.add(&code);
                    return Ok(code);
                }
                Ok(pause) if waited + pause <= bound => pause,
                Ok(pause) => {
                    return Err(LogonError::Totp(format!(
                        "the next unused TOTP time step starts in {pause} s, longer than keychain waits ({bound} s) while holding the account; try again then"
                    )));
                }
                Err(e) => return Err(LogonError::Totp(e)),
            };
            if self.session.opts.progress {
                crate::progress::step(&format!(
                    "keychain: waiting {pause} s for a fresh TOTP code\n"
                ));
            }
            // Shown on a terminal (the front end's observer), whatever `progress` says: a wait
            // of up to a period must not look like a hang.
            let _waiting = crate::progress::waiting(&format!(
                "waiting {pause} s for a fresh TOTP time step (one not used before by this secret)"
            ));
            self.session.kc.clock().sleep(Duration::from_secs(pause));
            waited += pause;
        }
    }
}

/// How far the provider's clock may be followed, as an unsigned number of seconds.
pub(super) const BOUND: u64 = MAX_CLOCK_OFFSET as u64;

/// The last used step as it may be believed: never beyond our clock plus the bound. A step
/// recorded further ahead (by an older version that followed a provider's `Date` a year ahead)
/// would otherwise block every logon until a person re-entered the secret.
pub(super) fn used_step(totp: &TotpSecret, last: Option<u64>, local: u64) -> Option<u64> {
    last.map(|l| l.min(totp.step_at(local.saturating_add(BOUND))))
}

/// Seconds to wait at time `t` until a step after `last` with `min_left` seconds left begins;
/// 0 when the current step will do. Total for any input: no overflow, no division by zero.
pub(super) fn wait_for_fresh_step(
    totp: &TotpSecret,
    last: Option<u64>,
    t: u64,
    min_left: u64,
) -> std::result::Result<u64, String> {
    let step = totp.step_at(t);
    let fresh = last.is_none_or(|l| step > l);
    if fresh && totp.seconds_left(t) >= min_left {
        return Ok(0);
    }
    // The first usable step: the next one, or the one after the used one.
    let next = match last {
        Some(l) if l >= step => l.checked_add(1),
        _ => step.checked_add(1),
    };
    next.and_then(|n| n.checked_mul(totp.period))
        .map(|start| start.saturating_sub(t))
        .ok_or_else(|| "no usable TOTP time step (is the clock right?)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn fresh_step_waits_are_total_and_bounded_by_the_step() {
        let totp = TotpSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
        // Fresh, with time left: no wait.
        assert_eq!(wait_for_fresh_step(&totp, None, 60, 3), Ok(0));
        // Fresh but only 2 s left: wait for the next step.
        assert_eq!(wait_for_fresh_step(&totp, None, 88, 3), Ok(2));
        // The current step was used: wait for the next one.
        assert_eq!(wait_for_fresh_step(&totp, Some(2), 61, 3), Ok(29));
        // Extremes: no panic, no overflow.
        assert!(wait_for_fresh_step(&totp, Some(u64::MAX), 0, 3).is_err());
        assert!(wait_for_fresh_step(&totp, None, u64::MAX, 3).is_ok());
        // A used step far ahead is believed only up to our clock plus the bound.
        let now = 1_700_000_000;
        let believed = used_step(&totp, Some(u64::MAX / 2), now).unwrap();
        assert_eq!(believed, (now + BOUND) / 30);
    }
}
