//! `keychain git-credential ACCOUNT --url URL OPERATION`: git's credential helper protocol
//! (gitcredentials(7), git-credential(1)), so that git over https uses an account's token.
//!
//! git runs the helper with `get`, `store` or `erase` as its last argument and the request on
//! standard input: `key=value` lines (protocol, host, path, username, ...) ended by a blank line
//! or end of input. keychain answers `get` only for the URLs given with --url, which the user
//! wrote into git's configuration: a remote cannot choose them. A request for any other
//! protocol, host, port or path is refused (exit 2, nothing on standard output), so a hostile
//! remote or redirect never receives another host's token. The answer is `username`,
//! `password` (a valid access token, from the login engine, recorded in the audit log as every
//! login is) and `password_expiry_utc` (the token's expiry, Unix seconds, so that git and any
//! storing helper drop it when it expires). With `--bearer`, and a git that announces
//! `capability[]=authtype` (2.46 or later), the answer is `authtype=Bearer` and
//! `credential=TOKEN` instead (git sends `Authorization: Bearer TOKEN`), marked `ephemeral`.
//!
//! `store` and `erase` write nothing: keychain holds the account's tokens itself and refreshes
//! them under its own rules, so what git sends back (a password, an `oauth_refresh_token`,
//! whatever another helper or a prompt produced) is read and discarded, never stored. keychain
//! never sends `oauth_refresh_token`: a refresh token is single-use at Exact, and one that
//! reached another helper's store would break the account's chain. Other operations are
//! ignored, as the protocol asks.

use clap::Args;
use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::ops::credential::{Credential, CredentialOptions, credential};

use super::shared_args::{LogonArgs, account_names};

#[derive(Debug, Args)]
pub struct GitCredentialArgs {
    /// The account whose access token git gets
    #[arg(add = account_names())]
    pub name: String,
    /// A URL the account's token is for (scheme, host, port; a path is a prefix and needs git's
    /// credential.useHttpPath); repeatable, at least one. Any other request is refused
    #[arg(long = "url", value_name = "URL", required = true, value_parser = Target::parse)]
    pub urls: Vec<Target>,
    /// The user name git sends with the token [default: the one git asks with, else the
    /// account's user]; some hosts want a fixed one (GitLab: oauth2, GitHub: x-access-token)
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Send the token as 'Authorization: Bearer' rather than as a Basic password, for hosts
    /// that want a bearer token: needs git 2.46 or later (it announces capability[]=authtype);
    /// an older git gets the token as the password, for the same URLs only
    #[arg(long)]
    pub bearer: bool,
    /// What git asks: get, store or erase (git appends it); others are ignored
    #[arg(value_name = "OPERATION")]
    pub operation: String,
    #[command(flatten)]
    pub logon: LogonArgs,
}

/// The most of a request read: git sends a few hundred bytes.
const MAX_REQUEST: u64 = 64 * 1024;

pub fn run(_ctx: &super::Ctx, kc: &Keychain, args: GitCredentialArgs) -> Result<()> {
    let request = read_request()?;
    if args.operation != "get" {
        // store, erase: nothing is written (see the module documentation); future operations
        // are ignored, as gitcredentials(7) asks of helpers.
        return Ok(());
    }
    if !args.urls.iter().any(|t| t.serves(&request)) {
        return Err(Error::usage_hint(
            format!(
                "account '{}' is not for {}: keychain gives its token only to the URLs given with --url",
                args.name,
                request.shown()
            ),
            "if this host should get the token, add --url for it to the helper line in git's configuration",
        ));
    }
    let bearer = args.bearer && request.authtype;
    let Credential { username, token } = credential(
        kc,
        CredentialOptions {
            name: &args.name,
            username: args.username.or(request.username),
            login: &super::login::options(&args.logon),
        },
    )?;
    let mut answer = zeroize::Zeroizing::new(if bearer {
        // The pre-encoded credential: git sends 'Authorization: Bearer TOKEN'. Ephemeral: no
        // storing helper should keep it.
        format!(
            "capability[]=authtype\nauthtype=Bearer\ncredential={}\nephemeral=true\n",
            token.access_token.expose_secret()
        )
    } else {
        format!(
            "username={username}\npassword={}\n",
            token.access_token.expose_secret()
        )
    });
    if let Some(expires) = token.expires_at {
        answer.push_str(&format!("password_expiry_utc={expires}\n"));
    }
    crate::output::raw(answer.as_bytes())
}

/// What git asks about.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<String>,
    username: Option<String>,
    /// git announced `capability[]=authtype`: it takes `authtype` and `credential`.
    authtype: bool,
}

impl Request {
    /// protocol://host/path as git gave them, for a message.
    fn shown(&self) -> String {
        format!(
            "{}://{}/{}",
            self.protocol.as_deref().unwrap_or("?"),
            self.host.as_deref().unwrap_or("?"),
            self.path.as_deref().unwrap_or("")
        )
    }
}

fn read_request() -> Result<Request> {
    use std::io::Read;
    let mut raw = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(MAX_REQUEST + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io("cannot read git's request from standard input", e))?;
    if raw.len() as u64 > MAX_REQUEST {
        return Err(Error::usage("git's request is larger than 64 KiB"));
    }
    // A password git sends back (store, erase) is in `raw`, zeroized on drop; only the
    // attributes that say where are kept.
    parse_request(&String::from_utf8_lossy(&raw))
}

