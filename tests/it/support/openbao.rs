//! Test support: a real OpenBao dev server on loopback (../shared/openbao/start.sh), one per
//! test that needs one (~0.2 s; a test may seal or stop it), each test on its own KV v2 mount.
//! Fails loudly when OpenBao is missing: `sh ../shared/openbao/install.sh` installs it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use keychain::store::openbao::{AuthSettings, OpenBaoSettings};

/// A port nobody listens on now, for a server to take (it binds it itself, so there is a
/// short window in which another process could take it first).
pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The dev server's root token: a test value, not a secret.
pub const ROOT_TOKEN: &str = "root-test-token";

pub struct Bao {
    pub addr: String,
    pub port: u16,
    pub base: tempfile::TempDir,
    /// The CA that signed the server's certificate, for a server started with TLS.
    pub ca_cert: Option<PathBuf>,
    /// The server's process; `shared_keychain` starts a persistent server again under a new one.
    pub(super) pid: u32,
    /// The server process when started here (not by start.sh), to be reaped.
    pub(super) child: Option<std::process::Child>,
}

/// How docs/shared-keychain.md sets a machine's role up: its tokens carry the keychain's policy
/// alone.
pub const NO_DEFAULT_POLICY: &str = "token_no_default_policy=true";

/// The one path of OpenBao's `default` policy keychain needs: a 403 is looked into with it.
pub const LOOKUP_SELF: &str = r#"path "auth/token/lookup-self" { capabilities = ["read"] }"#;

