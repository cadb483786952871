//! The credential guard: a password or one-time code leaves the process at most once per logon.
//!
//! A provider that asks for the same credential again is saying the first one was refused, and
//! a provider that answers with a rejection marker is saying so outright. Either way the logon
//! ends as [`LogonError::Rejected`], naming the step that sent the credential and its fields,
//! never the values. Sending again is never an option: retries lock accounts. Every page
//! adapter claims its credentials here before it fills them in, so the rule is kept in one place.
#![deny(missing_docs)]

use super::LogonError;

/// What a credential step sent, so that a rejection can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sent {
    /// keychain's own name of the step ("password", "one-time code", ...).
    pub step: String,
    /// The names of the fields that carried the user name, password or code.
    pub fields: Vec<String>,
}

impl Sent {
    pub fn new(step: &str, fields: Vec<String>) -> Self {
        Sent {
            step: step.into(),
            fields,
        }
    }

    /// The provider refused what this step sent (asking for it again, or without words).
    pub fn rejected(&self) -> LogonError {
        self.rejected_saying(None)
    }

    /// The provider refused what this step sent, in its own words.
    pub fn rejected_saying(&self, said: Option<String>) -> LogonError {
        LogonError::Rejected {
            step: self.step.clone(),
            fields: self.fields.clone(),
            said,
        }
    }
}

/// Which credentials one request carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Carries {
    pub password: bool,
    pub code: bool,
}

/// The steps that sent the password and the one-time code, once each.
#[derive(Debug, Default)]
pub(super) struct CredentialGuard {
    password: Option<Sent>,
    code: Option<Sent>,
}

impl CredentialGuard {
    /// Claims the credentials `step` is about to send. A credential sent before means the
    /// provider refused it: `Err(Rejected)` naming the earlier step, and nothing is sent.
    ///
    /// The password is claimed before the code, as the fields are filled: a page asking for
    /// both again reports the password step.
    pub fn claim(&mut self, carries: Carries, step: &Sent) -> Result<(), LogonError> {
        if carries.password {
            Self::once(&mut self.password, step)?;
        }
        if carries.code {
            Self::once(&mut self.code, step)?;
        }
        Ok(())
    }

    fn once(slot: &mut Option<Sent>, step: &Sent) -> Result<(), LogonError> {
        if let Some(prev) = slot {
            return Err(prev.rejected());
        }
        *slot = Some(step.clone());
        Ok(())
    }

    /// The rejection a provider's "wrong credentials" marker stands for: of the code step when
    /// the marker says so or when a code was the last thing sent, else of the password step.
    /// `None` when no credential was sent yet (the marker is about something else).
    pub fn rejection(&self, code_marker: bool, said: Option<&str>) -> Option<LogonError> {
        let sent = if code_marker || self.code.is_some() {
            self.code.as_ref().or(self.password.as_ref())
        } else {
            self.password.as_ref()
        };
        sent.map(|s| s.rejected_saying(said.map(str::to_string)))
    }

    /// Whether a one-time code was sent in this logon.
    pub fn code_sent(&self) -> bool {
        self.code.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, field: &str) -> Sent {
        Sent::new(name, vec![field.into()])
    }

    fn rejected_step(e: LogonError) -> (String, Vec<String>) {
        match e {
            LogonError::Rejected { step, fields, .. } => (step, fields),
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    const PASSWORD: Carries = Carries {
        password: true,
        code: false,
    };
    const CODE: Carries = Carries {
        password: false,
        code: true,
    };

    #[test]
    fn a_password_asked_for_again_is_a_rejection_of_the_first_step() {
        let mut guard = CredentialGuard::default();
        guard.claim(PASSWORD, &step("password", "pw")).unwrap();
        let again = guard
            .claim(PASSWORD, &step("password", "Password2"))
            .expect_err("never sent twice");
        assert_eq!(
            rejected_step(again),
            ("password".to_string(), vec!["pw".to_string()])
        );
    }

    #[test]
    fn a_code_asked_for_again_is_a_rejection_and_the_password_alone_is_not() {
        let mut guard = CredentialGuard::default();
        guard.claim(PASSWORD, &step("password", "pw")).unwrap();
        guard.claim(CODE, &step("one-time code", "otp")).unwrap();
        let again = guard.claim(CODE, &step("one-time code", "code2"));
        assert_eq!(rejected_step(again.unwrap_err()).0, "one-time code");
        // Steps that carry no credential (a user name, an auto-submit form) are always free.
        guard
            .claim(Carries::default(), &step("user name", "user"))
            .unwrap();
    }

    #[test]
    fn a_page_asking_for_both_again_reports_the_password_step() {
        let both = Carries {
            password: true,
            code: true,
        };
        let mut guard = CredentialGuard::default();
        guard.claim(PASSWORD, &step("password", "pw")).unwrap();
        guard.claim(CODE, &step("one-time code", "otp")).unwrap();
        let e = guard
            .claim(both, &step("password and code", "x"))
            .unwrap_err();
        assert_eq!(rejected_step(e).0, "password");
    }

    #[test]
    fn a_rejection_marker_names_the_step_it_refers_to() {
        let mut guard = CredentialGuard::default();
        assert!(guard.rejection(false, None).is_none(), "nothing sent yet");
        assert!(guard.rejection(true, None).is_none(), "nothing sent yet");
        guard.claim(PASSWORD, &step("password", "pw")).unwrap();
        assert_eq!(
            rejected_step(guard.rejection(false, None).unwrap()).0,
            "password"
        );
        // A code marker before any code was sent still refers to what was sent: the password.
        assert_eq!(
            rejected_step(guard.rejection(true, None).unwrap()).0,
            "password"
        );
        guard.claim(CODE, &step("one-time code", "otp")).unwrap();
        // Once a code went out, any marker refers to it.
        assert_eq!(
            rejected_step(guard.rejection(false, None).unwrap()).0,
            "one-time code"
        );
    }
}
