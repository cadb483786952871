//! Asking a person for a secret: core code asks, the front end that installed a [`Prompter`]
//! decides how (a no-echo terminal prompt). With none installed, or nobody at a terminal, the
//! answer is an error at once: a cron job must never block on a prompt.

use std::sync::OnceLock;

use secrecy::SecretString;

/// Reads a secret from a person.
pub trait Prompter: Send + Sync {
    /// One secret, read without echo; an error when there is nobody to ask.
    fn secret(&self, prompt: &str) -> std::io::Result<SecretString>;
}

static PROMPTER: OnceLock<Box<dyn Prompter>> = OnceLock::new();

/// Installs the process's prompter; a second call is ignored (the first front end wins).
pub fn install(prompter: Box<dyn Prompter>) {
    let _ = PROMPTER.set(prompter);
}

/// Asks for a secret through the installed prompter.
pub fn secret(prompt: &str) -> std::io::Result<SecretString> {
    match PROMPTER.get() {
        Some(prompter) => prompter.secret(prompt),
        None => Err(std::io::Error::other("no terminal to prompt on")),
    }
}