/// Parses `key=value` lines up to a blank line. A key given twice among those that say where
/// is refused: which one git meant cannot be known.
fn parse_request(text: &str) -> Result<Request> {
    let mut request = Request::default();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::usage(
                "git's request has a line without '=': not the credential helper protocol",
            ));
        };
        if key == "capability[]" {
            request.authtype |= value == "authtype";
            continue;
        }
        let slot = match key {
            "protocol" => &mut request.protocol,
            "host" => &mut request.host,
            "path" => &mut request.path,
            "username" => &mut request.username,
            _ => continue,
        };
        if slot.replace(value.to_string()).is_some() {
            return Err(Error::usage(format!("git's request gives {key} twice")));
        }
    }
    Ok(request)
}

/// A URL given with --url: what a request must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    scheme: String,
    /// Lower case, with `:port` when not the scheme's default.
    host: String,
    /// Path segments the request's path must start with.
    path: Vec<String>,
}

impl Target {
    /// Parses `https://host[:port][/path]`; http is accepted only as given, never in place of
    /// https. No user, password, query or fragment.
    pub fn parse(text: &str) -> std::result::Result<Target, String> {
        let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!(
                "'{text}': git-credential serves https (or http) URLs"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "'{text}' has a user or password in it; give it without"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "'{text}' has a query or fragment; give scheme, host and path only"
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("'{text}' has no host"))?
            .to_ascii_lowercase();
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        Ok(Target {
            scheme: url.scheme().to_string(),
            host,
            path: segments(url.path()),
        })
    }

    /// Whether the request is for this URL: the same scheme, the same host and port, and, when
    /// the URL has a path, a request path under it.
    fn serves(&self, request: &Request) -> bool {
        let (Some(protocol), Some(host)) = (&request.protocol, &request.host) else {
            return false;
        };
        if *protocol != self.scheme {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let default_port = if self.scheme == "https" {
            ":443"
        } else {
            ":80"
        };
        let host = host.strip_suffix(default_port).unwrap_or(&host);
        if host != self.host {
            return false;
        }
        if self.path.is_empty() {
            return true;
        }
        let Some(path) = &request.path else {
            return false;
        };
        let asked = segments(path);
        // No `..` games: a request path is compared segment by segment, and one with a dot
        // segment never matches a path prefix.
        !asked.iter().any(|s| s == ".." || s == ".") && asked.starts_with(&self.path)
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(protocol: &str, host: &str, path: Option<&str>) -> Request {
        Request {
            protocol: Some(protocol.into()),
            host: Some(host.into()),
            path: path.map(str::to_string),
            username: None,
            authtype: false,
        }
    }

    #[test]
    fn only_the_configured_urls_are_served() {
        let t = Target::parse("https://Git.Example.com").unwrap();
        assert!(t.serves(&req("https", "git.example.com", None)));
        assert!(t.serves(&req("https", "GIT.example.com:443", Some("a/b.git"))));
        for (protocol, host) in [
            ("http", "git.example.com"),
            ("https", "git.example.com:8443"),
            ("https", "evil.example.com"),
            ("https", "git.example.com.evil.net"),
            ("https", "evil.net/git.example.com"),
            ("https", "git.example.com."),
            ("https", ""),
            ("ssh", "git.example.com"),
        ] {
            assert!(!t.serves(&req(protocol, host, None)), "{protocol}://{host}");
        }
        assert!(!t.serves(&Request::default()));
        let port = Target::parse("http://127.0.0.1:8080").unwrap();
        assert!(port.serves(&req("http", "127.0.0.1:8080", None)));
        assert!(!port.serves(&req("http", "127.0.0.1", None)));
        assert!(!port.serves(&req("https", "127.0.0.1:8080", None)));
    }

    #[test]
    fn a_path_is_a_prefix_by_segments() {
        let t = Target::parse("https://git.example.com/acme/").unwrap();
        assert!(t.serves(&req("https", "git.example.com", Some("acme/books.git"))));
        for path in [
            None,
            Some("acmex/books.git"),
            Some("other/acme"),
            Some("acme/../x"),
        ] {
            assert!(
                !t.serves(&req("https", "git.example.com", path)),
                "{path:?}"
            );
        }
    }

    #[test]
    fn urls_with_credentials_or_other_schemes_are_refused() {
        for bad in [
            "git.example.com",
            "ssh://git.example.com",
            "https://u:p@git.example.com",
            "https://u@git.example.com",
            "https://git.example.com/?x=1",
            "file:///tmp/x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_parse_up_to_the_blank_line_and_refuse_duplicates() {
        let r = parse_request(
            "protocol=https\nhost=h\nwwwauth[]=Basic realm=x\ncapability[]=authtype\n\nhost=evil\n",
        )
        .unwrap();
        assert_eq!(
            r,
            Request {
                authtype: true,
                ..req("https", "h", None)
            }
        );
        assert!(parse_request("protocol=https\nhost=a\nhost=b\n").is_err());
        assert!(parse_request("protocol=https\ngarbage\n").is_err());
    }
}