impl Bao {
    /// Starts a dev server (in memory, unsealed) on a free port.
    pub fn start() -> Bao {
        let script = std::env::var("KEYCHAIN_OPENBAO_START")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/openbao/start.sh")
            });
        assert!(
            script.exists(),
            "OpenBao start script not found at {} (set KEYCHAIN_OPENBAO_START)",
            script.display()
        );
        // The port is free when picked but not held (bao binds it itself), and start.sh gives a
        // loaded machine 10 s: a server that did not come up is tried again on a new port, twice
        // at most, and the last failure is reported with its log.
        let mut attempt = 0;
        let (port, base, pid) = loop {
            attempt += 1;
            let port = free_port();
            let base = tempfile::tempdir().expect("temp dir");
            let out = Command::new("bash")
                .arg(&script)
                .env("PORT", port.to_string())
                .env("BASE", base.path())
                .env("TOKEN", ROOT_TOKEN)
                .output()
                .expect("run start.sh");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let pid = stdout.lines().last().and_then(|l| l.trim().parse().ok());
            match (out.status.success(), pid) {
                (true, Some(pid)) => break (port, base, pid),
                _ if attempt < 3 => continue,
                _ => panic!(
                    "OpenBao did not start on port {port} after {attempt} attempts (install it with 'sh ../shared/openbao/install.sh'): {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        };
        Bao {
            addr: format!("http://127.0.0.1:{port}"),
            port,
            base,
            ca_cert: None,
            pid,
            child: None,
        }
    }

    /// A dev server with TLS (`-dev-tls`: a CA of its own, written to `BASE/vault-ca.pem`).
    /// start.sh has no TLS mode, so it is started here the same way.
    pub fn start_tls() -> Bao {
        let port = free_port();
        let base = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(base.path().join("server.log")).unwrap();
        let child = Command::new("bao")
            .args(["server", "-dev", "-dev-tls"])
            .arg(format!("-dev-tls-cert-dir={}", base.path().display()))
            .arg(format!("-dev-root-token-id={ROOT_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run bao (install it with 'sh ../shared/openbao/install.sh')");
        let bao = Bao {
            addr: format!("https://127.0.0.1:{port}"),
            port,
            ca_cert: Some(base.path().join("vault-ca.pem")),
            base,
            pid: child.id(),
            child: Some(child),
        };
        for _ in 0..200 {
            if bao.bao_output(&["status"], None).status.success() {
                return bao;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("OpenBao with TLS did not start on port {port}");
    }

    /// Runs the `bao` CLI as root against this server; panics when it fails.
    pub fn bao(&self, args: &[&str]) -> String {
        let out = self.bao_output(args, None);
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs the `bao` CLI, optionally with `stdin`, and returns what it did.
    pub fn bao_output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new("bao");
        if let Some(ca) = &self.ca_cert {
            cmd.env("BAO_CACERT", ca);
        }
        let mut child = cmd
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", ROOT_TOKEN)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run bao (install it with 'sh ../shared/openbao/install.sh')");
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// A new KV v2 mount of its own, with `cas_required` like a real keychain mount.
    pub fn new_mount(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.bao(&[
            "secrets",
            "enable",
            &format!("-path={name}"),
            "-version=2",
            "kv",
        ]);
        self.bao(&["write", &format!("{name}/config"), "cas_required=true"]);
        name
    }

    /// A policy that lets a keychain use `MOUNT/PREFIX` (records and locks) and its token look
    /// itself up, and nothing else: the policy docs/shared-keychain.md gives a machine.
    pub fn keychain_policy(mount: &str, prefix: &str) -> String {
        format!(
            r#"path "{mount}/data/{prefix}/*" {{ capabilities = ["create", "read", "update", "delete"] }}
path "{mount}/metadata/{prefix}/*" {{ capabilities = ["create", "read", "update", "list", "delete"] }}
path "{mount}/metadata/{prefix}" {{ capabilities = ["list"] }}
path "{mount}/delete/{prefix}/*" {{ capabilities = ["update"] }}
path "{mount}/config" {{ capabilities = ["read"] }}
{LOOKUP_SELF}
"#
        )
    }

    /// An AppRole `role` with `policy` (HCL) and a token TTL, whose tokens carry that policy
    /// only (`token_no_default_policy`, as docs/shared-keychain.md sets a role up); writes its
    /// role id and a fresh secret id into 0600 files under `dir` and returns the auth settings
    /// naming them.
    pub fn approle(&self, role: &str, policy: &str, ttl: &str, dir: &Path) -> AuthSettings {
        self.approle_made(role, policy, ttl, dir, NO_DEFAULT_POLICY)
    }

    /// [`Bao::approle`] as OpenBao makes one by default: its tokens also carry the `default`
    /// policy.
    pub fn approle_with_default_policy(
        &self,
        role: &str,
        policy: &str,
        ttl: &str,
        dir: &Path,
    ) -> AuthSettings {
        self.approle_made(role, policy, ttl, dir, "token_no_default_policy=false")
    }

    fn approle_made(
        &self,
        role: &str,
        policy: &str,
        ttl: &str,
        dir: &Path,
        default_policy: &str,
    ) -> AuthSettings {
        let out = self.bao_output(&["policy", "write", role, "-"], Some(policy));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Enabling twice fails harmlessly.
        let _ = self.bao_output(&["auth", "enable", "approle"], None);
        self.bao(&[
            "write",
            &format!("auth/approle/role/{role}"),
            &format!("token_policies={role}"),
            &format!("token_ttl={ttl}"),
            &format!("token_max_ttl={ttl}"),
            default_policy,
        ]);
        let role_id = self.bao(&[
            "read",
            "-field=role_id",
            &format!("auth/approle/role/{role}/role-id"),
        ]);
        let secret_id = self.bao(&[
            "write",
            "-f",
            "-field=secret_id",
            &format!("auth/approle/role/{role}/secret-id"),
        ]);
        let role_id_file = dir.join(format!("{role}.role-id"));
        let secret_id_file = dir.join(format!("{role}.secret-id"));
        write_private(&role_id_file, &role_id);
        write_private(&secret_id_file, &secret_id);
        AuthSettings::AppRole {
            role_id_file,
            secret_id_file,
        }
    }

    /// A token file (0600) holding the root token.
    pub fn root_token_file(&self) -> AuthSettings {
        let token_file = self.base.path().join("root.token");
        write_private(&token_file, ROOT_TOKEN);
        AuthSettings::TokenFile { token_file }
    }

    /// Settings for a keychain at `mount`/`prefix` on this server.
    pub fn settings(&self, mount: &str, prefix: &str, auth: AuthSettings) -> OpenBaoSettings {
        OpenBaoSettings {
            addr: self.addr.clone(),
            mount: mount.to_string(),
            path: prefix.to_string(),
            ca_cert: self.ca_cert.clone(),
            auth,
        }
    }

    pub fn seal(&self) {
        self.bao(&["operator", "seal"]);
    }

    /// Stops the server and waits until its port refuses connections.
    pub fn stop(&self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("OpenBao (pid {}) did not stop", self.pid);
    }

    /// The server's audit log (every value HMAC'd).
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.base.path().join("audit.log")).unwrap_or_default()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        if let Some(child) = &mut self.child {
            let _ = child.wait();
        }
    }
}

/// Writes a 0600 file atomically (as an agent rotating a token file should): a client
/// reading it meanwhile sees the old or the new content, never an empty file.
pub fn write_private(path: &Path, text: &str) {
    static N: AtomicU32 = AtomicU32::new(0);
    let temp = path.with_extension(format!("tmp{}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&temp, text).unwrap();
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

impl Bao {
    /// A keychain (the `file` key store) whose records live at `mount`/`prefix` on this server,
    /// logging in with the root token from a file; `init` ran.
    pub fn keychain(&self, mount: &str, prefix: &str) -> super::Kc {
        let kc = super::Kc::new();
        let AuthSettings::TokenFile { token_file } = self.root_token_file() else {
            unreachable!()
        };
        kc.ok(&self.init_args(
            mount,
            prefix,
            &["--token-file", token_file.to_str().unwrap()],
        ));
        kc
    }

    /// A new machine: a keychain whose `init --join` ran with an AppRole of its own (role
    /// `role`, the keychain's policy); its output (the recipient on stdout), not yet added.
    pub fn joining(&self, mount: &str, prefix: &str, role: &str) -> (super::Kc, Output) {
        self.joining_at(&self.addr, mount, prefix, role)
    }

    /// [`Bao::joining`], the keychain reaching this server at `addr` (a relay in front of it).
    pub fn joining_at(
        &self,
        addr: &str,
        mount: &str,
        prefix: &str,
        role: &str,
    ) -> (super::Kc, Output) {
        let kc = super::Kc::new();
        let auth = self.approle(
            role,
            &Bao::keychain_policy(mount, prefix),
            "1h",
            kc.tmp.path(),
        );
        let out = Bao::run_init(&kc, addr, mount, prefix, auth, &["--join"]);
        super::assert_exit(&out, 0);
        (kc, out)
    }

    /// `init` of a keychain at `mount`/`prefix` in `kc`, reaching OpenBao at `addr` with the
    /// AppRole `auth`, and `extra`; its output.
    pub fn run_init(
        kc: &super::Kc,
        addr: &str,
        mount: &str,
        prefix: &str,
        auth: AuthSettings,
        extra: &[&str],
    ) -> Output {
        let AuthSettings::AppRole {
            role_id_file,
            secret_id_file,
        } = auth
        else {
            unreachable!("init with an AppRole")
        };
        let mut args = vec![
            "--role-id-file",
            role_id_file.to_str().unwrap(),
            "--secret-id-file",
            secret_id_file.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        kc.run(&Bao::init_args_at(addr, mount, prefix, &args))
    }

    /// `init --key-store file --store openbao --addr .. --mount .. --path ..` and `extra`.
    pub fn init_args<'a>(
        &'a self,
        mount: &'a str,
        prefix: &'a str,
        extra: &[&'a str],
    ) -> Vec<&'a str> {
        Bao::init_args_at(&self.addr, mount, prefix, extra)
    }

    /// [`Bao::init_args`] for a server reached at `addr`.
    pub fn init_args_at<'a>(
        addr: &'a str,
        mount: &'a str,
        prefix: &'a str,
        extra: &[&'a str],
    ) -> Vec<&'a str> {
        let mut args = vec![
            "init",
            "--key-store",
            "file",
            "--store",
            "openbao",
            "--addr",
            addr,
            "--mount",
            mount,
            "--path",
            prefix,
        ];
        args.extend_from_slice(extra);
        args
    }
}
