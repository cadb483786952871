//! Starts many processes at the same moment: each waits behind `sh`'s `read` on one shared pipe
//! until the parent closes its end, then execs the command. Std only, so that the benchmark
//! example can include it too.

use std::process::{Command, Output, Stdio};

/// Runs `n` copies of the command `make()` builds, released together; their outputs in order.
pub fn stampede(n: usize, make: impl Fn() -> Command) -> Vec<Output> {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let children: Vec<_> = (0..n)
        .map(|_| {
            let cmd = make();
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg("read _; exec \"$@\"")
                .arg("sh")
                .arg(cmd.get_program())
                .args(cmd.get_args());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => sh.env(k, v),
                    None => sh.env_remove(k),
                };
            }
            sh.stdin(Stdio::from(reader.try_clone().expect("pipe reader")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    drop(reader);
    // The barrier: every child is waiting in `read`; end of file releases them all at once.
    drop(writer);
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect()
}
