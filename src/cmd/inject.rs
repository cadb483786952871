//! `keychain inject TEMPLATE --output FILE`: a configuration file for a program that reads one
//! (a .NET or Python job, rclone), with each `{{ keychain://ACCOUNT/FIELD }}` replaced by its
//! value.
//!
//! Order: the whole template is parsed first (a bad reference costs no logon and writes
//! nothing); then every value is obtained, each secret and TOTP code recorded in the audit log;
//! only then is the output written under the one rule for output files (`input::write_output`:
//! 0600, atomically, an existing file refused unless `--force`), or to standard output with
//! `-`. A failure at any step writes nothing.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::inject::InjectOptions;

use super::shared_args::LogonArgs;

#[derive(Debug, Args)]
pub struct InjectArgs {
    /// The template (- for standard input): text with {{ keychain://ACCOUNT/FIELD }}
    /// references, FIELD one of access-token, user, client-id, api-url, totp, or a secret
    /// named explicitly (password, totp-secret, client-secret, refresh-token). Spaces inside the
    /// braces are optional; a reference ends on its own line. Other {{ ... }} text is kept as it
    /// is; \{{ before keychain:// writes a literal {{
    #[arg(value_name = "TEMPLATE")]
    pub template: PathBuf,
    /// Where to write the result: a file (mode 0600, written atomically; an existing file is
    /// refused unless --force) or - for standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Replace the output FILE if it exists (as a job that regenerates its configuration does)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub logon: LogonArgs,
}

/// The largest template or env file read.
const MAX_TEXT_FILE: u64 = 1024 * 1024;

pub fn run(_ctx: &super::Ctx, kc: &Keychain, args: InjectArgs) -> Result<()> {
    let rule = crate::input::OutputRule {
        force: args.force,
        binary: false,
    };
    // Before any value is obtained (and recorded): an output that cannot be written costs
    // no logon.
    crate::input::check_output(&args.output, rule)?;
    let text = read_text(&args.template, "template")?;
    let pieces = crate::reference::parse_template(&text).map_err(|e| {
        let mut error = Error::from(e);
        if let Error::Usage { message, .. } = &mut error {
            *message = format!("{}: {message}", args.template.display());
        }
        error
    })?;
    let login = super::login::options(&args.logon);
    let opts = InjectOptions {
        pieces: &pieces,
        template_len: text.len(),
        login: &login,
    };
    let rendered = crate::ops::inject::render(kc, &opts)?;
    crate::input::write_output(&args.output, rendered.as_bytes(), rule)
}

/// A text file given on the command line (- for standard input), read without ever blocking on
/// a FIFO or a device, at most 1 MiB, UTF-8.
pub fn read_text(path: &Path, what: &str) -> Result<zeroize::Zeroizing<String>> {
    let bytes = if path == Path::new("-") {
        use std::io::Read;
        let mut raw = zeroize::Zeroizing::new(Vec::new());
        std::io::stdin()
            .take(MAX_TEXT_FILE + 1)
            .read_to_end(&mut raw)
            .map_err(|e| Error::io(format!("cannot read the {what} from standard input"), e))?;
        if raw.len() as u64 > MAX_TEXT_FILE {
            return Err(Error::usage(format!(
                "the {what} on standard input is larger than 1 MiB"
            )));
        }
        raw
    } else {
        crate::fsutil::read_secret_file(path, MAX_TEXT_FILE)
            .map_err(|e| {
                let text = format!("cannot read the {what} {}", path.display());
                match e.kind() {
                    std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                        Error::usage(format!("{text}: {e}"))
                    }
                    _ => Error::io(text, e),
                }
            })?
            .bytes
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::usage(format!("the {what} {} is not UTF-8 text", path.display())))?;
    Ok(zeroize::Zeroizing::new(text.to_string()))
}
